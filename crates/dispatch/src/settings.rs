//! How many workers run, how long they hold a claim, and when a failed
//! delivery is tried again or given up.

use std::time::Duration;

use crate::error::DispatchSetupError;

/// Worker count, leases, timeouts and the retry schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchSettings {
    /// Deliveries attempted at once.
    pub workers: usize,
    /// Delay before the second attempt; doubled for each later one, with
    /// jitter.
    pub initial_backoff: Duration,
    /// Maximum delay between two attempts.
    pub max_backoff: Duration,
    /// Attempts before a delivery is dead as `retries_exhausted`.
    pub max_attempts: u32,
    /// Time from a delivery's creation after which it is dead as
    /// `retries_exhausted`.
    pub max_age: Duration,
    /// How long a claim holds; must exceed `call_timeout`, so a delivery is
    /// never claimed twice while a sink call is still running.
    pub lease: Duration,
    /// Maximum wait that a target's `Retry-After` can impose.
    pub retry_after_cap: Duration,
    /// Maximum sleep of an idle worker. Workers also wake when the receiver
    /// or a replay creates deliveries, and when the next one falls due.
    pub idle_poll: Duration,
    /// Time allowed for one attempt's sink calls, the lookup of an existing
    /// order and the create together. An attempt that runs longer is retried
    /// as one that may have created the order.
    pub call_timeout: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            workers: 4,
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(3600),
            max_attempts: 20,
            max_age: Duration::from_secs(72 * 3600),
            lease: Duration::from_secs(60),
            retry_after_cap: Duration::from_secs(3600),
            idle_poll: Duration::from_secs(5),
            call_timeout: Duration::from_secs(45),
        }
    }
}

impl DispatchSettings {
    /// Checks that the settings can work together.
    pub fn validate(&self) -> Result<(), DispatchSetupError> {
        let invalid = |message: &str| Err(DispatchSetupError::InvalidSettings(message.to_owned()));
        if self.workers == 0 {
            return invalid("`workers` is 0: set at least 1");
        }
        if self.max_attempts == 0 {
            return invalid("`max_attempts` is 0: set at least 1");
        }
        if self.max_backoff < self.initial_backoff {
            return invalid("`max_backoff` is shorter than `initial_backoff`: raise it");
        }
        if self.idle_poll.is_zero() {
            return invalid("`idle_poll` is 0: set a positive duration such as 5s");
        }
        if self.call_timeout.is_zero() {
            return invalid("`call_timeout` is 0: set a positive duration such as 45s");
        }
        if self.lease <= self.call_timeout {
            return invalid(
                "`lease` must be longer than `call_timeout`, or a running delivery could be claimed twice: raise `lease`",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(DispatchSettings::default().validate().is_ok());
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let base = DispatchSettings::default();
        let cases = [
            (
                "workers",
                DispatchSettings {
                    workers: 0,
                    ..base.clone()
                },
            ),
            (
                "max_attempts",
                DispatchSettings {
                    max_attempts: 0,
                    ..base.clone()
                },
            ),
            (
                "max_backoff",
                DispatchSettings {
                    max_backoff: Duration::from_secs(1),
                    ..base.clone()
                },
            ),
            (
                "idle_poll",
                DispatchSettings {
                    idle_poll: Duration::ZERO,
                    ..base.clone()
                },
            ),
            (
                "call_timeout",
                DispatchSettings {
                    call_timeout: Duration::ZERO,
                    ..base.clone()
                },
            ),
            (
                "lease",
                DispatchSettings {
                    lease: Duration::from_secs(45),
                    ..base.clone()
                },
            ),
        ];
        for (key, settings) in cases {
            let error = settings.validate().unwrap_err().to_string();
            assert!(error.contains(key), "{key}: {error}");
        }
    }
}
