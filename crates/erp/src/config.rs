//! The keys of an `erp` target, as the bridge's configuration file gives
//! them, and the error that names a key at fault.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use wamebo_core::ConfigSecret;

/// Request timeout when the target sets none. The Standard Webhooks
/// specification recommends 15 to 30 seconds for webhook receivers.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Connect timeout when the target sets none.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The keys of one `[[targets]]` entry of kind `erp`, without `id`, `kind`
/// and `events`, which the bridge reads itself.
///
/// Secrets are `env:NAME` or `file:/path` references. Plain `headers` are
/// not secret, so a credential belongs in `auth`, never in `headers` or in
/// the URL.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErpConfig {
    /// The URL that orders and events are sent to. May contain `{order_id}`
    /// (Wamebo's order id) and `{store_id}` (the bridge's store id).
    pub url: String,
    /// `POST` (the default) or `PUT`.
    #[serde(default)]
    pub method: HttpMethod,
    /// Extra request headers, sent as written.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The credentials the bridge sends to the ERP.
    #[serde(default)]
    pub auth: AuthConfig,
    /// The format of the `Idempotency-Key` header value.
    #[serde(default)]
    pub idempotency_key_format: IdempotencyKeyFormat,
    /// Optional request signing.
    #[serde(default)]
    pub signing: Option<SigningConfig>,
    /// Optional lookup URL that returns 2xx when the ERP already has an
    /// order and 404 when it does not. Must contain `{order_id}`, and may
    /// contain `{store_id}`.
    #[serde(default)]
    pub lookup_url: Option<String>,
    /// JSON pointer (RFC 6901) to the ERP's own order id in a 2xx response
    /// body, such as `/id` or `/data/order/number`.
    #[serde(default)]
    pub order_id_pointer: Option<String>,
    /// Limit on one whole request, from connecting to reading the response.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Limit on establishing the connection.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Allows `http://` URLs, for local testing only.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

fn default_request_timeout() -> Duration {
    DEFAULT_REQUEST_TIMEOUT
}

fn default_connect_timeout() -> Duration {
    DEFAULT_CONNECT_TIMEOUT
}

/// The HTTP method used to deliver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum HttpMethod {
    /// `POST`, for endpoints that create an order per request.
    #[default]
    #[serde(rename = "POST", alias = "post")]
    Post,
    /// `PUT`, for endpoints addressed by the order id in the URL.
    #[serde(rename = "PUT", alias = "put")]
    Put,
}

/// The credentials the bridge sends to the ERP. The `type` key selects the
/// variant.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// No credentials. A struct variant, so that serde rejects stray keys
    /// beside `type = "none"` as it does for the other variants.
    None {},
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: ConfigSecret,
    },
    /// `Authorization: Basic <base64(username:password)>` (RFC 7617).
    Basic {
        /// The user name, which must not contain `:`.
        username: String,
        /// The password.
        password: ConfigSecret,
    },
    /// A custom header, such as `X-Api-Key`.
    Header {
        /// The header's name.
        name: String,
        /// The header's value.
        value: ConfigSecret,
    },
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig::None {}
    }
}

/// The format of the `Idempotency-Key` header value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdempotencyKeyFormat {
    /// The bare key, as Stripe-style servers expect:
    /// `Idempotency-Key: wamebo:acme:acme-erp:order:5542`.
    #[default]
    Token,
    /// A Structured Field string (RFC 8941, section 3.3.3), as the IETF
    /// draft "The Idempotency-Key HTTP Header Field" defines the header:
    /// `Idempotency-Key: "wamebo:acme:acme-erp:order:5542"`.
    SfString,
}

/// The `[targets.signing]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// The scheme that signs the requests.
    pub scheme: SigningScheme,
    /// For `wamebo`, any secret, used as its UTF-8 bytes. For
    /// `standard-webhooks`, a `whsec_<base64>` secret.
    pub secret: ConfigSecret,
    /// The signature header's name, for `wamebo` only. Defaults to
    /// `X-Webhook-Signature`.
    #[serde(default)]
    pub header: Option<String>,
}

/// A request signing scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningScheme {
    /// The body signed as Wamebo signs its webhooks:
    /// `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    Wamebo,
    /// The Standard Webhooks scheme: `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature: v1,<base64>` over `{id}.{timestamp}.{body}`.
    StandardWebhooks,
}

impl SigningScheme {
    /// Returns the name used in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningScheme::Wamebo => "wamebo",
            SigningScheme::StandardWebhooks => "standard-webhooks",
        }
    }
}

impl fmt::Display for SigningScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signing scheme name that is neither `wamebo` nor `standard-webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signing scheme `{0}`: use `wamebo` or `standard-webhooks`")]
pub struct UnknownScheme(pub String);

impl FromStr for SigningScheme {
    type Err = UnknownScheme;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "wamebo" => Ok(SigningScheme::Wamebo),
            "standard-webhooks" => Ok(SigningScheme::StandardWebhooks),
            other => Err(UnknownScheme(other.to_owned())),
        }
    }
}

/// An invalid `erp` target setting, naming the key, the problem and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` {problem}: {fix}")]
pub struct ConfigError {
    /// The full key, such as `targets.acme-erp.url`.
    pub key: String,
    /// The problem with its value.
    pub problem: String,
    /// The change that fixes it.
    pub fix: String,
}

impl ConfigError {
    pub(crate) fn new(key: String, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        ConfigError {
            key,
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ErpConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn minimal_config_uses_defaults() {
        let config = parse(r#"url = "https://erp.example.com/orders""#).unwrap();

        assert_eq!(config.method, HttpMethod::Post);
        assert!(matches!(config.auth, AuthConfig::None {}));
        assert_eq!(config.idempotency_key_format, IdempotencyKeyFormat::Token);
        assert!(config.signing.is_none());
        assert_eq!(config.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(config.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert!(!config.allow_insecure_http);
    }

    #[test]
    fn full_config_parses() {
        std::env::set_var("WAMEBO_ERP_CONFIG_TEST_TOKEN", "t0ken");
        std::env::set_var("WAMEBO_ERP_CONFIG_TEST_SIGNING", "s1gn");

        let config = parse(
            r#"
            url = "https://erp.example.com/orders/{order_id}"
            method = "PUT"
            idempotency_key_format = "sf-string"
            lookup_url = "https://erp.example.com/orders/{order_id}"
            order_id_pointer = "/data/id"
            request_timeout = "20s"
            connect_timeout = "2s"
            [headers]
            X-Tenant = "acme"
            [auth]
            type = "bearer"
            token = "env:WAMEBO_ERP_CONFIG_TEST_TOKEN"
            [signing]
            scheme = "wamebo"
            secret = "env:WAMEBO_ERP_CONFIG_TEST_SIGNING"
            header = "X-Bridge-Signature"
            "#,
        )
        .unwrap();

        assert_eq!(config.method, HttpMethod::Put);
        assert_eq!(
            config.idempotency_key_format,
            IdempotencyKeyFormat::SfString
        );
        assert_eq!(config.headers["X-Tenant"], "acme");
        assert_eq!(config.request_timeout, Duration::from_secs(20));
        assert_eq!(config.connect_timeout, Duration::from_secs(2));
        let AuthConfig::Bearer { token } = &config.auth else {
            panic!("expected bearer auth, got {:?}", config.auth);
        };
        assert_eq!(token.expose(), "t0ken");
        let signing = config.signing.as_ref().unwrap();
        assert_eq!(signing.scheme, SigningScheme::Wamebo);
        assert_eq!(signing.header.as_deref(), Some("X-Bridge-Signature"));
        assert!(!format!("{config:?}").contains("t0ken"));
        assert!(!format!("{config:?}").contains("s1gn"));
    }

    #[test]
    fn invalid_configs_are_rejected() {
        // Cases with a secret reference point at a set variable, so only the
        // key under test can make them fail.
        std::env::set_var("WAMEBO_ERP_CONFIG_TEST_PRESENT", "x");
        let cases = [
            ("", "missing url"),
            ("url = \"https://e.example\"\nid = \"x\"", "bridge key id"),
            (
                "url = \"https://e.example\"\nevents = []",
                "bridge key events",
            ),
            ("url = \"https://e.example\"\nmethod = \"PATCH\"", "method"),
            (
                "url = \"https://e.example\"\nidempotency_key_format = \"quoted\"",
                "key format",
            ),
            (
                "url = \"https://e.example\"\n[auth]\ntype = \"oauth\"",
                "auth type",
            ),
            (
                "url = \"https://e.example\"\n[auth]\ntype = \"bearer\"\ntoken = \"literal\"",
                "literal secret",
            ),
            (
                "url = \"https://e.example\"\n[auth]\ntype = \"none\"\ntoken = \"env:X\"",
                "unknown key beside type none",
            ),
            (
                "url = \"https://e.example\"\n[auth]\ntype = \"basic\"\nusername = \"u\"\npassword = \"env:WAMEBO_ERP_CONFIG_TEST_PRESENT\"\nrealm = \"r\"",
                "unknown key beside type basic",
            ),
            (
                "url = \"https://e.example\"\n[signing]\nscheme = \"wamebo\"\nsecret = \"env:WAMEBO_ERP_CONFIG_TEST_PRESENT\"\nalgorithm = \"sha256\"",
                "unknown signing key",
            ),
            (
                "url = \"https://e.example\"\n[signing]\nscheme = \"sha1\"\nsecret = \"env:X\"",
                "signing scheme",
            ),
            (
                "url = \"https://e.example\"\nrequest_timeout = \"soon\"",
                "timeout",
            ),
        ];
        for (text, case) in cases {
            assert!(parse(text).is_err(), "{case} was accepted");
        }
    }

    #[test]
    fn scheme_names_round_trip() {
        for scheme in [SigningScheme::Wamebo, SigningScheme::StandardWebhooks] {
            assert_eq!(scheme.as_str().parse::<SigningScheme>(), Ok(scheme));
        }
        assert!("hmac".parse::<SigningScheme>().is_err());
    }
}
