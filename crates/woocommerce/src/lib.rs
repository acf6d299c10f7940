//! A delivery target that turns each validated Wamebo order into exactly one
//! WooCommerce order, through the WooCommerce REST API v3
//! (`{base_url}/wp-json/wc/v3`).
//!
//! [`WooCommerceSink`] resolves every SKU to a product or variation, posts the
//! order with the exact line totals the customer paid, and records the
//! upstream ids in the order's `meta_data`. WooCommerce has no idempotency key
//! and no filter on meta data, so the sink finds an order an earlier attempt
//! created by listing recent orders and matching that meta data.

mod api;
mod config;
mod customer;
mod error;
mod payload;
mod reconcile;
mod sink;
mod sku;

pub use config::{OrderStatus, SkuMapping, WooCommerceConfig};
pub use error::ConfigError;
pub use payload::{META_META_ORDER_ID, META_ORDER_ID, META_STORE_ID};
pub use sink::WooCommerceSink;
