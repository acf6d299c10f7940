//! Prometheus metrics of the dispatcher.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Bucket bounds of the attempt duration histogram, in seconds: from a local
/// file append to a platform call near the default 45 s timeout.
const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 45.0,
];

#[derive(Debug, Clone)]
pub(crate) struct DispatchMetrics {
    attempts: IntCounterVec,
    dead_letters: IntCounterVec,
    duration: HistogramVec,
}

impl DispatchMetrics {
    /// Creates the metrics and registers them; fails when names are already
    /// registered in `registry`.
    pub(crate) fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let attempts = IntCounterVec::new(
            Opts::new(
                "wamebo_delivery_attempts_total",
                "Delivery attempts by target and outcome (succeeded, adopted, retry, dead)",
            ),
            &["target", "outcome"],
        )?;
        let dead_letters = IntCounterVec::new(
            Opts::new(
                "wamebo_dead_letters_total",
                "Deliveries given up, by target and reason code",
            ),
            &["target", "reason"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "wamebo_delivery_attempt_duration_seconds",
                "Time spent in the target's sink per attempt",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["target"],
        )?;

        registry.register(Box::new(attempts.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        registry.register(Box::new(duration.clone()))?;

        Ok(DispatchMetrics {
            attempts,
            dead_letters,
            duration,
        })
    }

    pub(crate) fn record_attempt(&self, target: &str, outcome: &str, seconds: f64) {
        self.attempts.with_label_values(&[target, outcome]).inc();
        self.duration.with_label_values(&[target]).observe(seconds);
    }

    pub(crate) fn record_dead_letter(&self, target: &str, reason: &str) {
        self.dead_letters.with_label_values(&[target, reason]).inc();
    }
}
