//! The real application with the store `demo` routed to both a `file`
//! target and an `erp` target on a stand-in ERP. Each target gets its own
//! delivery, a failing ERP never repeats the file write, and a
//! `message.received` event reaches the ERP unchanged.

use serde_json::{json, Value};
use wamebo_e2e::{
    fresh, spawn_app_with, TestApp, TestConfig, DOCUMENTED_MESSAGE, DOCUMENTED_ORDER,
};
use wamebo_signature::standard_webhooks::SigningKey;
use wamebo_store::DeliveryStatus;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ORDERS_PATH: &str = "/api/orders";
const ORDER_KEY: &str = "wamebo:demo:demo-erp:order:5542";
const WAMEBO_SCHEME_SECRET: &str = "erp_end_to_end_signing_secret";
/// The secret of the Standard Webhooks specification's test vector.
const STANDARD_WEBHOOKS_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// How the `erp` target signs its requests in a test.
enum Signing {
    Wamebo,
    StandardWebhooks,
}

/// Starts the application with `demo` routed to `demo-file` and to the
/// `erp` target `demo-erp` at `erp`, which receives `events`.
async fn spawn_with_erp(erp: &MockServer, events: &[&str], signing: Signing) -> TestApp {
    let config = TestConfig {
        store_targets: vec!["demo-file".to_owned(), "demo-erp".to_owned()],
        ..TestConfig::default()
    };
    let (scheme, secret) = match signing {
        Signing::Wamebo => ("wamebo", WAMEBO_SCHEME_SECRET),
        Signing::StandardWebhooks => ("standard-webhooks", STANDARD_WEBHOOKS_SECRET),
    };
    let secret = config.secret_file("erp-signing-secret", secret);
    let events: Vec<String> = events.iter().map(|event| format!("{event:?}")).collect();
    // Two requests of 1 s fit in the test lease of 3 s.
    let extra_targets = format!(
        r#"
[[targets]]
id = "demo-erp"
kind = "erp"
url = "{base_url}{ORDERS_PATH}"
allow_insecure_http = true
events = [{events}]
order_id_pointer = "/id"
connect_timeout = "1s"
request_timeout = "1s"
[targets.signing]
scheme = "{scheme}"
secret = "{secret}"
"#,
        base_url = erp.uri(),
        events = events.join(", "),
    );
    spawn_app_with(TestConfig {
        extra_targets,
        ..config
    })
    .await
}

/// Starts the stand-in ERP with a catch-all that fails the test on any
/// request no other mock expects.
async fn start_erp() -> MockServer {
    let erp = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(404))
        .with_priority(u8::MAX)
        .expect(0)
        .named("request no mock expects")
        .mount(&erp)
        .await;
    erp
}

fn post_order() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(ORDERS_PATH))
        .and(header("Idempotency-Key", ORDER_KEY))
        .and(header("X-Wamebo-Event-Type", "order.created"))
        .and(header("X-Wamebo-Store-Id", "demo"))
        .and(header("Content-Type", "application/json"))
}

fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"id": "ERP-77", "status": "created"}))
}

fn header_text<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("the request has no {name} header"))
        .to_str()
        .expect("the header is text")
}

async fn received(erp: &MockServer) -> Vec<Request> {
    erp.received_requests()
        .await
        .expect("the stand-in records requests")
}

#[tokio::test]
async fn order_reaches_file_and_erp_once_each() {
    let erp = start_erp().await;
    post_order()
        .respond_with(accepted())
        .expect(1)
        .named("POST /api/orders with the documented order")
        .mount(&erp)
        .await;
    let app = spawn_with_erp(&erp, &["order.created"], Signing::Wamebo).await;

    let (status, answer) = app.post_signed_json(&fresh(DOCUMENTED_ORDER)).await;
    app.wait_for_settled(2).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "accepted");
    let lines = app.orders_with_id(5542);
    assert_eq!(lines.len(), 1);
    let requests = received(&erp).await;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let posted: Value = serde_json::from_slice(&request.body).expect("the ERP body is JSON");
    assert_eq!(posted, lines[0], "both targets get the canonical order");
    assert_eq!(
        header_text(request, "X-Webhook-Signature"),
        wamebo_signature::sign_header(WAMEBO_SCHEME_SECRET.as_bytes(), &request.body)
    );

    let file = app.delivery_to("demo-file").await;
    let erp_delivery = app.delivery_to("demo-erp").await;
    assert_ne!(file.id, erp_delivery.id);
    assert_eq!(file.status, DeliveryStatus::Succeeded);
    assert_eq!(file.attempts, 1);
    assert_eq!(erp_delivery.status, DeliveryStatus::Succeeded);
    assert_eq!(erp_delivery.attempts, 1);
    assert_eq!(erp_delivery.remote_id.as_deref(), Some("ERP-77"));
    erp.verify().await;
}

#[tokio::test]
async fn erp_outage_does_not_repeat_file_write() {
    let erp = start_erp().await;
    post_order()
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance"))
        .up_to_n_times(3)
        .with_priority(1)
        .expect(3)
        .named("POST /api/orders while the ERP is down")
        .mount(&erp)
        .await;
    post_order()
        .respond_with(accepted())
        .expect(1)
        .named("POST /api/orders once the ERP is back")
        .mount(&erp)
        .await;
    let app = spawn_with_erp(&erp, &["order.created"], Signing::StandardWebhooks).await;

    let (status, answer) = app.post_signed_json(&fresh(DOCUMENTED_ORDER)).await;
    app.wait_for_settled(2).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.orders().len(), 1, "one line in the file");
    let file = app.delivery_to("demo-file").await;
    assert_eq!(file.attempts, 1);
    let erp_delivery = app.delivery_to("demo-erp").await;
    assert_eq!(erp_delivery.status, DeliveryStatus::Succeeded);
    assert_eq!(erp_delivery.attempts, 4);

    let requests = received(&erp).await;
    assert_eq!(requests.len(), 4);
    let key = SigningKey::parse(STANDARD_WEBHOOKS_SECRET).unwrap();
    let first_id = header_text(&requests[0], "webhook-id");
    for request in &requests {
        assert_eq!(header_text(request, "Idempotency-Key"), ORDER_KEY);
        assert_eq!(
            request.body, requests[0].body,
            "every attempt sends the same body"
        );
        let id = header_text(request, "webhook-id");
        assert_eq!(id, first_id, "webhook-id is stable across retries");
        let timestamp: i64 = header_text(request, "webhook-timestamp")
            .parse()
            .expect("webhook-timestamp is Unix seconds");
        let expected = key.sign(id, timestamp, &request.body).unwrap();
        assert_eq!(header_text(request, "webhook-signature"), expected);
    }
    erp.verify().await;
}

#[tokio::test]
async fn message_reaches_erp_byte_for_byte() {
    let erp = start_erp().await;
    let body = fresh(DOCUMENTED_MESSAGE);
    Mock::given(method("POST"))
        .and(path(ORDERS_PATH))
        .and(header("X-Wamebo-Event-Type", "message.received"))
        .and(header(
            "Idempotency-Key",
            "wamebo:demo:demo-erp:message:10452",
        ))
        .and(body_string(body.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "CRM-5"})))
        .expect(1)
        .named("POST /api/orders with the message body unchanged")
        .mount(&erp)
        .await;
    let app = spawn_with_erp(
        &erp,
        &["order.created", "message.received"],
        Signing::Wamebo,
    )
    .await;

    let (status, answer) = app.post_signed_json(&body).await;
    app.wait_for_settled(1).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "accepted");
    let deliveries = app.deliveries().await;
    assert_eq!(deliveries.len(), 1, "the file target receives orders only");
    assert_eq!(deliveries[0].target_id.as_str(), "demo-erp");
    assert_eq!(deliveries[0].status, DeliveryStatus::Succeeded);
    assert_eq!(deliveries[0].remote_id.as_deref(), Some("CRM-5"));
    assert!(app.orders().is_empty());
    let requests = received(&erp).await;
    assert_eq!(
        header_text(&requests[0], "X-Webhook-Signature"),
        wamebo_signature::sign_header(WAMEBO_SCHEME_SECRET.as_bytes(), body.as_bytes())
    );
    erp.verify().await;
}
