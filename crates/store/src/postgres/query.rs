//! Read-only queries for operators, metrics and readiness.

use sqlx::{PgPool, Row};

use super::errors::map_error;
use super::rows::{self, column, page_limit, DELIVERY_COLUMNS, EVENT_SUMMARY_COLUMNS};
use crate::error::StoreError;
use crate::model::*;

pub(crate) async fn list_events(
    pool: &PgPool,
    filter: EventFilter,
) -> Result<Vec<EventSummary>, StoreError> {
    const ACTION: &str = "list events";
    let rows = sqlx::query(&format!(
        "SELECT {EVENT_SUMMARY_COLUMNS} FROM events e \
         WHERE ($1::text IS NULL OR e.store_id = $1) \
           AND ($2::text IS NULL OR e.status = $2) \
           AND ($3::numeric IS NULL OR e.order_id = $3::numeric) \
           AND ($4::bigint IS NULL OR e.id < $4) \
         ORDER BY e.id DESC \
         LIMIT $5"
    ))
    .bind(filter.store_id.as_ref().map(|id| id.as_str()))
    .bind(filter.status)
    .bind(rows::order_id_text(filter.order_id))
    .bind(filter.before_id)
    .bind(page_limit(filter.limit))
    .fetch_all(pool)
    .await
    .map_err(|e| map_error(ACTION, e))?;
    rows.iter().map(rows::event_summary).collect()
}

/// Reads the event, its deliveries and its conflicts from one snapshot.
pub(crate) async fn get_event(
    pool: &PgPool,
    id: EventId,
) -> Result<Option<EventRecord>, StoreError> {
    const ACTION: &str = "read event";
    let mut transaction = pool.begin().await.map_err(|e| map_error(ACTION, e))?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *transaction)
        .await
        .map_err(|e| map_error(ACTION, e))?;

    let Some(event) = sqlx::query(&format!(
        "SELECT {EVENT_SUMMARY_COLUMNS}, e.body, e.occurred_at FROM events e WHERE e.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(|e| map_error(ACTION, e))?
    else {
        return Ok(None);
    };

    let deliveries = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = $1 ORDER BY id"
    ))
    .bind(id)
    .fetch_all(&mut *transaction)
    .await
    .map_err(|e| map_error(ACTION, e))?;
    let conflicts = sqlx::query(
        "SELECT id, received_at, body_sha256, body FROM event_conflicts \
         WHERE event_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *transaction)
    .await
    .map_err(|e| map_error(ACTION, e))?;
    transaction
        .commit()
        .await
        .map_err(|e| map_error(ACTION, e))?;

    Ok(Some(EventRecord {
        summary: rows::event_summary(&event)?,
        body: column(&event, "body")?,
        occurred_at: column(&event, "occurred_at")?,
        deliveries: deliveries
            .iter()
            .map(rows::delivery)
            .collect::<Result<_, _>>()?,
        conflicts: conflicts
            .iter()
            .map(rows::conflict)
            .collect::<Result<_, _>>()?,
    }))
}

pub(crate) async fn list_deliveries(
    pool: &PgPool,
    filter: DeliveryFilter,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    const ACTION: &str = "list deliveries";
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries \
         WHERE ($1::text IS NULL OR store_id = $1) \
           AND ($2::text IS NULL OR target_id = $2) \
           AND ($3::text IS NULL OR status = $3) \
           AND ($4::bigint IS NULL OR id < $4) \
         ORDER BY id DESC \
         LIMIT $5"
    ))
    .bind(filter.store_id.as_ref().map(|id| id.as_str()))
    .bind(filter.target_id.as_ref().map(|id| id.as_str()))
    .bind(filter.status.map(DeliveryStatus::as_str))
    .bind(filter.before_id)
    .bind(page_limit(filter.limit))
    .fetch_all(pool)
    .await
    .map_err(|e| map_error(ACTION, e))?;
    rows.iter().map(rows::delivery).collect()
}

/// Returns the attempts, oldest first; none for an unknown delivery.
pub(crate) async fn list_attempts(
    pool: &PgPool,
    delivery_id: DeliveryId,
) -> Result<Vec<AttemptRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT delivery_id, attempt, finished_at, outcome, reason, message, remote_id \
         FROM attempts WHERE delivery_id = $1 ORDER BY attempt",
    )
    .bind(delivery_id)
    .fetch_all(pool)
    .await
    .map_err(|e| map_error("list attempts", e))?;
    rows.iter().map(rows::attempt).collect()
}

pub(crate) async fn delivery_counts(pool: &PgPool) -> Result<DeliveryCounts, StoreError> {
    const ACTION: &str = "count deliveries";
    let rows = sqlx::query("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
        .fetch_all(pool)
        .await
        .map_err(|e| map_error(ACTION, e))?;
    let mut counts = DeliveryCounts::default();
    for row in &rows {
        let n: i64 = row.try_get("n").map_err(|e| map_error(ACTION, e))?;
        let n = u64::try_from(n).unwrap_or(0);
        match rows::delivery_status(row)? {
            DeliveryStatus::Pending => counts.pending = n,
            DeliveryStatus::InFlight => counts.in_flight = n,
            DeliveryStatus::Succeeded => counts.succeeded = n,
            DeliveryStatus::Dead => counts.dead = n,
        }
    }
    Ok(counts)
}

pub(crate) async fn ping(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("SELECT 1")
        .execute(pool)
        .await
        .map_err(|e| map_error("ping", e))?;
    Ok(())
}
