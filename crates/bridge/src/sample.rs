//! Sample Wamebo events for `send-test-event`, shaped like the examples in
//! Wamebo's outbound webhook documentation.

use chrono::{DateTime, SecondsFormat, Utc};

/// Returns an `order.created` body shaped like Wamebo's documented order
/// 5542: two `PROD-A1` at 100.00 and one `PROD-B2` at 50.00, 250.00 USD.
///
/// The amounts are written as JSON numbers with two decimals, exactly as
/// Wamebo sends them, so the body exercises exact decimal parsing.
pub fn order_created(order_id: u64, timestamp: DateTime<Utc>) -> String {
    format!(
        r#"{{"event":"order.created","timestamp":"{timestamp}","data":{{"order_id":{order_id},"meta_order_id":"wamid.TEST{order_id}","customer":{{"name":"Michael Smith","phone_number":"15551234567"}},"financials":{{"total_amount":250.00,"currency":"USD"}},"items":[{{"sku":"PROD-A1","quantity":2,"unit_price":100.00}},{{"sku":"PROD-B2","quantity":1,"unit_price":50.00}}]}}}}"#,
        timestamp = timestamp.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

/// Returns a `message.received` body shaped like Wamebo's documented
/// example message.
pub fn message_received(message_id: u64, timestamp: DateTime<Utc>) -> String {
    format!(
        r#"{{"event":"message.received","timestamp":"{timestamp}","data":{{"message_id":{message_id},"contact":{{"id":8502,"name":"Jane Doe","phone_number":"919876543210"}},"message":{{"type":"text","body":"Hi, do you have this in stock?","direction":"incoming"}}}}}}"#,
        timestamp = timestamp.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

/// Returns an id unlikely to collide with earlier test events: a random
/// number from 1,000,000 to 4,000,000,000, above the documented sample ids.
pub fn fresh_id() -> u64 {
    use rand::Rng;
    rand::thread_rng().gen_range(1_000_000..=4_000_000_000)
}

#[cfg(test)]
mod tests {
    use wamebo_core::{classify, ClassifyPolicy, Payload, Verdict};

    use super::*;

    #[test]
    fn sample_order_is_accepted_with_exact_totals() {
        let now = Utc::now();
        let body = order_created(5542, now);

        let classified = classify(body.as_bytes(), &ClassifyPolicy::default(), now);

        let order = classified.order().expect("sample order is accepted");
        assert_eq!(order.order_id, 5542);
        assert_eq!(order.format_amount(order.total), "250.00");
        assert_eq!(order.format_amount(order.lines[0].line_total), "200.00");
        assert_eq!(order.format_amount(order.lines[1].line_total), "50.00");
        assert!(body.contains("\"total_amount\":250.00"));
    }

    #[test]
    fn sample_message_is_accepted() {
        let now = Utc::now();
        let body = message_received(10452, now);

        let classified = classify(body.as_bytes(), &ClassifyPolicy::default(), now);

        assert_eq!(classified.key, "message:10452");
        assert!(matches!(
            classified.verdict,
            Verdict::Accepted(Payload::Message { .. })
        ));
    }

    #[test]
    fn fresh_ids_are_in_range() {
        for _ in 0..100 {
            let id = fresh_id();
            assert!((1_000_000..=4_000_000_000).contains(&id), "{id}");
        }
    }
}
