//! The storage trait that the SQLite and PostgreSQL backends implement.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wamebo_core::TargetId;

use crate::error::StoreError;
use crate::model::*;

/// Durable storage of events, deliveries and attempts.
///
/// Every method is one transaction: it happens entirely or not at all.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Records an event and, if its `(store_id, key)` is new and it is
    /// accepted, one pending delivery per target, due now. Returns only after
    /// the transaction is durable, so the caller may acknowledge it.
    ///
    /// The same key with the same body returns [`RecordOutcome::Duplicate`];
    /// with a different body, [`RecordOutcome::Conflict`] and the body is kept
    /// beside the first event (a repeat of that same conflicting body is
    /// stored once). Concurrent calls with one key create exactly one event.
    async fn record_event(&self, event: NewEvent) -> Result<RecordOutcome, StoreError>;

    /// Claims up to `limit` deliveries that are due: pending with
    /// `next_attempt_at <= now`, or in flight with an expired lease. Each
    /// claim increments the attempt count, sets a fresh lease token and
    /// marks the delivery in flight. A delivery whose lease had expired is
    /// returned with `reconcile` set.
    async fn claim_due(&self, request: ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records an attempt's outcome and moves the delivery to `succeeded`,
    /// back to `pending`, or to `dead`. Fails with
    /// [`StoreError::LeaseLost`] and changes nothing if the lease token no
    /// longer matches.
    async fn complete(&self, lease: &Lease, outcome: AttemptOutcome) -> Result<(), StoreError>;

    /// Returns when the next pending delivery becomes due, or when the
    /// earliest lease expires, whichever is first; `None` when nothing waits.
    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Lists events, newest first.
    async fn list_events(&self, filter: EventFilter) -> Result<Vec<EventSummary>, StoreError>;

    /// Returns one event with its body, deliveries and conflicts.
    async fn get_event(&self, id: EventId) -> Result<Option<EventRecord>, StoreError>;

    /// Lists deliveries, newest first.
    async fn list_deliveries(
        &self,
        filter: DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;

    /// Returns a delivery's attempts, oldest first.
    async fn list_attempts(
        &self,
        delivery_id: DeliveryId,
    ) -> Result<Vec<AttemptRecord>, StoreError>;

    /// Replays an event: marks a quarantined event accepted, sets each of its
    /// dead deliveries back to pending and due now, and creates a delivery for each
    /// target in `targets` that it has none for. Deliveries that succeeded
    /// or are pending are left alone, so a replay never sends an order twice.
    ///
    /// A revived delivery keeps its attempt history and starts a fresh
    /// attempt and age budget (`attempts_before_replay`, `replayed_at`). If it
    /// was attempted before, it also gets `reconcile` set, because its last
    /// attempt may have reached the platform even though it ended dead.
    async fn replay_event(
        &self,
        id: EventId,
        targets: &[TargetId],
    ) -> Result<ReplayOutcome, StoreError>;

    /// Sets one dead delivery back to pending and due now, with a fresh budget
    /// and `reconcile` as [`Store::replay_event`] does.
    async fn replay_delivery(&self, id: DeliveryId) -> Result<(), StoreError>;

    /// Counts deliveries by status.
    async fn delivery_counts(&self) -> Result<DeliveryCounts, StoreError>;

    /// Checks that storage responds, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Returns a receiver that changes whenever another process (a replica
    /// sharing this database) creates deliveries, so local workers can wake
    /// at once. `None` for backends that only one process uses; workers then
    /// rely on their own wake-ups and on [`Store::next_due_at`].
    fn external_wakeups(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}
