//! Request signing under either scheme, and the description of what an ERP
//! should expect, for `wamebo-bridge sign`.

use reqwest::header::HeaderName;
use wamebo_core::ConfigSecret;
use wamebo_signature::standard_webhooks::{
    SigningKey, StandardWebhooksError, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

use crate::config::{ConfigError, SigningConfig, SigningScheme};

/// Signs outgoing request bodies.
#[derive(Debug)]
pub(crate) enum RequestSigner {
    /// `sha256=<hex>` of the body, as Wamebo signs its webhooks.
    Wamebo {
        /// The signature header.
        header: HeaderName,
        /// The HMAC key, used as its UTF-8 bytes.
        secret: ConfigSecret,
    },
    /// Standard Webhooks `v1` signatures.
    StandardWebhooks {
        /// The decoded `whsec_` key.
        key: SigningKey,
    },
}

impl RequestSigner {
    /// Builds the signer from the `[targets.signing]` table, naming
    /// `targets.<id>.signing.<key>` in errors.
    pub(crate) fn from_config(
        config: &SigningConfig,
        key_prefix: &str,
    ) -> Result<Self, ConfigError> {
        match config.scheme {
            SigningScheme::Wamebo => {
                let name = config
                    .header
                    .as_deref()
                    .unwrap_or(wamebo_signature::HEADER_NAME);
                let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    ConfigError::new(
                        format!("{key_prefix}.header"),
                        format!("`{name}` is not a valid header name"),
                        "use letters, digits and `-`, such as X-Webhook-Signature",
                    )
                })?;
                Ok(RequestSigner::Wamebo {
                    header,
                    secret: config.secret.clone(),
                })
            }
            SigningScheme::StandardWebhooks => {
                if config.header.is_some() {
                    return Err(ConfigError::new(
                        format!("{key_prefix}.header"),
                        "is set, but the standard-webhooks scheme fixes its header names",
                        "remove `header`, or use scheme = \"wamebo\"",
                    ));
                }
                let key = SigningKey::parse(config.secret.expose()).map_err(|error| {
                    ConfigError::new(
                        format!("{key_prefix}.secret"),
                        format!("from `{}` is invalid: {error}", config.secret.source()),
                        "give a whsec_ secret of 24 to 64 random bytes in base64, such as the output of \
                         `printf 'whsec_%s' \"$(openssl rand -base64 32)\"`",
                    )
                })?;
                Ok(RequestSigner::StandardWebhooks { key })
            }
        }
    }

    /// Returns the header names this signer sets, so configured headers
    /// cannot overwrite them.
    pub(crate) fn header_names(&self) -> Vec<HeaderName> {
        match self {
            RequestSigner::Wamebo { header, .. } => vec![header.clone()],
            RequestSigner::StandardWebhooks { .. } => {
                [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER]
                    .into_iter()
                    .map(HeaderName::from_static)
                    .collect()
            }
        }
    }

    /// Returns the signature headers for one attempt. `message_id` and
    /// `timestamp` only matter to Standard Webhooks.
    pub(crate) fn headers(
        &self,
        message_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Vec<(HeaderName, String)> {
        match self {
            RequestSigner::Wamebo { header, secret } => vec![(
                header.clone(),
                wamebo_signature::sign_header(secret.expose().as_bytes(), body),
            )],
            RequestSigner::StandardWebhooks { key } => {
                // The sink builds message ids as `msg_` and hex digits, which
                // are always valid, so signing cannot fail here.
                let signature = key
                    .sign(message_id, timestamp, body)
                    .unwrap_or_else(|error| {
                        unreachable!("generated webhook-id was rejected: {error}")
                    });
                vec![
                    (HeaderName::from_static(ID_HEADER), message_id.to_owned()),
                    (
                        HeaderName::from_static(TIMESTAMP_HEADER),
                        timestamp.to_string(),
                    ),
                    (HeaderName::from_static(SIGNATURE_HEADER), signature),
                ]
            }
        }
    }
}

/// The reason a signature could not be described.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescribeError {
    /// The secret is empty.
    #[error("the signing secret is empty")]
    EmptySecret,
    /// The Standard Webhooks secret or message id is invalid.
    #[error(transparent)]
    StandardWebhooks(#[from] StandardWebhooksError),
}

/// Returns the headers an ERP should expect for `body` under `scheme`, as
/// `(name, value)` pairs: `X-Webhook-Signature` for `wamebo`, or
/// `webhook-id`, `webhook-timestamp` and `webhook-signature` for
/// `standard-webhooks`. `message_id` and `timestamp` (Unix seconds) are used
/// only by `standard-webhooks`.
pub fn describe_signature(
    scheme: SigningScheme,
    secret: &str,
    body: &[u8],
    message_id: &str,
    timestamp: i64,
) -> Result<Vec<(String, String)>, DescribeError> {
    if secret.is_empty() {
        return Err(DescribeError::EmptySecret);
    }
    let headers = match scheme {
        SigningScheme::Wamebo => vec![(
            wamebo_signature::HEADER_NAME.to_owned(),
            wamebo_signature::sign_header(secret.as_bytes(), body),
        )],
        SigningScheme::StandardWebhooks => {
            let key = SigningKey::parse(secret)?;
            let signature = key.sign(message_id, timestamp, body)?;
            vec![
                (ID_HEADER.to_owned(), message_id.to_owned()),
                (TIMESTAMP_HEADER.to_owned(), timestamp.to_string()),
                (SIGNATURE_HEADER.to_owned(), signature),
            ]
        }
    };
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signing(scheme: SigningScheme, secret: &str, header: Option<&str>) -> SigningConfig {
        SigningConfig {
            scheme,
            secret: ConfigSecret::from_value("env:TEST_SIGNING", secret),
            header: header.map(str::to_owned),
        }
    }

    #[test]
    fn described_wamebo_matches_github_vector() {
        // GitHub documents the same scheme with this example in "Validating
        // webhook deliveries".
        let headers = describe_signature(
            SigningScheme::Wamebo,
            "It's a Secret to Everybody",
            b"Hello, World!",
            "ignored",
            0,
        )
        .unwrap();

        assert_eq!(
            headers,
            vec![(
                "X-Webhook-Signature".to_owned(),
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
                    .to_owned()
            )]
        );
    }

    #[test]
    fn described_standard_webhooks_matches_vector() {
        let headers = describe_signature(
            SigningScheme::StandardWebhooks,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            br#"{"test": 2432232314}"#,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
        )
        .unwrap();

        assert_eq!(
            headers,
            vec![
                (
                    "webhook-id".to_owned(),
                    "msg_p5jXN8AQM9LWM0D4loKWxJek".to_owned()
                ),
                ("webhook-timestamp".to_owned(), "1614265330".to_owned()),
                (
                    "webhook-signature".to_owned(),
                    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn describe_rejects_bad_input() {
        assert_eq!(
            describe_signature(SigningScheme::Wamebo, "", b"{}", "m", 0),
            Err(DescribeError::EmptySecret)
        );
        assert_eq!(
            describe_signature(SigningScheme::StandardWebhooks, "wh_sec_x", b"{}", "m", 0),
            Err(DescribeError::StandardWebhooks(
                StandardWebhooksError::InvalidSecret
            ))
        );
        assert_eq!(
            describe_signature(
                SigningScheme::StandardWebhooks,
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                b"{}",
                "msg.1",
                0
            ),
            Err(DescribeError::StandardWebhooks(
                StandardWebhooksError::InvalidMessageId
            ))
        );
    }

    #[test]
    fn signer_config_errors_name_the_key() {
        let prefix = "targets.acme-erp.signing";
        let cases = [
            (
                signing(SigningScheme::Wamebo, "s", Some("Bad Header")),
                "targets.acme-erp.signing.header",
            ),
            (
                signing(
                    SigningScheme::StandardWebhooks,
                    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    Some("X-Sig"),
                ),
                "targets.acme-erp.signing.header",
            ),
            (
                signing(SigningScheme::StandardWebhooks, "wh_sec_plain", None),
                "targets.acme-erp.signing.secret",
            ),
            (
                signing(SigningScheme::StandardWebhooks, "whsec_c2hvcnQ=", None),
                "targets.acme-erp.signing.secret",
            ),
        ];
        for (config, key) in cases {
            let error = RequestSigner::from_config(&config, prefix).unwrap_err();
            assert_eq!(error.key, key, "{config:?}");
            assert!(!error.to_string().contains("wh_sec_plain"), "{error}");
        }
    }

    #[test]
    fn wamebo_signer_uses_configured_header() {
        let signer = RequestSigner::from_config(
            &signing(SigningScheme::Wamebo, "k", Some("X-Bridge-Signature")),
            "p",
        )
        .unwrap();

        let headers = signer.headers("unused", 0, b"body");

        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0.as_str(), "x-bridge-signature");
        assert_eq!(headers[0].1, wamebo_signature::sign_header(b"k", b"body"));
    }
}
