//! Liveness, readiness and Prometheus metrics.

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::ReceiverState;

/// Content type of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /healthz`: the process is up and serving HTTP.
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 while storage responds, 503 otherwise.
pub(crate) async fn readyz(state: web::Data<ReceiverState>) -> HttpResponse {
    match state.shared.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed: storage is unavailable");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "storage_unavailable" }))
        }
    }
}

/// `GET /metrics`: every metric of the shared registry, with the delivery
/// gauges read from storage first.
pub(crate) async fn metrics(state: web::Data<ReceiverState>) -> HttpResponse {
    let shared = state.shared.as_ref();
    match shared.store.delivery_counts().await {
        Ok(counts) => shared.metrics.set_delivery_counts(&counts),
        // The other metrics are still worth serving; the gauges keep their
        // last values.
        Err(error) => {
            tracing::warn!(error = %error, "failed to count deliveries for /metrics");
        }
    }

    match shared.metrics.encode() {
        Ok(text) => HttpResponse::Ok().content_type(PROMETHEUS_TEXT).body(text),
        Err(error) => {
            tracing::error!(error = %error, "failed to encode metrics");
            HttpResponse::InternalServerError()
                .content_type(ContentType::json())
                .body(r#"{"error":"internal"}"#)
        }
    }
}
