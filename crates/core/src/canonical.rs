//! The canonical order JSON: the public format that the `file` target writes
//! and the ERP target posts. `docs/canonical-order.md` and
//! `docs/canonical-order.schema.json` document every field.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::StoreId;
use crate::order::Order;

/// The version of the canonical format; raised on any incompatible change.
pub const CANONICAL_SCHEMA_VERSION: u32 = 1;

/// An order in the canonical format, with amounts as decimal strings carrying
/// the currency's minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CanonicalOrder {
    /// Always [`CANONICAL_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Always `"wamebo"`.
    pub source: &'static str,
    /// The bridge's store id.
    pub store_id: String,
    /// Wamebo's order id.
    pub order_id: u64,
    /// Meta's order id.
    pub meta_order_id: String,
    /// When the customer placed the order, from the event's timestamp if it has one.
    pub placed_at: Option<DateTime<Utc>>,
    /// ISO 4217 code.
    pub currency: String,
    /// The total the customer paid.
    pub total_amount: String,
    /// The buyer.
    pub customer: CanonicalCustomer,
    /// The lines, in the order sent.
    pub items: Vec<CanonicalItem>,
    /// Total minus the sum of line totals, present only when the store
    /// accepts mismatched totals as an adjustment.
    pub adjustment: Option<String>,
}

/// The buyer in the canonical format.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct CanonicalCustomer {
    /// The name as sent, trimmed.
    pub name: String,
    /// The name up to its first whitespace.
    pub first_name: String,
    /// The rest of the name, or empty.
    pub last_name: String,
    /// E.164, with the leading `+`.
    pub phone: String,
}

impl std::fmt::Debug for CanonicalCustomer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CanonicalCustomer").finish_non_exhaustive()
    }
}

/// One line in the canonical format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CanonicalItem {
    /// The SKU as sent.
    pub sku: String,
    /// Positive number of units.
    pub quantity: u32,
    /// Price of one unit.
    pub unit_price: String,
    /// `quantity × unit_price`.
    pub line_total: String,
}

impl CanonicalOrder {
    /// Converts a validated order into the canonical format.
    pub fn from_order(store_id: &StoreId, order: &Order) -> Self {
        CanonicalOrder {
            schema_version: CANONICAL_SCHEMA_VERSION,
            source: "wamebo",
            store_id: store_id.to_string(),
            order_id: order.order_id,
            meta_order_id: order.meta_order_id.clone(),
            placed_at: order.placed_at,
            currency: order.currency.code().to_owned(),
            total_amount: order.format_amount(order.total),
            customer: CanonicalCustomer {
                name: order.customer.name.full.clone(),
                first_name: order.customer.name.first.clone(),
                last_name: order.customer.name.last.clone(),
                phone: order.customer.phone.as_e164().to_owned(),
            },
            items: order
                .lines
                .iter()
                .map(|line| CanonicalItem {
                    sku: line.sku.clone(),
                    quantity: line.quantity,
                    unit_price: order.format_amount(line.unit_price),
                    line_total: order.format_amount(line.line_total),
                })
                .collect(),
            adjustment: order.adjustment.map(|amount| order.format_amount(amount)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{classify, ClassifyPolicy};

    #[test]
    fn documented_order_has_string_amounts() {
        let body = r#"{"event":"order.created","timestamp":"2026-05-27T14:30:22Z","data":{"order_id":5542,"meta_order_id":"wamid.X","customer":{"name":"Michael Smith","phone_number":"15551234567"},"financials":{"total_amount":250.00,"currency":"USD"},"items":[{"sku":"PROD-A1","quantity":2,"unit_price":100.00},{"sku":"PROD-B2","quantity":1,"unit_price":50.00}]}}"#;
        let now = "2026-05-27T14:31:00Z".parse().unwrap();
        let classified = classify(body.as_bytes(), &ClassifyPolicy::default(), now);
        let order = classified.order().unwrap();

        let canonical = CanonicalOrder::from_order(&StoreId::new("demo").unwrap(), order);
        let json = serde_json::to_value(&canonical).unwrap();

        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["total_amount"], "250.00");
        assert_eq!(json["items"][0]["line_total"], "200.00");
        assert_eq!(json["items"][0]["unit_price"], "100.00");
        assert_eq!(json["items"][1]["line_total"], "50.00");
        assert_eq!(json["customer"]["phone"], "+15551234567");
        assert_eq!(json["customer"]["first_name"], "Michael");
        assert_eq!(json["placed_at"], "2026-05-27T14:30:22Z");
        assert_eq!(json["adjustment"], serde_json::Value::Null);
    }
}
