//! Wamebo's event envelope and the classification of a verified body into an
//! accepted event or a quarantined one.
//!
//! The walk over the JSON is written by hand rather than derived, so each
//! problem maps to its own stable reason code and names the field at fault.
//! Details never contain personal data or amounts from the body, only field
//! paths and rules.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::money::{parse_decimal, Currency, DecimalError};
use crate::order::{Customer, LineItem, Order, PersonName, TotalMismatchPolicy};
use crate::phone::Phone;
use crate::reason::ReasonCode;

/// The event type of a new order.
pub const ORDER_CREATED: &str = "order.created";
/// The event type of an incoming WhatsApp message.
pub const MESSAGE_RECEIVED: &str = "message.received";
/// The event type recorded for a body whose type could not be read.
pub const UNKNOWN_EVENT: &str = "unknown";

/// Largest quantity accepted on one line.
pub const MAX_QUANTITY: u64 = 1_000_000;

/// Rules that depend on the store's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassifyPolicy {
    /// Events older than this are quarantined as `stale_event`; `None`
    /// disables the check (as a replay does).
    pub max_event_age: Option<Duration>,
    /// What to do when line totals and the order total disagree.
    pub total_mismatch: TotalMismatchPolicy,
}

impl Default for ClassifyPolicy {
    fn default() -> Self {
        ClassifyPolicy {
            max_event_age: Some(Duration::from_secs(72 * 3600)),
            total_mismatch: TotalMismatchPolicy::Reject,
        }
    }
}

/// A verified body sorted into what the bridge does with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// `order.created`, `message.received`, another type as sent, or
    /// `unknown` when the body has no readable type.
    pub event_type: String,
    /// The deduplication key: `order:{order_id}`, `message:{message_id}`, or
    /// `sha256:{hex}` of the body otherwise.
    pub key: String,
    /// Wamebo's order id, when the body carries a readable one.
    pub order_id: Option<u64>,
    /// The event's timestamp, when readable.
    pub occurred_at: Option<DateTime<Utc>>,
    /// Accepted with its payload, or quarantined with a reason.
    pub verdict: Verdict,
}

/// The outcome of classification.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The event is valid and goes to the targets that subscribe to it.
    Accepted(Payload),
    /// The event is authentic but unusable until an operator replays it.
    Quarantined {
        /// The stable reason code.
        reason: ReasonCode,
        /// Which field broke which rule; no personal data.
        detail: String,
    },
}

/// The typed content of an accepted event.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A validated order.
    Order(Box<Order>),
    /// An incoming message, forwarded unchanged to subscribed targets.
    Message {
        /// Wamebo's message id, as text.
        message_id: String,
    },
    /// An event type this version does not interpret, forwarded unchanged.
    Other,
}

impl Classified {
    /// Returns the validated order, if this is an accepted `order.created`.
    pub fn order(&self) -> Option<&Order> {
        match &self.verdict {
            Verdict::Accepted(Payload::Order(order)) => Some(order),
            _ => None,
        }
    }
}

/// Returns the SHA-256 of a body, as stored beside it.
pub fn body_sha256(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// Strips a UTF-8 byte order mark, which some senders put before JSON.
pub fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

struct Invalid {
    reason: ReasonCode,
    detail: String,
}

fn invalid(reason: ReasonCode, detail: impl Into<String>) -> Invalid {
    Invalid {
        reason,
        detail: detail.into(),
    }
}

/// Classifies a body whose signature has already been verified.
pub fn classify(body: &[u8], policy: &ClassifyPolicy, now: DateTime<Utc>) -> Classified {
    let hash_key = || format!("sha256:{}", hex::encode(body_sha256(body)));

    let root: Value = match serde_json::from_slice(strip_bom(body)) {
        Ok(value) => value,
        Err(error) => {
            return quarantined(
                UNKNOWN_EVENT.to_owned(),
                hash_key(),
                None,
                None,
                invalid(
                    ReasonCode::InvalidJson,
                    format!("body is not valid JSON: {error}"),
                ),
            )
        }
    };
    let Some(envelope) = root.as_object() else {
        return quarantined(
            UNKNOWN_EVENT.to_owned(),
            hash_key(),
            None,
            None,
            invalid(ReasonCode::InvalidJson, "body is not a JSON object"),
        );
    };
    let Some(event_type) = envelope.get("event").and_then(Value::as_str) else {
        return quarantined(
            UNKNOWN_EVENT.to_owned(),
            hash_key(),
            None,
            None,
            invalid(
                ReasonCode::InvalidPayload,
                "`event` is missing or not a string",
            ),
        );
    };
    let event_type = event_type.to_owned();
    let data = envelope.get("data").and_then(Value::as_object);

    // The key comes first, so an invalid order is still deduplicated by its id.
    let (key, order_id) = match event_type.as_str() {
        ORDER_CREATED => match data.and_then(|d| d.get("order_id")).and_then(Value::as_u64) {
            Some(id) => (format!("order:{id}"), Some(id)),
            None => (hash_key(), None),
        },
        MESSAGE_RECEIVED => match data.and_then(|d| d.get("message_id")).and_then(id_text) {
            Some(id) => (format!("message:{id}"), None),
            None => (hash_key(), None),
        },
        _ => (hash_key(), None),
    };

    let occurred_at = match read_timestamp(envelope) {
        Ok(at) => at,
        Err(problem) => return quarantined(event_type, key, order_id, None, problem),
    };
    if let (Some(max_age), Some(at)) = (policy.max_event_age, occurred_at) {
        let age = now.signed_duration_since(at);
        if age.to_std().is_ok_and(|age| age > max_age) {
            let detail = format!(
                "event timestamp is {}s old, more than the maximum age of {}s",
                age.num_seconds(),
                max_age.as_secs()
            );
            return quarantined(
                event_type,
                key,
                order_id,
                occurred_at,
                invalid(ReasonCode::StaleEvent, detail),
            );
        }
    }

    let payload = match event_type.as_str() {
        ORDER_CREATED => {
            parse_order(data, occurred_at, policy).map(|order| Payload::Order(Box::new(order)))
        }
        MESSAGE_RECEIVED => parse_message(data),
        _ => Ok(Payload::Other),
    };
    match payload {
        Ok(payload) => Classified {
            event_type,
            key,
            order_id,
            occurred_at,
            verdict: Verdict::Accepted(payload),
        },
        Err(problem) => quarantined(event_type, key, order_id, occurred_at, problem),
    }
}

fn quarantined(
    event_type: String,
    key: String,
    order_id: Option<u64>,
    occurred_at: Option<DateTime<Utc>>,
    problem: Invalid,
) -> Classified {
    Classified {
        event_type,
        key,
        order_id,
        occurred_at,
        verdict: Verdict::Quarantined {
            reason: problem.reason,
            detail: problem.detail,
        },
    }
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(number) if number.as_u64().is_some() => Some(number.to_string()),
        Value::String(text)
            if !text.is_empty()
                && text.len() <= 128
                && text.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Some(text.clone())
        }
        _ => None,
    }
}

fn read_timestamp(envelope: &Map<String, Value>) -> Result<Option<DateTime<Utc>>, Invalid> {
    match envelope.get("timestamp") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map(|at| Some(at.with_timezone(&Utc)))
            .map_err(|_| {
                invalid(
                    ReasonCode::InvalidPayload,
                    "`timestamp` is not an RFC 3339 date-time",
                )
            }),
        Some(_) => Err(invalid(
            ReasonCode::InvalidPayload,
            "`timestamp` is not a string",
        )),
    }
}

fn parse_message(data: Option<&Map<String, Value>>) -> Result<Payload, Invalid> {
    let data = data.ok_or_else(|| {
        invalid(
            ReasonCode::InvalidPayload,
            "`data` is missing or not an object",
        )
    })?;
    let message_id = data.get("message_id").and_then(id_text).ok_or_else(|| {
        invalid(
            ReasonCode::InvalidPayload,
            "`data.message_id` is missing or not an id",
        )
    })?;
    Ok(Payload::Message { message_id })
}

fn field<'a>(object: &'a Map<String, Value>, path: &str, name: &str) -> Result<&'a Value, Invalid> {
    object
        .get(name)
        .filter(|value| !value.is_null())
        .ok_or_else(|| {
            invalid(
                ReasonCode::InvalidPayload,
                format!("`{path}.{name}` is missing"),
            )
        })
}

fn object<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<&'a Map<String, Value>, Invalid> {
    field(object, path, name)?.as_object().ok_or_else(|| {
        invalid(
            ReasonCode::InvalidPayload,
            format!("`{path}.{name}` is not an object"),
        )
    })
}

fn string<'a>(object: &'a Map<String, Value>, path: &str, name: &str) -> Result<&'a str, Invalid> {
    field(object, path, name)?.as_str().ok_or_else(|| {
        invalid(
            ReasonCode::InvalidPayload,
            format!("`{path}.{name}` is not a string"),
        )
    })
}

fn amount(
    object: &Map<String, Value>,
    path: &str,
    name: &str,
    currency: Currency,
) -> Result<Decimal, Invalid> {
    let text = match field(object, path, name)? {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        _ => {
            return Err(invalid(
                ReasonCode::InvalidPayload,
                format!("`{path}.{name}` is not a number"),
            ))
        }
    };
    let value = parse_decimal(&text).map_err(|error| match error {
        DecimalError::Syntax(_) => invalid(
            ReasonCode::InvalidPayload,
            format!("`{path}.{name}` is not a decimal number"),
        ),
        DecimalError::TooPrecise(_) => invalid(
            ReasonCode::AmountPrecision,
            format!("`{path}.{name}` has more digits than can be represented exactly"),
        ),
    })?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(invalid(
            ReasonCode::InvalidPayload,
            format!("`{path}.{name}` is negative"),
        ));
    }
    if !currency.fits(value) {
        return Err(invalid(
            ReasonCode::AmountPrecision,
            format!(
                "`{path}.{name}` has more than the {} decimals that {} allows",
                currency.minor_units(),
                currency.code()
            ),
        ));
    }
    Ok(value)
}

fn quantity(item: &Map<String, Value>, path: &str) -> Result<u32, Invalid> {
    let value = field(item, path, "quantity")?;
    let Value::Number(number) = value else {
        return Err(invalid(
            ReasonCode::InvalidQuantity,
            format!("`{path}.quantity` is not a number"),
        ));
    };
    match number.as_u64() {
        Some(count) if (1..=MAX_QUANTITY).contains(&count) => Ok(count as u32),
        _ => Err(invalid(
            ReasonCode::InvalidQuantity,
            format!("`{path}.quantity` must be a whole number from 1 to {MAX_QUANTITY}"),
        )),
    }
}

fn parse_order(
    data: Option<&Map<String, Value>>,
    placed_at: Option<DateTime<Utc>>,
    policy: &ClassifyPolicy,
) -> Result<Order, Invalid> {
    let data = data.ok_or_else(|| {
        invalid(
            ReasonCode::InvalidPayload,
            "`data` is missing or not an object",
        )
    })?;
    let order_id = field(data, "data", "order_id")?
        .as_u64()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            invalid(
                ReasonCode::InvalidPayload,
                "`data.order_id` is not a positive integer",
            )
        })?;
    let meta_order_id = string(data, "data", "meta_order_id")?.to_owned();

    let customer_object = object(data, "data", "customer")?;
    let name = match customer_object.get("name") {
        None | Some(Value::Null) => PersonName::parse(""),
        Some(Value::String(text)) => PersonName::parse(text),
        Some(_) => {
            return Err(invalid(
                ReasonCode::InvalidPayload,
                "`data.customer.name` is not a string",
            ))
        }
    };
    let phone_text = string(customer_object, "data.customer", "phone_number")?;
    let phone = Phone::parse(phone_text).map_err(|error| {
        invalid(
            ReasonCode::InvalidPhone,
            format!("`data.customer.phone_number` is invalid: {error}"),
        )
    })?;

    let financials = object(data, "data", "financials")?;
    let currency_code = string(financials, "data.financials", "currency")?;
    let currency = Currency::from_code(currency_code).map_err(|_| {
        invalid(
            ReasonCode::UnknownCurrency,
            "`data.financials.currency` is not an ISO 4217 code with minor units",
        )
    })?;
    let total = amount(financials, "data.financials", "total_amount", currency)?;

    let items = field(data, "data", "items")?
        .as_array()
        .ok_or_else(|| invalid(ReasonCode::InvalidPayload, "`data.items` is not an array"))?;
    if items.is_empty() {
        return Err(invalid(ReasonCode::InvalidPayload, "`data.items` is empty"));
    }
    let mut lines = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let path = format!("data.items[{index}]");
        let item = item.as_object().ok_or_else(|| {
            invalid(
                ReasonCode::InvalidPayload,
                format!("`{path}` is not an object"),
            )
        })?;
        let sku = string(item, &path, "sku")?.trim();
        if sku.is_empty() {
            return Err(invalid(
                ReasonCode::InvalidPayload,
                format!("`{path}.sku` is empty"),
            ));
        }
        let quantity = quantity(item, &path)?;
        let unit_price = amount(item, &path, "unit_price", currency)?;
        let line_total = unit_price
            .checked_mul(Decimal::from(quantity))
            .ok_or_else(|| {
                invalid(
                    ReasonCode::InvalidPayload,
                    format!("`{path}` line total overflows"),
                )
            })?;
        lines.push(LineItem {
            sku: sku.to_owned(),
            quantity,
            unit_price,
            line_total,
        });
    }

    let lines_total = lines
        .iter()
        .try_fold(Decimal::ZERO, |sum, line| sum.checked_add(line.line_total))
        .ok_or_else(|| invalid(ReasonCode::InvalidPayload, "`data.items` total overflows"))?;
    let adjustment = if lines_total == total {
        None
    } else {
        match policy.total_mismatch {
            TotalMismatchPolicy::Adjust => Some(total - lines_total),
            TotalMismatchPolicy::Reject => {
                return Err(invalid(
                    ReasonCode::TotalMismatch,
                    format!(
                        "`data.financials.total_amount` differs from the sum of line totals by {}",
                        currency.format(total - lines_total)
                    ),
                ))
            }
        }
    };

    Ok(Order {
        order_id,
        meta_order_id,
        placed_at,
        customer: Customer { name, phone },
        currency,
        total,
        lines,
        adjustment,
    })
}

#[cfg(test)]
mod tests;
