//! The wamebo-bridge service: configuration, the delivery targets it builds,
//! and the commands of the `wamebo-bridge` binary.

pub mod config;
pub mod targets;
pub mod telemetry;

pub use config::{Config, ConfigError, ConfigProblem};
