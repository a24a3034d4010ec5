//! Telemetry: JSON logs on stdout (each request's lines carry its request id),
//! errors to Sentry when `SENTRY_DSN` is set, and traces over OTLP/HTTP when
//! the standard `OTEL_EXPORTER_OTLP_*` variables name a collector (the SDK
//! reads them, and `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`). Server
//! spans follow OpenTelemetry's HTTP conventions (see
//! [`crate::middleware::Platform`]). Nothing here touches the network at start:
//! both exporters send from background threads once there is something to
//! send.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Level};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::Context;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Config;
use crate::outbound;

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
    log_panics_outside_requests();
    let filter = env_filter(&config.log_filter);
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false);

    // Both exporters send from one background thread, started only if either is on.
    let background = (config.sentry_dsn.is_some() || config.otlp_endpoint.is_some())
        .then(|| outbound::Background::start("telemetry"))
        .and_then(|b| b.map_err(|e| eprintln!("telemetry thread: {e}")).ok());
    let sentry = config.sentry_dsn.as_deref().and_then(|dsn| {
        let mut options = sentry::ClientOptions::default();
        options.dsn = Some(dsn.parse().map_err(|e| eprintln!("SENTRY_DSN: {e}")).ok()?);
        options.release = Some(format!("{service}@{}", env!("CARGO_PKG_VERSION")).into());
        options.environment = Some(config.environment.clone().into());
        options.send_default_pii = false;
        options.transport = Some(Arc::new(SentryTransportFactory(background.clone()?)));
        Some(sentry::init(options))
    });
    // ERROR events (a 5xx, a failed dependency) become Sentry error events.
    // An absent layer is filtered to nothing, not left `None`: a `None` layer
    // claims interest in every callsite, which made each request build and
    // enter its span with no one reading it.
    let sentry_layer = sentry
        .as_ref()
        .map(|_| sentry::integrations::tracing::ErrorLayer::new())
        .with_filter(if sentry.is_some() {
            LevelFilter::ERROR
        } else {
            LevelFilter::OFF
        });

    let tracer = config.otlp_endpoint.as_deref().and_then(|_| {
        use opentelemetry_otlp::WithHttpConfig;
        let client = OtlpClient(background.clone()?);
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
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
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service.to_owned())))
        .with_filter(match &tracer {
            Some(_) => env_filter(&config.log_filter),
            None => Targets::new(),
        });
    let sql_events = Targets::new().with_target("sqlx::query", Level::DEBUG);
    // With traces on, the request spans must be visible to this layer too, to
    // parent the SQL spans; without, asking for them would build a span per
    // request that nothing reads.
    let sql_filter = match &tracer {
        Some(_) => sql_events.with_target("shared", Level::INFO),
        None => sql_events,
    };
    let sql = SqlObserver {
        tracer: tracer.as_ref().map(|p| p.tracer(service.to_owned())),
        dispatch: OnceLock::new(),
    }
    .with_filter(sql_filter);

    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(sentry_layer)
        .with(trace_layer)
        .with(sql)
        .try_init();
    Telemetry { sentry, tracer }
}

/// Envelopes waiting to be sent beyond which new ones are dropped, as
/// Sentry's own transports do when their queue is full.
const SENTRY_QUEUE: usize = 30;

/// Sends Sentry's envelopes with the platform's client, from the telemetry
/// thread, honouring the rate limit Sentry answers with (429, `Retry-After`).
struct SentryTransport {
    background: outbound::Background,
    url: String,
    auth: String,
    queued: Arc<AtomicUsize>,
    /// Seconds since the epoch before which nothing is sent.
    paused_until: Arc<AtomicU64>,
}

struct SentryTransportFactory(outbound::Background);

impl sentry::TransportFactory for SentryTransportFactory {
    fn create_transport_with_options(
        &self,
        options: sentry::TransportOptions,
    ) -> Arc<dyn sentry::Transport> {
        Arc::new(SentryTransport {
            background: self.0.clone(),
            url: options.dsn.envelope_api_url().to_string(),
            auth: options.dsn.to_auth(Some(&options.user_agent)).to_string(),
            queued: Arc::default(),
            paused_until: Arc::default(),
        })
    }
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl sentry::Transport for SentryTransport {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        let mut body = Vec::new();
        if epoch_secs() < self.paused_until.load(Ordering::Relaxed)
            || self.queued.load(Ordering::Relaxed) >= SENTRY_QUEUE
            || envelope.to_writer(&mut body).is_err()
        {
            return;
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        let (client, url, auth) = (
            self.background.client(),
            self.url.clone(),
            self.auth.clone(),
        );
        let (queued, paused_until) = (self.queued.clone(), self.paused_until.clone());
        self.background.spawn(async move {
            let sent = client
                .post(&url)
                .header("x-sentry-auth", auth)
                .body(body, "application/x-sentry-envelope")
                .send()
                .await;
            match sent {
                Ok(r) if r.status == http::StatusCode::TOO_MANY_REQUESTS => {
                    let wait = r
                        .header(http::header::RETRY_AFTER)
                        .and_then(|v| v.trim().parse().ok());
                    paused_until.store(epoch_secs() + wait.unwrap_or(60), Ordering::Relaxed);
                }
                Ok(r) if !r.status.is_success() => {
                    eprintln!("Sentry refused an envelope: HTTP {}", r.status);
                }
                Ok(_) => {}
                Err(e) => eprintln!("Sentry unreachable: {e}"),
            }
            queued.fetch_sub(1, Ordering::Relaxed);
        });
    }

    fn flush(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.queued.load(Ordering::Relaxed) > 0 {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

/// The OTLP exporter's HTTP client. The exporter calls it from its own
/// thread, outside any runtime; the call runs on the telemetry thread.
#[derive(Debug)]
struct OtlpClient(outbound::Background);

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.0.client();
        let answer = self
            .0
            .spawn(async move { client.send(request, outbound::TIMEOUT).await })
            .await??;
        let mut response = http::Response::new(answer.body);
        *response.status_mut() = answer.status;
        *response.headers_mut() = answer.headers;
        Ok(response)
    }
}

/// A panic outside a request (a background task's) is logged as an error,
/// which the Sentry layer reports like any other; one inside a request is
/// already reported as that request's 500. Sentry's own panic integration
/// would report the same events but links a regex engine and a symbolizer
/// into every function.
fn log_panics_outside_requests() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !inside_request() {
                tracing::error!(panic = %info, "panicked outside a request");
            }
            previous(info);
        }));
    });
}

tokio::task_local! {
    /// Set while a request's future runs (see [`in_request`]).
    static IN_REQUEST: ();
}

/// Runs `answer` as a request's future: a panic inside it is that request's
/// 500, which reports it, so the panic hook stays quiet. Not the request
/// span: with no layer reading it (RUST_LOG=warn, no traces), the span is
/// disabled, and every handler panic would be reported twice.
pub fn in_request<F: std::future::Future>(
    answer: F,
) -> impl std::future::Future<Output = F::Output> {
    IN_REQUEST.scope((), answer)
}

fn inside_request() -> bool {
    IN_REQUEST.try_with(|()| ()).is_ok()
}

/// `RUST_LOG`'s `level,target=level,...` directives. `Targets`, not
/// `EnvFilter`: per-span field filters are never used here, and `EnvFilter`
/// links a regex engine into every function.
fn env_filter(directives: &str) -> Targets {
    directives
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO))
}

/// Turns sqlx's own per-statement events into `db_queries_total` and
/// `db_query_duration_seconds`, and, when traces are on, into a client span
/// per statement under the request's span (timed from the event's `elapsed`).
struct SqlObserver {
    tracer: Option<opentelemetry_sdk::trace::SdkTracer>,
    dispatch: OnceLock<WeakDispatch>,
}

/// What a statement's event says: the statement's summary (its first words,
/// which name the operation) and its latency. The summary is copied only
/// when a span will carry it.
#[derive(Default)]
struct SqlFields {
    keep_summary: bool,
    summary: String,
    operation: &'static str,
    elapsed_secs: f64,
}

impl Visit for SqlFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = value;
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.operation = crate::metrics::sql_operation(value);
            if self.keep_summary {
                value.clone_into(&mut self.summary);
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            let text = format!("{value:?}");
            self.record_str(field, &text);
        }
    }
}

impl<S> Layer<S> for SqlObserver
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut fields = SqlFields {
            keep_summary: self.tracer.is_some(),
            ..SqlFields::default()
        };
        event.record(&mut fields);
        crate::metrics::record_statement(fields.operation, fields.elapsed_secs);
        let operation = fields.operation;
        // The tracer first: looking up the current span costs a registry read.
        let Some(tracer) = &self.tracer else {
            return;
        };
        let Some(current) = ctx.lookup_current() else {
            return;
        };
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        let Some(parent) = tracing_opentelemetry::get_otel_context(&current.id(), &dispatch) else {
            return;
        };
        use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
        let end = SystemTime::now();
        let start = end - Duration::from_secs_f64(fields.elapsed_secs.max(0.0));
        let mut span = tracer
            .span_builder(format!("db {operation}"))
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes([
                opentelemetry::KeyValue::new("db.system", "postgresql"),
                opentelemetry::KeyValue::new("db.operation", operation),
                opentelemetry::KeyValue::new("db.statement", fields.summary),
            ])
            .start_with_context(tracer, &parent);
        span.end_with_timestamp(end);
    }
}

/// A Sentry hub for one request, tagged with the function and request id, when
/// Sentry is on; errors and panics inside the request are reported with them.
pub fn request_hub(function: &str, request_id: &str) -> Option<std::sync::Arc<sentry::Hub>> {
    let main = sentry::Hub::main();
    main.client()?;
    let hub = std::sync::Arc::new(sentry::Hub::new_from_top(main));
    hub.configure_scope(|scope| {
        scope.set_tag("function", function);
        scope.set_tag("request_id", request_id);
    });
    Some(hub)
}

/// Names the signed-in user (by uid only, never the token) on the request's
/// Sentry scope.
pub fn identify(uid: &str) {
    sentry::configure_scope(|scope| {
        scope.set_user(Some(sentry::User {
            id: Some(uid.to_owned()),
            ..Default::default()
        }));
    });
}

/// Makes `span` a child of the W3C `traceparent` the caller sent, if any, and
/// records its trace id on it (so every log line of the request carries it).
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    // No layer wants the request span (no traces, no access log): nothing to carry.
    if span.is_disabled() {
        return;
    }
    if headers.contains_key("traceparent") {
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        // Fails only when tracing is off (no OTel layer): nothing to continue then.
        let _ = span.set_parent(parent);
    }
    let context = span.context();
    let trace_id = context.span().span_context().trace_id();
    if trace_id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// Names the exported span of `span`. The OpenTelemetry span has started by
/// the time routing tells the route (it carries the caller's trace), and a
/// span's name recorded after that start is not exported: rename it directly.
pub fn name_span(span: &tracing::Span, name: String) {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    span.context().span().update_name(name);
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::panic::AssertUnwindSafe;
    use std::sync::{Arc, Mutex};

    use futures_util::FutureExt;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// The `panic` field of every event logged as a panic outside a request.
    #[derive(Clone, Default)]
    struct Reported(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> Layer<S> for Reported {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            struct Panic(Option<String>);
            impl Visit for Panic {
                fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                    if field.name() == "panic" {
                        self.0 = Some(format!("{value:?}"));
                    }
                }
            }
            let mut panic = Panic(None);
            event.record(&mut panic);
            self.0.lock().unwrap().extend(panic.0);
        }
    }

    #[test]
    fn a_handler_panic_is_left_to_its_request_and_a_background_one_is_logged() {
        log_panics_outside_requests();
        let reported = Reported::default();
        // No layer wants spans here, as with RUST_LOG=warn and no traces.
        let subscriber = tracing_subscriber::registry().with(reported.clone());
        tracing::subscriber::with_default(subscriber, || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async {
                let handler = AssertUnwindSafe(in_request(async { panic!("a handler bug") }));
                assert!(handler.catch_unwind().await.is_err());
                let background = tokio::spawn(in_request(async {
                    tokio::spawn(async { panic!("a background bug") }).await
                }));
                assert!(background.await.unwrap().is_err(), "the task panicked");
            });
        });
        let reported = reported.0.lock().unwrap();
        assert_eq!(reported.len(), 1, "{reported:?}");
        assert!(reported[0].contains("a background bug"), "{reported:?}");
    }
}
