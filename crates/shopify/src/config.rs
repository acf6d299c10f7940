//! The `shopify` target's configuration keys and their validation.
//!
//! The bridge removes the keys every target has (`id`, `kind`, `events`)
//! and hands the rest of the `[[targets]]` table to [`ShopifyConfig`].

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use wamebo_core::{ConfigSecret, TargetId};

/// The Admin API version used when `api_version` is not set: the latest
/// stable version in December 2026, supported by Shopify until at least
/// October 2027 (<https://shopify.dev/changelog/release-notes/2026-10>).
pub const DEFAULT_API_VERSION: &str = "2026-10";

/// The oldest Admin API version this target accepts. `orderByIdentifier`
/// with a custom id first appeared in 2025-04
/// (<https://shopify.dev/changelog/posts/custom-ids-more-lookups>), and
/// `orderCreate` takes its `customer` input since 2025-01.
pub const MIN_API_VERSION: &str = "2025-04";

/// Configuration of one `kind = "shopify"` target.
///
/// Unknown keys are errors, so a misspelt key is reported at start-up
/// instead of being ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifyConfig {
    /// The shop's permanent domain, such as `acme.myshopify.com`. The Admin
    /// API is served only on this domain, never on a custom storefront domain.
    pub shop_domain: String,

    /// The fixed Admin API access token (`shpat_…`) of a custom app created
    /// in the Shopify admin, given as `env:NAME` or `file:/path`. Set either
    /// this key or `client_id` and `client_secret`.
    #[serde(default)]
    pub access_token: Option<ConfigSecret>,

    /// The client ID of an app created in the Dev Dashboard, given as
    /// `env:NAME` or `file:/path`. With `client_secret`, the target requests
    /// expiring access tokens through the OAuth client credentials grant.
    #[serde(default)]
    pub client_id: Option<ConfigSecret>,

    /// The client secret of an app created in the Dev Dashboard, given as
    /// `env:NAME` or `file:/path`.
    #[serde(default)]
    pub client_secret: Option<ConfigSecret>,

    /// The pinned Admin API version, `YYYY-MM`. Defaults to
    /// [`DEFAULT_API_VERSION`]; versions older than [`MIN_API_VERSION`] are
    /// rejected.
    #[serde(default = "default_api_version")]
    pub api_version: String,

    /// Replaces `https://{shop_domain}` in the GraphQL and token endpoint
    /// URLs. Meant for tests against a local stand-in for Shopify.
    #[serde(default)]
    pub base_url: Option<String>,

    /// Allows an `http://` `base_url`. Only for local tests: the access
    /// token and client secret would otherwise cross the network in clear
    /// text.
    #[serde(default)]
    pub allow_insecure_http: bool,

    /// The maximum duration of one delivery call (a lookup or a create, with
    /// every GraphQL request and pacing wait it makes), such as `"30s"`.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,

    /// The maximum duration of a TCP and TLS connection set-up, such as
    /// `"10s"`.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,

    /// How long a SKU's resolved variant id is reused before it is looked up
    /// again, such as `"10m"`. `"0s"` disables the cache. SKUs that match no
    /// variant are never cached.
    #[serde(default = "default_sku_cache_ttl", with = "humantime_serde")]
    pub sku_cache_ttl: Duration,

    /// Wamebo SKU to Shopify SKU, for catalogues whose SKUs differ. A value
    /// of the form `gid://shopify/ProductVariant/123` names the variant
    /// directly and skips the lookup. SKUs not listed are used as they are.
    #[serde(default)]
    pub sku_map: BTreeMap<String, String>,

    /// The payment status the new order gets. Default `pending`.
    #[serde(default)]
    pub financial_status: FinancialStatus,

    /// Whether creating the order claims inventory. Default `bypass`.
    #[serde(default)]
    pub inventory_behaviour: InventoryBehaviour,

    /// Whether Shopify sends its order confirmation to the customer.
    /// Default `false`.
    #[serde(default)]
    pub send_receipt: bool,

    /// The handling of an order whose currency is not the shop's currency.
    /// Default `shop`.
    #[serde(default)]
    pub currency_mode: CurrencyMode,

    /// Tags added to every order, besides the per-order tag
    /// `wamebo-{store}-{order_id}`. Default `["wamebo"]`.
    #[serde(default = "default_tags")]
    pub tags: Vec<String>,

    /// The order's `sourceName`. Default `"wamebo"`. Shopify attributes
    /// sales to a channel only for names registered by the app.
    #[serde(default = "default_source_name")]
    pub source_name: String,

    /// Namespace of the order metafield holding the Wamebo order id.
    /// Default `"wamebo"`.
    #[serde(default = "default_metafield_namespace")]
    pub metafield_namespace: String,

    /// Key of the order metafield holding the Wamebo order id. Default
    /// `"order_id"`. The bridge creates a unique `id` metafield definition
    /// for it when the shop has none.
    #[serde(default = "default_metafield_key")]
    pub metafield_key: String,
}

/// The payment status set when the order is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinancialStatus {
    /// The payment has not been confirmed yet.
    #[default]
    Pending,
    /// The payment is authorized but not captured.
    Authorized,
    /// The customer has paid.
    Paid,
}

impl FinancialStatus {
    /// Returns the `OrderCreateFinancialStatus` enum value.
    pub fn as_graphql(self) -> &'static str {
        match self {
            FinancialStatus::Pending => "PENDING",
            FinancialStatus::Authorized => "AUTHORIZED",
            FinancialStatus::Paid => "PAID",
        }
    }
}

/// The inventory effect of creating the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InventoryBehaviour {
    /// Claim no inventory.
    #[default]
    Bypass,
    /// Claim inventory even where the product's policy forbids overselling.
    DecrementIgnoringPolicy,
    /// Claim inventory as the product's policy allows.
    DecrementObeyingPolicy,
}

impl InventoryBehaviour {
    /// Returns the `OrderCreateInputsInventoryBehavior` enum value.
    pub fn as_graphql(self) -> &'static str {
        match self {
            InventoryBehaviour::Bypass => "BYPASS",
            InventoryBehaviour::DecrementIgnoringPolicy => "DECREMENT_IGNORING_POLICY",
            InventoryBehaviour::DecrementObeyingPolicy => "DECREMENT_OBEYING_POLICY",
        }
    }
}

/// The handling of an order whose currency differs from the shop's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurrencyMode {
    /// Only orders in the shop's currency are delivered; others fail as
    /// `currency_mismatch`.
    #[default]
    Shop,
    /// Orders in another currency are created in that currency, sent as both
    /// the order's currency and its presentment currency.
    Presentment,
}

/// A configuration key with an invalid value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("targets.{target}.{key}: {problem}")]
pub struct ConfigError {
    /// The target whose key is invalid.
    pub target: TargetId,
    /// The key, such as `shop_domain`.
    pub key: &'static str,
    /// The problem and its fix.
    pub problem: String,
}

/// The credentials the target presents to the Admin API.
#[derive(Debug, Clone)]
pub(crate) enum Credentials {
    /// A fixed access token, from a custom app created in the Shopify admin.
    AccessToken(ConfigSecret),
    /// The client ID and secret of an app created in the Dev Dashboard,
    /// exchanged for expiring access tokens.
    ClientCredentials {
        client_id: ConfigSecret,
        client_secret: ConfigSecret,
    },
}

/// A configuration that passed validation, with the endpoints resolved.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub endpoint: Url,
    /// The OAuth endpoint of the client credentials grant.
    pub token_endpoint: Url,
    pub allow_insecure_http: bool,
    pub shop_domain: String,
    pub credentials: Credentials,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub sku_cache_ttl: Duration,
    pub sku_map: BTreeMap<String, String>,
    pub financial_status: FinancialStatus,
    pub inventory_behaviour: InventoryBehaviour,
    pub send_receipt: bool,
    pub currency_mode: CurrencyMode,
    pub tags: Vec<String>,
    pub source_name: String,
    pub metafield_namespace: String,
    pub metafield_key: String,
}

/// The prefix of a product variant's global id.
pub(crate) const VARIANT_GID_PREFIX: &str = "gid://shopify/ProductVariant/";

impl ShopifyConfig {
    /// Checks every key and resolves the GraphQL endpoint.
    pub(crate) fn validate(self, target: &TargetId) -> Result<Settings, ConfigError> {
        let error = |key: &'static str, problem: String| ConfigError {
            target: target.clone(),
            key,
            problem,
        };

        let shop_domain = self.shop_domain.trim().to_ascii_lowercase();
        if !is_myshopify_domain(&shop_domain) {
            return Err(error(
                "shop_domain",
                format!(
                    "`{}` is not a shop domain: write the shop's permanent `<name>.myshopify.com` domain, without `https://` or a path",
                    self.shop_domain
                ),
            ));
        }

        let credentials = choose_credentials(self.access_token, self.client_id, self.client_secret)
            .map_err(|(key, problem)| error(key, problem))?;

        validate_api_version(&self.api_version).map_err(|problem| error("api_version", problem))?;

        let base = match &self.base_url {
            Some(text) => parse_base_url(text, self.allow_insecure_http)
                .map_err(|problem| error("base_url", problem))?,
            None if self.allow_insecure_http => {
                return Err(error(
                    "allow_insecure_http",
                    "applies only together with `base_url`: remove it, or set `base_url` to the local test server".to_owned(),
                ))
            }
            None => Url::parse(&format!("https://{shop_domain}")).map_err(|parse| {
                error("shop_domain", format!("`{shop_domain}` does not form a URL: {parse}"))
            })?,
        };
        let endpoint = base
            .join(&format!("admin/api/{}/graphql.json", self.api_version))
            .map_err(|parse| error("base_url", format!("cannot form the endpoint URL: {parse}")))?;
        let token_endpoint = base.join("admin/oauth/access_token").map_err(|parse| {
            error(
                "base_url",
                format!("cannot form the token endpoint URL: {parse}"),
            )
        })?;

        if self.request_timeout.is_zero() || self.request_timeout > Duration::from_secs(600) {
            return Err(error(
                "request_timeout",
                "must be between 1ms and 10m, such as \"30s\"".to_owned(),
            ));
        }
        if self.connect_timeout.is_zero() || self.connect_timeout > self.request_timeout {
            return Err(error(
                "connect_timeout",
                "must be more than zero and at most `request_timeout`, such as \"10s\"".to_owned(),
            ));
        }

        for (wamebo_sku, shopify_sku) in &self.sku_map {
            validate_sku_mapping(wamebo_sku, shopify_sku)
                .map_err(|problem| error("sku_map", problem))?;
        }

        for tag in &self.tags {
            validate_tag(tag).map_err(|problem| error("tags", problem))?;
        }

        if self.source_name.trim().is_empty() {
            return Err(error(
                "source_name",
                "must not be empty: remove the key to use \"wamebo\"".to_owned(),
            ));
        }

        validate_metafield_name(&self.metafield_namespace, 3, 255)
            .map_err(|problem| error("metafield_namespace", problem))?;
        validate_metafield_name(&self.metafield_key, 2, 64)
            .map_err(|problem| error("metafield_key", problem))?;

        Ok(Settings {
            endpoint,
            token_endpoint,
            allow_insecure_http: self.allow_insecure_http,
            shop_domain,
            credentials,
            request_timeout: self.request_timeout,
            connect_timeout: self.connect_timeout,
            sku_cache_ttl: self.sku_cache_ttl,
            sku_map: self.sku_map,
            financial_status: self.financial_status,
            inventory_behaviour: self.inventory_behaviour,
            send_receipt: self.send_receipt,
            currency_mode: self.currency_mode,
            tags: self.tags,
            source_name: self.source_name.trim().to_owned(),
            metafield_namespace: self.metafield_namespace,
            metafield_key: self.metafield_key,
        })
    }
}

/// Accepts exactly one way to authenticate: `access_token` alone, or
/// `client_id` with `client_secret`. Returns the key at fault and the
/// problem otherwise.
fn choose_credentials(
    access_token: Option<ConfigSecret>,
    client_id: Option<ConfigSecret>,
    client_secret: Option<ConfigSecret>,
) -> Result<Credentials, (&'static str, String)> {
    match (access_token, client_id, client_secret) {
        (Some(token), None, None) => Ok(Credentials::AccessToken(token)),
        (None, Some(client_id), Some(client_secret)) => Ok(Credentials::ClientCredentials {
            client_id,
            client_secret,
        }),
        (Some(_), _, _) => Err((
            "access_token",
            "is set together with `client_id` or `client_secret`: keep `client_id` and `client_secret` for an app created in the Dev Dashboard, or only `access_token` for a custom app created in the Shopify admin".to_owned(),
        )),
        (None, Some(_), None) => Err((
            "client_secret",
            "is missing: `client_id` needs the app's `client_secret` from its Settings page in the Dev Dashboard".to_owned(),
        )),
        (None, None, Some(_)) => Err((
            "client_id",
            "is missing: `client_secret` needs the app's `client_id` from its Settings page in the Dev Dashboard".to_owned(),
        )),
        (None, None, None) => Err((
            "client_id",
            "is missing: set `client_id` and `client_secret` for an app created in the Dev Dashboard, or `access_token` for a custom app created in the Shopify admin".to_owned(),
        )),
    }
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_owned()
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_sku_cache_ttl() -> Duration {
    Duration::from_secs(600)
}

fn default_tags() -> Vec<String> {
    vec!["wamebo".to_owned()]
}

fn default_source_name() -> String {
    "wamebo".to_owned()
}

fn default_metafield_namespace() -> String {
    "wamebo".to_owned()
}

fn default_metafield_key() -> String {
    "order_id".to_owned()
}

fn is_myshopify_domain(domain: &str) -> bool {
    let Some(name) = domain.strip_suffix(".myshopify.com") else {
        return false;
    };
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Accepts `YYYY-MM` with a quarterly month, from [`MIN_API_VERSION`] on.
/// Shopify releases stable versions in January, April, July and October.
fn validate_api_version(version: &str) -> Result<(), String> {
    let quarterly = version.len() == 7
        && version.as_bytes()[4] == b'-'
        && version[..4].bytes().all(|b| b.is_ascii_digit())
        && matches!(&version[5..], "01" | "04" | "07" | "10");
    if !quarterly {
        return Err(format!(
            "`{version}` is not a stable Admin API version: use `YYYY-MM` with month 01, 04, 07 or 10, such as \"{DEFAULT_API_VERSION}\""
        ));
    }
    // Equal-length `YYYY-MM` texts order like the dates they name.
    if version < MIN_API_VERSION {
        return Err(format!(
            "`{version}` is older than {MIN_API_VERSION}, which lacks `orderByIdentifier`: use \"{DEFAULT_API_VERSION}\""
        ));
    }
    Ok(())
}

fn parse_base_url(text: &str, allow_insecure_http: bool) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|parse| format!("`{text}` is not a URL: {parse}"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http => {}
        "http" => {
            return Err(format!(
                "`{text}` uses plain http, which would send the access token or client secret unencrypted: use https, or set `allow_insecure_http = true` for a local test server"
            ))
        }
        other => return Err(format!("`{text}` has scheme `{other}`: use https")),
    }
    if url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{text}` must be a scheme, host and optional port, such as \"http://127.0.0.1:9000\""
        ));
    }
    // `Url::join` replaces the last path segment unless the path ends in `/`.
    let mut url = url;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn validate_sku_mapping(wamebo_sku: &str, shopify_sku: &str) -> Result<(), String> {
    if wamebo_sku.trim().is_empty() {
        return Err("contains an empty Wamebo SKU: remove that entry".to_owned());
    }
    if shopify_sku.trim().is_empty() {
        return Err(format!(
            "maps `{wamebo_sku}` to an empty value: give a Shopify SKU or a `{VARIANT_GID_PREFIX}<number>` id"
        ));
    }
    if shopify_sku.starts_with("gid://") {
        let valid = shopify_sku
            .strip_prefix(VARIANT_GID_PREFIX)
            .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()));
        if !valid {
            return Err(format!(
                "maps `{wamebo_sku}` to `{shopify_sku}`, which is not a product variant id: use `{VARIANT_GID_PREFIX}<number>`"
            ));
        }
    }
    Ok(())
}

fn validate_tag(tag: &str) -> Result<(), String> {
    if tag.trim().is_empty() {
        return Err("contains an empty tag: remove it".to_owned());
    }
    // Shopify stores tags as one comma-separated text, so a comma would
    // split the tag in two.
    if tag.contains(',') {
        return Err(format!(
            "tag `{tag}` contains a comma: split it into separate tags"
        ));
    }
    if tag.chars().count() > 255 {
        return Err(format!("tag `{tag}` is longer than 255 characters"));
    }
    Ok(())
}

/// Metafield namespaces take 3 to 255 and keys 2 to 64 characters from
/// letters, digits, `-` and `_`
/// (<https://shopify.dev/docs/api/admin-graphql/2024-04/input-objects/metafieldssetinput>).
fn validate_metafield_name(name: &str, min: usize, max: usize) -> Result<(), String> {
    let valid = (min..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{name}` must be {min} to {max} characters from letters, digits, `-` and `_`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_like_json: serde_json::Value) -> Result<ShopifyConfig, serde_json::Error> {
        serde_json::from_value(toml_like_json)
    }

    fn base() -> serde_json::Value {
        std::env::set_var("WAMEBO_SHOPIFY_CONFIG_TEST_TOKEN", "shpat_test");
        serde_json::json!({
            "shop_domain": "acme.myshopify.com",
            "access_token": "env:WAMEBO_SHOPIFY_CONFIG_TEST_TOKEN",
        })
    }

    fn target() -> TargetId {
        TargetId::new("acme-shopify").unwrap()
    }

    fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut config = base();
        config[key] = value;
        config
    }

    #[test]
    fn defaults_are_documented_values() {
        let settings = parse(base()).unwrap().validate(&target()).unwrap();

        assert_eq!(
            settings.endpoint.as_str(),
            "https://acme.myshopify.com/admin/api/2026-10/graphql.json"
        );
        assert_eq!(settings.request_timeout, Duration::from_secs(30));
        assert_eq!(settings.connect_timeout, Duration::from_secs(10));
        assert_eq!(settings.sku_cache_ttl, Duration::from_secs(600));
        assert_eq!(settings.financial_status, FinancialStatus::Pending);
        assert_eq!(settings.inventory_behaviour, InventoryBehaviour::Bypass);
        assert!(!settings.send_receipt);
        assert_eq!(settings.currency_mode, CurrencyMode::Shop);
        assert_eq!(settings.tags, vec!["wamebo".to_owned()]);
        assert_eq!(settings.source_name, "wamebo");
        assert_eq!(settings.metafield_namespace, "wamebo");
        assert_eq!(settings.metafield_key, "order_id");
    }

    #[test]
    fn base_url_replaces_shop_host() {
        let mut config = with("base_url", "http://127.0.0.1:9000".into());
        config["allow_insecure_http"] = true.into();

        let settings = parse(config).unwrap().validate(&target()).unwrap();

        assert_eq!(
            settings.endpoint.as_str(),
            "http://127.0.0.1:9000/admin/api/2026-10/graphql.json"
        );
        assert_eq!(
            settings.token_endpoint.as_str(),
            "http://127.0.0.1:9000/admin/oauth/access_token"
        );
    }

    /// Returns the base configuration with `access_token` replaced by the
    /// keys in `keys`, each set to a resolvable secret reference.
    fn with_credentials(keys: &[&str]) -> serde_json::Value {
        std::env::set_var("WAMEBO_SHOPIFY_CONFIG_TEST_CLIENT_ID", "client-id");
        std::env::set_var("WAMEBO_SHOPIFY_CONFIG_TEST_CLIENT_SECRET", "shpss_test");
        let mut config = base();
        config.as_object_mut().unwrap().remove("access_token");
        for key in keys {
            config[*key] = match *key {
                "access_token" => "env:WAMEBO_SHOPIFY_CONFIG_TEST_TOKEN",
                "client_id" => "env:WAMEBO_SHOPIFY_CONFIG_TEST_CLIENT_ID",
                _ => "env:WAMEBO_SHOPIFY_CONFIG_TEST_CLIENT_SECRET",
            }
            .into();
        }
        config
    }

    #[test]
    fn client_credentials_select_the_grant() {
        let settings = parse(with_credentials(&["client_id", "client_secret"]))
            .unwrap()
            .validate(&target())
            .unwrap();

        let Credentials::ClientCredentials {
            client_id,
            client_secret,
        } = &settings.credentials
        else {
            panic!(
                "expected client credentials, got {:?}",
                settings.credentials
            );
        };
        assert_eq!(client_id.expose(), "client-id");
        assert_eq!(client_secret.expose(), "shpss_test");
        assert_eq!(
            settings.token_endpoint.as_str(),
            "https://acme.myshopify.com/admin/oauth/access_token"
        );
    }

    #[test]
    fn access_token_selects_the_fixed_token() {
        let settings = parse(base()).unwrap().validate(&target()).unwrap();

        let Credentials::AccessToken(token) = &settings.credentials else {
            panic!("expected a fixed token, got {:?}", settings.credentials);
        };
        assert_eq!(token.expose(), "shpat_test");
    }

    #[test]
    fn credential_combinations_are_rejected() {
        let cases: [(&[&str], &str, &[&str]); 6] = [
            (&[], "client_id", &["client_secret", "access_token"]),
            (&["client_id"], "client_secret", &["Dev Dashboard"]),
            (&["client_secret"], "client_id", &["Dev Dashboard"]),
            (
                &["access_token", "client_id"],
                "access_token",
                &["client_id", "client_secret"],
            ),
            (
                &["access_token", "client_secret"],
                "access_token",
                &["client_id", "client_secret"],
            ),
            (
                &["access_token", "client_id", "client_secret"],
                "access_token",
                &["client_id", "client_secret"],
            ),
        ];
        for (keys, expected_key, named) in cases {
            let config = parse(with_credentials(keys)).unwrap();

            let error = config.validate(&target()).unwrap_err();

            assert_eq!(error.key, expected_key, "{keys:?}: {error}");
            for name in named {
                assert!(error.problem.contains(name), "{keys:?}: {error}");
            }
            assert!(!error.to_string().contains("shpss_test"), "{error}");
        }
    }

    #[test]
    fn literal_client_secret_is_rejected() {
        let mut config = with_credentials(&["client_id"]);
        config["client_secret"] = "shpss_literal".into();

        let error = parse(config).unwrap_err().to_string();

        assert!(error.contains("env:NAME"), "{error}");
        assert!(!error.contains("shpss_literal"), "{error}");
    }

    #[test]
    fn durations_are_humantime_strings() {
        let mut config = with("request_timeout", "45s".into());
        config["sku_cache_ttl"] = "0s".into();

        let settings = parse(config).unwrap().validate(&target()).unwrap();

        assert_eq!(settings.request_timeout, Duration::from_secs(45));
        assert_eq!(settings.sku_cache_ttl, Duration::ZERO);
    }

    #[test]
    fn enum_keys_use_snake_case() {
        let mut config = with("financial_status", "paid".into());
        config["inventory_behaviour"] = "decrement_obeying_policy".into();
        config["currency_mode"] = "presentment".into();

        let settings = parse(config).unwrap().validate(&target()).unwrap();

        assert_eq!(settings.financial_status.as_graphql(), "PAID");
        assert_eq!(
            settings.inventory_behaviour.as_graphql(),
            "DECREMENT_OBEYING_POLICY"
        );
        assert_eq!(settings.currency_mode, CurrencyMode::Presentment);
    }

    #[test]
    fn unknown_and_reserved_keys_are_rejected() {
        for key in [
            "id",
            "kind",
            "events",
            "shop_domian",
            "consumer_key",
            "api_key",
        ] {
            let config = with(key, "x".into());
            let error = parse(config).unwrap_err().to_string();
            assert!(error.contains("unknown field"), "`{key}`: {error}");
        }
    }

    #[test]
    fn invalid_values_name_their_key() {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            ("shop_domain", "acme.com".into(), "shop_domain"),
            (
                "shop_domain",
                "https://acme.myshopify.com".into(),
                "shop_domain",
            ),
            ("shop_domain", ".myshopify.com".into(), "shop_domain"),
            ("shop_domain", "ac me.myshopify.com".into(), "shop_domain"),
            ("api_version", "2025-01".into(), "api_version"),
            ("api_version", "2026-11".into(), "api_version"),
            ("api_version", "unstable".into(), "api_version"),
            ("api_version", "26-10".into(), "api_version"),
            ("base_url", "http://127.0.0.1:9000".into(), "base_url"),
            ("base_url", "ftp://127.0.0.1".into(), "base_url"),
            ("base_url", "not a url".into(), "base_url"),
            ("base_url", "https://127.0.0.1/?a=b".into(), "base_url"),
            ("allow_insecure_http", true.into(), "allow_insecure_http"),
            ("request_timeout", "0s".into(), "request_timeout"),
            ("request_timeout", "1h".into(), "request_timeout"),
            ("connect_timeout", "40s".into(), "connect_timeout"),
            ("sku_map", serde_json::json!({"A": ""}), "sku_map"),
            ("sku_map", serde_json::json!({" ": "B"}), "sku_map"),
            (
                "sku_map",
                serde_json::json!({"A": "gid://shopify/Product/1"}),
                "sku_map",
            ),
            (
                "sku_map",
                serde_json::json!({"A": "gid://shopify/ProductVariant/x"}),
                "sku_map",
            ),
            ("tags", serde_json::json!(["a,b"]), "tags"),
            ("tags", serde_json::json!([""]), "tags"),
            ("source_name", " ".into(), "source_name"),
            ("metafield_namespace", "ab".into(), "metafield_namespace"),
            (
                "metafield_namespace",
                "wa.mebo".into(),
                "metafield_namespace",
            ),
            ("metafield_key", "k".into(), "metafield_key"),
            ("metafield_key", "order id".into(), "metafield_key"),
        ];
        for (key, value, expected_key) in cases {
            let config = parse(with(key, value.clone())).unwrap();
            let error = config.validate(&target()).unwrap_err();
            assert_eq!(error.key, expected_key, "{key} = {value}: {error}");
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("targets.acme-shopify.{expected_key}: ")),
                "{error}"
            );
        }
    }

    #[test]
    fn invalid_enum_values_fail_to_parse() {
        let cases = [
            ("financial_status", "refunded"),
            ("inventory_behaviour", "DECREMENT"),
            ("currency_mode", "any"),
        ];
        for (key, value) in cases {
            assert!(parse(with(key, value.into())).is_err(), "{key} = {value}");
        }
    }

    #[test]
    fn literal_token_is_rejected() {
        let error = parse(with("access_token", "shpat_literal".into()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("env:NAME"), "{error}");
        assert!(!error.contains("shpat_literal"), "{error}");
    }

    #[test]
    fn variant_ids_in_sku_map_are_accepted() {
        let config = with(
            "sku_map",
            serde_json::json!({"PROD-A1": "gid://shopify/ProductVariant/42", "PROD-B2": "B2"}),
        );
        assert!(parse(config).unwrap().validate(&target()).is_ok());
    }
}
