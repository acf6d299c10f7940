//! Validation of an [`ErpConfig`] into the request parts every delivery
//! reuses.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::Method;
use wamebo_core::TargetId;

use crate::config::{AuthConfig, ConfigError, ErpConfig, HttpMethod, IdempotencyKeyFormat};
use crate::signing::RequestSigner;
use crate::url_template::UrlTemplate;

/// The header that names the event type of a delivery.
pub const EVENT_TYPE_HEADER: &str = "X-Wamebo-Event-Type";
/// The header that names the bridge's store id of a delivery.
pub const STORE_ID_HEADER: &str = "X-Wamebo-Store-Id";

/// Headers the sink always sets or that HTTP itself manages, so neither
/// `headers` nor a custom auth header may set them.
const RESERVED_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "content-type",
    "idempotency-key",
    "x-wamebo-event-type",
    "x-wamebo-store-id",
    "proxy-authorization",
];

/// A validated target: everything a request needs except the order.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) method: Method,
    pub(crate) url: UrlTemplate,
    pub(crate) lookup_url: Option<UrlTemplate>,
    /// Configured extra headers and the auth header, which is marked
    /// sensitive so it never appears in a `Debug` output.
    pub(crate) headers: HeaderMap,
    pub(crate) key_format: IdempotencyKeyFormat,
    pub(crate) signer: Option<RequestSigner>,
    pub(crate) order_id_pointer: Option<String>,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

impl Endpoint {
    /// Checks every key, naming `targets.<id>.<key>` and the fix in errors.
    pub(crate) fn from_config(
        target_id: &TargetId,
        config: ErpConfig,
    ) -> Result<Self, ConfigError> {
        let key = |name: &str| format!("targets.{target_id}.{name}");

        let url = UrlTemplate::parse(&config.url, &key("url"), config.allow_insecure_http)?;
        let lookup_url = config
            .lookup_url
            .as_deref()
            .map(|text| parse_lookup_url(text, &key("lookup_url"), config.allow_insecure_http))
            .transpose()?;
        let signer = config
            .signing
            .as_ref()
            .map(|signing| RequestSigner::from_config(signing, &key("signing")))
            .transpose()?;
        let order_id_pointer = config
            .order_id_pointer
            .map(|pointer| check_pointer(pointer, &key("order_id_pointer")))
            .transpose()?;
        check_timeout(config.request_timeout, &key("request_timeout"))?;
        check_timeout(config.connect_timeout, &key("connect_timeout"))?;

        let mut reserved: Vec<HeaderName> = RESERVED_HEADERS
            .into_iter()
            .map(HeaderName::from_static)
            .collect();
        if let Some(signer) = &signer {
            reserved.extend(signer.header_names());
        }
        let mut headers = HeaderMap::new();
        let auth = auth_header(&config.auth, &key("auth"), &reserved)?;
        reserved.push(AUTHORIZATION);
        if let Some((name, value)) = auth {
            reserved.push(name.clone());
            headers.insert(name, value);
        }
        for (name, value) in &config.headers {
            let (name, value) = extra_header(name, value, &key("headers"), &reserved)?;
            headers.insert(name, value);
        }

        Ok(Endpoint {
            method: match config.method {
                HttpMethod::Post => Method::POST,
                HttpMethod::Put => Method::PUT,
            },
            url,
            lookup_url,
            headers,
            key_format: config.idempotency_key_format,
            signer,
            order_id_pointer,
            request_timeout: config.request_timeout,
            connect_timeout: config.connect_timeout,
        })
    }
}

fn parse_lookup_url(
    text: &str,
    key: &str,
    allow_insecure_http: bool,
) -> Result<UrlTemplate, ConfigError> {
    let template = UrlTemplate::parse(text, key, allow_insecure_http)?;
    if !template.needs_order_id() {
        return Err(ConfigError::new(
            key.to_owned(),
            "does not contain {order_id}, so it cannot look up one order",
            "add {order_id} to the path or query, such as https://erp.example.com/api/orders/{order_id}",
        ));
    }
    Ok(template)
}

fn check_pointer(pointer: String, key: &str) -> Result<String, ConfigError> {
    if pointer.starts_with('/') {
        Ok(pointer)
    } else {
        Err(ConfigError::new(
            key.to_owned(),
            format!("`{pointer}` is not a JSON pointer"),
            "start it with `/`, such as /id or /data/order/number (RFC 6901)",
        ))
    }
}

fn check_timeout(timeout: Duration, key: &str) -> Result<(), ConfigError> {
    if timeout.is_zero() {
        return Err(ConfigError::new(
            key.to_owned(),
            "is zero",
            "give a duration such as \"15s\"",
        ));
    }
    Ok(())
}

fn auth_header(
    auth: &AuthConfig,
    key: &str,
    reserved: &[HeaderName],
) -> Result<Option<(HeaderName, HeaderValue)>, ConfigError> {
    let unusable = |field: &str, source: &str| {
        ConfigError::new(
            format!("{key}.{field}"),
            format!("from `{source}` contains characters that are not allowed in an HTTP header"),
            "remove line breaks and control characters from the secret",
        )
    };

    let (name, text, field, source) = match auth {
        AuthConfig::None {} => return Ok(None),
        AuthConfig::Bearer { token } => (
            AUTHORIZATION,
            format!("Bearer {}", token.expose()),
            "token",
            token.source(),
        ),
        AuthConfig::Basic { username, password } => {
            if username.contains(':') {
                return Err(ConfigError::new(
                    format!("{key}.username"),
                    "contains `:`, which basic authentication cannot carry (RFC 7617)",
                    "use a user name without `:`",
                ));
            }
            let credentials = BASE64.encode(format!("{username}:{}", password.expose()));
            (
                AUTHORIZATION,
                format!("Basic {credentials}"),
                "password",
                password.source(),
            )
        }
        AuthConfig::Header { name, value } => {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConfigError::new(
                    format!("{key}.name"),
                    format!("`{name}` is not a valid header name"),
                    "use letters, digits and `-`, such as X-Api-Key",
                )
            })?;
            if reserved.contains(&header) {
                return Err(ConfigError::new(
                    format!("{key}.name"),
                    format!("`{name}` is a header the bridge sets itself"),
                    "choose another header name",
                ));
            }
            (header, value.expose().to_owned(), "value", value.source())
        }
    };

    let mut value = HeaderValue::from_str(&text).map_err(|_| unusable(field, source))?;
    value.set_sensitive(true);
    Ok(Some((name, value)))
}

fn extra_header(
    name: &str,
    value: &str,
    key: &str,
    reserved: &[HeaderName],
) -> Result<(HeaderName, HeaderValue), ConfigError> {
    let key = format!("{key}.{name}");
    let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        ConfigError::new(
            key.clone(),
            format!("`{name}` is not a valid header name"),
            "use letters, digits and `-`, such as X-Tenant",
        )
    })?;
    if header == AUTHORIZATION || header.as_str() == "proxy-authorization" {
        return Err(ConfigError::new(
            key,
            "would write a credential into the configuration file",
            "remove it and configure the credential in the target's [auth] table as env: or file:",
        ));
    }
    if reserved.contains(&header) {
        return Err(ConfigError::new(
            key,
            "is a header the bridge sets itself",
            "remove it from [headers]",
        ));
    }
    let value = HeaderValue::from_str(value).map_err(|_| {
        ConfigError::new(
            key,
            "has a value with characters that are not allowed in an HTTP header",
            "remove line breaks and control characters",
        )
    })?;
    Ok((header, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wamebo_core::ConfigSecret;

    fn target() -> TargetId {
        TargetId::new("acme-erp").unwrap()
    }

    fn config(text: &str) -> ErpConfig {
        toml::from_str(text).unwrap()
    }

    fn with_auth(auth: AuthConfig) -> ErpConfig {
        let mut config = config(r#"url = "https://erp.example.com/orders""#);
        config.auth = auth;
        config
    }

    fn secret(value: &str) -> ConfigSecret {
        ConfigSecret::from_value("env:ACME_ERP_SECRET", value)
    }

    #[test]
    fn auth_variants_build_their_header() {
        let cases = [
            (
                AuthConfig::Bearer {
                    token: secret("t0k"),
                },
                "authorization",
                "Bearer t0k",
            ),
            (
                AuthConfig::Basic {
                    username: "bridge".to_owned(),
                    password: secret("pw"),
                },
                "authorization",
                "Basic YnJpZGdlOnB3",
            ),
            (
                AuthConfig::Header {
                    name: "X-Api-Key".to_owned(),
                    value: secret("k3y"),
                },
                "x-api-key",
                "k3y",
            ),
        ];
        for (auth, name, value) in cases {
            let endpoint = Endpoint::from_config(&target(), with_auth(auth)).unwrap();

            let header = endpoint.headers.get(name).unwrap();
            assert_eq!(header.to_str().unwrap(), value, "{name}");
            assert!(header.is_sensitive(), "{name}");
            assert!(!format!("{endpoint:?}").contains(value), "{name}");
        }
    }

    #[test]
    fn invalid_settings_name_their_key() {
        let cases = [
            (
                r#"url = "https://erp.example.com/o"
                   lookup_url = "https://erp.example.com/lookup""#,
                "targets.acme-erp.lookup_url",
            ),
            (
                r#"url = "https://erp.example.com/o"
                   order_id_pointer = "id""#,
                "targets.acme-erp.order_id_pointer",
            ),
            (
                r#"url = "https://erp.example.com/o"
                   request_timeout = "0s""#,
                "targets.acme-erp.request_timeout",
            ),
            (
                r#"url = "https://erp.example.com/o"
                   connect_timeout = "0s""#,
                "targets.acme-erp.connect_timeout",
            ),
            (
                r#"url = "https://erp.example.com/o"
                   headers = { "Bad Name" = "x" }"#,
                "targets.acme-erp.headers.Bad Name",
            ),
            (
                r#"url = "https://erp.example.com/o"
                   headers = { Authorization = "Bearer literal" }"#,
                "targets.acme-erp.headers.Authorization",
            ),
            (
                r#"url = "https://erp.example.com/o"
                   headers = { Idempotency-Key = "fixed" }"#,
                "targets.acme-erp.headers.Idempotency-Key",
            ),
            (
                r#"url = "https://erp.example.com/o"
                   headers = { Content-Type = "text/plain" }"#,
                "targets.acme-erp.headers.Content-Type",
            ),
            (
                r#"url = "https://erp.example.com/o"
                   headers = { X-Tenant = "a\nb" }"#,
                "targets.acme-erp.headers.X-Tenant",
            ),
            (
                r#"url = "http://erp.example.com/o""#,
                "targets.acme-erp.url",
            ),
        ];
        for (text, key) in cases {
            let error = Endpoint::from_config(&target(), config(text)).unwrap_err();
            assert_eq!(error.key, key, "{text}");
        }
    }

    #[test]
    fn invalid_auth_names_its_key() {
        let cases = [
            (
                AuthConfig::Basic {
                    username: "a:b".to_owned(),
                    password: secret("pw"),
                },
                "targets.acme-erp.auth.username",
            ),
            (
                AuthConfig::Bearer {
                    token: secret("line\nbreak"),
                },
                "targets.acme-erp.auth.token",
            ),
            (
                AuthConfig::Header {
                    name: "Idempotency-Key".to_owned(),
                    value: secret("v"),
                },
                "targets.acme-erp.auth.name",
            ),
            (
                AuthConfig::Header {
                    name: "X Api".to_owned(),
                    value: secret("v"),
                },
                "targets.acme-erp.auth.name",
            ),
        ];
        for (auth, key) in cases {
            let error = Endpoint::from_config(&target(), with_auth(auth)).unwrap_err();
            assert_eq!(error.key, key);
            assert!(!error.to_string().contains("line\nbreak"), "{error}");
        }
    }

    #[test]
    fn extra_header_cannot_replace_signature_header() {
        std::env::set_var("WAMEBO_ERP_ENDPOINT_TEST_SIGNING", "s");
        let text = r#"
            url = "https://erp.example.com/o"
            headers = { X-Webhook-Signature = "fixed" }
            [signing]
            scheme = "wamebo"
            secret = "env:WAMEBO_ERP_ENDPOINT_TEST_SIGNING"
        "#;

        let error = Endpoint::from_config(&target(), config(text)).unwrap_err();

        assert_eq!(error.key, "targets.acme-erp.headers.X-Webhook-Signature");
    }

    #[test]
    fn custom_auth_header_may_be_authorization() {
        let auth = AuthConfig::Header {
            name: "Authorization".to_owned(),
            value: secret("Token abc"),
        };

        let endpoint = Endpoint::from_config(&target(), with_auth(auth)).unwrap();

        assert_eq!(endpoint.headers.get("authorization").unwrap(), "Token abc");
    }
}
