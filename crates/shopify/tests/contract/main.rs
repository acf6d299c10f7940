//! Contract tests of the Shopify target against a stand-in Admin GraphQL
//! API whose responses follow Shopify's documented shapes.

mod grant;
mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use wamebo_core::{DeliveryError, OrderSink, ReasonCode};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use support::*;

#[tokio::test]
async fn documented_order_posts_expected_variables() {
    let server = start().await;
    mount_documented_lookups(&server).await;
    let expected = json!({
        "order": {
            "currency": "USD",
            "lineItems": [
                {
                    "variantId": "gid://shopify/ProductVariant/101",
                    "quantity": 2,
                    "priceSet": { "shopMoney": { "amount": "100.00", "currencyCode": "USD" } }
                },
                {
                    "variantId": "gid://shopify/ProductVariant/202",
                    "quantity": 1,
                    "priceSet": { "shopMoney": { "amount": "50.00", "currencyCode": "USD" } }
                }
            ],
            "phone": "+15551234567",
            "customer": { "toAssociate": { "id": "gid://shopify/Customer/301" } },
            "financialStatus": "PENDING",
            "sourceName": "wamebo",
            "sourceIdentifier": "acme-5542",
            "tags": ["wamebo", "wamebo-acme-5542"],
            "note": "WhatsApp order 5542 from Wamebo (Meta order wamid.HBgLOTE...)",
            "metafields": [{
                "namespace": "wamebo",
                "key": "order_id",
                "type": "id",
                "value": "acme-5542"
            }]
        },
        "options": { "inventoryBehaviour": "BYPASS", "sendReceipt": false }
    });
    shopify(graphql("OrderCreate").variables(expected))
        .respond_with(created("gid://shopify/Order/9001", "250.0", "USD"))
        .expect(1)
        .named("OrderCreate with the documented order")
        .mount(&server)
        .await;
    let sink = sink(&server);

    let delivered = sink
        .create_order(&context(), &documented_order())
        .await
        .unwrap();

    assert_eq!(
        delivered.remote_id.as_deref(),
        Some("gid://shopify/Order/9001")
    );
    assert_eq!(delivered.note, None);
    assert_eq!(sink.kind(), "shopify");
    assert_eq!(sink.total_mismatches(), 0);
    assert_eq!(sink.request_timeout(), Duration::from_secs(5));
    assert_eq!(sink.max_attempt_duration(), Duration::from_secs(10));
}

#[tokio::test]
async fn existing_customer_is_associated() {
    let server = start().await;
    mount_documented_lookups(&server).await;
    shopify(
        graphql("OrderCreate")
            .variable(
                "/order/customer",
                json!({ "toAssociate": { "id": "gid://shopify/Customer/301" } }),
            )
            .without("/order/customer/toUpsert"),
    )
    .respond_with(created("gid://shopify/Order/9001", "250.00", "USD"))
    .expect(1)
    .named("OrderCreate associating customer 301")
    .mount(&server)
    .await;

    let delivered = sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap();

    assert_eq!(
        delivered.remote_id.as_deref(),
        Some("gid://shopify/Order/9001")
    );
}

#[tokio::test]
async fn new_customer_is_created_once() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    mount_variant(&server, "PROD-A1", "gid://shopify/ProductVariant/101", 1).await;
    mount_variant(&server, "PROD-B2", "gid://shopify/ProductVariant/202", 1).await;
    shopify(graphql("CustomerByPhone").variables(json!({ "phone": "+15551234567" })))
        .respond_with(data(json!({ "customerByIdentifier": null })))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .named("CustomerByPhone before the customer exists")
        .mount(&server)
        .await;
    mount_customer(&server, Some("gid://shopify/Customer/777"), 1).await;
    shopify(graphql("OrderCreate").variable(
        "/order/customer",
        json!({ "toUpsert": { "phone": "+15551234567", "firstName": "Michael", "lastName": "Smith" } }),
    ))
    .respond_with(created("gid://shopify/Order/9001", "250.00", "USD"))
    .expect(1)
    .named("OrderCreate creating the customer")
    .mount(&server)
    .await;
    shopify(graphql("OrderCreate").variable(
        "/order/customer",
        json!({ "toAssociate": { "id": "gid://shopify/Customer/777" } }),
    ))
    .respond_with(created("gid://shopify/Order/9002", "250.00", "USD"))
    .expect(1)
    .named("OrderCreate associating the created customer")
    .mount(&server)
    .await;
    let sink = sink(&server);

    let first = sink
        .create_order(&context(), &documented_order())
        .await
        .unwrap();
    let second = sink
        .create_order(&context(), &documented_order_numbered(5543))
        .await
        .unwrap();

    assert_eq!(first.remote_id.as_deref(), Some("gid://shopify/Order/9001"));
    assert_eq!(
        second.remote_id.as_deref(),
        Some("gid://shopify/Order/9002")
    );
}

#[tokio::test]
async fn throttled_response_then_success() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    mount_variant(&server, "PROD-A1", "gid://shopify/ProductVariant/101", 1).await;
    mount_variant(&server, "PROD-B2", "gid://shopify/ProductVariant/202", 1).await;
    mount_customer(&server, Some("gid://shopify/Customer/301"), 2).await;
    shopify(graphql("OrderCreate"))
        .respond_with(throttled(20.0, 0.0))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .named("OrderCreate throttled")
        .mount(&server)
        .await;
    shopify(graphql("OrderCreate"))
        .respond_with(created("gid://shopify/Order/9001", "250.00", "USD"))
        .expect(1)
        .named("OrderCreate after the throttle")
        .mount(&server)
        .await;
    let sink = sink(&server);

    let first = sink.create_order(&context(), &documented_order()).await;
    let second = sink.create_order(&context(), &documented_order()).await;

    let Err(DeliveryError::Retry {
        reason,
        retry_after,
        maybe_created,
        ..
    }) = first
    else {
        panic!("expected a retry, got {first:?}");
    };
    assert_eq!(reason, ReasonCode::RemoteThrottled);
    // 20 points missing at 100 points per second.
    assert_eq!(retry_after, Some(Duration::from_millis(200)));
    assert!(!maybe_created, "a throttled request never ran");
    assert_eq!(
        second.unwrap().remote_id.as_deref(),
        Some("gid://shopify/Order/9001")
    );
}

#[tokio::test]
async fn http_429_honours_retry_after() {
    let server = start().await;
    mount_documented_lookups(&server).await;
    shopify(graphql("OrderCreate"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2.0"))
        .expect(1)
        .named("OrderCreate answered 429")
        .mount(&server)
        .await;

    let result = sink(&server)
        .create_order(&context(), &documented_order())
        .await;

    assert_eq!(
        result.as_ref().map_err(DeliveryError::reason),
        Err(ReasonCode::RemoteThrottled)
    );
    let Err(DeliveryError::Retry {
        retry_after,
        maybe_created,
        ..
    }) = result
    else {
        panic!("expected a retry, got {result:?}");
    };
    assert_eq!(retry_after, Some(Duration::from_secs(2)));
    assert!(!maybe_created);
}

#[tokio::test]
async fn user_errors_are_permanent_with_code() {
    let server = start().await;
    mount_documented_lookups(&server).await;
    shopify(graphql("OrderCreate"))
        .respond_with(data(json!({
            "orderCreate": {
                "order": null,
                "userErrors": [{
                    "field": ["order", "lineItems", "0", "variantId"],
                    "message": "Variant is not available for sale",
                    "code": "INVALID"
                }]
            }
        })))
        .expect(1)
        .named("OrderCreate with user errors")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap_err();

    let DeliveryError::Permanent { reason, message } = error else {
        panic!("expected a permanent error, got {error:?}");
    };
    assert_eq!(reason, ReasonCode::RemoteRejected);
    assert!(
        message
            .contains("INVALID at order.lineItems.0.variantId: Variant is not available for sale"),
        "{message}"
    );
    assert!(message.contains("order 5542"), "{message}");
}

#[tokio::test]
async fn unknown_sku_is_not_found() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    // Shopify's search matches loosely: a longer SKU is not this SKU.
    shopify(graphql("VariantsBySku").variables(json!({ "query": "sku:\"PROD-A1\"" })))
        .respond_with(data(json!({
            "productVariants": {
                "nodes": [{ "id": "gid://shopify/ProductVariant/999", "sku": "PROD-A10" }]
            }
        })))
        .expect(1)
        .named("VariantsBySku with only a near match")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap_err();

    let DeliveryError::Permanent { reason, message } = error else {
        panic!("expected a permanent error, got {error:?}");
    };
    assert_eq!(reason, ReasonCode::SkuNotFound);
    assert!(message.contains("SKU `PROD-A1`"), "{message}");
    assert!(message.contains("acme.myshopify.com"), "{message}");
}

#[tokio::test]
async fn lookup_adopts_earlier_order() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    shopify(graphql("OrderByCustomId").variables(json!({
        "namespace": "wamebo",
        "key": "order_id",
        "value": "acme-5542"
    })))
    .respond_with(data(json!({
        "orderByIdentifier": order_node("gid://shopify/Order/9001", "250.00", "USD")
    })))
    .expect(1)
    .named("OrderByCustomId finding the earlier order")
    .mount(&server)
    .await;

    let found = sink(&server)
        .find_existing(&context(), &documented_order())
        .await
        .unwrap();

    let delivered = found.expect("the earlier order is found");
    assert_eq!(
        delivered.remote_id.as_deref(),
        Some("gid://shopify/Order/9001")
    );
    assert_eq!(delivered.note, None);
}

#[tokio::test]
async fn jpy_amounts_have_no_decimals() {
    let server = start().await;
    mount_shop_setup(&server, "JPY", true).await;
    mount_variant(&server, "PROD-A1", "gid://shopify/ProductVariant/101", 1).await;
    mount_variant(&server, "PROD-B2", "gid://shopify/ProductVariant/202", 1).await;
    mount_customer(&server, Some("gid://shopify/Customer/301"), 1).await;
    shopify(
        graphql("OrderCreate")
            .variable("/order/currency", json!("JPY"))
            .variable(
                "/order/lineItems/0/priceSet",
                json!({ "shopMoney": { "amount": "2500", "currencyCode": "JPY" } }),
            )
            .variable(
                "/order/lineItems/1/priceSet",
                json!({ "shopMoney": { "amount": "1200", "currencyCode": "JPY" } }),
            ),
    )
    .respond_with(created("gid://shopify/Order/9001", "6200.0", "JPY"))
    .expect(1)
    .named("OrderCreate in JPY")
    .mount(&server)
    .await;
    let order = order_from(
        &DOCUMENTED_ORDER
            .replace("\"USD\"", "\"JPY\"")
            .replace("250.00", "6200")
            .replace("100.00", "2500.0")
            .replace("50.00", "1200"),
    );

    let delivered = sink(&server)
        .create_order(&context(), &order)
        .await
        .unwrap();

    assert_eq!(delivered.note, None, "6200.0 JPY equals 6200 JPY");
}

#[tokio::test]
async fn ambiguous_sku_is_permanent() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    shopify(graphql("VariantsBySku").variables(json!({ "query": "sku:\"PROD-A1\"" })))
        .respond_with(data(json!({
            "productVariants": {
                "nodes": [
                    { "id": "gid://shopify/ProductVariant/1", "sku": "PROD-A1" },
                    { "id": "gid://shopify/ProductVariant/2", "sku": "PROD-A1" }
                ]
            }
        })))
        .expect(1)
        .named("VariantsBySku with two exact matches")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap_err();

    assert_eq!(error.reason(), ReasonCode::SkuAmbiguous);
    assert!(
        error.to_string().contains("matches 2 product variants"),
        "{error}"
    );
}

#[tokio::test]
async fn sku_map_variant_id_skips_lookup() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    mount_variant(&server, "SHOP-B2", "gid://shopify/ProductVariant/202", 1).await;
    mount_customer(&server, Some("gid://shopify/Customer/301"), 1).await;
    shopify(
        graphql("OrderCreate")
            .variable(
                "/order/lineItems/0/variantId",
                json!("gid://shopify/ProductVariant/55"),
            )
            .variable(
                "/order/lineItems/1/variantId",
                json!("gid://shopify/ProductVariant/202"),
            ),
    )
    .respond_with(created("gid://shopify/Order/9001", "250.00", "USD"))
    .expect(1)
    .named("OrderCreate with mapped variants")
    .mount(&server)
    .await;
    let sink = sink_with(&server, |config| {
        config["sku_map"] = json!({
            "PROD-A1": "gid://shopify/ProductVariant/55",
            "PROD-B2": "SHOP-B2"
        });
    });

    let delivered = sink
        .create_order(&context(), &documented_order())
        .await
        .unwrap();

    assert_eq!(
        delivered.remote_id.as_deref(),
        Some("gid://shopify/Order/9001")
    );
}

#[tokio::test]
async fn unauthorized_token_is_auth_failed() {
    let server = start().await;
    shopify(graphql("ShopSetup"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        })))
        .expect(1)
        .named("ShopSetup answered 401")
        .mount(&server)
        .await;
    // A fixed token has no replacement, so the 401 is final.
    Mock::given(method("POST"))
        .and(path(TOKEN_ENDPOINT))
        .respond_with(issued(TOKEN, 86_399))
        .expect(0)
        .named("token request in fixed-token mode")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap_err();

    let DeliveryError::Permanent { reason, message } = error else {
        panic!("expected a permanent error, got {error:?}");
    };
    assert_eq!(reason, ReasonCode::AuthFailed);
    assert!(message.contains("write_orders"), "{message}");
    assert!(!message.contains(TOKEN), "{message}");
}

#[tokio::test]
async fn access_denied_error_is_auth_failed() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    mount_variant(&server, "PROD-A1", "gid://shopify/ProductVariant/101", 1).await;
    mount_variant(&server, "PROD-B2", "gid://shopify/ProductVariant/202", 1).await;
    shopify(graphql("CustomerByPhone"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errors": [{
                "message": "Access denied for customerByIdentifier field. Required access: `read_customers` access scope.",
                "locations": [{ "line": 2, "column": 3 }],
                "path": ["customerByIdentifier"],
                "extensions": { "code": "ACCESS_DENIED" }
            }],
            "data": { "customerByIdentifier": null }
        })))
        .expect(1)
        .named("CustomerByPhone denied")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap_err();

    assert_eq!(error.reason(), ReasonCode::AuthFailed);
    assert!(
        error
            .to_string()
            .contains("ACCESS_DENIED at customerByIdentifier"),
        "{error}"
    );
}

#[tokio::test]
async fn server_error_on_create_may_have_created() {
    let server = start().await;
    mount_documented_lookups(&server).await;
    shopify(graphql("OrderCreate"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .named("OrderCreate answered 503")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap_err();

    let DeliveryError::Retry {
        reason,
        maybe_created,
        ..
    } = error
    else {
        panic!("expected a retry, got {error:?}");
    };
    assert_eq!(reason, ReasonCode::RemoteUnavailable);
    assert!(
        maybe_created,
        "a 5xx after orderCreate was sent may hide a created order"
    );
}

#[tokio::test]
async fn server_error_before_create_is_plain_retry() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    shopify(graphql("VariantsBySku"))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .named("VariantsBySku answered 502")
        .mount(&server)
        .await;

    let error = sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap_err();

    let DeliveryError::Retry { maybe_created, .. } = error else {
        panic!("expected a retry, got {error:?}");
    };
    assert!(!maybe_created);
}

#[tokio::test]
async fn slow_create_times_out_as_maybe_created() {
    let server = start().await;
    mount_documented_lookups(&server).await;
    shopify(graphql("OrderCreate"))
        .respond_with(
            created("gid://shopify/Order/9001", "250.00", "USD").set_delay(Duration::from_secs(3)),
        )
        .expect(1)
        .named("OrderCreate slower than request_timeout")
        .mount(&server)
        .await;
    let sink = sink_with(&server, |config| {
        config["request_timeout"] = json!("1s");
        config["connect_timeout"] = json!("1s");
    });

    let started = Instant::now();
    let error = sink
        .create_order(&context(), &documented_order())
        .await
        .unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let DeliveryError::Retry {
        reason,
        maybe_created,
        ..
    } = error
    else {
        panic!("expected a retry, got {error:?}");
    };
    assert_eq!(reason, ReasonCode::RemoteUnavailable);
    assert!(maybe_created);
}

#[tokio::test]
async fn currency_mismatch_is_permanent() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;

    let error = sink(&server)
        .create_order(&context(), &documented_order_in("EUR"))
        .await
        .unwrap_err();

    let DeliveryError::Permanent { reason, message } = error else {
        panic!("expected a permanent error, got {error:?}");
    };
    assert_eq!(reason, ReasonCode::CurrencyMismatch);
    assert!(
        message.contains("currency_mode = \"presentment\""),
        "{message}"
    );
}

#[tokio::test]
async fn presentment_mode_sends_order_currency() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    mount_variant(&server, "PROD-A1", "gid://shopify/ProductVariant/101", 1).await;
    mount_variant(&server, "PROD-B2", "gid://shopify/ProductVariant/202", 1).await;
    mount_customer(&server, Some("gid://shopify/Customer/301"), 1).await;
    let eur = json!({ "amount": "100.00", "currencyCode": "EUR" });
    shopify(
        graphql("OrderCreate")
            .variable("/order/currency", json!("EUR"))
            .variable("/order/presentmentCurrency", json!("EUR"))
            .variable(
                "/order/lineItems/0/priceSet",
                json!({ "shopMoney": eur, "presentmentMoney": eur }),
            ),
    )
    .respond_with(created("gid://shopify/Order/9001", "250.00", "EUR"))
    .expect(1)
    .named("OrderCreate in the presentment currency")
    .mount(&server)
    .await;
    let sink = sink_with(&server, |config| {
        config["currency_mode"] = json!("presentment")
    });

    let delivered = sink
        .create_order(&context(), &documented_order_in("EUR"))
        .await
        .unwrap();

    assert_eq!(delivered.note, None);
}

#[tokio::test]
async fn missing_definition_is_created_once() {
    let server = start().await;
    mount_shop_setup(&server, "USD", false).await;
    shopify(graphql("OrderIdDefinitionCreate").variables(json!({
        "definition": {
            "name": "Wamebo order id",
            "namespace": "wamebo",
            "key": "order_id",
            "description": "The Wamebo order this order was created from, as {store}-{order_id}. Set by wamebo-bridge.",
            "ownerType": "ORDER",
            "type": "id"
        }
    })))
    .respond_with(data(json!({
        "metafieldDefinitionCreate": {
            "createdDefinition": { "id": "gid://shopify/MetafieldDefinition/1" },
            "userErrors": []
        }
    })))
    .expect(1)
    .named("OrderIdDefinitionCreate")
    .mount(&server)
    .await;
    mount_variant(&server, "PROD-A1", "gid://shopify/ProductVariant/101", 1).await;
    mount_variant(&server, "PROD-B2", "gid://shopify/ProductVariant/202", 1).await;
    mount_customer(&server, Some("gid://shopify/Customer/301"), 2).await;
    shopify(graphql("OrderCreate").variable("/order/metafields/0/type", json!("id")))
        .respond_with(created("gid://shopify/Order/9001", "250.00", "USD"))
        .expect(2)
        .named("OrderCreate with the custom id")
        .mount(&server)
        .await;
    let sink = sink(&server);

    sink.create_order(&context(), &documented_order())
        .await
        .unwrap();
    sink.create_order(&context(), &documented_order_numbered(5543))
        .await
        .unwrap();
}

#[tokio::test]
async fn tag_lookup_without_definition_access() {
    let server = start().await;
    mount_shop_setup(&server, "USD", false).await;
    shopify(graphql("OrderIdDefinitionCreate"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errors": [{
                "message": "Access denied for metafieldDefinitionCreate field.",
                "extensions": { "code": "ACCESS_DENIED" }
            }]
        })))
        .expect(1)
        .named("OrderIdDefinitionCreate denied")
        .mount(&server)
        .await;
    shopify(graphql("OrdersByTag").variables(json!({ "query": "tag:\"wamebo-acme-5542\"" })))
        .respond_with(data(json!({
            "orders": {
                "nodes": [
                    { "id": "gid://shopify/Order/1", "name": "#1", "tags": ["wamebo-acme-55421"], "totalPriceSet": null },
                    {
                        "id": "gid://shopify/Order/9001",
                        "name": "#1001",
                        "tags": ["wamebo", "wamebo-acme-5542"],
                        "totalPriceSet": { "shopMoney": { "amount": "250.00", "currencyCode": "USD" }, "presentmentMoney": null }
                    }
                ]
            }
        })))
        .expect(1)
        .named("OrdersByTag")
        .mount(&server)
        .await;

    let found = sink(&server)
        .find_existing(&context(), &documented_order())
        .await
        .unwrap();

    assert_eq!(
        found.and_then(|delivered| delivered.remote_id).as_deref(),
        Some("gid://shopify/Order/9001")
    );
}

#[tokio::test]
async fn lookup_without_earlier_order_finds_none() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    shopify(graphql("OrderByCustomId"))
        .respond_with(data(json!({ "orderByIdentifier": null })))
        .expect(1)
        .named("OrderByCustomId finding nothing")
        .mount(&server)
        .await;
    shopify(graphql("OrdersByTag"))
        .respond_with(data(json!({ "orders": { "nodes": [] } })))
        .expect(1)
        .named("OrdersByTag finding nothing")
        .mount(&server)
        .await;

    let found = sink(&server)
        .find_existing(&context(), &documented_order())
        .await
        .unwrap();

    assert_eq!(found, None);
}

#[tokio::test]
async fn taken_phone_associates_its_owner() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    mount_variant(&server, "PROD-A1", "gid://shopify/ProductVariant/101", 1).await;
    mount_variant(&server, "PROD-B2", "gid://shopify/ProductVariant/202", 1).await;
    shopify(graphql("CustomerByPhone"))
        .respond_with(data(json!({ "customerByIdentifier": null })))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .named("CustomerByPhone missing the owner")
        .mount(&server)
        .await;
    mount_customer(&server, Some("gid://shopify/Customer/888"), 1).await;
    shopify(
        graphql("OrderCreate").variable("/order/customer/toUpsert/phone", json!("+15551234567")),
    )
    .respond_with(data(json!({
        "orderCreate": {
            "order": null,
            "userErrors": [{
                "field": ["order", "customer", "toUpsert", "phone"],
                "message": "Phone has already been taken",
                "code": "INVALID"
            }]
        }
    })))
    .expect(1)
    .named("OrderCreate rejecting the taken phone")
    .mount(&server)
    .await;
    shopify(graphql("OrderCreate").variable(
        "/order/customer",
        json!({ "toAssociate": { "id": "gid://shopify/Customer/888" } }),
    ))
    .respond_with(created("gid://shopify/Order/9001", "250.00", "USD"))
    .expect(1)
    .named("OrderCreate associating the phone's owner")
    .mount(&server)
    .await;

    let delivered = sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap();

    assert_eq!(
        delivered.remote_id.as_deref(),
        Some("gid://shopify/Order/9001")
    );
}

#[tokio::test]
async fn duplicate_custom_id_adopts_existing_order() {
    let server = start().await;
    mount_documented_lookups(&server).await;
    shopify(graphql("OrderCreate"))
        .respond_with(data(json!({
            "orderCreate": {
                "order": null,
                "userErrors": [{
                    "field": ["order", "metafields", "0", "value"],
                    "message": "Value is already taken",
                    "code": "INVALID"
                }]
            }
        })))
        .expect(1)
        .named("OrderCreate rejecting a duplicate custom id")
        .mount(&server)
        .await;
    shopify(graphql("OrderByCustomId"))
        .respond_with(data(json!({
            "orderByIdentifier": order_node("gid://shopify/Order/9001", "250.00", "USD")
        })))
        .expect(1)
        .named("OrderByCustomId finding the duplicate")
        .mount(&server)
        .await;

    let delivered = sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap();

    assert_eq!(
        delivered.remote_id.as_deref(),
        Some("gid://shopify/Order/9001")
    );
}

#[tokio::test]
async fn totals_difference_is_noted() {
    let server = start().await;
    mount_documented_lookups(&server).await;
    shopify(graphql("OrderCreate"))
        .respond_with(created("gid://shopify/Order/9001", "265.5", "USD"))
        .expect(1)
        .named("OrderCreate with taxes added")
        .mount(&server)
        .await;
    let sink = sink(&server);

    let delivered = sink
        .create_order(&context(), &documented_order())
        .await
        .unwrap();

    assert_eq!(
        delivered.note.as_deref(),
        Some("Shopify total 265.50 USD differs from the Wamebo total 250.00 USD: the shop may have added taxes or shipping")
    );
    assert_eq!(sink.total_mismatches(), 1);
}

#[tokio::test]
async fn low_budget_delays_next_request() {
    let server = start().await;
    mount_shop_setup(&server, "USD", true).await;
    shopify(graphql("OrderByCustomId"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": { "orderByIdentifier": null },
            "extensions": { "cost": cost(50.0, 0.0) }
        })))
        .expect(2)
        .named("OrderByCustomId emptying the bucket")
        .mount(&server)
        .await;
    shopify(graphql("OrdersByTag"))
        .respond_with(data(json!({ "orders": { "nodes": [] } })))
        .expect(2)
        .named("OrdersByTag")
        .mount(&server)
        .await;
    let sink = sink(&server);
    sink.find_existing(&context(), &documented_order())
        .await
        .unwrap();

    let started = Instant::now();
    sink.find_existing(&context(), &documented_order())
        .await
        .unwrap();

    // Each custom-id response leaves the bucket at 0 of 2000 points, refilling
    // at 100 points per second, so the tag lookup after it (10 points) waits
    // 0.1 s before it is sent.
    assert!(
        started.elapsed() >= Duration::from_millis(90),
        "{:?}",
        started.elapsed()
    );
}

/// Installs, once per test binary, a global subscriber that writes the
/// bridge's `--log-format json` lines (event fields flattened beside
/// tracing's own `target`, the module path) into memory, and returns that
/// memory. A global subscriber, because a thread-local one misses events
/// while other tests' threads run without one.
fn global_json_log() -> CapturedLog {
    static LOG: std::sync::OnceLock<CapturedLog> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = CapturedLog::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test installs a subscriber");
        log
    })
    .clone()
}

/// A log destination that keeps what the subscriber writes.
#[derive(Clone, Default)]
struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn json_log_lines_keep_the_target_id() {
    let server = start().await;
    mount_documented_lookups(&server).await;
    shopify(graphql("OrderCreate"))
        .respond_with(created("gid://shopify/Order/9001", "275.00", "USD"))
        .expect(1)
        .named("OrderCreate with a total the shop raised")
        .mount(&server)
        .await;
    let log = global_json_log();

    sink(&server)
        .create_order(&context(), &documented_order())
        .await
        .unwrap();

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // Other tests log into the same memory, and their lines must name the
    // target too.
    let messages = [
        "Shopify order total differs from the Wamebo total",
        "created Shopify order",
    ];
    for message in messages {
        let matching: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|line| line["message"] == message)
            .collect();
        assert!(!matching.is_empty(), "no log line `{message}` in {text}");
        for line in matching {
            assert_eq!(line["target_id"], "acme-shopify", "{line}");
            assert_eq!(line["target"], "wamebo_shopify::sink", "{line}");
        }
    }
}
