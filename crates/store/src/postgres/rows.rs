//! Decoding PostgreSQL rows into the model types.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;
use wamebo_core::{ReasonCode, StoreId, TargetId};

use super::errors::{corrupt, map_error};
use crate::error::StoreError;
use crate::model::*;

/// The columns [`delivery`] reads, for `SELECT` lists.
pub(crate) const DELIVERY_COLUMNS: &str = "id, event_id, store_id, target_id, status, attempts, \
     next_attempt_at, last_reason, last_error, remote_id, note, created_at, updated_at";

/// The columns [`event_summary`] reads, for `SELECT` lists over `events e`.
pub(crate) const EVENT_SUMMARY_COLUMNS: &str = "e.id, e.store_id, e.key, e.event_type, \
     e.order_id::text AS order_id, e.received_at, e.status, e.quarantine_reason, \
     e.quarantine_detail, e.body_sha256, \
     (SELECT count(*) FROM event_conflicts c WHERE c.event_id = e.id) AS conflicts";

/// Reads a column, mapping a type mismatch to [`StoreError::Corrupt`].
pub(crate) fn column<'r, T>(row: &'r PgRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(name)
        .map_err(|error| map_error(&format!("read column {name}"), error))
}

pub(crate) fn store_id(row: &PgRow) -> Result<StoreId, StoreError> {
    let text: String = column(row, "store_id")?;
    StoreId::new(&text).map_err(|_| corrupt("store id", text))
}

pub(crate) fn target_id(row: &PgRow) -> Result<TargetId, StoreError> {
    let text: String = column(row, "target_id")?;
    TargetId::new(&text).map_err(|_| corrupt("target id", text))
}

pub(crate) fn reason(row: &PgRow, name: &str) -> Result<Option<ReasonCode>, StoreError> {
    let text: Option<String> = column(row, name)?;
    text.map(|text| text.parse().map_err(|_| corrupt("reason code", text)))
        .transpose()
}

pub(crate) fn count(row: &PgRow, name: &str) -> Result<u32, StoreError> {
    let value: i32 = column(row, name)?;
    u32::try_from(value).map_err(|_| corrupt(name, value))
}

/// Reads `order_id`, selected as text because the column is `NUMERIC(20,0)`.
pub(crate) fn order_id(row: &PgRow) -> Result<Option<u64>, StoreError> {
    let text: Option<String> = column(row, "order_id")?;
    text.map(|text| text.parse().map_err(|_| corrupt("order id", text)))
        .transpose()
}

/// Formats an order id for binding as `$n::numeric`.
pub(crate) fn order_id_text(order_id: Option<u64>) -> Option<String> {
    order_id.map(|id| id.to_string())
}

pub(crate) fn delivery_status(row: &PgRow) -> Result<DeliveryStatus, StoreError> {
    let text: String = column(row, "status")?;
    DeliveryStatus::parse(&text).ok_or_else(|| corrupt("delivery status", text))
}

pub(crate) fn delivery(row: &PgRow) -> Result<DeliveryRecord, StoreError> {
    Ok(DeliveryRecord {
        id: column(row, "id")?,
        event_id: column(row, "event_id")?,
        store_id: store_id(row)?,
        target_id: target_id(row)?,
        status: delivery_status(row)?,
        attempts: count(row, "attempts")?,
        next_attempt_at: column(row, "next_attempt_at")?,
        last_reason: reason(row, "last_reason")?,
        last_error: column(row, "last_error")?,
        remote_id: column(row, "remote_id")?,
        note: column(row, "note")?,
        created_at: column(row, "created_at")?,
        updated_at: column(row, "updated_at")?,
    })
}

pub(crate) fn event_status(row: &PgRow) -> Result<EventStatus, StoreError> {
    let text: String = column(row, "status")?;
    match text.as_str() {
        "accepted" => Ok(EventStatus::Accepted),
        "quarantined" => {
            let reason = reason(row, "quarantine_reason")?
                .ok_or_else(|| corrupt("quarantine reason", "NULL"))?;
            let detail: Option<String> = column(row, "quarantine_detail")?;
            Ok(EventStatus::Quarantined {
                reason,
                detail: detail.unwrap_or_default(),
            })
        }
        _ => Err(corrupt("event status", text)),
    }
}

pub(crate) fn event_summary(row: &PgRow) -> Result<EventSummary, StoreError> {
    let sha256: Vec<u8> = column(row, "body_sha256")?;
    let conflicts: i64 = column(row, "conflicts")?;
    Ok(EventSummary {
        id: column(row, "id")?,
        store_id: store_id(row)?,
        key: column(row, "key")?,
        event_type: column(row, "event_type")?,
        order_id: order_id(row)?,
        received_at: column(row, "received_at")?,
        status: event_status(row)?,
        body_sha256: hex::encode(sha256),
        conflicts: u32::try_from(conflicts).map_err(|_| corrupt("conflict count", conflicts))?,
    })
}

pub(crate) fn conflict(row: &PgRow) -> Result<ConflictRecord, StoreError> {
    let sha256: Vec<u8> = column(row, "body_sha256")?;
    Ok(ConflictRecord {
        id: column(row, "id")?,
        received_at: column(row, "received_at")?,
        body_sha256: hex::encode(sha256),
        body: column(row, "body")?,
    })
}

pub(crate) fn attempt(row: &PgRow) -> Result<AttemptRecord, StoreError> {
    Ok(AttemptRecord {
        delivery_id: column(row, "delivery_id")?,
        attempt: count(row, "attempt")?,
        finished_at: column(row, "finished_at")?,
        outcome: column(row, "outcome")?,
        reason: reason(row, "reason")?,
        message: column(row, "message")?,
        remote_id: column(row, "remote_id")?,
    })
}

/// Converts a lease length to a chrono duration, saturating at 100 years.
pub(crate) fn lease_end(
    now: DateTime<Utc>,
    lease: std::time::Duration,
) -> Result<DateTime<Utc>, StoreError> {
    let length = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::days(36_500));
    now.checked_add_signed(length).ok_or_else(|| {
        StoreError::InvalidState(format!(
            "lease of {} s from {now} ends beyond the supported time range",
            lease.as_secs()
        ))
    })
}

/// Caps a requested row count at the trait's maximum of 1000.
pub(crate) fn page_limit(limit: usize) -> i64 {
    i64::try_from(limit.min(1000)).unwrap_or(1000)
}
