//! Prometheus metrics of one instance, served at `/metrics`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The metrics every function exports.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub duration: HistogramVec,
    pub rate_limited: IntCounterVec,
    pub auth_failures: IntCounterVec,
    pub pool: IntGaugeVec,
    /// `bookings_total{status}`: booking attempts by outcome (`confirmed`,
    /// `sold_out`, `cancelled`, ...).
    pub bookings: IntCounterVec,
    /// `booking_duration_seconds{status}`: time to take seats and write a booking.
    pub booking_duration: HistogramVec,
    /// `websocket_connections`: open WebSocket connections of this instance.
    pub websocket_connections: prometheus::IntGauge,
    /// `websocket_messages_total{direction}`: frames sent (`out`) and received (`in`).
    pub websocket_messages: IntCounterVec,
}

impl Metrics {
    /// Registers the metric families (no I/O).
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["method", "endpoint", "status"],
        )
        .expect("static metric");
        let duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            ),
            &["method", "endpoint"],
        )
        .expect("static metric");
        let rate_limited = IntCounterVec::new(
            Opts::new("rate_limit_rejections_total", "Requests refused with 429"),
            &["tier"],
        )
        .expect("static metric");
        let auth_failures = IntCounterVec::new(
            Opts::new("auth_failures_total", "Bearer tokens refused"),
            &["reason"],
        )
        .expect("static metric");
        let pool = IntGaugeVec::new(
            Opts::new(
                "pool_connections",
                "Connections of the Postgres and Redis pools",
            ),
            &["pool", "state"],
        )
        .expect("static metric");
        let bookings = IntCounterVec::new(
            Opts::new(
                "bookings_total",
                "Booking attempts and cancellations by outcome",
            ),
            &["status"],
        )
        .expect("static metric");
        let booking_duration = HistogramVec::new(
            HistogramOpts::new(
                "booking_duration_seconds",
                "Time to take seats and write a booking",
            )
            .buckets(vec![
                0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["status"],
        )
        .expect("static metric");
        let websocket_connections =
            prometheus::IntGauge::new("websocket_connections", "Open WebSocket connections")
                .expect("static metric");
        let websocket_messages = IntCounterVec::new(
            Opts::new(
                "websocket_messages_total",
                "WebSocket messages by direction",
            ),
            &["direction"],
        )
        .expect("static metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(rate_limited.clone()),
            Box::new(auth_failures.clone()),
            Box::new(pool.clone()),
            Box::new(bookings.clone()),
            Box::new(booking_duration.clone()),
            Box::new(websocket_connections.clone()),
            Box::new(websocket_messages.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Self {
            registry,
            requests,
            duration,
            rate_limited,
            auth_failures,
            pool,
            bookings,
            booking_duration,
            websocket_connections,
            websocket_messages,
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
