//! [`PgStore`]: the [`Store`] trait on a PostgreSQL pool.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::sync::watch;
use wamebo_core::TargetId;

use super::errors::{map_error, with_timeout};
use super::migrate::migrate_with;
use super::notify::{start_listener, Announcer, ListenerTask};
use super::options::PgOptions;
use super::{claim, query, record, replay};
use crate::error::StoreError;
use crate::model::*;
use crate::store::Store;

/// A store on PostgreSQL, which several bridge replicas can share.
///
/// Every operation runs on a pooled connection. When the server goes away,
/// operations fail with [`StoreError::Unavailable`] within
/// [`PgOptions::operation_timeout`], and the pool opens fresh connections by
/// itself once the server is back. A separate listener connection feeds
/// [`Store::external_wakeups`] from other replicas' notifications.
pub struct PgStore {
    pool: PgPool,
    options: PgOptions,
    schema: String,
    /// Random per store value that marks this store's own notifications.
    instance: String,
    wakeups: watch::Receiver<u64>,
    listener: ListenerTask,
    announcer: Announcer,
}

impl fmt::Debug for PgStore {
    // Hand-written so that no connection option, which may hold a
    // password, is ever printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .field("instance", &self.instance)
            .field("pool_size", &self.pool.size())
            .field("max_connections", &self.options.max_connections)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/database`), applies the
    /// pending migrations under an advisory lock, and starts the listener
    /// for cross-replica wake-ups. Must run inside a Tokio runtime.
    ///
    /// Fails with [`StoreError::Unavailable`] when the server cannot be
    /// reached within [`PgOptions::connect_timeout`] or a setting is invalid,
    /// and with [`StoreError::Corrupt`] when the schema is newer than this
    /// code or a migration fails.
    pub async fn connect(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let connect_options = options.connect_options(url)?;
        migrate_with(&connect_options, &options).await?;

        let pool = options
            .pool_options()
            .connect_lazy_with(connect_options.clone());
        let schema = with_timeout(
            "read the current schema",
            options.operation_timeout,
            async {
                sqlx::query_scalar::<_, String>("SELECT current_schema()")
                    .fetch_one(&pool)
                    .await
                    .map_err(|e| map_error("read the current schema", e))
            },
        )
        .await?;

        let listener_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.connect_timeout)
            .connect_lazy_with(connect_options);
        let instance = format!("{:016x}", rand::random::<u64>());
        let (listener, wakeups) = start_listener(
            listener_pool,
            instance.clone(),
            schema.clone(),
            options.connect_timeout,
        )
        .await;

        tracing::info!(
            schema = %schema,
            max_connections = options.max_connections,
            "connected to PostgreSQL"
        );
        let announcer = Announcer::start(pool.clone(), instance.clone());
        Ok(PgStore {
            announcer,
            pool,
            options,
            schema,
            instance,
            wakeups,
            listener,
        })
    }

    /// Returns the schema that contains this store's tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Closes the pool, waiting for borrowed connections to come back, and
    /// stops the listener and the notification task. Operations after this fail with
    /// [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.listener.stop();
        self.announcer.stop();
        self.pool.close().await;
    }

    async fn run<T>(
        &self,
        action: &str,
        operation: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        with_timeout(action, self.options.operation_timeout, operation).await
    }
}

#[async_trait]
impl Store for PgStore {
    async fn record_event(&self, event: NewEvent) -> Result<RecordOutcome, StoreError> {
        let outcome = self
            .run("record event", record::record_event(&self.pool, event))
            .await?;
        if let RecordOutcome::Recorded { deliveries, .. } = &outcome {
            if *deliveries > 0 {
                self.announcer.announce();
            }
        }
        Ok(outcome)
    }

    async fn claim_due(&self, request: ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.run("claim deliveries", claim::claim_due(&self.pool, request))
            .await
    }

    async fn complete(&self, lease: &Lease, outcome: AttemptOutcome) -> Result<(), StoreError> {
        self.run(
            "complete delivery",
            claim::complete(&self.pool, lease, outcome),
        )
        .await
    }

    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.run("read next due time", claim::next_due_at(&self.pool))
            .await
    }

    async fn list_events(&self, filter: EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        self.run("list events", query::list_events(&self.pool, filter))
            .await
    }

    async fn get_event(&self, id: EventId) -> Result<Option<EventRecord>, StoreError> {
        self.run("read event", query::get_event(&self.pool, id))
            .await
    }

    async fn list_deliveries(
        &self,
        filter: DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.run(
            "list deliveries",
            query::list_deliveries(&self.pool, filter),
        )
        .await
    }

    async fn list_attempts(
        &self,
        delivery_id: DeliveryId,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        self.run(
            "list attempts",
            query::list_attempts(&self.pool, delivery_id),
        )
        .await
    }

    async fn replay_event(
        &self,
        id: EventId,
        targets: &[TargetId],
    ) -> Result<ReplayOutcome, StoreError> {
        let outcome = self
            .run(
                "replay event",
                replay::replay_event(&self.pool, id, targets),
            )
            .await?;
        if !outcome.revived.is_empty() || !outcome.created.is_empty() {
            self.announcer.announce();
        }
        Ok(outcome)
    }

    async fn replay_delivery(&self, id: DeliveryId) -> Result<(), StoreError> {
        self.run("replay delivery", replay::replay_delivery(&self.pool, id))
            .await?;
        self.announcer.announce();
        Ok(())
    }

    async fn delivery_counts(&self) -> Result<DeliveryCounts, StoreError> {
        self.run("count deliveries", query::delivery_counts(&self.pool))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run("ping", query::ping(&self.pool)).await
    }

    fn external_wakeups(&self) -> Option<watch::Receiver<u64>> {
        Some(self.wakeups.clone())
    }
}
