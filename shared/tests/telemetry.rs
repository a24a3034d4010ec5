//! Telemetry leaves the process for real: a 5xx and a panic reach a Sentry
//! endpoint tagged with the request id, function and user; the request's trace,
//! continuing the caller's `traceparent`, reaches an OTLP/HTTP collector with a
//! span per SQL statement and Redis command; the metric families appear once
//! the actions that record them ran. The endpoints are served by the test on
//! 127.0.0.1. One test: the subscriber is process-global.

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

async fn panics(_user: AuthUser) -> Json<()> {
    panic!("a handler bug");
}

/// One SQL statement and one Redis command inside the request.
async fn work(State(state): State<AppState>) -> ApiResult<Json<i64>> {
    let cities: i64 = sqlx::query_scalar("SELECT count(*) FROM cities")
        .fetch_one(&state.db)
        .await?;
    let _ = state
        .with_redis("GET", async |conn| {
            redis::cmd("GET")
                .arg("telemetry-probe")
                .query_async::<Option<String>>(conn)
                .await
        })
        .await;
    Ok(Json(cities))
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

    let (status, body, panicked, worked, metrics) = rt.block_on(async {
        let router = OpenApiRouter::new()
            .route("/broken", get(broken))
            .route("/panics", get(panics))
            .route("/work", get(work));
        let routes = ["GET /broken", "GET /panics", "GET /work"];
        let function = probe_function("broken", &routes, "none", "default", router);
        let app = TestApp::spawn_with(vec![function], &overrides).await;
        let (status, body) = send(
            app.get("/broken")
                .header("x-request-id", "req-broken-1")
                .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01")),
        )
        .await;
        let panicked = send(
            app.get("/panics")
                .header("x-request-id", "req-panic-1")
                .bearer_auth(app.token("panicking-user")),
        )
        .await;
        let worked = send(app.get("/work")).await;
        (status, body, panicked, worked, app.text("/metrics").await)
    });
    assert_eq!(status, 500);
    assert_eq!(
        body["message"], "Internal server error",
        "no internals leak to clients"
    );
    assert_eq!(panicked.0, 500, "a panic fails only its own request");
    assert_eq!(panicked.1["message"], "Internal server error");
    assert_eq!(
        worked,
        (200, serde_json::json!(3)),
        "the instance goes on serving"
    );
    for family in [
        "http_requests_total{",
        "http_request_duration_seconds_bucket{",
        "db_queries_total{",
        "db_query_duration_seconds_bucket{",
        "redis_commands_total{",
        "redis_command_duration_seconds_bucket{",
        "db_connection_pool_size{",
        "redis_connection_pool_size{",
        "function_cold_start_seconds_count{",
    ] {
        assert!(metrics.contains(family), "{family} missing:\n{metrics}");
    }
    assert!(
        metrics.contains(r#"db_queries_total{operation="select",function="broken"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"redis_commands_total{command="GET",outcome="ok",function="broken"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"function_cold_start_seconds_count{function="broken"} 1"#),
        "{metrics}"
    );

    telemetry.flush();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (sentry_inbox.lock().unwrap().len() < 2 || otlp_inbox.lock().unwrap().is_empty())
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }

    let envelopes: Vec<String> = sentry_inbox
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    let event = envelopes
        .iter()
        .find(|e| e.contains("the database is on fire"))
        .expect("the 500's error reached Sentry");
    assert!(event.contains("\"environment\":\"test\""), "{event}");
    assert!(event.contains("\"request_id\":\"req-broken-1\""), "{event}");
    assert!(event.contains("\"function\":\"broken\""), "{event}");
    let panic = envelopes
        .iter()
        .find(|e| e.contains("a handler bug"))
        .expect("the panic reached Sentry");
    assert!(panic.contains("\"request_id\":\"req-panic-1\""), "{panic}");
    assert!(
        panic.contains("\"id\":\"panicking-user\""),
        "the uid: {panic}"
    );
    assert!(!panic.contains("eyJ"), "never the token: {panic}");

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
    let exports: Vec<u8> = traces.iter().flat_map(|(_, b)| b.to_vec()).collect();
    assert!(
        exports.windows(9).any(|w| w == b"db select"),
        "a span for the SQL statement"
    );
    assert!(
        exports.windows(15).any(|w| w == b"SELECT count(*)"),
        "with its statement"
    );
    assert!(
        exports.windows(5).any(|w| w == b"redis") && exports.windows(3).any(|w| w == b"GET"),
        "a span for the Redis command"
    );
}
