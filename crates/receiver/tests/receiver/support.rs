//! A receiver over a fresh SQLite file, and signed sample bodies.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Utc};
use tempfile::TempDir;
use tokio::sync::Notify;
use wamebo_core::{ClassifyPolicy, ConfigSecret, StoreId, TargetId};
use wamebo_receiver::{AdminState, ReceiverSettings, ReceiverState, StoreSettings, TargetRoute};
use wamebo_store::{SqliteOptions, SqliteStore, Store};

pub const SECRET: &str = "wh_sec_test_current";
pub const OLD_SECRET: &str = "wh_sec_test_previous";
pub const ADMIN_TOKEN: &str = "admin-token-for-tests";
pub const MAX_BODY_BYTES: usize = 4096;
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Builds the public app of a [`Harness`] as an actix test service.
#[macro_export]
macro_rules! public_app {
    ($harness:expr) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .configure(|cfg| wamebo_receiver::configure_public(cfg, $harness.state.clone())),
        )
        .await
    };
}

/// Builds the admin app of a [`Harness`] as an actix test service.
#[macro_export]
macro_rules! admin_app {
    ($harness:expr) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .configure(|cfg| wamebo_receiver::configure_admin(cfg, $harness.admin.clone())),
        )
        .await
    };
}

/// A receiver for store `acme` (targets `shop` for orders and `erp` for
/// everything) over a SQLite file that lives as long as the harness.
pub struct Harness {
    pub store: Arc<SqliteStore>,
    pub state: web::Data<ReceiverState>,
    pub admin: web::Data<AdminState>,
    pub wake: Arc<Notify>,
    _dir: TempDir,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_options(SqliteOptions::default())
    }

    pub fn with_options(options: SqliteOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bridge.db");
        let store = Arc::new(SqliteStore::open(path.to_str().unwrap(), options).unwrap());
        let wake = Arc::new(Notify::new());
        let dyn_store: Arc<dyn Store> = store.clone();
        let state = ReceiverState::new(
            dyn_store,
            vec![acme_settings()],
            ReceiverSettings {
                max_body_bytes: MAX_BODY_BYTES,
                body_read_timeout: BODY_READ_TIMEOUT,
            },
            Arc::clone(&wake),
            prometheus::Registry::new(),
        )
        .unwrap();
        let admin = AdminState::new(&state, ConfigSecret::from_value("test", ADMIN_TOKEN));
        Harness {
            store,
            state: web::Data::new(state),
            admin: web::Data::new(admin),
            wake,
            _dir: dir,
        }
    }

    /// Returns true when the dispatcher's wake-up was notified since the
    /// last check.
    pub async fn was_woken(&self) -> bool {
        tokio::time::timeout(Duration::from_millis(50), self.wake.notified())
            .await
            .is_ok()
    }
}

pub fn acme_settings() -> StoreSettings {
    StoreSettings {
        id: StoreId::new("acme").unwrap(),
        secrets: vec![
            ConfigSecret::from_value("test-current", SECRET),
            ConfigSecret::from_value("test-previous", OLD_SECRET),
        ],
        policy: ClassifyPolicy::default(),
        targets: vec![
            TargetRoute {
                target_id: TargetId::new("shop").unwrap(),
                events: vec!["order.created".into()],
            },
            TargetRoute {
                target_id: TargetId::new("erp").unwrap(),
                events: vec!["*".into()],
            },
        ],
    }
}

/// Wamebo's documented `order.created` example with a chosen id, total and
/// timestamp.
pub fn order_body_at(order_id: u64, total: &str, at: DateTime<Utc>) -> Vec<u8> {
    format!(
        r#"{{"event":"order.created","timestamp":"{}","data":{{"order_id":{order_id},"meta_order_id":"wamid.HBgLOTE","customer":{{"name":"Michael Smith","phone_number":"15551234567"}},"financials":{{"total_amount":{total},"currency":"USD"}},"items":[{{"sku":"PROD-A1","quantity":2,"unit_price":100.00}},{{"sku":"PROD-B2","quantity":1,"unit_price":50.00}}]}}}}"#,
        at.to_rfc3339()
    )
    .into_bytes()
}

/// Builds a fresh order whose items add up to `total` when it is `250.00`.
pub fn order_body(order_id: u64, total: &str) -> Vec<u8> {
    order_body_at(order_id, total, Utc::now())
}

/// Wamebo's documented `message.received` example.
pub fn message_body(message_id: u64) -> Vec<u8> {
    format!(
        r#"{{"event":"message.received","timestamp":"{}","data":{{"message_id":{message_id},"contact":{{"id":8502,"name":"Jane Doe","phone_number":"919876543210"}},"message":{{"type":"text","body":"Hi, do you have this in stock?","direction":"incoming"}}}}}}"#,
        Utc::now().to_rfc3339()
    )
    .into_bytes()
}

pub fn sign(body: &[u8]) -> String {
    wamebo_signature::sign_header(SECRET.as_bytes(), body)
}
