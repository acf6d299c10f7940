//! Outcomes of delivery attempts: success, retries, dead letters and
//! reconciliation.

use std::time::Duration;

use chrono::Utc;
use wamebo_core::{ClassifyPolicy, DeliveryError, ReasonCode, TotalMismatchPolicy};
use wamebo_dispatch::DispatchSettings;
use wamebo_store::{ClaimRequest, DeliveryStatus, Store};

use crate::support::{fast_settings, message_body, order_body, Call, Harness, Reply, TARGET};

const WAIT: Duration = Duration::from_secs(5);

fn unavailable(message: &str) -> DeliveryError {
    DeliveryError::retry(ReasonCode::RemoteUnavailable, message)
}

fn is_status(status: DeliveryStatus) -> impl Fn(&wamebo_store::DeliveryRecord) -> bool {
    move |delivery| delivery.status == status
}

#[tokio::test]
async fn order_is_created_once() {
    let harness = Harness::new();
    let event_id = harness.record_order(5542).await;

    let handle = harness.dispatcher(fast_settings()).spawn();
    let delivery = harness
        .wait_for(event_id, WAIT, is_status(DeliveryStatus::Succeeded))
        .await;
    handle.shutdown(WAIT).await;

    assert_eq!(delivery.remote_id.as_deref(), Some("remote-5542"));
    assert_eq!(delivery.attempts, 1);
    assert_eq!(
        harness.sink.calls(),
        [Call::Create {
            order_id: 5542,
            attempt: 1
        }]
    );
    let metrics = harness.metrics_text();
    assert!(
        metrics.contains(r#"wamebo_delivery_attempts_total{outcome="succeeded",target="shop"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn retry_then_success() {
    let harness = Harness::new();
    let event_id = harness.record_order(5542).await;
    harness.sink.script(
        5542,
        vec![
            Reply::Fail(unavailable("target shop answered 503")),
            Reply::Fail(unavailable("target shop answered 502")),
        ],
    );

    let handle = harness.dispatcher(fast_settings()).spawn();
    let delivery = harness
        .wait_for(event_id, WAIT, is_status(DeliveryStatus::Succeeded))
        .await;
    handle.shutdown(WAIT).await;

    assert_eq!(delivery.attempts, 3);
    let attempts = harness.store.list_attempts(delivery.id).await.unwrap();
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["retry", "retry", "succeeded"]);
    assert_eq!(attempts[0].reason, Some(ReasonCode::RemoteUnavailable));
    let creates = harness
        .sink
        .calls()
        .iter()
        .filter(|call| matches!(call, Call::Create { .. }))
        .count();
    assert_eq!(creates, 3);
}

#[tokio::test]
async fn retry_after_is_honoured_and_capped() {
    let cap = Duration::from_secs(30);
    // (order id, Retry-After asked by the target, delay expected)
    let cases = [
        (6001, Duration::from_secs(5), Duration::from_secs(5)),
        (6002, Duration::from_secs(7200), cap),
    ];
    let harness = Harness::new();
    let mut events = Vec::new();
    for (order_id, retry_after, expected) in cases {
        harness.sink.script(
            order_id,
            vec![Reply::Fail(DeliveryError::Retry {
                reason: ReasonCode::RemoteThrottled,
                message: "target shop answered 429".into(),
                retry_after: Some(retry_after),
                maybe_created: false,
            })],
        );
        events.push((harness.record_order(order_id).await, expected));
    }
    let settings = DispatchSettings {
        retry_after_cap: cap,
        ..fast_settings()
    };

    let started = Utc::now();
    let handle = harness.dispatcher(settings).spawn();
    let mut delays = Vec::new();
    for (event_id, expected) in &events {
        let delivery = harness
            .wait_for(*event_id, WAIT, |d| {
                d.attempts == 1 && d.status == DeliveryStatus::Pending
            })
            .await;
        let delay = delivery.next_attempt_at.unwrap() - started;
        delays.push((delay, *expected));
    }
    handle.shutdown(WAIT).await;

    for (delay, expected) in delays {
        let delay = delay.to_std().unwrap();
        assert!(delay >= expected, "{delay:?} is shorter than {expected:?}");
        assert!(
            delay < expected + Duration::from_secs(2),
            "{delay:?} is much longer than {expected:?}"
        );
    }
}

#[tokio::test]
async fn max_attempts_makes_delivery_dead() {
    let harness = Harness::new();
    let event_id = harness.record_order(5542).await;
    harness.sink.script(
        5542,
        vec![
            Reply::Fail(unavailable("target shop answered 503")),
            Reply::Fail(unavailable("target shop answered 503")),
            Reply::Fail(unavailable("target shop refused the connection")),
        ],
    );
    let settings = DispatchSettings {
        max_attempts: 3,
        ..fast_settings()
    };

    let handle = harness.dispatcher(settings).spawn();
    let delivery = harness
        .wait_for(event_id, WAIT, is_status(DeliveryStatus::Dead))
        .await;
    handle.shutdown(WAIT).await;

    assert_eq!(delivery.attempts, 3);
    assert_eq!(delivery.last_reason, Some(ReasonCode::RetriesExhausted));
    let message = delivery.last_error.unwrap();
    assert!(message.contains("3 attempts"), "{message}");
    assert!(message.contains("refused the connection"), "{message}");
    assert_eq!(harness.sink.calls().len(), 3);
    let metrics = harness.metrics_text();
    assert!(
        metrics
            .contains(r#"wamebo_dead_letters_total{reason="retries_exhausted",target="shop"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn max_age_makes_delivery_dead() {
    let harness = Harness::new();
    let event_id = harness.record_order(5542).await;
    harness.sink.script(
        5542,
        vec![Reply::Fail(unavailable("target shop answered 503"))],
    );
    let settings = DispatchSettings {
        max_age: Duration::from_millis(1),
        ..fast_settings()
    };
    tokio::time::sleep(Duration::from_millis(5)).await;

    let handle = harness.dispatcher(settings).spawn();
    let delivery = harness
        .wait_for(event_id, WAIT, is_status(DeliveryStatus::Dead))
        .await;
    handle.shutdown(WAIT).await;

    assert_eq!(delivery.attempts, 1);
    assert_eq!(delivery.last_reason, Some(ReasonCode::RetriesExhausted));
    let message = delivery.last_error.unwrap();
    assert!(message.contains("maximum age"), "{message}");
    assert!(message.contains("answered 503"), "{message}");
}

#[tokio::test]
async fn permanent_failure_makes_delivery_dead() {
    let harness = Harness::new();
    let event_id = harness.record_order(5542).await;
    harness.sink.script(
        5542,
        vec![Reply::Fail(DeliveryError::permanent(
            ReasonCode::SkuNotFound,
            "target shop has no product with SKU PROD-A1",
        ))],
    );

    let handle = harness.dispatcher(fast_settings()).spawn();
    let delivery = harness
        .wait_for(event_id, WAIT, is_status(DeliveryStatus::Dead))
        .await;
    handle.shutdown(WAIT).await;

    assert_eq!(delivery.attempts, 1);
    assert_eq!(delivery.last_reason, Some(ReasonCode::SkuNotFound));
    assert!(delivery.last_error.unwrap().contains("PROD-A1"));
}

#[tokio::test]
async fn expired_lease_adopts_existing_order() {
    let harness = Harness::new();
    let event_id = harness.record_order(5542).await;
    harness
        .sink
        .preexisting(5542, "remote-created-before-crash");
    // A worker that claims and then dies holds the lease until it expires.
    let crashed = harness
        .store
        .claim_due(ClaimRequest {
            worker: "crashed".into(),
            now: Utc::now(),
            lease: Duration::from_millis(50),
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(crashed.len(), 1);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let handle = harness.dispatcher(fast_settings()).spawn();
    let delivery = harness
        .wait_for(event_id, WAIT, is_status(DeliveryStatus::Succeeded))
        .await;
    handle.shutdown(WAIT).await;

    assert_eq!(
        delivery.remote_id.as_deref(),
        Some("remote-created-before-crash")
    );
    assert_eq!(
        harness.sink.calls(),
        [Call::FindExisting {
            order_id: 5542,
            attempt: 2
        }]
    );
    let attempts = harness.store.list_attempts(delivery.id).await.unwrap();
    assert_eq!(attempts.last().unwrap().outcome, "adopted");
}

#[tokio::test]
async fn hung_sink_is_cut_off_and_reconciled() {
    let harness = Harness::new();
    let event_id = harness.record_order(5542).await;
    harness.sink.script(5542, vec![Reply::Hang]);
    let settings = DispatchSettings {
        call_timeout: Duration::from_millis(200),
        lease: Duration::from_secs(2),
        ..fast_settings()
    };

    let started = std::time::Instant::now();
    let handle = harness.dispatcher(settings).spawn();
    let delivery = harness
        .wait_for(event_id, WAIT, is_status(DeliveryStatus::Succeeded))
        .await;
    let elapsed = started.elapsed();
    handle.shutdown(WAIT).await;

    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert_eq!(
        harness.sink.calls(),
        [
            Call::Create {
                order_id: 5542,
                attempt: 1
            },
            Call::FindExisting {
                order_id: 5542,
                attempt: 2
            },
            Call::Create {
                order_id: 5542,
                attempt: 2
            },
        ]
    );
    let attempts = harness.store.list_attempts(delivery.id).await.unwrap();
    assert_eq!(attempts[0].outcome, "retry");
    assert!(attempts[0]
        .message
        .as_deref()
        .unwrap()
        .contains("did not finish"));
}

#[tokio::test]
async fn unconfigured_target_makes_delivery_dead() {
    let harness = Harness::new();
    let event_id = harness
        .record(
            order_body(5542, "250.00"),
            &ClassifyPolicy::default(),
            &["removed-target"],
        )
        .await;

    let handle = harness.dispatcher(fast_settings()).spawn();
    let delivery = harness
        .wait_for(event_id, WAIT, is_status(DeliveryStatus::Dead))
        .await;
    handle.shutdown(WAIT).await;

    assert_eq!(delivery.last_reason, Some(ReasonCode::TargetNotConfigured));
    assert!(delivery.last_error.unwrap().contains("removed-target"));
    assert!(harness.sink.calls().is_empty());
}

#[tokio::test]
async fn order_invalid_under_current_policy_is_dead() {
    let harness = Harness::new();
    let adjusting = ClassifyPolicy {
        total_mismatch: TotalMismatchPolicy::Adjust,
        ..ClassifyPolicy::default()
    };
    // Accepted under the policy at receipt; the dispatcher's store policy
    // now rejects mismatched totals.
    let event_id = harness
        .record(order_body(5542, "250.01"), &adjusting, &[TARGET])
        .await;

    let handle = harness.dispatcher(fast_settings()).spawn();
    let delivery = harness
        .wait_for(event_id, WAIT, is_status(DeliveryStatus::Dead))
        .await;
    handle.shutdown(WAIT).await;

    assert_eq!(delivery.last_reason, Some(ReasonCode::TotalMismatch));
    assert!(harness.sink.calls().is_empty());
}

#[tokio::test]
async fn message_is_forwarded() {
    let harness = Harness::new();
    let event_id = harness
        .record(message_body(10452), &ClassifyPolicy::default(), &[TARGET])
        .await;

    let handle = harness.dispatcher(fast_settings()).spawn();
    harness
        .wait_for(event_id, WAIT, is_status(DeliveryStatus::Succeeded))
        .await;
    handle.shutdown(WAIT).await;

    assert_eq!(
        harness.sink.calls(),
        [Call::Forward {
            event_type: "message.received".into(),
            attempt: 1
        }]
    );
}
