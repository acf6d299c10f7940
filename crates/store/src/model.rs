//! Rows and requests that cross the [`crate::Store`] trait.

use std::time::Duration;

use chrono::{DateTime, Utc};
use wamebo_core::{ReasonCode, StoreId, TargetId};

/// The bridge's id of a recorded event.
pub type EventId = i64;
/// The bridge's id of a delivery.
pub type DeliveryId = i64;

/// Whether an event goes to its targets or waits for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventStatus {
    /// Valid; deliveries were created for its targets.
    Accepted,
    /// Authentic but invalid; no deliveries until replayed.
    Quarantined {
        /// Why, as a stable code.
        reason: ReasonCode,
        /// Which field broke which rule; no personal data.
        detail: String,
    },
}

impl EventStatus {
    /// Returns `accepted` or `quarantined`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventStatus::Accepted => "accepted",
            EventStatus::Quarantined { .. } => "quarantined",
        }
    }
}

/// An authentic event to record, with the deliveries it needs.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The store it arrived for.
    pub store_id: StoreId,
    /// The deduplication key from classification (`order:5542`, …).
    pub key: String,
    /// `order.created`, `message.received`, another type, or `unknown`.
    pub event_type: String,
    /// Wamebo's order id, when readable.
    pub order_id: Option<u64>,
    /// The body exactly as received.
    pub body: Vec<u8>,
    /// SHA-256 of `body`.
    pub body_sha256: [u8; 32],
    /// When the bridge received it.
    pub received_at: DateTime<Utc>,
    /// The event's own timestamp, when readable.
    pub occurred_at: Option<DateTime<Utc>>,
    /// Accepted or quarantined.
    pub status: EventStatus,
    /// One delivery is created per target, only when the event is new and
    /// accepted. Empty for quarantined events.
    pub targets: Vec<TargetId>,
}

/// The result of recording an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// A new event, committed with its deliveries.
    Recorded {
        /// The new event's id.
        event_id: EventId,
        /// How many deliveries were created.
        deliveries: usize,
    },
    /// The same key with the same body was already recorded; nothing changed.
    Duplicate {
        /// The first event's id.
        event_id: EventId,
    },
    /// The same key with a different body: the first is kept and the second
    /// is stored beside it for the operator.
    Conflict {
        /// The first event's id.
        event_id: EventId,
        /// The id of the stored conflicting body.
        conflict_id: i64,
    },
}

/// A delivery's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt at `next_attempt_at`.
    Pending,
    /// Claimed by a worker whose lease has not expired.
    InFlight,
    /// Delivered; never attempted again.
    Succeeded,
    /// Given up; waits for an operator's replay.
    Dead,
}

impl DeliveryStatus {
    /// Every status, for metrics.
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::InFlight,
        DeliveryStatus::Succeeded,
        DeliveryStatus::Dead,
    ];

    /// Returns the status as stored and shown: `pending`, `in_flight`,
    /// `succeeded` or `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::InFlight => "in_flight",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Dead => "dead",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// A request to claim due deliveries.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// Names the claiming worker, for operators reading the table.
    pub worker: String,
    /// The current time; deliveries due at or before it are claimed.
    pub now: DateTime<Utc>,
    /// How long the claim holds; must exceed the sink's request timeout.
    pub lease: Duration,
    /// The maximum number of deliveries to claim at once.
    pub limit: usize,
}

/// A delivery claimed by a worker, with what it needs to make the attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// Proof of the claim: outcomes are only recorded while it matches.
    pub lease_token: String,
    /// Its event.
    pub event_id: EventId,
    /// The store the event came in for.
    pub store_id: StoreId,
    /// The target to deliver to.
    pub target_id: TargetId,
    /// The event type.
    pub event_type: String,
    /// The raw body as received.
    pub body: Vec<u8>,
    /// When the event was received.
    pub received_at: DateTime<Utc>,
    /// The number of this attempt: 1 for the first.
    pub attempt: u32,
    /// True when an earlier attempt may have created the order: its lease
    /// expired mid-call, or it failed in a way that may have reached the
    /// platform. The worker must look for an existing order first.
    pub reconcile: bool,
    /// When the delivery was created; the age limit counts from here until
    /// an operator replays it.
    pub created_at: DateTime<Utc>,
    /// Attempts made before the last replay, 0 if it was never replayed.
    /// The attempt limit counts only the attempts after it.
    pub attempts_before_replay: u32,
    /// When an operator last replayed the delivery; the age limit then
    /// counts from here instead of `created_at`.
    pub replayed_at: Option<DateTime<Utc>>,
}

impl ClaimedDelivery {
    /// Returns the number of this attempt since the delivery was created or
    /// last replayed: 1 for the first.
    pub fn attempt_in_budget(&self) -> u32 {
        self.attempt.saturating_sub(self.attempts_before_replay)
    }

    /// Returns when the current attempt and age budget started: the last
    /// replay, or the delivery's creation.
    pub fn budget_started_at(&self) -> DateTime<Utc> {
        self.replayed_at.unwrap_or(self.created_at)
    }
}

/// The result of one attempt, recorded under the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Delivered, or an existing order was adopted.
    Succeeded {
        /// The platform's order id.
        remote_id: Option<String>,
        /// A note for the operator, such as a recalculated total.
        note: Option<String>,
        /// True when an order created by an earlier attempt was adopted.
        adopted: bool,
    },
    /// Try again at `next_attempt_at`.
    Retry {
        /// Why, as a stable code.
        reason: ReasonCode,
        /// What failed; no personal data.
        message: String,
        /// When the delivery becomes due again.
        next_attempt_at: DateTime<Utc>,
        /// True when this attempt may have reached the platform, so the next
        /// one must reconcile first.
        maybe_created: bool,
    },
    /// Give up until an operator replays it.
    Dead {
        /// Why, as a stable code.
        reason: ReasonCode,
        /// What failed; no personal data.
        message: String,
    },
}

/// A lease held on a claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// The token returned by the claim.
    pub token: String,
}

/// An event as listed: no body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    /// The bridge's event id.
    pub id: EventId,
    /// The store it arrived for.
    pub store_id: StoreId,
    /// The deduplication key.
    pub key: String,
    /// The event type.
    pub event_type: String,
    /// Wamebo's order id, when readable.
    pub order_id: Option<u64>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// `accepted` or `quarantined`, with the reason.
    pub status: EventStatus,
    /// Lower-case hex SHA-256 of the body.
    pub body_sha256: String,
    /// How many conflicting bodies arrived for the same key.
    pub conflicts: u32,
}

/// An event with its body, deliveries and conflicting bodies.
#[derive(Debug, Clone)]
pub struct EventRecord {
    /// The summary fields.
    pub summary: EventSummary,
    /// The body exactly as received.
    pub body: Vec<u8>,
    /// The event's own timestamp, when readable.
    pub occurred_at: Option<DateTime<Utc>>,
    /// Its deliveries, by id.
    pub deliveries: Vec<DeliveryRecord>,
    /// Bodies that arrived later under the same key, with different content.
    pub conflicts: Vec<ConflictRecord>,
}

/// A body that arrived under an existing key with different content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictRecord {
    /// The conflict's id.
    pub id: i64,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Lower-case hex SHA-256 of its body.
    pub body_sha256: String,
    /// The body exactly as received.
    pub body: Vec<u8>,
}

/// A delivery as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The delivery's id.
    pub id: DeliveryId,
    /// Its event.
    pub event_id: EventId,
    /// The store.
    pub store_id: StoreId,
    /// The target.
    pub target_id: TargetId,
    /// Its state.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, for pending deliveries.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The reason of the last failure, if any.
    pub last_reason: Option<ReasonCode>,
    /// The message of the last failure, if any.
    pub last_error: Option<String>,
    /// The platform's order id once delivered.
    pub remote_id: Option<String>,
    /// A note from the sink, such as a recalculated total.
    pub note: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// `succeeded`, `adopted`, `retry` or `dead`.
    pub outcome: String,
    /// The failure reason, if any.
    pub reason: Option<ReasonCode>,
    /// The failure message or the note, if any.
    pub message: Option<String>,
    /// The platform's order id, if any.
    pub remote_id: Option<String>,
}

/// A filter for listing events, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this store.
    pub store_id: Option<StoreId>,
    /// Only `accepted` or only `quarantined` events.
    pub status: Option<&'static str>,
    /// Only events with this order id.
    pub order_id: Option<u64>,
    /// Only events with an id below this, for paging.
    pub before_id: Option<EventId>,
    /// The most rows to return; the store caps it at 1000.
    pub limit: usize,
}

/// A filter for listing deliveries, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only this store.
    pub store_id: Option<StoreId>,
    /// Only this target.
    pub target_id: Option<TargetId>,
    /// Only this status.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries with an id below this, for paging.
    pub before_id: Option<DeliveryId>,
    /// The most rows to return; the store caps it at 1000.
    pub limit: usize,
}

/// The deliveries a replay revived or created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayOutcome {
    /// Dead deliveries set back to pending.
    pub revived: Vec<DeliveryId>,
    /// New deliveries created (for a quarantined event, or a target added
    /// to its store since).
    pub created: Vec<DeliveryId>,
}

/// Counts of deliveries by status, for metrics and readiness.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Waiting for an attempt.
    pub pending: u64,
    /// Claimed right now.
    pub in_flight: u64,
    /// Delivered.
    pub succeeded: u64,
    /// Given up.
    pub dead: u64,
}
