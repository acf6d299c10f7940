//! The JSON that `POST /orders` sends and the parts of WooCommerce's order
//! that the bridge reads back.
//!
//! Field names follow the order properties of the REST API v3
//! (<https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties>).

use serde::{Deserialize, Serialize};
use wamebo_core::{Order, StoreId};

use crate::config::OrderStatus;
use crate::sku::ResolvedProduct;

/// Order meta key holding Wamebo's `order_id`, which reconciliation matches.
pub const META_ORDER_ID: &str = "wamebo_order_id";
/// Order meta key holding Meta's order id (`wamid.…`).
pub const META_META_ORDER_ID: &str = "wamebo_meta_order_id";
/// Order meta key holding the bridge's store id, so that two stores routed
/// to one shop never adopt each other's orders.
pub const META_STORE_ID: &str = "wamebo_store_id";

/// The fee line that carries an accepted difference between the line
/// totals and the order total.
const ADJUSTMENT_FEE_NAME: &str = "Wamebo total adjustment";

/// The body of `POST /orders`.
#[derive(Debug, Serialize)]
pub(crate) struct NewOrder {
    status: &'static str,
    set_paid: bool,
    currency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_id: Option<u64>,
    billing: Billing,
    line_items: Vec<NewLineItem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fee_lines: Vec<NewFeeLine>,
    meta_data: Vec<Meta>,
    customer_note: String,
}

/// The buyer as WooCommerce bills them. Wamebo sends no e-mail address, and
/// none is invented.
#[derive(Serialize)]
struct Billing {
    first_name: String,
    last_name: String,
    phone: String,
}

impl std::fmt::Debug for Billing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Billing(<redacted>)")
    }
}

/// One line. `subtotal` and `total` are both the line total the customer
/// paid, so WooCommerce keeps that price instead of the catalogue price.
#[derive(Debug, Serialize)]
struct NewLineItem {
    product_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    variation_id: Option<u64>,
    quantity: u32,
    subtotal: String,
    total: String,
}

#[derive(Debug, Serialize)]
struct NewFeeLine {
    name: &'static str,
    total: String,
    tax_status: &'static str,
}

/// A meta data entry as WooCommerce reads and writes it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub key: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

/// The fields of an order that the bridge reads back, from `POST /orders`
/// or `GET /orders`.
#[derive(Debug, Deserialize)]
pub(crate) struct RemoteOrder {
    pub id: u64,
    #[serde(default)]
    pub total: Option<String>,
    #[serde(default)]
    pub meta_data: Vec<Meta>,
}

impl RemoteOrder {
    /// Tells whether this order carries the meta data that the bridge wrote
    /// for this store and `order_id`.
    pub(crate) fn was_created_for(&self, store: &StoreId, order_id: u64) -> bool {
        let order_id = order_id.to_string();
        self.meta_equals(META_ORDER_ID, &order_id)
            && self.meta_equals(META_STORE_ID, store.as_str())
    }

    fn meta_equals(&self, key: &str, expected: &str) -> bool {
        self.meta_data.iter().any(|meta| {
            meta.key == key
                && match &meta.value {
                    serde_json::Value::String(text) => text == expected,
                    serde_json::Value::Number(number) => number.to_string() == expected,
                    _ => false,
                }
        })
    }
}

/// The choices of a target that shape every order it creates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderOptions {
    pub status: OrderStatus,
    pub set_paid: bool,
}

/// Builds the `POST /orders` body. `products` contains the resolved product of
/// each line, in the order's line order.
pub(crate) fn new_order(
    store: &StoreId,
    order: &Order,
    products: &[ResolvedProduct],
    customer_id: Option<u64>,
    options: OrderOptions,
) -> NewOrder {
    let line_items = order
        .lines
        .iter()
        .zip(products)
        .map(|(line, product)| {
            let amount = order.format_amount(line.line_total);
            NewLineItem {
                product_id: product.product_id,
                variation_id: product.variation_id,
                quantity: line.quantity,
                subtotal: amount.clone(),
                total: amount,
            }
        })
        .collect();

    let fee_lines = order
        .adjustment
        .map(|adjustment| NewFeeLine {
            name: ADJUSTMENT_FEE_NAME,
            total: order.format_amount(adjustment),
            tax_status: "none",
        })
        .into_iter()
        .collect();

    let meta_data = vec![
        Meta {
            key: META_ORDER_ID.to_owned(),
            value: order.order_id.to_string().into(),
        },
        Meta {
            key: META_META_ORDER_ID.to_owned(),
            value: order.meta_order_id.clone().into(),
        },
        Meta {
            key: META_STORE_ID.to_owned(),
            value: store.as_str().into(),
        },
    ];

    NewOrder {
        status: options.status.as_str(),
        set_paid: options.set_paid,
        currency: order.currency.code(),
        customer_id,
        billing: Billing {
            first_name: order.customer.name.first.clone(),
            last_name: order.customer.name.last.clone(),
            phone: order.customer.phone.as_e164().to_owned(),
        },
        line_items,
        fee_lines,
        meta_data,
        customer_note: format!("WhatsApp order {} received through Wamebo", order.order_id),
    }
}
