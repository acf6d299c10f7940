//! Operator replays: quarantined events and dead deliveries.

use chrono::Utc;
use sqlx::PgPool;
use wamebo_core::TargetId;

use super::errors::map_error;
use super::rows::column;
use crate::error::StoreError;
use crate::model::*;

/// The assignments that revive a dead delivery, due at `$2`, with a fresh
/// attempt and age budget. Its last attempt may have reached the platform
/// even though it ended dead (a timeout on the final attempt), so a delivery
/// that was attempted before looks for an existing order first.
const REVIVE: &str = "status = 'pending', next_attempt_at = $2, updated_at = $2, \
     replayed_at = $2, attempts_before_replay = attempts, \
     reconcile = reconcile OR attempts > 0";

/// Accepts the event, revives its dead deliveries and creates the missing
/// ones, all due now, in one transaction that locks the event row so
/// concurrent replays of one event run one after the other.
pub(crate) async fn replay_event(
    pool: &PgPool,
    id: EventId,
    targets: &[TargetId],
) -> Result<ReplayOutcome, StoreError> {
    const ACTION: &str = "replay event";
    let mut transaction = pool.begin().await.map_err(|e| map_error(ACTION, e))?;
    let event = sqlx::query("SELECT store_id FROM events WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(|e| map_error(ACTION, e))?
        .ok_or(StoreError::NotFound { what: "event", id })?;
    let store_id: String = column(&event, "store_id")?;

    sqlx::query(
        "UPDATE events SET status = 'accepted', quarantine_reason = NULL, \
             quarantine_detail = NULL \
         WHERE id = $1 AND status = 'quarantined'",
    )
    .bind(id)
    .execute(&mut *transaction)
    .await
    .map_err(|e| map_error(ACTION, e))?;

    let now = Utc::now();
    let revived = sqlx::query_scalar(&format!(
        "UPDATE deliveries SET {REVIVE} WHERE event_id = $1 AND status = 'dead' RETURNING id"
    ))
    .bind(id)
    .bind(now)
    .fetch_all(&mut *transaction)
    .await
    .map_err(|e| map_error(ACTION, e))?;

    let target_names: Vec<&str> = targets.iter().map(|t| t.as_str()).collect();
    let created = sqlx::query_scalar(
        "INSERT INTO deliveries (event_id, store_id, target_id, status, next_attempt_at, \
             created_at, updated_at) \
         SELECT $1, $2, target, 'pending', $3, $3, $3 FROM unnest($4::text[]) AS target \
         ON CONFLICT (event_id, target_id) DO NOTHING \
         RETURNING id",
    )
    .bind(id)
    .bind(&store_id)
    .bind(now)
    .bind(&target_names)
    .fetch_all(&mut *transaction)
    .await
    .map_err(|e| map_error(ACTION, e))?;

    let mut outcome = ReplayOutcome { revived, created };
    outcome.revived.sort_unstable();
    outcome.created.sort_unstable();
    transaction
        .commit()
        .await
        .map_err(|e| map_error(ACTION, e))?;
    Ok(outcome)
}

/// Sets one dead delivery back to pending, due now.
pub(crate) async fn replay_delivery(pool: &PgPool, id: DeliveryId) -> Result<(), StoreError> {
    const ACTION: &str = "replay delivery";
    let mut transaction = pool.begin().await.map_err(|e| map_error(ACTION, e))?;
    let row = sqlx::query("SELECT status FROM deliveries WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(|e| map_error(ACTION, e))?
        .ok_or(StoreError::NotFound {
            what: "delivery",
            id,
        })?;
    let status: String = column(&row, "status")?;
    if status != DeliveryStatus::Dead.as_str() {
        transaction
            .rollback()
            .await
            .map_err(|e| map_error(ACTION, e))?;
        return Err(StoreError::InvalidState(format!(
            "delivery {id} is {status}; only dead deliveries can be replayed"
        )));
    }

    let now = Utc::now();
    sqlx::query(&format!("UPDATE deliveries SET {REVIVE} WHERE id = $1"))
        .bind(id)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(|e| map_error(ACTION, e))?;
    transaction.commit().await.map_err(|e| map_error(ACTION, e))
}
