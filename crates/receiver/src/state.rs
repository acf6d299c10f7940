//! The state every receiver handler shares: storage, store settings, the
//! dispatcher's wake-up and the metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use wamebo_core::StoreId;
use wamebo_store::Store;

use crate::log_limit::WarnLimiter;
use crate::metrics::ReceiverMetrics;
use crate::settings::{ReceiverSettings, StoreSettings};

/// How often each kind of repeated webhook failure (an invalid signature, a
/// rejected body, a storage failure) may be written to the log. The others
/// are only counted in metrics, such as `wamebo_signature_failures_total`.
const REPEATED_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// An error that prevents building the receiver from its settings.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverSetupError {
    /// Two stores share one id.
    #[error("store `{0}` is configured twice: give each [[stores]] entry its own id")]
    DuplicateStore(StoreId),
    /// A store has no signing secret, so no webhook for it could verify.
    #[error("store `{0}` has no signing secret: add one to its `signing_secrets`")]
    NoSecrets(StoreId),
    /// The metrics could not be registered.
    #[error("failed to register the receiver's metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// Everything the receiver's handlers share, cheap to clone.
#[derive(Debug, Clone)]
pub struct ReceiverState {
    pub(crate) shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) stores: HashMap<StoreId, StoreSettings>,
    pub(crate) settings: ReceiverSettings,
    pub(crate) wake: Arc<Notify>,
    pub(crate) metrics: ReceiverMetrics,
    pub(crate) signature_warnings: WarnLimiter,
    /// Limits the log lines of bodies rejected for their size or a failed
    /// read, which any client can send without a secret.
    pub(crate) body_warnings: WarnLimiter,
    /// Limits the log lines of webhooks that storage failed to record, one
    /// per request during an outage otherwise.
    pub(crate) storage_errors: WarnLimiter,
}

impl ReceiverState {
    /// Builds the state and registers the receiver's metrics in `registry`,
    /// which `GET /metrics` then serves whole, so the dispatcher's metrics
    /// belong in the same registry.
    ///
    /// `wake` is notified whenever a request or a replay creates due
    /// deliveries.
    pub fn new(
        store: Arc<dyn Store>,
        stores: Vec<StoreSettings>,
        settings: ReceiverSettings,
        wake: Arc<Notify>,
        registry: prometheus::Registry,
    ) -> Result<Self, ReceiverSetupError> {
        let mut by_id = HashMap::with_capacity(stores.len());
        for store_settings in stores {
            if store_settings.secrets.is_empty() {
                return Err(ReceiverSetupError::NoSecrets(store_settings.id));
            }
            let id = store_settings.id.clone();
            if by_id.insert(id.clone(), store_settings).is_some() {
                return Err(ReceiverSetupError::DuplicateStore(id));
            }
        }
        let metrics = ReceiverMetrics::register(registry)?;

        Ok(ReceiverState {
            shared: Arc::new(Shared {
                store,
                stores: by_id,
                settings,
                wake,
                metrics,
                signature_warnings: WarnLimiter::new(REPEATED_WARNING_INTERVAL),
                body_warnings: WarnLimiter::new(REPEATED_WARNING_INTERVAL),
                storage_errors: WarnLimiter::new(REPEATED_WARNING_INTERVAL),
            }),
        })
    }

    /// Returns the storage the receiver records into.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// Returns the settings of a configured store.
    pub fn store_settings(&self, id: &StoreId) -> Option<&StoreSettings> {
        self.shared.stores.get(id)
    }

    /// Returns the handle that wakes the dispatcher.
    pub fn wake_handle(&self) -> Arc<Notify> {
        Arc::clone(&self.shared.wake)
    }
}
