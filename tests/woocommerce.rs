//! The real application with the store `demo` routed to a stand-in
//! WooCommerce REST API: signed webhooks become exactly one WooCommerce
//! order, through duplicates and an outage.

use std::time::Duration;

use serde_json::{json, Value};
use wamebo_e2e::{fresh, spawn_app_with, TestApp, TestConfig, DOCUMENTED_ORDER};
use wamebo_store::DeliveryStatus;
use wiremock::matchers::{basic_auth, body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const API: &str = "/wp-json/wc/v3";
const CONSUMER_KEY: &str = "ck_end_to_end_key";
const CONSUMER_SECRET: &str = "cs_end_to_end_secret";
const WOOCOMMERCE_ORDER_ID: u64 = 9001;

/// Starts the application with `demo` routed only to the WooCommerce target
/// `demo-woo` at `shop`.
async fn spawn_with_shop(shop: &MockServer) -> TestApp {
    let config = TestConfig {
        store_targets: vec!["demo-woo".to_owned()],
        ..TestConfig::default()
    };
    let consumer_key = config.secret_file("wc-key", CONSUMER_KEY);
    let consumer_secret = config.secret_file("wc-secret", CONSUMER_SECRET);
    // Two requests of 1 s fit in the test lease of 3 s.
    let extra_targets = format!(
        r#"
[[targets]]
id = "demo-woo"
kind = "woocommerce"
base_url = "{base_url}"
allow_insecure_http = true
consumer_key = "{consumer_key}"
consumer_secret = "{consumer_secret}"
connect_timeout = "1s"
request_timeout = "1s"
"#,
        base_url = shop.uri(),
    );
    spawn_app_with(TestConfig {
        extra_targets,
        ..config
    })
    .await
}

/// Starts a stand-in shop whose catch-all fails the test on any request no
/// other mock expects.
async fn start_shop() -> MockServer {
    let shop = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "code": "rest_no_route",
            "message": "No route was found matching the URL and request method.",
            "data": {"status": 404}
        })))
        .with_priority(u8::MAX)
        .expect(0)
        .named("request no mock expects")
        .mount(&shop)
        .await;
    shop
}

/// Mounts the SKU search for the documented order's two SKUs, returning one
/// simple product each. Each is expected once, because the sink caches it.
async fn mount_products(shop: &MockServer) {
    for (sku, product_id) in [("PROD-A1", 11), ("PROD-B2", 12)] {
        Mock::given(method("GET"))
            .and(path(format!("{API}/products")))
            .and(query_param("sku", sku))
            .and(basic_auth(CONSUMER_KEY, CONSUMER_SECRET))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("X-WP-Total", "1")
                    .insert_header("X-WP-TotalPages", "1")
                    .set_body_json(json!([{
                        "id": product_id,
                        "parent_id": 0,
                        "sku": sku,
                        "type": "simple",
                        "price": "999.00"
                    }])),
            )
            .expect(1)
            .named(format!("GET /products?sku={sku}"))
            .mount(shop)
            .await;
    }
}

/// Returns the parts of the documented order's `POST /orders` body that
/// decide what the shop records: exact line totals, the phone and the
/// upstream ids.
fn documented_order_body() -> Value {
    json!({
        "status": "pending",
        "set_paid": false,
        "currency": "USD",
        "billing": {"first_name": "Michael", "last_name": "Smith", "phone": "+15551234567"},
        "line_items": [
            {"product_id": 11, "quantity": 2, "subtotal": "200.00", "total": "200.00"},
            {"product_id": 12, "quantity": 1, "subtotal": "50.00", "total": "50.00"}
        ],
        "meta_data": [
            {"key": "wamebo_order_id", "value": "5542"},
            {"key": "wamebo_meta_order_id", "value": "wamid.HBgLOTE..."},
            {"key": "wamebo_store_id", "value": "demo"}
        ]
    })
}

/// WooCommerce's `201 Created` response to the documented order.
fn created_order() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "id": WOOCOMMERCE_ORDER_ID,
        "status": "pending",
        "currency": "USD",
        "total": "250.00",
        "meta_data": [
            {"id": 1, "key": "wamebo_order_id", "value": "5542"},
            {"id": 2, "key": "wamebo_store_id", "value": "demo"}
        ]
    }))
}

fn post_orders() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(format!("{API}/orders")))
        .and(basic_auth(CONSUMER_KEY, CONSUMER_SECRET))
        .and(body_partial_json(documented_order_body()))
}

#[tokio::test]
async fn signed_order_creates_one_woocommerce_order() {
    let shop = start_shop().await;
    mount_products(&shop).await;
    post_orders()
        .respond_with(created_order())
        .expect(1)
        .named("POST /orders with the documented order")
        .mount(&shop)
        .await;
    let app = spawn_with_shop(&shop).await;

    let (status, answer) = app.post_signed_json(&fresh(DOCUMENTED_ORDER)).await;
    app.wait_for_settled(1).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "accepted");
    let delivery = app.delivery_to("demo-woo").await;
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    assert_eq!(
        delivery.remote_id.as_deref(),
        Some(WOOCOMMERCE_ORDER_ID.to_string().as_str())
    );
    assert_eq!(delivery.note, None, "the totals agree");
    assert!(app.orders().is_empty(), "the file target is not routed");
    shop.verify().await;
}

#[tokio::test]
async fn repeated_requests_create_one_woocommerce_order() {
    let shop = start_shop().await;
    mount_products(&shop).await;
    post_orders()
        .respond_with(created_order())
        .expect(1)
        .named("POST /orders once for six identical webhooks")
        .mount(&shop)
        .await;
    let app = spawn_with_shop(&shop).await;
    let body = fresh(DOCUMENTED_ORDER);
    let (first_status, first) = app.post_signed_json(&body).await;
    app.wait_for_settled(1).await;

    let mut repeats = Vec::new();
    for _ in 0..5 {
        repeats.push(app.post_signed_json(&body).await);
    }
    app.wait_for_settled(1).await;

    assert_eq!(first_status, 200, "{first}");
    assert_eq!(first["status"], "accepted");
    for (status, answer) in &repeats {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(answer["status"], "duplicate", "{answer}");
    }
    assert_eq!(app.events().await.len(), 1);
    assert_eq!(app.deliveries().await.len(), 1);
    let delivery = app.delivery_to("demo-woo").await;
    assert_eq!(delivery.attempts, 1);
    shop.verify().await;
}

#[tokio::test]
async fn outage_ends_in_one_woocommerce_order() {
    let shop = start_shop().await;
    mount_products(&shop).await;
    post_orders()
        .respond_with(
            ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
        )
        .up_to_n_times(3)
        .with_priority(1)
        .expect(3)
        .named("POST /orders while the shop is down")
        .mount(&shop)
        .await;
    post_orders()
        .respond_with(created_order())
        .expect(1)
        .named("POST /orders once the shop is back")
        .mount(&shop)
        .await;
    // A 503 may come after WooCommerce saved the order, so each attempt after
    // one searches the recent orders first, and finds none here.
    Mock::given(method("GET"))
        .and(path(format!("{API}/orders")))
        .and(query_param("dates_are_gmt", "true"))
        .and(basic_auth(CONSUMER_KEY, CONSUMER_SECRET))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-WP-Total", "0")
                .insert_header("X-WP-TotalPages", "1")
                .set_body_json(json!([])),
        )
        .expect(3)
        .named("GET /orders before each repeated create")
        .mount(&shop)
        .await;
    let app = spawn_with_shop(&shop).await;

    let (status, answer) = app.post_signed_json(&fresh(DOCUMENTED_ORDER)).await;
    app.wait_for_settled(1).await;

    assert_eq!(status, 200, "{answer}");
    let delivery = app.delivery_to("demo-woo").await;
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    assert_eq!(
        delivery.remote_id.as_deref(),
        Some(WOOCOMMERCE_ORDER_ID.to_string().as_str())
    );
    assert_eq!(delivery.attempts, 4);
    let outcomes: Vec<String> = app
        .attempts(delivery.id)
        .await
        .into_iter()
        .map(|attempt| attempt.outcome)
        .collect();
    assert_eq!(outcomes, ["retry", "retry", "retry", "succeeded"]);
    shop.verify().await;
}

#[tokio::test]
async fn unanswered_create_is_adopted_not_repeated() {
    let shop = start_shop().await;
    mount_products(&shop).await;
    // WooCommerce saves the order but responds after the bridge gave up, as
    // if the bridge had died before recording the create.
    post_orders()
        .respond_with(created_order().set_delay(Duration::from_millis(1500)))
        .expect(1)
        .named("POST /orders answered after request_timeout")
        .mount(&shop)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/orders")))
        .and(query_param("dates_are_gmt", "true"))
        .and(basic_auth(CONSUMER_KEY, CONSUMER_SECRET))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-WP-Total", "2")
                .insert_header("X-WP-TotalPages", "1")
                .set_body_json(json!([
                    {
                        "id": 8999,
                        "total": "10.00",
                        "meta_data": [
                            {"id": 7, "key": "wamebo_order_id", "value": "5542"},
                            {"id": 8, "key": "wamebo_store_id", "value": "another-store"}
                        ]
                    },
                    {
                        "id": WOOCOMMERCE_ORDER_ID,
                        "total": "250.00",
                        "meta_data": [
                            {"id": 1, "key": "wamebo_order_id", "value": "5542"},
                            {"id": 2, "key": "wamebo_store_id", "value": "demo"}
                        ]
                    }
                ])),
        )
        .expect(1)
        .named("GET /orders listing the unanswered order")
        .mount(&shop)
        .await;
    let app = spawn_with_shop(&shop).await;

    let (status, answer) = app.post_signed_json(&fresh(DOCUMENTED_ORDER)).await;
    app.wait_for_settled(1).await;

    assert_eq!(status, 200, "{answer}");
    let delivery = app.delivery_to("demo-woo").await;
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    assert_eq!(
        delivery.remote_id.as_deref(),
        Some(WOOCOMMERCE_ORDER_ID.to_string().as_str()),
        "the order of another store with the same order id is not adopted"
    );
    let outcomes: Vec<String> = app
        .attempts(delivery.id)
        .await
        .into_iter()
        .map(|attempt| attempt.outcome)
        .collect();
    assert_eq!(outcomes, ["retry", "adopted"]);
    shop.verify().await;
}
