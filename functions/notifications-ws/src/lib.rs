//! `WS /api/ws/user/{user_id}/notifications`: the user's notifications as they
//! happen. The socket listens on the user's Redis channel, where
//! [`shared::domain::notifications::publish`] puts each committed notification,
//! so a booking written by any instance reaches sockets open on any other.
//!
//! The upgrade always succeeds; the handler then authenticates itself, because
//! a WebSocket answers with close codes, not statuses: 4401 without a valid
//! token (`?token=` or `Authorization: Bearer`), 4403 when the token's uid is
//! not `{user_id}`. A connected client gets `{"message": "connected", ...}`,
//! then each notification (the list's item shape), and `{"type": "keepalive"}`
//! every 15 s. When the instance drains (SIGTERM) it closes with 1001 so the
//! client reconnects elsewhere.

use std::time::Duration;

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::StreamExt;
use serde_json::json;
use shared::auth::{AuthError, bearer_token};
use shared::domain::notifications::channel;
use shared::prelude::*;
use shared::runtime::draining;
use shared::ws::{self, Close};

/// How often an idle socket hears from us, so proxies keep it open.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// This function: its route and manifest.
pub fn function() -> Function {
    with_keepalive(KEEPALIVE)
}

/// This function with another keep-alive interval (for tests).
pub fn with_keepalive(every: Duration) -> Function {
    shared::function!(
        OpenApiRouter::new()
            .routes(routes!(notifications_ws))
            .layer(Extension(Keepalive(every)))
    )
}

#[derive(Clone, Copy)]
struct Keepalive(Duration);

/// The token, for clients that cannot set headers on a WebSocket.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Credentials {
    /// A Firebase ID token (else `Authorization: Bearer`).
    pub token: Option<String>,
}

impl Validate for Credentials {}

/// Opens the user's notification stream.
#[utoipa::path(get, path = "/api/ws/user/{user_id}/notifications", tag = "Notifications",
    params(("user_id" = String, Path, description = "The user's uid"), Credentials),
    responses((status = 101, description = "WebSocket. Closes with 4401 without a valid \
        token, 4403 for another user's stream, 1001 when the instance shuts down.")))]
async fn notifications_ws(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Query(credentials): Query<Credentials>,
    Extension(Keepalive(every)): Extension<Keepalive>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return not_a_websocket(rejection),
    };
    let token = credentials
        .token
        .or_else(|| bearer_token(&headers).map(str::to_owned));
    ws.on_upgrade(move |socket| serve(socket, state, user_id, token, every))
}

/// A plain HTTP request to the socket's URL, answered in the contract's error shape.
fn not_a_websocket(rejection: WebSocketUpgradeRejection) -> Response {
    let message = format!("Expected a WebSocket upgrade: {}", rejection.body_text());
    let body = json!({"detail": message, "message": message});
    (rejection.status(), axum::Json(body)).into_response()
}

/// One connection, from upgrade to close.
async fn serve(
    mut socket: WebSocket,
    state: AppState,
    user_id: String,
    token: Option<String>,
    every: Duration,
) {
    let _open = ws::Connection::open(&state);
    let close = match authorize(&state, token.as_deref(), &user_id).await {
        Err(close) => Some(close),
        Ok(()) => stream(&mut socket, &state, &user_id, every).await,
    };
    if let Some(close) = close {
        ws::close(&mut socket, close).await;
    }
}

/// Whether `token` is valid and belongs to `user_id`.
async fn authorize(state: &AppState, token: Option<&str>, user_id: &str) -> Result<(), Close> {
    let token = token.ok_or((4401, "Not authenticated"))?;
    match state.auth.verify(token).await {
        Ok(user) if user.uid == user_id => Ok(()),
        Ok(_) => Err((4403, "Not allowed to read another user's notifications")),
        Err(AuthError::KeysUnavailable) => Err((1013, "Authentication is temporarily unavailable")),
        Err(e) => {
            state
                .metrics
                .auth_failures
                .with_label_values(&[e.reason()])
                .inc();
            Err((4401, "Invalid authentication token"))
        }
    }
}

/// Relays the user's notifications until the client leaves (`None`) or we
/// close (the code to send).
async fn stream(
    socket: &mut WebSocket,
    state: &AppState,
    user_id: &str,
    every: Duration,
) -> Option<Close> {
    let mut published = match ws::subscribe(state, channel(state, user_id)).await {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(error = %e, "could not subscribe to notifications");
            return Some((1011, "Notifications are temporarily unavailable"));
        }
    };
    let hello = json!({"message": "connected", "user_id": user_id, "at": Utc::now()});
    if !ws::send_text(socket, state, hello.to_string()).await {
        return None;
    }
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut draining = draining();
    loop {
        tokio::select! {
            msg = published.next() => match msg.map(|m| m.get_payload::<String>()) {
                Some(Ok(notification)) => if !ws::send_text(socket, state, notification).await {
                    return None;
                },
                Some(Err(e)) => tracing::warn!(error = %e, "unreadable notification skipped"),
                None => return Some((1011, "Notifications are temporarily unavailable")),
            },
            _ = keepalive.tick() => {
                let ping = json!({"type": "keepalive", "at": Utc::now()});
                if !ws::send_text(socket, state, ping.to_string()).await {
                    return None;
                }
            }
            incoming = socket.recv() => if !ws::received(state, incoming) {
                return None;
            },
            () = ws::drained(&mut draining) => return Some(ws::GOING_AWAY),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use serde_json::{Value, json};
    use shared::domain::notifications::{self, Kind, NewNotification};
    use shared::testing::{TestApp, assert_serves_its_manifest};
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
    use uuid::Uuid;

    type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

    /// Opens `/api/ws/user/{user}/notifications` with `query`, and `bearer` as
    /// the Authorization header when given.
    async fn open(app: &TestApp, user: &str, query: &str, bearer: Option<&str>) -> Socket {
        let url = format!("ws://{}/api/ws/user/{user}/notifications{query}", app.addr);
        let mut request = url.into_client_request().unwrap();
        if let Some(token) = bearer {
            let value = format!("Bearer {token}").parse().unwrap();
            request.headers_mut().insert("authorization", value);
        }
        let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.status(), 101);
        socket
    }

    /// The next frame, within 5 s.
    async fn next(socket: &mut Socket) -> Message {
        tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .expect("a valid frame")
    }

    /// The next text frame as JSON.
    async fn next_json(socket: &mut Socket) -> Value {
        match next(socket).await {
            Message::Text(text) => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The code of the close frame that comes next.
    async fn close_code(socket: &mut Socket) -> u16 {
        match next(socket).await {
            Message::Close(Some(frame)) => frame.code.into(),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    /// Writes and publishes a notification for `uid`, as a writer does after
    /// its transaction commits; its id.
    async fn notify(app: &TestApp, uid: &str, title: &str) -> Uuid {
        sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(uid)
            .execute(&app.state.db)
            .await
            .unwrap();
        let mut conn = app.state.db.acquire().await.unwrap();
        let id = notifications::insert(
            &mut conn,
            &NewNotification {
                user_id: uid,
                kind: Kind::TripUpdate,
                title: title.into(),
                body: format!("{title}: now 08:30"),
                data: json!({"routeId": "route-yaounde-douala-morning"}),
            },
        )
        .await
        .unwrap();
        notifications::publish(&app.state, uid, id).await;
        id
    }

    /// The value of a metric line starting with `prefix` in `/metrics`.
    async fn metric(app: &TestApp, prefix: &str) -> f64 {
        let text = app.text("/metrics").await;
        text.lines()
            .find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    #[tokio::test]
    async fn closes_with_4401_without_a_valid_token() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let mut none = open(&app, "ada", "", None).await;
        assert_eq!(close_code(&mut none).await, 4401);
        let mut forged = open(&app, "ada", "?token=not.a.token", None).await;
        assert_eq!(close_code(&mut forged).await, 4401);
        let mut bad_header = open(&app, "ada", "", Some("garbage")).await;
        assert_eq!(close_code(&mut bad_header).await, 4401);
    }

    #[tokio::test]
    async fn closes_with_4403_for_another_users_stream() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let token = app.token("bob");
        let mut socket = open(&app, "ada", &format!("?token={token}"), None).await;
        assert_eq!(close_code(&mut socket).await, 4403);
    }

    #[tokio::test]
    async fn greets_then_relays_the_users_notifications_as_listed() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let token = app.token("ada");
        let mut socket = open(&app, "ada", &format!("?token={token}"), None).await;
        let hello = next_json(&mut socket).await;
        assert_eq!(hello["message"], "connected");
        assert_eq!(hello["user_id"], "ada");
        assert!(
            hello["at"].as_str().is_some_and(|at| at.contains('T')),
            "{hello}"
        );
        assert_eq!(
            metric(
                &app,
                "websocket_connections{function=\"notifications-ws\"} "
            )
            .await,
            1.0
        );

        notify(&app, "bob", "Not for Ada").await;
        let id = notify(&app, "ada", "Departure moved").await;
        let item = next_json(&mut socket).await;
        assert_eq!(
            item["id"],
            json!(id.to_string()),
            "only Ada's reaches her socket"
        );
        assert_eq!(item["title"], "Departure moved");
        assert_eq!(item["message"], "Departure moved: now 08:30");
        assert_eq!(item["body"], item["message"]);
        assert_eq!(item["type"], "trip_update");
        assert_eq!(item["category"], "trip_update");
        assert_eq!(item["userId"], "ada");
        assert_eq!(
            (item["read"].clone(), item["isRead"].clone()),
            (json!(false), json!(false))
        );
        assert_eq!(item["timestamp"], item["created_at"]);
        assert_eq!(item["data"]["routeId"], "route-yaounde-douala-morning");
        assert!(
            metric(
                &app,
                "websocket_messages_total{direction=\"out\",function=\"notifications-ws\"} "
            )
            .await
                >= 2.0,
            "connected and the notification were counted"
        );

        socket.close(None).await.unwrap();
        let mut open_now = 1.0;
        for _ in 0..100 {
            open_now = metric(
                &app,
                "websocket_connections{function=\"notifications-ws\"} ",
            )
            .await;
            if open_now == 0.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(open_now, 0.0, "a closed socket is no longer counted");
    }

    #[tokio::test]
    async fn takes_the_header_token_and_keeps_the_socket_alive() {
        let app = TestApp::spawn(vec![super::with_keepalive(Duration::from_millis(200))]).await;
        let mut socket = open(&app, "ada", "", Some(&app.token("ada"))).await;
        assert_eq!(next_json(&mut socket).await["message"], "connected");
        socket.send(Message::text("hello")).await.unwrap();
        let keepalive = next_json(&mut socket).await;
        assert_eq!(keepalive["type"], "keepalive");
        assert!(keepalive["at"].is_string(), "{keepalive}");
        assert_eq!(next_json(&mut socket).await["type"], "keepalive");
        assert_eq!(
            metric(
                &app,
                "websocket_messages_total{direction=\"in\",function=\"notifications-ws\"} "
            )
            .await,
            1.0
        );
    }

    #[tokio::test]
    async fn a_plain_http_request_is_refused_in_the_error_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = shared::testing::send(
            app.get("/api/ws/user/ada/notifications")
                .bearer_auth(app.token("ada")),
        )
        .await;
        assert!(status == 400 || status == 426, "{status}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with("Expected a WebSocket upgrade"),
            "{body}"
        );
        assert_eq!(body["detail"], body["message"]);
    }

    #[test]
    fn keeps_alive_every_15_seconds() {
        assert_eq!(super::KEEPALIVE, Duration::from_secs(15));
    }

    #[tokio::test]
    async fn serves_its_manifest() {
        assert_serves_its_manifest(super::function()).await;
    }
}
