//! Telemetry leaves the process for real: a 5xx and a panic reach a Sentry
//! endpoint tagged with the request id, function and user; the request's trace,
//! continuing the caller's `traceparent`, reaches an OTLP/HTTP collector named
//! by the standard `OTEL_*` variables, as server spans that follow
//! OpenTelemetry's HTTP conventions, with a span per SQL statement and Redis
//! command; the metric families appear once the actions that record them ran.
//! The endpoints are served by the test on 127.0.0.1. One test: the
//! subscriber and the SDK's environment are process-global.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;
use serde_json::json;
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
    Err(ApiError::internal("boom: the database is on fire"))
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
            .route("/collector/traces", post(collect))
            .with_state(otlp_inbox.clone());
        (serve(sentry).await, serve(otlp).await)
    });
    let sentry_dsn = format!("http://public@{sentry_addr}/42");
    // The signal's own endpoint is used as it is (no `/v1/traces` added).
    let otlp = format!("http://{otlp_addr}/collector/traces");
    let otel = [
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", otlp.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test,service.namespace=ai-imutis",
        ),
    ];
    for (k, v) in otel {
        // SAFETY: no other thread of this one-test binary reads the
        // environment yet; the SDK reads these when the exporter is built.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var(k, v);
        }
    }
    let overrides = [
        ("SENTRY_DSN", sentry_dsn.as_str()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", otlp.as_str()),
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
        let background = tokio::spawn(async { panic!("a background bug") }).await;
        assert!(background.is_err(), "the task panicked");
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
    while (sentry_inbox.lock().unwrap().len() < 3 || otlp_inbox.lock().unwrap().is_empty())
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
    assert!(
        envelopes.iter().any(|e| e.contains("a background bug")),
        "a panic outside any request reached Sentry too"
    );

    let traces = otlp_inbox.lock().unwrap();
    assert!(
        traces
            .iter()
            .all(|(kind, _)| kind == "application/x-protobuf"),
        "OTLP over HTTP with protobuf"
    );
    let exports: Vec<ExportTraceServiceRequest> = traces
        .iter()
        .map(|(_, body)| ExportTraceServiceRequest::decode(body.as_ref()).expect("OTLP protobuf"))
        .collect();
    let resource = exports
        .iter()
        .flat_map(|e| &e.resource_spans)
        .find_map(|r| r.resource.as_ref())
        .expect("a resource");
    let resource = attributes(&resource.attributes);
    assert_eq!(resource.get("service.name"), Some(&json!("broken")));
    assert_eq!(
        resource.get("deployment.environment.name"),
        Some(&json!("test")),
        "OTEL_RESOURCE_ATTRIBUTES: {resource:?}"
    );
    let spans: Vec<&Span> = exports
        .iter()
        .flat_map(|e| &e.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    let named = |name: &str| {
        spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
            panic!(
                "no span {name:?} in {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
    };

    let broken = named("GET /broken");
    assert_eq!(broken.kind, SpanKind::Server as i32);
    let trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&TRACE_ID[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert_eq!(
        broken.trace_id, trace_id,
        "the span continues the caller's trace"
    );
    let attrs = attributes(&broken.attributes);
    assert_eq!(
        attrs.get("http.request.method"),
        Some(&json!("GET")),
        "{attrs:?}"
    );
    assert_eq!(
        attrs.get("http.route"),
        Some(&json!("/broken")),
        "{attrs:?}"
    );
    assert_eq!(attrs.get("url.path"), Some(&json!("/broken")), "{attrs:?}");
    assert_eq!(
        attrs.get("http.response.status_code"),
        Some(&json!(500)),
        "{attrs:?}"
    );
    assert_eq!(attrs.get("error.type"), Some(&json!("500")), "{attrs:?}");
    assert_eq!(
        broken.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32),
        "a 5xx is an error span"
    );

    let work = named("GET /work");
    assert_eq!(work.kind, SpanKind::Server as i32);
    let attrs = attributes(&work.attributes);
    assert_eq!(
        attrs.get("http.response.status_code"),
        Some(&json!(200)),
        "{attrs:?}"
    );
    assert_eq!(
        attrs.get("error.type"),
        None,
        "a 200 is no error: {attrs:?}"
    );

    let select = spans
        .iter()
        .filter(|s| s.name == "db select")
        .find(|s| {
            attributes(&s.attributes)
                .values()
                .any(|v| v.as_str().is_some_and(|s| s.contains("SELECT count(*)")))
        })
        .expect("a span for the SQL statement, with its text");
    assert_eq!(select.kind, SpanKind::Client as i32);
    assert_eq!(
        select.trace_id, work.trace_id,
        "the SQL span is in the request's trace"
    );
    let redis = spans
        .iter()
        .filter(|s| attributes(&s.attributes).get("db.system") == Some(&json!("redis")))
        .find(|s| s.trace_id == work.trace_id)
        .expect("a span for the Redis command, in the request's trace");
    assert_eq!(
        (redis.name.as_str(), redis.kind),
        ("GET", SpanKind::Client as i32)
    );
}

/// An OTLP attribute list as JSON values, by key.
fn attributes(list: &[KeyValue]) -> std::collections::HashMap<String, serde_json::Value> {
    list.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => json!(s),
                Some(any_value::Value::IntValue(i)) => json!(i),
                Some(any_value::Value::BoolValue(b)) => json!(b),
                Some(any_value::Value::DoubleValue(d)) => json!(d),
                other => json!(format!("{other:?}")),
            };
            (kv.key.clone(), value)
        })
        .collect()
}
