//! Recording events: idempotency and conflicts by unique constraints.

use chrono::Utc;
use sqlx::postgres::PgConnection;
use sqlx::{PgPool, Row};

use super::errors::map_error;
use super::rows::order_id_text;
use crate::error::StoreError;
use crate::model::*;

const ACTION: &str = "record event";

/// Inserts the event with `ON CONFLICT DO NOTHING` and, when the key was
/// taken, reads the existing event to tell a duplicate from a conflict.
///
/// Under READ COMMITTED an insert that collides with an uncommitted insert
/// of the same key waits for it. Once that commits, this insert does nothing
/// and the following `SELECT`, which takes a fresh snapshot, reads the
/// committed event. So concurrent calls for one key, from any number of replicas,
/// create one event and all others get `Duplicate` or `Conflict`.
pub(crate) async fn record_event(
    pool: &PgPool,
    event: NewEvent,
) -> Result<RecordOutcome, StoreError> {
    let mut transaction = pool.begin().await.map_err(|e| map_error(ACTION, e))?;

    let outcome = match insert_event(&mut transaction, &event).await? {
        Some(event_id) => {
            let deliveries = insert_deliveries(&mut transaction, event_id, &event).await?;
            RecordOutcome::Recorded {
                event_id,
                deliveries,
            }
        }
        None => resolve_existing(&mut transaction, &event).await?,
    };

    transaction
        .commit()
        .await
        .map_err(|e| map_error(ACTION, e))?;
    Ok(outcome)
}

/// Returns the new event's id, or `None` when the key already exists.
async fn insert_event(
    connection: &mut PgConnection,
    event: &NewEvent,
) -> Result<Option<EventId>, StoreError> {
    let (reason, detail) = match &event.status {
        EventStatus::Accepted => (None, None),
        EventStatus::Quarantined { reason, detail } => {
            (Some(reason.as_str()), Some(detail.as_str()))
        }
    };
    let row = sqlx::query(
        "INSERT INTO events (store_id, key, event_type, order_id, body, body_sha256, \
             received_at, occurred_at, status, quarantine_reason, quarantine_detail) \
         VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (store_id, key) DO NOTHING \
         RETURNING id",
    )
    .bind(event.store_id.as_str())
    .bind(&event.key)
    .bind(&event.event_type)
    .bind(order_id_text(event.order_id))
    .bind(&event.body)
    .bind(event.body_sha256.as_slice())
    .bind(event.received_at)
    .bind(event.occurred_at)
    .bind(event.status.as_str())
    .bind(reason)
    .bind(detail)
    .fetch_optional(&mut *connection)
    .await
    .map_err(|e| map_error(ACTION, e))?;

    row.map(|row| row.try_get("id").map_err(|e| map_error(ACTION, e)))
        .transpose()
}

/// Creates one pending delivery per distinct target of an accepted event,
/// due at once: at its receipt time, or now if that lies in the future.
async fn insert_deliveries(
    connection: &mut PgConnection,
    event_id: EventId,
    event: &NewEvent,
) -> Result<usize, StoreError> {
    if event.status != EventStatus::Accepted || event.targets.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    let due = event.received_at.min(now);
    let targets: Vec<&str> = event.targets.iter().map(|t| t.as_str()).collect();
    let created = sqlx::query(
        "INSERT INTO deliveries (event_id, store_id, target_id, status, next_attempt_at, \
             created_at, updated_at) \
         SELECT $1, $2, target, 'pending', $3, $4, $4 FROM unnest($5::text[]) AS target \
         ON CONFLICT (event_id, target_id) DO NOTHING",
    )
    .bind(event_id)
    .bind(event.store_id.as_str())
    .bind(due)
    .bind(now)
    .bind(&targets)
    .execute(&mut *connection)
    .await
    .map_err(|e| map_error(ACTION, e))?;
    Ok(usize::try_from(created.rows_affected()).unwrap_or(usize::MAX))
}

/// Reads the event recorded under the key. The same body is a duplicate, and
/// a different one is stored once as a conflict.
async fn resolve_existing(
    connection: &mut PgConnection,
    event: &NewEvent,
) -> Result<RecordOutcome, StoreError> {
    let existing =
        sqlx::query("SELECT id, body_sha256 FROM events WHERE store_id = $1 AND key = $2")
            .bind(event.store_id.as_str())
            .bind(&event.key)
            .fetch_optional(&mut *connection)
            .await
            .map_err(|e| map_error(ACTION, e))?
            .ok_or_else(|| {
                // The insert found the key taken, and events are never deleted.
                StoreError::Corrupt(format!(
            "event key `{}` of store `{}` exists in the unique index but no event row was found",
            event.key, event.store_id
        ))
            })?;
    let event_id: EventId = existing.try_get("id").map_err(|e| map_error(ACTION, e))?;
    let sha256: Vec<u8> = existing
        .try_get("body_sha256")
        .map_err(|e| map_error(ACTION, e))?;
    if sha256 == event.body_sha256 {
        return Ok(RecordOutcome::Duplicate { event_id });
    }

    let conflict_id = insert_conflict(connection, event_id, event).await?;
    Ok(RecordOutcome::Conflict {
        event_id,
        conflict_id,
    })
}

async fn insert_conflict(
    connection: &mut PgConnection,
    event_id: EventId,
    event: &NewEvent,
) -> Result<i64, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO event_conflicts (event_id, received_at, body, body_sha256) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (event_id, body_sha256) DO NOTHING \
         RETURNING id",
    )
    .bind(event_id)
    .bind(event.received_at)
    .bind(&event.body)
    .bind(event.body_sha256.as_slice())
    .fetch_optional(&mut *connection)
    .await
    .map_err(|e| map_error(ACTION, e))?;
    let row = match inserted {
        Some(row) => row,
        None => {
            sqlx::query("SELECT id FROM event_conflicts WHERE event_id = $1 AND body_sha256 = $2")
                .bind(event_id)
                .bind(event.body_sha256.as_slice())
                .fetch_one(&mut *connection)
                .await
                .map_err(|e| map_error(ACTION, e))?
        }
    };
    row.try_get("id").map_err(|e| map_error(ACTION, e))
}
