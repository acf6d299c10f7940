//! Settings of the SQLite backend and parsing of its location.

use std::path::PathBuf;
use std::time::Duration;

/// Settings of an [`SqliteStore`](super::SqliteStore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long a connection waits for a lock held by another process (such
    /// as a `replay` command) before the operation fails as unavailable.
    pub busy_timeout: Duration,
    /// The number of read connections for listings, counts and readiness
    /// checks. At least 1.
    pub read_connections: usize,
    /// The maximum number of write requests committed in one transaction.
    /// At least 1.
    pub max_batch: usize,
    /// The number of write requests that may wait for the writer thread.
    /// Further callers wait for room. At least 1.
    pub queue_capacity: usize,
    /// The maximum size of the database in bytes, rounded down to whole
    /// pages. Writes that would grow it further fail as unavailable, exactly
    /// as on a full disk. `None` leaves only the disk as the limit.
    pub max_size_bytes: Option<u64>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            read_connections: 4,
            max_batch: 1024,
            queue_capacity: 1024,
            max_size_bytes: None,
        }
    }
}

/// An error that makes a storage location unusable as an SQLite database path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSqliteUrl {
    /// The location is empty, or the URL has no path.
    #[error(
        "sqlite location `{0}` has no file path: use `sqlite://data/bridge.db` or a plain path"
    )]
    MissingPath(String),
    /// The URL names an in-memory database, which would lose every event
    /// on restart.
    #[error("sqlite location `{0}` is an in-memory database, which loses every event on restart: use a file path such as `sqlite://data/bridge.db`")]
    InMemory(String),
    /// The URL carries query parameters, which this backend does not read.
    #[error("sqlite location `{0}` has query parameters, which are not supported: remove everything from `?` on")]
    QueryParameters(String),
    /// The URL has a scheme other than `sqlite`.
    #[error("storage location `{0}` is not an sqlite URL: use `sqlite://path` or a plain path")]
    OtherScheme(String),
}

/// Parses a storage location into a database file path.
///
/// Accepts `sqlite://data/bridge.db` (relative to the working directory),
/// `sqlite:///var/lib/bridge.db` (absolute), `sqlite:data/bridge.db`, and a
/// plain path. Percent escapes are not decoded, so a path with unusual
/// characters is best given plainly.
pub fn parse_sqlite_url(location: &str) -> Result<PathBuf, InvalidSqliteUrl> {
    let path = if let Some(rest) = location.strip_prefix("sqlite:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.contains('?') {
            return Err(InvalidSqliteUrl::QueryParameters(location.to_owned()));
        }
        path
    } else if has_url_scheme(location) {
        return Err(InvalidSqliteUrl::OtherScheme(location.to_owned()));
    } else {
        location
    };

    if path == ":memory:" {
        return Err(InvalidSqliteUrl::InMemory(location.to_owned()));
    }
    if path.is_empty() {
        return Err(InvalidSqliteUrl::MissingPath(location.to_owned()));
    }
    Ok(PathBuf::from(path))
}

/// Tells a URL such as `postgres://…` from a plain path: a scheme is letters,
/// digits, `+`, `-` or `.` after a leading letter, followed by `://`.
fn has_url_scheme(location: &str) -> bool {
    let Some((scheme, _)) = location.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_locations_give_their_path() {
        let cases = [
            ("sqlite://data/bridge.db", "data/bridge.db"),
            (
                "sqlite:///var/lib/wamebo/bridge.db",
                "/var/lib/wamebo/bridge.db",
            ),
            ("sqlite:data/bridge.db", "data/bridge.db"),
            ("data/bridge.db", "data/bridge.db"),
            ("/tmp/bridge.db", "/tmp/bridge.db"),
            ("./bridge.db", "./bridge.db"),
        ];
        for (location, expected) in cases {
            assert_eq!(
                parse_sqlite_url(location),
                Ok(PathBuf::from(expected)),
                "{location}"
            );
        }
    }

    #[test]
    fn invalid_locations_are_rejected() {
        let cases = [
            ("", InvalidSqliteUrl::MissingPath(String::new())),
            (
                "sqlite://",
                InvalidSqliteUrl::MissingPath("sqlite://".into()),
            ),
            ("sqlite:", InvalidSqliteUrl::MissingPath("sqlite:".into())),
            (
                "sqlite::memory:",
                InvalidSqliteUrl::InMemory("sqlite::memory:".into()),
            ),
            (
                "sqlite://:memory:",
                InvalidSqliteUrl::InMemory("sqlite://:memory:".into()),
            ),
            (":memory:", InvalidSqliteUrl::InMemory(":memory:".into())),
            (
                "sqlite://data/bridge.db?mode=rwc",
                InvalidSqliteUrl::QueryParameters("sqlite://data/bridge.db?mode=rwc".into()),
            ),
            (
                "postgres://localhost/bridge",
                InvalidSqliteUrl::OtherScheme("postgres://localhost/bridge".into()),
            ),
        ];
        for (location, expected) in cases {
            assert_eq!(parse_sqlite_url(location), Err(expected), "{location}");
        }
    }

    #[test]
    fn error_names_location_and_fix() {
        let message = parse_sqlite_url("postgres://db/bridge")
            .unwrap_err()
            .to_string();

        assert!(message.contains("postgres://db/bridge"), "{message}");
        assert!(message.contains("sqlite://path"), "{message}");
    }
}
