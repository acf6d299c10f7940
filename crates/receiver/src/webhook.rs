//! `POST /webhooks/{store}`: resolve the store, read the body within the
//! limit, verify the signature, classify, record, wake the dispatcher and
//! acknowledge.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use tracing::Instrument;
use wamebo_core::event::body_sha256;
use wamebo_core::{classify, Classified, ReasonCode, StoreId, Verdict};
use wamebo_signature::{SignatureError, SignatureHeader, Unverified, HEADER_NAME};
use wamebo_store::{EventId, EventStatus, NewEvent, RecordOutcome};

use crate::error::{signature_reason, WebhookError};
use crate::metrics::UNKNOWN_STORE_LABEL;
use crate::settings::StoreSettings;
use crate::state::{ReceiverState, Shared};

/// The 200 response to an authentic webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WebhookAck {
    /// A new event, durably recorded with its deliveries.
    Accepted {
        /// The bridge's id of the event.
        event_id: EventId,
    },
    /// The key was recorded before with the same body; nothing was created.
    Duplicate {
        /// The first event's id.
        event_id: EventId,
    },
    /// Authentic but invalid: recorded for an operator, not delivered.
    Quarantined {
        /// Why, as a stable code.
        reason: ReasonCode,
        /// The recorded event's id.
        event_id: EventId,
    },
    /// The key was recorded before with a different body; the first is kept.
    Conflict {
        /// Always `conflicting_duplicate`.
        reason: ReasonCode,
        /// The first event's id.
        event_id: EventId,
    },
}

impl WebhookAck {
    fn outcome(&self) -> &'static str {
        match self {
            WebhookAck::Accepted { .. } => "accepted",
            WebhookAck::Duplicate { .. } => "duplicate",
            WebhookAck::Quarantined { .. } => "quarantined",
            WebhookAck::Conflict { .. } => "conflict",
        }
    }
}

/// Handles one webhook and records its outcome in metrics and logs.
pub(crate) async fn receive_webhook(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<ReceiverState>,
) -> Result<HttpResponse, WebhookError> {
    let started = Instant::now();
    let shared = state.shared.as_ref();

    let Some(store) = resolve_store(shared, &path) else {
        let seconds = started.elapsed().as_secs_f64();
        shared
            .metrics
            .record_webhook(UNKNOWN_STORE_LABEL, "unknown_store", seconds);
        return Err(WebhookError::UnknownStore);
    };

    let span = tracing::info_span!(
        "webhook",
        store = %store.id,
        event_id = tracing::field::Empty,
        order_id = tracing::field::Empty,
    );
    let result = process_webhook(shared, store, &request, payload)
        .instrument(span.clone())
        .await;

    let _entered = span.enter();
    report_result(shared, store, &result, started);
    result.map(|ack| HttpResponse::Ok().json(ack))
}

fn resolve_store<'a>(shared: &'a Shared, path: &str) -> Option<&'a StoreSettings> {
    let id = StoreId::new(path).ok()?;
    shared.stores.get(&id)
}

/// The handler's steps, in order; each one returns early on refusal.
async fn process_webhook(
    shared: &Shared,
    store: &StoreSettings,
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<WebhookAck, WebhookError> {
    // A malformed header is refused before the body is read at all.
    let signature = parse_signature(request)?;

    let settings = &shared.settings;
    let body = tokio::time::timeout(
        settings.body_read_timeout,
        read_body(request, payload, settings.max_body_bytes),
    )
    .await
    .map_err(|_| WebhookError::BodyReadTimeout {
        seconds: settings.body_read_timeout.as_secs_f64(),
    })??;

    let body = verify_signature(body, &signature, store)?;

    let received_at = Utc::now();
    let classified = classify(&body, &store.policy, received_at);
    record_order_id(classified.order_id);

    let event = build_event(store, classified, body, received_at);
    let status = event.status.clone();
    let outcome = shared
        .store
        .record_event(event)
        .await
        .map_err(WebhookError::Storage)?;

    wake_dispatcher(shared, &outcome);

    Ok(acknowledge(&outcome, &status))
}

fn parse_signature(request: &HttpRequest) -> Result<SignatureHeader, WebhookError> {
    let mut values = request.headers().get_all(HEADER_NAME);
    let first = values.next().map(|value| value.as_bytes());
    if values.next().is_some() {
        return Err(SignatureError::Repeated.into());
    }
    Ok(SignatureHeader::parse(first)?)
}

/// Reads the body, refusing it as soon as it is known to pass `limit`: at
/// once from its Content-Length, or when the streamed bytes reach the limit.
async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, WebhookError> {
    let declared_length = declared_length(request);
    if declared_length.is_some_and(|length| length > limit) {
        return Err(WebhookError::PayloadTooLarge { limit });
    }

    let mut body = BytesMut::with_capacity(declared_length.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| WebhookError::ReadBody(error.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(WebhookError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Returns the Content-Length, if the request declares a readable one;
/// actix-web has already refused a request whose header is malformed.
fn declared_length(request: &HttpRequest) -> Option<usize> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn verify_signature(
    body: Bytes,
    signature: &SignatureHeader,
    store: &StoreSettings,
) -> Result<Bytes, WebhookError> {
    let secrets: Vec<&[u8]> = store
        .secrets
        .iter()
        .map(|secret| secret.expose().as_bytes())
        .collect();
    let verified = Unverified::new(body).verify(signature, &secrets)?;
    Ok(verified.into_body())
}

fn record_order_id(order_id: Option<u64>) {
    if let Some(order_id) = order_id {
        tracing::Span::current().record("order_id", order_id);
    }
}

fn build_event(
    store: &StoreSettings,
    classified: Classified,
    body: Bytes,
    received_at: DateTime<Utc>,
) -> NewEvent {
    let (status, targets) = match classified.verdict {
        Verdict::Accepted(_) => (
            EventStatus::Accepted,
            store.targets_for(&classified.event_type),
        ),
        Verdict::Quarantined { reason, detail } => {
            (EventStatus::Quarantined { reason, detail }, Vec::new())
        }
    };
    NewEvent {
        store_id: store.id.clone(),
        key: classified.key,
        event_type: classified.event_type,
        order_id: classified.order_id,
        body_sha256: body_sha256(&body),
        body: body.into(),
        received_at,
        occurred_at: classified.occurred_at,
        status,
        targets,
    }
}

fn wake_dispatcher(shared: &Shared, outcome: &RecordOutcome) {
    if let RecordOutcome::Recorded { deliveries, .. } = outcome {
        if *deliveries > 0 {
            shared.wake.notify_one();
        }
    }
}

fn acknowledge(outcome: &RecordOutcome, status: &EventStatus) -> WebhookAck {
    match (outcome, status) {
        (RecordOutcome::Recorded { event_id, .. }, EventStatus::Accepted) => WebhookAck::Accepted {
            event_id: *event_id,
        },
        (RecordOutcome::Recorded { event_id, .. }, EventStatus::Quarantined { reason, .. }) => {
            WebhookAck::Quarantined {
                reason: *reason,
                event_id: *event_id,
            }
        }
        (RecordOutcome::Duplicate { event_id }, _) => WebhookAck::Duplicate {
            event_id: *event_id,
        },
        (RecordOutcome::Conflict { event_id, .. }, _) => WebhookAck::Conflict {
            reason: ReasonCode::ConflictingDuplicate,
            event_id: *event_id,
        },
    }
}

/// Counts the outcome and logs what an operator needs: quarantines and
/// conflicts, and rate-limited signature, body and storage failures, the
/// last with their cause. Never the body, the signature or personal data.
fn report_result(
    shared: &Shared,
    store: &StoreSettings,
    result: &Result<WebhookAck, WebhookError>,
    started: Instant,
) {
    let store_label = store.id.as_str();
    let outcome = match result {
        Ok(ack) => ack.outcome(),
        Err(error) => error.outcome(),
    };
    shared
        .metrics
        .record_webhook(store_label, outcome, started.elapsed().as_secs_f64());

    match result {
        Ok(ack) => report_ack(shared, store_label, ack),
        Err(WebhookError::InvalidSignature(error)) => {
            let reason = signature_reason(error);
            shared.metrics.record_signature_failure(store_label, reason);
            if let Some(held_back) = shared.signature_warnings.allow() {
                tracing::warn!(
                    reason,
                    held_back,
                    "webhook rejected: invalid signature; check that the sender uses this store's signing secret"
                );
            }
        }
        Err(WebhookError::Storage(error)) => {
            if let Some(held_back) = shared.storage_errors.allow() {
                tracing::error!(
                    error = %error,
                    held_back,
                    "webhook not recorded: storage failed, responded 503"
                );
            }
        }
        Err(
            error @ (WebhookError::PayloadTooLarge { .. }
            | WebhookError::BodyReadTimeout { .. }
            | WebhookError::ReadBody(_)),
        ) => {
            if let Some(held_back) = shared.body_warnings.allow() {
                tracing::warn!(error = %error, held_back, "webhook rejected");
            }
        }
        Err(WebhookError::UnknownStore) => {}
    }
}

fn report_ack(shared: &Shared, store_label: &str, ack: &WebhookAck) {
    match ack {
        WebhookAck::Accepted { event_id } => {
            tracing::Span::current().record("event_id", event_id);
            tracing::debug!("webhook accepted");
        }
        WebhookAck::Duplicate { event_id } => {
            tracing::Span::current().record("event_id", event_id);
            tracing::debug!("webhook was a duplicate; nothing new recorded");
        }
        WebhookAck::Quarantined { reason, event_id } => {
            tracing::Span::current().record("event_id", event_id);
            shared
                .metrics
                .record_quarantine(store_label, reason.as_str());
            tracing::warn!(reason = %reason, "webhook quarantined; inspect and replay it with the admin API or `events show`");
        }
        WebhookAck::Conflict { event_id, .. } => {
            tracing::Span::current().record("event_id", event_id);
            tracing::warn!("webhook conflicts with an earlier event of the same key; the first is kept and the new body stored beside it");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tokio::sync::Notify;
    use wamebo_core::{ClassifyPolicy, ConfigSecret};
    use wamebo_store::{SqliteOptions, SqliteStore, StoreError};

    use super::*;
    use crate::settings::ReceiverSettings;

    /// A log destination that keeps what the subscriber writes.
    #[derive(Clone, Default)]
    struct CapturedLog(Arc<Mutex<Vec<u8>>>);

    impl Write for CapturedLog {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn repeated_failures_log_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bridge.db");
        let store = SqliteStore::open(path.to_str().unwrap(), SqliteOptions::default()).unwrap();
        let settings = StoreSettings {
            id: StoreId::new("acme").unwrap(),
            secrets: vec![ConfigSecret::from_value("test", "wh_sec_test")],
            policy: ClassifyPolicy::default(),
            targets: Vec::new(),
        };
        let state = ReceiverState::new(
            Arc::new(store),
            vec![settings.clone()],
            ReceiverSettings::default(),
            Arc::new(Notify::new()),
            prometheus::Registry::new(),
        )
        .unwrap();
        let log = CapturedLog::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();

        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..5 {
                let storage = Err(WebhookError::Storage(StoreError::Unavailable(
                    "disk full".to_owned(),
                )));
                report_result(&state.shared, &settings, &storage, Instant::now());
                let too_large = Err(WebhookError::PayloadTooLarge { limit: 10 });
                report_result(&state.shared, &settings, &too_large, Instant::now());
            }
        });

        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("storage failed").count(), 1, "{text}");
        assert_eq!(text.matches("webhook rejected").count(), 1, "{text}");
    }
}
