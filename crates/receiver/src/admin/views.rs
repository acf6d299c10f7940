//! JSON shapes of the admin API's responses.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use wamebo_core::ReasonCode;
use wamebo_store::{
    AttemptRecord, ConflictRecord, DeliveryId, DeliveryRecord, EventId, EventRecord, EventStatus,
    EventSummary,
};

use crate::redact::{masked_value, unmasked_value};

/// An event without its body.
#[derive(Debug, Serialize)]
pub(crate) struct EventSummaryView {
    id: EventId,
    store: String,
    key: String,
    event_type: String,
    order_id: Option<u64>,
    received_at: DateTime<Utc>,
    status: &'static str,
    reason: Option<ReasonCode>,
    detail: Option<String>,
    body_sha256: String,
    conflicts: u32,
}

impl From<EventSummary> for EventSummaryView {
    fn from(summary: EventSummary) -> Self {
        let status = summary.status.as_str();
        let (reason, detail) = match summary.status {
            EventStatus::Accepted => (None, None),
            EventStatus::Quarantined { reason, detail } => (Some(reason), Some(detail)),
        };
        EventSummaryView {
            id: summary.id,
            store: summary.store_id.to_string(),
            key: summary.key,
            event_type: summary.event_type,
            order_id: summary.order_id,
            received_at: summary.received_at,
            status,
            reason,
            detail,
            body_sha256: summary.body_sha256,
            conflicts: summary.conflicts,
        }
    }
}

/// An event with its body (masked unless personal data was asked for), its
/// deliveries and the conflicting bodies that arrived under its key.
#[derive(Debug, Serialize)]
pub(crate) struct EventView {
    #[serde(flatten)]
    summary: EventSummaryView,
    occurred_at: Option<DateTime<Utc>>,
    personal_data: bool,
    body: Value,
    deliveries: Vec<DeliveryView>,
    conflicting_bodies: Vec<ConflictView>,
}

impl EventView {
    pub(crate) fn new(record: EventRecord, personal_data: bool) -> Self {
        let render = |body: &[u8]| {
            if personal_data {
                unmasked_value(body)
            } else {
                masked_value(body)
            }
        };
        EventView {
            body: render(&record.body),
            conflicting_bodies: record
                .conflicts
                .into_iter()
                .map(|conflict| ConflictView::new(conflict, render))
                .collect(),
            summary: record.summary.into(),
            occurred_at: record.occurred_at,
            personal_data,
            deliveries: record.deliveries.into_iter().map(Into::into).collect(),
        }
    }
}

/// A body that arrived under an existing key with different content.
#[derive(Debug, Serialize)]
pub(crate) struct ConflictView {
    id: i64,
    received_at: DateTime<Utc>,
    body_sha256: String,
    body: Value,
}

impl ConflictView {
    fn new(conflict: ConflictRecord, render: impl Fn(&[u8]) -> Value) -> Self {
        ConflictView {
            id: conflict.id,
            received_at: conflict.received_at,
            body_sha256: conflict.body_sha256,
            body: render(&conflict.body),
        }
    }
}

/// A delivery with its state and last failure.
#[derive(Debug, Serialize)]
pub(crate) struct DeliveryView {
    id: DeliveryId,
    event_id: EventId,
    store: String,
    target: String,
    status: &'static str,
    attempts: u32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_reason: Option<ReasonCode>,
    last_error: Option<String>,
    remote_id: Option<String>,
    note: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<DeliveryRecord> for DeliveryView {
    fn from(record: DeliveryRecord) -> Self {
        DeliveryView {
            id: record.id,
            event_id: record.event_id,
            store: record.store_id.to_string(),
            target: record.target_id.to_string(),
            status: record.status.as_str(),
            attempts: record.attempts,
            next_attempt_at: record.next_attempt_at,
            last_reason: record.last_reason,
            last_error: record.last_error,
            remote_id: record.remote_id,
            note: record.note,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// One recorded attempt of a delivery.
#[derive(Debug, Serialize)]
pub(crate) struct AttemptView {
    delivery_id: DeliveryId,
    attempt: u32,
    finished_at: DateTime<Utc>,
    outcome: String,
    reason: Option<ReasonCode>,
    message: Option<String>,
    remote_id: Option<String>,
}

impl From<AttemptRecord> for AttemptView {
    fn from(record: AttemptRecord) -> Self {
        AttemptView {
            delivery_id: record.delivery_id,
            attempt: record.attempt,
            finished_at: record.finished_at,
            outcome: record.outcome,
            reason: record.reason,
            message: record.message,
            remote_id: record.remote_id,
        }
    }
}

/// The result of an event replay.
#[derive(Debug, Serialize)]
pub(crate) struct ReplayView {
    pub(crate) event_id: EventId,
    pub(crate) revived: Vec<DeliveryId>,
    pub(crate) created: Vec<DeliveryId>,
}
