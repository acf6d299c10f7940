//! The retry schedule: exponential backoff with jitter, `Retry-After`
//! honoured up to a cap, and the attempt and age limits.

use std::time::Duration;

use chrono::{DateTime, Utc};
use wamebo_core::ReasonCode;
use wamebo_store::{AttemptOutcome, ClaimedDelivery};

use crate::settings::DispatchSettings;

/// A failure that may be retried, as the sink reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RetryableFailure {
    pub(crate) reason: ReasonCode,
    pub(crate) message: String,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) maybe_created: bool,
}

/// Returns the delay before the attempt after `attempt` (1 for the first).
///
/// The backoff is `initial_backoff × 2^(attempt-1)`, capped at
/// `max_backoff`, then scaled into its upper half by `jitter` (0 to 1), so
/// deliveries that failed together do not retry together. A `Retry-After`
/// from the target, capped at `retry_after_cap`, is a lower bound.
pub(crate) fn retry_delay(
    settings: &DispatchSettings,
    attempt: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let doublings = attempt.saturating_sub(1).min(32);
    let backoff = settings
        .initial_backoff
        .saturating_mul(1u32 << doublings.min(31))
        .min(settings.max_backoff);
    let half = backoff / 2;
    let jittered = half + half.mul_f64(jitter.clamp(0.0, 1.0));

    match retry_after {
        Some(asked) => jittered.max(asked.min(settings.retry_after_cap)),
        None => jittered,
    }
}

/// Decides what follows a retryable failure: another attempt, clamped to the
/// delivery's deadline, or a dead letter once the attempts or the age are
/// used up. The dead letter's message keeps the last failure.
pub(crate) fn after_failure(
    settings: &DispatchSettings,
    claimed: &ClaimedDelivery,
    failure: RetryableFailure,
    now: DateTime<Utc>,
    jitter: f64,
) -> AttemptOutcome {
    // A replay restarts both budgets, so an operator's replay after a long
    // outage gets the full schedule again rather than a single attempt.
    let attempt = claimed.attempt_in_budget();
    let deadline = claimed.budget_started_at() + chrono_duration(settings.max_age);
    if attempt >= settings.max_attempts {
        return exhausted(format!("gave up after {attempt} attempts"), failure);
    }
    if now >= deadline {
        return exhausted(
            format!(
                "gave up after {attempt} attempts: the delivery is older than the maximum age of {}s",
                settings.max_age.as_secs()
            ),
            failure,
        );
    }

    let delay = retry_delay(settings, attempt, failure.retry_after, jitter);
    let next_attempt_at = (now + chrono_duration(delay)).min(deadline);
    AttemptOutcome::Retry {
        reason: failure.reason,
        message: failure.message,
        next_attempt_at,
        maybe_created: failure.maybe_created,
    }
}

fn exhausted(summary: String, last: RetryableFailure) -> AttemptOutcome {
    AttemptOutcome::Dead {
        reason: ReasonCode::RetriesExhausted,
        message: format!("{summary}; last error: {}: {}", last.reason, last.message),
    }
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use wamebo_core::{StoreId, TargetId};

    use super::*;

    fn settings() -> DispatchSettings {
        DispatchSettings {
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(3600),
            retry_after_cap: Duration::from_secs(600),
            max_attempts: 5,
            max_age: Duration::from_secs(3600),
            ..DispatchSettings::default()
        }
    }

    fn claimed(attempt: u32, created_at: DateTime<Utc>) -> ClaimedDelivery {
        ClaimedDelivery {
            delivery_id: 1,
            lease_token: "token".into(),
            event_id: 1,
            store_id: StoreId::new("acme").unwrap(),
            target_id: TargetId::new("shop").unwrap(),
            event_type: "order.created".into(),
            body: Vec::new(),
            received_at: created_at,
            attempt,
            reconcile: false,
            created_at,
            attempts_before_replay: 0,
            replayed_at: None,
        }
    }

    fn failure(retry_after: Option<Duration>) -> RetryableFailure {
        RetryableFailure {
            reason: ReasonCode::RemoteUnavailable,
            message: "target shop answered 503".into(),
            retry_after,
            maybe_created: false,
        }
    }

    #[test]
    fn backoff_doubles_up_to_max() {
        let settings = settings();
        let cases = [
            (1, 10),
            (2, 20),
            (3, 40),
            (9, 2560),
            (10, 3600),
            (40, 3600),
            (u32::MAX, 3600),
        ];
        for (attempt, seconds) in cases {
            let delay = retry_delay(&settings, attempt, None, 1.0);
            assert_eq!(delay, Duration::from_secs(seconds), "attempt {attempt}");
        }
    }

    #[test]
    fn jitter_stays_in_upper_half() {
        let settings = settings();

        assert_eq!(
            retry_delay(&settings, 2, None, 0.0),
            Duration::from_secs(10)
        );
        assert_eq!(
            retry_delay(&settings, 2, None, 0.5),
            Duration::from_secs(15)
        );
        assert_eq!(
            retry_delay(&settings, 2, None, 1.0),
            Duration::from_secs(20)
        );
    }

    #[test]
    fn retry_after_is_a_capped_lower_bound() {
        let settings = settings();
        let cases = [
            (Duration::from_secs(120), Duration::from_secs(120)),
            (Duration::from_secs(86_400), Duration::from_secs(600)),
            (Duration::from_secs(1), Duration::from_secs(10)),
        ];
        for (asked, expected) in cases {
            assert_eq!(
                retry_delay(&settings, 1, Some(asked), 1.0),
                expected,
                "{asked:?}"
            );
        }
    }

    #[test]
    fn failure_before_limits_is_retried() {
        let now = Utc::now();

        let outcome = after_failure(&settings(), &claimed(1, now), failure(None), now, 1.0);

        let AttemptOutcome::Retry {
            next_attempt_at, ..
        } = outcome
        else {
            panic!("expected a retry, got {outcome:?}");
        };
        assert_eq!(next_attempt_at, now + chrono::Duration::seconds(10));
    }

    #[test]
    fn replay_restarts_attempt_and_age_budget() {
        let created = Utc::now() - chrono::Duration::days(10);
        let replayed = Utc::now();
        let mut revived = claimed(6, created);
        revived.attempts_before_replay = 5;
        revived.replayed_at = Some(replayed);

        let outcome = after_failure(&settings(), &revived, failure(None), replayed, 1.0);

        let AttemptOutcome::Retry {
            next_attempt_at, ..
        } = outcome
        else {
            panic!("expected a retry after a replay, got {outcome:?}");
        };
        assert_eq!(next_attempt_at, replayed + chrono::Duration::seconds(10));
    }

    #[test]
    fn replayed_delivery_still_has_limits() {
        let replayed = Utc::now();
        let mut revived = claimed(10, replayed);
        revived.attempts_before_replay = 5;
        revived.replayed_at = Some(replayed);

        let outcome = after_failure(&settings(), &revived, failure(None), replayed, 1.0);

        assert!(
            matches!(outcome, AttemptOutcome::Dead { .. }),
            "five attempts after the replay use up the budget: {outcome:?}"
        );
    }

    #[test]
    fn last_attempt_is_dead_with_last_error() {
        let now = Utc::now();

        let outcome = after_failure(&settings(), &claimed(5, now), failure(None), now, 1.0);

        let AttemptOutcome::Dead { reason, message } = outcome else {
            panic!("expected a dead letter, got {outcome:?}");
        };
        assert_eq!(reason, ReasonCode::RetriesExhausted);
        assert!(message.contains("5 attempts"), "{message}");
        assert!(message.contains("remote_unavailable"), "{message}");
        assert!(message.contains("answered 503"), "{message}");
    }

    #[test]
    fn delivery_past_max_age_is_dead() {
        let now = Utc::now();
        let created_at = now - chrono::Duration::seconds(3601);

        let outcome = after_failure(
            &settings(),
            &claimed(2, created_at),
            failure(None),
            now,
            1.0,
        );

        assert!(
            matches!(
                outcome,
                AttemptOutcome::Dead {
                    reason: ReasonCode::RetriesExhausted,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }

    #[test]
    fn next_attempt_is_clamped_to_deadline() {
        let now = Utc::now();
        let created_at = now - chrono::Duration::seconds(3595);

        let outcome = after_failure(
            &settings(),
            &claimed(2, created_at),
            failure(None),
            now,
            1.0,
        );

        let AttemptOutcome::Retry {
            next_attempt_at, ..
        } = outcome
        else {
            panic!("expected a retry, got {outcome:?}");
        };
        assert_eq!(
            next_attempt_at,
            created_at + chrono::Duration::seconds(3600)
        );
    }
}
