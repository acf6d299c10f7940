//! A delivery target that creates Wamebo orders on a Shopify shop through
//! the Admin GraphQL API (`orderCreate`), exactly once per order.
//!
//! [`ShopifySink`] resolves SKUs to product variants, finds the customer by
//! phone or creates one, records the Wamebo order id as a unique custom id
//! on the order, paces its requests by Shopify's calculated query cost and
//! sorts every failure into retry-later or give-up.

mod catalog;
mod config;
mod cost;
mod graphql;
mod operations;
mod payload;
mod setup;
mod sink;
mod totals;

pub use config::{
    ConfigError, CurrencyMode, FinancialStatus, InventoryBehaviour, ShopifyConfig,
    DEFAULT_API_VERSION, MIN_API_VERSION,
};
pub use sink::ShopifySink;
