//! Admin API errors and their JSON responses.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};
use wamebo_core::StoreId;
use wamebo_store::{EventId, StoreError};

use crate::replay::ReplayError;

/// An error of an admin request.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The bearer token is missing or wrong.
    #[error("missing or invalid bearer token: send `Authorization: Bearer <admin token>`")]
    Unauthorized,
    /// A query parameter or path segment is invalid.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The route does not exist.
    #[error("no admin route matches this method and path")]
    UnknownRoute,
    /// The event or delivery does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// `event` or `delivery`.
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// The event's store is no longer configured, so its routes are unknown.
    #[error("event {event_id} belongs to store `{store_id}`, which is not configured: add the store back to replay it")]
    StoreNotConfigured {
        /// The event.
        event_id: EventId,
        /// Its store.
        store_id: StoreId,
    },
    /// The delivery is not dead, so replaying it does not apply.
    #[error("delivery {id} cannot be replayed: {message}")]
    DeliveryNotReplayable {
        /// The delivery.
        id: i64,
        /// The store's explanation.
        message: String,
    },
    /// Replaying the event failed or did not apply.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// Storage failed.
    #[error("storage failed: {0}")]
    Storage(#[from] StoreError),
}

impl AdminError {
    fn code(&self) -> &'static str {
        match self {
            AdminError::Unauthorized => "unauthorized",
            AdminError::InvalidRequest(_) => "invalid_request",
            AdminError::UnknownRoute => "unknown_route",
            AdminError::NotFound { .. } | AdminError::Replay(ReplayError::NotFound(_)) => {
                "not_found"
            }
            AdminError::StoreNotConfigured { .. } => "store_not_configured",
            AdminError::DeliveryNotReplayable { .. } => "replay_not_applicable",
            AdminError::Replay(ReplayError::StillInvalid { .. }) => "still_invalid",
            AdminError::Replay(ReplayError::NothingToReplay(_)) => "nothing_to_replay",
            AdminError::Replay(ReplayError::WrongStore { .. })
            | AdminError::Replay(ReplayError::NotApplicable { .. }) => "replay_not_applicable",
            AdminError::Replay(ReplayError::Storage(_)) | AdminError::Storage(_) => {
                "storage_unavailable"
            }
        }
    }

    fn is_storage_failure(&self) -> bool {
        matches!(
            self,
            AdminError::Storage(_) | AdminError::Replay(ReplayError::Storage(_))
        )
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::UnknownRoute
            | AdminError::NotFound { .. }
            | AdminError::Replay(ReplayError::NotFound(_)) => StatusCode::NOT_FOUND,
            AdminError::Storage(_) | AdminError::Replay(ReplayError::Storage(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AdminError::StoreNotConfigured { .. }
            | AdminError::DeliveryNotReplayable { .. }
            | AdminError::Replay(_) => StatusCode::CONFLICT,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({ "error": self.code() });
        if self.is_storage_failure() {
            // A 5xx body hides the cause from the client, so the log records it.
            tracing::error!(error = %self, "admin request failed: storage unavailable");
        } else {
            body["message"] = Value::String(self.to_string());
        }
        if let AdminError::Replay(ReplayError::StillInvalid { reason, .. }) = self {
            body["reason"] = Value::String(reason.as_str().to_owned());
        }

        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, AdminError::Unauthorized) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(body)
    }
}
