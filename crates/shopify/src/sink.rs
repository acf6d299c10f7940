//! [`ShopifySink`]: the `OrderSink` that creates each order on Shopify.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::OnceCell;
use wamebo_core::{
    Delivered, DeliveryContext, DeliveryError, Order, OrderSink, ReasonCode, TargetId,
};

use crate::catalog::{resolve_variant, Unresolved, VariantCache};
use crate::config::{ConfigError, Credentials, CurrencyMode, Settings, ShopifyConfig};
use crate::graphql::{sanitize, Failure, GraphqlClient};
use crate::operations::{
    CustomerData, OrderByIdData, OrderCreateData, OrderNode, OrdersData, UserError,
    CUSTOMER_BY_PHONE, ORDERS_BY_TAG, ORDER_BY_CUSTOM_ID, ORDER_CREATE,
};
use crate::payload::{order_create_variables, order_key, order_tag, CustomerChoice};
use crate::setup::{load_shop_facts, ShopFacts};
use crate::totals::{compare_totals, TotalCheck};

/// The access scopes named when Shopify rejects the token.
const REQUIRED_SCOPES: &str =
    "write_orders, read_orders, read_products, read_customers and write_customers";

/// Creates Wamebo orders on one Shopify shop through the Admin GraphQL API.
///
/// Each order becomes one `orderCreate` with the exact unit prices the
/// customer paid and the customer found by phone (or created once). The
/// Wamebo order id goes into a unique custom-id metafield and a tag, so
/// [`OrderSink::find_existing`] can adopt an order an earlier attempt
/// created.
#[derive(Debug)]
pub struct ShopifySink {
    target_id: TargetId,
    settings: Settings,
    client: GraphqlClient,
    shop: OnceCell<ShopFacts>,
    variants: VariantCache,
    total_mismatches: AtomicU64,
}

/// The result of one `orderCreate` request.
enum CreateOutcome {
    Created(OrderNode),
    Rejected(Vec<UserError>),
}

impl ShopifySink {
    /// Validates the configuration and builds the target. Errors name the
    /// key at fault, such as `targets.acme-shopify.shop_domain`, and the fix.
    pub fn new(target_id: TargetId, config: ShopifyConfig) -> Result<Self, ConfigError> {
        let settings = config.validate(&target_id)?;
        let client = GraphqlClient::new(&settings, &target_id).map_err(|error| ConfigError {
            target: target_id.clone(),
            key: "base_url",
            problem: format!("cannot build the HTTP client: {error}"),
        })?;
        Ok(ShopifySink {
            target_id,
            settings,
            client,
            shop: OnceCell::new(),
            variants: VariantCache::default(),
            total_mismatches: AtomicU64::new(0),
        })
    }

    /// Returns the longest one `find_existing` or `create_order` call takes,
    /// with all its GraphQL requests and pacing waits. The dispatcher's lease
    /// must be longer.
    pub fn request_timeout(&self) -> Duration {
        self.settings.request_timeout
    }

    /// Returns the maximum duration of one delivery attempt, which may call
    /// both [`OrderSink::find_existing`] and [`OrderSink::create_order`]. A
    /// dispatcher lease must be longer, or a second worker could send the
    /// same order while the first is still waiting for Shopify.
    pub fn max_attempt_duration(&self) -> Duration {
        self.settings.request_timeout * 2
    }

    /// Returns how many created or adopted orders had a Shopify total that
    /// differs from the Wamebo total, since this sink was built.
    pub fn total_mismatches(&self) -> u64 {
        self.total_mismatches.load(Ordering::Relaxed)
    }

    /// Bounds one sink call by `request_timeout`. Each request's own timeout
    /// ends at the same deadline, so this bound matters mainly for a call
    /// that waits on another call's shop set-up. The elapsed call may have
    /// sent its `orderCreate`, so the error sets `maybe_created`.
    async fn within_timeout<T>(
        &self,
        order_id: u64,
        step: &str,
        work: impl std::future::Future<Output = Result<T, DeliveryError>>,
    ) -> Result<T, DeliveryError> {
        match tokio::time::timeout(self.settings.request_timeout, work).await {
            Ok(result) => result,
            Err(_elapsed) => {
                tracing::warn!(
                    target_id = %self.target_id,
                    order_id,
                    "{step} timed out after request_timeout"
                );
                Err(DeliveryError::Retry {
                    reason: ReasonCode::RemoteUnavailable,
                    message: format!(
                        "target {}: order {order_id}: {step} timed out after {} ms",
                        self.target_id,
                        self.settings.request_timeout.as_millis()
                    ),
                    retry_after: None,
                    maybe_created: true,
                })
            }
        }
    }

    async fn shop_facts(
        &self,
        order_id: u64,
        deadline: Instant,
    ) -> Result<&ShopFacts, DeliveryError> {
        self.shop
            .get_or_try_init(|| {
                load_shop_facts(&self.client, &self.settings, &self.target_id, deadline)
            })
            .await
            .map_err(|failure| {
                self.delivery_error(failure, order_id, "reading the shop's settings", false)
            })
    }

    fn check_currency(&self, facts: &ShopFacts, order: &Order) -> Result<(), DeliveryError> {
        if self.settings.currency_mode == CurrencyMode::Presentment
            || facts.currency == order.currency.code()
        {
            return Ok(());
        }
        Err(DeliveryError::permanent(
            ReasonCode::CurrencyMismatch,
            format!(
                "target {}: order {} is in {} but shop {} uses {}: set currency_mode = \"presentment\" on this target to create it in {}",
                self.target_id,
                order.order_id,
                order.currency,
                self.settings.shop_domain,
                facts.currency,
                order.currency
            ),
        ))
    }

    async fn resolve_variants(
        &self,
        order: &Order,
        deadline: Instant,
    ) -> Result<Vec<String>, DeliveryError> {
        let mut variant_ids = Vec::with_capacity(order.lines.len());
        for line in &order.lines {
            let resolved = resolve_variant(
                &self.client,
                &self.variants,
                &self.settings.sku_map,
                self.settings.sku_cache_ttl,
                &line.sku,
                deadline,
            )
            .await;
            let variant_id =
                resolved.map_err(|unresolved| self.sku_error(order, &line.sku, unresolved))?;
            variant_ids.push(variant_id);
        }
        Ok(variant_ids)
    }

    fn sku_error(&self, order: &Order, wamebo_sku: &str, unresolved: Unresolved) -> DeliveryError {
        let named = |shopify_sku: &str| {
            if shopify_sku == wamebo_sku {
                format!("SKU `{wamebo_sku}`")
            } else {
                format!("SKU `{wamebo_sku}` (mapped to `{shopify_sku}`)")
            }
        };
        match unresolved {
            Unresolved::NotFound { shopify_sku } => DeliveryError::permanent(
                ReasonCode::SkuNotFound,
                format!(
                    "target {}: order {}: {} matches no product variant on {}: give a variant that SKU, or map it in sku_map",
                    self.target_id,
                    order.order_id,
                    named(&shopify_sku),
                    self.settings.shop_domain
                ),
            ),
            Unresolved::Ambiguous { shopify_sku, matches } => DeliveryError::permanent(
                ReasonCode::SkuAmbiguous,
                format!(
                    "target {}: order {}: {} matches {matches} product variants on {}: make the SKU unique, or map it to one variant id in sku_map",
                    self.target_id,
                    order.order_id,
                    named(&shopify_sku),
                    self.settings.shop_domain
                ),
            ),
            Unresolved::Failed(failure) => {
                self.delivery_error(failure, order.order_id, "looking up a SKU", false)
            }
        }
    }

    async fn find_customer(
        &self,
        order: &Order,
        deadline: Instant,
    ) -> Result<Option<String>, DeliveryError> {
        let data: CustomerData = self
            .client
            .execute(
                CUSTOMER_BY_PHONE,
                json!({ "phone": order.customer.phone.as_e164() }),
                deadline,
            )
            .await
            .map_err(|failure| {
                self.delivery_error(failure, order.order_id, "looking up the customer", false)
            })?;
        Ok(data.customer_by_identifier.map(|customer| customer.id))
    }

    async fn send_order_create(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
        facts: &ShopFacts,
        variant_ids: &[String],
        customer: &CustomerChoice,
        deadline: Instant,
    ) -> Result<CreateOutcome, DeliveryError> {
        let variables = order_create_variables(
            &self.settings,
            &ctx.store_id,
            order,
            variant_ids,
            customer,
            facts.custom_id,
        );
        let data: OrderCreateData = self
            .client
            .execute(ORDER_CREATE, variables, deadline)
            .await
            .map_err(|failure| {
                self.delivery_error(failure, order.order_id, "creating the order", true)
            })?;

        let Some(payload) = data.order_create else {
            return Err(self.delivery_error(
                Failure::InvalidResponse {
                    detail: "orderCreate returned no payload".to_owned(),
                },
                order.order_id,
                "creating the order",
                true,
            ));
        };
        if !payload.user_errors.is_empty() {
            return Ok(CreateOutcome::Rejected(payload.user_errors));
        }
        match payload.order {
            Some(node) => Ok(CreateOutcome::Created(node)),
            None => Err(self.delivery_error(
                Failure::InvalidResponse {
                    detail: "orderCreate returned neither an order nor user errors".to_owned(),
                },
                order.order_id,
                "creating the order",
                true,
            )),
        }
    }

    async fn create(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Delivered, DeliveryError> {
        let deadline = Instant::now() + self.settings.request_timeout;
        let facts = self.shop_facts(order.order_id, deadline).await?;
        self.check_currency(facts, order)?;

        let variant_ids = self.resolve_variants(order, deadline).await?;
        let customer = match self.find_customer(order, deadline).await? {
            Some(id) => CustomerChoice::Existing(id),
            None => CustomerChoice::New,
        };

        let rejected = match self
            .send_order_create(ctx, order, facts, &variant_ids, &customer, deadline)
            .await?
        {
            CreateOutcome::Created(node) => return Ok(self.delivered(order, node, "created")),
            CreateOutcome::Rejected(errors) => errors,
        };

        if facts.custom_id && touches(&rejected, "metafields") {
            return self
                .adopt_after_conflict(ctx, order, &rejected, deadline)
                .await;
        }
        if customer == CustomerChoice::New && is_customer_conflict(&rejected) {
            return self
                .create_after_customer_conflict(ctx, order, facts, &variant_ids, deadline)
                .await;
        }
        Err(self.rejection_error(order, &rejected))
    }

    /// Retries the create once after Shopify rejected the new customer,
    /// typically because the phone number already belongs to a customer the
    /// lookup did not return. The retry associates the phone's owner when the
    /// lookup finds it now, and creates the order without a customer
    /// otherwise, so a phone conflict alone does not fail the order.
    async fn create_after_customer_conflict(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
        facts: &ShopFacts,
        variant_ids: &[String],
        deadline: Instant,
    ) -> Result<Delivered, DeliveryError> {
        let customer = match self.find_customer(order, deadline).await? {
            Some(id) => CustomerChoice::Existing(id),
            None => CustomerChoice::Omitted,
        };
        tracing::info!(
            target_id = %self.target_id,
            order_id = order.order_id,
            associate_existing = matches!(customer, CustomerChoice::Existing(_)),
            "Shopify rejected the new customer, retrying the order"
        );
        match self
            .send_order_create(ctx, order, facts, variant_ids, &customer, deadline)
            .await?
        {
            CreateOutcome::Created(node) => Ok(self.delivered(order, node, "created")),
            CreateOutcome::Rejected(errors)
                if facts.custom_id && touches(&errors, "metafields") =>
            {
                self.adopt_after_conflict(ctx, order, &errors, deadline)
                    .await
            }
            CreateOutcome::Rejected(errors) => Err(self.rejection_error(order, &errors)),
        }
    }

    /// Adopts the existing order after Shopify rejected a duplicate custom
    /// id, which means an earlier attempt already created this order.
    async fn adopt_after_conflict(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
        rejected: &[UserError],
        deadline: Instant,
    ) -> Result<Delivered, DeliveryError> {
        match self.find_by_custom_id(ctx, order, deadline).await? {
            Some(node) => Ok(self.delivered(order, node, "adopted")),
            None => Err(self.rejection_error(order, rejected)),
        }
    }

    async fn find_by_custom_id(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
        deadline: Instant,
    ) -> Result<Option<OrderNode>, DeliveryError> {
        let data: OrderByIdData = self
            .client
            .execute(
                ORDER_BY_CUSTOM_ID,
                json!({
                    "namespace": self.settings.metafield_namespace,
                    "key": self.settings.metafield_key,
                    "value": order_key(&ctx.store_id, order.order_id),
                }),
                deadline,
            )
            .await
            .map_err(|failure| {
                self.delivery_error(
                    failure,
                    order.order_id,
                    "looking up an earlier order",
                    false,
                )
            })?;
        Ok(data.order_by_identifier)
    }

    /// Finds an order by its per-order tag. Shopify's order search is
    /// eventually consistent, so an order created a moment ago may be
    /// missing here; the custom-id lookup has no such delay.
    async fn find_by_tag(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
        deadline: Instant,
    ) -> Result<Option<OrderNode>, DeliveryError> {
        let tag = order_tag(&ctx.store_id, order.order_id);
        let data: OrdersData = self
            .client
            .execute(
                ORDERS_BY_TAG,
                json!({ "query": format!("tag:\"{tag}\"") }),
                deadline,
            )
            .await
            .map_err(|failure| {
                self.delivery_error(
                    failure,
                    order.order_id,
                    "looking up an earlier order",
                    false,
                )
            })?;
        Ok(data
            .orders
            .nodes
            .into_iter()
            .find(|node| node.tags.iter().any(|candidate| candidate == &tag)))
    }

    async fn find(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Option<Delivered>, DeliveryError> {
        let deadline = Instant::now() + self.settings.request_timeout;
        let facts = self.shop_facts(order.order_id, deadline).await?;

        // Orders created while the custom-id definition was missing carry
        // only the tag, so a custom-id miss still checks the tag.
        let mut found = None;
        if facts.custom_id {
            found = self.find_by_custom_id(ctx, order, deadline).await?;
        }
        if found.is_none() {
            found = self.find_by_tag(ctx, order, deadline).await?;
        }
        Ok(found.map(|node| self.delivered(order, node, "adopted")))
    }

    /// Builds the outcome of a created or adopted order, recording a total
    /// that differs from the Wamebo total.
    fn delivered(&self, order: &Order, node: OrderNode, action: &'static str) -> Delivered {
        let presentment = self.settings.currency_mode == CurrencyMode::Presentment;
        let note = match compare_totals(&node, order, presentment) {
            TotalCheck::Equal => None,
            TotalCheck::Differs { shopify, wamebo } => {
                self.total_mismatches.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    target_id = %self.target_id,
                    order_id = order.order_id,
                    shopify_order = %node.id,
                    shopify_total = %shopify,
                    wamebo_total = %wamebo,
                    "Shopify order total differs from the Wamebo total"
                );
                Some(format!(
                    "Shopify total {shopify} differs from the Wamebo total {wamebo}: the shop may have added taxes or shipping"
                ))
            }
            TotalCheck::Unknown => {
                tracing::warn!(
                    target_id = %self.target_id,
                    order_id = order.order_id,
                    shopify_order = %node.id,
                    "Shopify returned no readable order total, so totals were not compared"
                );
                Some(
                    "Shopify returned no readable order total, so totals were not compared"
                        .to_owned(),
                )
            }
        };
        tracing::info!(
            target_id = %self.target_id,
            order_id = order.order_id,
            shopify_order = %node.id,
            shopify_name = node.name.as_deref().unwrap_or(""),
            "{action} Shopify order"
        );
        Delivered {
            remote_id: Some(node.id),
            note,
        }
    }

    fn rejection_error(&self, order: &Order, errors: &[UserError]) -> DeliveryError {
        let described: Vec<String> = errors
            .iter()
            .map(|error| {
                format!(
                    "{} at {}: {}",
                    error.code.as_deref().unwrap_or("NO_CODE"),
                    error.field_path(),
                    error.message
                )
            })
            .collect();
        DeliveryError::permanent(
            ReasonCode::RemoteRejected,
            format!(
                "target {}: Shopify rejected order {}: {}",
                self.target_id,
                order.order_id,
                sanitize(&described.join("; "))
            ),
        )
    }

    /// Returns the fix for a token or scope that Shopify rejected.
    fn unauthorized_fix(&self) -> String {
        match &self.settings.credentials {
            Credentials::AccessToken(_) => {
                format!("check access_token and that the app has the {REQUIRED_SCOPES} scopes")
            }
            Credentials::ClientCredentials { .. } => format!(
                "check that the app is installed on {} and that its active version has the {REQUIRED_SCOPES} scopes",
                self.settings.shop_domain
            ),
        }
    }

    /// Sorts a request failure into what the dispatcher does next. `creates`
    /// marks the `orderCreate` request, the only one that can leave an order
    /// behind when its outcome is unknown.
    fn delivery_error(
        &self,
        failure: Failure,
        order_id: u64,
        step: &str,
        creates: bool,
    ) -> DeliveryError {
        let target = &self.target_id;
        match failure {
            Failure::Throttled { retry_after } => DeliveryError::Retry {
                reason: ReasonCode::RemoteThrottled,
                message: format!(
                    "target {target}: order {order_id}: {step} was throttled by Shopify's rate limit: retry in {} ms",
                    retry_after.as_millis()
                ),
                retry_after: Some(retry_after),
                maybe_created: false,
            },
            Failure::Unauthorized { detail } => DeliveryError::permanent(
                ReasonCode::AuthFailed,
                format!(
                    "target {target}: order {order_id}: {step} failed: {detail}: {}",
                    self.unauthorized_fix()
                ),
            ),
            Failure::GrantRefused { detail } => DeliveryError::permanent(
                ReasonCode::AuthFailed,
                format!(
                    "target {target}: order {order_id}: {step} failed: {detail}: check client_id and client_secret against the app's Settings page in the Dev Dashboard, and that the app is installed on {}",
                    self.settings.shop_domain
                ),
            ),
            Failure::Unavailable { detail, reached } => DeliveryError::Retry {
                reason: ReasonCode::RemoteUnavailable,
                message: format!("target {target}: order {order_id}: {step} failed: {detail}"),
                retry_after: None,
                maybe_created: creates && reached,
            },
            Failure::Rejected { detail } => DeliveryError::permanent(
                ReasonCode::RemoteRejected,
                format!("target {target}: order {order_id}: {step} failed: {detail}"),
            ),
            Failure::InvalidResponse { detail } => DeliveryError::Retry {
                reason: ReasonCode::InvalidResponse,
                message: format!("target {target}: order {order_id}: {step} failed: {detail}"),
                retry_after: None,
                maybe_created: creates,
            },
        }
    }
}

/// Checks whether any user error's field path contains `segment`.
fn touches(errors: &[UserError], segment: &str) -> bool {
    errors.iter().any(|error| {
        error
            .field
            .as_ref()
            .is_some_and(|path| path.iter().any(|part| part == segment))
    })
}

/// Checks whether Shopify rejected the new customer. Shopify documents no
/// error code for a phone number that already belongs to a customer, so
/// this matches the field path (`customer…`, `phone`) and, for errors
/// without one, the message Shopify uses ("Phone has already been taken").
fn is_customer_conflict(errors: &[UserError]) -> bool {
    touches(errors, "customer")
        || touches(errors, "toUpsert")
        || errors.iter().any(|error| {
            let message = error.message.to_ascii_lowercase();
            message.contains("phone") && message.contains("taken")
        })
}

#[async_trait]
impl OrderSink for ShopifySink {
    fn kind(&self) -> &'static str {
        "shopify"
    }

    #[tracing::instrument(skip_all, fields(store = %ctx.store_id, target = %self.target_id, order_id = order.order_id, delivery_id = ctx.delivery_id))]
    async fn find_existing(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Option<Delivered>, DeliveryError> {
        self.within_timeout(
            order.order_id,
            "looking up an earlier order",
            self.find(ctx, order),
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(store = %ctx.store_id, target = %self.target_id, order_id = order.order_id, delivery_id = ctx.delivery_id))]
    async fn create_order(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Delivered, DeliveryError> {
        self.within_timeout(
            order.order_id,
            "creating the order",
            self.create(ctx, order),
        )
        .await
    }
}
