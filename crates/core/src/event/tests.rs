use super::*;

const DOCUMENTED_ORDER: &str = r#"{
  "event": "order.created",
  "timestamp": "2026-05-27T14:30:22Z",
  "data": {
    "order_id": 5542,
    "meta_order_id": "wamid.HBgLOTE...",
    "customer": {
      "name": "Michael Smith",
      "phone_number": "15551234567"
    },
    "financials": {
      "total_amount": 250.00,
      "currency": "USD"
    },
    "items": [
      {
        "sku": "PROD-A1",
        "quantity": 2,
        "unit_price": 100.00
      },
      {
        "sku": "PROD-B2",
        "quantity": 1,
        "unit_price": 50.00
      }
    ]
  }
}"#;

fn documented_time() -> DateTime<Utc> {
    "2026-05-27T14:31:00Z".parse().unwrap()
}

fn classify_now(body: &str) -> Classified {
    classify(
        body.as_bytes(),
        &ClassifyPolicy::default(),
        documented_time(),
    )
}

fn reason_of(classified: &Classified) -> Option<ReasonCode> {
    match &classified.verdict {
        Verdict::Quarantined { reason, .. } => Some(*reason),
        Verdict::Accepted(_) => None,
    }
}

/// Replaces one piece of the documented order and classifies the result.
fn variant(from: &str, to: &str) -> Classified {
    assert!(DOCUMENTED_ORDER.contains(from), "fixture has no `{from}`");
    classify_now(&DOCUMENTED_ORDER.replacen(from, to, 1))
}

#[test]
fn documented_order_is_accepted() {
    let classified = classify_now(DOCUMENTED_ORDER);

    assert_eq!(classified.event_type, "order.created");
    assert_eq!(classified.key, "order:5542");
    assert_eq!(classified.order_id, Some(5542));
    let order = classified.order().expect("accepted order");
    assert_eq!(order.meta_order_id, "wamid.HBgLOTE...");
    assert_eq!(order.customer.phone.as_e164(), "+15551234567");
    assert_eq!(order.customer.name.first, "Michael");
    assert_eq!(order.customer.name.last, "Smith");
    assert_eq!(order.currency.code(), "USD");
    assert_eq!(order.format_amount(order.total), "250.00");
    assert_eq!(order.lines.len(), 2);
    assert_eq!(order.format_amount(order.lines[0].line_total), "200.00");
    assert_eq!(order.format_amount(order.lines[1].line_total), "50.00");
    assert_eq!(order.lines[0].quantity, 2);
    assert_eq!(order.adjustment, None);
}

#[test]
fn invalid_orders_get_their_reason_codes() {
    let cases = [
        (
            "\"total_amount\": 250.00",
            "\"total_amount\": 250.01",
            ReasonCode::TotalMismatch,
        ),
        (
            "\"total_amount\": 250.00",
            "\"total_amount\": 250.001",
            ReasonCode::AmountPrecision,
        ),
        (
            "\"unit_price\": 50.00",
            "\"unit_price\": 19.999999999999999999",
            ReasonCode::AmountPrecision,
        ),
        (
            "\"unit_price\": 50.00",
            "\"unit_price\": -50.00",
            ReasonCode::InvalidPayload,
        ),
        (
            "\"unit_price\": 50.00",
            "\"unit_price\": \"fifty\"",
            ReasonCode::InvalidPayload,
        ),
        (
            "\"unit_price\": 50.00",
            "\"unit_price\": null",
            ReasonCode::InvalidPayload,
        ),
        (
            "\"quantity\": 1",
            "\"quantity\": 0",
            ReasonCode::InvalidQuantity,
        ),
        (
            "\"quantity\": 1",
            "\"quantity\": -1",
            ReasonCode::InvalidQuantity,
        ),
        (
            "\"quantity\": 1",
            "\"quantity\": 1.5",
            ReasonCode::InvalidQuantity,
        ),
        (
            "\"quantity\": 1",
            "\"quantity\": \"1\"",
            ReasonCode::InvalidQuantity,
        ),
        (
            "\"quantity\": 1",
            "\"quantity\": 99999999999",
            ReasonCode::InvalidQuantity,
        ),
        (
            "\"currency\": \"USD\"",
            "\"currency\": \"ZZZ\"",
            ReasonCode::UnknownCurrency,
        ),
        (
            "\"currency\": \"USD\"",
            "\"currency\": \"usd\"",
            ReasonCode::UnknownCurrency,
        ),
        (
            "\"phone_number\": \"15551234567\"",
            "\"phone_number\": \"12\"",
            ReasonCode::InvalidPhone,
        ),
        (
            "\"phone_number\": \"15551234567\"",
            "\"phone_number\": \"call me\"",
            ReasonCode::InvalidPhone,
        ),
        (
            "\"phone_number\": \"15551234567\"",
            "\"phone_number\": 15551234567",
            ReasonCode::InvalidPayload,
        ),
        (
            "\"sku\": \"PROD-A1\"",
            "\"sku\": \"  \"",
            ReasonCode::InvalidPayload,
        ),
        (
            "\"sku\": \"PROD-A1\"",
            "\"sku\": 7",
            ReasonCode::InvalidPayload,
        ),
        (
            "\"meta_order_id\": \"wamid.HBgLOTE...\",",
            "",
            ReasonCode::InvalidPayload,
        ),
        (
            "\"timestamp\": \"2026-05-27T14:30:22Z\"",
            "\"timestamp\": \"yesterday\"",
            ReasonCode::InvalidPayload,
        ),
        (
            "\"timestamp\": \"2026-05-27T14:30:22Z\"",
            "\"timestamp\": \"2026-05-20T14:30:22Z\"",
            ReasonCode::StaleEvent,
        ),
    ];
    for (from, to, expected) in cases {
        let classified = variant(from, to);
        assert_eq!(
            reason_of(&classified),
            Some(expected),
            "replacing `{from}` with `{to}`"
        );
        assert_eq!(
            classified.key, "order:5542",
            "key after replacing `{from}` with `{to}`"
        );
    }
}

#[test]
fn malformed_envelopes_are_keyed_by_hash() {
    let cases = [
        ("not json", ReasonCode::InvalidJson),
        ("[1, 2]", ReasonCode::InvalidJson),
        ("{\"event\": 5}", ReasonCode::InvalidPayload),
        ("{}", ReasonCode::InvalidPayload),
        ("{\"event\": \"order.created\"}", ReasonCode::InvalidPayload),
        (
            "{\"event\": \"order.created\", \"data\": {\"order_id\": \"5542\"}}",
            ReasonCode::InvalidPayload,
        ),
    ];
    for (body, expected) in cases {
        let classified = classify_now(body);
        assert_eq!(reason_of(&classified), Some(expected), "body `{body}`");
        let hash = hex::encode(body_sha256(body.as_bytes()));
        assert_eq!(classified.key, format!("sha256:{hash}"), "body `{body}`");
    }
}

#[test]
fn quarantine_details_hold_no_personal_data() {
    let classified = variant(
        "\"phone_number\": \"15551234567\"",
        "\"phone_number\": \"999123456789\"",
    );
    let Verdict::Quarantined { detail, .. } = &classified.verdict else {
        panic!("expected quarantine");
    };
    assert!(!detail.contains("999123456789"), "{detail}");
    assert!(!detail.contains("Michael"), "{detail}");
}

#[test]
fn mismatch_becomes_adjustment_when_allowed() {
    let body = DOCUMENTED_ORDER.replacen("\"total_amount\": 250.00", "\"total_amount\": 245.50", 1);
    let policy = ClassifyPolicy {
        total_mismatch: TotalMismatchPolicy::Adjust,
        ..ClassifyPolicy::default()
    };

    let classified = classify(body.as_bytes(), &policy, documented_time());

    let order = classified.order().expect("accepted order");
    assert_eq!(
        order.adjustment.map(|a| order.format_amount(a)),
        Some("-4.50".to_owned())
    );
}

#[test]
fn jpy_and_kwd_keep_their_minor_units() {
    let jpy = DOCUMENTED_ORDER
        .replacen("\"USD\"", "\"JPY\"", 1)
        .replacen("\"total_amount\": 250.00", "\"total_amount\": 2500", 1)
        .replacen("\"unit_price\": 100.00", "\"unit_price\": 1000", 1)
        .replacen("\"unit_price\": 50.00", "\"unit_price\": 500", 1);
    let classified = classify_now(&jpy);
    let order = classified.order().expect("accepted JPY order");
    assert_eq!(order.format_amount(order.total), "2500");
    assert_eq!(order.format_amount(order.lines[0].line_total), "2000");

    let fractional_yen = jpy.replacen("\"unit_price\": 500", "\"unit_price\": 500.5", 1);
    assert_eq!(
        reason_of(&classify_now(&fractional_yen)),
        Some(ReasonCode::AmountPrecision)
    );

    let kwd = DOCUMENTED_ORDER
        .replacen("\"USD\"", "\"KWD\"", 1)
        .replacen("\"total_amount\": 250.00", "\"total_amount\": 12.345", 1)
        .replacen("\"quantity\": 2", "\"quantity\": 1", 1)
        .replacen("\"unit_price\": 100.00", "\"unit_price\": 12.000", 1)
        .replacen("\"unit_price\": 50.00", "\"unit_price\": 0.345", 1);
    let classified = classify_now(&kwd);
    let order = classified.order().expect("accepted KWD order");
    assert_eq!(order.format_amount(order.total), "12.345");
}

#[test]
fn exponent_amounts_are_exact() {
    let body = DOCUMENTED_ORDER.replacen("\"total_amount\": 250.00", "\"total_amount\": 2.5e2", 1);
    let classified = classify_now(&body);
    let order = classified.order().expect("accepted order");
    assert_eq!(order.format_amount(order.total), "250.00");
}

#[test]
fn byte_order_mark_is_tolerated() {
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(DOCUMENTED_ORDER.as_bytes());
    let classified = classify(&body, &ClassifyPolicy::default(), documented_time());
    assert!(classified.order().is_some(), "{:?}", classified.verdict);
}

#[test]
fn staleness_check_can_be_disabled() {
    let policy = ClassifyPolicy {
        max_event_age: None,
        ..ClassifyPolicy::default()
    };
    let later = documented_time() + chrono::Duration::days(30);
    let classified = classify(DOCUMENTED_ORDER.as_bytes(), &policy, later);
    assert!(classified.order().is_some());
}

#[test]
fn message_received_is_keyed_by_message_id() {
    let body = r#"{
      "event": "message.received",
      "timestamp": "2026-05-27T14:30:00Z",
      "data": {
        "message_id": 10452,
        "contact": {"id": 8502, "name": "Jane Doe", "phone_number": "919876543210"},
        "message": {"type": "text", "body": "Hi, do you have this in stock?", "direction": "incoming"}
      }
    }"#;
    let classified = classify_now(body);
    assert_eq!(classified.event_type, "message.received");
    assert_eq!(classified.key, "message:10452");
    assert_eq!(
        classified.verdict,
        Verdict::Accepted(Payload::Message {
            message_id: "10452".to_owned()
        })
    );
}

#[test]
fn unknown_event_type_is_accepted_as_other() {
    let body =
        r#"{"event": "order.updated", "timestamp": "2026-05-27T14:30:00Z", "data": {"x": 1}}"#;
    let classified = classify_now(body);
    assert_eq!(classified.event_type, "order.updated");
    assert!(classified.key.starts_with("sha256:"));
    assert_eq!(classified.verdict, Verdict::Accepted(Payload::Other));
}

proptest::proptest! {
    #[test]
    fn classify_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = classify(&body, &ClassifyPolicy::default(), documented_time());
    }

    #[test]
    fn line_totals_are_exact(quantity in 1u32..1000, cents in 1u64..10_000_000) {
        let price = Decimal::new(cents as i64, 2);
        let total = price * Decimal::from(quantity);
        let body = format!(
            r#"{{"event":"order.created","timestamp":"2026-05-27T14:30:22Z","data":{{"order_id":1,"meta_order_id":"m","customer":{{"name":"A","phone_number":"15551234567"}},"financials":{{"total_amount":{total},"currency":"USD"}},"items":[{{"sku":"S","quantity":{quantity},"unit_price":{price}}}]}}}}"#
        );
        let classified = classify_now(&body);
        let order = classified.order().expect("accepted order");
        proptest::prop_assert_eq!(order.lines[0].line_total, total);
    }
}
