//! The `notifications-ws` binary as its own process: a notification written
//! and published by another process (this test) reaches a socket it serves,
//! and SIGTERM closes that socket with 1001 before the process exits.

use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use shared::notifications::{self, Kind, NewNotification};
use shared::state::AppState;
use shared::testing::{
    JwksServer, Killed, PROJECT_ID, TestKeys, claims, config, free_port, fresh_db_url, redis_url,
};
use sqlx::postgres::PgPoolOptions;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_notifications-ws");

/// The next frame within 5 s, or `None` when the socket ended.
async fn next<S>(socket: &mut S) -> Option<Message>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("a frame within 5 s")
        .and_then(Result::ok)
}

fn text(frame: Option<Message>) -> Value {
    match frame {
        Some(Message::Text(text)) => serde_json::from_str(&text).unwrap(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

#[tokio::test]
async fn relays_a_notification_published_by_another_process_and_closes_1001_on_sigterm() {
    let db = fresh_db_url().await;
    let jwks = JwksServer::start().await;
    let prefix = format!("wsproc:{}", uuid::Uuid::new_v4().simple());
    let port = free_port();
    let mut child = Killed(
        Command::new(BIN)
            .env_clear()
            .envs(shared::testing::clock_env())
            .env("DATABASE_URL", &db)
            .env("REDIS_URL", redis_url())
            .env("FIREBASE_PROJECT_ID", PROJECT_ID)
            .env("FIREBASE_JWKS_URL", &jwks.url)
            .env("REDIS_KEY_PREFIX", &prefix)
            .env("PORT", port.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = shared::testing::http_client();
    let mut up = false;
    for _ in 0..100 {
        if client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the binary answers /healthz on $PORT");

    let token = TestKeys::get().sign(&claims("ada"));
    let url = format!("ws://127.0.0.1:{port}/api/ws/user/ada/notifications?token={token}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = text(next(&mut socket).await);
    assert_eq!(hello["message"], "connected", "{hello}");

    // This process is "another instance": same database and Redis namespace.
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db)
        .await
        .unwrap();
    let overrides = [
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("DATABASE_URL", db.as_str()),
    ];
    let state = AppState::with_pool(config(&jwks.url, &overrides), pool).unwrap();
    sqlx::query("INSERT INTO users (uid) VALUES ('ada') ON CONFLICT DO NOTHING")
        .execute(&state.db)
        .await
        .unwrap();
    let mut tx = state.db.begin().await.unwrap();
    let id = notifications::insert(
        &mut tx,
        &NewNotification {
            user_id: "ada",
            kind: Kind::BookingConfirmation,
            text: shared::i18n::MESSAGES
                .text("new-sign-in")
                .arg("device", "Pixel 8 (android)"),
            data: json!({"bookingId": "b-1"}),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    notifications::publish(&state, "ada", id).await;

    let item = text(next(&mut socket).await);
    assert_eq!(item["id"], json!(id.to_string()), "{item}");
    assert_eq!(item["type"], "booking_confirmation");
    assert_eq!(item["message"], "New sign-in from Pixel 8 (android)");

    let term = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    match next(&mut socket).await {
        Some(Message::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a 1001 close frame, got {other:?}"),
    }
    let mut exited = None;
    for _ in 0..200 {
        if let Some(status) = child.0.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = exited.expect("the process exits after closing its sockets");
    assert!(status.success(), "exit status {status:?}");
}
