//! Telemetry: JSON logs on stdout (each request's lines carry its request id),
//! errors to Sentry when `SENTRY_DSN` is set, and traces over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Nothing here touches the network at
//! start: both exporters send from background threads once there is something
//! to send.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::Config;

/// Keeps the exporters alive; flushes them when dropped.
#[must_use = "telemetry stops when this is dropped"]
pub struct Telemetry {
    sentry: Option<sentry::ClientInitGuard>,
    tracer: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends whatever is buffered now (tests, and shutdown).
    pub fn flush(&self) {
        if let Some(tracer) = &self.tracer {
            let _ = tracer.force_flush();
        }
        if let Some(sentry) = &self.sentry {
            sentry.flush(Some(std::time::Duration::from_secs(2)));
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.flush();
        if let Some(tracer) = self.tracer.take() {
            let _ = tracer.shutdown();
        }
    }
}

/// Installs the global subscriber once (later calls only return a handle).
/// `service` names this process in Sentry and in traces. Call it outside any
/// async runtime: the OTLP exporter owns a blocking HTTP client.
pub fn init(config: &Config, service: &str) -> Telemetry {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false);

    let sentry = config.sentry_dsn.as_deref().and_then(|dsn| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut options = sentry::ClientOptions::default();
        options.dsn = Some(dsn.parse().map_err(|e| eprintln!("SENTRY_DSN: {e}")).ok()?);
        options.release = Some(format!("{service}@{}", env!("CARGO_PKG_VERSION")).into());
        options.environment = Some(config.environment.clone().into());
        options.send_default_pii = false;
        Some(sentry::init(options))
    });
    // ERROR events (a 5xx, a failed dependency) become Sentry error events.
    let sentry_layer = sentry
        .as_ref()
        .map(|_| sentry::integrations::tracing::ErrorLayer::new().with_filter(LevelFilter::ERROR));

    let tracer = config.otlp_endpoint.as_deref().and_then(|endpoint| {
        use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| eprintln!("OTLP client: {e}"))
            .ok()?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .build()
            .map_err(|e| eprintln!("OTEL_EXPORTER_OTLP_ENDPOINT: {e}"))
            .ok()?;
        Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name(service.to_owned())
                        .build(),
                )
                .build(),
        )
    });
    let trace_layer = tracer
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service.to_owned())));

    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(sentry_layer)
        .with(trace_layer)
        .try_init();
    Telemetry { sentry, tracer }
}

/// Makes `span` a child of the W3C `traceparent` the caller sent, if any.
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if headers.contains_key("traceparent") {
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        // Fails only when tracing is off (no OTel layer): nothing to continue then.
        let _ = span.set_parent(parent);
    }
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
