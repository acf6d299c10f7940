//! PostgreSQL backend tests against a real server.
//!
//! They read the server URL from `WAMEBO_TEST_POSTGRES_URL` (for example
//! `postgres://postgres@127.0.0.1:5432/test`). Each test works in a schema of
//! its own with a random name, dropped afterwards, so tests run in parallel.
//! Without the variable each test prints one line saying it was skipped and
//! passes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use tokio::task::JoinHandle;
use wamebo_core::{ReasonCode, StoreId, TargetId};
use wamebo_store::conformance::TestStore;
use wamebo_store::postgres_testing::{server_url, Proxy, TestSchema};
use wamebo_store::{
    postgres, AttemptOutcome, ClaimRequest, EventFilter, EventStatus, Lease, NewEvent, PgOptions,
    PgStore, RecordOutcome, Store, StoreError,
};

/// Stores on a test schema, with pool settings for these tests.
trait SchemaStores {
    fn options(&self) -> PgOptions;
    async fn open(&self) -> PgStore;
    async fn open_with(&self, options: PgOptions) -> PgStore;
    fn patient_options(&self) -> PgOptions;
}

impl SchemaStores for TestSchema {
    fn options(&self) -> PgOptions {
        PgOptions {
            max_connections: 5,
            schema: Some(self.name.clone()),
            ..PgOptions::default()
        }
    }

    async fn open(&self) -> PgStore {
        self.open_with(self.options()).await
    }

    async fn open_with(&self, options: PgOptions) -> PgStore {
        PgStore::connect(&self.url(), options)
            .await
            .expect("connect to the test PostgreSQL server")
    }

    /// Returns options for tests that queue hundreds of operations on a
    /// small pool, where the default 2-second acquire timeout would turn a
    /// slow, shared test machine into `Unavailable` errors.
    fn patient_options(&self) -> PgOptions {
        PgOptions {
            acquire_timeout: Duration::from_secs(30),
            operation_timeout: Duration::from_secs(60),
            ..self.options()
        }
    }
}

/// Opens a store on a fresh schema for one conformance case, or returns
/// `None` (and prints why) when no server is configured.
async fn open_conformance_store() -> Option<TestStore> {
    // The test harness names each test's thread after the test, and the
    // case's future runs on that thread.
    let thread = std::thread::current();
    let case = thread.name().unwrap_or("conformance case");
    let url = server_url(case)?;
    let schema = TestSchema::new(&url, "wamebo_test");
    let store = schema.open().await;
    Some(TestStore::with_guard(Arc::new(store), schema))
}

mod conformance {
    wamebo_store::store_conformance_tests!(super::open_conformance_store());
}

fn store_id() -> StoreId {
    StoreId::new("acme").unwrap()
}

fn targets(names: &[&str]) -> Vec<TargetId> {
    names
        .iter()
        .map(|name| TargetId::new(*name).unwrap())
        .collect()
}

fn order_event(order_id: u64, body: &str, targets: Vec<TargetId>) -> NewEvent {
    NewEvent {
        store_id: store_id(),
        key: format!("order:{order_id}"),
        event_type: "order.created".to_owned(),
        order_id: Some(order_id),
        body: body.as_bytes().to_vec(),
        body_sha256: Sha256::digest(body.as_bytes()).into(),
        received_at: Utc::now(),
        occurred_at: None,
        status: EventStatus::Accepted,
        targets,
    }
}

fn claim(worker: &str, now: DateTime<Utc>, lease: Duration, limit: usize) -> ClaimRequest {
    ClaimRequest {
        worker: worker.to_owned(),
        now,
        lease,
        limit,
    }
}

fn far_future() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap()
}

#[tokio::test]
async fn replicas_record_each_key_once() {
    let Some(url) = server_url("replicas_record_each_key_once") else {
        return;
    };
    let schema = TestSchema::new(&url, "wamebo_test");
    let (first, second) = tokio::join!(
        schema.open_with(schema.patient_options()),
        schema.open_with(schema.patient_options())
    );
    let replicas = [Arc::new(first), Arc::new(second)];

    let mut tasks = Vec::new();
    for order_id in 1..=200u64 {
        // Every order goes to both replicas; every fifth one twice more.
        let copies = if order_id % 5 == 0 { 4 } else { 2 };
        for copy in 0..copies {
            let store = replicas[copy % 2].clone();
            let body = format!(r#"{{"event":"order.created","data":{{"order_id":{order_id}}}}}"#);
            tasks.push(tokio::spawn(async move {
                store
                    .record_event(order_event(order_id, &body, targets(&["erp"])))
                    .await
            }));
        }
    }
    let mut recorded = 0;
    let mut duplicates = 0;
    for task in tasks {
        match task.await.unwrap().expect("record an event") {
            RecordOutcome::Recorded { deliveries, .. } => {
                assert_eq!(deliveries, 1);
                recorded += 1;
            }
            RecordOutcome::Duplicate { .. } => duplicates += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    assert_eq!(recorded, 200);
    assert_eq!(duplicates, 40 * 4 + 160 * 2 - 200);
    let events = replicas[0]
        .list_events(EventFilter {
            limit: 1000,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 200);
    let counts = replicas[1].delivery_counts().await.unwrap();
    assert_eq!(counts.pending, 200);
}

#[tokio::test]
async fn replicas_never_claim_one_delivery_twice() {
    let Some(url) = server_url("replicas_never_claim_one_delivery_twice") else {
        return;
    };
    let schema = TestSchema::new(&url, "wamebo_test");
    let (first, second) = tokio::join!(
        schema.open_with(schema.patient_options()),
        schema.open_with(schema.patient_options())
    );
    let replicas = [Arc::new(first), Arc::new(second)];
    for order_id in 1..=100u64 {
        let body = format!("order {order_id}");
        replicas[0]
            .record_event(order_event(order_id, &body, targets(&["erp", "woo"])))
            .await
            .unwrap();
    }

    let mut workers = Vec::new();
    for worker in 0..6 {
        let store = replicas[worker % 2].clone();
        workers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let request = claim(
                    &format!("worker-{worker}"),
                    far_future(),
                    Duration::from_secs(60),
                    7,
                );
                let batch = store.claim_due(request).await.expect("claim deliveries");
                if batch.is_empty() {
                    return claimed;
                }
                claimed.extend(batch.into_iter().map(|delivery| delivery.delivery_id));
            }
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }

    let distinct: HashSet<_> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "a delivery was claimed twice");
    assert_eq!(all.len(), 200);
    assert_eq!(replicas[1].delivery_counts().await.unwrap().in_flight, 200);
}

#[tokio::test]
async fn expired_lease_moves_to_other_replica() {
    let Some(url) = server_url("expired_lease_moves_to_other_replica") else {
        return;
    };
    let schema = TestSchema::new(&url, "wamebo_test");
    let (first, second) = tokio::join!(schema.open(), schema.open());
    first
        .record_event(order_event(7, "order 7", targets(&["erp"])))
        .await
        .unwrap();
    let start = Utc::now() + chrono::Duration::seconds(1);
    let lease = Duration::from_secs(30);

    let first_claim = first
        .claim_due(claim("first", start, lease, 10))
        .await
        .unwrap();
    let during_lease = start + chrono::Duration::seconds(29);
    let too_early = second
        .claim_due(claim("second", during_lease, lease, 10))
        .await
        .unwrap();
    let after_lease = start + chrono::Duration::seconds(31);
    let refirst_claim = second
        .claim_due(claim("second", after_lease, lease, 10))
        .await
        .unwrap();
    let late = first
        .complete(
            &Lease {
                delivery_id: first_claim[0].delivery_id,
                token: first_claim[0].lease_token.clone(),
            },
            AttemptOutcome::Succeeded {
                remote_id: Some("1".to_owned()),
                note: None,
                adopted: false,
            },
        )
        .await;

    assert_eq!(first_claim.len(), 1);
    assert!(!first_claim[0].reconcile);
    assert!(too_early.is_empty());
    assert_eq!(refirst_claim.len(), 1);
    assert_eq!(refirst_claim[0].delivery_id, first_claim[0].delivery_id);
    assert!(refirst_claim[0].reconcile);
    assert_eq!(refirst_claim[0].attempt, 2);
    assert!(
        matches!(late, Err(StoreError::LeaseLost { delivery_id }) if delivery_id == first_claim[0].delivery_id),
        "{late:?}"
    );
}

#[tokio::test]
async fn notification_wakes_other_replica() {
    let Some(url) = server_url("notification_wakes_other_replica") else {
        return;
    };
    let schema = TestSchema::new(&url, "wamebo_test");
    let (first, second) = tokio::join!(schema.open(), schema.open());
    let mut first_wakeups = first.external_wakeups().expect("PgStore offers wake-ups");
    let mut second_wakeups = second.external_wakeups().expect("PgStore offers wake-ups");
    first_wakeups.borrow_and_update();
    second_wakeups.borrow_and_update();

    first
        .record_event(order_event(1, "order 1", targets(&["erp"])))
        .await
        .unwrap();

    let woken = tokio::time::timeout(Duration::from_secs(5), second_wakeups.changed()).await;
    assert!(
        matches!(woken, Ok(Ok(()))),
        "the other replica was not woken"
    );
    let own = tokio::time::timeout(Duration::from_millis(300), first_wakeups.changed()).await;
    assert!(own.is_err(), "a store was woken by its own notification");
}

#[tokio::test]
async fn other_schema_does_not_wake() {
    let Some(url) = server_url("other_schema_does_not_wake") else {
        return;
    };
    let (schema_a, schema_b) = (
        TestSchema::new(&url, "wamebo_test"),
        TestSchema::new(&url, "wamebo_test"),
    );
    let (first, second) = tokio::join!(schema_a.open(), schema_b.open());
    let mut second_wakeups = second.external_wakeups().unwrap();
    second_wakeups.borrow_and_update();

    first
        .record_event(order_event(1, "order 1", targets(&["erp"])))
        .await
        .unwrap();

    let woken = tokio::time::timeout(Duration::from_millis(300), second_wakeups.changed()).await;
    assert!(
        woken.is_err(),
        "a store was woken by another schema's delivery"
    );
}

#[tokio::test]
async fn replay_wakes_other_replica() {
    let Some(url) = server_url("replay_wakes_other_replica") else {
        return;
    };
    let schema = TestSchema::new(&url, "wamebo_test");
    let (first, second) = tokio::join!(schema.open(), schema.open());
    first
        .record_event(order_event(3, "order 3", targets(&["erp"])))
        .await
        .unwrap();
    let claimed = first
        .claim_due(claim("first", far_future(), Duration::from_secs(60), 1))
        .await
        .unwrap();
    let lease = Lease {
        delivery_id: claimed[0].delivery_id,
        token: claimed[0].lease_token.clone(),
    };
    first
        .complete(
            &lease,
            AttemptOutcome::Dead {
                reason: ReasonCode::SkuNotFound,
                message: "sku A-1 not found on target erp".to_owned(),
            },
        )
        .await
        .unwrap();
    let mut second_wakeups = second.external_wakeups().unwrap();
    second_wakeups.borrow_and_update();

    first.replay_delivery(lease.delivery_id).await.unwrap();

    let woken = tokio::time::timeout(Duration::from_secs(5), second_wakeups.changed()).await;
    assert!(
        matches!(woken, Ok(Ok(()))),
        "the other replica was not woken"
    );
}

#[tokio::test]
async fn replicas_starting_together_migrate_once() {
    let Some(url) = server_url("replicas_starting_together_migrate_once") else {
        return;
    };
    let schema = TestSchema::new(&url, "wamebo_test");
    let options = schema.options();

    let runs = futures_join_all(
        (0..4)
            .map(|_| {
                let (url, options) = (schema.url(), options.clone());
                tokio::spawn(async move { postgres::migrate(&url, &options).await })
            })
            .collect(),
    )
    .await;

    let reports: Vec<_> = runs.into_iter().map(|run| run.expect("migrate")).collect();
    let applied: Vec<u32> = reports.iter().flat_map(|r| r.applied.clone()).collect();
    assert_eq!(applied, vec![1], "{reports:?}");
    assert!(reports.iter().all(|r| r.version == 1), "{reports:?}");
    let again = postgres::migrate(&schema.url(), &options).await.unwrap();
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.version, 1);
}

#[tokio::test]
async fn newer_schema_is_rejected() {
    let Some(url) = server_url("newer_schema_is_rejected") else {
        return;
    };
    let schema = TestSchema::new(&url, "wamebo_test");
    postgres::migrate(&schema.url(), &schema.options())
        .await
        .unwrap();
    let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(&format!(
        "INSERT INTO {}.schema_migrations (version, name, sha256) VALUES (999, 'future', '')",
        schema.name
    ))
    .execute(&mut connection)
    .await
    .unwrap();

    let opened = PgStore::connect(&schema.url(), schema.options()).await;

    assert!(matches!(opened, Err(StoreError::Corrupt(_))), "{opened:?}");
}

#[tokio::test]
async fn refused_port_is_unavailable() {
    // Needs no server: the port is one that nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let options = PgOptions {
        acquire_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(500),
        ..PgOptions::default()
    };
    let started = Instant::now();

    let opened = PgStore::connect(
        &format!("postgres://postgres@127.0.0.1:{port}/test"),
        options,
    )
    .await;

    assert!(
        matches!(opened, Err(StoreError::Unavailable(_))),
        "{opened:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn outage_is_unavailable_then_recovers() {
    let Some(url) = server_url("outage_is_unavailable_then_recovers") else {
        return;
    };
    let schema = TestSchema::new(&url, "wamebo_test");
    let proxy = Proxy::start(&schema.url()).await;
    let acquire_timeout = Duration::from_millis(500);
    let options = PgOptions {
        acquire_timeout,
        ..schema.options()
    };
    let through_proxy = PgStore::connect(&proxy.url, options).await.unwrap();
    let direct = schema.open().await;
    let before = order_event(1, "order 1", targets(&["erp"]));
    through_proxy.record_event(before.clone()).await.unwrap();

    proxy.cut();
    let started = Instant::now();
    let during = through_proxy
        .record_event(order_event(2, "order 2", targets(&["erp"])))
        .await;
    let failed_after = started.elapsed();
    let ping = through_proxy.ping().await;

    assert!(
        matches!(during, Err(StoreError::Unavailable(_))),
        "{during:?}"
    );
    assert!(matches!(ping, Err(StoreError::Unavailable(_))), "{ping:?}");
    assert!(
        failed_after < acquire_timeout + Duration::from_secs(1),
        "the failure took {failed_after:?}"
    );

    proxy.restore().await;
    let recovered = wait_until_ready(&through_proxy, Duration::from_secs(10)).await;
    assert!(recovered, "the store did not recover after the outage");
    let retried = through_proxy
        .record_event(order_event(2, "order 2", targets(&["erp"])))
        .await
        .unwrap();
    let repeated = through_proxy.record_event(before).await.unwrap();
    assert!(
        matches!(retried, RecordOutcome::Recorded { .. }),
        "{retried:?}"
    );
    assert!(
        matches!(repeated, RecordOutcome::Duplicate { .. }),
        "{repeated:?}"
    );
    assert_eq!(direct.delivery_counts().await.unwrap().pending, 2);

    // The listener reconnects by itself: a delivery made by the other
    // replica wakes the store that went through the outage.
    let mut wakeups = through_proxy.external_wakeups().unwrap();
    let woken = wait_for_wakeup(&direct, &mut wakeups, Duration::from_secs(15)).await;
    assert!(woken, "the listener did not reconnect after the outage");
}

async fn wait_until_ready(store: &PgStore, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if store.ping().await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Records deliveries on `other` until `wakeups` changes, since the
/// listener may still be reconnecting when the first one commits.
async fn wait_for_wakeup(
    other: &PgStore,
    wakeups: &mut tokio::sync::watch::Receiver<u64>,
    limit: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    let mut order_id = 1000;
    while Instant::now() < deadline {
        wakeups.borrow_and_update();
        order_id += 1;
        other
            .record_event(order_event(order_id, "wake", targets(&["erp"])))
            .await
            .unwrap();
        if tokio::time::timeout(Duration::from_millis(500), wakeups.changed())
            .await
            .is_ok()
        {
            return true;
        }
    }
    false
}

async fn futures_join_all<T>(handles: Vec<JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.expect("task panicked"));
    }
    results
}
