//! Every way the webhook route can reject a request, and the one place where
//! each becomes an HTTP response.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use wamebo_signature::SignatureError;
use wamebo_store::StoreError;

/// Seconds a sender should wait after a 503. Wamebo applies its own backoff
/// whatever this header contains.
const STORAGE_RETRY_AFTER_SECONDS: u32 = 30;

/// An error that rejects a webhook request. None of the variants carries
/// the body or the signature.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The path names no configured store.
    #[error("no store is configured under this path")]
    UnknownStore,
    /// The body is larger than `max_body_bytes`, by its Content-Length or
    /// while it was read.
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body did not arrive in full within `body_read_timeout`.
    #[error("request body was not received within {seconds} s")]
    BodyReadTimeout {
        /// The timeout in seconds.
        seconds: f64,
    },
    /// The body could not be read, such as when the client disconnected.
    #[error("failed to read the request body: {0}")]
    ReadBody(String),
    /// The signature is missing, malformed or matches no secret.
    #[error(transparent)]
    InvalidSignature(#[from] SignatureError),
    /// Storage failed, so the event was not recorded.
    #[error("failed to record the event: {0}")]
    Storage(#[source] StoreError),
}

impl WebhookError {
    /// Returns the `outcome` label of this refusal in metrics.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            WebhookError::UnknownStore => "unknown_store",
            WebhookError::PayloadTooLarge { .. } => "payload_too_large",
            WebhookError::BodyReadTimeout { .. } => "body_read_timeout",
            WebhookError::ReadBody(_) => "invalid_body",
            WebhookError::InvalidSignature(_) => "invalid_signature",
            WebhookError::Storage(_) => "storage_unavailable",
        }
    }
}

/// Returns the stable code of a signature failure, as sent in 403 responses
/// and used as a metrics label.
pub(crate) fn signature_reason(error: &SignatureError) -> &'static str {
    match error {
        SignatureError::Missing => "missing",
        SignatureError::Repeated => "repeated",
        SignatureError::Empty => "empty",
        SignatureError::UnsupportedScheme(_) => "unsupported_scheme",
        SignatureError::NotHex => "not_hex",
        SignatureError::WrongLength(_) => "wrong_length",
        // A store without secrets is refused at start-up, so this arm is
        // unreachable in a running receiver; to a sender it is a mismatch.
        SignatureError::Mismatch | SignatureError::NoSecrets => "mismatch",
    }
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebhookError::UnknownStore => StatusCode::NOT_FOUND,
            WebhookError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::BodyReadTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            WebhookError::ReadBody(_) => StatusCode::BAD_REQUEST,
            WebhookError::InvalidSignature(_) => StatusCode::FORBIDDEN,
            WebhookError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            WebhookError::UnknownStore => json!({ "error": "unknown_store" }),
            WebhookError::PayloadTooLarge { limit } => {
                json!({ "error": "payload_too_large", "max_body_bytes": limit })
            }
            WebhookError::BodyReadTimeout { .. } => json!({ "error": "body_read_timeout" }),
            WebhookError::ReadBody(_) => json!({ "error": "invalid_body" }),
            WebhookError::InvalidSignature(error) => {
                json!({ "error": "invalid_signature", "reason": signature_reason(error) })
            }
            WebhookError::Storage(_) => json!({ "error": "storage_unavailable" }),
        };

        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, WebhookError::Storage(_)) {
            response.insert_header((header::RETRY_AFTER, STORAGE_RETRY_AFTER_SECONDS));
        }
        response.json(body)
    }
}
