//! Conversions between stored columns and model values.

use std::error::Error;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rusqlite::types::Type;
use rusqlite::Row;
use wamebo_core::{ReasonCode, StoreId, TargetId};

use crate::model::{DeliveryRecord, DeliveryStatus, EventStatus, EventSummary};

/// Converts a time to its stored form: microseconds since the Unix epoch.
pub(super) fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

/// Converts Wamebo's order id to its stored form. Ids above `i64::MAX` keep
/// their bits, so they still round-trip and compare equal.
pub(super) fn order_id_to_sql(order_id: u64) -> i64 {
    order_id as i64
}

fn order_id_from_sql(stored: i64) -> u64 {
    stored as u64
}

fn conversion_error(
    index: usize,
    kind: Type,
    err: impl Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, kind, Box::new(err))
}

#[derive(Debug, thiserror::Error)]
#[error("{0} microseconds is outside the supported range of timestamps")]
struct TimestampOutOfRange(i64);

#[derive(Debug, thiserror::Error)]
#[error("`{value}` is not a known {what}")]
struct UnknownValue {
    what: &'static str,
    value: String,
}

fn parse_text<T: FromStr>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T::Err: Error + Send + Sync + 'static,
{
    let text: String = row.get(index)?;
    text.parse()
        .map_err(|err| conversion_error(index, Type::Text, err))
}

pub(super) fn timestamp(row: &Row<'_>, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    let stored: i64 = row.get(index)?;
    DateTime::from_timestamp_micros(stored)
        .ok_or_else(|| conversion_error(index, Type::Integer, TimestampOutOfRange(stored)))
}

pub(super) fn optional_timestamp(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get::<_, Option<i64>>(index)? {
        None => Ok(None),
        Some(_) => timestamp(row, index).map(Some),
    }
}

pub(super) fn store_id(row: &Row<'_>, index: usize) -> rusqlite::Result<StoreId> {
    parse_text(row, index)
}

pub(super) fn target_id(row: &Row<'_>, index: usize) -> rusqlite::Result<TargetId> {
    parse_text(row, index)
}

pub(super) fn optional_reason(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<ReasonCode>> {
    match row.get::<_, Option<String>>(index)? {
        None => Ok(None),
        Some(_) => parse_text(row, index).map(Some),
    }
}

pub(super) fn optional_order_id(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<u64>> {
    Ok(row.get::<_, Option<i64>>(index)?.map(order_id_from_sql))
}

pub(super) fn delivery_status(row: &Row<'_>, index: usize) -> rusqlite::Result<DeliveryStatus> {
    let text: String = row.get(index)?;
    DeliveryStatus::parse(&text).ok_or_else(|| {
        conversion_error(
            index,
            Type::Text,
            UnknownValue {
                what: "delivery status",
                value: text,
            },
        )
    })
}

/// Reads an event's status from its `status`, `reason` and `detail` columns,
/// which start at `index`.
fn event_status(row: &Row<'_>, index: usize) -> rusqlite::Result<EventStatus> {
    let text: String = row.get(index)?;
    match text.as_str() {
        "accepted" => Ok(EventStatus::Accepted),
        "quarantined" => {
            let reason = parse_text(row, index + 1)?;
            let detail: Option<String> = row.get(index + 2)?;
            Ok(EventStatus::Quarantined {
                reason,
                detail: detail.unwrap_or_default(),
            })
        }
        _ => Err(conversion_error(
            index,
            Type::Text,
            UnknownValue {
                what: "event status",
                value: text,
            },
        )),
    }
}

/// The columns [`event_summary`] reads, for an `events` table aliased `e`.
pub(super) const EVENT_SUMMARY_COLUMNS: &str =
    "e.id, e.store_id, e.key, e.event_type, e.order_id, \
     e.received_at, e.status, e.reason, e.detail, e.body_sha256, \
     (SELECT count(*) FROM event_conflicts c WHERE c.event_id = e.id)";

pub(super) fn event_summary(row: &Row<'_>) -> rusqlite::Result<EventSummary> {
    let sha256: Vec<u8> = row.get(9)?;
    Ok(EventSummary {
        id: row.get(0)?,
        store_id: store_id(row, 1)?,
        key: row.get(2)?,
        event_type: row.get(3)?,
        order_id: optional_order_id(row, 4)?,
        received_at: timestamp(row, 5)?,
        status: event_status(row, 6)?,
        body_sha256: hex::encode(sha256),
        conflicts: row.get(10)?,
    })
}

/// The columns [`delivery_record`] reads.
pub(super) const DELIVERY_COLUMNS: &str = "id, event_id, store_id, target_id, status, attempts, \
     next_attempt_at, last_reason, last_error, remote_id, note, created_at, updated_at";

pub(super) fn delivery_record(row: &Row<'_>) -> rusqlite::Result<DeliveryRecord> {
    let status = delivery_status(row, 4)?;
    let next_attempt_at = if status == DeliveryStatus::Pending {
        optional_timestamp(row, 6)?
    } else {
        None
    };
    Ok(DeliveryRecord {
        id: row.get(0)?,
        event_id: row.get(1)?,
        store_id: store_id(row, 2)?,
        target_id: target_id(row, 3)?,
        status,
        attempts: row.get(5)?,
        next_attempt_at,
        last_reason: optional_reason(row, 7)?,
        last_error: row.get(8)?,
        remote_id: row.get(9)?,
        note: row.get(10)?,
        created_at: timestamp(row, 11)?,
        updated_at: timestamp(row, 12)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_round_trip_across_full_range() {
        for order_id in [0, 1, 5542, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(order_id_from_sql(order_id_to_sql(order_id)), order_id);
        }
    }
}
