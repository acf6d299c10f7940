//! The admin API: bearer token, listings, masking and replays.

use std::time::Duration;

use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use chrono::Utc;
use serde_json::Value;
use wamebo_core::{ClassifyPolicy, ReasonCode, TotalMismatchPolicy};
use wamebo_receiver::{replay_event, ReplayError};
use wamebo_store::{AttemptOutcome, ClaimRequest, Lease, Store};

use crate::support::{acme_settings, order_body, order_body_at, sign, Harness, ADMIN_TOKEN};
use crate::{admin_app, public_app};

fn admin_get(path: &str) -> TestRequest {
    TestRequest::get()
        .uri(path)
        .insert_header((header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}")))
}

fn admin_post(path: &str) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .insert_header((header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}")))
}

async fn answer(response: ServiceResponse) -> (StatusCode, Value) {
    let status = response.status();
    let body = test::read_body(response).await;
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("answer is not JSON: {}", String::from_utf8_lossy(&body)));
    (status, json)
}

/// Posts signed bodies through the public app and returns their event ids.
async fn receive(harness: &Harness, bodies: &[Vec<u8>]) -> Vec<i64> {
    let app = public_app!(harness);
    let mut ids = Vec::new();
    for body in bodies {
        let request = TestRequest::post()
            .uri("/webhooks/acme")
            .insert_header(("X-Webhook-Signature", sign(body)))
            .set_payload(body.clone())
            .to_request();
        let (_, answer) = answer(test::call_service(&app, request).await).await;
        ids.push(answer["event_id"].as_i64().expect("event id"));
    }
    ids
}

/// Claims every due delivery and records each as dead.
async fn kill_all_deliveries(harness: &Harness) -> Vec<i64> {
    let claimed = harness
        .store
        .claim_due(ClaimRequest {
            worker: "test".into(),
            now: Utc::now(),
            lease: Duration::from_secs(60),
            limit: 100,
        })
        .await
        .unwrap();
    let mut ids = Vec::new();
    for delivery in claimed {
        let lease = Lease {
            delivery_id: delivery.delivery_id,
            token: delivery.lease_token.clone(),
        };
        let outcome = AttemptOutcome::Dead {
            reason: ReasonCode::SkuNotFound,
            message: "target shop has no product with SKU PROD-A1".into(),
        };
        harness.store.complete(&lease, outcome).await.unwrap();
        ids.push(delivery.delivery_id);
    }
    ids
}

#[actix_web::test]
async fn requests_without_the_token_are_unauthorized() {
    let harness = Harness::new();
    let app = admin_app!(harness);
    let cases: [(&str, Option<String>); 6] = [
        ("no header", None),
        ("wrong token", Some("Bearer not-the-token".into())),
        (
            "token prefix",
            Some(format!("Bearer {}", &ADMIN_TOKEN[..5])),
        ),
        ("basic scheme", Some(format!("Basic {ADMIN_TOKEN}"))),
        ("bare token", Some(ADMIN_TOKEN.into())),
        ("empty bearer", Some("Bearer ".into())),
    ];

    for (name, authorization) in cases {
        for path in ["/admin/events", "/admin/deliveries", "/admin/nowhere"] {
            let mut request = TestRequest::get().uri(path);
            if let Some(value) = &authorization {
                request = request.insert_header((header::AUTHORIZATION, value.clone()));
            }

            let response = test::call_service(&app, request.to_request()).await;

            assert_eq!(
                response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
                "Bearer",
                "{name} {path}"
            );
            let (status, body) = answer(response).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} {path}");
            assert_eq!(body["error"], "unauthorized", "{name} {path}");
        }
    }
}

#[actix_web::test]
async fn token_scheme_is_case_insensitive() {
    let harness = Harness::new();
    let app = admin_app!(harness);
    let request = TestRequest::get()
        .uri("/admin/events")
        .insert_header((header::AUTHORIZATION, format!("bearer {ADMIN_TOKEN}")));

    let response = test::call_service(&app, request.to_request()).await;

    assert_eq!(response.status(), StatusCode::OK);
}

#[actix_web::test]
async fn events_are_listed_and_filtered() {
    let harness = Harness::new();
    let ids = receive(
        &harness,
        &[order_body(5542, "250.00"), order_body(5543, "250.01")],
    )
    .await;
    let app = admin_app!(harness);

    let (status, all) =
        answer(test::call_service(&app, admin_get("/admin/events").to_request()).await).await;
    let (_, quarantined) = answer(
        test::call_service(
            &app,
            admin_get("/admin/events?status=quarantined&store=acme").to_request(),
        )
        .await,
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    let listed: Vec<i64> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, [ids[1], ids[0]], "newest first");
    let quarantined = quarantined["events"].as_array().unwrap();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0]["id"], ids[1]);
    assert_eq!(quarantined[0]["reason"], "total_mismatch");
    assert_eq!(quarantined[0]["order_id"], 5543);
}

#[actix_web::test]
async fn invalid_queries_are_bad_requests() {
    let harness = Harness::new();
    let app = admin_app!(harness);
    let paths = [
        "/admin/events?status=lost",
        "/admin/events?store=Not%20A%20Store",
        "/admin/events?limit=0",
        "/admin/events?limit=5000",
        "/admin/events?order_id=abc",
        "/admin/events?colour=blue",
        "/admin/deliveries?status=gone",
        "/admin/deliveries?target=_x",
        "/admin/events/abc",
    ];

    for path in paths {
        let response = test::call_service(&app, admin_get(path).to_request()).await;

        let (status, body) = answer(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"], "invalid_request", "{path}");
        assert!(body["message"].as_str().is_some(), "{path}: {body}");
    }
}

#[actix_web::test]
async fn event_body_is_masked_unless_asked() {
    let harness = Harness::new();
    let ids = receive(&harness, &[order_body(5542, "250.00")]).await;
    let app = admin_app!(harness);
    let path = format!("/admin/events/{}", ids[0]);

    let masked =
        test::read_body(test::call_service(&app, admin_get(&path).to_request()).await).await;
    let unmasked = test::read_body(
        test::call_service(
            &app,
            admin_get(&format!("{path}?personal_data=true")).to_request(),
        )
        .await,
    )
    .await;

    let masked = String::from_utf8(masked.to_vec()).unwrap();
    let unmasked = String::from_utf8(unmasked.to_vec()).unwrap();
    for personal in ["Michael", "Smith", "15551234567"] {
        assert!(!masked.contains(personal), "{personal} in {masked}");
        assert!(
            unmasked.contains(personal),
            "{personal} missing from {unmasked}"
        );
    }
    let masked: Value = serde_json::from_str(&masked).unwrap();
    assert_eq!(masked["body"]["data"]["order_id"], 5542);
    assert_eq!(masked["personal_data"], false);
    assert_eq!(masked["deliveries"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn missing_rows_are_not_found() {
    let harness = Harness::new();
    let app = admin_app!(harness);
    let requests = [
        admin_get("/admin/events/999"),
        admin_post("/admin/events/999/replay"),
        admin_post("/admin/deliveries/999/replay"),
        admin_get("/admin/nowhere"),
    ];

    for request in requests {
        let request = request.to_request();
        let path = request.path().to_owned();

        let (status, body) = answer(test::call_service(&app, request).await).await;

        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(body["message"].as_str().is_some(), "{path}: {body}");
    }
}

#[actix_web::test]
async fn deliveries_are_filtered_and_show_attempts() {
    let harness = Harness::new();
    receive(&harness, &[order_body(5542, "250.00")]).await;
    let dead = kill_all_deliveries(&harness).await;
    receive(&harness, &[order_body(5543, "250.00")]).await;
    let app = admin_app!(harness);

    let (_, shop_dead) = answer(
        test::call_service(
            &app,
            admin_get("/admin/deliveries?status=dead&target=shop").to_request(),
        )
        .await,
    )
    .await;
    let (_, pending) = answer(
        test::call_service(
            &app,
            admin_get("/admin/deliveries?status=pending").to_request(),
        )
        .await,
    )
    .await;
    let shop_dead = shop_dead["deliveries"].as_array().unwrap();
    let delivery_id = shop_dead[0]["id"].as_i64().unwrap();
    let (status, attempts) = answer(
        test::call_service(
            &app,
            admin_get(&format!("/admin/deliveries/{delivery_id}/attempts")).to_request(),
        )
        .await,
    )
    .await;

    assert_eq!(shop_dead.len(), 1);
    assert!(dead.contains(&delivery_id));
    assert_eq!(shop_dead[0]["last_reason"], "sku_not_found");
    assert_eq!(pending["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(status, StatusCode::OK);
    let attempts = attempts["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["outcome"], "dead");
    assert_eq!(attempts[0]["reason"], "sku_not_found");
}

#[actix_web::test]
async fn dead_delivery_replay_makes_it_pending() {
    let harness = Harness::new();
    receive(&harness, &[order_body(5542, "250.00")]).await;
    let dead = kill_all_deliveries(&harness).await;
    assert!(
        harness.was_woken().await,
        "the webhook itself wakes the dispatcher"
    );
    let app = admin_app!(harness);

    let (status, body) = answer(
        test::call_service(
            &app,
            admin_post(&format!("/admin/deliveries/{}/replay", dead[0])).to_request(),
        )
        .await,
    )
    .await;
    let (again_status, again) = answer(
        test::call_service(
            &app,
            admin_post(&format!("/admin/deliveries/{}/replay", dead[0])).to_request(),
        )
        .await,
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending");
    assert!(harness.was_woken().await);
    assert_eq!(again_status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"], "replay_not_applicable");
}

#[actix_web::test]
async fn dead_event_replay_revives_its_deliveries() {
    let harness = Harness::new();
    let ids = receive(&harness, &[order_body(5542, "250.00")]).await;
    let mut dead = kill_all_deliveries(&harness).await;
    let _ = harness.was_woken().await;
    let app = admin_app!(harness);

    let (status, body) = answer(
        test::call_service(
            &app,
            admin_post(&format!("/admin/events/{}/replay", ids[0])).to_request(),
        )
        .await,
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let mut revived: Vec<i64> = body["revived"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_i64().unwrap())
        .collect();
    revived.sort();
    dead.sort();
    assert_eq!(revived, dead);
    assert!(body["created"].as_array().unwrap().is_empty());
    assert!(harness.was_woken().await);
}

#[actix_web::test]
async fn stale_event_replay_creates_deliveries() {
    let harness = Harness::new();
    let old = Utc::now() - chrono::Duration::days(10);
    let ids = receive(&harness, &[order_body_at(5542, "250.00", old)]).await;
    let app = admin_app!(harness);

    let (status, body) = answer(
        test::call_service(
            &app,
            admin_post(&format!("/admin/events/{}/replay", ids[0])).to_request(),
        )
        .await,
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["created"].as_array().unwrap().len(), 2);
    assert!(harness.was_woken().await);
    let record = harness.store.get_event(ids[0]).await.unwrap().unwrap();
    assert_eq!(record.summary.status.as_str(), "accepted");
}

#[actix_web::test]
async fn replays_that_do_not_apply_conflict() {
    let harness = Harness::new();
    let ids = receive(
        &harness,
        &[order_body(5542, "250.00"), order_body(5543, "250.01")],
    )
    .await;
    let _ = harness.was_woken().await;
    let app = admin_app!(harness);

    let (pending_status, pending) = answer(
        test::call_service(
            &app,
            admin_post(&format!("/admin/events/{}/replay", ids[0])).to_request(),
        )
        .await,
    )
    .await;
    let (invalid_status, invalid) = answer(
        test::call_service(
            &app,
            admin_post(&format!("/admin/events/{}/replay", ids[1])).to_request(),
        )
        .await,
    )
    .await;

    assert_eq!(pending_status, StatusCode::CONFLICT, "{pending}");
    assert_eq!(pending["error"], "nothing_to_replay");
    assert_eq!(invalid_status, StatusCode::CONFLICT, "{invalid}");
    assert_eq!(invalid["error"], "still_invalid");
    assert_eq!(invalid["reason"], "total_mismatch");
    assert!(!harness.was_woken().await);
}

#[actix_web::test]
async fn replay_uses_the_current_policy() {
    let harness = Harness::new();
    let ids = receive(&harness, &[order_body(5543, "250.01")]).await;
    let mut settings = acme_settings();
    let store: &dyn Store = harness.store.as_ref();

    let rejected = replay_event(store, &settings, ids[0], Utc::now()).await;
    settings.policy = ClassifyPolicy {
        total_mismatch: TotalMismatchPolicy::Adjust,
        ..ClassifyPolicy::default()
    };
    let adjusted = replay_event(store, &settings, ids[0], Utc::now())
        .await
        .unwrap();

    assert!(
        matches!(
            rejected,
            Err(ReplayError::StillInvalid {
                reason: ReasonCode::TotalMismatch,
                ..
            })
        ),
        "{rejected:?}"
    );
    assert_eq!(adjusted.created.len(), 2);
}
