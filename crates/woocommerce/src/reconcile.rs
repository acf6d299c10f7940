//! Finding an order that an earlier attempt created.
//!
//! WooCommerce has no idempotency key and `GET /orders` cannot filter by
//! meta data, so the orders created since the event arrived are listed
//! newest first, page by page, and matched on the meta data the bridge wrote.

use std::time::Duration;

use chrono::{DateTime, Utc};
use wamebo_core::{DeliveryContext, DeliveryError, Order, ReasonCode};

use crate::api::{Api, Call, Purpose};
use crate::payload::{RemoteOrder, META_ORDER_ID};

/// How far back and how deep the search goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReconcileOptions {
    pub margin: Duration,
    pub page_size: u32,
    pub max_pages: u32,
}

/// Returns the order created for `ctx.store_id` and `order.order_id`, if
/// one exists among the orders created since `ctx.received_at` minus the
/// margin.
///
/// `after` is sent with `dates_are_gmt=true` so that WooCommerce compares it
/// with the creation time in UTC; without that parameter (before WooCommerce
/// 5.8) it compares with the site's local time, which the margin must then
/// cover. A search that reaches `max_pages` without reaching the last page
/// cannot tell whether the order exists, and fails rather than let a second
/// order be created.
pub(crate) async fn find_created(
    api: &Api,
    ctx: &DeliveryContext,
    order: &Order,
    options: ReconcileOptions,
) -> Result<Option<RemoteOrder>, DeliveryError> {
    let call = Call {
        target: &ctx.target_id,
        order_id: order.order_id,
        purpose: Purpose::Reconcile,
        request: "GET /orders",
    };
    let after = search_start(ctx.received_at, options.margin);

    for page_number in 1..=options.max_pages {
        let query = [
            ("after", after.clone()),
            ("dates_are_gmt", String::from("true")),
            ("orderby", String::from("date")),
            ("order", String::from("desc")),
            ("per_page", options.page_size.to_string()),
            ("page", page_number.to_string()),
            ("dp", order.currency.minor_units().to_string()),
        ];
        let page = api.get_page::<RemoteOrder>(&call, "orders", &query).await?;
        let fetched = page.items.len();
        if let Some(found) = page
            .items
            .into_iter()
            .find(|candidate| candidate.was_created_for(&ctx.store_id, order.order_id))
        {
            return Ok(Some(found));
        }
        let last_page = page
            .total_pages
            .map_or(fetched < options.page_size as usize, |total| {
                page_number >= total
            });
        if last_page {
            return Ok(None);
        }
    }

    Err(DeliveryError::permanent(
        ReasonCode::RetriesExhausted,
        format!(
            "target {}, order {}: searched {} pages of {} orders created since {after} UTC without reaching the last \
             page, so an earlier attempt may have created the order: look for meta `{META_ORDER_ID}` = {} in the shop \
             before replaying, or raise `reconcile_max_pages`",
            ctx.target_id, order.order_id, options.max_pages, options.page_size, order.order_id
        ),
    ))
}

/// Formats the start of the search as WooCommerce's ISO 8601 date-time
/// without an offset, which `dates_are_gmt=true` reads as UTC.
fn search_start(received_at: DateTime<Utc>, margin: Duration) -> String {
    let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
    let start = received_at
        .checked_sub_signed(margin)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    start.format("%Y-%m-%dT%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_starts_margin_before_receipt() {
        let received_at = DateTime::parse_from_rfc3339("2026-05-27T14:30:22.5Z")
            .unwrap()
            .with_timezone(&Utc);

        let start = search_start(received_at, Duration::from_secs(900));

        assert_eq!(start, "2026-05-27T14:15:22");
    }
}
