//! Configuration errors: each names the key at fault and the fix.

use std::fmt;
use std::path::PathBuf;

/// One problem with one configuration key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key at fault, such as `stores[0].signing_secrets`.
    pub key: String,
    /// The problem and its fix.
    pub message: String,
}

impl ConfigProblem {
    /// Builds a problem for `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not exist.
    #[error("configuration file `{}` not found: pass `--config PATH`, or run from the folder that contains `config/bridge.toml`", path.display())]
    NotFound {
        /// The path looked for.
        path: PathBuf,
    },
    /// The file was read but has problems.
    #[error("{}", format_problems(origin, problems))]
    Invalid {
        /// The file's path, or `configuration` for text that came from
        /// elsewhere.
        origin: String,
        /// Every problem found, in file order.
        problems: Vec<ConfigProblem>,
    },
}

impl ConfigError {
    /// Returns the problems of an invalid configuration, or none.
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            ConfigError::NotFound { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

fn format_problems(origin: &str, problems: &[ConfigProblem]) -> String {
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    let mut text = format!("configuration `{origin}` has {count} {noun}:");
    for problem in problems {
        text.push_str("\n  - ");
        text.push_str(&problem.to_string());
    }
    text
}

/// Converts figment's errors (unknown keys, wrong types, bad durations) into
/// problems that name the key as written in the file.
pub(crate) fn from_figment(error: figment::Error) -> Vec<ConfigProblem> {
    error
        .into_iter()
        .map(|error| {
            let mut key = key_path(&error.path);
            let message = match &error.kind {
                figment::error::Kind::UnknownField(field, expected) => {
                    append_field(&mut key, &error.path, field);
                    format!(
                        "unknown key; remove it or correct its spelling (known keys here: {})",
                        expected.join(", ")
                    )
                }
                figment::error::Kind::MissingField(field) => {
                    append_field(&mut key, &error.path, field);
                    "missing; add it".to_owned()
                }
                kind => kind.to_string(),
            };
            let key = if key.is_empty() {
                "(top level)".to_owned()
            } else {
                key
            };
            ConfigProblem::new(key, message)
        })
        .collect()
}

/// Appends the field's name to the key, unless figment's path already ends
/// with it (it does for unknown keys in nested tables).
fn append_field(key: &mut String, path: &[String], field: &str) {
    if path.last().map(String::as_str) == Some(field) {
        return;
    }
    if !key.is_empty() {
        key.push('.');
    }
    key.push_str(field);
}

/// Writes figment's path `["stores", "0", "id"]` as `stores[0].id`.
fn key_path(path: &[String]) -> String {
    let mut key = String::new();
    for part in path {
        if part.parse::<usize>().is_ok() {
            key.push_str(&format!("[{part}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(part);
        }
    }
    key
}
