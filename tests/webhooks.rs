//! The real application on a free port, with a temporary SQLite file and a
//! file target, driven through its HTTP surface.

use std::time::Duration;

use futures_util::future::join_all;
use wamebo_core::ReasonCode;
use wamebo_e2e::{
    fresh, order_body, sample_order, sign, spawn_app, spawn_app_with, wait_until, TestConfig,
    DOCUMENTED_MESSAGE, DOCUMENTED_ORDER, SECRET,
};
use wamebo_store::EventStatus;

#[tokio::test]
async fn documented_order_becomes_one_line() {
    let app = spawn_app().await;
    let body = fresh(DOCUMENTED_ORDER);

    let (status, answer) = app.post_signed_json(&body).await;
    app.wait_for_settled(1).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "accepted");
    assert!(answer["event_id"].is_i64(), "{answer}");
    let orders = app.orders();
    assert_eq!(orders.len(), 1);
    let order = &orders[0];
    assert_eq!(order["order_id"], 5542);
    assert_eq!(order["store_id"], "demo");
    assert_eq!(order["currency"], "USD");
    assert_eq!(order["total_amount"], "250.00");
    assert_eq!(order["items"][0]["sku"], "PROD-A1");
    assert_eq!(order["items"][0]["quantity"], 2);
    assert_eq!(order["items"][0]["unit_price"], "100.00");
    assert_eq!(order["items"][0]["line_total"], "200.00");
    assert_eq!(order["items"][1]["sku"], "PROD-B2");
    assert_eq!(order["items"][1]["line_total"], "50.00");
    assert_eq!(order["customer"]["phone"], "+15551234567");
}

#[tokio::test]
async fn repeated_request_is_a_duplicate() {
    let app = spawn_app().await;
    let body = fresh(DOCUMENTED_ORDER);
    let (first_status, _) = app.post_signed_json(&body).await;
    app.wait_for_settled(1).await;

    let (status, answer) = app.post_signed_json(&body).await;
    app.wait_for_settled(1).await;

    assert_eq!(first_status, 200);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "duplicate");
    assert_eq!(app.orders_with_id(5542).len(), 1);
    assert_eq!(app.events().await.len(), 1);
    assert_eq!(app.delivery_counts().await.succeeded, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_copies_create_one_order() {
    let app = spawn_app().await;
    let body = sample_order(777_001);

    let answers = join_all((0..10).map(|_| app.post_signed_json(&body))).await;
    app.wait_for_settled(1).await;

    let accepted = answers
        .iter()
        .filter(|(_, answer)| answer["status"] == "accepted")
        .count();
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert!(
            answer["status"] == "accepted" || answer["status"] == "duplicate",
            "{answer}"
        );
    }
    assert_eq!(accepted, 1);
    assert_eq!(app.orders_with_id(777_001).len(), 1);
    assert_eq!(app.orders().len(), 1);
}

#[tokio::test]
async fn bad_signatures_are_rejected_and_nothing_stored() {
    let app = spawn_app().await;
    let body = fresh(DOCUMENTED_ORDER);
    let valid_hex = sign(SECRET, body.as_bytes())
        .trim_start_matches("sha256=")
        .to_owned();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty", Some(String::new())),
        (
            "other secret",
            Some(sign("wh_sec_someone_else", body.as_bytes())),
        ),
        ("other scheme", Some(format!("sha512={valid_hex}"))),
        ("not hex", Some(format!("sha256={}", "zz".repeat(32)))),
        ("too short", Some(format!("sha256={}", &valid_hex[..40]))),
        ("too long", Some(format!("sha256={valid_hex}00"))),
        ("signature of another body", Some(sign(SECRET, b"{}"))),
    ];

    for (case, signature) in cases {
        let response = app
            .post_webhook("demo", body.clone(), signature.as_deref())
            .await;
        assert_eq!(response.status().as_u16(), 403, "{case}");
    }

    assert!(app.events().await.is_empty());
    assert_eq!(app.delivery_counts().await.pending, 0);
    assert!(app.orders().is_empty());
}

#[tokio::test]
async fn unknown_store_is_not_found() {
    let app = spawn_app().await;
    let body = fresh(DOCUMENTED_ORDER);
    let signature = sign(SECRET, body.as_bytes());

    let response = app.post_webhook("nobody", body, Some(&signature)).await;

    assert_eq!(response.status().as_u16(), 404);
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn oversized_body_is_rejected() {
    let app = spawn_app_with(TestConfig {
        max_body_bytes: 2048,
        ..TestConfig::default()
    })
    .await;
    let padding = " ".repeat(4096);
    let body = format!("{}{padding}", sample_order(8_001));
    let signature = sign(SECRET, body.as_bytes());

    let response = app.post_webhook("demo", body, Some(&signature)).await;

    assert_eq!(response.status().as_u16(), 413);
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn mismatched_total_is_quarantined() {
    let app = spawn_app().await;
    let body = order_body(
        5543,
        "USD",
        "250.01",
        &[("PROD-A1", 2, "100.00"), ("PROD-B2", 1, "50.00")],
    );

    let (status, answer) = app.post_signed_json(&body).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "quarantined");
    assert_eq!(answer["reason"], "total_mismatch");
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    assert!(
        matches!(
            &events[0].status,
            EventStatus::Quarantined {
                reason: ReasonCode::TotalMismatch,
                ..
            }
        ),
        "{:?}",
        events[0].status
    );
    let counts = app.delivery_counts().await;
    assert_eq!(
        counts.pending + counts.in_flight + counts.succeeded + counts.dead,
        0
    );
    assert!(app.orders().is_empty());
}

#[tokio::test]
async fn yen_order_keeps_whole_amounts() {
    let app = spawn_app().await;
    let body = order_body(9_001, "JPY", "2500", &[("PROD-J1", 2, "1250")]);

    let (status, answer) = app.post_signed_json(&body).await;
    app.wait_for_settled(1).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "accepted");
    let orders = app.orders();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["currency"], "JPY");
    assert_eq!(orders[0]["total_amount"], "2500");
    assert_eq!(orders[0]["items"][0]["unit_price"], "1250");
    assert_eq!(orders[0]["items"][0]["line_total"], "2500");
}

#[tokio::test]
async fn message_is_recorded_without_an_order() {
    let app = spawn_app().await;
    let body = fresh(DOCUMENTED_MESSAGE);

    let (status, answer) = app.post_signed_json(&body).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "accepted");
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "message.received");
    assert_eq!(events[0].key, "message:10452");
    assert_eq!(events[0].status, EventStatus::Accepted);
    let counts = app.delivery_counts().await;
    assert_eq!(
        counts.pending + counts.in_flight + counts.succeeded + counts.dead,
        0
    );
    assert!(app.orders().is_empty());
}

#[tokio::test]
async fn graceful_stop_finishes_deliveries() {
    let mut app = spawn_app().await;
    for order_id in 1..=20 {
        let (status, answer) = app.post_signed_json(&sample_order(order_id)).await;
        assert_eq!(status, 200, "{answer}");
    }

    app.stop().await.expect("the application stops cleanly");

    let counts = app.delivery_counts().await;
    assert_eq!(counts.in_flight, 0, "{counts:?}");
    assert_eq!(app.orders().len() as u64, counts.succeeded, "{counts:?}");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;

    for path in ["/healthz", "/readyz"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    wait_until("metrics to be served", Duration::from_secs(5), || async {
        let response = app
            .client
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap();
        response.status().is_success()
    })
    .await;
}
