//! Wamebo's webhook signature: `X-Webhook-Signature: sha256=<hex>`, where the
//! hex is HMAC-SHA256 of the exact raw body bytes keyed with the store's
//! signing secret. A bare `<hex>` is accepted too.
//!
//! The body is wrapped in [`Unverified`] on arrival, and the only way to read
//! it is [`Unverified::verify`], so no caller can use a payload that has not
//! passed the check.
//!
//! [`standard_webhooks`] signs and verifies the Standard Webhooks scheme,
//! which the bridge offers to the systems it delivers to.

mod header;
pub mod standard_webhooks;
mod verify;

pub use header::{SignatureError, SignatureHeader, HEADER_NAME};
pub use verify::{sign, sign_header, Unverified, Verified};
