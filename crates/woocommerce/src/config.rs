//! The keys of a `woocommerce` target and their validation.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use wamebo_core::{ConfigSecret, TargetId};

use crate::error::ConfigError;

/// The path of the WooCommerce REST API v3 under a shop's address.
pub(crate) const API_PATH: &str = "wp-json/wc/v3";

/// WooCommerce returns at most 100 items per page: `per_page` has
/// `'maximum' => 100` in the collection parameters of its REST controllers
/// (`plugins/woocommerce/includes/rest-api/Controllers/Version3`).
pub(crate) const MAX_PER_PAGE: u32 = 100;

/// The keys of one `[[targets]]` entry of kind `woocommerce`.
///
/// The caller reads `id`, `kind` and `events` and removes them before
/// deserializing the rest into this type. Every other key is listed here,
/// and an unknown key is an error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WooCommerceConfig {
    /// The shop's address, such as `https://shop.example.com`, or
    /// `https://example.com/shop` for WordPress in a subfolder. Requests go
    /// to `{base_url}/wp-json/wc/v3`, which needs WordPress "pretty
    /// permalinks".
    pub base_url: String,
    /// The REST API consumer key (`ck_…`), as `env:NAME` or `file:/path`.
    pub consumer_key: ConfigSecret,
    /// The REST API consumer secret (`cs_…`), as `env:NAME` or `file:/path`.
    pub consumer_secret: ConfigSecret,
    /// Accepts a plain `http://` base URL. Only for a local stand-in server:
    /// the key and secret travel as HTTP basic auth, readable by anyone on
    /// the path, and a real WooCommerce rejects basic auth without HTTPS.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// The maximum time to open a connection, such as `"5s"`.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// The maximum time of one delivery step (creating an order, with its
    /// SKU and customer look-ups, or searching for an existing one), such as
    /// `"15s"`. The dispatcher's lease must be longer than two of these.
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How long a resolved SKU is reused before it is looked up again;
    /// `"0s"` looks every SKU up for every order.
    #[serde(default = "default_sku_cache_ttl", with = "humantime_serde")]
    pub sku_cache_ttl: Duration,
    /// Upstream SKUs that differ from the shop's: each maps to a WooCommerce
    /// SKU (`"WC-A1"`), a simple product id (`812`), or a variation
    /// (`{ product_id = 810, variation_id = 815 }`). An id skips the look-up.
    #[serde(default)]
    pub sku_map: BTreeMap<String, SkuMapping>,
    /// The maximum number of variable products whose variations are searched,
    /// one request each, for a SKU that `/products?sku=` does not find. The
    /// search runs only on WooCommerce versions without the `/variations`
    /// route, and `0` turns it off.
    #[serde(default = "default_variation_scan_max_products")]
    pub variation_scan_max_products: u32,
    /// The status of created orders.
    #[serde(default)]
    pub status: OrderStatus,
    /// Marks created orders as paid. WooCommerce then moves the order to
    /// `processing` and reduces stock.
    #[serde(default)]
    pub set_paid: bool,
    /// Whether WooCommerce reduces stock for created orders. WooCommerce
    /// decides this from the order itself, so this must agree with `status`
    /// and `set_paid`; it exists so that a config states it openly.
    #[serde(default)]
    pub reduce_stock: bool,
    /// Attaches the order to the one existing WooCommerce customer whose
    /// billing phone is the buyer's number. Each order then lists customers
    /// page by page, so it is off by default and orders are guest orders.
    #[serde(default)]
    pub customer_lookup_by_phone: bool,
    /// The maximum number of customer pages (100 customers each) searched
    /// for a phone number.
    #[serde(default = "default_customer_lookup_max_pages")]
    pub customer_lookup_max_pages: u32,
    /// How far before the bridge received the event the search for an
    /// already created order starts, to absorb clocks that disagree.
    #[serde(default = "default_reconcile_margin", with = "humantime_serde")]
    pub reconcile_margin: Duration,
    /// Orders per page when searching for an already created order, 1 to 100.
    #[serde(default = "default_reconcile_page_size")]
    pub reconcile_page_size: u32,
    /// The maximum number of pages searched for an already created order.
    #[serde(default = "default_reconcile_max_pages")]
    pub reconcile_max_pages: u32,
}

/// The shop's product for an upstream SKU.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SkuMapping {
    /// Another SKU, looked up like any other.
    Sku(String),
    /// The id of a simple product, used without a look-up.
    ProductId(u64),
    /// A variation and its parent product, used without a look-up.
    Variation {
        /// The parent (variable) product's id.
        product_id: u64,
        /// The variation's id.
        variation_id: u64,
    },
}

/// The status a created order gets. Other WooCommerce statuses
/// (`cancelled`, `refunded`, `failed`) make no sense for a new order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderStatus {
    /// Awaiting payment; WooCommerce's default.
    #[default]
    Pending,
    /// Paid and being fulfilled.
    Processing,
    /// Awaiting the merchant's action.
    OnHold,
    /// Fulfilled.
    Completed,
}

impl OrderStatus {
    /// Returns the status as WooCommerce spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Processing => "processing",
            OrderStatus::OnHold => "on-hold",
            OrderStatus::Completed => "completed",
        }
    }

    /// Tells whether WooCommerce reduces stock when an order enters this
    /// status: `wc_maybe_reduce_stock_levels` is hooked on the `processing`,
    /// `completed` and `on-hold` transitions and on payment completion
    /// (<https://github.com/woocommerce/woocommerce/blob/trunk/plugins/woocommerce/includes/wc-stock-functions.php>).
    pub fn reduces_stock(self) -> bool {
        !matches!(self, OrderStatus::Pending)
    }
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(15)
}

fn default_sku_cache_ttl() -> Duration {
    Duration::from_secs(600)
}

fn default_variation_scan_max_products() -> u32 {
    100
}

fn default_customer_lookup_max_pages() -> u32 {
    5
}

fn default_reconcile_margin() -> Duration {
    Duration::from_secs(900)
}

fn default_reconcile_page_size() -> u32 {
    MAX_PER_PAGE
}

fn default_reconcile_max_pages() -> u32 {
    20
}

impl WooCommerceConfig {
    /// Checks every key and returns the URL of the API root
    /// (`{base_url}/wp-json/wc/v3`, without a trailing slash).
    pub(crate) fn validate(&self, target: &TargetId) -> Result<Url, ConfigError> {
        let api_root = self.validate_base_url(target)?;
        self.validate_timeouts(target)?;
        self.validate_pages(target)?;
        self.validate_stock(target)?;
        self.validate_sku_map(target)?;
        Ok(api_root)
    }

    fn validate_base_url(&self, target: &TargetId) -> Result<Url, ConfigError> {
        let error = |problem: String| ConfigError::new(target, "base_url", problem);

        let url = Url::parse(self.base_url.trim()).map_err(|parse_error| {
            error(format!(
                "is not a valid URL ({parse_error}): give the shop's address, such as `https://shop.example.com`"
            ))
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(error(
                "contains credentials: remove them from the URL and set `consumer_key` and `consumer_secret`"
                    .to_owned(),
            ));
        }
        match url.scheme() {
            "https" => {}
            "http" if self.allow_insecure_http => {}
            "http" => {
                return Err(error(format!(
                    "`{url}` uses plain http, which would send the consumer key and secret readable to anyone on the network \
                     (and a real WooCommerce rejects basic auth without HTTPS): use https, or set `allow_insecure_http = true` \
                     only for a local test server"
                )))
            }
            scheme => {
                return Err(error(format!(
                    "has the scheme `{scheme}`: use an https:// address"
                )))
            }
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(error(format!(
                "`{url}` has a query or fragment: give only the shop's address"
            )));
        }
        if url.path().contains("/wp-json") {
            return Err(error(format!(
                "`{url}` contains `/wp-json`: give the shop's address without the API path, which the bridge adds"
            )));
        }

        let root = format!("{}/{API_PATH}", url.as_str().trim_end_matches('/'));
        Url::parse(&root).map_err(|parse_error| {
            error(format!(
                "cannot be extended with `/{API_PATH}`: {parse_error}"
            ))
        })
    }

    fn validate_timeouts(&self, target: &TargetId) -> Result<(), ConfigError> {
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::new(
                target,
                "connect_timeout",
                "is zero: give a duration such as \"5s\"",
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::new(
                target,
                "request_timeout",
                "is zero: give a duration such as \"15s\"",
            ));
        }
        if self.connect_timeout > self.request_timeout {
            return Err(ConfigError::new(
                target,
                "connect_timeout",
                format!(
                    "({}) is longer than `request_timeout` ({}): lower it or raise `request_timeout`",
                    humantime::format_duration(self.connect_timeout),
                    humantime::format_duration(self.request_timeout)
                ),
            ));
        }
        Ok(())
    }

    fn validate_pages(&self, target: &TargetId) -> Result<(), ConfigError> {
        if !(1..=MAX_PER_PAGE).contains(&self.reconcile_page_size) {
            return Err(ConfigError::new(
                target,
                "reconcile_page_size",
                format!(
                    "is {}: WooCommerce answers 1 to {MAX_PER_PAGE} orders per page",
                    self.reconcile_page_size
                ),
            ));
        }
        if self.reconcile_max_pages == 0 {
            return Err(ConfigError::new(
                target,
                "reconcile_max_pages",
                "is 0: at least one page must be searched for an order an earlier attempt created",
            ));
        }
        if self.customer_lookup_by_phone && self.customer_lookup_max_pages == 0 {
            return Err(ConfigError::new(
                target,
                "customer_lookup_max_pages",
                "is 0 while `customer_lookup_by_phone = true`: give at least 1, or turn the look-up off",
            ));
        }
        Ok(())
    }

    fn validate_stock(&self, target: &TargetId) -> Result<(), ConfigError> {
        let reduces = self.set_paid || self.status.reduces_stock();
        if self.reduce_stock && !reduces {
            return Err(ConfigError::new(
                target,
                "reduce_stock",
                format!(
                    "is true, but WooCommerce reduces stock only for paid orders or orders in `processing`, `on-hold` or \
                     `completed`, and this target creates `{}` orders with `set_paid = false`: set `set_paid = true` or one \
                     of those statuses, or `reduce_stock = false`",
                    self.status.as_str()
                ),
            ));
        }
        if !self.reduce_stock && reduces {
            return Err(ConfigError::new(
                target,
                "reduce_stock",
                format!(
                    "is false, but WooCommerce reduces stock for every order created as `{}`{}: set `reduce_stock = true` \
                     to accept that, or use `status = \"pending\"` with `set_paid = false`",
                    self.status.as_str(),
                    if self.set_paid { " or paid" } else { "" }
                ),
            ));
        }
        Ok(())
    }

    fn validate_sku_map(&self, target: &TargetId) -> Result<(), ConfigError> {
        for (upstream, mapping) in &self.sku_map {
            let key = format!("sku_map.\"{upstream}\"");
            if upstream.trim().is_empty() {
                return Err(ConfigError::new(
                    target,
                    "sku_map",
                    "has an empty SKU as a key",
                ));
            }
            let valid = match mapping {
                SkuMapping::Sku(sku) => !sku.trim().is_empty(),
                SkuMapping::ProductId(id) => *id > 0,
                SkuMapping::Variation {
                    product_id,
                    variation_id,
                } => *product_id > 0 && *variation_id > 0,
            };
            if !valid {
                return Err(ConfigError::new(
                    target,
                    &key,
                    "is empty or zero: give a WooCommerce SKU, a product id, or `{ product_id = …, variation_id = … }`",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> TargetId {
        TargetId::new("acme-woo").unwrap()
    }

    fn config(extra: &str) -> Result<WooCommerceConfig, serde_json::Error> {
        let text =
            format!(r#"{{"consumer_key": "env:PATH", "consumer_secret": "env:PATH", {extra}}}"#);
        serde_json::from_str(&text)
    }

    fn validation_error(extra: &str) -> ConfigError {
        config(extra).unwrap().validate(&target()).unwrap_err()
    }

    #[test]
    fn defaults_are_documented_values() {
        let config = config(r#""base_url": "https://shop.example.com""#).unwrap();

        assert_eq!(config.status, OrderStatus::Pending);
        assert!(!config.set_paid);
        assert!(!config.reduce_stock);
        assert!(!config.allow_insecure_http);
        assert!(!config.customer_lookup_by_phone);
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert_eq!(config.request_timeout, Duration::from_secs(15));
        assert_eq!(config.reconcile_page_size, 100);
    }

    #[test]
    fn api_root_is_appended_to_base_url() {
        let cases = [
            (
                "https://shop.example.com",
                "https://shop.example.com/wp-json/wc/v3",
            ),
            (
                "https://shop.example.com/",
                "https://shop.example.com/wp-json/wc/v3",
            ),
            (
                "https://example.com/shop",
                "https://example.com/shop/wp-json/wc/v3",
            ),
            (
                "https://example.com/shop/",
                "https://example.com/shop/wp-json/wc/v3",
            ),
        ];
        for (base_url, expected) in cases {
            let config = config(&format!(r#""base_url": "{base_url}""#)).unwrap();
            let root = config.validate(&target()).unwrap();
            assert_eq!(root.as_str(), expected, "{base_url}");
        }
    }

    #[test]
    fn plain_http_is_rejected_with_reason() {
        let error = validation_error(r#""base_url": "http://shop.example.com""#);

        assert_eq!(error.key, "targets.acme-woo.base_url");
        assert!(
            error.problem.contains("allow_insecure_http = true"),
            "{error}"
        );
        assert!(error.problem.contains("readable"), "{error}");
    }

    #[test]
    fn plain_http_is_accepted_when_allowed() {
        let config =
            config(r#""base_url": "http://127.0.0.1:9000", "allow_insecure_http": true"#).unwrap();

        assert!(config.validate(&target()).is_ok());
    }

    #[test]
    fn invalid_base_urls_are_rejected() {
        let cases = [
            ("not a url", "is not a valid URL"),
            ("ftp://shop.example.com", "scheme"),
            ("https://ck:cs@shop.example.com", "credentials"),
            ("https://shop.example.com/?a=1", "query"),
            ("https://shop.example.com/wp-json/wc/v3", "/wp-json"),
        ];
        for (base_url, expected) in cases {
            let error = validation_error(&format!(r#""base_url": "{base_url}""#));
            assert_eq!(error.key, "targets.acme-woo.base_url", "{base_url}");
            assert!(error.problem.contains(expected), "{base_url}: {error}");
        }
    }

    #[test]
    fn credentials_in_url_are_not_echoed() {
        let error = validation_error(r#""base_url": "https://ck_abc:cs_secret@shop.example.com""#);

        assert!(!error.to_string().contains("cs_secret"), "{error}");
    }

    #[test]
    fn invalid_numbers_are_rejected() {
        let base = r#""base_url": "https://shop.example.com""#;
        let cases = [
            (
                r#""connect_timeout": "0s""#,
                "targets.acme-woo.connect_timeout",
            ),
            (
                r#""request_timeout": "0s""#,
                "targets.acme-woo.request_timeout",
            ),
            (
                r#""connect_timeout": "20s", "request_timeout": "10s""#,
                "targets.acme-woo.connect_timeout",
            ),
            (
                r#""reconcile_page_size": 0"#,
                "targets.acme-woo.reconcile_page_size",
            ),
            (
                r#""reconcile_page_size": 101"#,
                "targets.acme-woo.reconcile_page_size",
            ),
            (
                r#""reconcile_max_pages": 0"#,
                "targets.acme-woo.reconcile_max_pages",
            ),
            (
                r#""customer_lookup_by_phone": true, "customer_lookup_max_pages": 0"#,
                "targets.acme-woo.customer_lookup_max_pages",
            ),
            (r#""sku_map": {"A": ""}"#, "targets.acme-woo.sku_map.\"A\""),
            (r#""sku_map": {"A": 0}"#, "targets.acme-woo.sku_map.\"A\""),
        ];
        for (extra, key) in cases {
            let error = validation_error(&format!("{base}, {extra}"));
            assert_eq!(error.key, key, "{extra}");
        }
    }

    #[test]
    fn stock_setting_must_match_status() {
        let base = r#""base_url": "https://shop.example.com""#;
        let cases = [
            (r#""status": "pending", "reduce_stock": false"#, true),
            (r#""status": "pending", "reduce_stock": true"#, false),
            (r#""status": "processing", "reduce_stock": false"#, false),
            (r#""status": "processing", "reduce_stock": true"#, true),
            (r#""status": "on-hold", "reduce_stock": true"#, true),
            (r#""status": "completed", "reduce_stock": true"#, true),
            (r#""set_paid": true, "reduce_stock": false"#, false),
            (r#""set_paid": true, "reduce_stock": true"#, true),
        ];
        for (extra, valid) in cases {
            let result = config(&format!("{base}, {extra}"))
                .unwrap()
                .validate(&target());
            assert_eq!(result.is_ok(), valid, "{extra}: {result:?}");
        }
    }

    #[test]
    fn unknown_keys_and_values_are_rejected() {
        let base = r#""base_url": "https://shop.example.com""#;
        for extra in [
            r#""stauts": "pending""#,
            r#""status": "cancelled""#,
            r#""id": "acme-woo""#,
            r#""request_timeout": "soon""#,
        ] {
            assert!(
                config(&format!("{base}, {extra}")).is_err(),
                "{extra} was accepted"
            );
        }
    }

    #[test]
    fn sku_map_accepts_three_forms() {
        let config = config(
            r#""base_url": "https://shop.example.com", "sku_map": {
                "A": "WC-A", "B": 812, "C": {"product_id": 810, "variation_id": 815}}"#,
        )
        .unwrap();

        assert_eq!(config.sku_map["A"], SkuMapping::Sku("WC-A".into()));
        assert_eq!(config.sku_map["B"], SkuMapping::ProductId(812));
        assert_eq!(
            config.sku_map["C"],
            SkuMapping::Variation {
                product_id: 810,
                variation_id: 815
            }
        );
    }
}
