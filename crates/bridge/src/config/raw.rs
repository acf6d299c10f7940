//! The configuration file as written: plain values, checked later by
//! [`super::validate`] so every problem is reported at once with its key.

use std::time::Duration;

use serde::Deserialize;

/// The whole file. Every table rejects keys it does not know.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    pub admin: Option<RawAdmin>,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub dispatch: RawDispatch,
    #[serde(default)]
    pub stores: Vec<RawStore>,
    /// Kept as tables, because each kind of target has its own keys.
    #[serde(default)]
    pub targets: Vec<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawServer {
    pub listen: String,
    pub max_body_bytes: u64,
    #[serde(with = "humantime_serde")]
    pub max_event_age: Duration,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8080".to_owned(),
            max_body_bytes: 1024 * 1024,
            // Wamebo's own retries span 24 hours, so three days leaves room
            // for a bridge that was down for a while.
            max_event_age: Duration::from_secs(72 * 3600),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub listen: String,
    pub token: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawStorage {
    pub url: String,
}

impl Default for RawStorage {
    fn default() -> Self {
        RawStorage {
            url: "sqlite://data/bridge.db".to_owned(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawDispatch {
    pub workers: u64,
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    pub max_attempts: u64,
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_after_cap: Duration,
    #[serde(with = "humantime_serde")]
    pub idle_poll: Duration,
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for RawDispatch {
    fn default() -> Self {
        RawDispatch {
            workers: 4,
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(3600),
            max_attempts: 20,
            max_age: Duration::from_secs(72 * 3600),
            // The platform adapters' default attempt takes up to 60 s (two
            // requests of 30 s), and the lease must outlast it.
            lease: Duration::from_secs(120),
            call_timeout: Duration::from_secs(90),
            retry_after_cap: Duration::from_secs(3600),
            idle_poll: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub id: String,
    #[serde(default)]
    pub signing_secrets: Vec<String>,
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub on_total_mismatch: wamebo_core::TotalMismatchPolicy,
}
