//! Turning the validated configuration into the settings of the store, the
//! receiver and the dispatcher. The service and the `replay` command share
//! these, so both route events the same way.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use wamebo_core::{ClassifyPolicy, OrderSink, StoreId, TargetId};
use wamebo_dispatch::DispatchSettings;
use wamebo_receiver::{StoreSettings, TargetRoute};
use wamebo_store::{SqliteOptions, SqliteStore, Store};

use crate::config::{Config, StorageUrl, StoreConfig};

/// Opens the configured storage, creating its folder and applying pending
/// migrations. Runs on a blocking thread, because opening reads the disk.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    match &config.storage.url {
        StorageUrl::Sqlite { path } => {
            let location = path.to_string_lossy().into_owned();
            let display_path = path.display().to_string();
            let store = tokio::task::spawn_blocking(move || {
                SqliteStore::open(&location, SqliteOptions::default())
            })
            .await
            .context("the task opening the database stopped")?
            .with_context(|| {
                format!("cannot open the SQLite database `{display_path}` (`storage.url`); check that its folder is writable and no other program holds it")
            })?;
            Ok(Arc::new(store))
        }
    }
}

/// Applies pending migrations to the configured storage and returns the
/// versions applied and the schema version after the run.
pub async fn migrate_store(config: &Config) -> anyhow::Result<(Vec<u32>, u32)> {
    match &config.storage.url {
        StorageUrl::Sqlite { path } => {
            let location = path.to_string_lossy().into_owned();
            let display_path = path.display().to_string();
            let report = tokio::task::spawn_blocking(move || {
                SqliteStore::migrate(&location, &SqliteOptions::default())
            })
            .await
            .context("the task migrating the database stopped")?
            .with_context(|| format!("cannot migrate the SQLite database `{display_path}`"))?;
            Ok((report.applied, report.version))
        }
    }
}

/// Returns the validation policy of one store.
pub fn classify_policy(config: &Config, store: &StoreConfig) -> ClassifyPolicy {
    ClassifyPolicy {
        max_event_age: Some(config.server.max_event_age),
        total_mismatch: store.on_total_mismatch,
    }
}

/// Returns every store's validation policy, for the dispatcher.
pub fn classify_policies(config: &Config) -> HashMap<StoreId, ClassifyPolicy> {
    config
        .stores
        .iter()
        .map(|store| (store.id.clone(), classify_policy(config, store)))
        .collect()
}

/// Returns the receiver's settings of one store: its secrets, policy and the
/// event types each of its targets receives.
pub fn store_settings(config: &Config, store: &StoreConfig) -> StoreSettings {
    let targets = store
        .targets
        .iter()
        .filter_map(|target_id| config.target(target_id))
        .map(|target| TargetRoute {
            target_id: target.id.clone(),
            events: target.events.clone(),
        })
        .collect();
    StoreSettings {
        id: store.id.clone(),
        secrets: store.signing_secrets.clone(),
        policy: classify_policy(config, store),
        targets,
    }
}

/// Returns the receiver's settings of every store.
pub fn all_store_settings(config: &Config) -> Vec<StoreSettings> {
    config
        .stores
        .iter()
        .map(|store| store_settings(config, store))
        .collect()
}

/// Returns the dispatcher's settings.
pub fn dispatch_settings(config: &Config) -> DispatchSettings {
    let dispatch = &config.dispatch;
    DispatchSettings {
        workers: dispatch.workers,
        initial_backoff: dispatch.initial_backoff,
        max_backoff: dispatch.max_backoff,
        max_attempts: dispatch.max_attempts,
        max_age: dispatch.max_age,
        lease: dispatch.lease,
        retry_after_cap: dispatch.retry_after_cap,
        idle_poll: dispatch.idle_poll,
        call_timeout: dispatch.call_timeout,
    }
}

/// Builds the sink of every configured target. Runs on a blocking thread,
/// because a file target reads its whole file.
pub async fn build_sinks(config: &Config) -> anyhow::Result<HashMap<TargetId, Arc<dyn OrderSink>>> {
    let targets = config.targets.clone();
    tokio::task::spawn_blocking(move || {
        let mut sinks = HashMap::with_capacity(targets.len());
        for target in targets {
            let sink = target.build().with_context(|| {
                format!(
                    "cannot set up target `{}` of kind `{}`",
                    target.id, target.kind
                )
            })?;
            sinks.insert(target.id.clone(), sink);
        }
        Ok(sinks)
    })
    .await
    .context("the task setting up targets stopped")?
}
