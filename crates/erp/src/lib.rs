//! The generic ERP target: delivers each order to a merchant's HTTP endpoint
//! in the canonical order format, and forwards other events unchanged.
//!
//! Every request carries an `Idempotency-Key` that is identical on every
//! attempt, and may be signed with Wamebo's own scheme or with Standard
//! Webhooks. `docs/erp-target.md` describes the contract for ERP developers.

mod config;
mod endpoint;
mod idempotency;
mod response;
mod signing;
mod sink;
mod url_template;

pub use config::{
    AuthConfig, ConfigError, ErpConfig, HttpMethod, IdempotencyKeyFormat, SigningConfig,
    SigningScheme, UnknownScheme, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT,
};
pub use endpoint::{EVENT_TYPE_HEADER, STORE_ID_HEADER};
pub use idempotency::IDEMPOTENCY_KEY_HEADER;
pub use signing::{describe_signature, DescribeError};
pub use sink::{ErpSink, KIND};
