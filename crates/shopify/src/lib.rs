//! A delivery target that creates Wamebo orders on a Shopify shop through
//! the Admin GraphQL API (`orderCreate`).
//!
//! [`ShopifySink`] resolves SKUs to product variants, finds the customer by
//! phone or creates one, and records the Wamebo order id on the order as a
//! custom id that Shopify keeps unique, so a repeated attempt adopts the
//! order instead of creating a second one. It paces its requests by
//! Shopify's calculated query cost and sorts every failure into
//! retry-later or give-up.

mod catalog;
mod config;
mod cost;
mod graphql;
mod operations;
mod payload;
mod setup;
mod sink;
mod token;
mod totals;

pub use config::{
    ConfigError, CurrencyMode, FinancialStatus, InventoryBehaviour, ShopifyConfig,
    DEFAULT_API_VERSION, MIN_API_VERSION,
};
pub use sink::ShopifySink;
