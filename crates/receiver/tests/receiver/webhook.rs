//! `POST /webhooks/{store}`: every response of the route.

use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use wamebo_core::ReasonCode;
use wamebo_store::{DeliveryFilter, EventFilter, SqliteOptions, SqliteStore, Store};

use crate::public_app;
use crate::support::{
    message_body, order_body, order_body_at, sign, Harness, BODY_READ_TIMEOUT, MAX_BODY_BYTES,
    OLD_SECRET,
};

fn webhook(store: &str, body: &[u8], signature: Option<&str>) -> TestRequest {
    let request = TestRequest::post()
        .uri(&format!("/webhooks/{store}"))
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(body.to_vec());
    match signature {
        Some(value) => request.insert_header(("X-Webhook-Signature", value)),
        None => request,
    }
}

fn signed(body: &[u8]) -> TestRequest {
    webhook("acme", body, Some(&sign(body)))
}

async fn answer(response: ServiceResponse) -> (StatusCode, Value) {
    let status = response.status();
    let body = test::read_body(response).await;
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("answer is not JSON: {}", String::from_utf8_lossy(&body)));
    (status, json)
}

async fn event_count(harness: &Harness) -> usize {
    harness
        .store
        .list_events(EventFilter {
            limit: 1000,
            ..EventFilter::default()
        })
        .await
        .unwrap()
        .len()
}

async fn delivery_targets(harness: &Harness) -> Vec<String> {
    let mut targets: Vec<String> = harness
        .store
        .list_deliveries(DeliveryFilter {
            limit: 1000,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|delivery| delivery.target_id.to_string())
        .collect();
    targets.sort();
    targets
}

#[actix_web::test]
async fn order_is_accepted_and_routed() {
    let harness = Harness::new();
    let app = public_app!(harness);

    let response = test::call_service(&app, signed(&order_body(5542, "250.00")).to_request()).await;

    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "accepted");
    assert!(body["event_id"].as_i64().is_some(), "{body}");
    assert_eq!(delivery_targets(&harness).await, ["erp", "shop"]);
    assert!(harness.was_woken().await);
}

#[actix_web::test]
async fn message_goes_only_to_wildcard_target() {
    let harness = Harness::new();
    let app = public_app!(harness);

    let response = test::call_service(&app, signed(&message_body(10452)).to_request()).await;

    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "accepted");
    assert_eq!(delivery_targets(&harness).await, ["erp"]);
}

#[actix_web::test]
async fn repeated_order_is_duplicate() {
    let harness = Harness::new();
    let app = public_app!(harness);
    let body = order_body(5542, "250.00");

    let (_, first) = answer(test::call_service(&app, signed(&body).to_request()).await).await;
    assert!(harness.was_woken().await);
    let (status, second) = answer(test::call_service(&app, signed(&body).to_request()).await).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        second,
        json!({ "status": "duplicate", "event_id": first["event_id"] })
    );
    assert_eq!(event_count(&harness).await, 1);
    assert_eq!(delivery_targets(&harness).await, ["erp", "shop"]);
    assert!(!harness.was_woken().await);
}

#[actix_web::test]
async fn same_order_with_other_body_is_conflict() {
    let harness = Harness::new();
    let app = public_app!(harness);
    let original = order_body(5542, "250.00");
    let changed = String::from_utf8(original.clone())
        .unwrap()
        .replace("PROD-B2", "PROD-C3")
        .into_bytes();

    let (_, first) = answer(test::call_service(&app, signed(&original).to_request()).await).await;
    let (status, second) =
        answer(test::call_service(&app, signed(&changed).to_request()).await).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        second,
        json!({
            "status": "conflict",
            "reason": "conflicting_duplicate",
            "event_id": first["event_id"],
        })
    );
    assert_eq!(event_count(&harness).await, 1);
    let event_id = first["event_id"].as_i64().unwrap();
    let record = harness.store.get_event(event_id).await.unwrap().unwrap();
    assert_eq!(record.conflicts.len(), 1);
    assert_eq!(record.conflicts[0].body, changed);
}

#[actix_web::test]
async fn invalid_events_are_quarantined() {
    let stale = order_body_at(7001, "250.00", Utc::now() - Duration::days(4));
    let cases: Vec<(&str, Vec<u8>, ReasonCode)> = vec![
        (
            "total",
            order_body(7002, "250.01"),
            ReasonCode::TotalMismatch,
        ),
        (
            "precision",
            order_body(7003, "250.001"),
            ReasonCode::AmountPrecision,
        ),
        ("stale", stale, ReasonCode::StaleEvent),
        (
            "not json",
            b"order 7004, please".to_vec(),
            ReasonCode::InvalidJson,
        ),
        (
            "no event field",
            br#"{"data":{"order_id":7005}}"#.to_vec(),
            ReasonCode::InvalidPayload,
        ),
    ];
    let harness = Harness::new();
    let app = public_app!(harness);

    for (name, body, reason) in cases {
        let response = test::call_service(&app, signed(&body).to_request()).await;

        let (status, answer) = answer(response).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(answer["status"], "quarantined", "{name}: {answer}");
        assert_eq!(answer["reason"], reason.as_str(), "{name}");
        assert!(answer["event_id"].as_i64().is_some(), "{name}: {answer}");
    }
    assert_eq!(event_count(&harness).await, 5);
    assert!(delivery_targets(&harness).await.is_empty());
    assert!(!harness.was_woken().await);
}

#[actix_web::test]
async fn body_with_byte_order_mark_is_accepted() {
    let harness = Harness::new();
    let app = public_app!(harness);
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(&order_body(5542, "250.00"));

    let (status, answer) = answer(test::call_service(&app, signed(&body).to_request()).await).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["status"], "accepted", "{answer}");
    let event_id = answer["event_id"].as_i64().unwrap();
    let record = harness.store.get_event(event_id).await.unwrap().unwrap();
    assert_eq!(record.body, body, "the body is stored exactly as sent");
}

#[actix_web::test]
async fn any_content_type_is_accepted() {
    let harness = Harness::new();
    let app = public_app!(harness);
    let content_types = [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/octet-stream"),
        None,
    ];

    for (index, content_type) in content_types.into_iter().enumerate() {
        let body = order_body(8000 + index as u64, "250.00");
        let mut request = TestRequest::post()
            .uri("/webhooks/acme")
            .insert_header(("X-Webhook-Signature", sign(&body)))
            .set_payload(body)
            .to_request();
        match content_type {
            Some(value) => {
                request.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static(value),
                );
            }
            None => {
                request.headers_mut().remove(header::CONTENT_TYPE);
            }
        }

        let (status, answer) = answer(test::call_service(&app, request).await).await;

        assert_eq!(status, StatusCode::OK, "{content_type:?}");
        assert_eq!(answer["status"], "accepted", "{content_type:?}: {answer}");
    }
}

#[actix_web::test]
async fn previous_secret_of_rotation_verifies() {
    let harness = Harness::new();
    let app = public_app!(harness);
    let body = order_body(5542, "250.00");
    let signature = wamebo_signature::sign_header(OLD_SECRET.as_bytes(), &body);

    let response =
        test::call_service(&app, webhook("acme", &body, Some(&signature)).to_request()).await;

    let (status, answer) = answer(response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["status"], "accepted");
}

#[actix_web::test]
async fn bad_signatures_are_forbidden_and_not_stored() {
    let body = order_body(5542, "250.00");
    let good = sign(&body);
    let hex = good.trim_start_matches("sha256=").to_owned();
    let other_secret = wamebo_signature::sign_header(b"wh_sec_someone_else", &body);
    let other_body = sign(&order_body(5543, "250.00"));
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "missing"),
        (Some(String::new()), "empty"),
        (Some("   ".into()), "empty"),
        (Some("sha256=".into()), "empty"),
        (Some(format!("sha512={hex}")), "unsupported_scheme"),
        (Some(format!("md5={hex}")), "unsupported_scheme"),
        (Some(format!("sha256={}", "zz".repeat(32))), "not_hex"),
        (Some(format!("sha256={}", &hex[..62])), "wrong_length"),
        (Some(format!("sha256={hex}00")), "wrong_length"),
        (Some(other_secret), "mismatch"),
        (Some(other_body), "mismatch"),
    ];
    let harness = Harness::new();
    let app = public_app!(harness);

    for (signature, reason) in &cases {
        let request = webhook("acme", &body, signature.as_deref()).to_request();

        let (status, answer) = answer(test::call_service(&app, request).await).await;

        assert_eq!(status, StatusCode::FORBIDDEN, "{signature:?}");
        assert_eq!(
            answer,
            json!({ "error": "invalid_signature", "reason": reason }),
            "{signature:?}"
        );
    }
    assert_eq!(event_count(&harness).await, 0);
    assert!(!harness.was_woken().await);
}

#[actix_web::test]
async fn repeated_signature_header_is_forbidden() {
    let body = order_body(5542, "250.00");
    let good = sign(&body);
    let orders: [[String; 2]; 3] = [
        [good.clone(), "sha256=00".into()],
        ["sha256=00".into(), good.clone()],
        [good.clone(), good.clone()],
    ];
    let harness = Harness::new();
    let app = public_app!(harness);

    for [first, second] in &orders {
        let request = webhook("acme", &body, Some(first))
            .append_header(("X-Webhook-Signature", second.as_str()))
            .to_request();

        let (status, answer) = answer(test::call_service(&app, request).await).await;

        assert_eq!(status, StatusCode::FORBIDDEN, "{first} then {second}");
        assert_eq!(
            answer,
            json!({ "error": "invalid_signature", "reason": "repeated" })
        );
    }
    assert_eq!(event_count(&harness).await, 0);
}

#[actix_web::test]
async fn unknown_or_invalid_store_is_not_found() {
    let harness = Harness::new();
    let app = public_app!(harness);
    let body = order_body(5542, "250.00");

    for store in ["nope", "Acme", "acme%20x", "_acme", "a.b"] {
        let response =
            test::call_service(&app, webhook(store, &body, Some(&sign(&body))).to_request()).await;

        let (status, answer) = answer(response).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{store}");
        assert_eq!(answer, json!({ "error": "unknown_store" }), "{store}");
    }
    assert_eq!(event_count(&harness).await, 0);
}

#[actix_web::test]
async fn oversized_content_length_is_rejected_at_once() {
    let harness = Harness::new();
    let app = public_app!(harness);
    let body = order_body(5542, "250.00");
    let mut request = signed(&body).to_request();
    // The declared length alone decides: the few bytes sent are never read.
    request.headers_mut().insert(
        header::CONTENT_LENGTH,
        header::HeaderValue::from(MAX_BODY_BYTES + 1),
    );

    let (status, answer) = answer(test::call_service(&app, request).await).await;

    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        answer,
        json!({ "error": "payload_too_large", "max_body_bytes": MAX_BODY_BYTES })
    );
    assert_eq!(event_count(&harness).await, 0);
}

/// Returns a signed `order.created` body of exactly `size` bytes, padded
/// with spaces, which JSON ignores.
fn order_of_size(size: usize) -> Vec<u8> {
    let mut body = order_body(5542, "250.00");
    assert!(body.len() <= size);
    body.resize(size, b' ');
    body
}

#[actix_web::test]
async fn streamed_body_over_limit_is_rejected() {
    let harness = Harness::new();
    let app = public_app!(harness);
    let body = order_of_size(MAX_BODY_BYTES + 1);
    let mut request = signed(&body).to_request();
    request.headers_mut().remove(header::CONTENT_LENGTH);

    let (status, answer) = answer(test::call_service(&app, request).await).await;

    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"], "payload_too_large");
    assert_eq!(event_count(&harness).await, 0);
}

#[actix_web::test]
async fn body_at_limit_is_accepted() {
    let harness = Harness::new();
    let app = public_app!(harness);
    let body = order_of_size(MAX_BODY_BYTES);

    let (status, answer) = answer(test::call_service(&app, signed(&body).to_request()).await).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["status"], "accepted", "{answer}");
}

#[actix_web::test]
async fn storage_failure_is_service_unavailable() {
    // A database capped at its size after migrations fails the next write
    // that needs a new page, as a full disk does.
    let probe_dir = tempfile::tempdir().unwrap();
    let probe_path = probe_dir.path().join("probe.db");
    drop(SqliteStore::open(probe_path.to_str().unwrap(), SqliteOptions::default()).unwrap());
    let empty_size = std::fs::metadata(&probe_path).unwrap().len();
    let harness = Harness::with_options(SqliteOptions {
        max_size_bytes: Some(empty_size),
        ..SqliteOptions::default()
    });
    let app = public_app!(harness);
    let body = order_of_size(MAX_BODY_BYTES);

    let response = test::call_service(&app, signed(&body).to_request()).await;

    assert_eq!(
        response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap()),
        Some("30")
    );
    let (status, answer) = answer(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer, json!({ "error": "storage_unavailable" }));
    assert!(!harness.was_woken().await);
}

/// Sends `body` in 1 KiB chunks with `Transfer-Encoding: chunked` to a real
/// server on 127.0.0.1 and returns the status line and the response body.
async fn post_chunked(harness: &Harness, body: &[u8]) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let state = harness.state.clone();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().configure(|cfg| wamebo_receiver::configure_public(cfg, state.clone()))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let address = server.addrs()[0];
    let server = server.run();
    let server_handle = server.handle();
    actix_web::rt::spawn(server);

    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /webhooks/acme HTTP/1.1\r\nHost: {address}\r\nX-Webhook-Signature: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        sign(body)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may respond and close before every chunk is written, so
    // write errors only end the upload.
    for chunk in body.chunks(1024) {
        let framed = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.to_vec(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if stream.write_all(&framed).await.is_err() {
            break;
        }
        stream.flush().await.ok();
    }
    stream.write_all(b"0\r\n\r\n").await.ok();

    let mut response = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut response),
    )
    .await;
    server_handle.stop(false).await;
    assert!(read.is_ok(), "no response within 5 s");

    let response = String::from_utf8_lossy(&response).into_owned();
    let status_line = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status_line, body)
}

#[actix_web::test]
async fn chunked_upload_is_limited_while_read() {
    // (body size, expected status line, expected text in the body, events stored)
    let cases = [
        (MAX_BODY_BYTES, "HTTP/1.1 200 OK", "\"accepted\"", 1),
        (
            MAX_BODY_BYTES * 3,
            "HTTP/1.1 413 Payload Too Large",
            "payload_too_large",
            0,
        ),
    ];

    for (size, expected_status, expected_text, expected_events) in cases {
        let harness = Harness::new();

        let (status_line, body) = post_chunked(&harness, &order_of_size(size)).await;

        assert_eq!(status_line, expected_status, "{size} bytes: {body}");
        assert!(body.contains(expected_text), "{size} bytes: {body}");
        assert_eq!(event_count(&harness).await, expected_events, "{size} bytes");
    }
}

#[actix_web::test]
async fn stalled_body_times_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let harness = Harness::new();
    let state = harness.state.clone();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().configure(|cfg| wamebo_receiver::configure_public(cfg, state.clone()))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let address = server.addrs()[0];
    let server = server.run();
    let server_handle = server.handle();
    actix_web::rt::spawn(server);
    let body = order_body(5542, "250.00");

    // The headers and half of the body, then nothing more: a slow sender.
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /webhooks/acme HTTP/1.1\r\nHost: {address}\r\nX-Webhook-Signature: {}\r\nContent-Length: {}\r\n\r\n",
        sign(&body),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..body.len() / 2]).await.unwrap();
    let started = std::time::Instant::now();
    let mut response = Vec::new();
    let read = tokio::time::timeout(BODY_READ_TIMEOUT * 3, stream.read_to_end(&mut response)).await;
    let waited = started.elapsed();
    server_handle.stop(false).await;

    assert!(
        read.is_ok(),
        "no response within {:?}",
        BODY_READ_TIMEOUT * 3
    );
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 408 Request Timeout"),
        "{response}"
    );
    assert!(response.contains("body_read_timeout"), "{response}");
    assert!(
        waited >= BODY_READ_TIMEOUT / 2,
        "responded after {waited:?}"
    );
    assert_eq!(event_count(&harness).await, 0);
}
