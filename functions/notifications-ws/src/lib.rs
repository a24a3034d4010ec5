//! `WS /api/ws/user/{user_id}/notifications`: the user's notifications as they
//! happen. The socket listens on the user's Redis channel, where
//! [`shared::notifications::publish`] puts each committed notification,
//! so a booking written by any instance reaches sockets open on any other.
//!
//! The token (`?token=` or `Authorization: Bearer`) is checked before the
//! upgrade, with the same device-session check as every authenticated request
//! (a revoked session or signed-out token is refused), but a WebSocket answers
//! with close codes, not statuses: the upgrade succeeds and then closes with
//! 4401 without a valid token or for a revoked session, 4403 when the token's
//! uid is not `{user_id}`. Too many open sockets for the user or the client
//! address on this instance is a 429 instead of the upgrade; a client message
//! above a few KiB closes with 1009. A connected client gets
//! `{"message": "connected", ...}`, then each notification (the list's item
//! shape), and `{"type": "keepalive"}` every 15 s. When the instance drains
//! (SIGTERM) it closes with 1001 so the client reconnects elsewhere. The
//! session is checked again with each keep-alive: revoking it (or signing out
//! everywhere) closes an open socket with 4401.

use std::ops::ControlFlow;
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;
use shared::auth::{AuthError, bearer_token};
use shared::i18n::Locale;
use shared::middleware::ClientIp;
use shared::notifications::{channel, render_published};
use shared::prelude::*;
use shared::sessions::{self, Device};
use shared::ws::{self, Close, Slots, Sockets};

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
            .layer(Extension(Settings {
                keepalive: every,
                sockets: Sockets::default(),
            }))
    )
    .messages(&domain::MESSAGES)
}

/// The keep-alive interval and this process's sockets.
#[derive(Clone)]
struct Settings {
    keepalive: Duration,
    sockets: Sockets,
}

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
        token or for a revoked session, 4403 for another user's stream, 1009 for a client \
        message above 4 KiB, 1001 when the instance shuts down or the socket reaches \
        WS_MAX_LIFETIME_SECONDS (reconnect)."),
        (status = 429, body = ErrorBody, description = "Too many open sockets for this user \
        or client address on this instance")))]
async fn notifications_ws(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Query(credentials): Query<Credentials>,
    Extension(settings): Extension<Settings>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
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
    let verdict = authorize(&state, token.as_deref(), &user_id, &headers, &ip).await;
    let uid = verdict.as_ref().ok().map(|s| s.user.uid.as_str());
    let slots = match settings.sockets.admit(&state, &ip, uid) {
        Ok(slots) => slots,
        Err(too_many) => return too_many.into_response(),
    };
    ws::bounded(ws).on_upgrade(move |socket| serve(socket, state, settings, verdict, slots))
}

/// Who holds an authorized socket, kept to check their session again.
struct Session {
    user: AuthUser,
    device: Device,
    ip: String,
    /// What notifications are written in: the upgrade's `Accept-Language`,
    /// else the user's stored language.
    lang: Lang,
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
    settings: Settings,
    verdict: Result<Session, Close>,
    _slots: Slots,
) {
    let _open = ws::Connection::open(&state);
    let close = match verdict {
        Err(close) => Some(close),
        Ok(session) => stream(&mut socket, &state, &settings, &session).await,
    };
    if let Some(close) = close {
        ws::close(&mut socket, close).await;
    }
}

/// Whether `token` is valid, belongs to `user_id` and its session stands
/// (the check every authenticated request gets, whichever way the token came).
async fn authorize(
    state: &AppState,
    token: Option<&str>,
    user_id: &str,
    headers: &HeaderMap,
    ip: &str,
) -> Result<Session, Close> {
    let token = token.ok_or((4401, "Not authenticated"))?;
    match state.auth.verify(token).await {
        Ok(user) if user.uid == user_id => {
            sessions::keep(state, &user, headers, ip)
                .await
                .map_err(|_| REVOKED)?;
            let device = Device::from_headers(headers, ip);
            let ip = ip.to_owned();
            let locale = Locale::from_headers(headers);
            locale.signed_in(&user.uid);
            let lang = locale.resolve(state).await;
            Ok(Session {
                user,
                device,
                ip,
                lang,
            })
        }
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

/// The close of a socket whose session was revoked.
const REVOKED: Close = (4401, "Session revoked; sign in again");

/// Relays the user's notifications until the client leaves (`None`) or we
/// close (the code to send). The session is checked again at each
/// keep-alive, so a revocation closes an open socket too (4401).
async fn stream(
    socket: &mut WebSocket,
    state: &AppState,
    settings: &Settings,
    session: &Session,
) -> Option<Close> {
    let user_id = session.user.uid.as_str();
    let every = settings.keepalive;
    let hub = settings.sockets.hub();
    let mut published = match hub.subscribe(state, channel(state, user_id)).await {
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
    let mut ending = ws::Ending::new(&state.config);
    loop {
        tokio::select! {
            msg = published.next() => match msg {
                Some(published) => {
                    let Some(notification) = render_published(&published, session.lang) else {
                        tracing::warn!("skipped a message on the channel that is not a notification");
                        continue;
                    };
                    if !ws::send_text(socket, state, notification).await {
                        return None;
                    }
                }
                None => return Some((1011, "Notifications are temporarily unavailable")),
            },
            _ = keepalive.tick() => {
                let Session { user, device, ip, .. } = session;
                // Boxed: an idle socket's task stays small (the check's
                // future is several KiB, held only while it runs).
                if Box::pin(sessions::check(state, user, device, ip)).await.is_err() {
                    return Some(REVOKED);
                }
                let ping = json!({"type": "keepalive", "at": Utc::now()});
                if !ws::send_text(socket, state, ping.to_string()).await {
                    return None;
                }
            }
            incoming = socket.recv() => if let ControlFlow::Break(close) = ws::received(state, incoming) {
                return close;
            },
            () = ending.wait() => return Some(ws::GOING_AWAY),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use serde_json::{Value, json};
    use shared::notifications::{self, Kind, NewNotification};
    use shared::testing::{TestApp, TestKeys, claims};
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
    use uuid::Uuid;

    type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

    /// Opens `/api/ws/user/{user}/notifications` with `query`, and `bearer` as
    /// the Authorization header when given.
    async fn open(app: &TestApp, user: &str, query: &str, bearer: Option<&str>) -> Socket {
        try_open(
            app,
            user,
            query,
            &[("authorization", bearer.map(|t| format!("Bearer {t}")))],
        )
        .await
        .unwrap()
    }

    /// Opens the socket with these headers (`None` values left out): the
    /// socket, or the HTTP status and body that refused the upgrade.
    async fn try_open(
        app: &TestApp,
        user: &str,
        query: &str,
        headers: &[(&'static str, Option<String>)],
    ) -> Result<Socket, (u16, Value)> {
        let url = format!("ws://{}/api/ws/user/{user}/notifications{query}", app.addr);
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            if let Some(value) = value {
                request.headers_mut().insert(*name, value.parse().unwrap());
            }
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, response)) => {
                assert_eq!(response.status(), 101);
                Ok(socket)
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = response.body().as_deref().unwrap_or_default();
                let body = serde_json::from_slice(body).unwrap_or(Value::Null);
                Err((response.status().as_u16(), body))
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// A socket of `uid` (signed in) from client address `ip`.
    async fn open_from(app: &TestApp, uid: &str, ip: &str) -> Result<Socket, (u16, Value)> {
        let query = format!("?token={}", app.token(uid));
        try_open(app, uid, &query, &[("x-forwarded-for", Some(ip.into()))]).await
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

    /// Writes and publishes a notification for `uid` (the driver cancelled
    /// their 06:00 ride of 5 December 2026 from Yaoundé to `destination`), as
    /// a writer does after its transaction commits; its id.
    async fn notify(app: &TestApp, uid: &str, destination: &str) -> Uuid {
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
                text: domain::MESSAGES
                    .text("ride-cancelled")
                    .arg("origin", "Yaoundé")
                    .arg("destination", destination)
                    .arg(
                        "departure",
                        chrono::DateTime::parse_from_rfc3339("2026-12-05T05:00:00Z")
                            .unwrap()
                            .to_utc(),
                    ),
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

        notify(&app, "bob", "Kribi").await;
        let id = notify(&app, "ada", "Douala").await;
        let item = next_json(&mut socket).await;
        assert_eq!(
            item["id"],
            json!(id.to_string()),
            "only Ada's reaches her socket"
        );
        assert_eq!(item["title"], "Ride cancelled: Yaoundé → Douala");
        assert_eq!(
            item["message"],
            "Your ride from Yaoundé to Douala on Sat 5 Dec 2026, 06:00 WAT was cancelled by the driver"
        );
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

    #[tokio::test]
    async fn an_oversized_message_closes_the_socket_with_1009() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let token = app.token("ada");
        let mut socket = open(&app, "ada", &format!("?token={token}"), None).await;
        assert_eq!(next_json(&mut socket).await["message"], "connected");
        socket
            .send(Message::text("x".repeat(shared::ws::MAX_MESSAGE)))
            .await
            .unwrap();
        socket
            .send(Message::text("y".repeat(shared::ws::MAX_MESSAGE + 1)))
            .await
            .unwrap();
        assert_eq!(close_code(&mut socket).await, 1009);

        let mut socket = open(&app, "ada", &format!("?token={token}"), None).await;
        assert_eq!(next_json(&mut socket).await["message"], "connected");
        let _ = socket.send(Message::binary(vec![0u8; 1 << 20])).await;
        assert_eq!(
            close_code(&mut socket).await,
            1009,
            "1 MiB is not read in full"
        );
    }

    #[tokio::test]
    async fn a_socket_closes_with_1001_before_the_platform_would_cut_it() {
        let app =
            TestApp::spawn_with(vec![super::function()], &[("WS_MAX_LIFETIME_SECONDS", "1")]).await;
        let token = app.token("ada");
        let mut socket = open(&app, "ada", &format!("?token={token}"), None).await;
        assert_eq!(next_json(&mut socket).await["message"], "connected");
        let started = std::time::Instant::now();
        assert_eq!(close_code(&mut socket).await, 1001, "going away: reconnect");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    /// Waits until the instance has given back the places of closed sockets.
    async fn settle(app: &TestApp, open: f64) {
        for _ in 0..100 {
            let now = metric(app, "websocket_connections{function=\"notifications-ws\"} ").await;
            if now == open {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("sockets still open");
    }

    #[tokio::test]
    async fn too_many_sockets_for_one_user_are_429_before_the_upgrade() {
        let app = TestApp::spawn_with(vec![super::function()], &[("WS_MAX_PER_USER", "2")]).await;
        let mut first = open_from(&app, "ada", "203.0.113.1").await.unwrap();
        let _second = open_from(&app, "ada", "203.0.113.2").await.unwrap();
        let (status, body) = open_from(&app, "ada", "203.0.113.3").await.err().unwrap();
        assert_eq!(status, 429);
        assert_eq!(body["message"], "Too many open connections for this user");
        assert_eq!(body["detail"], body["message"]);
        let _bob = open_from(&app, "bob", "203.0.113.3")
            .await
            .expect("bob is not ada");
        let mut forged = try_open(&app, "ada", "?token=forged", &[]).await.unwrap();
        assert_eq!(
            close_code(&mut forged).await,
            4401,
            "an invalid token takes no place of ada's"
        );

        first.close(None).await.unwrap();
        let mut reopened = Err((0, Value::Null));
        for _ in 0..100 {
            reopened = open_from(&app, "ada", "203.0.113.3").await;
            if reopened.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(reopened.is_ok(), "a place came free: {:?}", reopened.err());
    }

    #[tokio::test]
    async fn too_many_sockets_from_one_address_are_429_before_the_upgrade() {
        let app =
            TestApp::spawn_with(vec![super::function()], &[("WS_MAX_PER_ADDRESS", "3")]).await;
        let mut held = Vec::new();
        for uid in ["ada", "bob", "cy"] {
            held.push(open_from(&app, uid, "2001:db8:7:7::1").await.unwrap());
        }
        let (status, body) = open_from(&app, "dan", "2001:db8:7:7::2")
            .await
            .err()
            .unwrap();
        assert_eq!(status, 429, "another address of the same /64");
        assert_eq!(
            body["message"],
            "Too many open connections from this address"
        );
        assert!(open_from(&app, "dan", "2001:db8:7:8::1").await.is_ok());
        assert!(open_from(&app, "eve", "198.51.100.4").await.is_ok());
    }

    /// `PUBSUB NUMSUB` of `channels`.
    async fn subscribers(app: &TestApp, channels: &[String]) -> Vec<i64> {
        let mut conn = app.state.redis.connection_for_tests().await;
        let counts: std::collections::HashMap<String, i64> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channels)
            .query_async(&mut conn)
            .await
            .unwrap();
        channels.iter().map(|c| counts[c]).collect()
    }

    /// Redis clients subscribed to exactly `n` channels.
    async fn clients_subscribed_to(app: &TestApp, n: usize) -> usize {
        let mut conn = app.state.redis.connection_for_tests().await;
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut conn)
            .await
            .unwrap();
        let field = format!(" sub={n} ");
        list.lines().filter(|l| l.contains(&field)).count()
    }

    #[tokio::test]
    async fn many_sockets_share_one_redis_subscriber_and_all_still_hear_their_news() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let users: Vec<String> = (0..37).map(|i| format!("rider-{i}")).collect();
        let mut sockets = Vec::new();
        for (i, uid) in users.iter().enumerate() {
            let ip = format!("203.0.113.{}", i % 200);
            let mut socket = open_from(&app, uid, &ip).await.unwrap();
            assert_eq!(next_json(&mut socket).await["message"], "connected");
            sockets.push(socket);
        }
        for _ in 0..4 {
            let mut socket = open_from(&app, "rider-0", "203.0.113.0").await.unwrap();
            assert_eq!(next_json(&mut socket).await["message"], "connected");
            sockets.push(socket);
        }
        let channels: Vec<String> = users
            .iter()
            .map(|u| notifications::channel(&app.state, u))
            .collect();
        assert_eq!(
            subscribers(&app, &channels).await,
            vec![1; users.len()],
            "one subscription per channel, however many sockets listen"
        );
        assert_eq!(
            clients_subscribed_to(&app, users.len()).await,
            1,
            "41 sockets, one Redis pub/sub connection holding all 37 channels"
        );

        let id = notify(&app, "rider-0", "Douala").await;
        for i in std::iter::once(0).chain(users.len()..sockets.len()) {
            let item = next_json(&mut sockets[i]).await;
            assert_eq!(item["id"], json!(id.to_string()), "every socket of rider-0");
        }
        let id = notify(&app, "rider-36", "Buea").await;
        assert_eq!(
            next_json(&mut sockets[36]).await["id"],
            json!(id.to_string())
        );

        for mut socket in sockets {
            socket.close(None).await.unwrap();
        }
        settle(&app, 0.0).await;
        let mut left = vec![];
        for _ in 0..100 {
            left = subscribers(&app, &channels).await;
            if left.iter().all(|n| *n == 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            left,
            vec![0; users.len()],
            "unsubscribed as the sockets left"
        );
    }

    #[tokio::test]
    async fn the_query_token_gets_the_session_check_too() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let now = chrono::Utc::now().timestamp();
        let signed_in_at = |at: i64| {
            let mut c = claims("ada");
            c["auth_time"] = json!(at);
            c["iat"] = json!(at.min(chrono::Utc::now().timestamp()));
            TestKeys::get().sign(&c)
        };
        let phone = signed_in_at(now - 600);
        let query = format!("?token={phone}");
        let device = |id: &str| [("x-device-id", Some(id.to_owned()))];
        let mut socket = try_open(&app, "ada", &query, &device("phone"))
            .await
            .unwrap();
        assert_eq!(next_json(&mut socket).await["message"], "connected");
        socket.close(None).await.unwrap();
        let session: uuid::Uuid = sqlx::query_scalar(
            "SELECT id FROM device_sessions WHERE user_id = 'ada' AND device_id = 'phone'",
        )
        .fetch_one(&app.state.db)
        .await
        .expect("the ?token= socket recorded its session");
        assert!(
            shared::sessions::revoke(&app.state, "ada", session)
                .await
                .unwrap()
        );

        for id in ["phone", "a-new-device"] {
            let mut socket = try_open(&app, "ada", &query, &device(id)).await.unwrap();
            assert_eq!(close_code(&mut socket).await, 4401, "revoked, from {id}");
        }
        let laptop = signed_in_at(now - 300);
        let mut socket = open(&app, "ada", &format!("?token={laptop}"), None).await;
        assert_eq!(next_json(&mut socket).await["message"], "connected");

        shared::sessions::revoke_all(&app.state, "ada")
            .await
            .unwrap();
        let mut socket = open(&app, "ada", &format!("?token={laptop}"), None).await;
        assert_eq!(close_code(&mut socket).await, 4401, "signed out everywhere");
        let refused = try_open(
            &app,
            "ada",
            "",
            &[("authorization", Some(format!("Bearer {laptop}")))],
        )
        .await;
        assert_eq!(
            refused.err().unwrap().0,
            401,
            "the header path, before the upgrade"
        );
        let again = signed_in_at(chrono::Utc::now().timestamp() + 2);
        let mut socket = open(&app, "ada", &format!("?token={again}"), None).await;
        assert_eq!(next_json(&mut socket).await["message"], "connected");
    }

    #[tokio::test]
    async fn an_open_socket_closes_with_4401_once_its_session_is_revoked() {
        let app = TestApp::spawn(vec![super::with_keepalive(Duration::from_millis(200))]).await;
        let mut socket = open(&app, "ada", &format!("?token={}", app.token("ada")), None).await;
        assert_eq!(next_json(&mut socket).await["message"], "connected");
        assert_eq!(next_json(&mut socket).await["type"], "keepalive");
        shared::sessions::revoke_all(&app.state, "ada")
            .await
            .unwrap();
        assert_eq!(close_code(&mut socket).await, 4401);
    }

    #[tokio::test]
    async fn a_lost_redis_closes_with_1011_and_the_next_socket_subscribes_again() {
        let authority = shared::testing::redis_url()
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap().to_owned())
            .unwrap();
        let proxy = shared::testing::FaultProxy::start(&authority).await;
        let redis = shared::testing::via(&shared::testing::redis_url(), proxy.addr);
        let app = TestApp::spawn_with(vec![super::function()], &[("REDIS_URL", &redis)]).await;
        let token = app.token("ada");
        let mut socket = open(&app, "ada", &format!("?token={token}"), None).await;
        assert_eq!(next_json(&mut socket).await["message"], "connected");

        proxy.down();
        assert_eq!(
            close_code(&mut socket).await,
            1011,
            "the client is told to reconnect"
        );
        proxy.up();
        tokio::time::sleep(shared::cache::OPEN_FOR).await;
        let mut socket = open(&app, "ada", &format!("?token={token}"), None).await;
        assert_eq!(next_json(&mut socket).await["message"], "connected");
        let id = notify(&app, "ada", "Douala").await;
        assert_eq!(next_json(&mut socket).await["id"], json!(id.to_string()));
    }

    #[tokio::test]
    async fn relays_in_the_language_of_the_sockets_reader() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query("INSERT INTO users (uid, language) VALUES ('ada', 'fr')")
            .execute(&app.state.db)
            .await
            .unwrap();
        let token = app.token("ada");
        let mut socket = open(&app, "ada", &format!("?token={token}"), None).await;
        assert_eq!(next_json(&mut socket).await["message"], "connected");
        notify(&app, "ada", "Douala").await;
        let item = next_json(&mut socket).await;
        assert_eq!(item["title"], "Trajet annulé : Yaoundé → Douala");
        assert_eq!(
            item["message"],
            "Votre trajet de Yaoundé à Douala du sam. 5 déc. 2026 à 06:00 WAT a été annulé par le chauffeur"
        );
    }

    #[test]
    fn keeps_alive_every_15_seconds() {
        assert_eq!(super::KEEPALIVE, Duration::from_secs(15));
    }
}
