//! Sorting sqlx errors into [`StoreError`] variants.

use std::future::Future;
use std::time::Duration;

use crate::error::StoreError;

/// Maps an sqlx error met while doing `action` (such as `record event`).
///
/// Connection failures, timeouts and transient server states (shutdown,
/// too many connections, full disk, serialization failures) become
/// [`StoreError::Unavailable`], so callers respond 503 and retry. Errors that
/// mean the database does not match this code (a missing table, a row that
/// does not decode) become [`StoreError::Corrupt`].
pub(crate) fn map_error(action: &str, error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(database) => {
            let code = database.code().map(|code| code.into_owned());
            if code.as_deref().is_some_and(is_transient_sqlstate) {
                StoreError::Unavailable(format!("{action} failed on PostgreSQL: {error}"))
            } else {
                StoreError::Corrupt(format!(
                    "{action} failed on PostgreSQL with SQLSTATE {}: {error}; \
                     run `wamebo-bridge migrate` if the schema is out of date",
                    code.as_deref().unwrap_or("unknown")
                ))
            }
        }
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::RowNotFound => StoreError::Corrupt(format!(
            "{action} read an unexpected row from PostgreSQL: {error}"
        )),
        sqlx::Error::PoolTimedOut => StoreError::Unavailable(format!(
            "{action} failed: no PostgreSQL connection became available in time; \
             check that the server is up and storage.max_connections is large enough"
        )),
        _ => StoreError::Unavailable(format!("{action} failed on PostgreSQL: {error}")),
    }
}

/// SQLSTATE classes and codes that a retry may clear: connection exceptions
/// (08), insufficient resources such as a full disk (53), operator
/// intervention such as a shutdown or a statement timeout (57), system
/// errors (58), serialization failures and deadlocks (40001, 40P01).
/// Codes: <https://www.postgresql.org/docs/current/errcodes-appendix.html>.
fn is_transient_sqlstate(code: &str) -> bool {
    ["08", "53", "57", "58"]
        .iter()
        .any(|class| code.starts_with(class))
        || code == "40001"
        || code == "40P01"
}

/// Runs one store operation under the client-side operation timeout, so a
/// connection that hangs without an error cannot hold a caller forever.
pub(crate) async fn with_timeout<T>(
    action: &str,
    limit: Duration,
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, operation).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(format!(
            "{action} timed out after {} ms waiting for PostgreSQL; \
             check the server and storage.operation_timeout",
            limit.as_millis()
        ))),
    }
}

/// Returns a [`StoreError::Corrupt`] for a stored value this code cannot read.
pub(crate) fn corrupt(kind: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("invalid {kind} stored in PostgreSQL: `{value}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_sqlstates_are_recognised() {
        for code in [
            "08006", "08001", "53100", "53300", "57P01", "57014", "58030", "40001", "40P01",
        ] {
            assert!(is_transient_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn permanent_sqlstates_are_not_transient() {
        for code in ["42P01", "23505", "22P02", "42703", "40002"] {
            assert!(!is_transient_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn pool_timeout_is_unavailable() {
        let error = map_error("claim deliveries", sqlx::Error::PoolTimedOut);

        assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    }

    #[test]
    fn io_error_is_unavailable() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");

        let error = map_error("ping", sqlx::Error::Io(io));

        assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    }
}
