//! Admin routes: list and show events, list deliveries and their attempts,
//! replay an event or a delivery.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use wamebo_core::{StoreId, TargetId};
use wamebo_store::{DeliveryFilter, DeliveryId, DeliveryStatus, EventFilter, EventId, StoreError};

use super::error::AdminError;
use super::state::AdminState;
use super::views::{AttemptView, DeliveryView, EventSummaryView, EventView, ReplayView};
use crate::replay::replay_event;

/// Rows per list page when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;
/// Largest `limit` a list accepts; the store caps at the same value.
const MAX_LIMIT: usize = 1000;

/// Query of `GET /admin/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventQuery {
    store: Option<String>,
    status: Option<String>,
    order_id: Option<u64>,
    before: Option<EventId>,
    limit: Option<usize>,
}

/// Query of `GET /admin/events/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    personal_data: bool,
}

/// Query of `GET /admin/deliveries`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryQuery {
    status: Option<String>,
    store: Option<String>,
    target: Option<String>,
    before: Option<DeliveryId>,
    limit: Option<usize>,
}

/// `GET /admin/events`: events newest first, without bodies.
pub(crate) async fn list_events(
    state: web::Data<AdminState>,
    query: web::Query<EventQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let filter = EventFilter {
        store_id: query.store.map(parse_store).transpose()?,
        status: query
            .status
            .as_deref()
            .map(parse_event_status)
            .transpose()?,
        order_id: query.order_id,
        before_id: query.before,
        limit: parse_limit(query.limit)?,
    };

    let events = state.shared.store.list_events(filter).await?;

    let events: Vec<EventSummaryView> = events.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(json!({ "events": events })))
}

/// `GET /admin/events/{id}`: one event, its body masked unless
/// `personal_data=true`.
pub(crate) async fn show_event(
    state: web::Data<AdminState>,
    path: web::Path<EventId>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, AdminError> {
    let event_id = path.into_inner();

    let record = state
        .shared
        .store
        .get_event(event_id)
        .await?
        .ok_or(AdminError::NotFound {
            what: "event",
            id: event_id,
        })?;

    if query.personal_data {
        tracing::info!(event_id, "event shown with personal data by admin request");
    }
    Ok(HttpResponse::Ok().json(EventView::new(record, query.personal_data)))
}

/// `POST /admin/events/{id}/replay`: revalidates a quarantined event, then
/// revives dead deliveries and creates missing ones.
pub(crate) async fn replay_event_route(
    state: web::Data<AdminState>,
    path: web::Path<EventId>,
) -> Result<HttpResponse, AdminError> {
    let event_id = path.into_inner();
    let shared = state.shared.as_ref();

    let record = shared
        .store
        .get_event(event_id)
        .await?
        .ok_or(AdminError::NotFound {
            what: "event",
            id: event_id,
        })?;
    let store_id = record.summary.store_id;
    let settings = shared
        .stores
        .get(&store_id)
        .ok_or_else(|| AdminError::StoreNotConfigured {
            event_id,
            store_id: store_id.clone(),
        })?;

    let outcome = replay_event(shared.store.as_ref(), settings, event_id, Utc::now()).await?;

    shared.wake.notify_one();
    tracing::info!(
        event_id,
        store = %store_id,
        revived = outcome.revived.len(),
        created = outcome.created.len(),
        "event replayed by admin request"
    );
    Ok(HttpResponse::Ok().json(ReplayView {
        event_id,
        revived: outcome.revived,
        created: outcome.created,
    }))
}

/// `GET /admin/deliveries`: deliveries newest first, filtered by status,
/// store or target.
pub(crate) async fn list_deliveries(
    state: web::Data<AdminState>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let filter = DeliveryFilter {
        store_id: query.store.map(parse_store).transpose()?,
        target_id: query.target.map(parse_target).transpose()?,
        status: query
            .status
            .as_deref()
            .map(parse_delivery_status)
            .transpose()?,
        before_id: query.before,
        limit: parse_limit(query.limit)?,
    };

    let deliveries = state.shared.store.list_deliveries(filter).await?;

    let deliveries: Vec<DeliveryView> = deliveries.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(json!({ "deliveries": deliveries })))
}

/// `GET /admin/deliveries/{id}/attempts`: a delivery's attempts, oldest
/// first.
pub(crate) async fn list_attempts(
    state: web::Data<AdminState>,
    path: web::Path<DeliveryId>,
) -> Result<HttpResponse, AdminError> {
    let delivery_id = path.into_inner();

    let attempts = state
        .shared
        .store
        .list_attempts(delivery_id)
        .await
        .map_err(|error| delivery_error(delivery_id, error))?;

    let attempts: Vec<AttemptView> = attempts.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(json!({ "delivery_id": delivery_id, "attempts": attempts })))
}

/// `POST /admin/deliveries/{id}/replay`: sets a dead delivery back to
/// pending, due now.
pub(crate) async fn replay_delivery(
    state: web::Data<AdminState>,
    path: web::Path<DeliveryId>,
) -> Result<HttpResponse, AdminError> {
    let delivery_id = path.into_inner();
    let shared = state.shared.as_ref();

    shared
        .store
        .replay_delivery(delivery_id)
        .await
        .map_err(|error| delivery_error(delivery_id, error))?;

    shared.wake.notify_one();
    tracing::info!(delivery_id, "delivery replayed by admin request");
    Ok(HttpResponse::Ok().json(json!({
        "delivery_id": delivery_id,
        "status": DeliveryStatus::Pending.as_str(),
    })))
}

/// Returns 404 for any admin path that matches no route.
pub(crate) async fn unknown_route() -> Result<HttpResponse, AdminError> {
    Err(AdminError::UnknownRoute)
}

fn delivery_error(delivery_id: DeliveryId, error: StoreError) -> AdminError {
    match error {
        StoreError::NotFound { .. } => AdminError::NotFound {
            what: "delivery",
            id: delivery_id,
        },
        StoreError::InvalidState(message) => AdminError::DeliveryNotReplayable {
            id: delivery_id,
            message,
        },
        other => AdminError::Storage(other),
    }
}

fn parse_store(text: String) -> Result<StoreId, AdminError> {
    StoreId::new(text).map_err(|error| AdminError::InvalidRequest(format!("`store`: {error}")))
}

fn parse_target(text: String) -> Result<TargetId, AdminError> {
    TargetId::new(text).map_err(|error| AdminError::InvalidRequest(format!("`target`: {error}")))
}

fn parse_event_status(text: &str) -> Result<&'static str, AdminError> {
    ["accepted", "quarantined"]
        .into_iter()
        .find(|status| *status == text)
        .ok_or_else(|| {
            AdminError::InvalidRequest(format!(
                "`status` is `{text}`: use `accepted` or `quarantined`"
            ))
        })
}

fn parse_delivery_status(text: &str) -> Result<DeliveryStatus, AdminError> {
    DeliveryStatus::parse(text).ok_or_else(|| {
        AdminError::InvalidRequest(format!(
            "`status` is `{text}`: use `pending`, `in_flight`, `succeeded` or `dead`"
        ))
    })
}

fn parse_limit(limit: Option<usize>) -> Result<usize, AdminError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        Some(limit) => Err(AdminError::InvalidRequest(format!(
            "`limit` is {limit}: use 1 to {MAX_LIMIT}"
        ))),
    }
}
