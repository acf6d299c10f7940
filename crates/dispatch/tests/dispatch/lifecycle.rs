//! Waking, idling and shutting down.

use std::sync::Arc;
use std::time::Duration;

use wamebo_dispatch::{DispatchSettings, ShutdownReport};
use wamebo_store::DeliveryStatus;

use crate::support::{fast_settings, AnnouncingStore, Harness, Reply};

#[tokio::test]
async fn wake_starts_fresh_delivery_at_once() {
    let harness = Harness::new();
    // A long lease keeps an in-flight claim from waking a worker soon.
    let settings = DispatchSettings {
        idle_poll: Duration::from_secs(3600),
        lease: Duration::from_secs(60),
        call_timeout: Duration::from_secs(30),
        ..fast_settings()
    };
    let dispatcher = harness.dispatcher(settings);
    let wake = dispatcher.wake_handle();
    let handle = dispatcher.spawn();
    // Let every worker find nothing and go to sleep for the idle poll.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let woken = harness.record_order(5542).await;
    wake.notify_one();
    let delivered = harness
        .wait_for(woken, Duration::from_secs(2), |d| {
            d.status == DeliveryStatus::Succeeded
        })
        .await;
    // Let the workers go back to sleep before recording without a wake-up.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let unannounced = harness.record_order(5543).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waiting = harness.delivery_of(unannounced).await;
    handle.shutdown(Duration::from_secs(5)).await;

    assert_eq!(delivered.attempts, 1);
    assert_eq!(
        waiting.status,
        DeliveryStatus::Pending,
        "without a wake-up the delivery waits for the idle poll"
    );
}

#[tokio::test]
async fn replica_announcement_wakes_workers() {
    let harness = Harness::new();
    let (announcements, _) = tokio::sync::watch::channel(0);
    let store = Arc::new(AnnouncingStore {
        inner: harness.store.clone(),
        announcements,
    });
    let settings = DispatchSettings {
        idle_poll: Duration::from_secs(3600),
        ..fast_settings()
    };
    let handle = harness.dispatcher_over(store.clone(), settings).spawn();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let event_id = harness.record_order(5542).await;
    store.announcements.send_modify(|count| *count += 1);
    let delivery = harness
        .wait_for(event_id, Duration::from_secs(2), |d| {
            d.status == DeliveryStatus::Succeeded
        })
        .await;
    handle.shutdown(Duration::from_secs(5)).await;

    assert_eq!(delivery.attempts, 1);
}

#[tokio::test]
async fn shutdown_lets_in_flight_call_finish() {
    let harness = Harness::new();
    let event_id = harness.record_order(5542).await;
    harness
        .sink
        .script(5542, vec![Reply::Slow(Duration::from_millis(300))]);
    let handle = harness.dispatcher(fast_settings()).spawn();
    tokio::time::timeout(Duration::from_secs(5), harness.sink.call_started.notified())
        .await
        .expect("the sink was called");

    let report = handle.shutdown(Duration::from_secs(5)).await;

    assert_eq!(report, ShutdownReport::Completed);
    let delivery = harness.delivery_of(event_id).await;
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    assert_eq!(delivery.remote_id.as_deref(), Some("remote-5542"));
}

#[tokio::test]
async fn shutdown_past_grace_keeps_the_lease() {
    let harness = Harness::new();
    let event_id = harness.record_order(5542).await;
    harness.sink.script(5542, vec![Reply::Hang]);
    let settings = DispatchSettings {
        call_timeout: Duration::from_secs(30),
        lease: Duration::from_secs(60),
        ..fast_settings()
    };
    let handle = harness.dispatcher(settings).spawn();
    tokio::time::timeout(Duration::from_secs(5), harness.sink.call_started.notified())
        .await
        .expect("the sink was called");

    let started = std::time::Instant::now();
    let report = handle.shutdown(Duration::from_millis(200)).await;

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(report, ShutdownReport::Interrupted { workers: 1 });
    let delivery = harness.delivery_of(event_id).await;
    assert_eq!(delivery.status, DeliveryStatus::InFlight);
    assert_eq!(delivery.attempts, 1);
}

#[tokio::test]
async fn idle_shutdown_is_prompt() {
    let harness = Harness::new();
    let settings = DispatchSettings {
        idle_poll: Duration::from_secs(3600),
        ..fast_settings()
    };
    let handle = harness.dispatcher(settings).spawn();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = std::time::Instant::now();
    let report = handle.shutdown(Duration::from_secs(5)).await;

    assert_eq!(report, ShutdownReport::Completed);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn invalid_settings_are_refused() {
    let harness = Harness::new();
    let store: std::sync::Arc<dyn wamebo_store::Store> = harness.store.clone();
    let settings = DispatchSettings {
        lease: Duration::from_secs(1),
        call_timeout: Duration::from_secs(1),
        ..DispatchSettings::default()
    };

    let result = wamebo_dispatch::Dispatcher::new(
        store,
        Default::default(),
        Default::default(),
        settings,
        &harness.registry,
    );

    let error = result.unwrap_err().to_string();
    assert!(error.contains("lease"), "{error}");
}
