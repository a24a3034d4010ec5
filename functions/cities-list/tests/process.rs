//! The `cities-list` binary as a process: served over HTTP on `$PORT` with a
//! graceful SIGTERM; built without the `lambda` feature, it refuses to start
//! under a Lambda runtime (`tests/lambda.rs` runs the Lambda build).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use shared::testing::{Killed, free_port, fresh_db_url, redis_url};
use sqlx::{Connection, Executor, PgConnection};

const BIN: &str = env!("CARGO_BIN_EXE_cities-list");

fn command(database_url: &str) -> Command {
    with_env(Command::new(BIN), database_url)
}

fn with_env(mut cmd: Command, database_url: &str) -> Command {
    cmd.env_clear()
        .envs(shared::testing::clock_env())
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", redis_url())
        .env("FIREBASE_PROJECT_ID", "imutis-test")
        .env("REDIS_KEY_PREFIX", format!("proc:{}", std::process::id()))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    cmd
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
    let client = shared::testing::http_client();
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
    let client = shared::testing::http_client();
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
            let client = shared::testing::http_client();
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
    let client = shared::testing::http_client();
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
        .envs(shared::testing::clock_env())
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

#[tokio::test]
async fn a_knative_build_refuses_to_run_under_lambda_instead_of_serving_http() {
    let output = command("postgres://h/db")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`lambda` feature"), "{stderr}");
}

#[tokio::test]
async fn socket_activation_serves_the_inherited_listener_and_the_queued_first_request() {
    let db = fresh_db_url().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The request is sent before the process exists: the kernel queues it on
    // the listening socket until the process accepts.
    let first = tokio::spawn(async move {
        shared::testing::http_client()
            .get(format!("http://{addr}/api/cities"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !first.is_finished(),
        "nothing answers before the process starts"
    );
    let unused_port = free_port();
    // The listener goes in as stdin; the shell moves it to fd 3 and execs the
    // binary with LISTEN_PID set to its own (unchanged) process id.
    let _child = Killed(
        with_env(Command::new("/bin/sh"), &db)
            .env("PORT", unused_port.to_string())
            .env("LISTEN_FDS", "1")
            .arg("-c")
            .arg(r#"export LISTEN_PID=$$; exec "$0" 3<&0 0</dev/null"#)
            .arg(BIN)
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
            .spawn()
            .unwrap(),
    );
    let status = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the queued request is answered once the process starts")
        .unwrap()
        .expect("no connection error");
    assert_eq!(status, 200);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", unused_port)).is_err(),
        "an activated process does not bind $PORT"
    );
}
