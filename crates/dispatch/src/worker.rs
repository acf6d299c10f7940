//! One worker's loop: claim a due delivery, attempt it, record the outcome.
//! When nothing is due, the worker sleeps until woken, until the next
//! delivery falls due, or at most `idle_poll`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;
use tracing::Instrument;
use wamebo_store::{AttemptOutcome, ClaimRequest, ClaimedDelivery, Lease, StoreError};

use crate::attempt::attempt;
use crate::dispatcher::Shared;

/// Shortest idle sleep, so a delivery that is due but claimed by another
/// worker in the meantime cannot make this one spin.
const MIN_IDLE_SLEEP: Duration = Duration::from_millis(10);
/// First pause after a storage failure; doubled per failure in a row.
const FIRST_STORAGE_PAUSE: Duration = Duration::from_millis(500);
/// Maximum pause after storage failures in a row.
const MAX_STORAGE_PAUSE: Duration = Duration::from_secs(30);
/// Pauses between tries to record an outcome when storage fails. After the
/// last, the outcome is dropped: the lease expires and the next claim looks
/// for the order the sink may have created.
const COMPLETE_RETRY_PAUSES: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// Runs until `stop` turns true; an attempt under way when it does is
/// finished and recorded first.
pub(crate) async fn run_worker(shared: Arc<Shared>, name: String, mut stop: watch::Receiver<bool>) {
    let mut external = shared.store.external_wakeups();
    let mut storage_pause = FIRST_STORAGE_PAUSE;

    // A dropped sender means the handle is gone, which also stops the loop.
    while !*stop.borrow() && stop.has_changed().is_ok() {
        let claimed = {
            // Registered before the claim, so a wake-up sent between an
            // empty claim and the wait below is not lost.
            let woken = shared.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();

            match claim_one(&shared, &name).await {
                Ok(Some(claimed)) => claimed,
                Ok(None) => {
                    let sleep = idle_sleep(&shared).await;
                    tokio::select! {
                        _ = &mut woken => {}
                        _ = tokio::time::sleep(sleep) => {}
                        _ = stop.changed() => {}
                        _ = external_change(&mut external) => {}
                    }
                    continue;
                }
                Err(error) => {
                    tracing::error!(worker = %name, error = %error, pause_ms = storage_pause.as_millis() as u64, "failed to claim deliveries; retrying after a pause");
                    tokio::select! {
                        _ = tokio::time::sleep(storage_pause) => {}
                        _ = stop.changed() => {}
                    }
                    storage_pause = (storage_pause * 2).min(MAX_STORAGE_PAUSE);
                    continue;
                }
            }
        };
        storage_pause = FIRST_STORAGE_PAUSE;

        // More deliveries may be due: let an idle worker look while this
        // one is busy.
        shared.wake.notify_one();
        process(&shared, claimed).await;
    }
}

async fn claim_one(shared: &Shared, name: &str) -> Result<Option<ClaimedDelivery>, StoreError> {
    let request = ClaimRequest {
        worker: name.to_owned(),
        now: Utc::now(),
        lease: shared.settings.lease,
        limit: 1,
    };
    Ok(shared.store.claim_due(request).await?.into_iter().next())
}

/// Returns how long to sleep when nothing is due: until the next delivery
/// or lease expiry, at least [`MIN_IDLE_SLEEP`] and at most `idle_poll`.
async fn idle_sleep(shared: &Shared) -> Duration {
    let idle_poll = shared.settings.idle_poll;
    match shared.store.next_due_at().await {
        Ok(Some(due_at)) => (due_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .clamp(MIN_IDLE_SLEEP, idle_poll.max(MIN_IDLE_SLEEP)),
        Ok(None) => idle_poll,
        Err(error) => {
            tracing::warn!(error = %error, "failed to read when the next delivery is due; sleeping the idle poll interval");
            idle_poll
        }
    }
}

/// Waits for another replica to announce deliveries; never returns for a
/// store without such announcements, or once they have ended.
async fn external_change(external: &mut Option<watch::Receiver<u64>>) {
    match external {
        Some(receiver) => {
            if receiver.changed().await.is_err() {
                *external = None;
            }
        }
        None => std::future::pending().await,
    }
}

async fn process(shared: &Shared, claimed: ClaimedDelivery) {
    let span = tracing::info_span!(
        "delivery",
        delivery_id = claimed.delivery_id,
        event_id = claimed.event_id,
        store = %claimed.store_id,
        target = %claimed.target_id,
        attempt = claimed.attempt,
        order_id = tracing::field::Empty,
    );
    async {
        let started = Instant::now();
        let outcome = attempt(shared, &claimed).await;
        let seconds = started.elapsed().as_secs_f64();

        report(shared, &claimed, &outcome, seconds);
        record_outcome(shared, &claimed, outcome).await;
    }
    .instrument(span)
    .await
}

/// Counts the outcome and logs retries and dead letters; the span carries
/// the delivery, event, store, target and order ids.
fn report(shared: &Shared, claimed: &ClaimedDelivery, outcome: &AttemptOutcome, seconds: f64) {
    let target = claimed.target_id.as_str();
    match outcome {
        AttemptOutcome::Succeeded {
            remote_id, adopted, ..
        } => {
            let label = if *adopted { "adopted" } else { "succeeded" };
            shared.metrics.record_attempt(target, label, seconds);
            if *adopted {
                tracing::info!(remote_id = ?remote_id, "delivery succeeded by adopting the order an earlier attempt created");
            } else {
                tracing::debug!(remote_id = ?remote_id, "delivery succeeded");
            }
        }
        AttemptOutcome::Retry {
            reason,
            message,
            next_attempt_at,
            maybe_created,
        } => {
            shared.metrics.record_attempt(target, "retry", seconds);
            tracing::info!(
                reason = %reason,
                error = %message,
                next_attempt_at = %next_attempt_at,
                maybe_created,
                "delivery failed; retry scheduled"
            );
        }
        AttemptOutcome::Dead { reason, message } => {
            shared.metrics.record_attempt(target, "dead", seconds);
            shared.metrics.record_dead_letter(target, reason.as_str());
            tracing::info!(
                reason = %reason,
                error = %message,
                "delivery is dead; replay it once the cause is fixed"
            );
        }
    }
}

/// Records the outcome under the lease. A lost lease means another worker
/// owns the delivery now, so the outcome is dropped. Storage failures are
/// retried a few times; after that the lease expires and the next claim
/// reconciles.
async fn record_outcome(shared: &Shared, claimed: &ClaimedDelivery, outcome: AttemptOutcome) {
    let lease = Lease {
        delivery_id: claimed.delivery_id,
        token: claimed.lease_token.clone(),
    };
    let mut pauses = COMPLETE_RETRY_PAUSES.iter();
    loop {
        let error = match shared.store.complete(&lease, outcome.clone()).await {
            Ok(()) => return,
            Err(error @ StoreError::LeaseLost { .. }) => {
                tracing::warn!(error = %error, "outcome not recorded: the lease expired and another worker claimed the delivery");
                return;
            }
            Err(error) => error,
        };
        let Some(pause) = pauses.next() else {
            tracing::error!(error = %error, "failed to record the outcome; the delivery will be claimed again when its lease expires");
            return;
        };
        tracing::error!(error = %error, pause_ms = pause.as_millis() as u64, "failed to record the outcome; retrying");
        tokio::time::sleep(*pause).await;
    }
}
