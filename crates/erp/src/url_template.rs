//! URLs with `{order_id}` and `{store_id}` placeholders, checked once at
//! start-up and filled in per request.

use reqwest::Url;
use wamebo_core::StoreId;

use crate::config::ConfigError;

const ORDER_ID: &str = "{order_id}";
const STORE_ID: &str = "{store_id}";

/// A URL template that passed validation, so filling it in always yields a
/// valid `http` or `https` URL.
#[derive(Debug, Clone)]
pub(crate) struct UrlTemplate {
    text: String,
}

/// A template needs `{order_id}` but the event carries no order id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MissingOrderId;

impl UrlTemplate {
    /// Checks a URL template: placeholders other than `{order_id}` and
    /// `{store_id}` are rejected, and the URL they yield must be absolute,
    /// `https` (or `http` when `allow_insecure_http` is set) and free of
    /// credentials.
    pub(crate) fn parse(
        text: &str,
        key: &str,
        allow_insecure_http: bool,
    ) -> Result<Self, ConfigError> {
        let error = |problem: String, fix: &str| ConfigError::new(key.to_owned(), problem, fix);

        let without_placeholders = text.replace(ORDER_ID, "").replace(STORE_ID, "");
        if without_placeholders.contains(['{', '}']) {
            return Err(error(
                format!("contains an unknown placeholder in `{text}`"),
                "use only {order_id} and {store_id}",
            ));
        }

        let sample = fill(text, "store", "1");
        let url = Url::parse(&sample).map_err(|parse_error| {
            error(
                format!("is not a valid absolute URL ({parse_error})"),
                "write a full URL such as https://erp.example.com/api/orders",
            )
        })?;
        match url.scheme() {
            "https" => {}
            "http" if allow_insecure_http => {}
            "http" => {
                return Err(error(
                    "uses http, which sends orders and credentials unencrypted".to_owned(),
                    "use https, or set allow_insecure_http = true for local testing only",
                ))
            }
            other => {
                return Err(error(
                    format!("uses the scheme `{other}`"),
                    "use an https:// URL",
                ))
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(error(
                "has no host".to_owned(),
                "write a full URL such as https://erp.example.com/api/orders",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(error(
                "contains credentials".to_owned(),
                "remove them from the URL and configure them in the target's [auth] table",
            ));
        }

        Ok(UrlTemplate {
            text: text.to_owned(),
        })
    }

    /// Returns true when the template contains `{order_id}`.
    pub(crate) fn needs_order_id(&self) -> bool {
        self.text.contains(ORDER_ID)
    }

    /// Fills in the placeholders, failing only when the template needs an
    /// order id and none is given.
    pub(crate) fn expand(
        &self,
        store_id: &StoreId,
        order_id: Option<u64>,
    ) -> Result<Url, MissingOrderId> {
        match order_id {
            Some(id) => Ok(self.expand_with_order(store_id, id)),
            None if self.needs_order_id() => Err(MissingOrderId),
            None => Ok(self.build(store_id.as_str(), "")),
        }
    }

    /// Fills in the placeholders with an order id.
    pub(crate) fn expand_with_order(&self, store_id: &StoreId, order_id: u64) -> Url {
        self.build(store_id.as_str(), &order_id.to_string())
    }

    /// Store ids and order ids contain only characters that are valid in any
    /// part of a URL, so none is escaped.
    fn build(&self, store_id: &str, order_id: &str) -> Url {
        let text = fill(&self.text, store_id, order_id);
        // Validation parsed the same template with sample values from the
        // same character set, so this parse cannot fail.
        Url::parse(&text)
            .unwrap_or_else(|error| unreachable!("validated URL template failed to parse: {error}"))
    }
}

fn fill(template: &str, store_id: &str, order_id: &str) -> String {
    template
        .replace(STORE_ID, store_id)
        .replace(ORDER_ID, order_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "targets.acme-erp.url";

    fn store() -> StoreId {
        StoreId::new("acme").unwrap()
    }

    #[test]
    fn placeholders_are_filled() {
        let template = UrlTemplate::parse(
            "https://erp.example.com/stores/{store_id}/orders/{order_id}?source=wamebo",
            KEY,
            false,
        )
        .unwrap();

        let url = template.expand(&store(), Some(5542)).unwrap();

        assert_eq!(
            url.as_str(),
            "https://erp.example.com/stores/acme/orders/5542?source=wamebo"
        );
    }

    #[test]
    fn missing_order_id_is_reported() {
        let with = UrlTemplate::parse("https://erp.example.com/o/{order_id}", KEY, false).unwrap();
        let without = UrlTemplate::parse("https://erp.example.com/events", KEY, false).unwrap();

        assert_eq!(with.expand(&store(), None), Err(MissingOrderId));
        assert_eq!(
            without.expand(&store(), None).unwrap().as_str(),
            "https://erp.example.com/events"
        );
    }

    #[test]
    fn http_needs_the_insecure_switch() {
        assert!(UrlTemplate::parse("http://127.0.0.1:9000/o", KEY, false).is_err());
        assert!(UrlTemplate::parse("http://127.0.0.1:9000/o", KEY, true).is_ok());
    }

    #[test]
    fn invalid_templates_are_rejected() {
        let cases = [
            ("", "empty"),
            ("erp.example.com/orders", "relative"),
            ("ftp://erp.example.com/orders", "scheme"),
            ("https://erp.example.com/{order}", "unknown placeholder"),
            ("https://erp.example.com/{order_id", "unclosed placeholder"),
            ("https://user:pass@erp.example.com/orders", "credentials"),
            ("https://token@erp.example.com/orders", "user name"),
            ("https://", "no host"),
            ("http://:80/orders", "empty host"),
        ];
        for (text, case) in cases {
            let error = UrlTemplate::parse(text, KEY, true).unwrap_err();
            assert_eq!(error.key, KEY, "{case}");
        }
    }

    #[test]
    fn error_names_key_and_fix() {
        let error = UrlTemplate::parse("http://erp.example.com/o", KEY, false).unwrap_err();

        assert_eq!(
            error.to_string(),
            "`targets.acme-erp.url` uses http, which sends orders and credentials unencrypted: \
             use https, or set allow_insecure_http = true for local testing only"
        );
    }
}
