//! The read operations, run on pooled read-only connections.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension};

use super::rows::{self, order_id_to_sql, DELIVERY_COLUMNS, EVENT_SUMMARY_COLUMNS};
use crate::model::{
    AttemptRecord, ConflictRecord, DeliveryCounts, DeliveryFilter, DeliveryId, DeliveryRecord,
    DeliveryStatus, EventFilter, EventId, EventRecord, EventSummary,
};

/// The maximum number of rows one listing returns, whatever limit the filter
/// requests.
pub(super) const MAX_LIST_LIMIT: usize = 1000;

/// Returns the SQL condition for an event status filter, or `None` for a
/// status that does not exist. The status is written into the SQL rather
/// than bound, so that SQLite can use the partial index on quarantined events.
pub(super) fn event_status_condition(status: &str) -> Option<&'static str> {
    match status {
        "accepted" => Some(" AND e.status = 'accepted'"),
        "quarantined" => Some(" AND e.status = 'quarantined'"),
        _ => None,
    }
}

fn limit_value(limit: usize) -> Value {
    Value::Integer(limit.min(MAX_LIST_LIMIT) as i64)
}

/// Lists events newest first. `status_condition` comes from
/// [`event_status_condition`].
pub(super) fn list_events(
    conn: &Connection,
    filter: &EventFilter,
    status_condition: Option<&'static str>,
) -> rusqlite::Result<Vec<EventSummary>> {
    let mut sql = format!("SELECT {EVENT_SUMMARY_COLUMNS} FROM events e WHERE 1 = 1");
    let mut values = Vec::new();
    if let Some(store_id) = &filter.store_id {
        sql.push_str(" AND e.store_id = ?");
        values.push(Value::Text(store_id.as_str().to_owned()));
    }
    if let Some(condition) = status_condition {
        sql.push_str(condition);
    }
    if let Some(order_id) = filter.order_id {
        sql.push_str(" AND e.order_id = ?");
        values.push(Value::Integer(order_id_to_sql(order_id)));
    }
    if let Some(before_id) = filter.before_id {
        sql.push_str(" AND e.id < ?");
        values.push(Value::Integer(before_id));
    }
    sql.push_str(" ORDER BY e.id DESC LIMIT ?");
    values.push(limit_value(filter.limit));

    conn.prepare_cached(&sql)?
        .query_map(params_from_iter(values), rows::event_summary)?
        .collect()
}

/// Reads one event with its deliveries and conflicts from one snapshot.
pub(super) fn get_event(
    conn: &Connection,
    event_id: EventId,
) -> rusqlite::Result<Option<EventRecord>> {
    let snapshot = conn.unchecked_transaction()?;
    let event = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_SUMMARY_COLUMNS}, e.body, e.occurred_at FROM events e WHERE e.id = ?1"
        ))?
        .query_row([event_id], |row| {
            Ok((
                rows::event_summary(row)?,
                row.get::<_, Vec<u8>>(11)?,
                rows::optional_timestamp(row, 12)?,
            ))
        })
        .optional()?;
    let Some((summary, body, occurred_at)) = event else {
        return Ok(None);
    };

    let deliveries = conn
        .prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = ?1 ORDER BY id"
        ))?
        .query_map([event_id], rows::delivery_record)?
        .collect::<rusqlite::Result<_>>()?;
    let conflicts = conn
        .prepare_cached(
            "SELECT id, received_at, body_sha256, body FROM event_conflicts \
             WHERE event_id = ?1 ORDER BY id",
        )?
        .query_map([event_id], |row| {
            Ok(ConflictRecord {
                id: row.get(0)?,
                received_at: rows::timestamp(row, 1)?,
                body_sha256: hex::encode(row.get::<_, Vec<u8>>(2)?),
                body: row.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    snapshot.commit()?;

    Ok(Some(EventRecord {
        summary,
        body,
        occurred_at,
        deliveries,
        conflicts,
    }))
}

/// Lists deliveries newest first.
pub(super) fn list_deliveries(
    conn: &Connection,
    filter: &DeliveryFilter,
) -> rusqlite::Result<Vec<DeliveryRecord>> {
    let mut sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE 1 = 1");
    let mut values = Vec::new();
    if let Some(store_id) = &filter.store_id {
        sql.push_str(" AND store_id = ?");
        values.push(Value::Text(store_id.as_str().to_owned()));
    }
    if let Some(target_id) = &filter.target_id {
        sql.push_str(" AND target_id = ?");
        values.push(Value::Text(target_id.as_str().to_owned()));
    }
    if let Some(status) = filter.status {
        sql.push_str(" AND status = ?");
        values.push(Value::Text(status.as_str().to_owned()));
    }
    if let Some(before_id) = filter.before_id {
        sql.push_str(" AND id < ?");
        values.push(Value::Integer(before_id));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    values.push(limit_value(filter.limit));

    conn.prepare_cached(&sql)?
        .query_map(params_from_iter(values), rows::delivery_record)?
        .collect()
}

/// Lists a delivery's attempts, oldest first.
pub(super) fn list_attempts(
    conn: &Connection,
    delivery_id: DeliveryId,
) -> rusqlite::Result<Vec<AttemptRecord>> {
    conn.prepare_cached(
        "SELECT delivery_id, attempt, finished_at, outcome, reason, message, remote_id \
         FROM attempts WHERE delivery_id = ?1 ORDER BY attempt",
    )?
    .query_map([delivery_id], |row| {
        Ok(AttemptRecord {
            delivery_id: row.get(0)?,
            attempt: row.get(1)?,
            finished_at: rows::timestamp(row, 2)?,
            outcome: row.get(3)?,
            reason: rows::optional_reason(row, 4)?,
            message: row.get(5)?,
            remote_id: row.get(6)?,
        })
    })?
    .collect()
}

pub(super) fn delivery_counts(conn: &Connection) -> rusqlite::Result<DeliveryCounts> {
    let mut counts = DeliveryCounts::default();
    let mut statement =
        conn.prepare_cached("SELECT status, count(*) FROM deliveries GROUP BY status")?;
    let mut query = statement.query([])?;
    while let Some(row) = query.next()? {
        let count: u64 = row.get(1)?;
        match rows::delivery_status(row, 0)? {
            DeliveryStatus::Pending => counts.pending = count,
            DeliveryStatus::InFlight => counts.in_flight = count,
            DeliveryStatus::Succeeded => counts.succeeded = count,
            DeliveryStatus::Dead => counts.dead = count,
        }
    }
    Ok(counts)
}

/// Returns the earliest due time of a pending delivery or lease expiry of
/// an in-flight one.
pub(super) fn next_due_at(conn: &Connection) -> rusqlite::Result<Option<DateTime<Utc>>> {
    conn.prepare_cached("SELECT min(due_at) FROM deliveries WHERE due_at IS NOT NULL")?
        .query_row([], |row| rows::optional_timestamp(row, 0))
}

/// Reads the schema version, proving the file is open and readable.
pub(super) fn schema_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.prepare_cached("SELECT coalesce(max(version), 0) FROM schema_migrations")?
        .query_row([], |row| row.get(0))
}
