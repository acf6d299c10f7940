//! The SQLite backend: one writer thread with group commit, a pool of
//! read-only connections, and migrations embedded in the binary.

mod connection;
mod error;
mod migrate;
mod options;
mod read_ops;
mod read_pool;
mod rows;
mod store;
mod write_ops;
mod writer;

pub use migrate::MigrationReport;
pub use options::{parse_sqlite_url, InvalidSqliteUrl, SqliteOptions};
pub use store::SqliteStore;
