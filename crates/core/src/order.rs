//! The validated domain order that every sink receives.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::money::Currency;
use crate::phone::Phone;

/// What to do when the line totals do not add up to the order total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TotalMismatchPolicy {
    /// Quarantine the order as `total_mismatch`.
    #[default]
    Reject,
    /// Accept it and carry the difference as an adjustment line.
    Adjust,
}

/// A customer's name, trimmed and split at the first run of whitespace.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName {
    /// The whole name as sent, trimmed.
    pub full: String,
    /// Everything before the first run of whitespace.
    pub first: String,
    /// Everything after it, or empty for a single-word name.
    pub last: String,
}

impl PersonName {
    /// Trims the name and splits it into first and last name.
    pub fn parse(text: &str) -> Self {
        let full = text.trim().to_owned();
        let (first, last) = match full.split_once(char::is_whitespace) {
            Some((first, rest)) => (first.to_owned(), rest.trim_start().to_owned()),
            None => (full.clone(), String::new()),
        };
        PersonName { full, first, last }
    }
}

impl std::fmt::Debug for PersonName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonName(<redacted>)")
    }
}

/// The buyer, as Wamebo reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// The WhatsApp profile name.
    pub name: PersonName,
    /// The WhatsApp number, in E.164.
    pub phone: Phone,
}

/// One order line with its exact total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    /// The merchant's SKU, as in the synced catalogue.
    pub sku: String,
    /// A positive number of units.
    pub quantity: u32,
    /// The price of one unit the customer paid.
    pub unit_price: Decimal,
    /// `quantity × unit_price`, exact.
    pub line_total: Decimal,
}

/// A validated `order.created`: amounts exact and within the currency's minor
/// units, quantities positive, totals consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Wamebo's order id; the key of exactly-once delivery.
    pub order_id: u64,
    /// Meta's order id (`wamid.…`).
    pub meta_order_id: String,
    /// When the customer placed the order, from the event's timestamp.
    pub placed_at: Option<DateTime<Utc>>,
    /// Who ordered.
    pub customer: Customer,
    /// The currency of every amount in the order.
    pub currency: Currency,
    /// The total the customer paid.
    pub total: Decimal,
    /// The order lines, in the order sent.
    pub lines: Vec<LineItem>,
    /// `total` minus the sum of line totals, when the store accepts a
    /// mismatch as an adjustment line; `None` when they agree.
    pub adjustment: Option<Decimal>,
}

impl Order {
    /// Formats an amount of this order with its currency's minor units.
    pub fn format_amount(&self, amount: Decimal) -> String {
        self.currency.format(amount)
    }

    /// Returns the sum of the line totals.
    pub fn lines_total(&self) -> Decimal {
        self.lines.iter().map(|line| line.line_total).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_first_whitespace_run() {
        let cases = [
            ("Michael Smith", "Michael", "Smith"),
            ("  Jane   Doe  ", "Jane", "Doe"),
            ("Cher", "Cher", ""),
            ("Ana Maria de la Cruz", "Ana", "Maria de la Cruz"),
            ("Li\tWei", "Li", "Wei"),
            ("", "", ""),
        ];
        for (text, first, last) in cases {
            let name = PersonName::parse(text);
            assert_eq!(name.first, first, "first name of `{text}`");
            assert_eq!(name.last, last, "last name of `{text}`");
        }
    }

    #[test]
    fn name_debug_is_redacted() {
        let name = PersonName::parse("Michael Smith");
        assert!(!format!("{name:?}").contains("Michael"));
    }
}
