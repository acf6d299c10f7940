//! `/healthz`, `/readyz` and `/metrics`.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};

use crate::public_app;
use crate::support::{order_body, sign, Harness};

#[actix_web::test]
async fn healthz_and_readyz_answer_ok() {
    let harness = Harness::new();
    let app = public_app!(harness);

    for path in ["/healthz", "/readyz"] {
        let response = test::call_service(&app, TestRequest::get().uri(path).to_request()).await;

        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[actix_web::test]
async fn metrics_count_outcomes_and_deliveries() {
    let harness = Harness::new();
    let app = public_app!(harness);
    let accepted = order_body(5542, "250.00");
    let quarantined = order_body(5543, "250.01");
    for body in [&accepted, &accepted, &quarantined] {
        let request = TestRequest::post()
            .uri("/webhooks/acme")
            .insert_header(("X-Webhook-Signature", sign(body)))
            .set_payload(body.clone())
            .to_request();
        test::call_service(&app, request).await;
    }
    let unsigned = TestRequest::post()
        .uri("/webhooks/acme")
        .set_payload(accepted.clone())
        .to_request();
    test::call_service(&app, unsigned).await;
    let unknown = TestRequest::post()
        .uri("/webhooks/nope")
        .set_payload(accepted.clone())
        .to_request();
    test::call_service(&app, unknown).await;

    let response = test::call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;

    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get(header::CONTENT_TYPE).unwrap();
    assert!(content_type
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    let expected_lines = [
        r#"wamebo_webhooks_total{outcome="accepted",store="acme"} 1"#,
        r#"wamebo_webhooks_total{outcome="duplicate",store="acme"} 1"#,
        r#"wamebo_webhooks_total{outcome="quarantined",store="acme"} 1"#,
        r#"wamebo_webhooks_total{outcome="invalid_signature",store="acme"} 1"#,
        r#"wamebo_webhooks_total{outcome="unknown_store",store="_unknown"} 1"#,
        r#"wamebo_signature_failures_total{reason="missing",store="acme"} 1"#,
        r#"wamebo_quarantined_events_total{reason="total_mismatch",store="acme"} 1"#,
        r#"wamebo_webhook_duration_seconds_count{outcome="accepted"} 1"#,
        r#"wamebo_deliveries{status="pending"} 2"#,
        r#"wamebo_deliveries{status="dead"} 0"#,
    ];
    for line in expected_lines {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
}
