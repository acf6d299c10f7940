//! The WooCommerce [`OrderSink`].

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tracing::{info, instrument, warn};
use wamebo_core::{
    parse_decimal, Delivered, DeliveryContext, DeliveryError, Order, OrderSink, ReasonCode,
    TargetId,
};

use crate::api::{Api, Call, Purpose};
use crate::config::WooCommerceConfig;
use crate::customer;
use crate::error::ConfigError;
use crate::payload::{self, OrderOptions, RemoteOrder};
use crate::reconcile::{self, ReconcileOptions};
use crate::sku::SkuResolver;

/// Delivers orders to one WooCommerce shop.
#[derive(Debug)]
pub struct WooCommerceSink {
    target: TargetId,
    api: Api,
    skus: SkuResolver,
    order_options: OrderOptions,
    customer_lookup_pages: Option<u32>,
    reconcile_options: ReconcileOptions,
    request_timeout: Duration,
    total_mismatches: AtomicU64,
}

impl WooCommerceSink {
    /// Validates the configuration of target `target_id` and builds its
    /// HTTP client. Each error names the key at fault and the fix.
    pub fn new(target_id: TargetId, config: WooCommerceConfig) -> Result<Self, ConfigError> {
        let api_root = config.validate(&target_id)?;
        let api = Api::new(
            api_root,
            config.consumer_key,
            config.consumer_secret,
            config.connect_timeout,
            config.request_timeout,
        )
        .map_err(|error| {
            ConfigError::new(
                &target_id,
                "base_url",
                format!("cannot be used to build an HTTP client: {error}"),
            )
        })?;

        Ok(WooCommerceSink {
            api,
            skus: SkuResolver::new(
                config.sku_map,
                config.sku_cache_ttl,
                config.variation_scan_max_products,
            ),
            order_options: OrderOptions {
                status: config.status,
                set_paid: config.set_paid,
            },
            customer_lookup_pages: config
                .customer_lookup_by_phone
                .then_some(config.customer_lookup_max_pages),
            reconcile_options: ReconcileOptions {
                margin: config.reconcile_margin,
                page_size: config.reconcile_page_size,
                max_pages: config.reconcile_max_pages,
            },
            request_timeout: config.request_timeout,
            total_mismatches: AtomicU64::new(0),
            target: target_id,
        })
    }

    /// Returns the maximum duration of one call to
    /// [`OrderSink::find_existing`] or [`OrderSink::create_order`], every
    /// WooCommerce request of that call included.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Returns the maximum duration of one delivery attempt, which may call
    /// both [`OrderSink::find_existing`] and [`OrderSink::create_order`]. A
    /// dispatcher lease must be longer, or a second worker could post the
    /// same order while the first is still waiting for WooCommerce.
    pub fn max_attempt_duration(&self) -> Duration {
        self.request_timeout * 2
    }

    /// Returns how many created or adopted orders had a total in WooCommerce
    /// that differs from the upstream total since this sink was built.
    pub fn total_mismatches(&self) -> u64 {
        self.total_mismatches.load(Ordering::Relaxed)
    }

    /// Runs one sink call within `request_timeout`. `posted` is true once
    /// `POST /orders` has started, which decides `maybe_created` on a timeout.
    async fn within_timeout<T>(
        &self,
        order_id: u64,
        step: &str,
        posted: &AtomicBool,
        work: impl Future<Output = Result<T, DeliveryError>>,
    ) -> Result<T, DeliveryError> {
        match tokio::time::timeout(self.request_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::Retry {
                reason: ReasonCode::RemoteUnavailable,
                message: format!(
                    "target {}, order {order_id}: {step} timed out after `request_timeout` ({}): raise it if the shop is slow",
                    self.target,
                    humantime::format_duration(self.request_timeout)
                ),
                retry_after: None,
                maybe_created: posted.load(Ordering::SeqCst),
            }),
        }
    }

    async fn create(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
        posted: &AtomicBool,
    ) -> Result<Delivered, DeliveryError> {
        let mut products = Vec::with_capacity(order.lines.len());
        for line in &order.lines {
            let product = self
                .skus
                .resolve(&self.api, &self.target, order.order_id, &line.sku)
                .await?;
            products.push(product);
        }

        let customer_id = match self.customer_lookup_pages {
            Some(max_pages) => {
                customer::find_by_phone(
                    &self.api,
                    &self.target,
                    order.order_id,
                    &order.customer.phone,
                    max_pages,
                )
                .await?
            }
            None => None,
        };

        let body = payload::new_order(
            &ctx.store_id,
            order,
            &products,
            customer_id,
            self.order_options,
        );
        let call = Call {
            target: &self.target,
            order_id: order.order_id,
            purpose: Purpose::Create,
            request: "POST /orders",
        };
        // `dp` makes WooCommerce format the returned amounts with the
        // currency's minor units. Without it WooCommerce uses the shop's
        // price decimals (2 on a default shop), which would round KWD totals.
        let query = [("dp", order.currency.minor_units().to_string())];
        posted.store(true, Ordering::SeqCst);
        let created: RemoteOrder = self.api.post(&call, "orders", &query, &body).await?;

        let delivered = self.delivered(order, &created);
        info!(target_id = %self.target, order_id = order.order_id, woocommerce_order_id = created.id, "created WooCommerce order");
        Ok(delivered)
    }

    /// Records the WooCommerce order and compares its total with the
    /// upstream total. A difference (typically taxes the store added) is
    /// reported, never retried: the order exists.
    fn delivered(&self, order: &Order, remote: &RemoteOrder) -> Delivered {
        let expected = order.format_amount(order.total);
        let note = match remote.total.as_deref().map(parse_decimal) {
            Some(Ok(total)) if total == order.total => None,
            Some(Ok(total)) => {
                let actual = order.format_amount(total);
                self.total_mismatches.fetch_add(1, Ordering::Relaxed);
                warn!(
                    target_id = %self.target,
                    order_id = order.order_id,
                    woocommerce_order_id = remote.id,
                    woocommerce_total = %actual,
                    upstream_total = %expected,
                    currency = order.currency.code(),
                    "WooCommerce order total differs from the upstream total"
                );
                Some(format!(
                    "WooCommerce total {actual} {currency} differs from the upstream total {expected} {currency}, \
                     typically because the shop added taxes or shipping",
                    currency = order.currency.code()
                ))
            }
            Some(Err(_)) | None => {
                warn!(target_id = %self.target, order_id = order.order_id, woocommerce_order_id = remote.id, "WooCommerce returned no readable order total");
                Some(format!(
                    "WooCommerce returned no readable total to compare with the upstream total {expected} {}",
                    order.currency.code()
                ))
            }
        };
        Delivered {
            remote_id: Some(remote.id.to_string()),
            note,
        }
    }
}

#[async_trait]
impl OrderSink for WooCommerceSink {
    fn kind(&self) -> &'static str {
        "woocommerce"
    }

    #[instrument(skip_all, fields(store = %ctx.store_id, target = %ctx.target_id, order_id = order.order_id, delivery_id = ctx.delivery_id))]
    async fn find_existing(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Option<Delivered>, DeliveryError> {
        // The question stays open after a failed search: report it so.
        let open = AtomicBool::new(true);
        let search = reconcile::find_created(&self.api, ctx, order, self.reconcile_options);
        let found = self
            .within_timeout(
                order.order_id,
                "the search for an existing order",
                &open,
                search,
            )
            .await?;

        Ok(found.map(|remote| {
            info!(target_id = %self.target, order_id = order.order_id, woocommerce_order_id = remote.id, "adopted WooCommerce order created by an earlier attempt");
            self.delivered(order, &remote)
        }))
    }

    #[instrument(skip_all, fields(store = %ctx.store_id, target = %ctx.target_id, order_id = order.order_id, delivery_id = ctx.delivery_id))]
    async fn create_order(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Delivered, DeliveryError> {
        let posted = AtomicBool::new(false);
        let create = self.create(ctx, order, &posted);
        self.within_timeout(order.order_id, "creating the order", &posted, create)
            .await
    }
}
