//! Sorting of SQLite errors into [`StoreError`] variants.

use std::path::Path;

use rusqlite::ErrorCode;

use crate::error::StoreError;

/// Converts a SQLite error into a [`StoreError`] that names the operation and
/// the database file.
///
/// A full disk, an I/O error, a lock held too long, a file that cannot be
/// opened or is read-only, and every other error code of the database are
/// [`StoreError::Unavailable`], because they may pass. Damaged files, broken
/// constraints and values this version cannot read are
/// [`StoreError::Corrupt`].
pub(super) fn store_error(path: &Path, operation: &str, err: rusqlite::Error) -> StoreError {
    let message = format!("{operation} in {} failed: {err}", path.display());
    if is_unavailable(&err) {
        StoreError::Unavailable(message)
    } else {
        StoreError::Corrupt(message)
    }
}

/// Returns true for errors that may pass on their own (`SQLITE_FULL`,
/// `SQLITE_IOERR`, `SQLITE_BUSY`, `SQLITE_LOCKED`, `SQLITE_CANTOPEN`,
/// `SQLITE_READONLY` and the like).
pub(super) fn is_unavailable(err: &rusqlite::Error) -> bool {
    let Some(code) = err.sqlite_error_code() else {
        // Conversion failures and other errors raised by rusqlite itself
        // concern the data read, not the database's state.
        return false;
    };
    !matches!(
        code,
        ErrorCode::DatabaseCorrupt
            | ErrorCode::NotADatabase
            | ErrorCode::ConstraintViolation
            | ErrorCode::TypeMismatch
            | ErrorCode::TooBig
            | ErrorCode::ApiMisuse
            | ErrorCode::ParameterOutOfRange
            // SQLITE_ERROR: an SQL error or a missing table or column, so a
            // schema this version does not expect.
            | ErrorCode::Unknown
    )
}

#[cfg(test)]
mod tests {
    use rusqlite::ffi;

    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn transient_failures_are_unavailable() {
        for code in [
            ffi::SQLITE_FULL,
            ffi::SQLITE_IOERR,
            ffi::SQLITE_IOERR_FSYNC,
            ffi::SQLITE_BUSY,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_CANTOPEN,
            ffi::SQLITE_READONLY,
            ffi::SQLITE_NOMEM,
            ffi::SQLITE_PERM,
        ] {
            let error = store_error(Path::new("bridge.db"), "recording an event", failure(code));
            assert!(
                matches!(error, StoreError::Unavailable(_)),
                "code {code}: {error:?}"
            );
        }
    }

    #[test]
    fn damage_and_bugs_are_corrupt() {
        let conversion =
            rusqlite::Error::InvalidColumnType(0, "status".into(), rusqlite::types::Type::Integer);
        let errors = [
            failure(ffi::SQLITE_CORRUPT),
            failure(ffi::SQLITE_NOTADB),
            failure(ffi::SQLITE_CONSTRAINT_UNIQUE),
            failure(ffi::SQLITE_ERROR),
            conversion,
        ];
        for err in errors {
            let description = err.to_string();
            let error = store_error(Path::new("bridge.db"), "listing events", err);
            assert!(
                matches!(error, StoreError::Corrupt(_)),
                "{description}: {error:?}"
            );
        }
    }

    #[test]
    fn message_names_operation_and_file() {
        let error = store_error(
            Path::new("data/bridge.db"),
            "recording an event",
            failure(ffi::SQLITE_FULL),
        );

        let message = error.to_string();
        assert!(message.contains("recording an event"), "{message}");
        assert!(message.contains("data/bridge.db"), "{message}");
        assert!(message.contains("full"), "{message}");
    }
}
