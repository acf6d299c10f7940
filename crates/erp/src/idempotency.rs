//! The `Idempotency-Key` a delivery carries, and the Standard Webhooks
//! message id derived from it.
//!
//! The header follows the IETF draft "The Idempotency-Key HTTP Header Field"
//! (draft-ietf-httpapi-idempotency-key-header-07,
//! <https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/>),
//! which makes the value a Structured Field string (RFC 8941) and has a
//! server respond with 409 while a request with the same key is still being
//! processed. Stripe-style servers expect the bare key instead, so the
//! format is configurable.

use sha2::{Digest, Sha256};
use wamebo_core::{StoreId, TargetId};

use crate::config::IdempotencyKeyFormat;

/// The request header that carries the key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Builds the key of one delivery: `wamebo:{store}:{target}:{event key}`,
/// where the event key is `order:{order_id}` for orders, and for other
/// events the bridge's deduplication key (`message:{message_id}`, or
/// `sha256:{hex}` of the body).
///
/// Every part is visible ASCII and ids cannot contain `:`, so the key is
/// unambiguous, identical on every attempt, and valid in a header.
pub(crate) fn idempotency_key(store_id: &StoreId, target_id: &TargetId, event_key: &str) -> String {
    format!("wamebo:{store_id}:{target_id}:{event_key}")
}

impl IdempotencyKeyFormat {
    /// Writes the key as this format wants it in the header.
    pub fn header_value(self, key: &str) -> String {
        match self {
            IdempotencyKeyFormat::Token => key.to_owned(),
            IdempotencyKeyFormat::SfString => sf_string(key),
        }
    }
}

/// Serializes a Structured Field string (RFC 8941, section 4.1.6): quoted,
/// with `"` and `\` escaped. The keys built here contain only visible ASCII,
/// which is all an sf-string may carry.
fn sf_string(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// Derives the Standard Webhooks `webhook-id` from the idempotency key:
/// `msg_` and the first 32 hex digits of its SHA-256.
///
/// The key itself cannot serve, because a Wamebo message id may contain `.`,
/// which the specification forbids in `webhook-id`. The hash keeps the id
/// stable across retries of one delivery, as the key is.
pub(crate) fn message_id(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    format!("msg_{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        idempotency_key(
            &StoreId::new("acme").unwrap(),
            &TargetId::new("acme-erp").unwrap(),
            "order:5542",
        )
    }

    #[test]
    fn key_names_store_target_and_event() {
        assert_eq!(key(), "wamebo:acme:acme-erp:order:5542");
    }

    #[test]
    fn formats_write_token_or_sf_string() {
        assert_eq!(
            IdempotencyKeyFormat::Token.header_value(&key()),
            "wamebo:acme:acme-erp:order:5542"
        );
        assert_eq!(
            IdempotencyKeyFormat::SfString.header_value(&key()),
            "\"wamebo:acme:acme-erp:order:5542\""
        );
    }

    #[test]
    fn sf_string_escapes_quote_and_backslash() {
        assert_eq!(sf_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn message_id_is_stable_and_dot_free() {
        let with_dot = "wamebo:acme:acme-erp:message:wamid.HBgL";

        let first = message_id(with_dot);

        assert_eq!(first, message_id(with_dot));
        assert_eq!(first.len(), 4 + 32);
        assert!(first.starts_with("msg_"));
        assert!(!first.contains('.'));
        assert_ne!(first, message_id(&key()));
    }
}
