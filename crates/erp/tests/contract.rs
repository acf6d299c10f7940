//! Contract tests of the ERP target against a wiremock server standing in for
//! a merchant's ERP: the exact request for Wamebo's documented order 5542,
//! idempotency across retries, every class of response, both signing schemes
//! checked by recomputing them here, forwarding of `message.received`, and
//! reconciliation through a lookup URL.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wamebo_core::{
    classify, ClassifyPolicy, Delivered, DeliveryContext, DeliveryError, Order, OrderSink,
    ReasonCode, StoreId, TargetId,
};
use wamebo_erp::{ErpConfig, ErpSink};
use wiremock::matchers::{body_string, header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Wamebo's documented `order.created` example, as its webhook documentation
/// prints it.
const DOCUMENTED_ORDER: &str = r#"{
  "event": "order.created",
  "timestamp": "2026-05-27T14:30:22Z",
  "data": {
    "order_id": 5542,
    "meta_order_id": "wamid.HBgLOTE...",
    "customer": {
      "name": "Michael Smith",
      "phone_number": "15551234567"
    },
    "financials": {
      "total_amount": 250.00,
      "currency": "USD"
    },
    "items": [
      {
        "sku": "PROD-A1",
        "quantity": 2,
        "unit_price": 100.00
      },
      {
        "sku": "PROD-B2",
        "quantity": 1,
        "unit_price": 50.00
      }
    ]
  }
}"#;

/// Wamebo's documented `message.received` example.
const DOCUMENTED_MESSAGE: &str = r#"{
  "event": "message.received",
  "timestamp": "2026-05-27T10:15:00Z",
  "data": {
    "message_id": 10452,
    "contact": {
      "id": 8502,
      "name": "Jane Doe",
      "phone_number": "919876543210"
    },
    "message": {
      "type": "text",
      "body": "Hi, do you have this in stock?",
      "direction": "incoming"
    }
  }
}"#;

/// The canonical JSON of order 5542 for store `acme`, byte for byte.
const CANONICAL_5542: &str = concat!(
    r#"{"schema_version":1,"source":"wamebo","store_id":"acme","order_id":5542,"#,
    r#""meta_order_id":"wamid.HBgLOTE...","placed_at":"2026-05-27T14:30:22Z","currency":"USD","#,
    r#""total_amount":"250.00","customer":{"name":"Michael Smith","first_name":"Michael","#,
    r#""last_name":"Smith","phone":"+15551234567"},"items":[{"sku":"PROD-A1","quantity":2,"#,
    r#""unit_price":"100.00","line_total":"200.00"},{"sku":"PROD-B2","quantity":1,"#,
    r#""unit_price":"50.00","line_total":"50.00"}],"adjustment":null}"#
);

const KEY_5542: &str = "wamebo:acme:acme-erp:order:5542";

/// The Standard Webhooks test vector shared by the specification's reference
/// libraries (the "sign function works" test of
/// <https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/javascript/src/webhook.test.ts>).
const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const VECTOR_TIMESTAMP: &str = "1614265330";
const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn documented_order() -> Order {
    let now: DateTime<Utc> = "2026-05-27T14:31:00Z".parse().unwrap();
    let classified = classify(DOCUMENTED_ORDER.as_bytes(), &ClassifyPolicy::default(), now);
    classified
        .order()
        .expect("documented order is valid")
        .clone()
}

fn context(attempt: u32) -> DeliveryContext {
    DeliveryContext {
        store_id: StoreId::new("acme").unwrap(),
        target_id: TargetId::new("acme-erp").unwrap(),
        event_id: 1,
        delivery_id: 1,
        attempt,
        received_at: "2026-05-27T14:30:23Z".parse().unwrap(),
    }
}

/// Sets an environment variable for a secret and returns its `env:` reference.
fn secret_reference(name: &str, value: &str) -> String {
    std::env::set_var(name, value);
    format!("env:{name}")
}

/// Builds a sink for `acme-erp` whose `url` is `path` on the mock server,
/// with further TOML keys appended.
fn sink(server: &MockServer, url_path: &str, extra: &str) -> ErpSink {
    let text = format!(
        "url = \"{}{url_path}\"\nallow_insecure_http = true\nrequest_timeout = \"5s\"\n{extra}",
        server.uri()
    );
    let config: ErpConfig = toml::from_str(&text).unwrap();
    ErpSink::new(TargetId::new("acme-erp").unwrap(), config).unwrap()
}

fn header_text<'a>(request: &'a wiremock::Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("request has no {name} header"))
        .to_str()
        .unwrap()
}

/// Computes `sha256=<hex>` the way Wamebo documents it, independently of the
/// bridge's signature crate.
fn wamebo_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

/// Computes a Standard Webhooks `v1` signature independently of the bridge's
/// signature crate.
fn standard_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

fn assert_retry(
    result: Result<Delivered, DeliveryError>,
    reason: ReasonCode,
) -> (Option<Duration>, bool) {
    match result {
        Err(DeliveryError::Retry {
            reason: actual,
            retry_after,
            maybe_created,
            ..
        }) => {
            assert_eq!(actual, reason);
            (retry_after, maybe_created)
        }
        other => panic!("expected a retry with {reason}, got {other:?}"),
    }
}

fn assert_permanent(result: Result<Delivered, DeliveryError>, reason: ReasonCode) -> String {
    match result {
        Err(DeliveryError::Permanent {
            reason: actual,
            message,
        }) => {
            assert_eq!(actual, reason);
            message
        }
        other => panic!("expected a permanent {reason} failure, got {other:?}"),
    }
}

#[tokio::test]
async fn documented_order_sends_exact_request() {
    let server = MockServer::start().await;
    let token = secret_reference("WAMEBO_ERP_CONTRACT_TOKEN", "erp-t0ken");
    let sink = sink(
        &server,
        "/api/orders",
        &format!(
            "order_id_pointer = \"/id\"\n[headers]\nX-Tenant = \"acme\"\n[auth]\ntype = \"bearer\"\ntoken = \"{token}\""
        ),
    );
    Mock::given(method("POST"))
        .and(path("/api/orders"))
        .and(header("content-type", "application/json"))
        .and(header("accept", "application/json"))
        .and(header("authorization", "Bearer erp-t0ken"))
        .and(header("idempotency-key", KEY_5542))
        .and(header("x-wamebo-event-type", "order.created"))
        .and(header("x-wamebo-store-id", "acme"))
        .and(header("x-tenant", "acme"))
        .and(body_string(CANONICAL_5542))
        .respond_with(ResponseTemplate::new(201).set_body_string(r#"{"id":"SO-1001"}"#))
        .expect(1)
        .named("create order 5542")
        .mount(&server)
        .await;

    let delivered = sink
        .create_order(&context(1), &documented_order())
        .await
        .unwrap();

    assert_eq!(delivered.remote_id.as_deref(), Some("SO-1001"));
    assert_eq!(delivered.note, None);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(String::from_utf8_lossy(&requests[0].body), CANONICAL_5542);
    assert!(header_text(&requests[0], "user-agent").starts_with("wamebo-bridge/"));
    for absent in ["x-webhook-signature", "webhook-id", "webhook-signature"] {
        assert!(
            requests[0].headers.get(absent).is_none(),
            "unsigned request has {absent}"
        );
    }
}

#[tokio::test]
async fn retries_reuse_key_and_webhook_id() {
    let server = MockServer::start().await;
    let sink = sink(
        &server,
        "/api/orders/{order_id}",
        &format!(
            "method = \"PUT\"\nidempotency_key_format = \"sf-string\"\n[signing]\nscheme = \"standard-webhooks\"\nsecret = \"{}\"",
            secret_reference("WAMEBO_ERP_CONTRACT_RETRY_SECRET", VECTOR_SECRET)
        ),
    );
    Mock::given(method("PUT"))
        .and(path("/api/orders/5542"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .named("ERP unavailable twice")
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/orders/5542"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .named("ERP creates order on third attempt")
        .mount(&server)
        .await;
    let order = documented_order();

    let first = sink.create_order(&context(1), &order).await;
    let second = sink.create_order(&context(2), &order).await;
    let third = sink.create_order(&context(3), &order).await;

    assert_retry(first, ReasonCode::RemoteUnavailable);
    assert_retry(second, ReasonCode::RemoteUnavailable);
    assert_eq!(third.unwrap(), Delivered::default());
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let first_id = header_text(&requests[0], "webhook-id");
    for request in &requests {
        assert_eq!(
            header_text(request, "idempotency-key"),
            format!("\"{KEY_5542}\"")
        );
        assert_eq!(header_text(request, "webhook-id"), first_id);
        assert_eq!(request.body, CANONICAL_5542.as_bytes());
    }
}

#[tokio::test]
async fn conflict_then_created_succeeds() {
    let server = MockServer::start().await;
    let sink = sink(&server, "/api/orders", "");
    Mock::given(method("POST"))
        .and(path("/api/orders"))
        .and(header("idempotency-key", KEY_5542))
        .respond_with(
            ResponseTemplate::new(409).set_body_string(r#"{"title":"A request is outstanding"}"#),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .named("key in progress")
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/orders"))
        .and(header("idempotency-key", KEY_5542))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .named("created after conflict")
        .mount(&server)
        .await;
    let order = documented_order();

    let first = sink.create_order(&context(1), &order).await;
    let second = sink.create_order(&context(2), &order).await;

    let (_, maybe_created) = assert_retry(first, ReasonCode::RemoteUnavailable);
    assert!(
        maybe_created,
        "a 409 means the first request may still create the order"
    );
    assert!(second.is_ok(), "{second:?}");
}

#[tokio::test]
async fn unprocessable_is_remote_rejected() {
    let server = MockServer::start().await;
    let sink = sink(&server, "/api/orders", "");
    Mock::given(method("POST"))
        .and(path("/api/orders"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_string(r#"{"message":"unknown SKU PROD-A1","field":"items[0].sku"}"#),
        )
        .expect(1)
        .named("ERP rejects order")
        .mount(&server)
        .await;

    let result = sink.create_order(&context(1), &documented_order()).await;

    let message = assert_permanent(result, ReasonCode::RemoteRejected);
    assert!(message.contains("acme-erp"), "{message}");
    assert!(message.contains("order 5542"), "{message}");
    assert!(message.contains("422"), "{message}");
    assert!(message.contains("unknown SKU PROD-A1"), "{message}");
    assert!(!message.contains("Michael"), "{message}");
    assert!(!message.contains("5551234567"), "{message}");
}

#[tokio::test]
async fn unauthorized_is_auth_failed() {
    let server = MockServer::start().await;
    let token = secret_reference("WAMEBO_ERP_CONTRACT_WRONG_TOKEN", "wrong-t0ken");
    let sink = sink(
        &server,
        "/api/orders",
        &format!("[auth]\ntype = \"bearer\"\ntoken = \"{token}\""),
    );
    Mock::given(method("POST"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(401).set_body_string("invalid token"))
        .expect(1)
        .named("ERP rejects credentials")
        .mount(&server)
        .await;

    let result = sink.create_order(&context(1), &documented_order()).await;

    let message = assert_permanent(result, ReasonCode::AuthFailed);
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains("wrong-t0ken"), "{message}");
}

#[tokio::test]
async fn unavailable_honours_retry_after() {
    let server = MockServer::start().await;
    let sink = sink(&server, "/api/orders", "");
    Mock::given(method("POST"))
        .and(path("/api/orders"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "120"))
        .expect(1)
        .named("ERP asks to wait")
        .mount(&server)
        .await;

    let result = sink.create_order(&context(1), &documented_order()).await;

    let (retry_after, _) = assert_retry(result, ReasonCode::RemoteUnavailable);
    assert_eq!(retry_after, Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn wamebo_scheme_signature_verifies() {
    let server = MockServer::start().await;
    let secret = "wh_sec_erp_contract";
    let sink = sink(
        &server,
        "/api/orders",
        &format!(
            "[signing]\nscheme = \"wamebo\"\nsecret = \"{}\"",
            secret_reference("WAMEBO_ERP_CONTRACT_WAMEBO_SECRET", secret)
        ),
    );
    Mock::given(method("POST"))
        .and(path("/api/orders"))
        .and(header_exists("x-webhook-signature"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .named("signed order")
        .mount(&server)
        .await;

    sink.create_order(&context(1), &documented_order())
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(
        header_text(request, "x-webhook-signature"),
        wamebo_signature(secret, &request.body)
    );
    assert_eq!(request.body, CANONICAL_5542.as_bytes());
}

#[tokio::test]
async fn standard_webhooks_signature_verifies() {
    // The independent implementation must reproduce the published vector
    // before it can judge the sink.
    assert_eq!(
        standard_signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY),
        VECTOR_SIGNATURE
    );
    let server = MockServer::start().await;
    let sink = sink(
        &server,
        "/api/orders",
        &format!(
            "[signing]\nscheme = \"standard-webhooks\"\nsecret = \"{}\"",
            secret_reference("WAMEBO_ERP_CONTRACT_STANDARD_SECRET", VECTOR_SECRET)
        ),
    );
    Mock::given(method("POST"))
        .and(path("/api/orders"))
        .and(header_exists("webhook-id"))
        .and(header_exists("webhook-timestamp"))
        .and(header_exists("webhook-signature"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .named("standard webhooks order")
        .mount(&server)
        .await;

    sink.create_order(&context(1), &documented_order())
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    let id = header_text(request, "webhook-id");
    let timestamp = header_text(request, "webhook-timestamp");
    assert_eq!(
        header_text(request, "webhook-signature"),
        standard_signature(VECTOR_SECRET, id, timestamp, &request.body)
    );
    assert!(id.starts_with("msg_"), "{id}");
    assert!(!id.contains('.'), "{id}");
    let sent_at: i64 = timestamp.parse().unwrap();
    assert!(
        (Utc::now().timestamp() - sent_at).abs() <= 60,
        "timestamp {sent_at}"
    );
}

#[tokio::test]
async fn message_received_is_forwarded_unchanged() {
    let server = MockServer::start().await;
    let sink = sink(&server, "/api/events", "");
    Mock::given(method("POST"))
        .and(path("/api/events"))
        .and(header(
            "idempotency-key",
            "wamebo:acme:acme-erp:message:10452",
        ))
        .and(header("x-wamebo-event-type", "message.received"))
        .and(header("x-wamebo-store-id", "acme"))
        .and(header("content-type", "application/json"))
        .and(body_string(DOCUMENTED_MESSAGE))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .named("forwarded message")
        .mount(&server)
        .await;

    let delivered = sink
        .forward_event(
            &context(1),
            "message.received",
            DOCUMENTED_MESSAGE.as_bytes(),
        )
        .await
        .unwrap();

    assert_eq!(delivered, Delivered::default());
}

#[tokio::test]
async fn lookup_adopts_existing_order() {
    let server = MockServer::start().await;
    let sink = sink(
        &server,
        "/api/orders",
        &format!(
            "lookup_url = \"{}/api/stores/{{store_id}}/orders/{{order_id}}\"\norder_id_pointer = \"/order/number\"",
            server.uri()
        ),
    );
    Mock::given(method("GET"))
        .and(path("/api/stores/acme/orders/5542"))
        .and(header("idempotency-key", KEY_5542))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"order":{"number":"SO-77"}}"#))
        .expect(1)
        .named("ERP has order 5542")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/stores/acme/orders/5543"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .named("ERP lacks order 5543")
        .mount(&server)
        .await;
    let found_order = documented_order();
    let mut missing_order = documented_order();
    missing_order.order_id = 5543;

    let found = sink.find_existing(&context(2), &found_order).await.unwrap();
    let missing = sink
        .find_existing(&context(2), &missing_order)
        .await
        .unwrap();

    assert_eq!(
        found.and_then(|delivered| delivered.remote_id).as_deref(),
        Some("SO-77")
    );
    assert_eq!(missing, None);
}

#[tokio::test]
async fn without_lookup_nothing_is_found() {
    let server = MockServer::start().await;
    let sink = sink(&server, "/api/orders", "");
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .named("no lookup request")
        .mount(&server)
        .await;

    let found = sink
        .find_existing(&context(2), &documented_order())
        .await
        .unwrap();

    assert_eq!(found, None);
}

// The canonical order format's published schema, checked against real
// output of `CanonicalOrder`.

fn published_schema() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/canonical-order.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn schema_validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&published_schema())
        .unwrap()
}

/// Classifies an `order.created` body built from its parts and returns the
/// canonical JSON the bridge would send for store `acme`.
fn canonical_json(
    timestamp: Option<&str>,
    name: &str,
    financials: &str,
    items: &str,
    policy: ClassifyPolicy,
) -> serde_json::Value {
    let timestamp = timestamp
        .map(|at| format!(r#""timestamp":"{at}","#))
        .unwrap_or_default();
    let body = format!(
        r#"{{"event":"order.created",{timestamp}"data":{{"order_id":7001,"meta_order_id":"wamid.X","customer":{{"name":"{name}","phone_number":"919876543210"}},"financials":{financials},"items":{items}}}}}"#
    );
    let now: DateTime<Utc> = "2026-05-27T14:31:00Z".parse().unwrap();
    let classified = classify(body.as_bytes(), &policy, now);
    let order = classified
        .order()
        .unwrap_or_else(|| panic!("invalid test order: {:?}", classified.verdict));
    let canonical = wamebo_core::CanonicalOrder::from_order(&StoreId::new("acme").unwrap(), order);
    serde_json::to_value(canonical).unwrap()
}

fn canonical_5542() -> serde_json::Value {
    let order = documented_order();
    serde_json::to_value(wamebo_core::CanonicalOrder::from_order(
        &StoreId::new("acme").unwrap(),
        &order,
    ))
    .unwrap()
}

#[test]
fn canonical_orders_match_published_schema() {
    let adjust = ClassifyPolicy {
        total_mismatch: wamebo_core::TotalMismatchPolicy::Adjust,
        ..ClassifyPolicy::default()
    };
    let cases = [
        ("documented order 5542", canonical_5542()),
        (
            "yen without decimals",
            canonical_json(
                Some("2026-05-27T14:30:00+05:30"),
                "Aiko Tanaka",
                r#"{"total_amount":2500,"currency":"JPY"}"#,
                r#"[{"sku":"TEA-1","quantity":5,"unit_price":500}]"#,
                ClassifyPolicy::default(),
            ),
        ),
        (
            "dinar with three decimals",
            canonical_json(
                Some("2026-05-27T14:30:00Z"),
                "Cher",
                r#"{"total_amount":12.345,"currency":"KWD"}"#,
                r#"[{"sku":"OUD-9","quantity":1,"unit_price":12.345}]"#,
                ClassifyPolicy::default(),
            ),
        ),
        (
            "negative adjustment",
            canonical_json(
                Some("2026-05-27T14:30:00Z"),
                "Jane Doe",
                r#"{"total_amount":95.00,"currency":"USD"}"#,
                r#"[{"sku":"PROD-A1","quantity":1,"unit_price":100.00}]"#,
                adjust,
            ),
        ),
        (
            "no timestamp and no name",
            canonical_json(
                None,
                "",
                r#"{"total_amount":0,"currency":"EUR"}"#,
                r#"[{"sku":"FREE","quantity":1,"unit_price":0}]"#,
                ClassifyPolicy::default(),
            ),
        ),
    ];
    let validator = schema_validator();

    for (case, instance) in &cases {
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|error| error.to_string())
            .collect();
        assert!(errors.is_empty(), "{case}: {errors:?}\n{instance}");
    }
    assert_eq!(cases[1].1["total_amount"], "2500");
    assert_eq!(cases[2].1["items"][0]["unit_price"], "12.345");
    assert_eq!(cases[3].1["adjustment"], "-5.00");
    assert_eq!(cases[4].1["placed_at"], serde_json::Value::Null);
    assert_eq!(cases[4].1["total_amount"], "0.00");
}

#[test]
fn schema_lists_exactly_the_serialized_fields() {
    let schema = published_schema();
    let instance = canonical_5542();
    let keys = |value: &serde_json::Value| -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let names = |value: &serde_json::Value| -> Vec<String> {
        let mut names: Vec<String> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|name| name.as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let levels = [
        ("order", &schema, &instance),
        (
            "customer",
            &schema["$defs"]["customer"],
            &instance["customer"],
        ),
        ("item", &schema["$defs"]["item"], &instance["items"][0]),
    ];

    for (level, definition, serialized) in levels {
        assert_eq!(
            keys(&definition["properties"]),
            keys(serialized),
            "{level} properties"
        );
        assert_eq!(
            names(&definition["required"]),
            keys(serialized),
            "{level} required"
        );
        assert_eq!(definition["additionalProperties"], false, "{level}");
    }
}

#[test]
fn schema_rejects_broken_orders() {
    let validator = schema_validator();
    type Breakage = fn(&mut serde_json::Value);
    let broken: [(&str, Breakage); 10] = [
        ("missing field", |order| {
            order.as_object_mut().unwrap().remove("currency");
        }),
        ("unknown field", |order| order["discount"] = "1.00".into()),
        ("numeric amount", |order| {
            order["total_amount"] = serde_json::json!(250.0)
        }),
        ("negative total", |order| {
            order["total_amount"] = "-250.00".into()
        }),
        ("phone without plus", |order| {
            order["customer"]["phone"] = "15551234567".into()
        }),
        ("other schema version", |order| {
            order["schema_version"] = 2.into()
        }),
        ("zero quantity", |order| {
            order["items"][0]["quantity"] = 0.into()
        }),
        ("no items", |order| order["items"] = serde_json::json!([])),
        ("lower-case currency", |order| {
            order["currency"] = "usd".into()
        }),
        ("timestamp not a date", |order| {
            order["placed_at"] = "yesterday".into()
        }),
    ];

    for (case, break_order) in broken {
        let mut order = canonical_5542();
        break_order(&mut order);
        assert!(
            !validator.is_valid(&order),
            "schema accepted an order with {case}"
        );
    }
}

#[test]
fn format_page_documents_every_field() {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/canonical-order.md"
    ))
    .unwrap();
    let instance = canonical_5542();
    let mut fields: Vec<String> = instance.as_object().unwrap().keys().cloned().collect();
    fields.extend(
        instance["customer"]
            .as_object()
            .unwrap()
            .keys()
            .map(|key| format!("customer.{key}")),
    );
    fields.extend(
        instance["items"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(|key| format!("items[].{key}")),
    );

    for field in fields {
        assert!(
            page.contains(&format!("| `{field}` |")),
            "docs/canonical-order.md has no row for `{field}`"
        );
    }
}
