//! Resolving an upstream SKU to exactly one WooCommerce product or
//! variation, with a cache.
//!
//! `GET /products?sku=` has searched variations as well as products only
//! since some WooCommerce releases: before, it matched parent products alone
//! (<https://github.com/woocommerce/woocommerce/issues/31370>,
//! <https://github.com/woocommerce/woocommerce-rest-api/issues/38>). So a
//! SKU that it does not find is looked up in `GET /variations?sku=`, a route
//! added in WooCommerce 10.3 that returns variations with their `parent_id`
//! (<https://github.com/woocommerce/woocommerce/pull/60727>), and, where that
//! route does not exist, in `GET /products/{id}/variations?sku=` of each
//! variable product.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tracing::debug;
use wamebo_core::{DeliveryError, ReasonCode, TargetId};

use crate::api::{Api, Call, Purpose};
use crate::config::{SkuMapping, MAX_PER_PAGE};

/// The product (and variation) an order line is posted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResolvedProduct {
    pub product_id: u64,
    pub variation_id: Option<u64>,
}

/// A product or variation as `GET /products` and `GET /variations` list it.
#[derive(Debug, Deserialize)]
struct ProductRow {
    id: u64,
    #[serde(default)]
    parent_id: u64,
    #[serde(default)]
    sku: String,
    #[serde(default, rename = "type")]
    kind: String,
}

/// A variation as `GET /products/{id}/variations` lists it, without its parent.
#[derive(Debug, Deserialize)]
struct VariationRow {
    id: u64,
    #[serde(default)]
    sku: String,
}

/// A variable product as `GET /products?type=variable` lists it.
#[derive(Debug, Deserialize)]
struct ParentRow {
    id: u64,
}

/// Resolves SKUs for one target and remembers what it found.
#[derive(Debug)]
pub(crate) struct SkuResolver {
    map: BTreeMap<String, SkuMapping>,
    ttl: Duration,
    variation_scan_max_products: u32,
    cache: Mutex<HashMap<String, (ResolvedProduct, Instant)>>,
}

impl SkuResolver {
    pub(crate) fn new(
        map: BTreeMap<String, SkuMapping>,
        ttl: Duration,
        variation_scan_max_products: u32,
    ) -> Self {
        SkuResolver {
            map,
            ttl,
            variation_scan_max_products,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Resolves an upstream SKU through `sku_map`, the cache, and the shop.
    /// No match is `sku_not_found` and several are `sku_ambiguous`, both
    /// permanent and naming the SKU.
    pub(crate) async fn resolve(
        &self,
        api: &Api,
        target: &TargetId,
        order_id: u64,
        upstream_sku: &str,
    ) -> Result<ResolvedProduct, DeliveryError> {
        let shop_sku = match self.map.get(upstream_sku) {
            Some(SkuMapping::ProductId(product_id)) => {
                return Ok(ResolvedProduct {
                    product_id: *product_id,
                    variation_id: None,
                })
            }
            Some(SkuMapping::Variation {
                product_id,
                variation_id,
            }) => {
                return Ok(ResolvedProduct {
                    product_id: *product_id,
                    variation_id: Some(*variation_id),
                })
            }
            Some(SkuMapping::Sku(sku)) => sku.as_str(),
            None => upstream_sku,
        };

        if let Some(product) = self.cached(shop_sku) {
            return Ok(product);
        }
        let lookup = Lookup {
            api,
            target,
            order_id,
            sku: shop_sku,
        };
        let product = lookup.run(self.variation_scan_max_products).await?;
        debug!(target_id = %target, sku = shop_sku, product_id = product.product_id, variation_id = ?product.variation_id, "resolved SKU");
        self.remember(shop_sku, product);
        Ok(product)
    }

    fn cached(&self, sku: &str) -> Option<ResolvedProduct> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (product, stored_at) = cache.get(sku)?;
        (stored_at.elapsed() < self.ttl).then_some(*product)
    }

    fn remember(&self, sku: &str, product: ResolvedProduct) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.retain(|_, (_, stored_at)| stored_at.elapsed() < self.ttl);
        cache.insert(sku.to_owned(), (product, Instant::now()));
    }
}

/// One SKU being looked up in the shop.
struct Lookup<'a> {
    api: &'a Api,
    target: &'a TargetId,
    order_id: u64,
    sku: &'a str,
}

impl Lookup<'_> {
    async fn run(
        &self,
        variation_scan_max_products: u32,
    ) -> Result<ResolvedProduct, DeliveryError> {
        let mut found = self.search_products().await?;
        if found.is_empty() {
            found = match self.search_variations().await? {
                Some(found) => found,
                None => {
                    self.scan_variable_products(variation_scan_max_products)
                        .await?
                }
            };
        }

        match found.as_slice() {
            [product] => Ok(*product),
            [] => Err(DeliveryError::permanent(
                ReasonCode::SkuNotFound,
                format!(
                    "target {}, order {}: SKU `{}` matches no product or variation in WooCommerce: \
                     add it to the shop, or map it in `sku_map`",
                    self.target, self.order_id, self.sku
                ),
            )),
            several => Err(DeliveryError::permanent(
                ReasonCode::SkuAmbiguous,
                format!(
                    "target {}, order {}: SKU `{}` matches {} products or variations in WooCommerce ({}): \
                     make the SKU unique in the shop, or map it to one id in `sku_map`",
                    self.target,
                    self.order_id,
                    self.sku,
                    several.len(),
                    describe_matches(several)
                ),
            )),
        }
    }

    fn call<'c>(&'c self, request: &'c str) -> Call<'c> {
        Call {
            target: self.target,
            order_id: self.order_id,
            purpose: Purpose::Lookup,
            request,
        }
    }

    /// `GET /products?sku=` matches products and, on current WooCommerce,
    /// variations. A comma in `sku` requests several SKUs, and the database
    /// may compare without regard to case, so only exact matches count. A
    /// variable product is the parent of its variations and cannot be a
    /// line by itself.
    async fn search_products(&self) -> Result<Vec<ResolvedProduct>, DeliveryError> {
        let query = [
            ("sku", self.sku.to_owned()),
            ("per_page", MAX_PER_PAGE.to_string()),
        ];
        let page = self
            .api
            .get_page::<ProductRow>(&self.call("GET /products"), "products", &query)
            .await?;
        Ok(page
            .items
            .into_iter()
            .filter(|row| row.sku == self.sku && row.kind != "variable")
            .map(|row| match row.kind.as_str() {
                "variation" => ResolvedProduct {
                    product_id: row.parent_id,
                    variation_id: Some(row.id),
                },
                _ => ResolvedProduct {
                    product_id: row.id,
                    variation_id: None,
                },
            })
            .collect())
    }

    /// `GET /variations?sku=`, or `None` on WooCommerce before 10.3.
    async fn search_variations(&self) -> Result<Option<Vec<ResolvedProduct>>, DeliveryError> {
        let query = [
            ("sku", self.sku.to_owned()),
            ("per_page", MAX_PER_PAGE.to_string()),
        ];
        let page = self
            .api
            .get_page_if_route_exists::<ProductRow>(
                &self.call("GET /variations"),
                "variations",
                &query,
            )
            .await?;
        Ok(page.map(|page| {
            page.items
                .into_iter()
                .filter(|row| row.sku == self.sku && row.parent_id > 0)
                .map(|row| ResolvedProduct {
                    product_id: row.parent_id,
                    variation_id: Some(row.id),
                })
                .collect()
        }))
    }

    /// Asks each variable product, up to `max_products` of them, for a
    /// variation with this SKU, and stops at the first match.
    ///
    /// NOTE: stopping at the first match relies on WooCommerce's own rule
    /// that SKUs are unique across products and variations. A shop that
    /// turned that check off can have a second match that this scan misses.
    async fn scan_variable_products(
        &self,
        max_products: u32,
    ) -> Result<Vec<ResolvedProduct>, DeliveryError> {
        let mut scanned = 0;
        let mut page_number = 1;
        while scanned < max_products {
            let query = [
                ("type", String::from("variable")),
                ("per_page", MAX_PER_PAGE.to_string()),
                ("page", page_number.to_string()),
                ("orderby", String::from("id")),
                ("order", String::from("asc")),
            ];
            let page = self
                .api
                .get_page::<ParentRow>(
                    &self.call("GET /products?type=variable"),
                    "products",
                    &query,
                )
                .await?;
            let fetched = page.items.len();
            for parent in page.items {
                if scanned >= max_products {
                    break;
                }
                scanned += 1;
                if let Some(variation_id) = self.find_variation(parent.id).await? {
                    return Ok(vec![ResolvedProduct {
                        product_id: parent.id,
                        variation_id: Some(variation_id),
                    }]);
                }
            }
            let last_page = page
                .total_pages
                .map_or(fetched < MAX_PER_PAGE as usize, |total| {
                    page_number >= total
                });
            if last_page {
                break;
            }
            page_number += 1;
        }
        Ok(Vec::new())
    }

    async fn find_variation(&self, parent_id: u64) -> Result<Option<u64>, DeliveryError> {
        let path = format!("products/{parent_id}/variations");
        let request = format!("GET /{path}");
        let query = [
            ("sku", self.sku.to_owned()),
            ("per_page", MAX_PER_PAGE.to_string()),
        ];
        let page = self
            .api
            .get_page::<VariationRow>(&self.call(&request), &path, &query)
            .await?;
        Ok(page
            .items
            .into_iter()
            .find(|row| row.sku == self.sku)
            .map(|row| row.id))
    }
}

fn describe_matches(products: &[ResolvedProduct]) -> String {
    products
        .iter()
        .map(|product| match product.variation_id {
            Some(variation_id) => {
                format!("variation {variation_id} of product {}", product.product_id)
            }
            None => format!("product {}", product.product_id),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
