//! Two real `wamebo-bridge serve` processes sharing one PostgreSQL schema
//! and one ERP, stood in for by wiremock: every order reaches the ERP
//! exactly once, when both replicas receive it, when one is killed midway,
//! and across a database outage.
//!
//! The tests need `WAMEBO_TEST_POSTGRES_URL` and skip themselves without it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use sqlx::Connection;
use tempfile::TempDir;
use wamebo_e2e::postgres::{open_store, server_url, test_schema, Proxy};
use wamebo_e2e::{sample_order, sign, wait_until, BridgeProcess, SECRET};
use wamebo_store::{DeliveryFilter, Store};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ORDERS: u64 = 200;
const CONCURRENT_REQUESTS: usize = 16;

/// The orders an ERP stand-in has created, by Wamebo order id, with the
/// number of create requests each one received.
#[derive(Debug, Clone, Default)]
struct ErpOrders(Arc<Mutex<HashMap<u64, u32>>>);

impl ErpOrders {
    fn distinct(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn created_more_than_once(&self) -> Vec<u64> {
        let orders = self.0.lock().unwrap();
        let mut repeated: Vec<u64> = orders
            .iter()
            .filter(|(_, count)| **count > 1)
            .map(|(order_id, _)| *order_id)
            .collect();
        repeated.sort_unstable();
        repeated
    }
}

/// Creates the order in the body and responds 201 with the ERP's id.
struct CreateOrder(ErpOrders);

impl Respond for CreateOrder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return ResponseTemplate::new(422);
        };
        let Some(order_id) = body["order_id"].as_u64() else {
            return ResponseTemplate::new(422);
        };
        *self.0 .0.lock().unwrap().entry(order_id).or_default() += 1;
        ResponseTemplate::new(201).set_body_json(json!({ "id": format!("erp-{order_id}") }))
    }
}

/// Responds to the lookup of `/orders/{order_id}` with 200 when the ERP
/// has the order, 404 otherwise.
struct LookupOrder(ErpOrders);

impl Respond for LookupOrder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let order_id = request
            .url
            .path()
            .rsplit('/')
            .next()
            .and_then(|id| id.parse::<u64>().ok());
        match order_id {
            Some(order_id) if self.0 .0.lock().unwrap().contains_key(&order_id) => {
                ResponseTemplate::new(200).set_body_json(json!({ "id": format!("erp-{order_id}") }))
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

/// Starts the ERP stand-in. `create_delay` keeps each create request open
/// for a while after the order is stored, so a killed replica can die
/// between the ERP's commit and its own.
async fn start_erp(
    orders: &ErpOrders,
    creates: u64,
    lookups: std::ops::RangeInclusive<u64>,
    create_delay: Duration,
) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(DelayedResponder {
            inner: CreateOrder(orders.clone()),
            delay: create_delay,
        })
        .named("erp create order")
        .expect(creates)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/orders/[0-9]+$"))
        .respond_with(LookupOrder(orders.clone()))
        .named("erp order lookup")
        .expect(lookups)
        .mount(&server)
        .await;
    server
}

struct DelayedResponder<R> {
    inner: R,
    delay: Duration,
}

impl<R: Respond> Respond for DelayedResponder<R> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.inner.respond(request).set_delay(self.delay)
    }
}

/// Writes a bridge configuration: PostgreSQL storage at `database_url` in
/// `schema`, one store `demo` routed to the ERP at `erp_url`.
fn write_config(dir: &Path, database_url: &str, schema: &str, erp_url: &str) -> PathBuf {
    let secret_path = dir.join("signing-secret");
    std::fs::write(&secret_path, SECRET).expect("write the secret file");
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[storage]
url = "{database_url}"
schema = "{schema}"
max_connections = 4
acquire_timeout = "1s"
operation_timeout = "3s"

[dispatch]
workers = 2
initial_backoff = "100ms"
max_backoff = "1s"
idle_poll = "500ms"
# Short, so a surviving replica soon claims what a killed one held.
lease = "3s"
call_timeout = "2s"
shutdown_grace = "2s"

[[stores]]
id = "demo"
signing_secrets = ["file:{secret}"]
targets = ["erp"]

[[targets]]
id = "erp"
kind = "erp"
url = "{erp_url}/orders"
lookup_url = "{erp_url}/orders/{{order_id}}"
order_id_pointer = "/id"
request_timeout = "1s"
connect_timeout = "500ms"
allow_insecure_http = true
"#,
        secret = secret_path.display(),
    );
    let path = dir.join("bridge.toml");
    std::fs::write(&path, text).expect("write the config file");
    path
}

/// Sends `body` once to `address`, returning the HTTP status and the
/// response's `status` field, or `None` when the request failed.
async fn post_order(client: &reqwest::Client, address: &str, body: &str) -> Option<(u16, String)> {
    let response = client
        .post(format!("{address}/webhooks/demo"))
        .header("X-Webhook-Signature", sign(SECRET, body.as_bytes()))
        .body(body.to_owned())
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    Some((status, answer["status"].as_str().unwrap_or("").to_owned()))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Returns how often an order is sent: to both replicas, and every tenth
/// order a third time.
fn copies_of(order_id: u64) -> usize {
    if order_id % 10 == 0 {
        3
    } else {
        2
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_create_each_order_once() {
    let Some(server) = server_url("two_replicas_create_each_order_once") else {
        return;
    };
    let schema = test_schema(&server);
    let orders = ErpOrders::default();
    let erp = start_erp(&orders, ORDERS, 0..=0, Duration::ZERO).await;
    let dir = TempDir::new().unwrap();
    let config = write_config(dir.path(), &schema.url(), &schema.name, &erp.uri());
    let replicas = [BridgeProcess::start(&config), BridgeProcess::start(&config)];
    let addresses = [replicas[0].address.clone(), replicas[1].address.clone()];
    let client = client();
    let accepted = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());

    let requests: Vec<(u64, usize, String)> = (1..=ORDERS)
        .flat_map(|order_id| {
            let body = sample_order(order_id);
            (0..copies_of(order_id)).map(move |copy| (order_id, copy, body.clone()))
        })
        .collect();
    stream::iter(requests)
        .for_each_concurrent(CONCURRENT_REQUESTS, |(order_id, copy, body)| {
            let address = &addresses[copy % 2];
            let (client, accepted, failures) = (&client, &accepted, &failures);
            async move {
                match post_order(client, address, &body).await {
                    Some((200, status)) if status == "accepted" => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    Some((200, status)) if status == "duplicate" => {}
                    other => failures.lock().unwrap().push((order_id, other)),
                }
            }
        })
        .await;

    assert_eq!(failures.lock().unwrap().as_slice(), &[]);
    assert_eq!(accepted.load(Ordering::SeqCst), ORDERS as usize);
    wait_until(
        "every order on the ERP",
        Duration::from_secs(60),
        || async { orders.distinct() == ORDERS as usize },
    )
    .await;
    let store = open_store(&schema).await;
    wait_until(
        "every delivery succeeded",
        Duration::from_secs(30),
        || async {
            store
                .delivery_counts()
                .await
                .is_ok_and(|c| c.succeeded == ORDERS)
        },
    )
    .await;
    // Gives a duplicate create that is already under way time to arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(orders.created_more_than_once(), Vec::<u64>::new());
    assert_eq!(orders.distinct(), ORDERS as usize);
    erp.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_replica_loses_and_doubles_nothing() {
    let Some(server) = server_url("killed_replica_loses_and_doubles_nothing") else {
        return;
    };
    let schema = test_schema(&server);
    let orders = ErpOrders::default();
    // Each create stays open for 200 ms after the ERP stored the order, so
    // the kill lands while the first replica waits on some of them.
    let erp = start_erp(&orders, ORDERS, 0..=ORDERS, Duration::from_millis(200)).await;
    let dir = TempDir::new().unwrap();
    let config = write_config(dir.path(), &schema.url(), &schema.name, &erp.uri());
    let first = BridgeProcess::start(&config);
    let second = BridgeProcess::start(&config);
    let addresses = [first.address.clone(), second.address.clone()];
    let first = Mutex::new(Some(first));
    let client = client();
    let acknowledged = AtomicUsize::new(0);
    let survivor_failures = Mutex::new(Vec::new());

    let requests: Vec<(u64, usize, String)> = (1..=ORDERS)
        .flat_map(|order_id| {
            let body = sample_order(order_id);
            (0..copies_of(order_id)).map(move |copy| (order_id, copy, body.clone()))
        })
        .collect();
    let first_pid = first.lock().unwrap().as_ref().unwrap().child.id();
    let sending = stream::iter(requests).for_each_concurrent(
        CONCURRENT_REQUESTS,
        |(order_id, copy, body)| {
            let address = &addresses[copy % 2];
            let (client, acknowledged, survivor_failures) =
                (&client, &acknowledged, &survivor_failures);
            async move {
                let outcome = post_order(client, address, &body).await;
                if matches!(outcome, Some((200, _))) {
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                } else if copy % 2 == 1 {
                    // Only the first replica may fail: it gets killed.
                    survivor_failures.lock().unwrap().push((order_id, outcome));
                }
            }
        },
    );
    // Kills the first replica once half the requests were acknowledged and
    // it has just claimed a delivery, so that at least one dies with it.
    let acknowledged = &acknowledged;
    let killing = async {
        let mut database = sqlx::PgConnection::connect(&schema.url()).await.unwrap();
        let leases = format!(
            "SELECT id FROM {}.deliveries \
             WHERE status = 'in_flight' AND lease_owner LIKE $1 AND lease_expires_at > $2",
            schema.name
        );
        let owner = format!("pid{first_pid}-%");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "the first replica held no lease within 30s"
            );
            if acknowledged.load(Ordering::SeqCst) >= 200 {
                // Claimed within the last 50 ms of a 3 s lease: the ERP's
                // 200 ms delay keeps that delivery unfinished at the kill.
                let fresh = chrono::Utc::now() + chrono::Duration::milliseconds(2950);
                let held: Vec<i64> = sqlx::query_scalar(&leases)
                    .bind(&owner)
                    .bind(fresh)
                    .fetch_all(&mut database)
                    .await
                    .unwrap();
                if !held.is_empty() {
                    first.lock().unwrap().take().unwrap().kill();
                    break held;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let ((), held_at_kill) = tokio::join!(sending, killing);

    assert!(
        first.lock().unwrap().is_none(),
        "the first replica was never killed"
    );
    assert_eq!(survivor_failures.lock().unwrap().as_slice(), &[]);
    wait_until(
        "every order on the ERP",
        Duration::from_secs(60),
        || async { orders.distinct() == ORDERS as usize },
    )
    .await;
    let store = open_store(&schema).await;
    wait_until(
        "every delivery succeeded",
        Duration::from_secs(60),
        || async {
            store
                .delivery_counts()
                .await
                .is_ok_and(|c| c.succeeded == ORDERS)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let deliveries = store
        .list_deliveries(DeliveryFilter {
            limit: 1000,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    let taken_over = deliveries.iter().filter(|d| d.attempts > 1).count();
    let held: Vec<_> = deliveries
        .iter()
        .filter(|d| held_at_kill.contains(&d.id))
        .collect();
    assert!(
        taken_over > 0,
        "no delivery of the killed replica was taken over; held at the kill: {held:?}"
    );
    assert_eq!(orders.created_more_than_once(), Vec::<u64>::new());
    assert_eq!(orders.distinct(), ORDERS as usize);
    erp.verify().await;
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_gives_503_then_recovers() {
    let Some(server) = server_url("database_outage_gives_503_then_recovers") else {
        return;
    };
    let schema = test_schema(&server);
    let proxy = Proxy::start(&schema.url()).await;
    let orders = ErpOrders::default();
    let erp = start_erp(&orders, 2, 0..=2, Duration::ZERO).await;
    let dir = TempDir::new().unwrap();
    let config = write_config(dir.path(), &proxy.url, &schema.name, &erp.uri());
    let mut bridge = BridgeProcess::start(&config);
    let client = client();
    let first_order = sample_order(1);
    let second_order = sample_order(2);

    let before = post_order(&client, &bridge.address, &first_order).await;
    proxy.cut();
    let during = post_order(&client, &bridge.address, &second_order).await;
    let ready_during = readiness(&client, &bridge.address).await;

    assert_eq!(before, Some((200, "accepted".to_owned())));
    assert_eq!(during.map(|(status, _)| status), Some(503));
    assert_eq!(ready_during, Some(503));

    proxy.restore().await;
    wait_until(
        "readiness after the outage",
        Duration::from_secs(20),
        || async { readiness(&client, &bridge.address).await == Some(200) },
    )
    .await;
    let retried = post_order(&client, &bridge.address, &second_order).await;
    let repeated = post_order(&client, &bridge.address, &first_order).await;

    assert_eq!(retried, Some((200, "accepted".to_owned())));
    assert_eq!(repeated, Some((200, "duplicate".to_owned())));
    wait_until(
        "both orders on the ERP",
        Duration::from_secs(30),
        || async { orders.distinct() == 2 },
    )
    .await;
    assert!(
        bridge.child.try_wait().unwrap().is_none(),
        "the bridge exited during the outage"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(orders.created_more_than_once(), Vec::<u64>::new());
    erp.verify().await;
}

/// Returns the status of `GET /readyz`, or `None` when the request failed.
async fn readiness(client: &reqwest::Client, address: &str) -> Option<u16> {
    let response = client.get(format!("{address}/readyz")).send().await.ok()?;
    Some(response.status().as_u16())
}

#[test]
fn migrate_command_applies_postgres_schema_once() {
    let Some(server) = server_url("migrate_command_applies_postgres_schema_once") else {
        return;
    };
    let schema = test_schema(&server);
    let dir = TempDir::new().unwrap();
    // The ERP is never called: migrate only opens the storage.
    let config = write_config(
        dir.path(),
        &schema.url(),
        &schema.name,
        "http://127.0.0.1:9",
    );
    let migrate = || {
        std::process::Command::new(wamebo_e2e::bridge_binary())
            .arg("--config")
            .arg(&config)
            .arg("migrate")
            .output()
            .expect("the bridge binary runs")
    };

    let first = migrate();
    let second = migrate();

    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("applied migrations [1]"),
        "{}",
        text(&first.stdout)
    );
    assert!(
        text(&first.stderr).contains(&format!("schema: {}", schema.name)),
        "{}",
        text(&first.stderr)
    );
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        text(&second.stdout).contains("nothing applied"),
        "{}",
        text(&second.stdout)
    );
}
