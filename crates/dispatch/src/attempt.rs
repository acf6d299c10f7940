//! One delivery attempt: rebuild the order from the stored body, call the
//! sink within the time limit, and sort the result into an outcome.

use chrono::Utc;
use wamebo_core::event::ORDER_CREATED;
use wamebo_core::{
    classify, ClassifyPolicy, Delivered, DeliveryContext, DeliveryError, Order, OrderSink,
    ReasonCode, Verdict,
};
use wamebo_store::{AttemptOutcome, ClaimedDelivery};

use crate::dispatcher::Shared;
use crate::schedule::{after_failure, RetryableFailure};

/// The sink's result on success.
enum SinkSuccess {
    Created(Delivered),
    /// An order created by an earlier attempt was found and adopted.
    Adopted(Delivered),
}

/// Makes one attempt of a claimed delivery and returns its outcome, ready
/// to be recorded under the lease.
pub(crate) async fn attempt(shared: &Shared, claimed: &ClaimedDelivery) -> AttemptOutcome {
    let Some(sink) = shared.sinks.get(&claimed.target_id) else {
        return AttemptOutcome::Dead {
            reason: ReasonCode::TargetNotConfigured,
            message: format!(
                "target `{}` is not configured: add it back to the configuration and replay delivery {}",
                claimed.target_id, claimed.delivery_id
            ),
        };
    };
    let context = DeliveryContext {
        store_id: claimed.store_id.clone(),
        target_id: claimed.target_id.clone(),
        event_id: claimed.event_id,
        delivery_id: claimed.delivery_id,
        attempt: claimed.attempt,
        received_at: claimed.received_at,
    };

    let call = call_sink(shared, sink.as_ref(), &context, claimed);
    let result = match tokio::time::timeout(shared.settings.call_timeout, call).await {
        Ok(result) => result,
        Err(_elapsed) => Err(DeliveryError::Retry {
            reason: ReasonCode::RemoteUnavailable,
            message: format!(
                "target `{}` did not finish within {}s; the order may have been created, so the next attempt looks for it first",
                claimed.target_id,
                shared.settings.call_timeout.as_secs_f64()
            ),
            retry_after: None,
            maybe_created: true,
        }),
    };

    outcome_of(shared, claimed, result)
}

/// Calls the sink: `forward_event` for events other than `order.created`;
/// for an order, `find_existing` first when an earlier attempt may have
/// created it, then `create_order`.
async fn call_sink(
    shared: &Shared,
    sink: &dyn OrderSink,
    context: &DeliveryContext,
    claimed: &ClaimedDelivery,
) -> Result<SinkSuccess, DeliveryError> {
    if claimed.event_type != ORDER_CREATED {
        // NOTE: a forwarded event has no lookup of an earlier delivery, so a
        // retry after a timeout may forward it twice. The receiving side must
        // deduplicate by the event's own id.
        return sink
            .forward_event(context, &claimed.event_type, &claimed.body)
            .await
            .map(SinkSuccess::Created);
    }

    let order = stored_order(shared, claimed)?;
    tracing::Span::current().record("order_id", order.order_id);

    if claimed.reconcile {
        if let Some(existing) = sink.find_existing(context, &order).await? {
            return Ok(SinkSuccess::Adopted(existing));
        }
    }
    sink.create_order(context, &order)
        .await
        .map(SinkSuccess::Created)
}

/// Rebuilds the order from the stored body with the store's current policy
/// and no age limit, since an accepted event may wait long for its target.
fn stored_order(shared: &Shared, claimed: &ClaimedDelivery) -> Result<Order, DeliveryError> {
    // NOTE: a store removed from the configuration falls back to the default
    // policy, which rejects mismatched totals that the store may have
    // accepted as an adjustment.
    let policy = ClassifyPolicy {
        max_event_age: None,
        ..shared
            .policies
            .get(&claimed.store_id)
            .copied()
            .unwrap_or_default()
    };
    let classified = classify(&claimed.body, &policy, Utc::now());
    match classified.verdict {
        Verdict::Accepted(_) => match classified.order() {
            Some(order) => Ok(order.clone()),
            None => Err(DeliveryError::permanent(
                ReasonCode::InvalidPayload,
                format!("event {} is not an order", claimed.event_id),
            )),
        },
        Verdict::Quarantined { reason, detail } => Err(DeliveryError::permanent(
            reason,
            format!(
                "event {} no longer passes validation under store `{}`'s policy: {detail}",
                claimed.event_id, claimed.store_id
            ),
        )),
    }
}

fn outcome_of(
    shared: &Shared,
    claimed: &ClaimedDelivery,
    result: Result<SinkSuccess, DeliveryError>,
) -> AttemptOutcome {
    match result {
        Ok(SinkSuccess::Created(delivered)) => AttemptOutcome::Succeeded {
            remote_id: delivered.remote_id,
            note: delivered.note,
            adopted: false,
        },
        Ok(SinkSuccess::Adopted(delivered)) => AttemptOutcome::Succeeded {
            remote_id: delivered.remote_id,
            note: delivered.note,
            adopted: true,
        },
        Err(DeliveryError::Permanent { reason, message }) => {
            AttemptOutcome::Dead { reason, message }
        }
        Err(DeliveryError::Retry {
            reason,
            message,
            retry_after,
            maybe_created,
        }) => {
            let failure = RetryableFailure {
                reason,
                message,
                retry_after,
                maybe_created,
            };
            after_failure(
                &shared.settings,
                claimed,
                failure,
                Utc::now(),
                rand::random::<f64>(),
            )
        }
    }
}
