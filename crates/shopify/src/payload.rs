//! The `orderCreate` variables built from a validated order.
//!
//! Amounts are decimal strings with the currency's minor units (`"100.00"`,
//! `"2500"`): Shopify's `Decimal` scalar is a string, so no amount passes
//! through a float on the way
//! (<https://shopify.dev/docs/api/admin-graphql/latest/scalars/Decimal>).

use serde_json::{json, Map, Value};
use wamebo_core::{Decimal, Order, StoreId};

use crate::config::{CurrencyMode, Settings};

/// The discount code that carries a negative adjustment.
pub(crate) const ADJUSTMENT_DISCOUNT_CODE: &str = "WAMEBO-ADJUSTMENT";

/// The title of the custom line that carries a positive adjustment.
pub(crate) const ADJUSTMENT_LINE_TITLE: &str = "Wamebo adjustment";

/// The Shopify customer the order belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CustomerChoice {
    /// The existing customer with this id, found by phone.
    Existing(String),
    /// A new customer created from the order's phone and name.
    New,
    /// No customer: used only when Shopify rejected both of the others.
    Omitted,
}

/// Returns the text that identifies one Wamebo order of one store on the
/// shop: the custom-id metafield's value and the per-order tag's suffix.
pub(crate) fn order_key(store: &StoreId, order_id: u64) -> String {
    format!("{store}-{order_id}")
}

/// Returns the tag every order gets, for lookups on shops without the
/// custom-id definition.
pub(crate) fn order_tag(store: &StoreId, order_id: u64) -> String {
    format!("wamebo-{}", order_key(store, order_id))
}

/// Builds the `order` and `options` variables of `orderCreate`.
///
/// `variant_ids` contains one variant id per order line, in order.
/// `with_custom_id` adds the custom-id metafield. It must be false when the
/// shop has no `id` definition under the configured namespace and key.
pub(crate) fn order_create_variables(
    settings: &Settings,
    store: &StoreId,
    order: &Order,
    variant_ids: &[String],
    customer: &CustomerChoice,
    with_custom_id: bool,
) -> Value {
    let presentment = settings.currency_mode == CurrencyMode::Presentment;
    let money = |amount: Decimal| money_bag(order, amount, presentment);

    let mut line_items: Vec<Value> = order
        .lines
        .iter()
        .zip(variant_ids)
        .map(|(line, variant_id)| {
            json!({
                "variantId": variant_id,
                "quantity": line.quantity,
                "priceSet": money(line.unit_price),
            })
        })
        .collect();

    let mut input = Map::new();
    input.insert("currency".into(), order.currency.code().into());
    if presentment {
        input.insert("presentmentCurrency".into(), order.currency.code().into());
    }

    let mut discount = None;
    match order.adjustment {
        Some(amount) if amount > Decimal::ZERO => line_items.push(json!({
            "title": ADJUSTMENT_LINE_TITLE,
            "quantity": 1,
            "priceSet": money(amount),
            "requiresShipping": false,
            "taxable": false,
        })),
        Some(amount) if amount < Decimal::ZERO => {
            discount = Some(json!({
                "itemFixedDiscountCode": {
                    "code": ADJUSTMENT_DISCOUNT_CODE,
                    "amountSet": money(-amount),
                }
            }));
        }
        _ => {}
    }
    input.insert("lineItems".into(), line_items.into());
    if let Some(discount) = discount {
        input.insert("discountCode".into(), discount);
    }

    input.insert("phone".into(), order.customer.phone.as_e164().into());
    if let Some(customer) = customer_input(order, customer) {
        input.insert("customer".into(), customer);
    }
    input.insert(
        "financialStatus".into(),
        settings.financial_status.as_graphql().into(),
    );
    input.insert("sourceName".into(), settings.source_name.clone().into());
    input.insert(
        "sourceIdentifier".into(),
        order_key(store, order.order_id).into(),
    );

    let mut tags = settings.tags.clone();
    tags.push(order_tag(store, order.order_id));
    input.insert("tags".into(), tags.into());
    input.insert(
        "note".into(),
        format!(
            "WhatsApp order {} from Wamebo (Meta order {})",
            order.order_id, order.meta_order_id
        )
        .into(),
    );
    if with_custom_id {
        input.insert(
            "metafields".into(),
            json!([{
                "namespace": settings.metafield_namespace,
                "key": settings.metafield_key,
                "type": "id",
                "value": order_key(store, order.order_id),
            }]),
        );
    }

    json!({
        "order": input,
        "options": {
            "inventoryBehaviour": settings.inventory_behaviour.as_graphql(),
            "sendReceipt": settings.send_receipt,
        },
    })
}

/// Writes `amount` as a `MoneyBagInput`. In presentment mode the order is
/// created in its own currency, so both amounts are that currency's.
///
/// NOTE: presentment mode follows the `orderCreate` reference only. How a
/// live shop converts such an order into its own currency for reports has
/// not been checked.
fn money_bag(order: &Order, amount: Decimal, presentment: bool) -> Value {
    let money = json!({
        "amount": order.format_amount(amount),
        "currencyCode": order.currency.code(),
    });
    if presentment {
        json!({ "shopMoney": money, "presentmentMoney": money })
    } else {
        json!({ "shopMoney": money })
    }
}

/// Builds `OrderCreateCustomerInput`. A new customer is created through
/// `toUpsert` with the phone and name only: with no id or email there is
/// nothing for Shopify to match, so it creates one
/// (<https://shopify.dev/docs/api/admin-graphql/latest/input-objects/OrderCreateUpsertCustomerAttributesInput>).
fn customer_input(order: &Order, customer: &CustomerChoice) -> Option<Value> {
    match customer {
        CustomerChoice::Existing(id) => Some(json!({ "toAssociate": { "id": id } })),
        CustomerChoice::New => {
            let name = &order.customer.name;
            let mut upsert = Map::new();
            upsert.insert("phone".into(), order.customer.phone.as_e164().into());
            if !name.first.is_empty() {
                upsert.insert("firstName".into(), name.first.clone().into());
            }
            if !name.last.is_empty() {
                upsert.insert("lastName".into(), name.last.clone().into());
            }
            Some(json!({ "toUpsert": upsert }))
        }
        CustomerChoice::Omitted => None,
    }
}
