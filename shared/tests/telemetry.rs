//! Telemetry leaves the process for real: a 5xx reaches a Sentry endpoint and
//! the request's trace, continuing the caller's `traceparent`, reaches an
//! OTLP/HTTP collector. Both are served by the test on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use shared::prelude::*;
use shared::testing::{TestApp, config, probe_function, send, serve};

type Inbox = Arc<Mutex<Vec<(String, Bytes)>>>;

async fn collect(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> &'static str {
    let kind = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    inbox.lock().unwrap().push((kind, body));
    "{}"
}

async fn broken() -> ApiResult<Json<()>> {
    Err(ApiError::Internal("boom: the database is on fire".into()))
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[test]
fn errors_reach_sentry_and_traces_reach_the_otlp_collector() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sentry_inbox = Inbox::default();
    let otlp_inbox = Inbox::default();
    let (sentry_addr, otlp_addr) = rt.block_on(async {
        let sentry = Router::new()
            .route("/api/42/envelope/", post(collect))
            .with_state(sentry_inbox.clone());
        let otlp = Router::new()
            .route("/v1/traces", post(collect))
            .with_state(otlp_inbox.clone());
        (serve(sentry).await, serve(otlp).await)
    });
    let sentry_dsn = format!("http://public@{sentry_addr}/42");
    let otlp = format!("http://{otlp_addr}");
    let overrides = [
        ("SENTRY_DSN", sentry_dsn.as_str()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.as_str()),
        ("SENTRY_ENVIRONMENT", "test"),
    ];
    let telemetry =
        shared::telemetry::init(&config("http://127.0.0.1:9/jwks", &overrides), "broken");

    let (status, body) = rt.block_on(async {
        let router = OpenApiRouter::new().route("/broken", get(broken));
        let function = probe_function("broken", &["GET /broken"], "none", "none", router);
        let app = TestApp::spawn_with(vec![function], &overrides).await;
        send(
            app.get("/broken")
                .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01")),
        )
        .await
    });
    assert_eq!(status, 500);
    assert_eq!(
        body["message"], "Internal server error",
        "no internals leak to clients"
    );

    telemetry.flush();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (sentry_inbox.lock().unwrap().is_empty() || otlp_inbox.lock().unwrap().is_empty())
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }

    let envelopes = sentry_inbox.lock().unwrap();
    let event = envelopes
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .find(|e| e.contains("the database is on fire"))
        .expect("the 500's error reached Sentry");
    assert!(event.contains("\"environment\":\"test\""), "{event}");

    let traces = otlp_inbox.lock().unwrap();
    let (kind, export) = traces
        .first()
        .expect("a trace export reached the collector");
    assert_eq!(kind, "application/x-protobuf");
    let trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&TRACE_ID[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert!(
        export.windows(16).any(|w| w == trace_id.as_slice()),
        "the exported span continues the caller's trace"
    );
    assert!(
        export.windows(6).any(|w| w == b"broken"),
        "service name in the resource"
    );
}
