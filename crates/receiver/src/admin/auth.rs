//! Bearer-token check in front of every admin route.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use super::error::AdminError;
use super::state::AdminState;

/// Lets a request through only with `Authorization: Bearer <admin token>`,
/// and responds 401 otherwise.
pub(crate) async fn require_bearer(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let authorized = match request.app_data::<web::Data<AdminState>>() {
        Some(state) => bearer_token(&request).is_some_and(|token| state.token_matches(token)),
        None => false,
    };
    if !authorized {
        let response = AdminError::Unauthorized.error_response();
        return Ok(request.into_response(response).map_into_right_body());
    }
    let response = next.call(request).await?;
    Ok(response.map_into_left_body())
}

/// Returns the token of an `Authorization: Bearer <token>` header; the
/// scheme is case-insensitive (RFC 7235 section 2.1).
fn bearer_token(request: &ServiceRequest) -> Option<&[u8]> {
    let value = request.headers().get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = token.trim_ascii();
    (!token.is_empty()).then_some(token)
}
