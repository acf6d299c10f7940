//! Claiming due deliveries under leases and recording attempt outcomes.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnection;
use sqlx::{PgPool, Row};

use super::errors::{corrupt, map_error};
use super::rows::{column, count, lease_end, store_id, target_id};
use crate::error::StoreError;
use crate::model::*;

/// Claims due deliveries in one statement.
///
/// `FOR UPDATE SKIP LOCKED` lets concurrent claimers, in this process or in
/// other replicas, pass over rows another claim has locked. A row that
/// another claim updated and committed meanwhile is re-checked against the
/// `WHERE` clause, and its fresh lease no longer matches, so no delivery is
/// claimed twice. A delivery still in flight whose lease expired is claimed
/// again with `reconcile` set, since its last attempt may have reached the
/// target.
pub(crate) async fn claim_due(
    pool: &PgPool,
    request: ClaimRequest,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    const ACTION: &str = "claim deliveries";
    if request.limit == 0 {
        return Ok(Vec::new());
    }
    let lease_expires_at = lease_end(request.now, request.lease)?;
    let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);

    let rows = sqlx::query(
        "WITH due AS ( \
             SELECT id FROM deliveries \
             WHERE (status = 'pending' AND next_attempt_at <= $1) \
                OR (status = 'in_flight' AND lease_expires_at <= $1) \
             ORDER BY CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_expires_at END, id \
             LIMIT $2 \
             FOR UPDATE SKIP LOCKED \
         ) \
         UPDATE deliveries d SET \
             reconcile = d.reconcile OR d.status = 'in_flight', \
             status = 'in_flight', \
             attempts = d.attempts + 1, \
             next_attempt_at = NULL, \
             lease_token = gen_random_uuid()::text, \
             lease_owner = $3, \
             lease_expires_at = $4, \
             updated_at = $1 \
         FROM due, events e \
         WHERE d.id = due.id AND e.id = d.event_id \
         RETURNING d.id, d.lease_token, d.event_id, d.store_id, d.target_id, d.attempts, \
             d.reconcile, d.created_at, d.attempts_before_replay, d.replayed_at, \
             e.event_type, e.body, e.received_at",
    )
    .bind(request.now)
    .bind(limit)
    .bind(&request.worker)
    .bind(lease_expires_at)
    .fetch_all(pool)
    .await
    .map_err(|e| map_error(ACTION, e))?;

    let mut claimed = rows
        .iter()
        .map(|row| {
            Ok(ClaimedDelivery {
                delivery_id: column(row, "id")?,
                lease_token: column(row, "lease_token")?,
                event_id: column(row, "event_id")?,
                store_id: store_id(row)?,
                target_id: target_id(row)?,
                event_type: column(row, "event_type")?,
                body: column(row, "body")?,
                received_at: column(row, "received_at")?,
                attempt: count(row, "attempts")?,
                reconcile: column(row, "reconcile")?,
                created_at: column(row, "created_at")?,
                attempts_before_replay: count(row, "attempts_before_replay")?,
                replayed_at: column(row, "replayed_at")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // RETURNING follows no order; hand out the oldest deliveries first.
    claimed.sort_by_key(|delivery| delivery.delivery_id);
    Ok(claimed)
}

/// Records an outcome if the lease token still matches.
///
/// The row is locked first, so a concurrent claim of an expired lease either
/// happens before (and the token no longer matches) or waits for this
/// transaction (and then finds the delivery no longer in flight). A lease
/// that expired but was not claimed again still counts: its outcome is real.
pub(crate) async fn complete(
    pool: &PgPool,
    lease: &Lease,
    outcome: AttemptOutcome,
) -> Result<(), StoreError> {
    const ACTION: &str = "complete delivery";
    let mut transaction = pool.begin().await.map_err(|e| map_error(ACTION, e))?;

    let row = sqlx::query(
        "SELECT attempts, lease_token, status FROM deliveries WHERE id = $1 FOR UPDATE",
    )
    .bind(lease.delivery_id)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(|e| map_error(ACTION, e))?
    .ok_or(StoreError::NotFound {
        what: "delivery",
        id: lease.delivery_id,
    })?;
    let token: Option<String> = column(&row, "lease_token")?;
    let status: String = column(&row, "status")?;
    if status != DeliveryStatus::InFlight.as_str() || token.as_deref() != Some(lease.token.as_str())
    {
        // Ends the transaction now rather than when the connection is next
        // used, so the row lock does not outlive this call.
        transaction
            .rollback()
            .await
            .map_err(|e| map_error(ACTION, e))?;
        return Err(StoreError::LeaseLost {
            delivery_id: lease.delivery_id,
        });
    }
    let attempt: i32 = column(&row, "attempts")?;
    if attempt < 1 {
        return Err(corrupt("attempt count of an in-flight delivery", attempt));
    }

    let now = Utc::now();
    apply_outcome(&mut transaction, lease.delivery_id, now, &outcome).await?;
    insert_attempt(&mut transaction, lease.delivery_id, attempt, now, &outcome).await?;
    transaction.commit().await.map_err(|e| map_error(ACTION, e))
}

/// Moves the delivery to its next state and clears the lease.
async fn apply_outcome(
    connection: &mut PgConnection,
    delivery_id: DeliveryId,
    now: DateTime<Utc>,
    outcome: &AttemptOutcome,
) -> Result<(), StoreError> {
    let query = match outcome {
        AttemptOutcome::Succeeded {
            remote_id, note, ..
        } => sqlx::query(
            "UPDATE deliveries SET status = 'succeeded', next_attempt_at = NULL, \
                 remote_id = $2, note = $3, updated_at = $4, \
                 lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $1",
        )
        .bind(delivery_id)
        .bind(remote_id.as_deref())
        .bind(note.as_deref())
        .bind(now),
        AttemptOutcome::Retry {
            reason,
            message,
            next_attempt_at,
            maybe_created,
        } => sqlx::query(
            // The reconcile flag stays set once raised, because a later attempt
            // that surely did not reach the target proves nothing about an
            // earlier one.
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $2, \
                 last_reason = $3, last_error = $4, reconcile = reconcile OR $5, \
                 updated_at = $6, \
                 lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $1",
        )
        .bind(delivery_id)
        .bind(*next_attempt_at)
        .bind(reason.as_str())
        .bind(message.as_str())
        .bind(*maybe_created)
        .bind(now),
        AttemptOutcome::Dead { reason, message } => sqlx::query(
            "UPDATE deliveries SET status = 'dead', next_attempt_at = NULL, \
                 last_reason = $2, last_error = $3, updated_at = $4, \
                 lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $1",
        )
        .bind(delivery_id)
        .bind(reason.as_str())
        .bind(message.as_str())
        .bind(now),
    };
    query
        .execute(&mut *connection)
        .await
        .map_err(|e| map_error("complete delivery", e))?;
    Ok(())
}

async fn insert_attempt(
    connection: &mut PgConnection,
    delivery_id: DeliveryId,
    attempt: i32,
    now: DateTime<Utc>,
    outcome: &AttemptOutcome,
) -> Result<(), StoreError> {
    let (kind, reason, message, remote_id) = match outcome {
        AttemptOutcome::Succeeded {
            remote_id,
            note,
            adopted,
        } => (
            if *adopted { "adopted" } else { "succeeded" },
            None,
            note.as_deref(),
            remote_id.as_deref(),
        ),
        AttemptOutcome::Retry {
            reason, message, ..
        } => ("retry", Some(reason.as_str()), Some(message.as_str()), None),
        AttemptOutcome::Dead { reason, message } => {
            ("dead", Some(reason.as_str()), Some(message.as_str()), None)
        }
    };
    sqlx::query(
        "INSERT INTO attempts (delivery_id, attempt, finished_at, outcome, reason, message, remote_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(delivery_id)
    .bind(attempt)
    .bind(now)
    .bind(kind)
    .bind(reason)
    .bind(message)
    .bind(remote_id)
    .execute(&mut *connection)
    .await
    .map_err(|e| map_error("record attempt", e))?;
    Ok(())
}

/// Returns the earliest due time of a pending delivery or lease expiry.
pub(crate) async fn next_due_at(pool: &PgPool) -> Result<Option<DateTime<Utc>>, StoreError> {
    let row = sqlx::query(
        "SELECT LEAST( \
             (SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'), \
             (SELECT min(lease_expires_at) FROM deliveries WHERE status = 'in_flight') \
         ) AS due",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| map_error("read next due time", e))?;
    row.try_get("due")
        .map_err(|e| map_error("read next due time", e))
}
