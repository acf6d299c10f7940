//! The SQLite backend: the shared conformance suite on a temporary file, and
//! what only a file on disk can show (reopening, migrations, unusable paths,
//! a full disk, a lock held by another process).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use wamebo_core::{StoreId, TargetId};
use wamebo_store::conformance::TestStore;
use wamebo_store::sqlite::MigrationReport;
use wamebo_store::{
    ClaimRequest, DeliveryStatus, EventFilter, EventStatus, NewEvent, RecordOutcome, SqliteOptions,
    SqliteStore, Store, StoreError,
};

async fn open_test_store() -> TestStore {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let location = format!("sqlite://{}", dir.path().join("bridge.db").display());
    let store = SqliteStore::open(&location, SqliteOptions::default()).expect("opening the store");
    TestStore::with_guard(Arc::new(store), dir)
}

mod conformance {
    wamebo_store::store_conformance_tests!(super::open_test_store());
}

fn database_path(dir: &TempDir) -> String {
    dir.path().join("data/bridge.db").display().to_string()
}

fn event(key: &str, body: Vec<u8>, targets: &[&str]) -> NewEvent {
    NewEvent {
        store_id: StoreId::new("acme").unwrap(),
        key: key.to_owned(),
        event_type: "order.created".to_owned(),
        order_id: None,
        body_sha256: Sha256::digest(&body).into(),
        body,
        received_at: Utc::now(),
        occurred_at: None,
        status: EventStatus::Accepted,
        targets: targets
            .iter()
            .map(|id| TargetId::new(*id).unwrap())
            .collect(),
    }
}

fn claim_request(lease: Duration) -> ClaimRequest {
    ClaimRequest {
        worker: "test".to_owned(),
        now: Utc::now() + chrono::Duration::seconds(1),
        lease,
        limit: 10,
    }
}

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let location = database_path(&dir);
    let store = SqliteStore::open(&location, SqliteOptions::default()).unwrap();
    let body = b"{\"event\":\"order.created\",\"data\":{\"order_id\":5542}}".to_vec();
    let RecordOutcome::Recorded { event_id, .. } = store
        .record_event(event("order:5542", body.clone(), &["acme-woo", "acme-erp"]))
        .await
        .unwrap()
    else {
        panic!("expected a new event");
    };
    let claimed = store
        .claim_due(claim_request(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);

    drop(store);
    let reopened = SqliteStore::open(&location, SqliteOptions::default()).unwrap();

    let record = reopened
        .get_event(event_id)
        .await
        .unwrap()
        .expect("event kept");
    assert_eq!(record.body, body);
    assert_eq!(record.deliveries.len(), 2);
    assert!(record
        .deliveries
        .iter()
        .all(|delivery| delivery.status == DeliveryStatus::InFlight && delivery.attempts == 1));
    let reclaimed = reopened
        .claim_due(claim_request(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(
        reclaimed.len(),
        2,
        "leases that expired across the restart are claimed again"
    );
    assert!(reclaimed
        .iter()
        .all(|claimed| claimed.reconcile && claimed.attempt == 2));
    assert_eq!(
        reopened
            .record_event(event("order:5542", body, &[]))
            .await
            .unwrap(),
        RecordOutcome::Duplicate { event_id }
    );
}

#[tokio::test]
async fn drop_closes_every_connection() {
    let dir = tempfile::tempdir().unwrap();
    let location = database_path(&dir);
    let store = SqliteStore::open(&location, SqliteOptions::default()).unwrap();
    store
        .record_event(event("order:1", b"{}".to_vec(), &["acme-woo"]))
        .await
        .unwrap();
    store
        .list_events(EventFilter {
            limit: 10,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let wal = PathBuf::from(format!("{location}-wal"));
    assert!(wal.exists(), "an open store keeps a WAL file");

    drop(store);

    // SQLite checkpoints and removes the WAL file when the last connection
    // to the database closes, so its absence shows that the writer thread
    // and every reader have closed their connections.
    assert!(!wal.exists(), "the WAL file is still there after drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_concurrent_records_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStore::open(&database_path(&dir), SqliteOptions::default()).unwrap());

    let tasks: Vec<_> = (0..1000)
        .map(|index| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let body = format!("{{\"order_id\":{index}}}").into_bytes();
                store
                    .record_event(event(&format!("order:{index}"), body, &["acme-woo"]))
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(RecordOutcome::Recorded {
                event_id,
                deliveries: 1,
            }) => ids.push(event_id),
            other => panic!("expected a new event with one delivery, got {other:?}"),
        }
    }

    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1000, "every event has its own id");
    assert_eq!(store.delivery_counts().await.unwrap().pending, 1000);
    store
        .record_event(event("order:1000", b"{}".to_vec(), &[]))
        .await
        .unwrap();
    let listed = store
        .list_events(EventFilter {
            limit: 5000,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1000, "a listing returns at most 1000 rows");
}

#[tokio::test]
async fn migrations_twice_are_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let location = format!("sqlite://{}", database_path(&dir));
    let options = SqliteOptions::default();

    let first = SqliteStore::migrate(&location, &options).unwrap();
    let second = SqliteStore::migrate(&location, &options).unwrap();

    assert_eq!(
        first,
        MigrationReport {
            applied: vec![1],
            version: 1
        }
    );
    assert_eq!(
        second,
        MigrationReport {
            applied: vec![],
            version: 1
        }
    );
    let store = SqliteStore::open(&location, options.clone()).unwrap();
    store
        .record_event(event("order:1", b"{}".to_vec(), &["acme-woo"]))
        .await
        .unwrap();
    drop(store);
    let third = SqliteStore::migrate(&location, &options).unwrap();
    assert!(third.applied.is_empty());
    let store = SqliteStore::open(&location, options).unwrap();
    let events = store
        .list_events(EventFilter {
            limit: 10,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "migrating again keeps the data");
}

#[test]
fn newer_schema_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let location = database_path(&dir);
    SqliteStore::migrate(&location, &SqliteOptions::default()).unwrap();
    let conn = rusqlite::Connection::open(&location).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)",
        [],
    )
    .unwrap();
    drop(conn);

    let result = SqliteStore::open(&location, SqliteOptions::default());

    match result {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains("schema version 99"), "{message}");
            assert!(message.contains(&location), "{message}");
        }
        other => panic!("expected a corrupt-storage error, got {other:?}"),
    }
}

#[test]
fn unusable_locations_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let not_a_database = dir.path().join("notes.db");
    std::fs::write(&not_a_database, vec![b'x'; 8192]).unwrap();
    let directory = dir.path().join("a-directory");
    std::fs::create_dir(&directory).unwrap();
    let path = |path: &Path| path.display().to_string();
    let cases = [
        (path(&file.join("data/bridge.db")), "creating directory"),
        (path(&directory), "opening the database"),
        (path(&not_a_database), "not a database"),
        ("sqlite::memory:".to_owned(), "in-memory"),
        (
            "postgres://127.0.0.1/bridge".to_owned(),
            "not an sqlite URL",
        ),
        (String::new(), "no file path"),
    ];

    for (location, expected) in cases {
        let result = SqliteStore::open(&location, SqliteOptions::default());

        let message = match result {
            Err(StoreError::Unavailable(message) | StoreError::Corrupt(message)) => message,
            other => panic!("{location}: expected an error, got {other:?}"),
        };
        assert!(message.contains(expected), "{location}: {message}");
        assert!(message.contains(&location), "{location}: {message}");
    }
}

#[test]
fn read_only_directory_fails_clearly() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(locked.join("probe"), b"").is_ok() {
        // Root, or a file system without permissions, ignores the mode.
        eprintln!("skipped: this user can write to a directory with mode 0555");
        return;
    }
    let location = locked.join("bridge.db").display().to_string();

    let result = SqliteStore::open(&location, SqliteOptions::default());

    match result {
        Err(StoreError::Unavailable(message)) => assert!(message.contains(&location), "{message}"),
        other => panic!("expected an unavailable error, got {other:?}"),
    }
}

#[tokio::test]
async fn full_disk_fails_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let location = database_path(&dir);
    // The size cap makes SQLite fail with SQLITE_FULL, the same code a
    // full disk gives.
    let options = SqliteOptions {
        max_size_bytes: Some(512 * 1024),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&location, options).unwrap();
    let body = |index: usize| vec![(index % 251) as u8; 16 * 1024];

    let mut recorded = 0;
    let failure = loop {
        match store
            .record_event(event(&format!("order:{recorded}"), body(recorded), &[]))
            .await
        {
            Ok(RecordOutcome::Recorded { .. }) => recorded += 1,
            Ok(other) => panic!("expected a new event, got {other:?}"),
            Err(err) => break err,
        }
        assert!(recorded < 100, "the size cap never took effect");
    };
    match &failure {
        StoreError::Unavailable(message) => assert!(message.contains("full"), "{message}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    let still_full = store
        .record_event(event(&format!("order:{recorded}"), body(recorded), &[]))
        .await;
    assert!(
        matches!(still_full, Err(StoreError::Unavailable(_))),
        "{still_full:?}"
    );
    store.ping().await.expect("reads work while writes fail");

    // Space returns: another connection deletes half the events.
    let conn = rusqlite::Connection::open(&location).unwrap();
    conn.execute("DELETE FROM events WHERE id % 2 = 0", [])
        .unwrap();
    drop(conn);

    let retried = store
        .record_event(event(&format!("order:{recorded}"), body(recorded), &[]))
        .await;
    assert!(
        matches!(retried, Ok(RecordOutcome::Recorded { .. })),
        "{retried:?}"
    );
    let events = store
        .list_events(EventFilter {
            limit: 1000,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), recorded - recorded / 2 + 1);
}

#[tokio::test]
async fn lock_held_elsewhere_fails_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let location = database_path(&dir);
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(100),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&location, options).unwrap();
    store
        .record_event(event("order:1", b"{}".to_vec(), &[]))
        .await
        .unwrap();
    let other = rusqlite::Connection::open(&location).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    let blocked = store
        .record_event(event("order:2", b"{}".to_vec(), &[]))
        .await;
    let listed = store
        .list_events(EventFilter {
            limit: 10,
            ..EventFilter::default()
        })
        .await;

    match blocked {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("locked"), "{message}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert_eq!(
        listed.unwrap().len(),
        1,
        "reads do not wait for the write lock"
    );
    other.execute_batch("COMMIT").unwrap();
    let retried = store
        .record_event(event("order:2", b"{}".to_vec(), &[]))
        .await;
    assert!(
        matches!(retried, Ok(RecordOutcome::Recorded { .. })),
        "{retried:?}"
    );
}

#[tokio::test]
async fn deleted_database_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&database_path(&dir), SqliteOptions::default()).unwrap();
    store.ping().await.expect("a fresh database is ready");
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();

    let ping = store.ping().await;
    let record = store
        .record_event(event("order:1", b"{}".to_vec(), &[]))
        .await;

    assert!(matches!(ping, Err(StoreError::Unavailable(_))), "{ping:?}");
    assert!(
        matches!(record, Err(StoreError::Unavailable(_))),
        "{record:?}"
    );
}
