//! The PostgreSQL backend, for several bridge replicas sharing one database.

mod backend;
mod claim;
mod errors;
mod migrate;
mod notify;
mod options;
mod query;
mod record;
mod replay;
mod rows;

pub use backend::PgStore;
pub use migrate::{migrate, MigrationReport};
pub use options::PgOptions;
