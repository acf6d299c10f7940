//! Verification and signing over the raw body bytes.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::header::{SignatureError, SignatureHeader};

type HmacSha256 = Hmac<Sha256>;

/// A body that has not yet passed signature verification. Its bytes can only
/// be reached through [`Unverified::verify`].
#[derive(Debug)]
pub struct Unverified<B>(B);

/// A body whose signature matched one of the store's secrets.
#[derive(Debug, Clone)]
pub struct Verified<B> {
    body: B,
    secret_index: usize,
}

impl<B: AsRef<[u8]>> Unverified<B> {
    /// Wraps a body as it arrived.
    pub fn new(body: B) -> Self {
        Unverified(body)
    }

    /// Returns the body's length, which is safe to know before verification.
    pub fn len(&self) -> usize {
        self.0.as_ref().len()
    }

    /// Returns true for an empty body.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_empty()
    }

    /// Checks the signature against every secret, in constant time for each,
    /// and releases the body only when one matches.
    ///
    /// All secrets are tried even after a match, so the time taken does not
    /// reveal which secret of a rotation is current.
    pub fn verify<S: AsRef<[u8]>>(
        self,
        header: &SignatureHeader,
        secrets: &[S],
    ) -> Result<Verified<B>, SignatureError> {
        if secrets.is_empty() {
            return Err(SignatureError::NoSecrets);
        }
        let mut matched = None;
        for (index, secret) in secrets.iter().enumerate() {
            let expected = digest(secret.as_ref(), self.0.as_ref());
            if bool::from(expected.ct_eq(&header.digest)) && matched.is_none() {
                matched = Some(index);
            }
        }
        match matched {
            Some(secret_index) => Ok(Verified {
                body: self.0,
                secret_index,
            }),
            None => Err(SignatureError::Mismatch),
        }
    }
}

impl<B> Verified<B> {
    /// Returns the verified body.
    pub fn body(&self) -> &B {
        &self.body
    }

    /// Returns the verified body, consuming the wrapper.
    pub fn into_body(self) -> B {
        self.body
    }

    /// Returns the position of the secret that matched, in configuration
    /// order; useful to see when an old secret of a rotation is still in use.
    pub fn secret_index(&self) -> usize {
        self.secret_index
    }
}

fn digest(secret: &[u8], body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Returns the lower-case hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    hex::encode(digest(secret, body))
}

/// Returns the full header value Wamebo sends: `sha256=<hex>`.
pub fn sign_header(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", sign(secret, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> SignatureHeader {
        SignatureHeader::parse(Some(value.as_bytes())).unwrap()
    }

    /// GitHub's published example for the same scheme, from "Validating
    /// webhook deliveries" in GitHub's webhook documentation.
    #[test]
    fn github_known_answer() {
        let secret = b"It's a Secret to Everybody";
        let body = b"Hello, World!";
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

        assert_eq!(sign_header(secret, body), expected);
        let verified = Unverified::new(&body[..])
            .verify(&header(expected), &[secret])
            .unwrap();
        assert_eq!(verified.body(), &&body[..]);
    }

    #[test]
    fn trailing_newline_changes_the_signature() {
        let secret = b"wh_sec_test";
        let body = b"{\"event\":\"order.created\"}\n";
        let signature = sign_header(secret, body);

        assert!(Unverified::new(&body[..])
            .verify(&header(&signature), &[secret])
            .is_ok());
        let trimmed = &body[..body.len() - 1];
        assert_eq!(
            Unverified::new(trimmed)
                .verify(&header(&signature), &[secret])
                .unwrap_err(),
            SignatureError::Mismatch
        );
    }

    #[test]
    fn escapes_verify_on_the_bytes_as_sent() {
        let secret = b"wh_sec_test";
        let body = br#"{"name":"Ren\u00e9e","url":"https:\/\/example.com\/x"}"#;
        let signature = sign_header(secret, body);

        assert!(Unverified::new(&body[..])
            .verify(&header(&signature), &[secret])
            .is_ok());
        let unescaped = "{\"name\":\"Ren\u{e9}e\",\"url\":\"https://example.com/x\"}";
        assert_eq!(
            Unverified::new(unescaped.as_bytes())
                .verify(&header(&signature), &[secret])
                .unwrap_err(),
            SignatureError::Mismatch
        );
    }

    #[test]
    fn any_secret_of_a_rotation_verifies() {
        let body = b"payload";
        let old: &[u8] = b"wh_sec_old";
        let new: &[u8] = b"wh_sec_new";
        let signature = sign_header(old, body);

        let verified = Unverified::new(&body[..])
            .verify(&header(&signature), &[new, old])
            .unwrap();
        assert_eq!(verified.secret_index(), 1);
    }

    #[test]
    fn wrong_secret_and_no_secret_fail() {
        let body = b"payload";
        let signature = sign_header(b"right", body);
        let no_secrets: [&[u8]; 0] = [];

        assert_eq!(
            Unverified::new(&body[..])
                .verify(&header(&signature), &[b"wrong"])
                .unwrap_err(),
            SignatureError::Mismatch
        );
        assert_eq!(
            Unverified::new(&body[..])
                .verify(&header(&signature), &no_secrets)
                .unwrap_err(),
            SignatureError::NoSecrets
        );
    }

    #[test]
    fn empty_body_can_be_signed_and_verified() {
        let signature = sign_header(b"k", b"");
        assert!(Unverified::new(&b""[..])
            .verify(&header(&signature), &[b"k"])
            .is_ok());
    }

    proptest::proptest! {
        #[test]
        fn sign_then_verify_round_trips(
            secret in proptest::collection::vec(proptest::num::u8::ANY, 1..80),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
        ) {
            let signature = sign_header(&secret, &body);
            proptest::prop_assert!(Unverified::new(&body[..]).verify(&header(&signature), &[&secret]).is_ok());
        }

        #[test]
        fn flipped_byte_fails(body in proptest::collection::vec(proptest::num::u8::ANY, 1..200), at in 0usize..200) {
            let signature = sign_header(b"k", &body);
            let mut tampered = body.clone();
            let index = at % tampered.len();
            tampered[index] ^= 0x01;
            proptest::prop_assert_eq!(
                Unverified::new(&tampered[..]).verify(&header(&signature), &[b"k"]).unwrap_err(),
                SignatureError::Mismatch
            );
        }
    }
}
