//! The real application, and the real binary, with the store `demo` routed
//! to a stand-in Shopify Admin GraphQL API: one signed webhook becomes one
//! `orderCreate`, through duplicates and through a crash between Shopify's
//! create and the bridge's commit.

use std::time::Duration;

use serde_json::{json, Value};
use wamebo_e2e::{
    fresh, sign, spawn_app_with, wait_until, BridgeProcess, TestApp, TestConfig, DOCUMENTED_ORDER,
    SECRET,
};
use wamebo_store::{DeliveryFilter, DeliveryStatus, SqliteOptions, SqliteStore, Store};
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockBuilder, MockServer, Request, ResponseTemplate};

const ACCESS_TOKEN: &str = "shpat_end_to_end_token";
const ENDPOINT: &str = "/admin/api/2026-10/graphql.json";
const SHOPIFY_ORDER: &str = "gid://shopify/Order/9001";

/// The target's `request_timeout`; two of them fit in the test lease of 3 s.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The `request_timeout` and `dispatch.lease` of the test that kills the
/// bridge. They are longer than the others, so a busy machine cannot let the
/// attempt time out on its own before the kill.
const KILLED_REQUEST_TIMEOUT: Duration = Duration::from_millis(2500);
const KILLED_LEASE: Duration = Duration::from_secs(6);

/// Matches a GraphQL request by its operation name and by variables at
/// JSON pointers.
#[derive(Debug, Clone)]
struct Operation {
    name: &'static str,
    variables: Vec<(&'static str, Value)>,
}

fn operation(name: &'static str) -> Operation {
    Operation {
        name,
        variables: Vec::new(),
    }
}

impl Operation {
    fn variable(mut self, pointer: &'static str, value: Value) -> Self {
        self.variables.push((pointer, value));
        self
    }
}

impl Match for Operation {
    fn matches(&self, request: &Request) -> bool {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return false;
        };
        body["operationName"] == self.name
            && self
                .variables
                .iter()
                .all(|(pointer, expected)| body["variables"].pointer(pointer) == Some(expected))
    }
}

/// Starts a mock for one operation on the endpoint, sent with the token.
fn shopify(operation: Operation) -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("X-Shopify-Access-Token", ACCESS_TOKEN))
        .and(operation)
}

/// Builds a 200 response carrying `data` and a query cost far below the
/// limit.
fn data(data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "data": data,
        "extensions": {"cost": {
            "requestedQueryCost": 10.0,
            "actualQueryCost": 10.0,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": 1990.0,
                "restoreRate": 100.0
            }
        }}
    }))
}

fn order_node() -> Value {
    json!({
        "id": SHOPIFY_ORDER,
        "name": "#1001",
        "totalPriceSet": {
            "shopMoney": {"amount": "250.0", "currencyCode": "USD"},
            "presentmentMoney": {"amount": "250.0", "currencyCode": "USD"}
        }
    })
}

/// Starts the stand-in with a catch-all that fails the test on any request
/// no other mock expects.
async fn start_shop() -> MockServer {
    let shop = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(404))
        .with_priority(u8::MAX)
        .expect(0)
        .named("request no mock expects")
        .mount(&shop)
        .await;
    shop
}

/// Mounts what precedes `orderCreate`: the shop's settings (read once per
/// process, so `setups` times), both SKUs (cached after the first order)
/// and the existing customer for the documented phone.
async fn mount_lookups(shop: &MockServer, setups: u64) {
    shopify(operation("ShopSetup"))
        .respond_with(data(json!({
            "shop": {"currencyCode": "USD"},
            "metafieldDefinition": {
                "id": "gid://shopify/MetafieldDefinition/1",
                "type": {"name": "id"}
            }
        })))
        .expect(setups)
        .named("ShopSetup")
        .mount(shop)
        .await;
    for (sku, variant) in [
        ("PROD-A1", "gid://shopify/ProductVariant/101"),
        ("PROD-B2", "gid://shopify/ProductVariant/202"),
    ] {
        shopify(operation("VariantsBySku").variable("/query", json!(format!("sku:\"{sku}\""))))
            .respond_with(data(json!({
                "productVariants": {"nodes": [{"id": variant, "sku": sku}]}
            })))
            .expect(1)
            .named(format!("VariantsBySku {sku}"))
            .mount(shop)
            .await;
    }
    shopify(operation("CustomerByPhone").variable("/phone", json!("+15551234567")))
        .respond_with(data(json!({
            "customerByIdentifier": {"id": "gid://shopify/Customer/301"}
        })))
        .expect(1)
        .named("CustomerByPhone")
        .mount(shop)
        .await;
}

/// Matches the documented order's `orderCreate`: exact unit prices, the
/// E.164 phone and the custom id `demo-5542`.
fn order_create() -> MockBuilder {
    shopify(
        operation("OrderCreate")
            .variable("/order/currency", json!("USD"))
            .variable("/order/phone", json!("+15551234567"))
            .variable(
                "/order/lineItems/0/priceSet/shopMoney/amount",
                json!("100.00"),
            )
            .variable("/order/lineItems/0/quantity", json!(2))
            .variable(
                "/order/lineItems/1/priceSet/shopMoney/amount",
                json!("50.00"),
            )
            .variable("/order/metafields/0/value", json!("demo-5542")),
    )
}

fn created() -> ResponseTemplate {
    data(json!({"orderCreate": {"order": order_node(), "userErrors": []}}))
}

/// Mounts the custom-id lookup for the documented order, returning the order
/// that the earlier, unanswered `orderCreate` made.
async fn mount_order_lookup(shop: &MockServer) {
    shopify(
        operation("OrderByCustomId")
            .variable("/namespace", json!("wamebo"))
            .variable("/key", json!("order_id"))
            .variable("/value", json!("demo-5542")),
    )
    .respond_with(data(json!({"orderByIdentifier": order_node()})))
    .expect(1)
    .named("OrderByCustomId demo-5542")
    .mount(shop)
    .await;
}

/// Returns a configuration with `demo` routed only to the Shopify target
/// `demo-shopify` at `shop`, on top of `base`.
fn config_for(shop: &MockServer, base: TestConfig, request_timeout: Duration) -> TestConfig {
    let config = TestConfig {
        store_targets: vec!["demo-shopify".to_owned()],
        ..base
    };
    let access_token = config.secret_file("shopify-token", ACCESS_TOKEN);
    let extra_targets = format!(
        r#"
[[targets]]
id = "demo-shopify"
kind = "shopify"
shop_domain = "demo.myshopify.com"
access_token = "{access_token}"
base_url = "{base_url}"
allow_insecure_http = true
connect_timeout = "1s"
request_timeout = "{request_timeout}ms"
"#,
        base_url = shop.uri(),
        request_timeout = request_timeout.as_millis(),
    );
    TestConfig {
        extra_targets,
        ..config
    }
}

async fn spawn_with_shop(shop: &MockServer) -> TestApp {
    spawn_app_with(config_for(shop, TestConfig::default(), REQUEST_TIMEOUT)).await
}

/// Counts the requests of one operation that reached the stand-in.
async fn requests_of(shop: &MockServer, name: &'static str) -> usize {
    shop.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| operation(name).matches(request))
        .count()
}

#[tokio::test]
async fn signed_order_creates_one_shopify_order() {
    let shop = start_shop().await;
    mount_lookups(&shop, 1).await;
    order_create()
        .respond_with(created())
        .expect(1)
        .named("OrderCreate for the documented order")
        .mount(&shop)
        .await;
    let app = spawn_with_shop(&shop).await;

    let (status, answer) = app.post_signed_json(&fresh(DOCUMENTED_ORDER)).await;
    app.wait_for_settled(1).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "accepted");
    let delivery = app.delivery_to("demo-shopify").await;
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    assert_eq!(delivery.remote_id.as_deref(), Some(SHOPIFY_ORDER));
    assert_eq!(delivery.note, None, "the totals agree");
    shop.verify().await;
}

#[tokio::test]
async fn repeated_requests_create_one_shopify_order() {
    let shop = start_shop().await;
    mount_lookups(&shop, 1).await;
    order_create()
        .respond_with(created())
        .expect(1)
        .named("OrderCreate once for six identical webhooks")
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
    assert_eq!(app.deliveries().await.len(), 1);
    assert_eq!(app.delivery_to("demo-shopify").await.attempts, 1);
    shop.verify().await;
}

#[tokio::test]
async fn unanswered_create_is_adopted_not_repeated() {
    let shop = start_shop().await;
    mount_lookups(&shop, 1).await;
    // Shopify creates the order but responds after the bridge gave up, as if
    // the bridge had died before recording the create.
    order_create()
        .respond_with(created().set_delay(REQUEST_TIMEOUT * 3 / 2))
        .expect(1)
        .named("OrderCreate answered after request_timeout")
        .mount(&shop)
        .await;
    mount_order_lookup(&shop).await;
    let app = spawn_with_shop(&shop).await;

    let (status, answer) = app.post_signed_json(&fresh(DOCUMENTED_ORDER)).await;
    app.wait_for_settled(1).await;

    assert_eq!(status, 200, "{answer}");
    let delivery = app.delivery_to("demo-shopify").await;
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    assert_eq!(delivery.remote_id.as_deref(), Some(SHOPIFY_ORDER));
    let attempts = app.attempts(delivery.id).await;
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|attempt| attempt.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["retry", "adopted"]);
    shop.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_bridge_adopts_order_after_restart() {
    let shop = start_shop().await;
    // Each process reads the shop's settings once.
    mount_lookups(&shop, 2).await;
    order_create()
        .respond_with(created().set_delay(KILLED_LEASE))
        .expect(1)
        .named("OrderCreate sent by the process that is killed")
        .mount(&shop)
        .await;
    mount_order_lookup(&shop).await;
    let base = TestConfig {
        lease: KILLED_LEASE,
        call_timeout: KILLED_LEASE - Duration::from_secs(1),
        ..TestConfig::default()
    };
    let config = config_for(&shop, base, KILLED_REQUEST_TIMEOUT);
    let config_path = config.write();
    let body = fresh(DOCUMENTED_ORDER);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let first = BridgeProcess::start(&config_path);
    let response = client
        .post(format!("{}/webhooks/demo", first.address))
        .header("X-Webhook-Signature", sign(SECRET, body.as_bytes()))
        .body(body.clone())
        .send()
        .await
        .expect("the webhook request completes");
    assert_eq!(response.status().as_u16(), 200);
    wait_until(
        "the orderCreate request at the stand-in",
        Duration::from_secs(20),
        || async { requests_of(&shop, "OrderCreate").await == 1 },
    )
    .await;
    first.kill();

    let second = BridgeProcess::start(&config_path);
    // The killed process's lease expires after KILLED_LEASE; the next claim
    // looks the order up before anything else.
    wait_until(
        "the custom-id lookup at the stand-in",
        Duration::from_secs(20),
        || async { requests_of(&shop, "OrderByCustomId").await == 1 },
    )
    .await;
    let status = second.terminate(Duration::from_secs(30));

    assert!(status.success(), "the second bridge exited with {status}");
    let store = SqliteStore::open(
        &config.database_path().to_string_lossy(),
        SqliteOptions::default(),
    )
    .expect("the database opens");
    let deliveries = store
        .list_deliveries(DeliveryFilter {
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    let delivery = &deliveries[0];
    assert_eq!(delivery.status, DeliveryStatus::Succeeded);
    assert_eq!(delivery.remote_id.as_deref(), Some(SHOPIFY_ORDER));
    let attempts = store.list_attempts(delivery.id).await.unwrap();
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|attempt| attempt.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["adopted"], "the killed attempt recorded nothing");
    shop.verify().await;
}
