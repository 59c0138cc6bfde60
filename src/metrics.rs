//! Prometheus metrics. Labels carry outcomes, routes and storefront names (from the config file),
//! never keys, secrets, URLs or references.

mod process;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Seconds; from a millisecond (pagos alone) to Conekta's slowest answers.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: HistogramVec,
    pub conekta_calls: HistogramVec,
    pub webhooks: IntCounterVec,
    pub relay_attempts: IntCounterVec,
    pub relay_in_flight: IntGauge,
    queue_depth: IntGauge,
    failed_deliveries: IntGauge,
    oldest_pending_age: Gauge,
    started_at_unix_s: f64,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = HistogramVec::new(
            HistogramOpts::new(
                "pagos_http_request_duration_seconds",
                "HTTP requests served, by route, method, status, storefront and /pagos action",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method", "status", "storefront", "action"],
        )
        .expect("metric");
        let conekta_calls = HistogramVec::new(
            HistogramOpts::new(
                "pagos_conekta_request_duration_seconds",
                "Calls to Conekta's API, by endpoint and outcome",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["endpoint", "outcome"],
        )
        .expect("metric");
        let webhooks = IntCounterVec::new(
            Opts::new("pagos_webhooks_total", "Provider webhooks by outcome"),
            &["provider", "outcome"],
        )
        .expect("metric");
        let relay_attempts = IntCounterVec::new(
            Opts::new(
                "pagos_relay_attempts_total",
                "Notification delivery attempts by storefront and outcome",
            ),
            &["storefront", "outcome"],
        )
        .expect("metric");
        let relay_in_flight = IntGauge::new(
            "pagos_relay_in_flight",
            "Deliveries being attempted right now",
        )
        .expect("metric");
        let queue_depth = IntGauge::new(
            "pagos_relay_queue_depth",
            "Notifications waiting to be delivered (pending)",
        )
        .expect("metric");
        let failed_deliveries = IntGauge::new(
            "pagos_relay_failed_deliveries",
            "Notifications given up after their last attempt",
        )
        .expect("metric");
        let oldest_pending_age = Gauge::new(
            "pagos_relay_oldest_pending_age_seconds",
            "Age of the oldest notification still pending",
        )
        .expect("metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "pagos_build_info",
                "The running build: its version, always 1",
            ),
            &["version"],
        )
        .expect("metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for metric in [
            Box::new(build_info) as Box<dyn prometheus::core::Collector>,
            Box::new(http_requests.clone()),
            Box::new(conekta_calls.clone()),
            Box::new(webhooks.clone()),
            Box::new(relay_attempts.clone()),
            Box::new(relay_in_flight.clone()),
            Box::new(queue_depth.clone()),
            Box::new(failed_deliveries.clone()),
            Box::new(oldest_pending_age.clone()),
        ] {
            registry.register(metric).expect("unique metric");
        }
        Self {
            registry,
            http_requests,
            conekta_calls,
            webhooks,
            relay_attempts,
            relay_in_flight,
            queue_depth,
            failed_deliveries,
            oldest_pending_age,
            started_at_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |since| since.as_secs() as f64),
        }
    }

    /// Sets the queue gauges from the store's figures (read at scrape time).
    pub fn set_queue(&self, stats: crate::store::QueueStats) {
        self.queue_depth.set(stats.pending);
        self.failed_deliveries.set(stats.failed);
        self.oldest_pending_age
            .set(stats.oldest_pending_age_ms as f64 / 1000.0);
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding");
        let mut text = String::from_utf8(out).unwrap_or_default();
        text.push_str(&process::render(self.started_at_unix_s));
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
