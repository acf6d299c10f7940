//! Resolving Wamebo SKUs to Shopify product variants, with a cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::config::VARIANT_GID_PREFIX;
use crate::graphql::{Failure, GraphqlClient};
use crate::operations::{VariantsData, VARIANTS_BY_SKU};

/// The reason a SKU has no single variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unresolved {
    /// No variant has exactly this SKU.
    NotFound { shopify_sku: String },
    /// Several variants have exactly this SKU.
    Ambiguous { shopify_sku: String, matches: usize },
    /// The lookup failed.
    Failed(Failure),
}

/// Variant ids by Shopify SKU, each with the time it was looked up.
#[derive(Debug, Default)]
pub(crate) struct VariantCache {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl VariantCache {
    fn get(&self, sku: &str, ttl: Duration, now: Instant) -> Option<String> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .get(sku)
            .filter(|(_, stored_at)| now.saturating_duration_since(*stored_at) < ttl)
            .map(|(variant_id, _)| variant_id.clone())
    }

    fn put(&self, sku: &str, variant_id: &str, now: Instant) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.insert(sku.to_owned(), (variant_id.to_owned(), now));
    }
}

/// Returns the variant id for a Wamebo SKU: from `sku_map` when it maps to
/// a variant id, from the cache while fresh, else from a search that must
/// match exactly one variant's SKU exactly.
pub(crate) async fn resolve_variant(
    client: &GraphqlClient,
    cache: &VariantCache,
    sku_map: &std::collections::BTreeMap<String, String>,
    ttl: Duration,
    wamebo_sku: &str,
    deadline: Instant,
) -> Result<String, Unresolved> {
    let shopify_sku = sku_map.get(wamebo_sku).map_or(wamebo_sku, String::as_str);
    if shopify_sku.starts_with(VARIANT_GID_PREFIX) {
        return Ok(shopify_sku.to_owned());
    }
    if let Some(variant_id) = cache.get(shopify_sku, ttl, Instant::now()) {
        return Ok(variant_id);
    }

    let data: VariantsData = client
        .execute(
            VARIANTS_BY_SKU,
            json!({ "query": sku_query(shopify_sku) }),
            deadline,
        )
        .await
        .map_err(Unresolved::Failed)?;
    // NOTE: only the first 10 search results are compared. If Shopify's
    // search returned more than 10 looser matches first, the exact match
    // would be cut off and the SKU reported as not found.
    let exact: Vec<String> = data
        .product_variants
        .nodes
        .into_iter()
        .filter(|variant| variant.sku.as_deref() == Some(shopify_sku))
        .map(|variant| variant.id)
        .collect();

    match exact.as_slice() {
        [variant_id] => {
            if !ttl.is_zero() {
                cache.put(shopify_sku, variant_id, Instant::now());
            }
            Ok(variant_id.clone())
        }
        [] => Err(Unresolved::NotFound {
            shopify_sku: shopify_sku.to_owned(),
        }),
        several => Err(Unresolved::Ambiguous {
            shopify_sku: shopify_sku.to_owned(),
            matches: several.len(),
        }),
    }
}

/// Builds the search `sku:"…"`. The value is quoted so spaces and the
/// search syntax's special characters stay part of it, with `\` and `"`
/// escaped by a backslash
/// (<https://shopify.dev/docs/api/usage/search-syntax>).
pub(crate) fn sku_query(sku: &str) -> String {
    let mut escaped = String::with_capacity(sku.len() + 8);
    for c in sku.chars() {
        if c == '\\' || c == '"' {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    format!("sku:\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sku_query_quotes_and_escapes() {
        let cases = [
            ("PROD-A1", r#"sku:"PROD-A1""#),
            ("A B", r#"sku:"A B""#),
            (r#"A"B"#, r#"sku:"A\"B""#),
            (r"A\B", r#"sku:"A\\B""#),
            ("A:(B)", r#"sku:"A:(B)""#),
        ];
        for (sku, expected) in cases {
            assert_eq!(sku_query(sku), expected, "`{sku}`");
        }
    }

    #[test]
    fn cache_entries_expire() {
        let cache = VariantCache::default();
        let then = Instant::now();
        cache.put("A", "gid://shopify/ProductVariant/1", then);

        let fresh = cache.get("A", Duration::from_secs(60), then + Duration::from_secs(59));
        let stale = cache.get("A", Duration::from_secs(60), then + Duration::from_secs(60));

        assert_eq!(fresh.as_deref(), Some("gid://shopify/ProductVariant/1"));
        assert_eq!(stale, None);
    }
}
