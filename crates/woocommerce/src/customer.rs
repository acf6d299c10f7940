//! Finding the existing WooCommerce customer with the buyer's phone number.
//!
//! `GET /customers` cannot filter by phone: its `search` covers WordPress
//! user fields, not the billing phone (a missing feature discussed in
//! <https://github.com/woocommerce/woocommerce/issues/36810>). So the
//! customers are listed page by page and compared here.

use serde::Deserialize;
use tracing::debug;
use wamebo_core::{DeliveryError, Phone, TargetId};

use crate::api::{Api, Call, Purpose};
use crate::config::MAX_PER_PAGE;

#[derive(Deserialize)]
struct CustomerRow {
    id: u64,
    #[serde(default)]
    billing: CustomerBilling,
}

#[derive(Default, Deserialize)]
struct CustomerBilling {
    #[serde(default)]
    phone: String,
}

/// Returns the id of the one customer whose billing phone is `phone`, or
/// `None` when no customer or several customers have it, so that an order is
/// never attached to a guessed account.
pub(crate) async fn find_by_phone(
    api: &Api,
    target: &TargetId,
    order_id: u64,
    phone: &Phone,
    max_pages: u32,
) -> Result<Option<u64>, DeliveryError> {
    let wanted = phone.as_e164().trim_start_matches('+');
    let call = Call {
        target,
        order_id,
        purpose: Purpose::Lookup,
        request: "GET /customers",
    };

    let mut matches = Vec::new();
    for page_number in 1..=max_pages {
        let query = [
            ("per_page", MAX_PER_PAGE.to_string()),
            ("page", page_number.to_string()),
            ("orderby", String::from("id")),
            ("order", String::from("asc")),
        ];
        let page = api
            .get_page::<CustomerRow>(&call, "customers", &query)
            .await?;
        let fetched = page.items.len();
        matches.extend(
            page.items
                .iter()
                .filter(|customer| {
                    international_digits(&customer.billing.phone).as_deref() == Some(wanted)
                })
                .map(|customer| customer.id),
        );
        let last_page = page
            .total_pages
            .map_or(fetched < MAX_PER_PAGE as usize, |total| {
                page_number >= total
            });
        if last_page {
            break;
        }
    }

    debug!(target_id = %target, order_id, matches = matches.len(), "searched customers by phone");
    Ok(match matches.as_slice() {
        [id] => Some(*id),
        _ => None,
    })
}

/// Reduces a stored phone number to its digits when it is written in
/// international form (`+1 555-123-4567`, `0015551234567`). A number without
/// a country code cannot be compared safely and yields `None`.
fn international_digits(stored: &str) -> Option<String> {
    let trimmed = stored.trim();
    let (international, rest) = if let Some(rest) = trimmed.strip_prefix('+') {
        (true, rest)
    } else if let Some(rest) = trimmed.strip_prefix("00") {
        (true, rest)
    } else {
        (false, trimmed)
    };
    if !international
        || !rest
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_phones_are_compared_in_international_form() {
        let cases = [
            ("+15551234567", Some("15551234567")),
            ("+1 (555) 123-4567", Some("15551234567")),
            ("0015551234567", Some("15551234567")),
            ("(555) 123-4567", None),
            ("5551234567", None),
            ("+1 555 CALL NOW", None),
            ("", None),
            ("+", None),
        ];
        for (stored, expected) in cases {
            assert_eq!(
                international_digits(stored).as_deref(),
                expected,
                "{stored}"
            );
        }
    }
}
