//! The `cities-list` binary built with the `lambda` feature, as a process,
//! under a Lambda runtime API served on 127.0.0.1: it answers API Gateway
//! (HTTP and REST) and ALB events, and keys each caller's rate limit by the
//! address the event names, so two callers never share one limit.

use std::collections::{HashMap, VecDeque};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};
use shared::testing::{Killed, fresh_db_url, pluck, redis_url, serve};

const BIN: &str = env!("CARGO_BIN_EXE_cities-list");

/// The runtime API: hands out queued events one at a time (the long poll
/// waits while none is queued) and records each answer by request id.
#[derive(Clone, Default)]
struct Runtime {
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    answers: Arc<Mutex<HashMap<String, Value>>>,
}

async fn next(State(rt): State<Runtime>) -> (HeaderMap, axum::Json<Value>) {
    let (id, event) = loop {
        if let Some(e) = rt.events.lock().unwrap().pop_front() {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        "4102444800000".parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:eu-west-1:123456789012:function:cities-list"
            .parse()
            .unwrap(),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        "Root=1-5e1b4151-5ac6c58f5b5daa6532e4a0b1".parse().unwrap(),
    );
    (headers, axum::Json(event))
}

async fn record(State(rt): State<Runtime>, Path(id): Path<String>, body: axum::body::Bytes) {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| json!({ "unparsed": String::from_utf8_lossy(&body) }));
    rt.answers.lock().unwrap().insert(id, value);
}

async fn init_error(body: axum::body::Bytes) {
    panic!("init error: {}", String::from_utf8_lossy(&body));
}

impl Runtime {
    /// Queues `event` and waits for the function's answer to it.
    async fn invoke(&self, id: &str, event: Value) -> Value {
        self.events.lock().unwrap().push_back((id.into(), event));
        for _ in 0..400 {
            if let Some(a) = self.answers.lock().unwrap().remove(id) {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no answer to invocation {id}");
    }
}

/// An API Gateway HTTP API (payload 2.0) event from `source_ip`.
fn http_api(source_ip: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "GET /api/cities",
        "rawPath": "/api/cities",
        "rawQueryString": "",
        // What a caller writes here never counts: the gateway's sourceIp does.
        "headers": {"accept": "application/json", "host": "abc.execute-api.eu-west-1.amazonaws.com", "x-forwarded-for": "10.9.9.9"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc",
            "domainName": "abc.execute-api.eu-west-1.amazonaws.com", "domainPrefix": "abc",
            "http": {"method": "GET", "path": "/api/cities", "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "test"},
            "requestId": "r", "routeKey": "GET /api/cities", "stage": "$default",
            "time": "26/Nov/2026:01:00:00 +0000", "timeEpoch": 1795654800000u64
        },
        "isBase64Encoded": false
    })
}

/// An API Gateway REST API (payload 1.0) event from `source_ip`.
fn rest_api(source_ip: &str) -> Value {
    json!({
        "resource": "/api/cities", "path": "/api/cities", "httpMethod": "GET",
        "headers": {"host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"host": ["abc.execute-api.eu-west-1.amazonaws.com"]},
        "queryStringParameters": null, "multiValueQueryStringParameters": null,
        "pathParameters": null, "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012", "resourceId": "r1", "stage": "prod", "requestId": "r",
            "identity": {"sourceIp": source_ip, "userAgent": "test"},
            "resourcePath": "/api/cities", "httpMethod": "GET", "apiId": "abc",
            "path": "/prod/api/cities", "protocol": "HTTP/1.1"
        },
        "body": null, "isBase64Encoded": false
    })
}

/// An ALB event whose `X-Forwarded-For` the caller started with `claimed`
/// and the load balancer ended with the address it saw.
fn alb(claimed: &str, seen: &str) -> Value {
    json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/cities/1"}},
        "httpMethod": "GET", "path": "/api/cities", "queryStringParameters": {},
        "headers": {"host": "cities.example", "x-forwarded-for": format!("{claimed}, {seen}"), "x-forwarded-proto": "https"},
        "body": "", "isBase64Encoded": false
    })
}

#[tokio::test]
async fn callers_behind_api_gateway_and_alb_get_their_own_limits() {
    let db = fresh_db_url().await;
    let rt = Runtime::default();
    let api = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(record))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(record))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(rt.clone());
    let addr = serve(api).await;
    let _child = Killed(
        Command::new(BIN)
            .env_clear()
            .envs(shared::testing::clock_env())
            .env("DATABASE_URL", &db)
            .env("REDIS_URL", redis_url())
            .env("REDIS_KEY_PREFIX", format!("lambda:{}", std::process::id()))
            .env("FIREBASE_PROJECT_ID", "imutis-test")
            .env("RATE_LIMIT_ANONYMOUS", "2")
            .env("RUST_LOG", "warn")
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "cities-list")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/cities-list")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            // REST APIs put the stage in front of the path (README, AWS Lambda).
            .env("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let status = |answer: &Value| answer["statusCode"].as_u64().unwrap_or(0);

    let first = rt.invoke("a1", http_api("203.0.113.7")).await;
    assert_eq!(status(&first), 200, "{first}");
    let body: Value = serde_json::from_str(first["body"].as_str().unwrap()).unwrap();
    assert_eq!(pluck(&body, "name"), ["Buea", "Douala", "Yaounde"]);
    assert!(first["headers"]["x-request-id"].is_string(), "{first}");
    assert_eq!(status(&rt.invoke("a2", http_api("203.0.113.7")).await), 200);
    let limited = rt.invoke("a3", http_api("203.0.113.7")).await;
    assert_eq!(
        status(&limited),
        429,
        "the third call in the window: {limited}"
    );

    assert_eq!(
        status(&rt.invoke("b1", http_api("198.51.100.9")).await),
        200,
        "another address has a limit of its own"
    );
    assert_eq!(
        status(&rt.invoke("b2", rest_api("198.51.100.9")).await),
        200,
        "a REST API event names the same caller by its identity"
    );
    assert_eq!(
        status(&rt.invoke("b3", rest_api("198.51.100.9")).await),
        429
    );

    assert_eq!(
        status(&rt.invoke("c1", alb("203.0.113.7", "192.0.2.44")).await),
        200,
        "behind the ALB the caller is who the balancer saw, not who it claims"
    );
}
