//! The `file` delivery target: each delivered order is appended as one line
//! of canonical order JSON (amounts as strings) to a JSON-lines file.
//!
//! Each `(store_id, order_id)` appears in the file at most once, across
//! retries, concurrent workers, restarts and a crash between the append and
//! the store's commit, because the sink indexes the file when it opens and
//! checks the index before every append. This holds while one sink is the
//! only writer of the file.

mod config;
mod error;
mod journal;
mod sink;

pub use config::FileTargetConfig;
pub use error::FileSinkError;
pub use sink::FileSink;
