//! Route tables of the public and the admin listener.

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest};

use crate::admin::{self, AdminError, AdminState};
use crate::health;
use crate::state::ReceiverState;
use crate::webhook;

/// Mounts the public routes: `POST /webhooks/{store}`, `GET /healthz`,
/// `GET /readyz` and `GET /metrics`.
pub fn configure_public(cfg: &mut web::ServiceConfig, state: web::Data<ReceiverState>) {
    cfg.app_data(state)
        .route(
            "/webhooks/{store}",
            web::post().to(webhook::receive_webhook),
        )
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics));
}

/// Mounts the admin routes under `/admin`, each behind the bearer token:
///
/// - `GET /admin/events?store=&status=&order_id=&before=&limit=`
/// - `GET /admin/events/{id}?personal_data=true`
/// - `POST /admin/events/{id}/replay`
/// - `GET /admin/deliveries?status=&store=&target=&before=&limit=`
/// - `GET /admin/deliveries/{id}/attempts`
/// - `POST /admin/deliveries/{id}/replay`
pub fn configure_admin(cfg: &mut web::ServiceConfig, state: web::Data<AdminState>) {
    // The token check reads the state from the app's data, which a scope's
    // own data would not provide to its middleware.
    cfg.app_data(state).service(
        web::scope("/admin")
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .wrap(from_fn(admin::require_bearer))
            .route("/events", web::get().to(admin::list_events))
            .route("/events/{id}", web::get().to(admin::show_event))
            .route(
                "/events/{id}/replay",
                web::post().to(admin::replay_event_route),
            )
            .route("/deliveries", web::get().to(admin::list_deliveries))
            .route(
                "/deliveries/{id}/attempts",
                web::get().to(admin::list_attempts),
            )
            .route(
                "/deliveries/{id}/replay",
                web::post().to(admin::replay_delivery),
            )
            .default_service(web::to(admin::unknown_route)),
    );
}

fn query_error(error: QueryPayloadError, _request: &HttpRequest) -> actix_web::Error {
    AdminError::InvalidRequest(format!("query string: {error}")).into()
}

fn path_error(error: PathError, _request: &HttpRequest) -> actix_web::Error {
    AdminError::InvalidRequest(format!("path: {error}; ids are integers")).into()
}
