//! Prometheus metrics of one instance, served at `/metrics`. Every family
//! carries the function's name as the `function` label, and every label takes
//! values from a fixed set (methods, route templates, outcomes), so callers
//! cannot grow the series.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::{Duration, Instant};

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const FAST_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// `db_queries_total{operation}` and `db_query_duration_seconds{operation}`:
/// recorded from sqlx's own query events (see [`crate::telemetry`]), so they
/// are process-wide and registered in every instance's registry.
pub static DB_QUERIES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new("db_queries_total", "SQL statements executed"),
        &["operation"],
    )
    .expect("static metric")
});

/// See [`DB_QUERIES`].
pub static DB_QUERY_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    HistogramVec::new(
        HistogramOpts::new("db_query_duration_seconds", "SQL statement latency")
            .buckets(FAST_BUCKETS.to_vec()),
        &["operation"],
    )
    .expect("static metric")
});

/// The `operation` label values: the SQL keywords a statement can start with.
const SQL_OPERATIONS: [&str; 9] = [
    "select", "insert", "update", "delete", "with", "begin", "commit", "rollback", "other",
];

/// The SQL keyword a statement starts with, from a fixed set.
pub fn sql_operation(sql: &str) -> &'static str {
    SQL_OPERATIONS[operation_index(sql)]
}

fn operation_index(sql: &str) -> usize {
    let word = sql.split_whitespace().next().unwrap_or("");
    SQL_OPERATIONS
        .iter()
        .position(|op| word.eq_ignore_ascii_case(op))
        .unwrap_or(SQL_OPERATIONS.len() - 1)
}

/// Each operation's series of [`DB_QUERIES`] and [`DB_QUERY_DURATION`],
/// resolved once: a statement then costs two atomic updates, not two
/// label-set lookups under a lock.
static DB_SERIES: LazyLock<[(IntCounter, Histogram); 9]> = LazyLock::new(|| {
    SQL_OPERATIONS.map(|op| {
        (
            DB_QUERIES.with_label_values(&[op]),
            DB_QUERY_DURATION.with_label_values(&[op]),
        )
    })
});

/// Counts one statement of `operation` (a [`sql_operation`] name, or the
/// statement itself) and its latency.
pub fn record_statement(operation: &str, seconds: f64) {
    let (count, latency) = &DB_SERIES[operation_index(operation)];
    count.inc();
    latency.observe(seconds);
}

/// An HTTP method as a metric label: the standard ones, else `OTHER`.
pub fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The statuses whose request counters a route keeps resolved; others are
/// looked up by label each time.
const STATUSES: [u16; 16] = [
    200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 502, 503,
];

/// One route's request metrics, resolved when the router is built, so
/// recording a request is a few atomic adds: no label hashing, no lock.
pub struct RouteMetrics {
    method: &'static str,
    endpoint: String,
    duration: Histogram,
    requests: IntCounterVec,
    /// `http_requests_total` per [`STATUSES`] entry, resolved on first use
    /// (so a route shows only the statuses it answered).
    by_status: [OnceLock<IntCounter>; STATUSES.len()],
}

impl RouteMetrics {
    /// Counts one answer with `status`, taking `elapsed`.
    pub fn record(&self, status: http::StatusCode, elapsed: Duration) {
        self.duration.observe(elapsed.as_secs_f64());
        let labels = [self.method, self.endpoint.as_str(), status.as_str()];
        match STATUSES.iter().position(|&s| s == status.as_u16()) {
            Some(i) => self.by_status[i]
                .get_or_init(|| self.requests.with_label_values(&labels))
                .inc(),
            None => self.requests.with_label_values(&labels).inc(),
        }
    }
}

/// Every route's [`RouteMetrics`], by route template then method; built once.
#[derive(Default)]
pub struct RouteTable(HashMap<String, Vec<Arc<RouteMetrics>>>);

impl RouteTable {
    /// The metrics of `method` on the route template `endpoint`.
    pub fn get(&self, method: &http::Method, endpoint: &str) -> Option<&Arc<RouteMetrics>> {
        let method = method_label(method);
        self.0.get(endpoint)?.iter().find(|r| r.method == method)
    }
}

/// When this process started, for `function_cold_start_seconds`.
pub static PROCESS_START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The metrics every function exports.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub duration: HistogramVec,
    pub rate_limited: IntCounterVec,
    pub auth_failures: IntCounterVec,
    /// `db_connection_pool_size{state}`: idle, in_use and max connections.
    pub db_pool: IntGaugeVec,
    /// `redis_connection_pool_size{state}`.
    pub redis_pool: IntGaugeVec,
    /// `redis_commands_total{command,outcome}` (ok, error, timeout, skipped).
    pub redis_commands: IntCounterVec,
    /// `redis_command_duration_seconds{command}`.
    pub redis_duration: HistogramVec,
    /// `function_cold_start_seconds`: process start to first request served.
    pub cold_start: Histogram,
    first_request_done: AtomicBool,
    /// `bookings_total{status}`: booking attempts by outcome (`confirmed`,
    /// `sold_out`, `cancelled`, ...).
    pub bookings: IntCounterVec,
    /// `booking_duration_seconds{status}`: time to take seats and write a booking.
    pub booking_duration: HistogramVec,
    /// `websocket_connections`: open WebSocket connections of this instance.
    pub websocket_connections: IntGauge,
    /// `websocket_messages_total{direction}`: frames sent (`out`) and received (`in`).
    pub websocket_messages: IntCounterVec,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("static metric")
}

fn histogram(name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("static metric")
}

fn gauge(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric")
}

fn info() -> IntGauge {
    let info =
        IntGauge::new("function_info", "1, labelled with the function").expect("static metric");
    info.set(1);
    info
}

impl Metrics {
    /// Registers the metric families of `function` (no I/O).
    pub fn new(function: &str) -> Self {
        let labels =
            std::collections::HashMap::from([("function".to_owned(), function.to_owned())]);
        let registry = Registry::new_custom(None, Some(labels)).expect("valid const label");
        let m = Self {
            requests: counter(
                "http_requests_total",
                "HTTP requests answered",
                &["method", "endpoint", "status"],
            ),
            duration: histogram(
                "http_request_duration_seconds",
                "HTTP request latency",
                &LATENCY_BUCKETS,
                &["method", "endpoint"],
            ),
            rate_limited: counter(
                "rate_limit_rejections_total",
                "Requests refused with 429",
                &["tier"],
            ),
            auth_failures: counter("auth_failures_total", "Bearer tokens refused", &["reason"]),
            db_pool: gauge(
                "db_connection_pool_size",
                "Postgres pool connections",
                &["state"],
            ),
            redis_pool: gauge(
                "redis_connection_pool_size",
                "Redis pool connections",
                &["state"],
            ),
            redis_commands: counter(
                "redis_commands_total",
                "Redis commands by outcome",
                &["command", "outcome"],
            ),
            redis_duration: histogram(
                "redis_command_duration_seconds",
                "Redis command latency",
                &FAST_BUCKETS,
                &["command"],
            ),
            cold_start: Histogram::with_opts(
                HistogramOpts::new(
                    "function_cold_start_seconds",
                    "Process start to first request served",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
            )
            .expect("static metric"),
            first_request_done: AtomicBool::new(false),
            bookings: counter(
                "bookings_total",
                "Booking attempts and cancellations by outcome",
                &["status"],
            ),
            booking_duration: histogram(
                "booking_duration_seconds",
                "Time to take seats and write a booking",
                &LATENCY_BUCKETS,
                &["status"],
            ),
            websocket_connections: IntGauge::new(
                "websocket_connections",
                "Open WebSocket connections",
            )
            .expect("static metric"),
            websocket_messages: counter(
                "websocket_messages_total",
                "WebSocket messages by direction",
                &["direction"],
            ),
            registry,
        };
        let collectors: [Box<dyn Collector>; 16] = [
            Box::new(m.requests.clone()),
            Box::new(m.duration.clone()),
            Box::new(m.rate_limited.clone()),
            Box::new(m.auth_failures.clone()),
            Box::new(m.db_pool.clone()),
            Box::new(m.redis_pool.clone()),
            Box::new(m.redis_commands.clone()),
            Box::new(m.redis_duration.clone()),
            Box::new(m.cold_start.clone()),
            Box::new(m.bookings.clone()),
            Box::new(m.booking_duration.clone()),
            Box::new(m.websocket_connections.clone()),
            Box::new(m.websocket_messages.clone()),
            Box::new(DB_QUERIES.clone()),
            Box::new(DB_QUERY_DURATION.clone()),
            Box::new(info()),
        ];
        for c in collectors {
            m.registry.register(c).expect("unique metric names");
        }
        m
    }

    /// Adds a collector owned elsewhere (the token verifier's cache counter).
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        self.registry
            .register(collector)
            .expect("unique metric names");
    }

    /// Resolves the request metrics of `routes` (`(method, route template)`).
    pub fn route_table<'a>(
        &self,
        routes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> RouteTable {
        let mut table: HashMap<String, Vec<Arc<RouteMetrics>>> = HashMap::new();
        for (method, endpoint) in routes {
            let method = method_label(&method.parse().unwrap_or(http::Method::GET));
            let entry = table.entry(endpoint.to_owned()).or_default();
            if entry.iter().any(|r| r.method == method) {
                continue;
            }
            entry.push(Arc::new(RouteMetrics {
                method,
                endpoint: endpoint.to_owned(),
                duration: self.duration.with_label_values(&[method, endpoint]),
                requests: self.requests.clone(),
                by_status: Default::default(),
            }));
        }
        RouteTable(table)
    }

    /// Counts an answer of no known route (a 404, a 405, a preflight).
    pub fn record(
        &self,
        method: &'static str,
        endpoint: &str,
        status: http::StatusCode,
        elapsed: Duration,
    ) {
        self.requests
            .with_label_values(&[method, endpoint, status.as_str()])
            .inc();
        self.duration
            .with_label_values(&[method, endpoint])
            .observe(elapsed.as_secs_f64());
    }

    /// Records the cold start once, when the first request has been served.
    pub fn first_request_served(&self) {
        if !self.first_request_done.swap(true, Ordering::Relaxed) {
            self.cold_start
                .observe(PROCESS_START.elapsed().as_secs_f64());
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
        Self::new("unknown")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_sets() {
        assert_eq!(method_label(&http::Method::GET), "GET");
        assert_eq!(
            method_label(&http::Method::from_bytes(b"BREW").unwrap()),
            "OTHER"
        );
        assert_eq!(sql_operation("  SELECT 1"), "select");
        assert_eq!(
            sql_operation("with x as (select 1) select * from x"),
            "with"
        );
        assert_eq!(sql_operation("VACUUM"), "other");
    }

    #[test]
    fn every_family_carries_the_function_label() {
        let m = Metrics::new("cities-list");
        m.requests
            .with_label_values(&["GET", "/api/cities", "200"])
            .inc();
        let text = m.render();
        assert!(
            text.contains(r#"status="200",function="cities-list"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"function_info{function="cities-list"} 1"#),
            "{text}"
        );
    }
}
