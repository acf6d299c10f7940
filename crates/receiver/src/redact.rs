//! Masking of personal data in stored bodies, for `events show` and the
//! admin API.
//!
//! Masking goes by field name at any depth, so event types this version
//! does not interpret are masked too: names, phone numbers, e-mail
//! addresses, postal addresses and message text.

use serde_json::Value;
use wamebo_core::event::strip_bom;
use wamebo_core::phone::mask_phone;

/// The text that replaces a masked value.
pub const MASK: &str = "<redacted>";

/// Field names whose values are replaced by [`MASK`] wherever they appear.
const MASKED_FIELDS: [&str; 9] = [
    "name",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "address",
    "body",
    "text",
    "caption",
];

/// Field names whose values are phone numbers, masked by [`mask_phone`]: all
/// digits but the first two and the last two, and any letters.
const PHONE_FIELDS: [&str; 3] = ["phone_number", "phone", "wa_id"];

/// Returns the body as pretty-printed JSON with personal data masked: the
/// customer's or contact's name, phone numbers and message text. A body that
/// is not JSON is replaced by a JSON string giving only its length.
pub fn mask_body(body: &[u8]) -> String {
    let masked = masked_value(body);
    serde_json::to_string_pretty(&masked).unwrap_or_else(|_| format!("\"{MASK}\""))
}

/// Returns the body as a JSON value with personal data masked, as
/// [`mask_body`] does.
pub fn masked_value(body: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(strip_bom(body)) {
        Ok(mut value) => {
            mask_in_place(&mut value);
            value
        }
        Err(_) => Value::String(format!("<{} bytes, not JSON, hidden>", body.len())),
    }
}

/// Returns the body as a JSON value without masking, or as a string when it
/// is not JSON; only for callers that asked for personal data explicitly.
pub fn unmasked_value(body: &[u8]) -> Value {
    serde_json::from_slice::<Value>(strip_bom(body))
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn mask_in_place(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (field, child) in object.iter_mut() {
                if MASKED_FIELDS.contains(&field.as_str()) {
                    *child = Value::String(MASK.to_owned());
                } else if PHONE_FIELDS.contains(&field.as_str()) {
                    *child = mask_phone_value(child);
                } else {
                    mask_in_place(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_in_place),
        _ => {}
    }
}

fn mask_phone_value(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(mask_phone(text)),
        Value::Number(number) => Value::String(mask_phone(&number.to_string())),
        Value::Null => Value::Null,
        _ => Value::String(MASK.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"{
        "event": "order.created",
        "timestamp": "2026-05-27T14:30:22Z",
        "data": {
            "order_id": 5542,
            "meta_order_id": "wamid.HBgLOTE",
            "customer": {"name": "Michael Smith", "phone_number": "15551234567"},
            "financials": {"total_amount": 250.00, "currency": "USD"},
            "items": [{"sku": "PROD-A1", "quantity": 2, "unit_price": 100.00}]
        }
    }"#;

    const MESSAGE: &str = r#"{
        "event": "message.received",
        "data": {
            "message_id": 10452,
            "contact": {"id": 8502, "name": "Jane Doe", "phone_number": 919876543210},
            "message": {"type": "text", "body": "Hi, do you have this in stock?", "direction": "incoming"}
        }
    }"#;

    #[test]
    fn order_hides_name_and_phone() {
        let masked = mask_body(ORDER.as_bytes());

        assert!(!masked.contains("Michael"), "{masked}");
        assert!(!masked.contains("Smith"), "{masked}");
        assert!(!masked.contains("15551234567"), "{masked}");
        assert!(masked.contains("15*******67"), "{masked}");
    }

    #[test]
    fn order_keeps_ids_and_exact_amounts() {
        let masked = mask_body(ORDER.as_bytes());

        assert!(masked.contains("5542"), "{masked}");
        assert!(masked.contains("PROD-A1"), "{masked}");
        assert!(masked.contains("250.00"), "{masked}");
        assert!(masked.contains("100.00"), "{masked}");
    }

    #[test]
    fn message_hides_contact_and_text() {
        let masked = mask_body(MESSAGE.as_bytes());

        assert!(!masked.contains("Jane"), "{masked}");
        assert!(!masked.contains("in stock"), "{masked}");
        assert!(!masked.contains("919876543210"), "{masked}");
        assert!(masked.contains("10452"), "{masked}");
        assert!(masked.contains("incoming"), "{masked}");
    }

    #[test]
    fn non_json_body_is_hidden() {
        let masked = mask_body(b"name=Michael Smith&phone=15551234567");

        assert!(!masked.contains("Michael"), "{masked}");
        assert!(masked.contains("36 bytes"), "{masked}");
    }

    #[test]
    fn body_with_bom_is_masked() {
        let mut body = b"\xEF\xBB\xBF".to_vec();
        body.extend_from_slice(ORDER.as_bytes());

        let masked = mask_body(&body);

        assert!(!masked.contains("Michael"), "{masked}");
        assert!(masked.contains("5542"), "{masked}");
    }

    #[test]
    fn malformed_phone_text_is_hidden() {
        let body = br#"{"data":{"customer":{"phone_number":"ask Yolanda on 15551234567"}}}"#;

        let masked = mask_body(body);

        assert!(!masked.contains("Yolanda"), "{masked}");
        assert!(!masked.contains("5512345"), "{masked}");
    }

    #[test]
    fn nested_sensitive_values_of_any_type_are_hidden() {
        let body = br#"{"data":{"customer":{"name":{"first":"Ann"},"phone":["123"],"address":{"city":"Pune"}}}}"#;

        let masked = mask_body(body);

        assert!(!masked.contains("Ann"), "{masked}");
        assert!(!masked.contains("123"), "{masked}");
        assert!(!masked.contains("Pune"), "{masked}");
    }
}
