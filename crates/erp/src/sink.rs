//! The `erp` delivery target: canonical orders and forwarded events posted
//! to a merchant's HTTP endpoint.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, StatusCode};
use tracing::{debug, warn};
use wamebo_core::event::ORDER_CREATED;
use wamebo_core::{
    classify, CanonicalOrder, ClassifyPolicy, Delivered, DeliveryContext, DeliveryError, Order,
    OrderSink, ReasonCode, StoreId, TargetId,
};

use crate::config::{ConfigError, ErpConfig};
use crate::endpoint::{Endpoint, EVENT_TYPE_HEADER, STORE_ID_HEADER};
use crate::idempotency::{idempotency_key, message_id, IDEMPOTENCY_KEY_HEADER};
use crate::response::{failure, read_reply, remote_id, transport_failure, Reply, Subject};
use crate::url_template::MissingOrderId;

/// The name of this kind of target in configuration, logs and metrics.
pub const KIND: &str = "erp";

const USER_AGENT: &str = concat!("wamebo-bridge/", env!("CARGO_PKG_VERSION"));

/// Delivers to a merchant's ERP over HTTP.
///
/// Every request for one `(store, target, event)` carries the same
/// `Idempotency-Key`, so an ERP that honours the key creates one order
/// however often the bridge retries. Without a `lookup_url`, that key is the
/// only protection against a duplicate after a timeout or a crash, because
/// [`OrderSink::find_existing`] then finds nothing.
#[derive(Debug)]
pub struct ErpSink {
    target_id: TargetId,
    client: reqwest::Client,
    endpoint: Endpoint,
}

/// One request to send: what it is about and its exact body.
struct Outgoing<'a> {
    event_type: &'a str,
    /// `order:{order_id}` or the event's deduplication key.
    event_key: String,
    order_id: Option<u64>,
    body: Vec<u8>,
}

impl ErpSink {
    /// Validates the target's settings and builds its HTTP client. The sink
    /// serves every store routed to this target, because the store comes with
    /// each delivery.
    pub fn new(target_id: TargetId, config: ErpConfig) -> Result<Self, ConfigError> {
        let endpoint = Endpoint::from_config(&target_id, config)?;
        let client = reqwest::Client::builder()
            .timeout(endpoint.request_timeout)
            .connect_timeout(endpoint.connect_timeout)
            // A redirected POST would become a GET, so a redirect is reported
            // as an error rather than followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|error| {
                ConfigError::new(
                    format!("targets.{target_id}"),
                    format!("failed to build an HTTP client ({error})"),
                    "check that the system's TLS configuration is readable",
                )
            })?;
        Ok(ErpSink {
            target_id,
            client,
            endpoint,
        })
    }

    /// Returns the limit on one request, so the dispatcher can hold its lease
    /// longer than a call may take.
    pub fn request_timeout(&self) -> Duration {
        self.endpoint.request_timeout
    }

    /// Returns the maximum time one attempt can take: a lookup and a create,
    /// each within `request_timeout`.
    pub fn max_attempt_duration(&self) -> Duration {
        self.endpoint.request_timeout * 2
    }

    /// Returns the target this sink delivers to.
    pub fn target_id(&self) -> &TargetId {
        &self.target_id
    }

    fn subject(&self, what: String) -> Subject {
        Subject {
            target_id: self.target_id.clone(),
            what,
        }
    }

    #[tracing::instrument(skip_all, fields(
        store = %ctx.store_id,
        target = %self.target_id,
        delivery_id = ctx.delivery_id,
        attempt = ctx.attempt,
        event_key = %outgoing.event_key,
    ))]
    async fn deliver(
        &self,
        ctx: &DeliveryContext,
        outgoing: Outgoing<'_>,
    ) -> Result<Delivered, DeliveryError> {
        let subject = self.subject(describe_event(&outgoing.event_key));
        let url = self
            .endpoint
            .url
            .expand(&ctx.store_id, outgoing.order_id)
            .map_err(|MissingOrderId| {
                DeliveryError::permanent(
                    ReasonCode::UnsupportedEvent,
                    format!(
                        "{subject}: the target's url contains {{order_id}}, but `{}` events carry no order id: \
                         give the target a url without {{order_id}}, or stop routing these events to it",
                        outgoing.event_type
                    ),
                )
            })?;

        let key = idempotency_key(&ctx.store_id, &self.target_id, &outgoing.event_key);
        let mut request = self
            .common_request(self.endpoint.method.clone(), url, &ctx.store_id, &key)
            .header(CONTENT_TYPE, "application/json");
        if let Ok(value) = HeaderValue::from_str(outgoing.event_type) {
            request = request.header(EVENT_TYPE_HEADER, value);
        }
        if let Some(signer) = &self.endpoint.signer {
            // The id stays the same on every attempt. The timestamp is the
            // attempt's own, as Standard Webhooks requires for replay
            // protection.
            let signed = signer.headers(&message_id(&key), Utc::now().timestamp(), &outgoing.body);
            for (name, value) in signed {
                request = request.header(name, value);
            }
        }

        let reply = self.send(request.body(outgoing.body), &subject).await?;
        if reply.status.is_success() {
            Ok(self.delivered(&reply))
        } else {
            Err(failure(&reply, &subject))
        }
    }

    /// Starts a request with the headers every call carries: configured
    /// headers, auth, `Accept`, the store id and the idempotency key.
    fn common_request(
        &self,
        method: Method,
        url: reqwest::Url,
        store_id: &StoreId,
        key: &str,
    ) -> RequestBuilder {
        self.client
            .request(method, url)
            .headers(self.endpoint.headers.clone())
            .header(ACCEPT, "application/json")
            .header(STORE_ID_HEADER, store_id.as_str())
            .header(
                IDEMPOTENCY_KEY_HEADER,
                self.endpoint.key_format.header_value(key),
            )
    }

    async fn send(
        &self,
        request: RequestBuilder,
        subject: &Subject,
    ) -> Result<Reply, DeliveryError> {
        let started = Instant::now();
        let response = request
            .send()
            .await
            .map_err(|error| transport_failure(&error, subject, self.endpoint.request_timeout))?;
        let reply = read_reply(response).await;
        debug!(
            status = reply.status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ERP responded"
        );
        Ok(reply)
    }

    /// Builds the success outcome, reading the ERP's order id when the target
    /// sets `order_id_pointer`. A created order without a readable id is
    /// still a success, because retrying would not change the response.
    fn delivered(&self, reply: &Reply) -> Delivered {
        let Some(pointer) = &self.endpoint.order_id_pointer else {
            return Delivered::default();
        };
        if let Some(id) = remote_id(&reply.body, pointer) {
            return Delivered {
                remote_id: Some(id),
                note: None,
            };
        }

        let truncated = if reply.body_complete {
            ""
        } else {
            " (body cut at 1 MiB)"
        };
        warn!(
            target_id = %self.target_id,
            status = reply.status.as_u16(),
            pointer = %pointer,
            "ERP response has no order id at the configured pointer{truncated}"
        );
        Delivered {
            remote_id: None,
            note: Some(format!(
                "the ERP responded with {} but no order id at `{pointer}`{truncated}: check order_id_pointer",
                reply.status
            )),
        }
    }
}

/// Names an event for messages: `order 5542`, or `event message:10452`.
fn describe_event(event_key: &str) -> String {
    match event_key.strip_prefix("order:") {
        Some(order_id) => format!("order {order_id}"),
        None => format!("event {event_key}"),
    }
}

#[async_trait]
impl OrderSink for ErpSink {
    fn kind(&self) -> &'static str {
        KIND
    }

    /// Asks the `lookup_url` whether the ERP already has the order: 2xx means
    /// found, 404 means not found. Without a `lookup_url` this returns
    /// `Ok(None)`, and the unchanged `Idempotency-Key` of the next attempt is
    /// what keeps the ERP from creating a second order.
    async fn find_existing(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Option<Delivered>, DeliveryError> {
        let Some(lookup_url) = &self.endpoint.lookup_url else {
            return Ok(None);
        };
        let event_key = format!("order:{}", order.order_id);
        let subject = self.subject(describe_event(&event_key));
        let url = lookup_url.expand_with_order(&ctx.store_id, order.order_id);
        let key = idempotency_key(&ctx.store_id, &self.target_id, &event_key);

        let request = self.common_request(Method::GET, url, &ctx.store_id, &key);
        let reply = self.send(request, &subject).await?;
        if reply.status.is_success() {
            Ok(Some(self.delivered(&reply)))
        } else if reply.status == StatusCode::NOT_FOUND {
            Ok(None)
        } else {
            Err(failure(&reply, &subject))
        }
    }

    /// Posts the order in the canonical format.
    async fn create_order(
        &self,
        ctx: &DeliveryContext,
        order: &Order,
    ) -> Result<Delivered, DeliveryError> {
        let canonical = CanonicalOrder::from_order(&ctx.store_id, order);
        let body = serde_json::to_vec(&canonical).map_err(|error| {
            DeliveryError::permanent(
                ReasonCode::InvalidPayload,
                format!(
                    "target {}, order {}: cannot serialize the canonical order ({error})",
                    self.target_id, order.order_id
                ),
            )
        })?;
        let outgoing = Outgoing {
            event_type: ORDER_CREATED,
            event_key: format!("order:{}", order.order_id),
            order_id: Some(order.order_id),
            body,
        };
        self.deliver(ctx, outgoing).await
    }

    /// Posts the verified event body byte for byte, so a CRM can consume
    /// `message.received` or any other type.
    async fn forward_event(
        &self,
        ctx: &DeliveryContext,
        event_type: &str,
        body: &[u8],
    ) -> Result<Delivered, DeliveryError> {
        // Classification only supplies the deduplication key and order id
        // here, which do not depend on the event's age.
        let policy = ClassifyPolicy {
            max_event_age: None,
            ..ClassifyPolicy::default()
        };
        let classified = classify(body, &policy, Utc::now());
        let outgoing = Outgoing {
            event_type,
            event_key: classified.key,
            order_id: classified.order_id,
            body: body.to_vec(),
        };
        self.deliver(ctx, outgoing).await
    }
}
