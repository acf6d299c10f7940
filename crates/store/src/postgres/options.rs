//! Pool, timeout and schema settings for the PostgreSQL backend.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::StoreError;

/// Settings of a [`super::PgStore`]'s connection pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// The maximum number of connections in the pool. Each replica opens its own pool,
    /// plus one listener connection, so the server's `max_connections` must
    /// cover every replica.
    pub max_connections: u32,
    /// How long an operation waits for a pooled connection, including
    /// opening one, before it fails with [`StoreError::Unavailable`]. Keep it
    /// below the sender's 3-second deadline, so that during an outage the
    /// webhook response is a 503 rather than a timeout.
    pub acquire_timeout: Duration,
    /// How long opening the migration and listener connections may take.
    pub connect_timeout: Duration,
    /// The server-side limit on one SQL statement (`statement_timeout`).
    pub statement_timeout: Duration,
    /// The client-side limit on one store operation, waiting for a
    /// connection included. It ends operations on a connection that hangs
    /// without an error, such as one cut by a network partition.
    pub operation_timeout: Duration,
    /// The schema that contains the tables, created by the migrations if
    /// missing. `None` uses the server's default `search_path`.
    pub schema: Option<String>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(10),
            schema: None,
        }
    }
}

impl PgOptions {
    /// Checks these settings and the form of `url` without connecting, for a
    /// configuration check. The error names the setting at fault.
    pub fn validate_with_url(&self, url: &str) -> Result<(), StoreError> {
        self.connect_options(url).map(|_| ())
    }

    /// Checks the settings and builds the connection options for `url`.
    pub(crate) fn connect_options(&self, url: &str) -> Result<PgConnectOptions, StoreError> {
        self.validate()?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Unavailable(
                "invalid PostgreSQL URL in storage.url: it must start with postgres:// or postgresql://"
                    .to_owned(),
            ));
        }
        let mut options = PgConnectOptions::from_str(url).map_err(|error| {
            StoreError::Unavailable(format!(
                "invalid PostgreSQL URL in storage.url: {}; expected postgres://user@host:port/database",
                describe_url_error(&error)
            ))
        })?;

        let statement_timeout_ms = self.statement_timeout.as_millis().to_string();
        if options.get_application_name().is_none() {
            options = options.application_name("wamebo-bridge");
        }
        options = options.options([("statement_timeout", statement_timeout_ms.as_str())]);
        if let Some(schema) = &self.schema {
            options = options.options([("search_path", schema.as_str())]);
        }
        Ok(options)
    }

    /// Builds the pool options: size and acquire timeout.
    pub(crate) fn pool_options(&self) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            // Pings an idle connection before lending it, so connections
            // broken by a server restart are replaced instead of failing
            // the next operation.
            .test_before_acquire(true)
    }

    fn validate(&self) -> Result<(), StoreError> {
        let invalid = |message: String| Err(StoreError::Unavailable(message));
        if self.max_connections == 0 {
            return invalid("storage.max_connections is 0: set it to at least 1".to_owned());
        }
        for (key, value) in [
            ("storage.acquire_timeout", self.acquire_timeout),
            ("storage.connect_timeout", self.connect_timeout),
            ("storage.statement_timeout", self.statement_timeout),
            ("storage.operation_timeout", self.operation_timeout),
        ] {
            if value.is_zero() {
                return invalid(format!(
                    "{key} is 0: set a positive duration such as \"5s\""
                ));
            }
        }
        if let Some(schema) = &self.schema {
            validate_schema(schema)?;
        }
        Ok(())
    }
}

/// Accepts unquoted lower-case identifiers only, so the name reads the same
/// in `search_path`, in `CREATE SCHEMA` and in psql.
fn validate_schema(schema: &str) -> Result<(), StoreError> {
    let valid = (1..=63).contains(&schema.len())
        && schema
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.starts_with("pg_");
    if valid {
        Ok(())
    } else {
        Err(StoreError::Unavailable(format!(
            "invalid storage.schema `{schema}`: use 1 to 63 characters from a-z, 0-9 and `_`, \
             starting with a letter or `_` and not with `pg_`"
        )))
    }
}

/// Describes a URL parse error without echoing the URL, which may hold a
/// password.
fn describe_url_error(error: &sqlx::Error) -> &'static str {
    match error {
        sqlx::Error::Configuration(_) => "the URL could not be parsed",
        _ => "the URL was rejected",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_schemas_are_accepted() {
        for schema in ["wamebo", "bridge_2", "_test", "t"] {
            assert!(validate_schema(schema).is_ok(), "{schema}");
        }
    }

    #[test]
    fn invalid_schemas_are_rejected() {
        let long = "a".repeat(64);
        for schema in [
            "",
            "Wamebo",
            "9lives",
            "a-b",
            "a.b",
            "a b",
            "a\"b",
            "pg_temp",
            long.as_str(),
        ] {
            assert!(validate_schema(schema).is_err(), "`{schema}` was accepted");
        }
    }

    #[test]
    fn zero_pool_size_is_rejected() {
        let options = PgOptions {
            max_connections: 0,
            ..PgOptions::default()
        };

        let error = options
            .connect_options("postgres://localhost/db")
            .unwrap_err();

        assert!(
            error.to_string().contains("storage.max_connections"),
            "{error}"
        );
    }

    #[test]
    fn zero_timeouts_are_rejected() {
        type Change = fn(&mut PgOptions);
        let cases: [(&str, Change); 4] = [
            ("storage.acquire_timeout", |o| {
                o.acquire_timeout = Duration::ZERO
            }),
            ("storage.connect_timeout", |o| {
                o.connect_timeout = Duration::ZERO
            }),
            ("storage.statement_timeout", |o| {
                o.statement_timeout = Duration::ZERO
            }),
            ("storage.operation_timeout", |o| {
                o.operation_timeout = Duration::ZERO
            }),
        ];
        for (key, change) in cases {
            let mut options = PgOptions::default();
            change(&mut options);

            let error = options
                .connect_options("postgres://localhost/db")
                .unwrap_err();

            assert!(error.to_string().contains(key), "{key}: {error}");
        }
    }

    #[test]
    fn url_error_hides_the_password() {
        let error = PgOptions::default()
            .connect_options("postgres://user:hunter2@localhost:port/db")
            .unwrap_err();

        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
