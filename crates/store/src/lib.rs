//! Durable storage for the bridge: events (with their raw bodies), deliveries
//! (one per event and target) and attempts.
//!
//! Callers see only the [`Store`] trait. Exactly-once rests on two unique
//! keys that every backend enforces: one event per `(store_id, key)` and one
//! delivery per `(event_id, target_id)`.

#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod model;
pub mod postgres;
#[cfg(feature = "conformance")]
pub mod postgres_testing;
pub mod sqlite;
mod store;

pub use error::StoreError;
pub use model::*;
pub use postgres::{PgOptions, PgStore};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use store::Store;
