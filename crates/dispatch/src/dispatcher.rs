//! The dispatcher: its shared state, its start and its graceful stop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use wamebo_core::{ClassifyPolicy, OrderSink, StoreId, TargetId};
use wamebo_store::Store;

use crate::error::DispatchSetupError;
use crate::metrics::DispatchMetrics;
use crate::settings::DispatchSettings;
use crate::worker::run_worker;

/// State shared by every worker.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) sinks: HashMap<TargetId, Arc<dyn OrderSink>>,
    pub(crate) policies: HashMap<StoreId, ClassifyPolicy>,
    pub(crate) settings: DispatchSettings,
    pub(crate) wake: Arc<Notify>,
    pub(crate) metrics: DispatchMetrics,
}

/// A pool of delivery workers, built but not yet started.
#[derive(Debug)]
pub struct Dispatcher {
    shared: Arc<Shared>,
}

impl Dispatcher {
    /// Builds a dispatcher over `store`, with one sink per configured target
    /// and each store's validation policy, and registers its metrics in
    /// `registry`.
    pub fn new(
        store: Arc<dyn Store>,
        sinks: HashMap<TargetId, Arc<dyn OrderSink>>,
        policies: HashMap<StoreId, ClassifyPolicy>,
        settings: DispatchSettings,
        registry: &prometheus::Registry,
    ) -> Result<Self, DispatchSetupError> {
        settings.validate()?;
        let metrics = DispatchMetrics::register(registry)?;
        Ok(Dispatcher {
            shared: Arc::new(Shared {
                store,
                sinks,
                policies,
                settings,
                wake: Arc::new(Notify::new()),
                metrics,
            }),
        })
    }

    /// Returns the handle that wakes an idle worker at once. Call
    /// `notify_one` on it after committing new or revived deliveries.
    pub fn wake_handle(&self) -> Arc<Notify> {
        Arc::clone(&self.shared.wake)
    }

    /// Starts the workers on the current Tokio runtime.
    pub fn spawn(self) -> DispatcherHandle {
        let (stop, stopped) = watch::channel(false);
        let mut workers = JoinSet::new();
        for index in 0..self.shared.settings.workers {
            let name = format!("pid{}-worker{index}", std::process::id());
            workers.spawn(run_worker(Arc::clone(&self.shared), name, stopped.clone()));
        }
        tracing::info!(
            workers = self.shared.settings.workers,
            targets = self.shared.sinks.len(),
            "dispatcher started"
        );
        DispatcherHandle { stop, workers }
    }
}

/// Running workers, stopped with [`DispatcherHandle::shutdown`].
#[derive(Debug)]
pub struct DispatcherHandle {
    stop: watch::Sender<bool>,
    workers: JoinSet<()>,
}

/// The result of a dispatcher shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReport {
    /// Every in-flight attempt finished and was recorded.
    Completed,
    /// The grace period ran out; this many workers were cut off mid-attempt.
    /// Their deliveries keep their leases and are claimed again, with a
    /// lookup of an existing order, once the leases expire.
    Interrupted {
        /// Workers cut off.
        workers: usize,
    },
}

impl DispatcherHandle {
    /// Stops claiming new deliveries, lets in-flight attempts finish and be
    /// recorded within `grace`, then stops the workers that are still busy.
    pub async fn shutdown(mut self, grace: Duration) -> ShutdownReport {
        tracing::info!(grace_seconds = grace.as_secs_f64(), "dispatcher stopping");
        // Workers that already ended have dropped their receivers; that is
        // not an error.
        let _ = self.stop.send(true);

        let drained = tokio::time::timeout(grace, async {
            while self.workers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_ok() {
            tracing::info!("dispatcher stopped");
            return ShutdownReport::Completed;
        }

        let workers = self.workers.len();
        self.workers.abort_all();
        while self.workers.join_next().await.is_some() {}
        tracing::warn!(
            workers,
            "dispatcher stopped before in-flight attempts finished; their deliveries will be claimed again after the lease expires"
        );
        ShutdownReport::Interrupted { workers }
    }
}
