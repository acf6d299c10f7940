//! A limit on repeated warnings, so a flood of bad requests is counted in
//! metrics rather than written to the log line by line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Lets one warning through per interval and counts the ones it holds back.
#[derive(Debug)]
pub(crate) struct WarnLimiter {
    started: Instant,
    interval: Duration,
    next_allowed_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl WarnLimiter {
    pub(crate) fn new(interval: Duration) -> Self {
        WarnLimiter {
            started: Instant::now(),
            interval,
            next_allowed_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Returns `Some(n)` when a warning may be logged now, where `n` counts
    /// the warnings held back since the last one; `None` otherwise.
    pub(crate) fn allow(&self) -> Option<u64> {
        let now_ms = millis(self.started.elapsed());
        let next_allowed = self.next_allowed_ms.load(Ordering::Relaxed);
        let won = now_ms >= next_allowed
            && self
                .next_allowed_ms
                .compare_exchange(
                    next_allowed,
                    now_ms + millis(self.interval),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        if won {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_warning_within_interval_is_held_back() {
        let limiter = WarnLimiter::new(Duration::from_secs(3600));

        assert_eq!(limiter.allow(), Some(0));
        assert_eq!(limiter.allow(), None);
        assert_eq!(limiter.allow(), None);
    }

    #[test]
    fn next_warning_reports_held_back_count() {
        let limiter = WarnLimiter::new(Duration::ZERO);
        limiter.suppressed.store(5, Ordering::Relaxed);

        assert_eq!(limiter.allow(), Some(5));
        assert_eq!(limiter.allow(), Some(0));
    }
}
