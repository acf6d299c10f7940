//! PostgreSQL for the end-to-end tests. The server URL, the per-test schema
//! and the cuttable proxy come from the store crate's test helpers, shared
//! with its own PostgreSQL tests.

pub use wamebo_store::postgres_testing::{
    server_url, with_application_name, Proxy, TestSchema, URL_VARIABLE,
};
use wamebo_store::{PgOptions, PgStore};

/// Picks a random schema for one end-to-end test on the server at
/// `server_url`. The bridge's migrations create the schema.
pub fn test_schema(server_url: &str) -> TestSchema {
    TestSchema::new(server_url, "wamebo_e2e")
}

/// Opens a store on `schema`, for checking what the bridge recorded.
pub async fn open_store(schema: &TestSchema) -> PgStore {
    let options = PgOptions {
        max_connections: 2,
        schema: Some(schema.name.clone()),
        ..PgOptions::default()
    };
    PgStore::connect(&schema.url(), options)
        .await
        .expect("connect to the test PostgreSQL server")
}
