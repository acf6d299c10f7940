//! Contract tests of the client credentials grant: the target exchanges the
//! app's client ID and secret for expiring access tokens at
//! `/admin/oauth/access_token` and uses them on the GraphQL endpoint.

use std::time::Duration;

use serde_json::json;
use wamebo_core::{DeliveryError, OrderSink, ReasonCode};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

/// A token that Shopify has stopped accepting.
const EXPIRED_TOKEN: &str = "shpat_contract_expired";

/// The token issued after the first one.
const RENEWED_TOKEN: &str = "shpat_contract_renewed";

/// The lifetime Shopify gives a client credentials token, in seconds.
const DAY_TOKEN_LIFETIME: u64 = 86_399;

/// Mounts a response issuing `token` to the next grant request only.
async fn mount_first_token(server: &MockServer, token: &str, expires_in: u64) {
    token_request()
        .respond_with(issued(token, expires_in))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .named(format!("token request issuing {token}"))
        .mount(server)
        .await;
}

/// Mounts a `CustomerByPhone` response for the documented phone, matched
/// only when sent with `token`.
async fn mount_customer_with(server: &MockServer, token: &str, times: u64) {
    shopify_with(
        token,
        graphql("CustomerByPhone").variables(json!({ "phone": "+15551234567" })),
    )
    .respond_with(data(
        json!({ "customerByIdentifier": { "id": "gid://shopify/Customer/301" } }),
    ))
    .expect(times)
    .named(format!("CustomerByPhone with {token}"))
    .mount(server)
    .await;
}

/// Mounts an `OrderCreate` response, matched only when sent with `token`.
async fn mount_order_create_with(server: &MockServer, token: &str, times: u64) {
    shopify_with(token, graphql("OrderCreate"))
        .respond_with(created("gid://shopify/Order/9001", "250.00", "USD"))
        .expect(times)
        .named(format!("OrderCreate with {token}"))
        .mount(server)
        .await;
}

#[tokio::test]
async fn grant_token_is_requested_once() {
    let server = start().await;
    token_request()
        .respond_with(issued(TOKEN, DAY_TOKEN_LIFETIME))
        .expect(1)
        .named("token request")
        .mount(&server)
        .await;
    mount_shop_setup(&server, "USD", true).await;
    mount_variant(&server, "PROD-A1", "gid://shopify/ProductVariant/101", 1).await;
    mount_variant(&server, "PROD-B2", "gid://shopify/ProductVariant/202", 1).await;
    mount_customer(&server, Some("gid://shopify/Customer/301"), 3).await;
    mount_order_create_with(&server, TOKEN, 3).await;
    let sink = grant_sink(&server);

    for order_id in [5542, 5543, 5544] {
        let delivered = sink
            .create_order(&context(), &documented_order_numbered(order_id))
            .await;

        assert_eq!(
            delivered.unwrap().remote_id.as_deref(),
            Some("gid://shopify/Order/9001"),
            "order {order_id}"
        );
    }
}

#[tokio::test]
async fn short_lived_token_is_renewed() {
    let server = start().await;
    // Renewed at 1.8 s, a tenth of its lifetime before it expires.
    mount_first_token(&server, TOKEN, 2).await;
    token_request()
        .respond_with(issued(RENEWED_TOKEN, DAY_TOKEN_LIFETIME))
        .expect(1)
        .named("token request issuing the renewed token")
        .mount(&server)
        .await;
    mount_documented_lookups(&server).await;
    mount_order_create_with(&server, TOKEN, 1).await;
    mount_customer_with(&server, RENEWED_TOKEN, 1).await;
    mount_order_create_with(&server, RENEWED_TOKEN, 1).await;
    let sink = grant_sink(&server);

    let first = sink.create_order(&context(), &documented_order()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = sink
        .create_order(&context(), &documented_order_numbered(5543))
        .await;

    assert!(first.is_ok(), "{first:?}");
    assert!(second.is_ok(), "{second:?}");
}

#[tokio::test]
async fn rejected_token_is_replaced_and_retried() {
    let server = start().await;
    mount_first_token(&server, EXPIRED_TOKEN, DAY_TOKEN_LIFETIME).await;
    token_request()
        .respond_with(issued(TOKEN, DAY_TOKEN_LIFETIME))
        .expect(1)
        .named("token request replacing the rejected token")
        .mount(&server)
        .await;
    shopify_with(EXPIRED_TOKEN, graphql("ShopSetup"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        })))
        .expect(1)
        .named("ShopSetup rejecting the expired token")
        .mount(&server)
        .await;
    mount_documented_lookups(&server).await;
    mount_order_create_with(&server, TOKEN, 1).await;

    let delivered = grant_sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap();

    assert_eq!(
        delivered.remote_id.as_deref(),
        Some("gid://shopify/Order/9001")
    );
}

#[tokio::test]
async fn concurrent_rejections_share_one_request() {
    let server = start().await;
    mount_first_token(&server, TOKEN, DAY_TOKEN_LIFETIME).await;
    // The delay keeps the request running while the other callers arrive.
    token_request()
        .respond_with(
            issued(RENEWED_TOKEN, DAY_TOKEN_LIFETIME).set_delay(Duration::from_millis(300)),
        )
        .expect(1)
        .named("one token request for three rejected callers")
        .mount(&server)
        .await;
    mount_shop_setup(&server, "USD", true).await;
    mount_variant(&server, "PROD-A1", "gid://shopify/ProductVariant/101", 1).await;
    mount_variant(&server, "PROD-B2", "gid://shopify/ProductVariant/202", 1).await;
    shopify(graphql("CustomerByPhone"))
        .respond_with(data(
            json!({ "customerByIdentifier": { "id": "gid://shopify/Customer/301" } }),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .named("CustomerByPhone before Shopify revokes the token")
        .mount(&server)
        .await;
    shopify(graphql("CustomerByPhone"))
        .respond_with(ResponseTemplate::new(401))
        .expect(3)
        .named("CustomerByPhone rejecting the revoked token")
        .mount(&server)
        .await;
    mount_order_create_with(&server, TOKEN, 1).await;
    mount_customer_with(&server, RENEWED_TOKEN, 3).await;
    mount_order_create_with(&server, RENEWED_TOKEN, 3).await;
    let sink = grant_sink(&server);
    let ctx = context();
    let orders = [5543, 5544, 5545].map(documented_order_numbered);
    let first = sink.create_order(&ctx, &documented_order()).await;

    let (a, b, c) = tokio::join!(
        sink.create_order(&ctx, &orders[0]),
        sink.create_order(&ctx, &orders[1]),
        sink.create_order(&ctx, &orders[2]),
    );

    assert!(first.is_ok(), "{first:?}");
    for result in [a, b, c] {
        assert!(result.is_ok(), "{result:?}");
    }
}

#[tokio::test]
async fn replaced_token_rejected_again_is_auth_failed() {
    let server = start().await;
    mount_first_token(&server, EXPIRED_TOKEN, DAY_TOKEN_LIFETIME).await;
    token_request()
        .respond_with(issued(TOKEN, DAY_TOKEN_LIFETIME))
        .expect(1)
        .named("token request replacing the rejected token")
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(graphql("ShopSetup"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .named("ShopSetup rejecting both tokens")
        .mount(&server)
        .await;

    let error = grant_sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap_err();

    let DeliveryError::Permanent { reason, message } = error else {
        panic!("expected a permanent error, got {error:?}");
    };
    assert_eq!(reason, ReasonCode::AuthFailed);
    assert!(message.contains("HTTP 401"), "{message}");
    assert!(
        message.contains("installed on acme.myshopify.com"),
        "{message}"
    );
    assert!(message.contains("write_orders"), "{message}");
}

#[tokio::test]
async fn refused_grant_is_auth_failed() {
    let cases = [
        (
            400,
            json!({
                "error": "shop_not_permitted",
                "error_description": "Client credentials cannot be performed on this shop."
            }),
            "OAuth error `shop_not_permitted`: Client credentials cannot be performed on this shop.",
        ),
        (
            400,
            json!({
                "error": "app_not_installed",
                "error_description": "The application is not installed on this shop."
            }),
            "OAuth error `app_not_installed`",
        ),
        (
            401,
            json!({ "error": "invalid_client" }),
            "HTTP 401 Unauthorized, OAuth error `invalid_client`",
        ),
        (
            400,
            json!({
                "error": "invalid_client",
                "error_description": format!("client_secret {CLIENT_SECRET} is not valid")
            }),
            "client_secret <redacted> is not valid",
        ),
        (
            400,
            json!({ "error": "<script>", "error_description": "odd" }),
            "OAuth error with an unrecognised code",
        ),
        (400, json!("not an OAuth body"), "and no OAuth error body"),
    ];
    for (status, body, expected) in cases {
        let server = start().await;
        token_request()
            .respond_with(ResponseTemplate::new(status).set_body_json(&body))
            .expect(1)
            .named(format!("token request refused with HTTP {status}"))
            .mount(&server)
            .await;

        let error = grant_sink(&server)
            .create_order(&context(), &documented_order())
            .await
            .unwrap_err();

        let DeliveryError::Permanent { reason, message } = error else {
            panic!("{body}: expected a permanent error, got {error:?}");
        };
        assert_eq!(reason, ReasonCode::AuthFailed, "{body}");
        assert!(message.contains(expected), "{body}: {message}");
        assert!(
            message.contains("check client_id and client_secret"),
            "{message}"
        );
        assert!(!message.contains(CLIENT_SECRET), "{message}");
        assert!(!message.contains(CLIENT_SECRET_ENCODED), "{message}");
    }
}

#[tokio::test]
async fn failed_token_request_is_retryable() {
    let cases = [
        (
            ResponseTemplate::new(503),
            ReasonCode::RemoteUnavailable,
            "HTTP 503",
        ),
        (
            ResponseTemplate::new(500).set_body_string("<html>oops</html>"),
            ReasonCode::RemoteUnavailable,
            "HTTP 500",
        ),
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "2.0"),
            ReasonCode::RemoteThrottled,
            "throttled",
        ),
        (
            ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"),
            ReasonCode::RemoteUnavailable,
            "not a token response",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({ "access_token": "" })),
            ReasonCode::RemoteUnavailable,
            "empty access_token",
        ),
    ];
    for (response, expected_reason, expected_text) in cases {
        let server = start().await;
        token_request()
            .respond_with(response)
            .expect(1)
            .named(format!("token request failing with {expected_text}"))
            .mount(&server)
            .await;

        let error = grant_sink(&server)
            .create_order(&context(), &documented_order())
            .await
            .unwrap_err();

        let DeliveryError::Retry {
            reason,
            message,
            maybe_created,
            ..
        } = error
        else {
            panic!("{expected_text}: expected a retry, got {error:?}");
        };
        assert_eq!(reason, expected_reason, "{message}");
        assert!(message.contains(expected_text), "{message}");
        assert!(!maybe_created, "no order request was sent: {message}");
        assert!(!message.contains(CLIENT_SECRET), "{message}");
    }
}

#[tokio::test]
async fn unreachable_token_endpoint_is_retryable() {
    let server = start().await;
    // Nothing listens on port 1, so the connection is refused at once.
    let sink = grant_sink_with(&server, |config| {
        config["base_url"] = json!("http://127.0.0.1:1");
    });

    let error = sink
        .create_order(&context(), &documented_order())
        .await
        .unwrap_err();

    let DeliveryError::Retry {
        reason,
        message,
        maybe_created,
        ..
    } = error
    else {
        panic!("expected a retry, got {error:?}");
    };
    assert_eq!(reason, ReasonCode::RemoteUnavailable);
    assert!(
        message.contains("requesting an access token failed"),
        "{message}"
    );
    assert!(!maybe_created, "{message}");
}

#[tokio::test]
async fn grant_secrets_stay_out_of_logs() {
    let log = crate::global_json_log();
    let server = start().await;
    mount_first_token(&server, EXPIRED_TOKEN, DAY_TOKEN_LIFETIME).await;
    token_request()
        .respond_with(issued(TOKEN, DAY_TOKEN_LIFETIME))
        .expect(1)
        .named("token request replacing the rejected token")
        .mount(&server)
        .await;
    shopify_with(EXPIRED_TOKEN, graphql("ShopSetup"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .named("ShopSetup rejecting the expired token")
        .mount(&server)
        .await;
    mount_documented_lookups(&server).await;
    mount_order_create_with(&server, TOKEN, 1).await;
    let sink = grant_sink(&server);

    sink.create_order(&context(), &documented_order())
        .await
        .unwrap();

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let debug = format!("{sink:?}");
    for secret in [CLIENT_SECRET, CLIENT_SECRET_ENCODED, TOKEN, EXPIRED_TOKEN] {
        assert!(!text.contains(secret), "log contains {secret}: {text}");
        assert!(!debug.contains(secret), "Debug contains {secret}: {debug}");
    }
    let requested = text.lines().any(|line| {
        line.contains("requested a Shopify access token with the client credentials grant")
            && line.contains("\"target_id\":\"acme-shopify\"")
    });
    assert!(requested, "no token request log line in {text}");
}
