//! Opening connections with the settings this backend relies on.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::store_error;
use super::options::SqliteOptions;
use crate::error::StoreError;

/// Enough cached statements for every query the writer or a reader runs,
/// including each combination of listing filters.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// Creates the directory that will hold the database file, if it is missing.
pub(super) fn create_parent_dir(path: &Path) -> Result<(), StoreError> {
    let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    else {
        return Ok(());
    };
    std::fs::create_dir_all(parent).map_err(|err| {
        StoreError::Unavailable(format!(
            "creating directory {} for the sqlite database {} failed: {err}; \
             create it with write access for this user or choose another storage path",
            parent.display(),
            path.display()
        ))
    })
}

/// Opens the read-write connection, creating the file if needed.
///
/// The writer runs in WAL mode with `synchronous=FULL`, so a commit is
/// durable when it returns, even across a power loss. Foreign keys are
/// enforced.
pub(super) fn open_writer(path: &Path, options: &SqliteOptions) -> Result<Connection, StoreError> {
    let opening = "opening the database";
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn =
        Connection::open_with_flags(path, flags).map_err(|err| store_error(path, opening, err))?;
    conn.busy_timeout(options.busy_timeout)
        .map_err(|err| store_error(path, opening, err))?;

    let journal_mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|err| store_error(path, "switching to WAL mode", err))?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "switching {} to WAL mode failed: sqlite kept journal mode `{journal_mode}`; \
             put the database on a local file system",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .and_then(|()| conn.pragma_update(None, "foreign_keys", true))
        .map_err(|err| store_error(path, "configuring the connection", err))?;

    if let Some(max_size_bytes) = options.max_size_bytes {
        limit_size(&conn, max_size_bytes)
            .map_err(|err| store_error(path, "limiting the database size", err))?;
    }
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(conn)
}

/// Opens a read-only connection to a database the writer has already set up.
pub(super) fn open_reader(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(conn)
}

/// The device and inode of the database file that the connections opened.
///
/// A connection keeps writing to its file after the path is deleted or
/// replaced, and nothing it commits there survives a restart, so writes and
/// readiness checks compare the path against this identity first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileIdentity {
    device: u64,
    inode: u64,
}

impl FileIdentity {
    /// Reads the identity of the file at `path`.
    pub(super) fn of(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        Ok(Self::from_metadata(&metadata))
    }

    #[cfg(unix)]
    fn from_metadata(metadata: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileIdentity {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }

    // NOTE: without inode numbers only a deleted file is noticed, not one
    // replaced by another file.
    #[cfg(not(unix))]
    fn from_metadata(_metadata: &std::fs::Metadata) -> Self {
        FileIdentity {
            device: 0,
            inode: 0,
        }
    }

    /// Checks that `path` still names this file, and returns an error message
    /// naming the path and the fix when it was deleted or replaced.
    pub(super) fn check(&self, path: &Path) -> Result<(), String> {
        match FileIdentity::of(path) {
            Ok(current) if current == *self => Ok(()),
            Ok(_) => Err(format!(
                "the sqlite database {} was replaced by another file while the bridge was running; \
                 nothing more is written to it: restore the original file or restart the bridge",
                path.display()
            )),
            Err(err) => Err(format!(
                "the sqlite database {} is gone while the bridge was running ({err}); \
                 nothing more is written to it: restore the file or restart the bridge, \
                 which creates an empty database",
                path.display()
            )),
        }
    }
}

/// Caps the database at `max_size_bytes`, rounded down to whole pages.
/// SQLite fails writes past the cap with `SQLITE_FULL`, as on a full disk.
fn limit_size(conn: &Connection, max_size_bytes: u64) -> rusqlite::Result<()> {
    let page_size: u64 = conn.pragma_query_value(None, "page_size", |row| row.get(0))?;
    let max_pages = (max_size_bytes / page_size.max(1)).max(1);
    conn.pragma_update(None, "max_page_count", max_pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma_text(conn: &Connection, name: &str) -> String {
        conn.pragma_query_value(None, name, |row| row.get::<_, rusqlite::types::Value>(0))
            .map(|value| match value {
                rusqlite::types::Value::Integer(number) => number.to_string(),
                rusqlite::types::Value::Text(text) => text,
                other => format!("{other:?}"),
            })
            .unwrap()
    }

    #[test]
    fn writer_is_durable_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bridge.db");

        let conn = open_writer(&path, &SqliteOptions::default()).unwrap();

        assert_eq!(pragma_text(&conn, "journal_mode"), "wal");
        // 2 is FULL.
        assert_eq!(pragma_text(&conn, "synchronous"), "2");
        assert_eq!(pragma_text(&conn, "foreign_keys"), "1");
        assert_eq!(pragma_text(&conn, "busy_timeout"), "5000");
    }

    #[test]
    fn size_limit_sets_page_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bridge.db");
        let options = SqliteOptions {
            max_size_bytes: Some(1 << 20),
            ..SqliteOptions::default()
        };

        let conn = open_writer(&path, &options).unwrap();

        let page_size: u64 = pragma_text(&conn, "page_size").parse().unwrap();
        let max_pages: u64 = pragma_text(&conn, "max_page_count").parse().unwrap();
        assert_eq!(max_pages * page_size, 1 << 20);
    }

    #[test]
    fn parent_directory_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/bridge.db");

        create_parent_dir(&path).unwrap();

        assert!(dir.path().join("a/b").is_dir());
    }
}
