//! Secrets in configuration: the file names where a secret lives
//! (`env:NAME` or `file:/path`), never the secret itself.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

/// A secret read at start-up from an environment variable or a file.
///
/// Its `Debug` prints only where it came from, so a config that holds one can
/// be logged safely.
#[derive(Clone)]
pub struct ConfigSecret {
    source: String,
    value: SecretString,
}

/// A secret reference that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The value is not `env:NAME` or `file:/path`.
    #[error(
        "a secret must be given as `env:NAME` or `file:/path`, never written in the file itself"
    )]
    Literal,
    /// The environment variable is not set or not UTF-8.
    #[error("environment variable `{0}` is not set: export it before starting the bridge")]
    MissingEnv(String),
    /// The file could not be read.
    #[error("secret file `{path}` cannot be read: {error}")]
    Unreadable {
        /// The file's path.
        path: String,
        /// The I/O error.
        error: String,
    },
    /// The variable or file is empty.
    #[error("secret from `{0}` is empty")]
    Empty(String),
}

impl ConfigSecret {
    /// Reads a secret from `env:NAME` or `file:/path`. A file's trailing
    /// newline is dropped, since editors and `echo` add one.
    pub fn resolve(reference: &str) -> Result<Self, SecretError> {
        let reference = reference.trim();
        let value = if let Some(name) = reference.strip_prefix("env:") {
            std::env::var(name).map_err(|_| SecretError::MissingEnv(name.to_owned()))?
        } else if let Some(path) = reference.strip_prefix("file:") {
            let text = std::fs::read_to_string(path).map_err(|error| SecretError::Unreadable {
                path: path.to_owned(),
                error: error.to_string(),
            })?;
            text.trim_end_matches(['\r', '\n']).to_owned()
        } else {
            return Err(SecretError::Literal);
        };
        if value.is_empty() {
            return Err(SecretError::Empty(reference.to_owned()));
        }
        Ok(ConfigSecret {
            source: reference.to_owned(),
            value: SecretString::from(value),
        })
    }

    /// Wraps a secret that did not come from configuration, such as one a
    /// test generated.
    pub fn from_value(source: &str, value: impl Into<String>) -> Self {
        ConfigSecret {
            source: source.to_owned(),
            value: SecretString::from(value.into()),
        }
    }

    /// Returns the secret. Call it only where the secret is used.
    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }

    /// Returns where the secret came from, such as `env:ACME_WC_KEY`.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for ConfigSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConfigSecret({})", self.source)
    }
}

impl<'de> Deserialize<'de> for ConfigSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let reference = String::deserialize(deserializer)?;
        ConfigSecret::resolve(&reference).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_secret_is_rejected() {
        assert_eq!(
            ConfigSecret::resolve("wh_sec_abc").unwrap_err(),
            SecretError::Literal
        );
    }

    #[test]
    fn missing_env_is_named() {
        let error = ConfigSecret::resolve("env:WAMEBO_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert_eq!(
            error,
            SecretError::MissingEnv("WAMEBO_TEST_SURELY_UNSET_VARIABLE".into())
        );
    }

    #[test]
    fn file_secret_drops_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("wamebo-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        std::fs::write(&path, "s3cret\n").unwrap();

        let secret = ConfigSecret::resolve(&format!("file:{}", path.display())).unwrap();

        assert_eq!(secret.expose(), "s3cret");
        assert!(!format!("{secret:?}").contains("s3cret"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unreadable_file_is_an_error() {
        let error = ConfigSecret::resolve("file:/nonexistent/wamebo/secret").unwrap_err();
        assert!(matches!(error, SecretError::Unreadable { .. }), "{error:?}");
    }
}
