//! The conformance suite that every [`Store`] backend must pass.
//!
//! Each case is a public async function that takes a fresh, empty store and
//! panics on the first broken rule. [`store_conformance_tests!`] expands into
//! one `#[tokio::test]` per case, so a backend runs the whole suite with one
//! line and a failure names its case:
//!
//! ```ignore
//! wamebo_store::store_conformance_tests!(open_test_store());
//! ```
//!
//! The macro's argument is an expression whose value is a future. That
//! future's output is an `Arc<dyn Store>`, a [`TestStore`] (a store plus a
//! value kept alive until the case ends, such as a temporary directory), or
//! an `Option` of either. `None` skips the case, for a backend whose server
//! is not configured, and the factory should then print how to configure it.
//! The calling crate needs tokio with the `macros` and `rt-multi-thread`
//! features.
//!
//! Backends keep timestamps to the microsecond, so the cases build times
//! truncated to microseconds and compare them exactly.

use std::any::Any;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use wamebo_core::{ReasonCode, StoreId, TargetId};

use crate::error::StoreError;
use crate::model::*;
use crate::store::Store;

/// A store under test and a value that must outlive it.
pub struct TestStore {
    // Declared first, so the store is dropped (and closes its files) before
    // the guard, such as a temporary directory, is dropped.
    store: Arc<dyn Store>,
    _guard: Box<dyn Any + Send>,
}

impl TestStore {
    /// Wraps a store that needs nothing kept alive beside it.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_guard(store, ())
    }

    /// Wraps a store and a value, such as a temporary directory, that is
    /// dropped only after the store.
    pub fn with_guard(store: Arc<dyn Store>, guard: impl Any + Send) -> Self {
        Self {
            store,
            _guard: Box::new(guard),
        }
    }

    /// Returns the store.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }
}

impl fmt::Debug for TestStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// A value that a conformance factory may return. `None` skips the case.
pub trait IntoTestStore {
    /// Converts the factory's output into a store under test.
    fn into_test_store(self) -> Option<TestStore>;
}

impl IntoTestStore for TestStore {
    fn into_test_store(self) -> Option<TestStore> {
        Some(self)
    }
}

impl IntoTestStore for Arc<dyn Store> {
    fn into_test_store(self) -> Option<TestStore> {
        Some(TestStore::new(self))
    }
}

impl<T: IntoTestStore> IntoTestStore for Option<T> {
    fn into_test_store(self) -> Option<TestStore> {
        self.and_then(IntoTestStore::into_test_store)
    }
}

/// Expands into one `#[tokio::test]` per conformance case, each on a fresh
/// store from the factory expression. See the [`conformance`](crate::conformance)
/// module for what the factory may return.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::__store_conformance_cases!(
            $factory;
            record_new_event,
            duplicate_with_same_body,
            conflict_with_different_body,
            quarantined_event_gets_no_deliveries,
            concurrent_records_of_one_key,
            claim_marks_in_flight,
            claim_respects_due_time_and_limit,
            concurrent_claimers_never_share,
            expired_lease_is_reclaimed_with_reconcile,
            stale_lease_token_changes_nothing,
            complete_of_unknown_delivery_fails,
            success_is_final,
            adoption_is_recorded,
            retry_schedules_next_attempt,
            maybe_created_sets_reconcile,
            dead_letter_is_never_claimed,
            replay_event_revives_dead_deliveries,
            replay_event_accepts_quarantined_event,
            replay_event_of_missing_event,
            replay_delivery_revives_only_dead,
            delivery_counts_by_status,
            list_events_filters_and_pages,
            list_deliveries_filters_and_pages,
            get_event_of_missing_event,
            next_due_at_tracks_due_times_and_leases,
            ping_succeeds,
            bodies_round_trip_exactly,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    ($factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $crate::conformance::IntoTestStore::into_test_store($factory.await);
                let Some(fixture) = fixture else {
                    return;
                };
                $crate::conformance::$case(fixture.store()).await;
            }
        )+
    };
}

// ---------------------------------------------------------------------------
// Helpers

fn store_id(text: &str) -> StoreId {
    StoreId::new(text).expect("test store ids are valid")
}

fn target(text: &str) -> TargetId {
    TargetId::new(text).expect("test target ids are valid")
}

fn targets(texts: &[&str]) -> Vec<TargetId> {
    texts.iter().map(|text| target(text)).collect()
}

/// Returns the current time, truncated to the microseconds that backends keep.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn sha256(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// Builds an accepted event with the given key and body.
fn event(store: &str, key: &str, body: &[u8], target_ids: &[&str]) -> NewEvent {
    NewEvent {
        store_id: store_id(store),
        key: key.to_owned(),
        event_type: "order.created".to_owned(),
        order_id: None,
        body: body.to_vec(),
        body_sha256: sha256(body),
        received_at: now(),
        occurred_at: None,
        status: EventStatus::Accepted,
        targets: targets(target_ids),
    }
}

/// Builds an accepted `order.created` event for `order_id`.
fn order_event(store: &str, order_id: u64, target_ids: &[&str]) -> NewEvent {
    let body = format!(
        r#"{{"event":"order.created","data":{{"order_id":{order_id},"financials":{{"total_amount":250.00,"currency":"USD"}}}}}}"#
    );
    NewEvent {
        order_id: Some(order_id),
        occurred_at: Some(now() - Duration::seconds(5)),
        ..event(
            store,
            &format!("order:{order_id}"),
            body.as_bytes(),
            target_ids,
        )
    }
}

fn quarantined(mut event: NewEvent) -> NewEvent {
    event.status = EventStatus::Quarantined {
        reason: ReasonCode::TotalMismatch,
        detail: "data.financials.total_amount differs from the sum of line totals".to_owned(),
    };
    event
}

/// Records an event that must be new, returning its id.
async fn record(store: &Arc<dyn Store>, event: NewEvent) -> EventId {
    match store.record_event(event).await {
        Ok(RecordOutcome::Recorded { event_id, .. }) => event_id,
        other => panic!("expected a new event, got {other:?}"),
    }
}

fn claim_request(now: DateTime<Utc>, limit: usize) -> ClaimRequest {
    ClaimRequest {
        worker: "conformance-worker".to_owned(),
        now,
        lease: StdDuration::from_secs(30),
        limit,
    }
}

async fn claim(store: &Arc<dyn Store>, at: DateTime<Utc>, limit: usize) -> Vec<ClaimedDelivery> {
    store
        .claim_due(claim_request(at, limit))
        .await
        .expect("claiming due deliveries")
}

/// Claims exactly one delivery due at `at`.
async fn claim_one(store: &Arc<dyn Store>, at: DateTime<Utc>) -> ClaimedDelivery {
    let mut claimed = claim(store, at, 10).await;
    assert_eq!(
        claimed.len(),
        1,
        "expected one claimed delivery: {claimed:?}"
    );
    claimed.remove(0)
}

fn lease(claimed: &ClaimedDelivery) -> Lease {
    Lease {
        delivery_id: claimed.delivery_id,
        token: claimed.lease_token.clone(),
    }
}

fn succeeded(remote_id: &str) -> AttemptOutcome {
    AttemptOutcome::Succeeded {
        remote_id: Some(remote_id.to_owned()),
        note: None,
        adopted: false,
    }
}

fn retry_at(next_attempt_at: DateTime<Utc>, maybe_created: bool) -> AttemptOutcome {
    AttemptOutcome::Retry {
        reason: ReasonCode::RemoteUnavailable,
        message: "target returned HTTP 503".to_owned(),
        next_attempt_at,
        maybe_created,
    }
}

fn dead() -> AttemptOutcome {
    AttemptOutcome::Dead {
        reason: ReasonCode::SkuNotFound,
        message: "sku PROD-Z matched no product".to_owned(),
    }
}

async fn complete(store: &Arc<dyn Store>, claimed: &ClaimedDelivery, outcome: AttemptOutcome) {
    store
        .complete(&lease(claimed), outcome)
        .await
        .expect("completing a delivery under its lease");
}

/// Reads one delivery through the listing.
async fn delivery(store: &Arc<dyn Store>, id: DeliveryId) -> DeliveryRecord {
    let filter = DeliveryFilter {
        before_id: Some(id + 1),
        limit: 1,
        ..DeliveryFilter::default()
    };
    let mut found = store
        .list_deliveries(filter)
        .await
        .expect("listing deliveries");
    assert_eq!(
        found.first().map(|record| record.id),
        Some(id),
        "delivery {id} not listed"
    );
    found.remove(0)
}

async fn event_record(store: &Arc<dyn Store>, id: EventId) -> EventRecord {
    store
        .get_event(id)
        .await
        .expect("reading an event")
        .unwrap_or_else(|| panic!("event {id} not found"))
}

fn all_deliveries(limit: usize) -> DeliveryFilter {
    DeliveryFilter {
        limit,
        ..DeliveryFilter::default()
    }
}

// ---------------------------------------------------------------------------
// Recording events

/// Checks that a new accepted event is stored as given, with one pending
/// delivery per target.
pub async fn record_new_event(store: Arc<dyn Store>) {
    let event = order_event("acme", 5542, &["acme-woo", "acme-erp"]);
    let before = now();

    let outcome = store.record_event(event.clone()).await.unwrap();

    let RecordOutcome::Recorded {
        event_id,
        deliveries,
    } = outcome
    else {
        panic!("expected a new event, got {outcome:?}");
    };
    assert_eq!(deliveries, 2);
    let record = event_record(&store, event_id).await;
    assert_eq!(record.summary.id, event_id);
    assert_eq!(record.summary.store_id, event.store_id);
    assert_eq!(record.summary.key, "order:5542");
    assert_eq!(record.summary.event_type, "order.created");
    assert_eq!(record.summary.order_id, Some(5542));
    assert_eq!(record.summary.received_at, event.received_at);
    assert_eq!(record.summary.status, EventStatus::Accepted);
    assert_eq!(record.summary.body_sha256, hex::encode(event.body_sha256));
    assert_eq!(record.summary.conflicts, 0);
    assert_eq!(record.body, event.body);
    assert_eq!(record.occurred_at, event.occurred_at);
    assert!(record.conflicts.is_empty());

    let delivered_targets: HashSet<TargetId> = record
        .deliveries
        .iter()
        .map(|delivery| delivery.target_id.clone())
        .collect();
    assert_eq!(
        delivered_targets,
        targets(&["acme-woo", "acme-erp"]).into_iter().collect()
    );
    for delivery in &record.deliveries {
        assert_eq!(delivery.event_id, event_id);
        assert_eq!(delivery.store_id, event.store_id);
        assert_eq!(delivery.status, DeliveryStatus::Pending);
        assert_eq!(delivery.attempts, 0);
        let due = delivery
            .next_attempt_at
            .expect("a pending delivery has a due time");
        assert!(due <= now(), "a new delivery is due at once, got {due}");
        assert!(delivery.created_at >= before - Duration::seconds(1));
        assert_eq!(delivery.last_reason, None);
        assert_eq!(delivery.remote_id, None);
    }
}

/// Checks that the same key with the same body is a duplicate and creates
/// nothing.
pub async fn duplicate_with_same_body(store: Arc<dyn Store>) {
    let event = order_event("acme", 7, &["acme-woo", "acme-erp"]);
    let event_id = record(&store, event.clone()).await;

    let again = store.record_event(event.clone()).await.unwrap();

    assert_eq!(again, RecordOutcome::Duplicate { event_id });
    let events = store
        .list_events(EventFilter {
            limit: 10,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        store
            .list_deliveries(all_deliveries(10))
            .await
            .unwrap()
            .len(),
        2
    );
}

/// Checks that the same key with another body is a conflict: the first event
/// stays and each distinct conflicting body is kept once.
pub async fn conflict_with_different_body(store: Arc<dyn Store>) {
    let first = order_event("acme", 8, &["acme-woo"]);
    let event_id = record(&store, first.clone()).await;
    let second = event(
        "acme",
        "order:8",
        br#"{"event":"order.created","total":1}"#,
        &["acme-woo"],
    );
    let third = event(
        "acme",
        "order:8",
        br#"{"event":"order.created","total":2}"#,
        &["acme-woo"],
    );

    let conflict = store.record_event(second.clone()).await.unwrap();
    let repeated = store.record_event(second.clone()).await.unwrap();
    let other = store.record_event(third.clone()).await.unwrap();

    let RecordOutcome::Conflict {
        event_id: conflict_event,
        conflict_id,
    } = conflict
    else {
        panic!("expected a conflict, got {conflict:?}");
    };
    assert_eq!(conflict_event, event_id);
    assert_eq!(
        repeated,
        RecordOutcome::Conflict {
            event_id,
            conflict_id
        },
        "a repeated conflicting body is stored once"
    );
    let RecordOutcome::Conflict {
        event_id: other_event,
        conflict_id: other_conflict,
    } = other
    else {
        panic!("expected a conflict, got {other:?}");
    };
    assert_eq!(other_event, event_id);
    assert_ne!(other_conflict, conflict_id);

    let record = event_record(&store, event_id).await;
    assert_eq!(record.body, first.body, "the first body is kept");
    assert_eq!(record.summary.conflicts, 2);
    assert_eq!(record.conflicts.len(), 2);
    assert_eq!(record.conflicts[0].id, conflict_id);
    assert_eq!(record.conflicts[0].body, second.body);
    assert_eq!(
        record.conflicts[0].body_sha256,
        hex::encode(second.body_sha256)
    );
    assert_eq!(record.conflicts[0].received_at, second.received_at);
    assert_eq!(record.conflicts[1].id, other_conflict);
    assert_eq!(record.conflicts[1].body, third.body);
    assert_eq!(record.deliveries.len(), 1, "a conflict creates no delivery");
}

/// Checks that a quarantined event is stored with its reason and gets no
/// deliveries, even when targets are passed.
pub async fn quarantined_event_gets_no_deliveries(store: Arc<dyn Store>) {
    let event = quarantined(order_event("acme", 9, &["acme-woo"]));

    let outcome = store.record_event(event.clone()).await.unwrap();

    let RecordOutcome::Recorded {
        event_id,
        deliveries,
    } = outcome
    else {
        panic!("expected a new event, got {outcome:?}");
    };
    assert_eq!(deliveries, 0);
    let record = event_record(&store, event_id).await;
    assert_eq!(record.summary.status, event.status);
    assert!(record.deliveries.is_empty());
    assert!(claim(&store, now() + Duration::hours(1), 10)
        .await
        .is_empty());
    assert_eq!(
        store.record_event(event).await.unwrap(),
        RecordOutcome::Duplicate { event_id }
    );
}

/// Checks that fifty tasks recording one key at once create one event and one
/// set of deliveries, and every other task gets a duplicate of that event.
pub async fn concurrent_records_of_one_key(store: Arc<dyn Store>) {
    let event = order_event("acme", 10, &["acme-woo", "acme-erp"]);

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = Arc::clone(&store);
            let event = event.clone();
            tokio::spawn(async move { store.record_event(event).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task ran").expect("recording succeeded"));
    }

    let recorded: Vec<_> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            RecordOutcome::Recorded {
                event_id,
                deliveries,
            } => Some((*event_id, *deliveries)),
            _ => None,
        })
        .collect();
    assert_eq!(recorded.len(), 1, "{outcomes:?}");
    let (event_id, deliveries) = recorded[0];
    assert_eq!(deliveries, 2);
    let duplicates = outcomes
        .iter()
        .filter(|outcome| **outcome == RecordOutcome::Duplicate { event_id })
        .count();
    assert_eq!(duplicates, 49, "{outcomes:?}");
    assert_eq!(
        store
            .list_deliveries(all_deliveries(100))
            .await
            .unwrap()
            .len(),
        2
    );
}

// ---------------------------------------------------------------------------
// Claims and leases

/// Checks that a claim returns what the worker needs, marks the delivery in
/// flight and counts the attempt, and that a leased delivery is not claimed
/// again.
pub async fn claim_marks_in_flight(store: Arc<dyn Store>) {
    let event = order_event("acme", 11, &["acme-woo"]);
    let event_id = record(&store, event.clone()).await;

    let claimed = claim_one(&store, now() + Duration::seconds(1)).await;

    assert_eq!(claimed.event_id, event_id);
    assert_eq!(claimed.store_id, event.store_id);
    assert_eq!(claimed.target_id, target("acme-woo"));
    assert_eq!(claimed.event_type, "order.created");
    assert_eq!(claimed.body, event.body);
    assert_eq!(claimed.received_at, event.received_at);
    assert_eq!(claimed.attempt, 1);
    assert!(!claimed.reconcile);
    assert!(!claimed.lease_token.is_empty());
    let record = delivery(&store, claimed.delivery_id).await;
    assert_eq!(record.status, DeliveryStatus::InFlight);
    assert_eq!(record.attempts, 1);
    assert_eq!(record.next_attempt_at, None);
    assert_eq!(claimed.created_at, record.created_at);
    assert!(
        claim(&store, now() + Duration::seconds(2), 10)
            .await
            .is_empty(),
        "a leased delivery is not claimed again"
    );
}

/// Checks that only deliveries due at the claim's time are claimed, at most
/// `limit`.
pub async fn claim_respects_due_time_and_limit(store: Arc<dyn Store>) {
    let before = now() - Duration::minutes(1);
    for order_id in 1..=3 {
        record(&store, order_event("acme", order_id, &["acme-woo"])).await;
    }
    let later = now() + Duration::seconds(1);

    let too_early = claim(&store, before, 10).await;
    let first = claim(&store, later, 2).await;
    let second = claim(&store, later, 2).await;
    let third = claim(&store, later, 2).await;

    assert!(too_early.is_empty(), "{too_early:?}");
    assert_eq!(first.len(), 2);
    assert_eq!(second.len(), 1);
    assert!(third.is_empty());
    let ids: HashSet<DeliveryId> = first
        .iter()
        .chain(&second)
        .map(|claimed| claimed.delivery_id)
        .collect();
    assert_eq!(ids.len(), 3);
}

/// Checks that claimers running at once never receive the same delivery.
pub async fn concurrent_claimers_never_share(store: Arc<dyn Store>) {
    for order_id in 1..=10 {
        record(
            &store,
            order_event("acme", order_id, &["acme-woo", "acme-erp", "acme-file"]),
        )
        .await;
    }
    let at = now() + Duration::seconds(1);

    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let claimed = claim(&store, at, 2).await;
                    if claimed.is_empty() {
                        return ids;
                    }
                    ids.extend(claimed.iter().map(|claimed| claimed.delivery_id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("claimer ran"));
    }

    let distinct: HashSet<DeliveryId> = all.iter().copied().collect();
    assert_eq!(all.len(), 30, "every delivery claimed once: {all:?}");
    assert_eq!(distinct.len(), 30, "no delivery claimed twice: {all:?}");
}

/// Checks that a delivery whose lease expired is claimed again, with
/// `reconcile` set, and the old lease can no longer record an outcome.
pub async fn expired_lease_is_reclaimed_with_reconcile(store: Arc<dyn Store>) {
    record(&store, order_event("acme", 12, &["acme-woo"])).await;
    let start = now() + Duration::seconds(1);
    let first = claim_one(&store, start).await;

    let during_lease = claim(&store, start + Duration::seconds(10), 10).await;
    let second = claim_one(&store, start + Duration::seconds(31)).await;

    assert!(during_lease.is_empty(), "{during_lease:?}");
    assert_eq!(second.delivery_id, first.delivery_id);
    assert_eq!(second.attempt, 2);
    assert!(
        second.reconcile,
        "an expired lease means the attempt may have reached the platform"
    );
    assert_ne!(second.lease_token, first.lease_token);
    let stale = store.complete(&lease(&first), succeeded("wc-1")).await;
    assert!(
        matches!(stale, Err(StoreError::LeaseLost { delivery_id }) if delivery_id == first.delivery_id),
        "{stale:?}"
    );
    complete(&store, &second, succeeded("wc-1")).await;
    assert_eq!(
        delivery(&store, first.delivery_id).await.status,
        DeliveryStatus::Succeeded
    );
}

/// Checks that completing with a token that does not hold the lease fails and
/// changes nothing, and that a finished lease cannot complete twice.
pub async fn stale_lease_token_changes_nothing(store: Arc<dyn Store>) {
    record(&store, order_event("acme", 13, &["acme-woo"])).await;
    let claimed = claim_one(&store, now() + Duration::seconds(1)).await;
    let stale = Lease {
        delivery_id: claimed.delivery_id,
        token: "not-the-lease-token".to_owned(),
    };

    let result = store.complete(&stale, succeeded("wc-2")).await;

    assert!(
        matches!(result, Err(StoreError::LeaseLost { delivery_id }) if delivery_id == claimed.delivery_id),
        "{result:?}"
    );
    let record = delivery(&store, claimed.delivery_id).await;
    assert_eq!(record.status, DeliveryStatus::InFlight);
    assert_eq!(record.attempts, 1);
    assert_eq!(record.remote_id, None);
    assert!(store
        .list_attempts(claimed.delivery_id)
        .await
        .unwrap()
        .is_empty());

    complete(&store, &claimed, dead()).await;
    let twice = store.complete(&lease(&claimed), succeeded("wc-2")).await;
    assert!(
        matches!(twice, Err(StoreError::LeaseLost { .. })),
        "{twice:?}"
    );
    assert_eq!(
        delivery(&store, claimed.delivery_id).await.status,
        DeliveryStatus::Dead
    );
}

/// Checks that completing a delivery that does not exist fails.
pub async fn complete_of_unknown_delivery_fails(store: Arc<dyn Store>) {
    let unknown = Lease {
        delivery_id: 987_654,
        token: "any".to_owned(),
    };

    let result = store.complete(&unknown, succeeded("wc-3")).await;

    assert!(
        matches!(
            result,
            Err(StoreError::NotFound {
                what: "delivery",
                id: 987_654
            } | StoreError::LeaseLost {
                delivery_id: 987_654
            })
        ),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------
// Outcomes

/// Checks that a success records the platform's id and note, and is never
/// claimed again.
pub async fn success_is_final(store: Arc<dyn Store>) {
    record(&store, order_event("acme", 14, &["acme-woo"])).await;
    let claimed = claim_one(&store, now() + Duration::seconds(1)).await;

    let outcome = AttemptOutcome::Succeeded {
        remote_id: Some("wc-981".to_owned()),
        note: Some("the platform recalculated the total to 251.00".to_owned()),
        adopted: false,
    };
    complete(&store, &claimed, outcome).await;

    let record = delivery(&store, claimed.delivery_id).await;
    assert_eq!(record.status, DeliveryStatus::Succeeded);
    assert_eq!(record.remote_id.as_deref(), Some("wc-981"));
    assert_eq!(
        record.note.as_deref(),
        Some("the platform recalculated the total to 251.00")
    );
    assert_eq!(record.next_attempt_at, None);
    let attempts = store.list_attempts(claimed.delivery_id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].delivery_id, claimed.delivery_id);
    assert_eq!(attempts[0].attempt, 1);
    assert_eq!(attempts[0].outcome, "succeeded");
    assert_eq!(attempts[0].remote_id.as_deref(), Some("wc-981"));
    assert_eq!(attempts[0].reason, None);
    assert!(claim(&store, now() + Duration::days(30), 10)
        .await
        .is_empty());
    assert_eq!(store.next_due_at().await.unwrap(), None);
}

/// Checks that an adopted order is recorded as an `adopted` attempt.
pub async fn adoption_is_recorded(store: Arc<dyn Store>) {
    record(&store, order_event("acme", 15, &["acme-woo"])).await;
    let claimed = claim_one(&store, now() + Duration::seconds(1)).await;

    let outcome = AttemptOutcome::Succeeded {
        remote_id: Some("wc-982".to_owned()),
        note: None,
        adopted: true,
    };
    complete(&store, &claimed, outcome).await;

    let attempts = store.list_attempts(claimed.delivery_id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, "adopted");
    assert_eq!(attempts[0].remote_id.as_deref(), Some("wc-982"));
    let record = delivery(&store, claimed.delivery_id).await;
    assert_eq!(record.status, DeliveryStatus::Succeeded);
    assert_eq!(record.remote_id.as_deref(), Some("wc-982"));
}

/// Checks that a retry makes the delivery pending until `next_attempt_at`,
/// keeps the failure for the operator, and lists attempts oldest first.
pub async fn retry_schedules_next_attempt(store: Arc<dyn Store>) {
    record(&store, order_event("acme", 16, &["acme-woo"])).await;
    let start = now() + Duration::seconds(1);
    let first = claim_one(&store, start).await;
    let retry_time = start + Duration::seconds(60);

    complete(&store, &first, retry_at(retry_time, false)).await;

    let record = delivery(&store, first.delivery_id).await;
    assert_eq!(record.status, DeliveryStatus::Pending);
    assert_eq!(record.next_attempt_at, Some(retry_time));
    assert_eq!(record.attempts, 1);
    assert_eq!(record.last_reason, Some(ReasonCode::RemoteUnavailable));
    assert_eq!(
        record.last_error.as_deref(),
        Some("target returned HTTP 503")
    );
    assert!(claim(&store, retry_time - Duration::seconds(1), 10)
        .await
        .is_empty());
    let second = claim_one(&store, retry_time).await;
    assert_eq!(second.delivery_id, first.delivery_id);
    assert_eq!(second.attempt, 2);
    assert!(!second.reconcile);

    complete(
        &store,
        &second,
        retry_at(retry_time + Duration::seconds(60), false),
    )
    .await;
    let attempts = store.list_attempts(first.delivery_id).await.unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|attempt| attempt.attempt)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
    for attempt in &attempts {
        assert_eq!(attempt.outcome, "retry");
        assert_eq!(attempt.reason, Some(ReasonCode::RemoteUnavailable));
        assert_eq!(attempt.message.as_deref(), Some("target returned HTTP 503"));
    }
    assert!(attempts[0].finished_at <= attempts[1].finished_at);
}

/// Checks that a retry that may have reached the platform makes every later
/// claim reconcile first, because that earlier attempt may have created the
/// order.
pub async fn maybe_created_sets_reconcile(store: Arc<dyn Store>) {
    record(&store, order_event("acme", 17, &["acme-woo"])).await;
    let start = now() + Duration::seconds(1);
    let first = claim_one(&store, start).await;

    complete(&store, &first, retry_at(start, true)).await;
    let second = claim_one(&store, start).await;
    complete(&store, &second, retry_at(start, false)).await;
    let third = claim_one(&store, start).await;

    assert!(!first.reconcile);
    assert!(second.reconcile);
    assert_eq!(second.attempt, 2);
    assert!(
        third.reconcile,
        "the second attempt does not undo what the first may have done"
    );
    assert_eq!(third.attempt, 3);
}

/// Checks that a dead delivery keeps its reason and is never claimed again.
pub async fn dead_letter_is_never_claimed(store: Arc<dyn Store>) {
    record(&store, order_event("acme", 18, &["acme-woo"])).await;
    let claimed = claim_one(&store, now() + Duration::seconds(1)).await;

    complete(&store, &claimed, dead()).await;

    let record = delivery(&store, claimed.delivery_id).await;
    assert_eq!(record.status, DeliveryStatus::Dead);
    assert_eq!(record.last_reason, Some(ReasonCode::SkuNotFound));
    assert_eq!(
        record.last_error.as_deref(),
        Some("sku PROD-Z matched no product")
    );
    assert_eq!(record.next_attempt_at, None);
    let attempts = store.list_attempts(claimed.delivery_id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, "dead");
    assert_eq!(attempts[0].reason, Some(ReasonCode::SkuNotFound));
    assert!(claim(&store, now() + Duration::days(30), 10)
        .await
        .is_empty());
    assert_eq!(store.next_due_at().await.unwrap(), None);
    assert_eq!(store.delivery_counts().await.unwrap().dead, 1);
}

// ---------------------------------------------------------------------------
// Replay

/// Checks that replaying an event revives its dead deliveries (keeping their
/// history and reconcile flag), adds missing targets, and leaves succeeded
/// and pending deliveries alone.
pub async fn replay_event_revives_dead_deliveries(store: Arc<dyn Store>) {
    let event_id = record(
        &store,
        order_event("acme", 19, &["acme-woo", "acme-erp", "acme-file"]),
    )
    .await;
    let start = now() + Duration::seconds(1);
    let claimed = claim(&store, start, 10).await;
    assert_eq!(claimed.len(), 3);
    let by_target = |name: &str| {
        claimed
            .iter()
            .find(|claimed| claimed.target_id == target(name))
            .cloned()
            .unwrap_or_else(|| panic!("no delivery for {name}"))
    };
    let (woo, erp, file) = (
        by_target("acme-woo"),
        by_target("acme-erp"),
        by_target("acme-file"),
    );
    complete(&store, &woo, succeeded("wc-5")).await;
    complete(&store, &erp, retry_at(start, true)).await;
    let erp = claim_one(&store, start).await;
    complete(&store, &erp, dead()).await;
    let file_retry = start + Duration::hours(1);
    complete(&store, &file, retry_at(file_retry, false)).await;

    let replayed = store
        .replay_event(
            event_id,
            &targets(&["acme-woo", "acme-erp", "acme-file", "acme-new"]),
        )
        .await
        .unwrap();

    assert_eq!(replayed.revived, vec![erp.delivery_id]);
    assert_eq!(replayed.created.len(), 1);
    let revived = delivery(&store, erp.delivery_id).await;
    assert_eq!(revived.status, DeliveryStatus::Pending);
    assert_eq!(revived.attempts, 2, "attempt count is kept");
    assert!(revived.next_attempt_at.expect("pending has a due time") <= now());
    assert_eq!(store.list_attempts(erp.delivery_id).await.unwrap().len(), 2);
    let created = delivery(&store, replayed.created[0]).await;
    assert_eq!(created.target_id, target("acme-new"));
    assert_eq!(created.status, DeliveryStatus::Pending);
    assert_eq!(created.attempts, 0);
    let woo_after = delivery(&store, woo.delivery_id).await;
    assert_eq!(woo_after.status, DeliveryStatus::Succeeded);
    assert_eq!(woo_after.remote_id.as_deref(), Some("wc-5"));
    let file_after = delivery(&store, file.delivery_id).await;
    assert_eq!(file_after.status, DeliveryStatus::Pending);
    assert_eq!(file_after.next_attempt_at, Some(file_retry));

    let reclaimed = claim(&store, now() + Duration::seconds(1), 10).await;
    let erp_again = reclaimed
        .iter()
        .find(|claimed| claimed.delivery_id == erp.delivery_id)
        .expect("the revived delivery is due now");
    assert!(erp_again.reconcile, "the reconcile flag survives a replay");
    assert_eq!(erp_again.attempt, 3);
    assert_eq!(erp_again.attempts_before_replay, 2);
    assert_eq!(erp_again.attempt_in_budget(), 1);
    assert!(
        erp_again.replayed_at.is_some_and(|at| at > erp.created_at),
        "a replay restarts the age budget: {erp_again:?}"
    );
    assert_eq!(
        reclaimed.len(),
        2,
        "the revived and the new delivery: {reclaimed:?}"
    );

    let again = store
        .replay_event(event_id, &targets(&["acme-new"]))
        .await
        .unwrap();
    assert_eq!(
        again,
        ReplayOutcome {
            revived: vec![],
            created: vec![]
        }
    );
}

/// Checks that replaying a quarantined event accepts it and creates its
/// deliveries.
pub async fn replay_event_accepts_quarantined_event(store: Arc<dyn Store>) {
    let event_id = record(&store, quarantined(order_event("acme", 20, &[]))).await;

    let replayed = store
        .replay_event(event_id, &targets(&["acme-woo", "acme-erp"]))
        .await
        .unwrap();

    assert!(replayed.revived.is_empty());
    assert_eq!(replayed.created.len(), 2);
    let record = event_record(&store, event_id).await;
    assert_eq!(record.summary.status, EventStatus::Accepted);
    assert_eq!(record.deliveries.len(), 2);
    assert!(record
        .deliveries
        .iter()
        .all(|delivery| delivery.status == DeliveryStatus::Pending));
    assert_eq!(
        claim(&store, now() + Duration::seconds(1), 10).await.len(),
        2
    );
}

/// Checks that replaying an event that does not exist fails with `NotFound`.
pub async fn replay_event_of_missing_event(store: Arc<dyn Store>) {
    let result = store.replay_event(424_242, &targets(&["acme-woo"])).await;

    assert!(
        matches!(
            result,
            Err(StoreError::NotFound {
                what: "event",
                id: 424_242
            })
        ),
        "{result:?}"
    );
}

/// Checks that replaying a delivery revives a dead one and refuses any other
/// state.
pub async fn replay_delivery_revives_only_dead(store: Arc<dyn Store>) {
    record(&store, order_event("acme", 21, &["acme-woo", "acme-erp"])).await;
    let claimed = claim(&store, now() + Duration::seconds(1), 10).await;
    assert_eq!(claimed.len(), 2);
    let (dead_one, done) = (&claimed[0], &claimed[1]);
    complete(&store, dead_one, dead()).await;
    complete(&store, done, succeeded("wc-6")).await;

    store.replay_delivery(dead_one.delivery_id).await.unwrap();

    let revived = delivery(&store, dead_one.delivery_id).await;
    assert_eq!(revived.status, DeliveryStatus::Pending);
    assert_eq!(revived.attempts, 1);
    let pending = store.replay_delivery(dead_one.delivery_id).await;
    assert!(
        matches!(pending, Err(StoreError::InvalidState(_))),
        "{pending:?}"
    );
    let succeeded = store.replay_delivery(done.delivery_id).await;
    assert!(
        matches!(succeeded, Err(StoreError::InvalidState(_))),
        "{succeeded:?}"
    );
    assert_eq!(
        delivery(&store, done.delivery_id).await.status,
        DeliveryStatus::Succeeded
    );
    let missing = store.replay_delivery(515_151).await;
    assert!(
        matches!(
            missing,
            Err(StoreError::NotFound {
                what: "delivery",
                id: 515_151
            })
        ),
        "{missing:?}"
    );
    let again = claim_one(&store, now() + Duration::seconds(1)).await;
    assert_eq!(again.delivery_id, dead_one.delivery_id);
    assert_eq!(again.attempt, 2);
    assert_eq!(again.attempt_in_budget(), 1);
    assert!(again.replayed_at.is_some(), "{again:?}");
    assert!(
        again.reconcile,
        "a delivery attempted before looks for an existing order after a replay"
    );
}

// ---------------------------------------------------------------------------
// Reads

/// Checks that deliveries are counted by status.
pub async fn delivery_counts_by_status(store: Arc<dyn Store>) {
    assert_eq!(
        store.delivery_counts().await.unwrap(),
        DeliveryCounts::default()
    );
    record(
        &store,
        order_event("acme", 22, &["acme-a", "acme-b", "acme-c", "acme-d"]),
    )
    .await;
    let claimed = claim(&store, now() + Duration::seconds(1), 3).await;
    assert_eq!(claimed.len(), 3);

    complete(&store, &claimed[0], succeeded("wc-7")).await;
    complete(&store, &claimed[1], dead()).await;

    assert_eq!(
        store.delivery_counts().await.unwrap(),
        DeliveryCounts {
            pending: 1,
            in_flight: 1,
            succeeded: 1,
            dead: 1,
        }
    );
}

/// Checks that events are listed newest first, filtered by store, status and
/// order id, and paged with `before_id`.
pub async fn list_events_filters_and_pages(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for order_id in 1..=3 {
        ids.push(record(&store, order_event("acme", order_id, &["acme-woo"])).await);
    }
    ids.push(record(&store, quarantined(order_event("acme", 4, &[]))).await);
    ids.push(record(&store, order_event("globex", 5, &["globex-shop"])).await);
    let listed = |filter: EventFilter| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_events(filter)
                .await
                .expect("listing events")
                .into_iter()
                .map(|event| event.id)
                .collect::<Vec<_>>()
        }
    };
    let newest_first: Vec<EventId> = ids.iter().rev().copied().collect();

    let all = listed(EventFilter {
        limit: 10,
        ..EventFilter::default()
    })
    .await;
    let acme = listed(EventFilter {
        store_id: Some(store_id("acme")),
        limit: 10,
        ..EventFilter::default()
    })
    .await;
    let quarantined_only = listed(EventFilter {
        status: Some("quarantined"),
        limit: 10,
        ..EventFilter::default()
    })
    .await;
    let accepted_only = listed(EventFilter {
        status: Some("accepted"),
        limit: 10,
        ..EventFilter::default()
    })
    .await;
    let by_order = listed(EventFilter {
        order_id: Some(2),
        limit: 10,
        ..EventFilter::default()
    })
    .await;

    assert_eq!(all, newest_first);
    assert_eq!(acme, newest_first[1..].to_vec());
    assert_eq!(quarantined_only, vec![ids[3]]);
    assert_eq!(accepted_only, vec![ids[4], ids[2], ids[1], ids[0]]);
    assert_eq!(by_order, vec![ids[1]]);

    let mut pages = Vec::new();
    let mut before_id = None;
    loop {
        let page = listed(EventFilter {
            before_id,
            limit: 2,
            ..EventFilter::default()
        })
        .await;
        let Some(last) = page.last().copied() else {
            break;
        };
        assert!(page.len() <= 2);
        pages.extend(page);
        before_id = Some(last);
    }
    assert_eq!(pages, newest_first);

    let summaries = store
        .list_events(EventFilter {
            status: Some("quarantined"),
            limit: 1,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        summaries[0].status,
        EventStatus::Quarantined {
            reason: ReasonCode::TotalMismatch,
            detail: "data.financials.total_amount differs from the sum of line totals".to_owned(),
        }
    );
    assert_eq!(summaries[0].order_id, Some(4));
}

/// Checks that deliveries are listed newest first, filtered by store, target
/// and status, and paged with `before_id`.
pub async fn list_deliveries_filters_and_pages(store: Arc<dyn Store>) {
    record(&store, order_event("acme", 1, &["acme-woo", "acme-erp"])).await;
    record(&store, order_event("globex", 2, &["globex-shop"])).await;
    let claimed = claim(&store, now() + Duration::seconds(1), 1).await;
    assert_eq!(claimed.len(), 1);
    let listed = |filter: DeliveryFilter| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_deliveries(filter)
                .await
                .expect("listing deliveries")
        }
    };

    let all = listed(all_deliveries(10)).await;
    let globex = listed(DeliveryFilter {
        store_id: Some(store_id("globex")),
        limit: 10,
        ..DeliveryFilter::default()
    })
    .await;
    let erp = listed(DeliveryFilter {
        target_id: Some(target("acme-erp")),
        limit: 10,
        ..DeliveryFilter::default()
    })
    .await;
    let in_flight = listed(DeliveryFilter {
        status: Some(DeliveryStatus::InFlight),
        limit: 10,
        ..DeliveryFilter::default()
    })
    .await;
    let pending = listed(DeliveryFilter {
        status: Some(DeliveryStatus::Pending),
        limit: 10,
        ..DeliveryFilter::default()
    })
    .await;

    let ids: Vec<DeliveryId> = all.iter().map(|record| record.id).collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first: {ids:?}"
    );
    assert_eq!(globex.len(), 1);
    assert_eq!(globex[0].target_id, target("globex-shop"));
    assert_eq!(erp.len(), 1);
    assert_eq!(erp[0].store_id, store_id("acme"));
    assert_eq!(in_flight.len(), 1);
    assert_eq!(in_flight[0].id, claimed[0].delivery_id);
    assert_eq!(pending.len(), 2);

    let first_page = listed(all_deliveries(2)).await;
    let second_page = listed(DeliveryFilter {
        before_id: first_page.last().map(|record| record.id),
        limit: 2,
        ..DeliveryFilter::default()
    })
    .await;
    let paged: Vec<DeliveryId> = first_page
        .iter()
        .chain(&second_page)
        .map(|record| record.id)
        .collect();
    assert_eq!(paged, ids);
}

/// Checks that reading an event that does not exist returns `None`.
pub async fn get_event_of_missing_event(store: Arc<dyn Store>) {
    assert!(store.get_event(123_456).await.unwrap().is_none());
    assert!(store.list_attempts(123_456).await.unwrap().is_empty());
}

/// Checks that `next_due_at` is the earliest pending due time or lease
/// expiry.
pub async fn next_due_at_tracks_due_times_and_leases(store: Arc<dyn Store>) {
    assert_eq!(store.next_due_at().await.unwrap(), None);
    record(&store, order_event("acme", 23, &["acme-woo"])).await;

    let due = store
        .next_due_at()
        .await
        .unwrap()
        .expect("a pending delivery is due");
    assert!(due <= now(), "a new delivery is due at once, got {due}");

    let start = now() + Duration::seconds(1);
    let claimed = claim_one(&store, start).await;
    assert_eq!(
        store.next_due_at().await.unwrap(),
        Some(start + Duration::seconds(30)),
        "the lease expiry"
    );

    let retry_time = start + Duration::minutes(10);
    complete(&store, &claimed, retry_at(retry_time, false)).await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(retry_time));

    record(&store, order_event("acme", 24, &["acme-woo"])).await;
    let due = store
        .next_due_at()
        .await
        .unwrap()
        .expect("a delivery is due");
    assert!(due <= now(), "the new delivery comes first, got {due}");
}

/// Checks that a working store succeeds at `ping`.
pub async fn ping_succeeds(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
}

/// Checks that bodies come back byte for byte, including bytes that are not
/// UTF-8.
pub async fn bodies_round_trip_exactly(store: Arc<dyn Store>) {
    let bodies: [&[u8]; 5] = [
        &[0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28],
        b"\xef\xbb\xbf{\"event\":\"order.created\"}",
        b"{\"event\":\"order.created\"}\n",
        br#"{"name":"Jos\u00e9","path":"a\/b"}"#,
        b"",
    ];
    let mut ids = Vec::new();
    for (index, body) in bodies.iter().enumerate() {
        let event = event("acme", &format!("body:{index}"), body, &["acme-woo"]);
        ids.push(record(&store, event).await);
    }
    let conflict_body: &[u8] = &[0x00, 0xff, 0x01];
    let conflict = store
        .record_event(event("acme", "body:0", conflict_body, &["acme-woo"]))
        .await
        .unwrap();
    assert!(
        matches!(conflict, RecordOutcome::Conflict { .. }),
        "{conflict:?}"
    );

    for (id, body) in ids.iter().zip(bodies) {
        let record = event_record(&store, *id).await;
        assert_eq!(record.body, body);
        assert_eq!(record.summary.body_sha256, hex::encode(sha256(body)));
    }
    let first = event_record(&store, ids[0]).await;
    assert_eq!(first.conflicts[0].body, conflict_body);
    let claimed = claim(&store, now() + Duration::seconds(1), 10).await;
    assert_eq!(claimed.len(), bodies.len());
    for claimed in claimed {
        let index = ids
            .iter()
            .position(|id| *id == claimed.event_id)
            .expect("claimed delivery belongs to a recorded event");
        assert_eq!(claimed.body, bodies[index]);
    }
}
