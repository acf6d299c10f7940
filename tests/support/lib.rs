//! Helpers shared by the end-to-end tests: signing, starting the real
//! application on a free port with a temporary SQLite file and a file
//! target, running the real binary, and waiting with a deadline.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wamebo_bridge::{Application, Config};
use wamebo_store::{
    AttemptRecord, DeliveryCounts, DeliveryFilter, DeliveryRecord, EventFilter, EventSummary, Store,
};

pub mod postgres;

/// The signing secret of the test store `demo`.
pub const SECRET: &str = "wh_sec_end_to_end_test_secret";

/// Wamebo's documented `order.created` example, byte for byte as the
/// documentation prints it, timestamp included.
pub const DOCUMENTED_ORDER: &str = r#"{
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
pub const DOCUMENTED_MESSAGE: &str = r#"{
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

/// Returns the current time as Wamebo writes timestamps.
pub fn now_timestamp() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Returns a documented example with its timestamp set to now, because the
/// bridge quarantines events older than `server.max_event_age`.
pub fn fresh(documented: &str) -> String {
    let value: Value = serde_json::from_str(documented).expect("documented example is JSON");
    let timestamp = value["timestamp"]
        .as_str()
        .expect("example has a timestamp");
    documented.replace(timestamp, &now_timestamp())
}

/// Returns a compact `order.created` body with one line per
/// `(sku, quantity, unit_price)`; amounts are written as given, as JSON
/// numbers.
pub fn order_body(
    order_id: u64,
    currency: &str,
    total: &str,
    items: &[(&str, u32, &str)],
) -> String {
    let items: Vec<String> = items
        .iter()
        .map(|(sku, quantity, unit_price)| {
            format!(r#"{{"sku":"{sku}","quantity":{quantity},"unit_price":{unit_price}}}"#)
        })
        .collect();
    format!(
        r#"{{"event":"order.created","timestamp":"{}","data":{{"order_id":{order_id},"meta_order_id":"wamid.E2E{order_id}","customer":{{"name":"Michael Smith","phone_number":"15551234567"}},"financials":{{"total_amount":{total},"currency":"{currency}"}},"items":[{}]}}}}"#,
        now_timestamp(),
        items.join(",")
    )
}

/// Returns a body shaped like the documented order (250.00 USD) with another
/// order id.
pub fn sample_order(order_id: u64) -> String {
    order_body(
        order_id,
        "USD",
        "250.00",
        &[("PROD-A1", 2, "100.00"), ("PROD-B2", 1, "50.00")],
    )
}

/// Returns the `X-Webhook-Signature` value for `body`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    wamebo_signature::sign_header(secret.as_bytes(), body)
}

/// Polls `check` until it returns true, and panics naming `condition` once
/// `timeout` has passed.
pub async fn wait_until<F, Fut>(condition: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {condition}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads a JSON-lines orders file; a missing file has no orders.
pub fn read_orders(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("every line of the orders file is JSON"))
        .collect()
}

/// A temporary folder with a configuration for one store, `demo`, routed to
/// a file target.
#[derive(Debug)]
pub struct TestConfig {
    /// The folder holding the database, the orders file and the secret.
    pub dir: tempfile::TempDir,
    /// Largest accepted body.
    pub max_body_bytes: u64,
    /// Number of delivery workers.
    pub workers: u32,
    /// `dispatch.lease`: short, so a restarted bridge soon claims
    /// deliveries a killed one held.
    pub lease: Duration,
    /// `dispatch.call_timeout`, shorter than `lease`.
    pub call_timeout: Duration,
    /// The ids of the targets the `demo` store routes to.
    pub store_targets: Vec<String>,
    /// More `[[targets]]` tables, written after the file target `demo-file`.
    pub extra_targets: String,
}

impl Default for TestConfig {
    fn default() -> Self {
        TestConfig {
            dir: tempfile::tempdir().expect("a temporary folder can be created"),
            max_body_bytes: 1024 * 1024,
            workers: 2,
            lease: Duration::from_secs(3),
            call_timeout: Duration::from_secs(2),
            store_targets: vec!["demo-file".to_owned()],
            extra_targets: String::new(),
        }
    }
}

impl TestConfig {
    /// Returns the orders file's path.
    pub fn orders_path(&self) -> PathBuf {
        self.dir.path().join("orders.jsonl")
    }

    /// Returns the SQLite database's path.
    pub fn database_path(&self) -> PathBuf {
        self.dir.path().join("bridge.db")
    }

    /// Writes `value` to the file `name` in the folder and returns the
    /// `file:` reference a configuration reads it through.
    pub fn secret_file(&self, name: &str, value: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, value).expect("the secret file can be written");
        format!("file:{}", path.display())
    }

    /// Returns the configuration text, writing the secret file beside it.
    pub fn toml(&self) -> String {
        let dir = self.dir.path();
        let secret_path = dir.join("signing-secret");
        std::fs::write(&secret_path, SECRET).expect("the secret file can be written");
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
max_body_bytes = {max_body_bytes}

[storage]
url = "sqlite://{db}"

[dispatch]
workers = {workers}
initial_backoff = "100ms"
max_backoff = "1s"
idle_poll = "200ms"
lease = "{lease}ms"
call_timeout = "{call_timeout}ms"
shutdown_grace = "5s"

[[stores]]
id = "demo"
signing_secrets = ["file:{secret}"]
targets = {store_targets}

[[targets]]
id = "demo-file"
kind = "file"
path = "{orders}"
{extra_targets}
"#,
            max_body_bytes = self.max_body_bytes,
            workers = self.workers,
            lease = self.lease.as_millis(),
            call_timeout = self.call_timeout.as_millis(),
            db = self.database_path().display(),
            secret = secret_path.display(),
            orders = self.orders_path().display(),
            store_targets = toml_string_list(&self.store_targets),
            extra_targets = self.extra_targets,
        )
    }

    /// Writes the configuration to `bridge.toml` in the folder and returns
    /// its path.
    pub fn write(&self) -> PathBuf {
        let path = self.dir.path().join("bridge.toml");
        std::fs::write(&path, self.toml()).expect("the config file can be written");
        path
    }
}

/// Writes strings as a TOML array, such as `["demo-file", "demo-erp"]`.
fn toml_string_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("{item:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

fn init_logging() {
    static INIT: Once = Once::new();
    // Set WAMEBO_TEST_LOG=1 to see the bridge's logs while debugging.
    INIT.call_once(|| {
        if std::env::var_os("WAMEBO_TEST_LOG").is_some() {
            wamebo_bridge::telemetry::init(wamebo_bridge::telemetry::LogFormat::Text);
        }
    });
}

/// The real application, serving on a free port in this test's runtime.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:{port}`.
    pub address: String,
    /// The application's storage.
    pub store: Arc<dyn Store>,
    /// The file target's orders file.
    pub orders_path: PathBuf,
    /// A client for requests to the application.
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    // Dropped last, so the files outlive the application.
    _config: TestConfig,
}

/// Starts the application with the default test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestConfig::default()).await
}

/// Starts the application with `config`.
pub async fn spawn_app_with(config: TestConfig) -> TestApp {
    init_logging();
    let parsed = Config::from_toml(&config.toml()).expect("the test configuration is valid");
    let application = Application::build(parsed)
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let store = application.store();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until(async {
        // A dropped sender stops the application too.
        let _ = stopped.await;
    }));

    TestApp {
        address,
        store,
        orders_path: config.orders_path(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("the HTTP client builds"),
        stop: Some(stop),
        task: Some(task),
        _config: config,
    }
}

impl TestApp {
    /// Posts `body` to `/webhooks/{store}` with the signature header set to
    /// `signature`, or without one.
    pub async fn post_webhook(
        &self,
        store: &str,
        body: impl Into<Vec<u8>>,
        signature: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/webhooks/{store}", self.address))
            .header("Content-Type", "application/json")
            .body(body.into());
        if let Some(signature) = signature {
            request = request.header("X-Webhook-Signature", signature);
        }
        request.send().await.expect("the webhook request completes")
    }

    /// Posts `body` to the `demo` store, signed with [`SECRET`].
    pub async fn post_signed(&self, body: &str) -> reqwest::Response {
        let signature = sign(SECRET, body.as_bytes());
        self.post_webhook("demo", body.to_owned(), Some(&signature))
            .await
    }

    /// Posts a signed body and returns the status and the JSON response.
    pub async fn post_signed_json(&self, body: &str) -> (u16, Value) {
        let response = self.post_signed(body).await;
        let status = response.status().as_u16();
        let json = response.json().await.expect("the response is JSON");
        (status, json)
    }

    /// Returns the lines of the orders file.
    pub fn orders(&self) -> Vec<Value> {
        read_orders(&self.orders_path)
    }

    /// Returns the lines of the orders file for one order id.
    pub fn orders_with_id(&self, order_id: u64) -> Vec<Value> {
        self.orders()
            .into_iter()
            .filter(|line| line["order_id"].as_u64() == Some(order_id))
            .collect()
    }

    /// Returns every recorded event, newest first.
    pub async fn events(&self) -> Vec<EventSummary> {
        self.store
            .list_events(EventFilter {
                limit: 1000,
                ..EventFilter::default()
            })
            .await
            .expect("events can be listed")
    }

    /// Returns every delivery, newest first.
    pub async fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.store
            .list_deliveries(DeliveryFilter {
                limit: 1000,
                ..DeliveryFilter::default()
            })
            .await
            .expect("deliveries can be listed")
    }

    /// Returns the one delivery to `target`, and panics unless there is
    /// exactly one.
    pub async fn delivery_to(&self, target: &str) -> DeliveryRecord {
        let mut matching: Vec<DeliveryRecord> = self
            .deliveries()
            .await
            .into_iter()
            .filter(|delivery| delivery.target_id.as_str() == target)
            .collect();
        assert_eq!(matching.len(), 1, "deliveries to {target}: {matching:?}");
        matching.remove(0)
    }

    /// Returns a delivery's attempts, oldest first.
    pub async fn attempts(&self, delivery_id: i64) -> Vec<AttemptRecord> {
        self.store
            .list_attempts(delivery_id)
            .await
            .expect("attempts can be listed")
    }

    /// Returns the counts of deliveries by status.
    pub async fn delivery_counts(&self) -> DeliveryCounts {
        self.store
            .delivery_counts()
            .await
            .expect("deliveries can be counted")
    }

    /// Waits until `succeeded` deliveries have succeeded and none is pending
    /// or in flight, so nothing more will be written.
    pub async fn wait_for_settled(&self, succeeded: u64) {
        wait_until(
            &format!("{succeeded} succeeded deliveries and none pending"),
            Duration::from_secs(20),
            || async {
                let counts = self.delivery_counts().await;
                counts.succeeded >= succeeded && counts.pending == 0 && counts.in_flight == 0
            },
        )
        .await;
    }

    /// Stops the application as SIGTERM would and waits for it to finish.
    /// The files stay until the `TestApp` is dropped.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("the application task exists");
        task.await?
    }
}

/// Returns the path of the `wamebo-bridge` binary that cargo built beside
/// this test binary.
///
/// NOTE: `cargo test --workspace` builds it; `cargo test -p wamebo-e2e`
/// alone does not, and may find a stale one.
pub fn bridge_binary() -> PathBuf {
    let mut dir = std::env::current_exe().expect("the test binary has a path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(format!("wamebo-bridge{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} not found; run `cargo build -p wamebo-bridge` or `cargo test --workspace`",
        path.display()
    );
    path
}

/// A running `wamebo-bridge serve` process.
#[derive(Debug)]
pub struct BridgeProcess {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:{port}` of its public listener.
    pub address: String,
}

impl BridgeProcess {
    /// Starts `wamebo-bridge serve` with the configuration at `config` and
    /// waits, up to 30 seconds, for its public listener.
    pub fn start(config: &Path) -> BridgeProcess {
        let mut child = Command::new(bridge_binary())
            .arg("--config")
            .arg(config)
            .args(["--log-format", "json", "serve"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the bridge binary starts");

        let stderr = child.stderr.take().expect("stderr is piped");
        let (address_sender, address_receiver) = std::sync::mpsc::channel();
        // The thread keeps draining the log, so the process never blocks on a
        // full pipe.
        std::thread::spawn(move || {
            let mut address_sender = Some(address_sender);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("WAMEBO_TEST_LOG").is_some() {
                    eprintln!("bridge: {line}");
                }
                let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if entry["message"] == "public listener started" {
                    if let (Some(sender), Some(address)) =
                        (address_sender.take(), entry["address"].as_str())
                    {
                        let _ = sender.send(address.to_owned());
                    }
                }
            }
        });

        let address = match address_receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => address,
            Err(error) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("the bridge did not report its listener within 30s ({error}); exit status {status:?}")
            }
        };
        BridgeProcess {
            child,
            address: format!("http://{address}"),
        }
    }

    /// Kills the process with SIGKILL, as a crash or an out-of-memory kill
    /// would, and reaps it.
    pub fn kill(mut self) {
        self.child.kill().expect("the bridge can be killed");
        self.child.wait().expect("the killed bridge is reaped");
    }

    /// Sends SIGTERM and waits, up to `timeout`, for the process to exit.
    pub fn terminate(mut self, timeout: Duration) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("`kill` runs");
        assert!(status.success(), "`kill -TERM` failed");

        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .expect("the bridge's status can be read")
            {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("the bridge did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        // A test that panics must not leave a server running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
