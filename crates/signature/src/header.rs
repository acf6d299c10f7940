//! Parsing of the `X-Webhook-Signature` header value.

use std::fmt;

/// The header that carries the signature.
pub const HEADER_NAME: &str = "X-Webhook-Signature";

/// Length of an HMAC-SHA256 digest in bytes.
pub(crate) const DIGEST_LEN: usize = 32;

/// Each way a signature can fail. None of them carries the signature itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The request has no `X-Webhook-Signature` header.
    #[error("the X-Webhook-Signature header is missing")]
    Missing,
    /// The header appears more than once. Senders send one; taking the first
    /// or the last of several would let a proxy and the bridge disagree on
    /// which one counts.
    #[error("the X-Webhook-Signature header appears more than once")]
    Repeated,
    /// The header is present but empty.
    #[error("the X-Webhook-Signature header is empty")]
    Empty,
    /// The header names a scheme other than `sha256`, such as `sha512=`.
    #[error("the X-Webhook-Signature scheme `{0}` is not supported: expected `sha256=`")]
    UnsupportedScheme(String),
    /// The value is not hexadecimal text.
    #[error("the X-Webhook-Signature value is not hexadecimal")]
    NotHex,
    /// The value decodes to the wrong number of bytes.
    #[error("the X-Webhook-Signature value has {0} hex digits, expected 64")]
    WrongLength(usize),
    /// The signature is well formed but matches none of the store's secrets.
    #[error("the X-Webhook-Signature does not match any signing secret of this store")]
    Mismatch,
    /// The store has no signing secret configured, so nothing can verify.
    #[error("no signing secret is configured for this store")]
    NoSecrets,
}

/// A parsed signature: the 32-byte HMAC-SHA256 digest the sender claims.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub(crate) digest: [u8; DIGEST_LEN],
}

impl fmt::Debug for SignatureHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignatureHeader(<redacted>)")
    }
}

impl SignatureHeader {
    /// Parses a header value: `sha256=<hex>` or a bare `<hex>`, hex in either
    /// case, surrounding whitespace ignored. `None` means the header is absent.
    ///
    /// Takes raw bytes because HTTP header values need not be UTF-8.
    pub fn parse(value: Option<&[u8]>) -> Result<Self, SignatureError> {
        let raw = value.ok_or(SignatureError::Missing)?;
        let text = raw.trim_ascii();
        if text.is_empty() {
            return Err(SignatureError::Empty);
        }

        let hex_part = match text.iter().position(|&b| b == b'=') {
            Some(at) => {
                let (scheme, rest) = text.split_at(at);
                if !scheme.eq_ignore_ascii_case(b"sha256") {
                    return Err(SignatureError::UnsupportedScheme(printable(scheme)));
                }
                rest[1..].trim_ascii()
            }
            None => text,
        };
        if hex_part.is_empty() {
            return Err(SignatureError::Empty);
        }
        if !hex_part.iter().all(u8::is_ascii_hexdigit) {
            return Err(SignatureError::NotHex);
        }
        if hex_part.len() != DIGEST_LEN * 2 {
            return Err(SignatureError::WrongLength(hex_part.len()));
        }

        let mut digest = [0u8; DIGEST_LEN];
        hex::decode_to_slice(hex_part, &mut digest).map_err(|_| SignatureError::NotHex)?;
        Ok(SignatureHeader { digest })
    }
}

/// Renders a scheme name for an error message: at most 16 printable ASCII
/// characters, so a hostile header cannot flood a log line.
fn printable(scheme: &[u8]) -> String {
    scheme
        .iter()
        .take(16)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn accepted_forms_parse_to_the_same_digest() {
        let expected = SignatureHeader::parse(Some(format!("sha256={HEX}").as_bytes())).unwrap();
        let forms = [
            HEX.to_owned(),
            HEX.to_uppercase(),
            format!("  sha256={HEX}\t"),
            format!("SHA256={}", HEX.to_uppercase()),
            format!("sha256= {HEX}"),
        ];
        for form in forms {
            assert_eq!(
                SignatureHeader::parse(Some(form.as_bytes())),
                Ok(expected.clone()),
                "`{form}`"
            );
        }
    }

    #[test]
    fn invalid_headers_get_their_own_errors() {
        let short = &HEX[..63];
        let long = format!("{HEX}00");
        let cases: Vec<(Option<Vec<u8>>, SignatureError)> = vec![
            (None, SignatureError::Missing),
            (Some(b"".to_vec()), SignatureError::Empty),
            (Some(b"   ".to_vec()), SignatureError::Empty),
            (Some(b"sha256=".to_vec()), SignatureError::Empty),
            (
                Some(format!("sha512={HEX}").into_bytes()),
                SignatureError::UnsupportedScheme("sha512".into()),
            ),
            (
                Some(format!("md5={HEX}").into_bytes()),
                SignatureError::UnsupportedScheme("md5".into()),
            ),
            (Some(b"sha256=zz".to_vec()), SignatureError::NotHex),
            (
                Some(format!("sha256={}", HEX.replace('7', "g")).into_bytes()),
                SignatureError::NotHex,
            ),
            (Some(vec![0xff, 0xfe, 0x00]), SignatureError::NotHex),
            (
                Some(format!("sha256={short}").into_bytes()),
                SignatureError::WrongLength(63),
            ),
            (
                Some(long.clone().into_bytes()),
                SignatureError::WrongLength(66),
            ),
            (
                Some(format!("sha256=sha256={HEX}").into_bytes()),
                SignatureError::NotHex,
            ),
        ];
        for (value, expected) in cases {
            let shown = value
                .as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned());
            assert_eq!(
                SignatureHeader::parse(value.as_deref()),
                Err(expected),
                "{shown:?}"
            );
        }
    }

    #[test]
    fn scheme_in_error_is_bounded_and_printable() {
        let value = format!("{}\u{1}={HEX}", "x".repeat(100));
        let Err(SignatureError::UnsupportedScheme(scheme)) =
            SignatureHeader::parse(Some(value.as_bytes()))
        else {
            panic!("expected an unsupported scheme");
        };
        assert_eq!(scheme.len(), 16);
    }

    #[test]
    fn debug_hides_the_digest() {
        let header = SignatureHeader::parse(Some(HEX.as_bytes())).unwrap();
        assert!(!format!("{header:?}").contains("757107"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = SignatureHeader::parse(Some(&bytes));
        }
    }
}
