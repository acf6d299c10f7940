//! The error of an invalid WooCommerce target configuration.

/// A configuration value that cannot work, naming the key and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` {problem}")]
pub struct ConfigError {
    /// The full key, such as `targets.acme-woo.base_url`.
    pub key: String,
    /// The problem and its fix. Never contains a secret.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(
        target: &wamebo_core::TargetId,
        key: &str,
        problem: impl Into<String>,
    ) -> Self {
        ConfigError {
            key: format!("targets.{target}.{key}"),
            problem: problem.into(),
        }
    }
}
