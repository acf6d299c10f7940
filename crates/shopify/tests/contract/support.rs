//! A stand-in Shopify Admin API on wiremock, and orders built the way the
//! bridge builds them.

use chrono::Utc;
use serde_json::{json, Value};
use wamebo_core::{classify, ClassifyPolicy, DeliveryContext, Order, StoreId, TargetId};
use wamebo_shopify::{ShopifyConfig, ShopifySink};
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Match, Mock, MockBuilder, MockServer, Request, ResponseTemplate};

/// The access token every test sink sends.
pub const TOKEN: &str = "shpat_contract_test";
const TOKEN_VARIABLE: &str = "WAMEBO_SHOPIFY_CONTRACT_TOKEN";

/// The GraphQL endpoint path for the default API version.
pub const ENDPOINT: &str = "/admin/api/2026-10/graphql.json";

/// The client credentials grant's endpoint path.
pub const TOKEN_ENDPOINT: &str = "/admin/oauth/access_token";

/// The client ID of the test app from the Dev Dashboard.
pub const CLIENT_ID: &str = "contract-client-id";
const CLIENT_ID_VARIABLE: &str = "WAMEBO_SHOPIFY_CONTRACT_CLIENT_ID";

/// The client secret of the test app. The `+` must arrive form-encoded.
pub const CLIENT_SECRET: &str = "shpss_contract+secret";
const CLIENT_SECRET_VARIABLE: &str = "WAMEBO_SHOPIFY_CONTRACT_CLIENT_SECRET";

/// The client secret as it appears in the form-encoded token request.
pub const CLIENT_SECRET_ENCODED: &str = "shpss_contract%2Bsecret";

/// Matches a GraphQL request by operation name and, optionally, by its
/// variables: all of them, or single values at JSON pointers.
#[derive(Debug, Clone)]
pub struct GraphqlMatcher {
    operation: String,
    variables: Option<Value>,
    pointers: Vec<(String, Value)>,
    absent: Vec<String>,
}

/// Starts a matcher for the operation `name`.
pub fn graphql(name: &str) -> GraphqlMatcher {
    GraphqlMatcher {
        operation: name.to_owned(),
        variables: None,
        pointers: Vec::new(),
        absent: Vec::new(),
    }
}

impl GraphqlMatcher {
    /// Requires the variables to equal `variables` exactly.
    pub fn variables(mut self, variables: Value) -> Self {
        self.variables = Some(variables);
        self
    }

    /// Requires the variable at JSON pointer `pointer` to equal `value`.
    pub fn variable(mut self, pointer: &str, value: Value) -> Self {
        self.pointers.push((pointer.to_owned(), value));
        self
    }

    /// Requires the variables to have nothing at JSON pointer `pointer`.
    pub fn without(mut self, pointer: &str) -> Self {
        self.absent.push(pointer.to_owned());
        self
    }
}

impl Match for GraphqlMatcher {
    fn matches(&self, request: &Request) -> bool {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return false;
        };
        let Some(query) = body["query"].as_str() else {
            return false;
        };
        let declares = query.contains(&format!("query {}(", self.operation))
            || query.contains(&format!("mutation {}(", self.operation));
        if body["operationName"] != self.operation.as_str() || !declares {
            return false;
        }
        let variables = &body["variables"];
        if let Some(expected) = &self.variables {
            if variables != expected {
                return false;
            }
        }
        let pointers_match = self
            .pointers
            .iter()
            .all(|(pointer, expected)| variables.pointer(pointer) == Some(expected));
        let absent = self
            .absent
            .iter()
            .all(|pointer| variables.pointer(pointer).is_none());
        pointers_match && absent
    }
}

/// Starts a mock for `operation` on the GraphQL endpoint, sent with the
/// test token.
pub fn shopify(operation: GraphqlMatcher) -> MockBuilder {
    shopify_with(TOKEN, operation)
}

/// Starts a mock for `operation` on the GraphQL endpoint, sent with `token`.
pub fn shopify_with(token: &str, operation: GraphqlMatcher) -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("X-Shopify-Access-Token", token))
        .and(header("content-type", "application/json"))
        .and(operation)
}

/// Starts a mock for a client credentials grant request with the test
/// app's client ID and secret, form-encoded as Shopify documents it.
pub fn token_request() -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(TOKEN_ENDPOINT))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("accept", "application/json"))
        .and(body_string(format!(
            "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET_ENCODED}"
        )))
}

/// Builds the token endpoint's success response, shaped as Shopify sends it.
pub fn issued(token: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": token,
        "scope": "write_orders,read_orders,read_products,read_customers,write_customers",
        "expires_in": expires_in
    }))
}

/// Builds `extensions.cost` with a bucket of 2000 points refilling at 100
/// per second.
pub fn cost(requested: f64, available: f64) -> Value {
    json!({
        "requestedQueryCost": requested,
        "actualQueryCost": requested,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": available,
            "restoreRate": 100.0
        }
    })
}

/// Builds a 200 response carrying `data`.
pub fn data(data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "data": data,
        "extensions": { "cost": cost(10.0, 1990.0) }
    }))
}

/// Builds a 200 response whose `errors` carry `THROTTLED`, shaped as Shopify
/// sends it.
pub fn throttled(requested: f64, available: f64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "errors": [{
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits"
            }
        }],
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": null,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": available,
                    "restoreRate": 100.0
                }
            }
        }
    }))
}

/// Builds an `Order` as Shopify returns it from `orderCreate` or a lookup.
pub fn order_node(id: &str, total: &str, currency: &str) -> Value {
    json!({
        "id": id,
        "name": "#1001",
        "tags": [],
        "totalPriceSet": {
            "shopMoney": { "amount": total, "currencyCode": currency },
            "presentmentMoney": { "amount": total, "currencyCode": currency }
        }
    })
}

/// Builds a successful `orderCreate` response.
pub fn created(id: &str, total: &str, currency: &str) -> ResponseTemplate {
    data(json!({
        "orderCreate": { "order": order_node(id, total, currency), "userErrors": [] }
    }))
}

/// Starts the stand-in with a catch-all that fails the test on any request
/// no other mock expects.
pub async fn start() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404))
        .with_priority(u8::MAX)
        .expect(0)
        .named("request no mock expects")
        .mount(&server)
        .await;
    server
}

/// Answers `ShopSetup` once, with the shop's currency and, when
/// `definition` is set, the custom-id metafield definition.
pub async fn mount_shop_setup(server: &MockServer, currency: &str, definition: bool) {
    let definition = if definition {
        json!({ "id": "gid://shopify/MetafieldDefinition/1", "type": { "name": "id" } })
    } else {
        Value::Null
    };
    shopify(graphql("ShopSetup").variables(json!({ "namespace": "wamebo", "key": "order_id" })))
        .respond_with(data(json!({
            "shop": { "currencyCode": currency },
            "metafieldDefinition": definition
        })))
        .expect(1)
        .named("ShopSetup")
        .mount(server)
        .await;
}

/// Answers `VariantsBySku` for `sku` with one variant of exactly that SKU.
pub async fn mount_variant(server: &MockServer, sku: &str, variant_id: &str, times: u64) {
    shopify(graphql("VariantsBySku").variables(json!({ "query": format!("sku:\"{sku}\"") })))
        .respond_with(data(json!({
            "productVariants": { "nodes": [{ "id": variant_id, "sku": sku }] }
        })))
        .expect(times)
        .named(format!("VariantsBySku {sku}"))
        .mount(server)
        .await;
}

/// Answers `CustomerByPhone` for the documented order's phone.
pub async fn mount_customer(server: &MockServer, customer_id: Option<&str>, times: u64) {
    let customer = customer_id.map_or(Value::Null, |id| json!({ "id": id }));
    shopify(graphql("CustomerByPhone").variables(json!({ "phone": "+15551234567" })))
        .respond_with(data(json!({ "customerByIdentifier": customer })))
        .expect(times)
        .named("CustomerByPhone")
        .mount(server)
        .await;
}

/// Mounts the lookups the documented order needs before `orderCreate`: a
/// USD shop with the custom-id definition, both SKUs, and an existing
/// customer.
pub async fn mount_documented_lookups(server: &MockServer) {
    mount_shop_setup(server, "USD", true).await;
    mount_variant(server, "PROD-A1", "gid://shopify/ProductVariant/101", 1).await;
    mount_variant(server, "PROD-B2", "gid://shopify/ProductVariant/202", 1).await;
    mount_customer(server, Some("gid://shopify/Customer/301"), 1).await;
}

/// Builds a sink for `server`, with `adjust` applied to the configuration
/// first.
pub fn sink_with(server: &MockServer, adjust: impl FnOnce(&mut Value)) -> ShopifySink {
    std::env::set_var(TOKEN_VARIABLE, TOKEN);
    let mut config = json!({
        "shop_domain": "acme.myshopify.com",
        "access_token": format!("env:{TOKEN_VARIABLE}"),
        "base_url": server.uri(),
        "allow_insecure_http": true,
        "request_timeout": "5s",
        "connect_timeout": "2s",
    });
    adjust(&mut config);
    let config: ShopifyConfig = serde_json::from_value(config).expect("test config is valid");
    ShopifySink::new(TargetId::new("acme-shopify").unwrap(), config).expect("test config is valid")
}

/// Builds a sink for `server` with the default configuration.
pub fn sink(server: &MockServer) -> ShopifySink {
    sink_with(server, |_| {})
}

/// Builds a sink for `server` that requests its tokens with the test app's
/// client ID and secret instead of a fixed access token.
pub fn grant_sink(server: &MockServer) -> ShopifySink {
    grant_sink_with(server, |_| {})
}

/// Builds a sink like [`grant_sink`], with `adjust` applied to the
/// configuration first.
pub fn grant_sink_with(server: &MockServer, adjust: impl FnOnce(&mut Value)) -> ShopifySink {
    std::env::set_var(CLIENT_ID_VARIABLE, CLIENT_ID);
    std::env::set_var(CLIENT_SECRET_VARIABLE, CLIENT_SECRET);
    sink_with(server, |config| {
        let fields = config.as_object_mut().unwrap();
        fields.remove("access_token");
        fields.insert(
            "client_id".into(),
            format!("env:{CLIENT_ID_VARIABLE}").into(),
        );
        fields.insert(
            "client_secret".into(),
            format!("env:{CLIENT_SECRET_VARIABLE}").into(),
        );
        adjust(config);
    })
}

/// Returns the delivery context of a first attempt for store `acme`.
pub fn context() -> DeliveryContext {
    DeliveryContext {
        store_id: StoreId::new("acme").unwrap(),
        target_id: TargetId::new("acme-shopify").unwrap(),
        event_id: 1,
        delivery_id: 1,
        attempt: 1,
        received_at: Utc::now(),
    }
}

/// Wamebo's documented example order 5542: two PROD-A1 at 100.00 and one
/// PROD-B2 at 50.00, 250.00 USD, phone 15551234567.
pub const DOCUMENTED_ORDER: &str = r#"{
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

/// Classifies a webhook body as the bridge does and returns its order.
pub fn order_from(body: &str) -> Order {
    let policy = ClassifyPolicy {
        max_event_age: None,
        ..ClassifyPolicy::default()
    };
    let classified = classify(body.as_bytes(), &policy, Utc::now());
    classified
        .order()
        .unwrap_or_else(|| panic!("body is not a valid order: {:?}", classified.verdict))
        .clone()
}

/// Returns the documented order 5542.
pub fn documented_order() -> Order {
    order_from(DOCUMENTED_ORDER)
}

/// Returns the documented order with another order id.
pub fn documented_order_numbered(order_id: u64) -> Order {
    order_from(&DOCUMENTED_ORDER.replace("5542", &order_id.to_string()))
}

/// Returns the documented order in another currency, with the same
/// amounts.
pub fn documented_order_in(currency: &str) -> Order {
    order_from(&DOCUMENTED_ORDER.replace("\"USD\"", &format!("\"{currency}\"")))
}
