//! A SQLite store in a temporary directory, a scripted sink, and helpers to
//! record events and wait for deliveries.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tempfile::TempDir;
use tokio::sync::Notify;
use wamebo_core::event::body_sha256;
use wamebo_core::{
    classify, ClassifyPolicy, Delivered, DeliveryContext, DeliveryError, Order, OrderSink, StoreId,
    TargetId, Verdict,
};
use wamebo_dispatch::{DispatchSettings, Dispatcher};
use wamebo_store::{
    AttemptOutcome, AttemptRecord, ClaimRequest, ClaimedDelivery, DeliveryCounts, DeliveryFilter,
    DeliveryId, DeliveryRecord, EventFilter, EventId, EventRecord, EventStatus, EventSummary,
    Lease, NewEvent, RecordOutcome, ReplayOutcome, SqliteOptions, SqliteStore, Store, StoreError,
};

pub const STORE: &str = "acme";
pub const TARGET: &str = "shop";

/// What the sink does on one `create_order` or `forward_event` call.
#[derive(Debug, Clone)]
pub enum Reply {
    Fail(DeliveryError),
    /// Never returns, so only the dispatcher's timeout or shutdown ends the call.
    Hang,
    /// Returns success after the delay.
    Slow(Duration),
}

/// One call the sink received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    FindExisting { order_id: u64, attempt: u32 },
    Create { order_id: u64, attempt: u32 },
    Forward { event_type: String, attempt: u32 },
}

/// A sink that follows a script per order id (success once the script is
/// used up) and records every call.
#[derive(Debug, Default)]
pub struct TestSink {
    replies: Mutex<HashMap<u64, VecDeque<Reply>>>,
    existing: Mutex<HashMap<u64, Delivered>>,
    calls: Mutex<Vec<Call>>,
    pub call_started: Notify,
}

impl TestSink {
    pub fn script(&self, order_id: u64, replies: Vec<Reply>) {
        self.replies
            .lock()
            .unwrap()
            .insert(order_id, replies.into());
    }

    /// Makes `find_existing` return an order for `order_id`.
    pub fn preexisting(&self, order_id: u64, remote_id: &str) {
        self.existing.lock().unwrap().insert(
            order_id,
            Delivered {
                remote_id: Some(remote_id.to_owned()),
                note: None,
            },
        );
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    async fn reply(&self, order_id: u64) -> Result<Delivered, DeliveryError> {
        self.call_started.notify_one();
        let next = self
            .replies
            .lock()
            .unwrap()
            .get_mut(&order_id)
            .and_then(VecDeque::pop_front);
        match next {
            Some(Reply::Fail(error)) => return Err(error),
            Some(Reply::Hang) => std::future::pending::<()>().await,
            Some(Reply::Slow(delay)) => tokio::time::sleep(delay).await,
            None => {}
        }
        Ok(Delivered {
            remote_id: Some(format!("remote-{order_id}")),
            note: None,
        })
    }
}

#[async_trait]
impl OrderSink for TestSink {
    fn kind(&self) -> &'static str {
        "test"
    }

    async fn find_existing(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Option<Delivered>, DeliveryError> {
        self.calls.lock().unwrap().push(Call::FindExisting {
            order_id: order.order_id,
            attempt: ctx.attempt,
        });
        Ok(self.existing.lock().unwrap().get(&order.order_id).cloned())
    }

    async fn create_order(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Delivered, DeliveryError> {
        self.calls.lock().unwrap().push(Call::Create {
            order_id: order.order_id,
            attempt: ctx.attempt,
        });
        self.reply(order.order_id).await
    }

    async fn forward_event(
        &self,
        ctx: &DeliveryContext,
        event_type: &str,
        _body: &[u8],
    ) -> Result<Delivered, DeliveryError> {
        self.calls.lock().unwrap().push(Call::Forward {
            event_type: event_type.to_owned(),
            attempt: ctx.attempt,
        });
        self.reply(0).await
    }
}

/// Settings that make a test run in milliseconds.
pub fn fast_settings() -> DispatchSettings {
    DispatchSettings {
        workers: 2,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        max_attempts: 20,
        max_age: Duration::from_secs(3600),
        lease: Duration::from_secs(2),
        retry_after_cap: Duration::from_secs(3600),
        idle_poll: Duration::from_millis(50),
        call_timeout: Duration::from_secs(1),
    }
}

pub struct Harness {
    pub store: Arc<SqliteStore>,
    pub sink: Arc<TestSink>,
    pub registry: prometheus::Registry,
    pub policy: ClassifyPolicy,
    _dir: TempDir,
}

impl Harness {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bridge.db");
        let store = SqliteStore::open(path.to_str().unwrap(), SqliteOptions::default()).unwrap();
        Harness {
            store: Arc::new(store),
            sink: Arc::new(TestSink::default()),
            registry: prometheus::Registry::new(),
            policy: ClassifyPolicy::default(),
            _dir: dir,
        }
    }

    pub fn dispatcher(&self, settings: DispatchSettings) -> Dispatcher {
        self.dispatcher_over(self.store.clone(), settings)
    }

    /// Builds a dispatcher over `store`, which should wrap this harness's
    /// store.
    pub fn dispatcher_over(&self, store: Arc<dyn Store>, settings: DispatchSettings) -> Dispatcher {
        let sink: Arc<dyn OrderSink> = self.sink.clone();
        Dispatcher::new(
            store,
            HashMap::from([(TargetId::new(TARGET).unwrap(), sink)]),
            HashMap::from([(StoreId::new(STORE).unwrap(), self.policy)]),
            settings,
            &self.registry,
        )
        .unwrap()
    }

    /// Records an event for `targets` as the receiver would, with the
    /// status its classification gives under `policy`.
    pub async fn record(
        &self,
        body: Vec<u8>,
        policy: &ClassifyPolicy,
        targets: &[&str],
    ) -> EventId {
        let classified = classify(&body, policy, Utc::now());
        let status = match classified.verdict {
            Verdict::Accepted(_) => EventStatus::Accepted,
            Verdict::Quarantined { reason, detail } => {
                panic!("test event quarantined: {reason}: {detail}")
            }
        };
        let event = NewEvent {
            store_id: StoreId::new(STORE).unwrap(),
            key: classified.key,
            event_type: classified.event_type,
            order_id: classified.order_id,
            body_sha256: body_sha256(&body),
            body,
            received_at: Utc::now(),
            occurred_at: classified.occurred_at,
            status,
            targets: targets.iter().map(|t| TargetId::new(*t).unwrap()).collect(),
        };
        match self.store.record_event(event).await.unwrap() {
            RecordOutcome::Recorded { event_id, .. } => event_id,
            other => panic!("event not recorded: {other:?}"),
        }
    }

    pub async fn record_order(&self, order_id: u64) -> EventId {
        self.record(
            order_body(order_id, "250.00"),
            &ClassifyPolicy::default(),
            &[TARGET],
        )
        .await
    }

    pub async fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.store
            .list_deliveries(DeliveryFilter {
                limit: 1000,
                ..DeliveryFilter::default()
            })
            .await
            .unwrap()
    }

    pub async fn delivery_of(&self, event_id: EventId) -> DeliveryRecord {
        self.deliveries()
            .await
            .into_iter()
            .find(|delivery| delivery.event_id == event_id)
            .expect("event has a delivery")
    }

    /// Waits up to `limit` for the event's delivery to satisfy `done`.
    pub async fn wait_for(
        &self,
        event_id: EventId,
        limit: Duration,
        done: impl Fn(&DeliveryRecord) -> bool,
    ) -> DeliveryRecord {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let delivery = self.delivery_of(event_id).await;
            if done(&delivery) {
                return delivery;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("delivery did not reach the expected state within {limit:?}: {delivery:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Returns the registry in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap()
    }
}

/// Wamebo's documented `order.created` example with a chosen id and total.
pub fn order_body(order_id: u64, total: &str) -> Vec<u8> {
    format!(
        r#"{{"event":"order.created","timestamp":"{}","data":{{"order_id":{order_id},"meta_order_id":"wamid.HBgLOTE","customer":{{"name":"Michael Smith","phone_number":"15551234567"}},"financials":{{"total_amount":{total},"currency":"USD"}},"items":[{{"sku":"PROD-A1","quantity":2,"unit_price":100.00}},{{"sku":"PROD-B2","quantity":1,"unit_price":50.00}}]}}}}"#,
        Utc::now().to_rfc3339()
    )
    .into_bytes()
}

pub fn message_body(message_id: u64) -> Vec<u8> {
    format!(
        r#"{{"event":"message.received","data":{{"message_id":{message_id},"contact":{{"id":8502,"name":"Jane Doe","phone_number":"919876543210"}},"message":{{"type":"text","body":"Hi","direction":"incoming"}}}}}}"#
    )
    .into_bytes()
}

/// The SQLite store with announcements of deliveries made elsewhere, as a
/// store shared by several replicas provides them.
#[derive(Debug)]
pub struct AnnouncingStore {
    pub inner: Arc<SqliteStore>,
    pub announcements: tokio::sync::watch::Sender<u64>,
}

#[async_trait]
impl Store for AnnouncingStore {
    async fn record_event(&self, event: NewEvent) -> Result<RecordOutcome, StoreError> {
        self.inner.record_event(event).await
    }

    async fn claim_due(&self, request: ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.inner.claim_due(request).await
    }

    async fn complete(&self, lease: &Lease, outcome: AttemptOutcome) -> Result<(), StoreError> {
        self.inner.complete(lease, outcome).await
    }

    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.inner.next_due_at().await
    }

    async fn list_events(&self, filter: EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        self.inner.list_events(filter).await
    }

    async fn get_event(&self, id: EventId) -> Result<Option<EventRecord>, StoreError> {
        self.inner.get_event(id).await
    }

    async fn list_deliveries(
        &self,
        filter: DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.inner.list_deliveries(filter).await
    }

    async fn list_attempts(
        &self,
        delivery_id: DeliveryId,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        self.inner.list_attempts(delivery_id).await
    }

    async fn replay_event(
        &self,
        id: EventId,
        targets: &[TargetId],
    ) -> Result<ReplayOutcome, StoreError> {
        self.inner.replay_event(id, targets).await
    }

    async fn replay_delivery(&self, id: DeliveryId) -> Result<(), StoreError> {
        self.inner.replay_delivery(id).await
    }

    async fn delivery_counts(&self) -> Result<DeliveryCounts, StoreError> {
        self.inner.delivery_counts().await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    fn external_wakeups(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.announcements.subscribe())
    }
}
