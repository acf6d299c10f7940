//! The bridge's configuration: one TOML file, overridden by
//! `WAMEBO_BRIDGE__SECTION__KEY` environment variables, checked in one pass
//! that reports every problem with its key and fix.

mod problem;
mod raw;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use wamebo_core::{ConfigSecret, StoreId, TargetId, TotalMismatchPolicy};

pub use problem::{ConfigError, ConfigProblem};

use crate::targets::TargetSpec;

/// The configuration file read when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "config/bridge.toml";

/// The prefix of environment variables that override file values:
/// `WAMEBO_BRIDGE__SERVER__LISTEN` sets `[server] listen`.
pub const ENV_PREFIX: &str = "WAMEBO_BRIDGE__";

/// A validated configuration, with every secret read.
#[derive(Debug, Clone)]
pub struct Config {
    /// The public listener and request limits.
    pub server: ServerConfig,
    /// The admin listener, when configured.
    pub admin: Option<AdminConfig>,
    /// The storage backend of events and deliveries.
    pub storage: StorageConfig,
    /// Delivery workers and their retry schedule.
    pub dispatch: DispatchConfig,
    /// The merchant stores that Wamebo posts to, in file order.
    pub stores: Vec<StoreConfig>,
    /// The delivery targets, in file order.
    pub targets: Vec<TargetSpec>,
    /// Things that work but are probably unintended, such as a target that
    /// no store routes to.
    pub warnings: Vec<String>,
}

/// The `[server]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The address of the public listener; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Largest accepted webhook body, in bytes.
    pub max_body_bytes: usize,
    /// Events whose timestamp is older are quarantined as `stale_event`.
    pub max_event_age: Duration,
}

/// The `[admin]` table.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// The address of the admin listener, separate from the public one.
    pub listen: SocketAddr,
    /// The bearer token that admin requests must carry.
    pub token: ConfigSecret,
}

/// The `[storage]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// The parsed `url`.
    pub url: StorageUrl,
}

/// A storage backend and its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// `sqlite://data/bridge.db` (relative to the working directory) or
    /// `sqlite:///var/lib/wamebo/bridge.db` (absolute).
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
}

/// The `[dispatch]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchConfig {
    /// Number of concurrent delivery workers.
    pub workers: usize,
    /// Delay before the second attempt; doubled per attempt, with jitter.
    pub initial_backoff: Duration,
    /// Maximum delay between two attempts.
    pub max_backoff: Duration,
    /// Attempts before a delivery is dead as `retries_exhausted`.
    pub max_attempts: u32,
    /// Age of a delivery after which it is dead as `retries_exhausted`.
    pub max_age: Duration,
    /// How long a worker's claim on a delivery holds; longer than
    /// `call_timeout` and every target's request timeout.
    pub lease: Duration,
    /// Time allowed for one attempt's calls to a target (looking up an
    /// existing order and creating one together).
    pub call_timeout: Duration,
    /// Longest `Retry-After` a target may ask for.
    pub retry_after_cap: Duration,
    /// How often idle workers look for due deliveries when nothing wakes
    /// them.
    pub idle_poll: Duration,
    /// How long shutdown waits for in-flight deliveries.
    pub shutdown_grace: Duration,
}

/// One `[[stores]]` table.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The store's id, as in `POST /webhooks/{id}`.
    pub id: StoreId,
    /// Every secret a signature may be made with; several during rotation.
    pub signing_secrets: Vec<ConfigSecret>,
    /// The targets its events go to.
    pub targets: Vec<TargetId>,
    /// The policy for an order whose lines do not add up to its total.
    pub on_total_mismatch: TotalMismatchPolicy,
}

impl Config {
    /// Reads the file at `path`, applies `WAMEBO_BRIDGE__…` overrides from
    /// the environment, reads every secret and validates the result.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::NotFound {
                path: path.to_path_buf(),
            });
        }
        let figment = Figment::from(Toml::file(path)).merge(Env::prefixed(ENV_PREFIX).split("__"));
        extract(figment, path.display().to_string())
    }

    /// Validates configuration text, without environment overrides.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        extract(
            Figment::from(Toml::string(text)),
            "configuration".to_owned(),
        )
    }

    /// Returns the store with this id.
    pub fn store(&self, id: &str) -> Option<&StoreConfig> {
        self.stores.iter().find(|store| store.id.as_str() == id)
    }

    /// Returns the target with this id.
    pub fn target(&self, id: &TargetId) -> Option<&TargetSpec> {
        self.targets.iter().find(|target| &target.id == id)
    }
}

fn extract(figment: Figment, origin: String) -> Result<Config, ConfigError> {
    let raw = figment
        .extract::<raw::RawConfig>()
        .map_err(|error| ConfigError::Invalid {
            origin: origin.clone(),
            problems: problem::from_figment(error),
        })?;
    validate::validate(raw).map_err(|problems| ConfigError::Invalid { origin, problems })
}

#[cfg(test)]
mod tests;
