//! Pacing by Shopify's calculated query cost.
//!
//! The GraphQL Admin API limits each app and shop with a leaky bucket of
//! cost points: a request needs its requested cost available in the bucket
//! before it runs, and the bucket refills at a fixed rate per second. Every
//! response reports the bucket in `extensions.cost.throttleStatus`
//! (`maximumAvailable`, `currentlyAvailable`, `restoreRate`) and the query's
//! `requestedQueryCost`
//! (<https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits>).
//! The pacer keeps the last reported bucket, refills it by the elapsed time
//! and makes a request wait until its cost is available, so requests are
//! not sent only to be throttled.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// The cost assumed for an operation whose cost Shopify has not reported
/// yet: a guess, replaced by the reported cost after the operation's first
/// response.
const DEFAULT_COST_ESTIMATE: f64 = 10.0;

/// The wait reported for a throttled request whose response carries no cost
/// data to compute a better one.
const DEFAULT_THROTTLE_WAIT: Duration = Duration::from_secs(1);

/// The shortest wait reported for a throttled request.
const MIN_THROTTLE_WAIT: Duration = Duration::from_millis(50);

/// `extensions.cost` of a GraphQL response.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryCost {
    /// The cost the query needed available before it ran.
    pub requested_query_cost: Option<f64>,
    /// The bucket after the query.
    pub throttle_status: Option<ThrottleStatus>,
}

/// `extensions.cost.throttleStatus` of a GraphQL response.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ThrottleStatus {
    /// The bucket's size, in cost points.
    pub maximum_available: f64,
    /// The points available when the response was made.
    pub currently_available: f64,
    /// The points restored per second.
    pub restore_rate: f64,
}

impl QueryCost {
    /// Returns how long until the bucket contains the requested cost again,
    /// for a request Shopify throttled.
    pub fn throttled_wait(&self) -> Duration {
        let (Some(requested), Some(status)) = (self.requested_query_cost, self.throttle_status)
        else {
            return DEFAULT_THROTTLE_WAIT;
        };
        if status.restore_rate <= 0.0 || !status.restore_rate.is_finite() {
            return DEFAULT_THROTTLE_WAIT;
        }
        let missing =
            (requested.min(status.maximum_available) - status.currently_available).max(0.0);
        seconds(missing / status.restore_rate).max(MIN_THROTTLE_WAIT)
    }
}

/// The last known state of Shopify's cost bucket for one app and shop.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    available: f64,
    maximum: f64,
    restore_rate: f64,
    observed_at: Instant,
}

impl Bucket {
    fn available_at(&self, now: Instant) -> f64 {
        let elapsed = now
            .saturating_duration_since(self.observed_at)
            .as_secs_f64();
        (self.available + self.restore_rate * elapsed).min(self.maximum)
    }
}

#[derive(Debug, Default)]
struct PacerState {
    bucket: Option<Bucket>,
    /// The last `requestedQueryCost` seen for each operation name.
    estimates: HashMap<&'static str, f64>,
}

/// Shared pacing state of one shop's GraphQL client.
#[derive(Debug, Default)]
pub(crate) struct CostPacer {
    state: Mutex<PacerState>,
}

impl CostPacer {
    /// Returns how long to wait before sending `operation` and reserves its
    /// estimated cost, so concurrent callers queue behind it. When the wait
    /// would exceed `max_wait`, reserves nothing and returns the wait as the
    /// error.
    pub fn reserve(
        &self,
        operation: &'static str,
        now: Instant,
        max_wait: Duration,
    ) -> Result<Duration, Duration> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let estimate = state
            .estimates
            .get(operation)
            .copied()
            .unwrap_or(DEFAULT_COST_ESTIMATE);
        let Some(bucket) = state.bucket else {
            return Ok(Duration::ZERO);
        };

        // Waiting never makes room for a query larger than the bucket, and
        // Shopify rejects such a query itself. So pacing waits for a full
        // bucket at most.
        let needed = estimate.min(bucket.maximum);
        let available = bucket.available_at(now);
        let wait = if available >= needed {
            Duration::ZERO
        } else if bucket.restore_rate > 0.0 {
            seconds((needed - available) / bucket.restore_rate)
        } else {
            DEFAULT_THROTTLE_WAIT
        };
        if wait > max_wait {
            return Err(wait);
        }

        state.bucket = Some(Bucket {
            available: available - needed,
            observed_at: now,
            ..bucket
        });
        Ok(wait)
    }

    /// Records the cost data of a response for `operation`.
    pub fn observe(&self, operation: &'static str, cost: &QueryCost, now: Instant) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(requested) = cost
            .requested_query_cost
            .filter(|c| c.is_finite() && *c >= 0.0)
        {
            state.estimates.insert(operation, requested);
        }
        if let Some(status) = cost.throttle_status {
            let values = [
                status.maximum_available,
                status.currently_available,
                status.restore_rate,
            ];
            if values.iter().all(|value| value.is_finite()) {
                state.bucket = Some(Bucket {
                    available: status.currently_available,
                    maximum: status.maximum_available,
                    restore_rate: status.restore_rate,
                    observed_at: now,
                });
            }
        }
    }
}

/// Converts seconds to a `Duration`, capping absurd values at one hour.
fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.clamp(0.0, 3600.0)).unwrap_or(Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(requested: f64, available: f64, maximum: f64, rate: f64) -> QueryCost {
        QueryCost {
            requested_query_cost: Some(requested),
            throttle_status: Some(ThrottleStatus {
                maximum_available: maximum,
                currently_available: available,
                restore_rate: rate,
            }),
        }
    }

    const NO_LIMIT: Duration = Duration::from_secs(3600);

    #[test]
    fn first_request_does_not_wait() {
        let pacer = CostPacer::default();

        let wait = pacer.reserve("OrderCreate", Instant::now(), NO_LIMIT);

        assert_eq!(wait, Ok(Duration::ZERO));
    }

    #[test]
    fn low_bucket_waits_for_refill() {
        let pacer = CostPacer::default();
        let now = Instant::now();
        pacer.observe("OrderCreate", &cost(20.0, 0.0, 2000.0, 100.0), now);

        let wait = pacer.reserve("OrderCreate", now, NO_LIMIT).unwrap();

        assert_eq!(wait, Duration::from_millis(200));
    }

    #[test]
    fn elapsed_time_refills_bucket() {
        let pacer = CostPacer::default();
        let then = Instant::now();
        pacer.observe("OrderCreate", &cost(20.0, 0.0, 2000.0, 100.0), then);

        let wait = pacer.reserve("OrderCreate", then + Duration::from_millis(150), NO_LIMIT);

        assert_eq!(wait, Ok(Duration::from_millis(50)));
    }

    #[test]
    fn reservations_queue_concurrent_requests() {
        let pacer = CostPacer::default();
        let now = Instant::now();
        pacer.observe("OrderCreate", &cost(10.0, 10.0, 2000.0, 100.0), now);

        let first = pacer.reserve("OrderCreate", now, NO_LIMIT).unwrap();
        let second = pacer.reserve("OrderCreate", now, NO_LIMIT).unwrap();

        assert_eq!(first, Duration::ZERO);
        assert_eq!(second, Duration::from_millis(100));
    }

    #[test]
    fn wait_over_limit_reserves_nothing() {
        let pacer = CostPacer::default();
        let now = Instant::now();
        pacer.observe("OrderCreate", &cost(100.0, 0.0, 2000.0, 10.0), now);

        let rejected = pacer.reserve("OrderCreate", now, Duration::from_secs(1));
        let allowed = pacer.reserve("OrderCreate", now, NO_LIMIT);

        assert_eq!(rejected, Err(Duration::from_secs(10)));
        assert_eq!(allowed, Ok(Duration::from_secs(10)));
    }

    #[test]
    fn estimates_are_kept_per_operation() {
        let pacer = CostPacer::default();
        let now = Instant::now();
        pacer.observe("OrderCreate", &cost(50.0, 0.0, 2000.0, 100.0), now);

        let unseen = pacer.reserve("CustomerByPhone", now, NO_LIMIT).unwrap();

        assert_eq!(unseen, Duration::from_millis(100));
    }

    #[test]
    fn throttled_wait_uses_missing_points() {
        let throttled = cost(752.0, 666.0, 1000.0, 50.0);

        assert_eq!(
            throttled.throttled_wait(),
            Duration::from_secs_f64(86.0 / 50.0)
        );
    }

    #[test]
    fn throttled_wait_without_cost_data_is_default() {
        assert_eq!(QueryCost::default().throttled_wait(), DEFAULT_THROTTLE_WAIT);
        let zero_rate = cost(10.0, 0.0, 100.0, 0.0);
        assert_eq!(zero_rate.throttled_wait(), DEFAULT_THROTTLE_WAIT);
    }

    #[test]
    fn throttled_wait_has_a_floor() {
        let nearly_full = cost(10.0, 10.0, 100.0, 50.0);

        assert_eq!(nearly_full.throttled_wait(), MIN_THROTTLE_WAIT);
    }
}
