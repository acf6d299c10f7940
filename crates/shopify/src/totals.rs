//! Comparing the total Shopify computed with the total the customer paid.
//!
//! Shopify may add taxes or shipping to an order it creates, so its total
//! can differ from Wamebo's. The order stays created either way: the
//! difference is reported for the operator, never treated as a failure.

use wamebo_core::{parse_decimal, Currency, Order};

use crate::operations::OrderNode;

/// The result of comparing Shopify's total with the order's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TotalCheck {
    /// Same amount in the same currency.
    Equal,
    /// A different amount or currency; the text describes both totals.
    Differs { shopify: String, wamebo: String },
    /// Shopify returned no readable total.
    Unknown,
}

/// Compares the created order's total with the Wamebo total. Uses the
/// presentment amount when `presentment` is set and Shopify returned one.
pub(crate) fn compare_totals(node: &OrderNode, order: &Order, presentment: bool) -> TotalCheck {
    let Some(bag) = &node.total_price_set else {
        return TotalCheck::Unknown;
    };
    let money = if presentment {
        bag.presentment_money.as_ref().unwrap_or(&bag.shop_money)
    } else {
        &bag.shop_money
    };
    let Ok(amount) = parse_decimal(&money.amount) else {
        return TotalCheck::Unknown;
    };

    let wamebo = format!("{} {}", order.format_amount(order.total), order.currency);
    if money.currency_code == order.currency.code() && amount == order.total {
        return TotalCheck::Equal;
    }
    let shopify = match Currency::from_code(&money.currency_code) {
        Ok(currency) if currency.fits(amount) => {
            format!("{} {}", currency.format(amount), currency)
        }
        _ => format!("{} {}", amount, money.currency_code),
    };
    TotalCheck::Differs { shopify, wamebo }
}
