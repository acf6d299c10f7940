//! Contract tests: the sink against a wiremock server that returns the
//! response shapes of the WooCommerce REST API v3 and checks its requests.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use wamebo_core::{
    classify, ClassifyPolicy, ConfigSecret, Delivered, DeliveryContext, DeliveryError, Order,
    OrderSink, ReasonCode, StoreId, TargetId, TotalMismatchPolicy,
};
use wamebo_woocommerce::{WooCommerceConfig, WooCommerceSink};
use wiremock::matchers::{basic_auth, body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const API: &str = "/wp-json/wc/v3";
const CONSUMER_KEY: &str = "ck_test_key";
const CONSUMER_SECRET: &str = "cs_test_secret";

/// Wamebo's documented `order.created` example.
const ORDER_5542: &str = r#"{
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

fn order_from(body: &str) -> Order {
    let policy = ClassifyPolicy {
        max_event_age: None,
        total_mismatch: TotalMismatchPolicy::Reject,
    };
    let classified = classify(body.as_bytes(), &policy, Utc::now());
    classified
        .order()
        .cloned()
        .unwrap_or_else(|| panic!("test order is invalid: {:?}", classified.verdict))
}

fn order_5542() -> Order {
    order_from(ORDER_5542)
}

/// Builds an order of one line: `quantity` units of `sku` at `unit_price`.
fn single_line_order(
    currency: &str,
    sku: &str,
    quantity: u32,
    unit_price: &str,
    total: &str,
) -> Order {
    order_from(&format!(
        r#"{{"event": "order.created", "timestamp": "2026-05-27T14:30:22Z", "data": {{
            "order_id": 6001, "meta_order_id": "wamid.TEST",
            "customer": {{"name": "Michael Smith", "phone_number": "15551234567"}},
            "financials": {{"total_amount": {total}, "currency": "{currency}"}},
            "items": [{{"sku": "{sku}", "quantity": {quantity}, "unit_price": {unit_price}}}]}}}}"#
    ))
}

fn received_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-27T14:30:23Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn context() -> DeliveryContext {
    DeliveryContext {
        store_id: StoreId::new("acme").unwrap(),
        target_id: TargetId::new("acme-woo").unwrap(),
        event_id: 1,
        delivery_id: 1,
        attempt: 1,
        received_at: received_at(),
    }
}

/// Builds a sink for `server` from the JSON form of the target's keys.
/// `extra` adds or overrides keys.
fn sink_with(server: &MockServer, extra: Value) -> WooCommerceSink {
    let mut keys = json!({
        "base_url": server.uri(),
        "allow_insecure_http": true,
        "consumer_key": "env:PATH",
        "consumer_secret": "env:PATH",
    });
    for (key, value) in extra.as_object().unwrap() {
        keys[key] = value.clone();
    }
    let mut config: WooCommerceConfig = serde_json::from_value(keys).unwrap();
    config.consumer_key = ConfigSecret::from_value("env:TEST_WC_KEY", CONSUMER_KEY);
    config.consumer_secret = ConfigSecret::from_value("env:TEST_WC_SECRET", CONSUMER_SECRET);
    WooCommerceSink::new(TargetId::new("acme-woo").unwrap(), config).unwrap()
}

fn sink(server: &MockServer) -> WooCommerceSink {
    sink_with(server, json!({}))
}

fn product(id: u64, sku: &str) -> Value {
    json!({"id": id, "parent_id": 0, "name": "Product", "sku": sku, "type": "simple", "price": "100.00"})
}

fn variation(id: u64, parent_id: u64, sku: &str) -> Value {
    json!({"id": id, "parent_id": parent_id, "name": "Variation", "sku": sku, "type": "variation", "price": "100.00"})
}

async fn mount_product_search(server: &MockServer, sku: &str, rows: Value) {
    Mock::given(method("GET"))
        .and(path(format!("{API}/products")))
        .and(query_param("sku", sku))
        .and(basic_auth(CONSUMER_KEY, CONSUMER_SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(rows))
        .expect(1)
        .named(format!("GET /products?sku={sku}"))
        .mount(server)
        .await;
}

async fn mount_variation_search(server: &MockServer, sku: &str, rows: Value) {
    Mock::given(method("GET"))
        .and(path(format!("{API}/variations")))
        .and(query_param("sku", sku))
        .respond_with(ResponseTemplate::new(200).set_body_json(rows))
        .expect(1)
        .named(format!("GET /variations?sku={sku}"))
        .mount(server)
        .await;
}

async fn mount_documented_products(server: &MockServer) {
    mount_product_search(server, "PROD-A1", json!([product(101, "PROD-A1")])).await;
    mount_product_search(server, "PROD-B2", json!([product(102, "PROD-B2")])).await;
}

fn meta(order_id: &str, store: &str) -> Value {
    json!([
        {"id": 1, "key": "wamebo_order_id", "value": order_id},
        {"id": 2, "key": "wamebo_meta_order_id", "value": "wamid.HBgLOTE..."},
        {"id": 3, "key": "wamebo_store_id", "value": store},
    ])
}

fn created_order(id: u64, total: &str) -> Value {
    json!({
        "id": id, "number": id.to_string(), "status": "pending", "currency": "USD",
        "total": total, "total_tax": "0.00", "created_via": "rest-api",
        "meta_data": meta("5542", "acme"),
    })
}

/// Returns the exact `POST /orders` body for order 5542 with products 101
/// and 102.
fn documented_body() -> Value {
    json!({
        "status": "pending",
        "set_paid": false,
        "currency": "USD",
        "billing": {"first_name": "Michael", "last_name": "Smith", "phone": "+15551234567"},
        "line_items": [
            {"product_id": 101, "quantity": 2, "subtotal": "200.00", "total": "200.00"},
            {"product_id": 102, "quantity": 1, "subtotal": "50.00", "total": "50.00"}
        ],
        "meta_data": [
            {"key": "wamebo_order_id", "value": "5542"},
            {"key": "wamebo_meta_order_id", "value": "wamid.HBgLOTE..."},
            {"key": "wamebo_store_id", "value": "acme"}
        ],
        "customer_note": "WhatsApp order 5542 received through Wamebo"
    })
}

fn post_orders(body: Value) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(format!("{API}/orders")))
        .and(basic_auth(CONSUMER_KEY, CONSUMER_SECRET))
        .and(body_json(body))
}

fn woocommerce_error(code: &str, message: &str, status: u16) -> Value {
    json!({"code": code, "message": message, "data": {"status": status}})
}

fn assert_retry(error: &DeliveryError, expected_reason: ReasonCode, expected_maybe_created: bool) {
    match error {
        DeliveryError::Retry {
            reason,
            maybe_created,
            ..
        } => {
            assert_eq!(*reason, expected_reason, "{error}");
            assert_eq!(
                *maybe_created, expected_maybe_created,
                "maybe_created of {error}"
            );
        }
        DeliveryError::Permanent { .. } => panic!("expected a retry, got {error}"),
    }
}

fn assert_permanent(error: &DeliveryError, expected_reason: ReasonCode) {
    match error {
        DeliveryError::Permanent { reason, .. } => assert_eq!(*reason, expected_reason, "{error}"),
        DeliveryError::Retry { .. } => panic!("expected a permanent error, got {error}"),
    }
}

#[tokio::test]
async fn documented_order_posts_exact_body() {
    let server = MockServer::start().await;
    mount_documented_products(&server).await;
    post_orders(documented_body())
        .and(query_param("dp", "2"))
        .respond_with(ResponseTemplate::new(201).set_body_json(created_order(727, "250.00")))
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;
    let sink = sink(&server);

    let delivered = sink.create_order(&context(), &order_5542()).await.unwrap();

    assert_eq!(
        delivered,
        Delivered {
            remote_id: Some("727".into()),
            note: None
        }
    );
    assert_eq!(sink.total_mismatches(), 0);
    assert_eq!(sink.kind(), "woocommerce");
}

#[tokio::test]
async fn resolved_skus_are_cached() {
    let server = MockServer::start().await;
    mount_documented_products(&server).await;
    post_orders(documented_body())
        .respond_with(ResponseTemplate::new(201).set_body_json(created_order(727, "250.00")))
        .expect(2)
        .named("POST /orders")
        .mount(&server)
        .await;
    let sink = sink(&server);

    sink.create_order(&context(), &order_5542()).await.unwrap();
    sink.create_order(&context(), &order_5542()).await.unwrap();
}

#[tokio::test]
async fn variation_sku_resolves_through_variation_route() {
    let server = MockServer::start().await;
    mount_product_search(&server, "SHIRT-RED-L", json!([])).await;
    mount_variation_search(
        &server,
        "SHIRT-RED-L",
        json!([variation(41, 40, "SHIRT-RED-L")]),
    )
    .await;
    let order = single_line_order("USD", "SHIRT-RED-L", 2, "15.50", "31.00");
    post_orders(json!({
        "status": "pending", "set_paid": false, "currency": "USD",
        "billing": {"first_name": "Michael", "last_name": "Smith", "phone": "+15551234567"},
        "line_items": [{"product_id": 40, "variation_id": 41, "quantity": 2, "subtotal": "31.00", "total": "31.00"}],
        "meta_data": [
            {"key": "wamebo_order_id", "value": "6001"},
            {"key": "wamebo_meta_order_id", "value": "wamid.TEST"},
            {"key": "wamebo_store_id", "value": "acme"}
        ],
        "customer_note": "WhatsApp order 6001 received through Wamebo"
    }))
    .respond_with(ResponseTemplate::new(201).set_body_json(created_order(728, "31.00")))
    .expect(1)
    .named("POST /orders")
    .mount(&server)
    .await;

    let delivered = sink(&server)
        .create_order(&context(), &order)
        .await
        .unwrap();

    assert_eq!(delivered.remote_id.as_deref(), Some("728"));
}

#[tokio::test]
async fn variation_in_product_search_uses_parent() {
    let server = MockServer::start().await;
    mount_product_search(
        &server,
        "SHIRT-RED-L",
        json!([variation(41, 40, "SHIRT-RED-L")]),
    )
    .await;
    let order = single_line_order("USD", "SHIRT-RED-L", 1, "15.50", "15.50");
    Mock::given(method("POST"))
        .and(path(format!("{API}/orders")))
        .and(wiremock::matchers::body_partial_json(json!({
            "line_items": [{"product_id": 40, "variation_id": 41, "quantity": 1, "subtotal": "15.50", "total": "15.50"}]
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(created_order(729, "15.50")))
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;

    let delivered = sink(&server)
        .create_order(&context(), &order)
        .await
        .unwrap();

    assert_eq!(delivered.remote_id.as_deref(), Some("729"));
}

#[tokio::test]
async fn variation_found_by_scan_without_variation_route() {
    let server = MockServer::start().await;
    mount_product_search(&server, "SHIRT-RED-L", json!([])).await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/variations")))
        .respond_with(ResponseTemplate::new(404).set_body_json(woocommerce_error(
            "rest_no_route",
            "No route was found matching the URL and request method.",
            404,
        )))
        .expect(1)
        .named("GET /variations on WooCommerce before 10.3")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/products")))
        .and(query_param("type", "variable"))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-WP-Total", "2")
                .insert_header("X-WP-TotalPages", "1")
                .set_body_json(json!([{"id": 30, "type": "variable", "sku": "MUG"}, {"id": 40, "type": "variable", "sku": "SHIRT"}])),
        )
        .expect(1)
        .named("GET /products?type=variable")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/products/30/variations")))
        .and(query_param("sku", "SHIRT-RED-L"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .named("GET /products/30/variations")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/products/40/variations")))
        .and(query_param("sku", "SHIRT-RED-L"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"id": 41, "sku": "SHIRT-RED-L"}])),
        )
        .expect(1)
        .named("GET /products/40/variations")
        .mount(&server)
        .await;
    let order = single_line_order("USD", "SHIRT-RED-L", 1, "15.50", "15.50");
    Mock::given(method("POST"))
        .and(path(format!("{API}/orders")))
        .and(wiremock::matchers::body_partial_json(json!({
            "line_items": [{"product_id": 40, "variation_id": 41, "quantity": 1, "subtotal": "15.50", "total": "15.50"}]
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(created_order(730, "15.50")))
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;

    let delivered = sink(&server)
        .create_order(&context(), &order)
        .await
        .unwrap();

    assert_eq!(delivered.remote_id.as_deref(), Some("730"));
}

#[tokio::test]
async fn unknown_sku_is_dead_letter() {
    let server = MockServer::start().await;
    mount_product_search(&server, "PROD-A1", json!([product(101, "PROD-A1")])).await;
    // A case-insensitive database match on another SKU does not count.
    mount_product_search(&server, "PROD-B2", json!([product(102, "prod-b2")])).await;
    mount_variation_search(&server, "PROD-B2", json!([])).await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/orders")))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .named("POST /orders")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &order_5542())
        .await
        .unwrap_err();

    assert_permanent(&error, ReasonCode::SkuNotFound);
    assert!(error.to_string().contains("`PROD-B2`"), "{error}");
    assert!(error.to_string().contains("acme-woo"), "{error}");
}

#[tokio::test]
async fn ambiguous_sku_is_dead_letter() {
    let server = MockServer::start().await;
    mount_product_search(
        &server,
        "PROD-A1",
        json!([product(101, "PROD-A1"), variation(121, 120, "PROD-A1")]),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/orders")))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .named("POST /orders")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &order_5542())
        .await
        .unwrap_err();

    assert_permanent(&error, ReasonCode::SkuAmbiguous);
    assert!(error.to_string().contains("`PROD-A1`"), "{error}");
    assert!(
        error.to_string().contains("variation 121 of product 120"),
        "{error}"
    );
}

#[tokio::test]
async fn sku_map_skips_or_redirects_lookup() {
    let server = MockServer::start().await;
    mount_product_search(&server, "WC-B2", json!([product(202, "WC-B2")])).await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/orders")))
        .and(wiremock::matchers::body_partial_json(json!({
            "line_items": [
                {"product_id": 500, "variation_id": 501, "quantity": 2, "subtotal": "200.00", "total": "200.00"},
                {"product_id": 202, "quantity": 1, "subtotal": "50.00", "total": "50.00"}
            ]
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(created_order(731, "250.00")))
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;
    let sink = sink_with(
        &server,
        json!({"sku_map": {"PROD-A1": {"product_id": 500, "variation_id": 501}, "PROD-B2": "WC-B2"}}),
    );

    let delivered = sink.create_order(&context(), &order_5542()).await.unwrap();

    assert_eq!(delivered.remote_id.as_deref(), Some("731"));
}

#[tokio::test]
async fn unauthorized_is_auth_failed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/products")))
        .respond_with(ResponseTemplate::new(401).set_body_json(woocommerce_error(
            "woocommerce_rest_cannot_view",
            "Sorry, you cannot list resources.",
            401,
        )))
        .expect(1)
        .named("GET /products")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &order_5542())
        .await
        .unwrap_err();

    assert_permanent(&error, ReasonCode::AuthFailed);
    let message = error.to_string();
    assert!(
        message.contains("woocommerce_rest_cannot_view"),
        "{message}"
    );
    assert!(!message.contains(CONSUMER_SECRET), "{message}");
    assert!(!message.contains(CONSUMER_KEY), "{message}");
}

#[tokio::test]
async fn bad_request_carries_woocommerce_code() {
    let server = MockServer::start().await;
    mount_documented_products(&server).await;
    post_orders(documented_body())
        .respond_with(ResponseTemplate::new(400).set_body_json(woocommerce_error(
            "woocommerce_rest_invalid_product_id",
            "Product ID 101 is invalid.",
            400,
        )))
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &order_5542())
        .await
        .unwrap_err();

    assert_permanent(&error, ReasonCode::RemoteRejected);
    let message = error.to_string();
    assert!(
        message.contains("woocommerce_rest_invalid_product_id"),
        "{message}"
    );
    assert!(message.contains("Product ID 101 is invalid."), "{message}");
    assert!(message.contains("400"), "{message}");
}

#[tokio::test]
async fn unavailable_then_created() {
    let server = MockServer::start().await;
    mount_documented_products(&server).await;
    post_orders(documented_body())
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string("<html><body>Service Unavailable</body></html>"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .named("POST /orders answering 503")
        .mount(&server)
        .await;
    post_orders(documented_body())
        .respond_with(ResponseTemplate::new(201).set_body_json(created_order(727, "250.00")))
        .expect(1)
        .named("POST /orders answering 201")
        .mount(&server)
        .await;
    let sink = sink(&server);

    let first = sink
        .create_order(&context(), &order_5542())
        .await
        .unwrap_err();
    let second = sink.create_order(&context(), &order_5542()).await.unwrap();

    assert_retry(&first, ReasonCode::RemoteUnavailable, true);
    assert!(first.to_string().contains("503"), "{first}");
    assert!(first.to_string().contains("Service Unavailable"), "{first}");
    assert_eq!(second.remote_id.as_deref(), Some("727"));
}

#[tokio::test]
async fn throttling_honours_retry_after() {
    let server = MockServer::start().await;
    mount_documented_products(&server).await;
    post_orders(documented_body())
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "30")
                .set_body_json(woocommerce_error(
                    "rest_too_many_requests",
                    "Too many requests.",
                    429,
                )),
        )
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &order_5542())
        .await
        .unwrap_err();

    assert_retry(&error, ReasonCode::RemoteThrottled, false);
    let DeliveryError::Retry { retry_after, .. } = error else {
        unreachable!()
    };
    assert_eq!(retry_after, Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn slow_server_times_out_as_maybe_created() {
    let server = MockServer::start().await;
    mount_documented_products(&server).await;
    post_orders(documented_body())
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(created_order(727, "250.00"))
                .set_delay(Duration::from_secs(5)),
        )
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;
    let sink = sink_with(
        &server,
        json!({"connect_timeout": "200ms", "request_timeout": "700ms"}),
    );
    let started = Instant::now();

    let error = sink
        .create_order(&context(), &order_5542())
        .await
        .unwrap_err();

    assert_retry(&error, ReasonCode::RemoteUnavailable, true);
    assert!(error.to_string().contains("timed out"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(sink.request_timeout(), Duration::from_millis(700));
}

#[tokio::test]
async fn refused_connection_created_nothing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut sink_config: WooCommerceConfig = serde_json::from_value(json!({
        "base_url": format!("http://{address}"),
        "allow_insecure_http": true,
        "consumer_key": "env:PATH",
        "consumer_secret": "env:PATH",
        "sku_map": {"PROD-A1": 101, "PROD-B2": 102},
    }))
    .unwrap();
    sink_config.consumer_key = ConfigSecret::from_value("env:TEST_WC_KEY", CONSUMER_KEY);
    let sink = WooCommerceSink::new(TargetId::new("acme-woo").unwrap(), sink_config).unwrap();

    let error = sink
        .create_order(&context(), &order_5542())
        .await
        .unwrap_err();

    assert_retry(&error, ReasonCode::RemoteUnavailable, false);
    assert!(error.to_string().contains("could not connect"), "{error}");
}

#[tokio::test]
async fn changed_total_is_noted_and_counted() {
    let server = MockServer::start().await;
    mount_documented_products(&server).await;
    post_orders(documented_body())
        .respond_with(ResponseTemplate::new(201).set_body_json(created_order(727, "275.00")))
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;
    let sink = sink(&server);

    let delivered = sink.create_order(&context(), &order_5542()).await.unwrap();

    assert_eq!(delivered.remote_id.as_deref(), Some("727"));
    let note = delivered.note.expect("a total difference is noted");
    assert!(note.contains("275.00 USD"), "{note}");
    assert!(note.contains("250.00 USD"), "{note}");
    assert_eq!(sink.total_mismatches(), 1);
}

#[tokio::test]
async fn non_json_answer_is_invalid_response() {
    let server = MockServer::start().await;
    mount_documented_products(&server).await;
    post_orders(documented_body())
        .respond_with(
            ResponseTemplate::new(201).set_body_string("<html><body>Order received</body></html>"),
        )
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &order_5542())
        .await
        .unwrap_err();

    assert_retry(&error, ReasonCode::InvalidResponse, true);
    let message = error.to_string();
    assert!(message.contains("201"), "{message}");
    assert!(message.contains("<html><body>Order received"), "{message}");
}

#[tokio::test]
async fn reconciliation_finds_order_on_second_page() {
    let server = MockServer::start().await;
    let other_order = json!({"id": 800, "total": "10.00", "meta_data": []});
    let other_store =
        json!({"id": 801, "total": "250.00", "meta_data": meta("5542", "other-store")});
    let ours = json!({"id": 727, "total": "250.00", "meta_data": meta("5542", "acme")});
    for (page, orders) in [
        ("1", json!([other_order, other_store])),
        ("2", json!([ours])),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("{API}/orders")))
            .and(basic_auth(CONSUMER_KEY, CONSUMER_SECRET))
            .and(query_param("after", "2026-05-27T14:15:23"))
            .and(query_param("dates_are_gmt", "true"))
            .and(query_param("per_page", "2"))
            .and(query_param("page", page))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("X-WP-Total", "3")
                    .insert_header("X-WP-TotalPages", "2")
                    .set_body_json(orders),
            )
            .expect(1)
            .named(format!("GET /orders page {page}"))
            .mount(&server)
            .await;
    }
    let sink = sink_with(&server, json!({"reconcile_page_size": 2}));

    let found = sink.find_existing(&context(), &order_5542()).await.unwrap();

    assert_eq!(
        found,
        Some(Delivered {
            remote_id: Some("727".into()),
            note: None
        })
    );
}

#[tokio::test]
async fn reconciliation_without_match_finds_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/orders")))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-WP-TotalPages", "1")
                .set_body_json(
                    json!([{"id": 800, "total": "10.00", "meta_data": meta("5541", "acme")}]),
                ),
        )
        .expect(1)
        .named("GET /orders page 1")
        .mount(&server)
        .await;

    let found = sink(&server)
        .find_existing(&context(), &order_5542())
        .await
        .unwrap();

    assert_eq!(found, None);
}

#[tokio::test]
async fn reconciliation_page_limit_is_dead_letter() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/orders")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-WP-TotalPages", "9")
                .set_body_json(json!([{"id": 800, "total": "10.00", "meta_data": []}])),
        )
        .expect(2)
        .named("GET /orders")
        .mount(&server)
        .await;
    let sink = sink_with(
        &server,
        json!({"reconcile_page_size": 1, "reconcile_max_pages": 2}),
    );

    let error = sink
        .find_existing(&context(), &order_5542())
        .await
        .unwrap_err();

    assert_permanent(&error, ReasonCode::RetriesExhausted);
    assert!(error.to_string().contains("reconcile_max_pages"), "{error}");
}

#[tokio::test]
async fn failed_reconciliation_keeps_question_open() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/orders")))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .named("GET /orders")
        .mount(&server)
        .await;

    let error = sink(&server)
        .find_existing(&context(), &order_5542())
        .await
        .unwrap_err();

    assert_retry(&error, ReasonCode::RemoteUnavailable, true);
}

#[tokio::test]
async fn yen_order_posts_whole_amounts() {
    let server = MockServer::start().await;
    mount_product_search(&server, "TEA-JP", json!([product(301, "TEA-JP")])).await;
    let order = single_line_order("JPY", "TEA-JP", 2, "1250", "2500");
    Mock::given(method("POST"))
        .and(path(format!("{API}/orders")))
        .and(query_param("dp", "0"))
        .and(wiremock::matchers::body_partial_json(json!({
            "currency": "JPY",
            "line_items": [{"product_id": 301, "quantity": 2, "subtotal": "2500", "total": "2500"}]
        })))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 732, "total": "2500", "meta_data": []})),
        )
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;

    let delivered = sink(&server)
        .create_order(&context(), &order)
        .await
        .unwrap();

    assert_eq!(delivered.note, None);
}

#[tokio::test]
async fn dinar_order_posts_three_decimals() {
    let server = MockServer::start().await;
    mount_product_search(&server, "DATES-KW", json!([product(302, "DATES-KW")])).await;
    let order = single_line_order("KWD", "DATES-KW", 1, "12.345", "12.345");
    Mock::given(method("POST"))
        .and(path(format!("{API}/orders")))
        .and(query_param("dp", "3"))
        .and(wiremock::matchers::body_partial_json(json!({
            "currency": "KWD",
            "line_items": [{"product_id": 302, "quantity": 1, "subtotal": "12.345", "total": "12.345"}]
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 733, "total": "12.345", "meta_data": []})))
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;

    let delivered = sink(&server)
        .create_order(&context(), &order)
        .await
        .unwrap();

    assert_eq!(delivered.note, None);
}

#[tokio::test]
async fn customer_found_by_phone_is_attached() {
    let server = MockServer::start().await;
    mount_documented_products(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers")))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-WP-TotalPages", "1")
                .set_body_json(json!([
                    {"id": 8, "billing": {"phone": "(555) 123-4567"}},
                    {"id": 9, "billing": {"phone": "+1 555-123-4567"}},
                    {"id": 10, "billing": {"phone": "+44 20 7946 0958"}}
                ])),
        )
        .expect(1)
        .named("GET /customers")
        .mount(&server)
        .await;
    let mut body = documented_body();
    body["customer_id"] = json!(9);
    post_orders(body)
        .respond_with(ResponseTemplate::new(201).set_body_json(created_order(727, "250.00")))
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;
    let sink = sink_with(&server, json!({"customer_lookup_by_phone": true}));

    let delivered = sink.create_order(&context(), &order_5542()).await.unwrap();

    assert_eq!(delivered.remote_id.as_deref(), Some("727"));
}

#[tokio::test]
async fn configured_status_and_payment_are_posted() {
    let server = MockServer::start().await;
    mount_documented_products(&server).await;
    let mut body = documented_body();
    body["status"] = json!("on-hold");
    body["set_paid"] = json!(true);
    post_orders(body)
        .respond_with(ResponseTemplate::new(201).set_body_json(created_order(727, "250.00")))
        .expect(1)
        .named("POST /orders")
        .mount(&server)
        .await;
    let sink = sink_with(
        &server,
        json!({"status": "on-hold", "set_paid": true, "reduce_stock": true}),
    );

    sink.create_order(&context(), &order_5542()).await.unwrap();
}

#[tokio::test]
async fn sink_debug_hides_secrets() {
    let server = MockServer::start().await;

    let text = format!("{:?}", sink(&server));

    assert!(!text.contains(CONSUMER_SECRET), "{text}");
    assert!(!text.contains(CONSUMER_KEY), "{text}");
}
