//! The `cities-list` binary as a process: served over HTTP on `$PORT` with a
//! graceful SIGTERM, and under a Lambda runtime API served on 127.0.0.1.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};
use shared::testing::{fresh_db_url, pluck, redis_url, serve};
use sqlx::{Connection, Executor, PgConnection};

const BIN: &str = env!("CARGO_BIN_EXE_cities-list");

fn command(database_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", redis_url())
        .env("FIREBASE_PROJECT_ID", "imutis-test")
        .env("REDIS_KEY_PREFIX", format!("proc:{}", std::process::id()))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

async fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn start(db: &str) -> (Killed, String) {
    let port = free_port();
    let child = Killed(
        command(db)
            .env("PORT", port.to_string())
            .env("RATE_LIMIT_ANONYMOUS", "1000")
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = shared::auth::http_client();
    for _ in 0..100 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the binary never became ready");
}

#[tokio::test]
async fn sigterm_under_load_lets_every_in_flight_request_finish() {
    let db = fresh_db_url().await;
    let (mut child, base) = start(&db).await;
    let client = shared::auth::http_client();
    let mut blocker = PgConnection::connect(&db).await.unwrap();
    blocker.execute("BEGIN").await.unwrap();
    blocker
        .execute("LOCK TABLE cities IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    // 30 requests on their own connections, all held in flight by the lock.
    let mut in_flight = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let url = format!("{base}/api/cities");
        in_flight.spawn(async move {
            let client = shared::auth::http_client();
            client.get(url).send().await.map(|r| r.status().as_u16())
        });
    }
    // Time for every request to be accepted and read: then it is in flight
    // (held by the lock, or waiting for a pooled connection behind it).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let term = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        client
            .get(format!("{base}/api/cities"))
            .send()
            .await
            .is_err(),
        "a draining instance takes no new connections"
    );
    blocker.execute("COMMIT").await.unwrap();
    let answers: Vec<_> = in_flight.join_all().await;
    assert_eq!(answers.len(), 30);
    for answer in answers {
        assert_eq!(
            answer.expect("no connection error before the drain ends"),
            200
        );
    }
    let status = wait_exit(&mut child.0, Duration::from_secs(10))
        .await
        .expect("exits after draining");
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn serves_http_and_drains_in_flight_requests_on_sigterm() {
    let db = fresh_db_url().await;
    let port = free_port();
    let mut child = Killed(command(&db).env("PORT", port.to_string()).spawn().unwrap());
    let client = shared::auth::http_client();
    let base = format!("http://127.0.0.1:{port}");

    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the binary answers /healthz on $PORT");
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let cities: Value = client
        .get(format!("{base}/api/cities"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cities.as_array().unwrap().len(), 3);

    // Hold a lock so the next request is still in flight when SIGTERM arrives.
    let mut blocker = PgConnection::connect(&db).await.unwrap();
    blocker.execute("BEGIN").await.unwrap();
    blocker
        .execute("LOCK TABLE cities IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let slow = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/api/cities");
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let term = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "still draining the slow request"
    );
    blocker.execute("COMMIT").await.unwrap();

    assert_eq!(
        slow.await.unwrap().unwrap(),
        200,
        "the in-flight request completes"
    );
    let status = wait_exit(&mut child.0, Duration::from_secs(10))
        .await
        .expect("exits after draining");
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn bad_configuration_stops_with_a_message_naming_the_variable() {
    let output = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", "postgres://h/db")
        .env("REDIS_URL", "redis://h")
        .env("FIREBASE_PROJECT_ID", "p")
        .env("PORT", "not-a-port")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PORT"), "{stderr}");
}

/// A Lambda runtime API: hands out one API Gateway HTTP event, records the answer.
#[derive(Clone, Default)]
struct Runtime {
    served: Arc<Mutex<bool>>,
    answer: Arc<Mutex<Option<Value>>>,
}

async fn next(State(rt): State<Runtime>) -> (HeaderMap, axum::Json<Value>) {
    let first = !std::mem::replace(&mut *rt.served.lock().unwrap(), true);
    if !first {
        // Like the real API: no event yet, the long poll just waits.
        std::future::pending::<()>().await;
    }
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
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
    let event = json!({
        "version": "2.0",
        "routeKey": "GET /api/cities",
        "rawPath": "/api/cities",
        "rawQueryString": "",
        "headers": {"accept": "application/json", "host": "abc.execute-api.eu-west-1.amazonaws.com", "x-forwarded-for": "198.51.100.1"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc",
            "domainName": "abc.execute-api.eu-west-1.amazonaws.com", "domainPrefix": "abc",
            "http": {"method": "GET", "path": "/api/cities", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.1", "userAgent": "test"},
            "requestId": "req-1", "routeKey": "GET /api/cities", "stage": "$default",
            "time": "26/Nov/2026:01:00:00 +0000", "timeEpoch": 1795654800000u64
        },
        "isBase64Encoded": false
    });
    (headers, axum::Json(event))
}

async fn record(State(rt): State<Runtime>, body: axum::body::Bytes) {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| json!({ "unparsed": String::from_utf8_lossy(&body) }));
    *rt.answer.lock().unwrap() = Some(value);
}

#[tokio::test]
async fn answers_an_api_gateway_event_under_the_lambda_runtime() {
    let db = fresh_db_url().await;
    let rt = Runtime::default();
    let api = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(record))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(record))
        .route("/2018-06-01/runtime/init/error", post(record))
        .with_state(rt.clone());
    let addr = serve(api).await;
    let _child = Killed(
        command(&db)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "cities-list")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/cities-list")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .spawn()
            .unwrap(),
    );
    let mut answer = None;
    for _ in 0..200 {
        if let Some(a) = rt.answer.lock().unwrap().take() {
            answer = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = answer.expect("the function answered the invocation");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(pluck(&body, "name"), ["Buea", "Douala", "Yaounde"]);
    assert!(answer["headers"]["x-request-id"].is_string(), "{answer}");
}
