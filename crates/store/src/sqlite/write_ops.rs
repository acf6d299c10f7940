//! The write operations. The writer thread runs each inside its batch
//! transaction, under a savepoint of its own.

use rusqlite::{params, Connection, OptionalExtension};
use wamebo_core::{StoreId, TargetId};

use super::rows::{self, micros, order_id_to_sql};
use crate::error::StoreError;
use crate::model::{
    AttemptOutcome, ClaimRequest, ClaimedDelivery, DeliveryId, EventId, EventStatus, Lease,
    NewEvent, RecordOutcome, ReplayOutcome,
};

/// Why a write operation failed: the database, or the rows' state.
#[derive(Debug)]
pub(super) enum WriteError {
    Sqlite(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for WriteError {
    fn from(err: rusqlite::Error) -> Self {
        WriteError::Sqlite(err)
    }
}

impl From<StoreError> for WriteError {
    fn from(err: StoreError) -> Self {
        WriteError::Store(err)
    }
}

type WriteResult<T> = Result<T, WriteError>;

const INSERT_EVENT: &str = "INSERT INTO events \
     (store_id, key, event_type, order_id, body, body_sha256, received_at, occurred_at, status, reason, detail) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
     ON CONFLICT (store_id, key) DO NOTHING";

const INSERT_DELIVERY: &str = "INSERT INTO deliveries \
     (event_id, store_id, target_id, status, next_attempt_at, created_at, updated_at) \
     VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?4) \
     ON CONFLICT (event_id, target_id) DO NOTHING";

/// Records an event. The unique key `(store_id, key)` decides whether it is
/// new, so concurrent callers cannot both create it.
///
/// The inserts here read `changes()` and `last_insert_rowid()` rather than
/// use `RETURNING`: SQLite collects returned rows in an ephemeral table,
/// which took about a tenth of the writer thread's samples in a `perf`
/// profile of `examples/sqlite_ingest.rs`.
pub(super) fn record_event(
    conn: &Connection,
    event: &NewEvent,
    now: i64,
) -> WriteResult<RecordOutcome> {
    let (status, reason, detail) = match &event.status {
        EventStatus::Accepted => ("accepted", None, None),
        EventStatus::Quarantined { reason, detail } => {
            ("quarantined", Some(reason.as_str()), Some(detail.as_str()))
        }
    };
    let inserted = conn.prepare_cached(INSERT_EVENT)?.execute(params![
        event.store_id.as_str(),
        event.key,
        event.event_type,
        event.order_id.map(order_id_to_sql),
        event.body,
        event.body_sha256,
        micros(event.received_at),
        event.occurred_at.map(micros),
        status,
        reason,
        detail,
    ])?;
    if inserted == 0 {
        return record_repeat(conn, event);
    }
    let event_id = conn.last_insert_rowid();

    let mut deliveries = 0;
    if event.status == EventStatus::Accepted {
        for target_id in &event.targets {
            if insert_delivery(conn, event_id, &event.store_id, target_id, now)?.is_some() {
                deliveries += 1;
            }
        }
    }
    Ok(RecordOutcome::Recorded {
        event_id,
        deliveries,
    })
}

/// Sorts an event whose key is already recorded into a duplicate or a
/// conflict, storing each distinct conflicting body once.
fn record_repeat(conn: &Connection, event: &NewEvent) -> WriteResult<RecordOutcome> {
    let (event_id, first_sha256): (EventId, Vec<u8>) = conn
        .prepare_cached("SELECT id, body_sha256 FROM events WHERE store_id = ?1 AND key = ?2")?
        .query_row(params![event.store_id.as_str(), event.key], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    if first_sha256 == event.body_sha256 {
        return Ok(RecordOutcome::Duplicate { event_id });
    }

    let inserted: Option<i64> = conn
        .prepare_cached(
            "INSERT INTO event_conflicts (event_id, body, body_sha256, received_at) \
             VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (event_id, body_sha256) DO NOTHING \
             RETURNING id",
        )?
        .query_row(
            params![
                event_id,
                event.body,
                event.body_sha256,
                micros(event.received_at)
            ],
            |row| row.get(0),
        )
        .optional()?;
    let conflict_id = match inserted {
        Some(conflict_id) => conflict_id,
        None => conn
            .prepare_cached(
                "SELECT id FROM event_conflicts WHERE event_id = ?1 AND body_sha256 = ?2",
            )?
            .query_row(params![event_id, event.body_sha256], |row| row.get(0))?,
    };
    Ok(RecordOutcome::Conflict {
        event_id,
        conflict_id,
    })
}

/// Creates a pending delivery due at `now`, or returns `None` when the event
/// already has one for this target.
fn insert_delivery(
    conn: &Connection,
    event_id: EventId,
    store_id: &StoreId,
    target_id: &TargetId,
    now: i64,
) -> WriteResult<Option<DeliveryId>> {
    let inserted = conn.prepare_cached(INSERT_DELIVERY)?.execute(params![
        event_id,
        store_id.as_str(),
        target_id.as_str(),
        now
    ])?;
    Ok((inserted == 1).then(|| conn.last_insert_rowid()))
}

/// Claims due deliveries in due order. A delivery still in flight had its
/// lease expire, so its previous attempt may have reached the platform and
/// the claim sets `reconcile`. Each row gets its own random lease token.
const CLAIM: &str = "UPDATE deliveries SET \
         status = 'in_flight', \
         attempts = attempts + 1, \
         reconcile = CASE WHEN status = 'in_flight' THEN 1 ELSE reconcile END, \
         lease_token = lower(hex(randomblob(16))), \
         lease_owner = ?1, \
         lease_expires_at = ?2, \
         next_attempt_at = NULL, \
         updated_at = ?3 \
     WHERE id IN (SELECT id FROM deliveries WHERE due_at <= ?4 ORDER BY due_at LIMIT ?5) \
     RETURNING id, event_id, target_id, attempts, reconcile, lease_token, created_at, \
         attempts_before_replay, replayed_at";

/// A claimed row before its event's fields are added.
struct ClaimedRow {
    delivery_id: DeliveryId,
    event_id: EventId,
    target_id: TargetId,
    attempt: u32,
    reconcile: bool,
    lease_token: String,
    created_at: chrono::DateTime<chrono::Utc>,
    attempts_before_replay: u32,
    replayed_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub(super) fn claim_due(
    conn: &Connection,
    request: &ClaimRequest,
    now: i64,
) -> WriteResult<Vec<ClaimedDelivery>> {
    if request.limit == 0 {
        return Ok(Vec::new());
    }
    let claim_at = micros(request.now);
    let lease = i64::try_from(request.lease.as_micros()).unwrap_or(i64::MAX);
    let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);

    let mut claimed_rows = Vec::new();
    {
        let mut statement = conn.prepare_cached(CLAIM)?;
        let mut rows = statement.query(params![
            request.worker,
            claim_at.saturating_add(lease),
            now,
            claim_at,
            limit
        ])?;
        while let Some(row) = rows.next()? {
            claimed_rows.push(ClaimedRow {
                delivery_id: row.get(0)?,
                event_id: row.get(1)?,
                target_id: rows::target_id(row, 2)?,
                attempt: row.get(3)?,
                reconcile: row.get(4)?,
                lease_token: row.get(5)?,
                created_at: rows::timestamp(row, 6)?,
                attempts_before_replay: row.get(7)?,
                replayed_at: rows::optional_timestamp(row, 8)?,
            });
        }
    }
    claimed_rows.sort_by_key(|claimed| claimed.delivery_id);

    let mut event_query = conn.prepare_cached(
        "SELECT store_id, event_type, body, received_at FROM events WHERE id = ?1",
    )?;
    let mut claimed = Vec::with_capacity(claimed_rows.len());
    for row in claimed_rows {
        let (store_id, event_type, body, received_at) =
            event_query.query_row([row.event_id], |event| {
                Ok((
                    rows::store_id(event, 0)?,
                    event.get(1)?,
                    event.get(2)?,
                    rows::timestamp(event, 3)?,
                ))
            })?;
        claimed.push(ClaimedDelivery {
            delivery_id: row.delivery_id,
            lease_token: row.lease_token,
            event_id: row.event_id,
            store_id,
            target_id: row.target_id,
            event_type,
            body,
            received_at,
            attempt: row.attempt,
            reconcile: row.reconcile,
            created_at: row.created_at,
            attempts_before_replay: row.attempts_before_replay,
            replayed_at: row.replayed_at,
        });
    }
    Ok(claimed)
}

const COMPLETE_SUCCEEDED: &str = "UPDATE deliveries SET status = 'succeeded', \
         lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, \
         remote_id = ?3, note = ?4, updated_at = ?5 \
     WHERE id = ?1 AND status = 'in_flight' AND lease_token = ?2 \
     RETURNING attempts";

const COMPLETE_RETRY: &str = "UPDATE deliveries SET status = 'pending', \
         lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, \
         next_attempt_at = ?3, reconcile = max(reconcile, ?4), \
         last_reason = ?5, last_error = ?6, updated_at = ?7 \
     WHERE id = ?1 AND status = 'in_flight' AND lease_token = ?2 \
     RETURNING attempts";

const COMPLETE_DEAD: &str = "UPDATE deliveries SET status = 'dead', \
         lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, \
         last_reason = ?3, last_error = ?4, updated_at = ?5 \
     WHERE id = ?1 AND status = 'in_flight' AND lease_token = ?2 \
     RETURNING attempts";

/// Records an attempt's outcome if `lease` is still the delivery's current
/// lease. A lease that expired but was not yet claimed again still counts,
/// because no other worker has started an attempt.
pub(super) fn complete(
    conn: &Connection,
    lease: &Lease,
    outcome: &AttemptOutcome,
    now: i64,
) -> WriteResult<()> {
    let updated: Option<u32> = match outcome {
        AttemptOutcome::Succeeded {
            remote_id, note, ..
        } => conn
            .prepare_cached(COMPLETE_SUCCEEDED)?
            .query_row(
                params![lease.delivery_id, lease.token, remote_id, note, now],
                |row| row.get(0),
            )
            .optional()?,
        AttemptOutcome::Retry {
            reason,
            message,
            next_attempt_at,
            maybe_created,
        } => conn
            .prepare_cached(COMPLETE_RETRY)?
            .query_row(
                params![
                    lease.delivery_id,
                    lease.token,
                    micros(*next_attempt_at),
                    maybe_created,
                    reason.as_str(),
                    message,
                    now
                ],
                |row| row.get(0),
            )
            .optional()?,
        AttemptOutcome::Dead { reason, message } => conn
            .prepare_cached(COMPLETE_DEAD)?
            .query_row(
                params![
                    lease.delivery_id,
                    lease.token,
                    reason.as_str(),
                    message,
                    now
                ],
                |row| row.get(0),
            )
            .optional()?,
    };
    let Some(attempt) = updated else {
        return Err(lease_lost_or_missing(conn, lease.delivery_id)?.into());
    };

    insert_attempt(conn, lease.delivery_id, attempt, outcome, now)
}

fn insert_attempt(
    conn: &Connection,
    delivery_id: DeliveryId,
    attempt: u32,
    outcome: &AttemptOutcome,
    now: i64,
) -> WriteResult<()> {
    let (name, reason, message, remote_id) = match outcome {
        AttemptOutcome::Succeeded {
            remote_id,
            note,
            adopted,
        } => {
            let name = if *adopted { "adopted" } else { "succeeded" };
            (name, None, note.as_deref(), remote_id.as_deref())
        }
        AttemptOutcome::Retry {
            reason, message, ..
        } => ("retry", Some(reason.as_str()), Some(message.as_str()), None),
        AttemptOutcome::Dead { reason, message } => {
            ("dead", Some(reason.as_str()), Some(message.as_str()), None)
        }
    };
    conn.prepare_cached(
        "INSERT INTO attempts (delivery_id, attempt, finished_at, outcome, reason, message, remote_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![delivery_id, attempt, now, name, reason, message, remote_id])?;
    Ok(())
}

/// Explains why no in-flight delivery matched a lease.
fn lease_lost_or_missing(conn: &Connection, delivery_id: DeliveryId) -> WriteResult<StoreError> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM deliveries WHERE id = ?1")?
        .exists([delivery_id])?;
    Ok(if exists {
        StoreError::LeaseLost { delivery_id }
    } else {
        StoreError::NotFound {
            what: "delivery",
            id: delivery_id,
        }
    })
}

/// Accepts a quarantined event, revives its dead deliveries and adds the
/// missing targets. Succeeded, pending and in-flight deliveries stay as
/// they are.
pub(super) fn replay_event(
    conn: &Connection,
    event_id: EventId,
    targets: &[TargetId],
    now: i64,
) -> WriteResult<ReplayOutcome> {
    let event: Option<(StoreId, String)> = conn
        .prepare_cached("SELECT store_id, status FROM events WHERE id = ?1")?
        .query_row([event_id], |row| Ok((rows::store_id(row, 0)?, row.get(1)?)))
        .optional()?;
    let Some((store_id, status)) = event else {
        return Err(StoreError::NotFound {
            what: "event",
            id: event_id,
        }
        .into());
    };
    if status == "quarantined" {
        conn.prepare_cached("UPDATE events SET status = 'accepted' WHERE id = ?1")?
            .execute([event_id])?;
    }

    let mut revived: Vec<DeliveryId> = conn
        .prepare_cached(REVIVE_DEAD_OF_EVENT)?
        .query_map(params![event_id, now], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    revived.sort_unstable();

    let mut created = Vec::new();
    for target_id in targets {
        if let Some(delivery_id) = insert_delivery(conn, event_id, &store_id, target_id, now)? {
            created.push(delivery_id);
        }
    }
    Ok(ReplayOutcome { revived, created })
}

/// Sets a dead delivery back to pending, due at `?2`, with a fresh attempt
/// and age budget. Its last attempt may have reached the platform even though
/// it ended dead (a timeout on the final attempt), so a delivery that was
/// attempted before looks for an existing order first.
macro_rules! revive_dead {
    ($filter:literal) => {
        concat!(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?2, ",
            "updated_at = ?2, replayed_at = ?2, attempts_before_replay = attempts, ",
            "reconcile = CASE WHEN attempts > 0 THEN 1 ELSE reconcile END ",
            $filter
        )
    };
}
const REVIVE_DEAD_OF_EVENT: &str =
    revive_dead!("WHERE event_id = ?1 AND status = 'dead' RETURNING id");
const REVIVE_DEAD_DELIVERY: &str = revive_dead!("WHERE id = ?1 AND status = 'dead'");

/// Sets one dead delivery back to pending, due at `now`.
pub(super) fn replay_delivery(
    conn: &Connection,
    delivery_id: DeliveryId,
    now: i64,
) -> WriteResult<()> {
    let updated = conn
        .prepare_cached(REVIVE_DEAD_DELIVERY)?
        .execute(params![delivery_id, now])?;
    if updated == 1 {
        return Ok(());
    }

    let status: Option<String> = conn
        .prepare_cached("SELECT status FROM deliveries WHERE id = ?1")?
        .query_row([delivery_id], |row| row.get(0))
        .optional()?;
    Err(match status {
        None => StoreError::NotFound {
            what: "delivery",
            id: delivery_id,
        },
        Some(status) => StoreError::InvalidState(format!(
            "delivery {delivery_id} is {status}, and only dead deliveries can be replayed"
        )),
    }
    .into())
}
