//! The Standard Webhooks signature scheme, version 1.0.0 of
//! <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>.
//!
//! A request carries three headers: `webhook-id` (stable across retries of
//! one message), `webhook-timestamp` (the attempt's time in Unix seconds) and
//! `webhook-signature`, a space-separated list of `v1,<base64>` entries. Each
//! entry is HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the
//! base64-decoded part of a `whsec_…` secret. Because the id and timestamp
//! are signed, a receiver can reject replays, which Wamebo's own scheme
//! cannot.

use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The header that carries the message id.
pub const ID_HEADER: &str = "webhook-id";
/// The header that carries the attempt's Unix timestamp in seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header that carries the signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// The prefix that marks a serialized symmetric secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// The version identifier of symmetric (HMAC-SHA256) signatures.
pub const SIGNATURE_VERSION: &str = "v1";

/// The minimum key length the specification allows: 24 bytes (192 bits).
pub const MIN_KEY_LEN: usize = 24;
/// The maximum key length the specification allows: 64 bytes (512 bits).
pub const MAX_KEY_LEN: usize = 64;
/// The maximum message id length accepted, so a hostile header stays small.
pub const MAX_MESSAGE_ID_LEN: usize = 256;

/// The timestamp tolerance that the reference libraries apply when verifying.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Each way signing or verification can fail. None carries a secret or a
/// signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StandardWebhooksError {
    /// The secret, after an optional `whsec_` prefix, is not standard base64.
    #[error("the Standard Webhooks secret is not base64 after its `whsec_` prefix")]
    InvalidSecret,
    /// The decoded secret is shorter or longer than the specification allows.
    #[error("the Standard Webhooks secret decodes to {0} bytes, expected {MIN_KEY_LEN} to {MAX_KEY_LEN}")]
    KeyLength(usize),
    /// The message id is empty, too long, contains `.` or characters outside
    /// visible ASCII.
    #[error(
        "the webhook-id must be 1 to {MAX_MESSAGE_ID_LEN} visible ASCII characters without `.`"
    )]
    InvalidMessageId,
    /// A required header is absent.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// The `webhook-timestamp` header is not an integer.
    #[error("the webhook-timestamp header is not an integer number of seconds")]
    InvalidTimestamp,
    /// The timestamp is older than the tolerance allows.
    #[error("the webhook-timestamp is older than the allowed tolerance")]
    TimestampTooOld,
    /// The timestamp lies further in the future than the tolerance allows.
    #[error("the webhook-timestamp is further in the future than the allowed tolerance")]
    TimestampInFuture,
    /// No `v1` signature in the header matches any key.
    #[error("no webhook-signature entry matches any signing key")]
    Mismatch,
    /// Verification was requested with no key at all.
    #[error("no Standard Webhooks signing key is configured")]
    NoKeys,
}

/// A decoded HMAC key. Its `Debug` prints no key material.
#[derive(Clone)]
pub struct SigningKey {
    bytes: Vec<u8>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(<{} bytes redacted>)", self.bytes.len())
    }
}

impl SigningKey {
    /// Decodes a serialized secret: `whsec_` followed by standard base64.
    /// The prefix is optional, as in the reference libraries, and surrounding
    /// whitespace is ignored.
    pub fn parse(secret: &str) -> Result<Self, StandardWebhooksError> {
        let trimmed = secret.trim();
        let encoded = trimmed.strip_prefix(SECRET_PREFIX).unwrap_or(trimmed);
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| StandardWebhooksError::InvalidSecret)?;
        Self::from_bytes(bytes)
    }

    /// Wraps raw key bytes, checking the length the specification allows.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, StandardWebhooksError> {
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&bytes.len()) {
            return Err(StandardWebhooksError::KeyLength(bytes.len()));
        }
        Ok(SigningKey { bytes })
    }

    /// Returns the secret in its serialized form, `whsec_<base64>`.
    pub fn to_secret_string(&self) -> String {
        format!("{SECRET_PREFIX}{}", BASE64.encode(&self.bytes))
    }

    /// Signs one attempt and returns the `webhook-signature` entry,
    /// `v1,<base64>`.
    ///
    /// The specification forbids `.` in the id, because the signed content
    /// joins id, timestamp and body with dots.
    pub fn sign(
        &self,
        message_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<String, StandardWebhooksError> {
        validate_message_id(message_id)?;
        let digest = self.digest(message_id, timestamp, body);
        Ok(format!("{SIGNATURE_VERSION},{}", BASE64.encode(digest)))
    }

    fn digest(&self, message_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.bytes)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// Checks that a message id may be signed: 1 to [`MAX_MESSAGE_ID_LEN`]
/// visible ASCII characters and no `.`.
pub fn validate_message_id(message_id: &str) -> Result<(), StandardWebhooksError> {
    let valid = !message_id.is_empty()
        && message_id.len() <= MAX_MESSAGE_ID_LEN
        && message_id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'.');
    if valid {
        Ok(())
    } else {
        Err(StandardWebhooksError::InvalidMessageId)
    }
}

/// The three header values of one received request, as raw text. `None`
/// means the header is absent.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedHeaders<'a> {
    /// The `webhook-id` value.
    pub id: Option<&'a str>,
    /// The `webhook-timestamp` value.
    pub timestamp: Option<&'a str>,
    /// The `webhook-signature` value.
    pub signature: Option<&'a str>,
}

/// Verifies a received request against every key (several during a
/// rotation), comparing each `v1` entry in constant time.
///
/// `now` is the receiver's clock in Unix seconds. A timestamp more than
/// `tolerance` away from it in either direction is rejected before any
/// signature is computed.
pub fn verify(
    keys: &[SigningKey],
    headers: ReceivedHeaders<'_>,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), StandardWebhooksError> {
    if keys.is_empty() {
        return Err(StandardWebhooksError::NoKeys);
    }
    let id = headers
        .id
        .ok_or(StandardWebhooksError::MissingHeader(ID_HEADER))?;
    let timestamp_text = headers
        .timestamp
        .ok_or(StandardWebhooksError::MissingHeader(TIMESTAMP_HEADER))?;
    let signature = headers
        .signature
        .ok_or(StandardWebhooksError::MissingHeader(SIGNATURE_HEADER))?;

    validate_message_id(id)?;
    let timestamp = parse_timestamp(timestamp_text)?;
    check_tolerance(timestamp, now, tolerance)?;

    let claimed: Vec<Vec<u8>> = signature
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == SIGNATURE_VERSION)
        .filter_map(|(_, encoded)| BASE64.decode(encoded).ok())
        .collect();

    let mut matched = false;
    for key in keys {
        let expected = key.digest(id, timestamp, body);
        for candidate in &claimed {
            matched |= bool::from(expected.as_slice().ct_eq(candidate.as_slice()));
        }
    }
    if matched {
        Ok(())
    } else {
        Err(StandardWebhooksError::Mismatch)
    }
}

fn parse_timestamp(text: &str) -> Result<i64, StandardWebhooksError> {
    let text = text.trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StandardWebhooksError::InvalidTimestamp);
    }
    text.parse()
        .map_err(|_| StandardWebhooksError::InvalidTimestamp)
}

fn check_tolerance(
    timestamp: i64,
    now: i64,
    tolerance: Duration,
) -> Result<(), StandardWebhooksError> {
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.saturating_sub(timestamp) > tolerance {
        return Err(StandardWebhooksError::TimestampTooOld);
    }
    if timestamp.saturating_sub(now) > tolerance {
        return Err(StandardWebhooksError::TimestampInFuture);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector that the specification's reference libraries share, from
    /// the "sign function works" test in
    /// <https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/javascript/src/webhook.test.ts>.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn vector_key() -> SigningKey {
        SigningKey::parse(VECTOR_SECRET).unwrap()
    }

    fn headers<'a>(id: &'a str, timestamp: &'a str, signature: &'a str) -> ReceivedHeaders<'a> {
        ReceivedHeaders {
            id: Some(id),
            timestamp: Some(timestamp),
            signature: Some(signature),
        }
    }

    #[test]
    fn published_vector_signs() {
        let signature = vector_key()
            .sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)
            .unwrap();

        assert_eq!(signature, VECTOR_SIGNATURE);
    }

    /// The vector of the reference Rust library's `test_sign`, in
    /// <https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/rust/src/lib.rs>.
    #[test]
    fn rust_library_vector_signs() {
        let key = SigningKey::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();

        let signature = key
            .sign(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                br#"{"email":"test@example.com","username":"test_user"}"#,
            )
            .unwrap();

        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn published_vector_verifies() {
        let timestamp = VECTOR_TIMESTAMP.to_string();

        let result = verify(
            &[vector_key()],
            headers(VECTOR_ID, &timestamp, VECTOR_SIGNATURE),
            VECTOR_BODY,
            VECTOR_TIMESTAMP + 10,
            DEFAULT_TOLERANCE,
        );

        assert_eq!(result, Ok(()));
    }

    #[test]
    fn secret_prefix_is_optional() {
        let bare = SigningKey::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();

        assert_eq!(
            bare.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY).unwrap(),
            VECTOR_SIGNATURE
        );
        assert_eq!(bare.to_secret_string(), VECTOR_SECRET);
    }

    #[test]
    fn invalid_secrets_are_rejected() {
        let too_long = format!("whsec_{}", BASE64.encode([0u8; MAX_KEY_LEN + 1]));
        let cases = [
            ("", StandardWebhooksError::KeyLength(0)),
            ("whsec_", StandardWebhooksError::KeyLength(0)),
            ("whsec_not base64!", StandardWebhooksError::InvalidSecret),
            ("wh_sec_abcdefgh", StandardWebhooksError::InvalidSecret),
            ("whsec_c2hvcnQ=", StandardWebhooksError::KeyLength(5)),
            (too_long.as_str(), StandardWebhooksError::KeyLength(65)),
        ];
        for (secret, expected) in cases {
            assert_eq!(
                SigningKey::parse(secret).unwrap_err(),
                expected,
                "`{secret}`"
            );
        }
    }

    #[test]
    fn invalid_message_ids_are_rejected() {
        let long = "m".repeat(MAX_MESSAGE_ID_LEN + 1);
        for id in ["", "msg.1", "msg 1", "msg\n1", "möp", long.as_str()] {
            assert_eq!(
                vector_key().sign(id, VECTOR_TIMESTAMP, VECTOR_BODY),
                Err(StandardWebhooksError::InvalidMessageId),
                "`{id}`"
            );
        }
    }

    #[test]
    fn tampered_parts_fail() {
        let timestamp = VECTOR_TIMESTAMP.to_string();
        let other_timestamp = (VECTOR_TIMESTAMP + 1).to_string();
        let other_key = SigningKey::from_bytes(vec![7; 32]).unwrap();
        let cases: [(&str, &[SigningKey], ReceivedHeaders<'_>, &[u8]); 4] = [
            (
                "body",
                &[vector_key()],
                headers(VECTOR_ID, &timestamp, VECTOR_SIGNATURE),
                br#"{"test": 2432232315}"#,
            ),
            (
                "id",
                &[vector_key()],
                headers("msg_other", &timestamp, VECTOR_SIGNATURE),
                VECTOR_BODY,
            ),
            (
                "timestamp",
                &[vector_key()],
                headers(VECTOR_ID, &other_timestamp, VECTOR_SIGNATURE),
                VECTOR_BODY,
            ),
            (
                "key",
                &[other_key],
                headers(VECTOR_ID, &timestamp, VECTOR_SIGNATURE),
                VECTOR_BODY,
            ),
        ];
        for (changed, keys, headers, body) in cases {
            assert_eq!(
                verify(keys, headers, body, VECTOR_TIMESTAMP, DEFAULT_TOLERANCE),
                Err(StandardWebhooksError::Mismatch),
                "changed {changed}"
            );
        }
    }

    #[test]
    fn timestamps_outside_tolerance_fail() {
        let timestamp = VECTOR_TIMESTAMP.to_string();
        let tolerance = DEFAULT_TOLERANCE.as_secs() as i64;
        let cases = [
            (
                VECTOR_TIMESTAMP + tolerance + 1,
                Err(StandardWebhooksError::TimestampTooOld),
            ),
            (
                VECTOR_TIMESTAMP - tolerance - 1,
                Err(StandardWebhooksError::TimestampInFuture),
            ),
            (VECTOR_TIMESTAMP + tolerance, Ok(())),
            (VECTOR_TIMESTAMP - tolerance, Ok(())),
        ];
        for (now, expected) in cases {
            assert_eq!(
                verify(
                    &[vector_key()],
                    headers(VECTOR_ID, &timestamp, VECTOR_SIGNATURE),
                    VECTOR_BODY,
                    now,
                    DEFAULT_TOLERANCE,
                ),
                expected,
                "now = {now}"
            );
        }
    }

    #[test]
    fn one_matching_entry_among_several_verifies() {
        let timestamp = VECTOR_TIMESTAMP.to_string();
        let list = format!(
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,{} {VECTOR_SIGNATURE} v1a,xyz",
            &VECTOR_SIGNATURE[3..]
        );

        let result = verify(
            &[vector_key()],
            headers(VECTOR_ID, &timestamp, &list),
            VECTOR_BODY,
            VECTOR_TIMESTAMP,
            DEFAULT_TOLERANCE,
        );

        assert_eq!(result, Ok(()));
    }

    #[test]
    fn only_v1_entries_count() {
        let timestamp = VECTOR_TIMESTAMP.to_string();
        let wrong_version = format!("v2,{}", &VECTOR_SIGNATURE[3..]);

        let result = verify(
            &[vector_key()],
            headers(VECTOR_ID, &timestamp, &wrong_version),
            VECTOR_BODY,
            VECTOR_TIMESTAMP,
            DEFAULT_TOLERANCE,
        );

        assert_eq!(result, Err(StandardWebhooksError::Mismatch));
    }

    #[test]
    fn any_key_of_a_rotation_verifies() {
        let timestamp = VECTOR_TIMESTAMP.to_string();
        let new_key = SigningKey::from_bytes(vec![1; 32]).unwrap();

        let result = verify(
            &[new_key, vector_key()],
            headers(VECTOR_ID, &timestamp, VECTOR_SIGNATURE),
            VECTOR_BODY,
            VECTOR_TIMESTAMP,
            DEFAULT_TOLERANCE,
        );

        assert_eq!(result, Ok(()));
    }

    #[test]
    fn malformed_headers_get_their_own_errors() {
        let timestamp = VECTOR_TIMESTAMP.to_string();
        let complete = headers(VECTOR_ID, &timestamp, VECTOR_SIGNATURE);
        let cases = [
            (
                ReceivedHeaders {
                    id: None,
                    ..complete
                },
                StandardWebhooksError::MissingHeader(ID_HEADER),
            ),
            (
                ReceivedHeaders {
                    timestamp: None,
                    ..complete
                },
                StandardWebhooksError::MissingHeader(TIMESTAMP_HEADER),
            ),
            (
                ReceivedHeaders {
                    signature: None,
                    ..complete
                },
                StandardWebhooksError::MissingHeader(SIGNATURE_HEADER),
            ),
            (
                ReceivedHeaders {
                    timestamp: Some("hello"),
                    ..complete
                },
                StandardWebhooksError::InvalidTimestamp,
            ),
            (
                ReceivedHeaders {
                    timestamp: Some("1614265330.5"),
                    ..complete
                },
                StandardWebhooksError::InvalidTimestamp,
            ),
            (
                ReceivedHeaders {
                    signature: Some("v1,"),
                    ..complete
                },
                StandardWebhooksError::Mismatch,
            ),
            (
                ReceivedHeaders {
                    signature: Some("v1,g0hM9SsE"),
                    ..complete
                },
                StandardWebhooksError::Mismatch,
            ),
        ];
        for (received, expected) in cases {
            assert_eq!(
                verify(
                    &[vector_key()],
                    received,
                    VECTOR_BODY,
                    VECTOR_TIMESTAMP,
                    DEFAULT_TOLERANCE
                ),
                Err(expected.clone()),
                "{received:?}"
            );
        }
    }

    #[test]
    fn no_keys_is_an_error() {
        let timestamp = VECTOR_TIMESTAMP.to_string();

        let result = verify(
            &[],
            headers(VECTOR_ID, &timestamp, VECTOR_SIGNATURE),
            VECTOR_BODY,
            VECTOR_TIMESTAMP,
            DEFAULT_TOLERANCE,
        );

        assert_eq!(result, Err(StandardWebhooksError::NoKeys));
    }

    #[test]
    fn key_debug_hides_the_bytes() {
        let shown = format!("{:?}", vector_key());

        assert_eq!(shown, "SigningKey(<24 bytes redacted>)");
    }

    proptest::proptest! {
        #[test]
        fn sign_then_verify_round_trips(
            key in proptest::collection::vec(proptest::num::u8::ANY, MIN_KEY_LEN..=MAX_KEY_LEN),
            id in "[a-zA-Z0-9_:-]{1,40}",
            timestamp in 0i64..4_000_000_000,
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let key = SigningKey::from_bytes(key).unwrap();
            let signature = key.sign(&id, timestamp, &body).unwrap();
            let timestamp_text = timestamp.to_string();
            let received = headers(&id, &timestamp_text, &signature);
            proptest::prop_assert_eq!(
                verify(&[key], received, &body, timestamp, DEFAULT_TOLERANCE),
                Ok(())
            );
        }
    }
}
