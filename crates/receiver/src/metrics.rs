//! Prometheus metrics of the receiver, registered in the registry that the
//! whole process shares.

use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use wamebo_store::DeliveryCounts;

/// The `store` label of requests whose store is not configured.
/// `StoreId::new` rejects a leading `_`, so this label cannot collide with a
/// real store, and the requested id never becomes a label value.
pub(crate) const UNKNOWN_STORE_LABEL: &str = "_unknown";

/// Bucket bounds of the webhook duration histogram, in seconds: a response
/// normally takes milliseconds, and Wamebo gives up after 3 s.
const DURATION_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0,
];

/// The receiver's counters, histogram and gauges.
#[derive(Debug, Clone)]
pub(crate) struct ReceiverMetrics {
    registry: Registry,
    webhooks: IntCounterVec,
    signature_failures: IntCounterVec,
    quarantines: IntCounterVec,
    duration: HistogramVec,
    deliveries: IntGaugeVec,
}

impl ReceiverMetrics {
    /// Creates the metrics and registers them; fails when names are already
    /// registered in `registry`.
    pub(crate) fn register(registry: Registry) -> Result<Self, prometheus::Error> {
        let webhooks = IntCounterVec::new(
            Opts::new(
                "wamebo_webhooks_total",
                "Webhook requests by store and outcome",
            ),
            &["store", "outcome"],
        )?;
        let signature_failures = IntCounterVec::new(
            Opts::new(
                "wamebo_signature_failures_total",
                "Webhook requests rejected for their signature, by store and reason",
            ),
            &["store", "reason"],
        )?;
        let quarantines = IntCounterVec::new(
            Opts::new(
                "wamebo_quarantined_events_total",
                "Authentic events quarantined, by store and reason code",
            ),
            &["store", "reason"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "wamebo_webhook_duration_seconds",
                "Time from reading the request to answering it, by outcome",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["outcome"],
        )?;
        let deliveries = IntGaugeVec::new(
            Opts::new(
                "wamebo_deliveries",
                "Deliveries in storage by status, read at each scrape",
            ),
            &["status"],
        )?;

        registry.register(Box::new(webhooks.clone()))?;
        registry.register(Box::new(signature_failures.clone()))?;
        registry.register(Box::new(quarantines.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(deliveries.clone()))?;

        Ok(ReceiverMetrics {
            registry,
            webhooks,
            signature_failures,
            quarantines,
            duration,
            deliveries,
        })
    }

    pub(crate) fn record_webhook(&self, store: &str, outcome: &str, seconds: f64) {
        self.webhooks.with_label_values(&[store, outcome]).inc();
        self.duration.with_label_values(&[outcome]).observe(seconds);
    }

    pub(crate) fn record_signature_failure(&self, store: &str, reason: &str) {
        self.signature_failures
            .with_label_values(&[store, reason])
            .inc();
    }

    pub(crate) fn record_quarantine(&self, store: &str, reason: &str) {
        self.quarantines.with_label_values(&[store, reason]).inc();
    }

    pub(crate) fn set_delivery_counts(&self, counts: &DeliveryCounts) {
        let by_status = [
            ("pending", counts.pending),
            ("in_flight", counts.in_flight),
            ("succeeded", counts.succeeded),
            ("dead", counts.dead),
        ];
        for (status, count) in by_status {
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            self.deliveries.with_label_values(&[status]).set(count);
        }
    }

    /// Encodes every metric of the shared registry in the Prometheus text
    /// format.
    pub(crate) fn encode(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}
