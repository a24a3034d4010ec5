//! `WS /api/ws/route/{route_id}/traffic`: the route's traffic estimate
//! (`{route_id, congestion_score, average_speed_kmh, updated_at, ...}`, as
//! `GET /api/ai/traffic-prediction/{route_id}` answers it) at once, then every
//! 10 s, and as soon as new pings on the corridor change it: the socket
//! listens on the corridor's Redis channel, where
//! [`ai::traffic::ping_recorded`] announces each ping from any
//! instance (one Redis subscriber per process serves every socket). An
//! unknown route closes with 4404; a client message above a few KiB with
//! 1009; too many open sockets from one client address (or user) on this
//! instance is a 429 instead of the upgrade; when the instance drains
//! (SIGTERM) the socket closes with 1001 so the client reconnects elsewhere.

use std::ops::ControlFlow;
use std::time::Duration;

use ai::traffic::{self, Traffic};
use axum::Extension;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use shared::middleware::ClientIp;
use shared::prelude::*;
use shared::ws::{self, Close, Slots, Sockets};

/// How often the estimate is sent without news.
pub const EVERY: Duration = Duration::from_secs(10);

/// This function: its route and manifest.
pub fn function() -> Function {
    with_interval(EVERY)
}

/// This function with another update interval (for tests).
pub fn with_interval(every: Duration) -> Function {
    shared::function!(
        OpenApiRouter::new()
            .routes(routes!(traffic_ws))
            .layer(Extension(Settings {
                every,
                sockets: Sockets::default(),
            }))
    )
}

/// The update interval and this process's sockets.
#[derive(Clone)]
struct Settings {
    every: Duration,
    sockets: Sockets,
}

/// Opens a route's traffic stream.
#[utoipa::path(get, path = "/api/ws/route/{route_id}/traffic", tag = "AI",
    params(("route_id" = String, Path, example = "route-yaounde-douala-morning")),
    responses((status = 101, description = "WebSocket of traffic updates. Closes with 4404 \
        for an unknown route, 1009 for a client message above 4 KiB, 1001 when the instance \
        shuts down or the socket reaches WS_MAX_LIFETIME_SECONDS (reconnect)."),
        (status = 429, body = ErrorBody, description = "Too many open sockets for this client \
        address (or user) on this instance")))]
async fn traffic_ws(
    State(state): State<AppState>,
    Path(route_id): Path<String>,
    Extension(settings): Extension<Settings>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    MaybeUser(user): MaybeUser,
    ws: WebSocketUpgrade,
) -> Response {
    let uid = user.as_ref().map(|u| u.uid.as_str());
    match settings.sockets.admit(&state, &ip, uid) {
        Ok(slots) => ws::bounded(ws)
            .on_upgrade(move |socket| serve(socket, state, settings, route_id, slots)),
        Err(too_many) => too_many.into_response(),
    }
}

/// One connection, from upgrade to close.
async fn serve(
    mut socket: WebSocket,
    state: AppState,
    settings: Settings,
    route_id: String,
    _slots: Slots,
) {
    let _open = ws::Connection::open(&state);
    if let Some(close) = stream(&mut socket, &state, &settings, &route_id).await {
        ws::close(&mut socket, close).await;
    }
}

/// Sends updates until the client leaves (`None`) or we close (the code).
async fn stream(
    socket: &mut WebSocket,
    state: &AppState,
    settings: &Settings,
    route_id: &str,
) -> Option<Close> {
    let every = settings.every;
    let unavailable = (1011, "Traffic is temporarily unavailable");
    let mut last = match traffic::estimate(&state.db, route_id).await {
        Ok(Some(t)) => t,
        Ok(None) => return Some((4404, "Route not found")),
        Err(e) => {
            tracing::warn!(error = %e, "traffic estimate failed");
            return Some(unavailable);
        }
    };
    let hub = settings.sockets.hub();
    let mut news = match hub
        .subscribe(state, traffic::channel(state, &last.corridor))
        .await
    {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(error = %e, "could not subscribe to traffic news");
            return Some(unavailable);
        }
    };
    if !send(socket, state, &last).await {
        return None;
    }
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut ending = ws::Ending::new(&state.config);
    loop {
        let periodic = tokio::select! {
            msg = news.next() => {
                if msg.is_none() {
                    return Some(unavailable);
                }
                false
            }
            _ = tick.tick() => true,
            incoming = socket.recv() => match ws::received(state, incoming) {
                ControlFlow::Continue(()) => continue,
                ControlFlow::Break(close) => return close,
            },
            () = ending.wait() => return Some(ws::GOING_AWAY),
        };
        let now = match traffic::estimate(&state.db, route_id).await {
            Ok(Some(t)) => t,
            Ok(None) => return Some((4404, "Route not found")),
            Err(e) => {
                tracing::warn!(error = %e, "traffic estimate failed");
                continue;
            }
        };
        if (periodic || changed(&last, &now)) && !send(socket, state, &now).await {
            return None;
        }
        last = now;
    }
}

/// Whether ping news moved the estimate enough to tell the client now.
fn changed(before: &Traffic, now: &Traffic) -> bool {
    (before.average_speed_kmh - now.average_speed_kmh).abs() >= 0.1
        || (before.congestion_score - now.congestion_score).abs() >= 0.001
        || before.source != now.source
}

/// Sends one update; `false` when the client is gone.
async fn send(socket: &mut WebSocket, state: &AppState, t: &Traffic) -> bool {
    match serde_json::to_string(t) {
        Ok(text) => ws::send_text(socket, state, text).await,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ai::traffic::ping_recorded;
    use futures_util::{SinkExt, StreamExt};
    use serde_json::Value;
    use shared::testing::TestApp;
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

    async fn open(app: &TestApp, route: &str) -> Socket {
        let url = format!("ws://{}/api/ws/route/{route}/traffic", app.addr);
        let (socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(response.status(), 101);
        socket
    }

    async fn next(socket: &mut Socket, within: Duration) -> Message {
        tokio::time::timeout(within, socket.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a valid frame")
    }

    async fn next_json(socket: &mut Socket, within: Duration) -> Value {
        match next(socket, within).await {
            Message::Text(text) => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn pushes_at_once_when_pings_slow_the_corridor() {
        // Periodic updates are an hour apart here: what arrives is the push.
        let app = TestApp::spawn(vec![super::with_interval(Duration::from_secs(3600))]).await;
        let mut socket = open(&app, "route-douala-buea-morning").await;
        let first = next_json(&mut socket, Duration::from_secs(5)).await;
        assert_eq!(first["route_id"], "route-douala-buea-morning");
        let speed = first["average_speed_kmh"].as_f64().unwrap();
        assert!(first["congestion_score"].as_f64().is_some());
        assert!(first["updated_at"].is_string());

        let departure: String = sqlx::query_scalar(
            "UPDATE travel_routes SET departure_time = now() - interval '1 hour',
                 estimated_arrival = now() + interval '1 hour'
             WHERE id = (SELECT id FROM travel_routes WHERE schedule_id = 'route-douala-buea-morning'
                         ORDER BY departure_time LIMIT 1)
             RETURNING id",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        sqlx::query("INSERT INTO users (uid) VALUES ('rider')")
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO user_locations (user_id, location, activity_type, route_id, recorded_at)
             SELECT 'rider', ST_LineInterpolatePoint(t.geometry, 0.2 + i * 0.003), 'traveling', t.id,
                    now() - make_interval(mins => 6 - i)
             FROM travel_routes t, generate_series(0, 5) AS i
             WHERE t.schedule_id = 'route-douala-buea-morning' AND t.departure_time < now()",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        ping_recorded(&app.state, &departure).await;
        let pushed = next_json(&mut socket, Duration::from_secs(5)).await;
        assert_eq!(pushed["source"], "heuristic+pings", "{pushed}");
        assert!(
            pushed["average_speed_kmh"].as_f64().unwrap() < speed - 10.0,
            "{pushed}"
        );
        assert!(
            pushed["congestion_score"].as_f64().unwrap()
                > first["congestion_score"].as_f64().unwrap()
        );
        let metrics = app.text("/metrics").await;
        assert!(
            metrics.contains("websocket_connections{function=\"ai-traffic-ws\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains(
                "websocket_messages_total{direction=\"out\",function=\"ai-traffic-ws\"} 2"
            )
        );
    }

    #[tokio::test]
    async fn sends_every_interval_and_closes_unknown_routes_with_4404() {
        let app = TestApp::spawn(vec![super::with_interval(Duration::from_millis(200))]).await;
        let mut socket = open(&app, "route-yaounde-buea").await;
        for _ in 0..3 {
            let update = next_json(&mut socket, Duration::from_secs(2)).await;
            assert_eq!(update["route_id"], "route-yaounde-buea");
        }
        let mut unknown = open(&app, "nope").await;
        match next(&mut unknown, Duration::from_secs(5)).await {
            Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4404),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn oversized_messages_close_with_1009_and_one_address_gets_a_bounded_number() {
        let app = TestApp::spawn_with(
            vec![super::with_interval(Duration::from_secs(3600))],
            &[("WS_MAX_PER_ADDRESS", "2")],
        )
        .await;
        let mut first = open(&app, "route-yaounde-buea").await;
        next_json(&mut first, Duration::from_secs(5)).await;
        let _ = first.send(Message::text("x".repeat(64 * 1024))).await;
        match next(&mut first, Duration::from_secs(5)).await {
            Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1009),
            other => panic!("expected a 1009 close, got {other:?}"),
        }

        let _a = open(&app, "route-yaounde-buea").await;
        let _b = open(&app, "route-yaounde-buea").await;
        let mut refused = None;
        for _ in 0..100 {
            let url = format!("ws://{}/api/ws/route/route-yaounde-buea/traffic", app.addr);
            match tokio_tungstenite::connect_async(url).await {
                // The 1009 socket may not have given its place back yet.
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    refused = Some(response);
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        let response = refused.expect("a third socket from one address is refused");
        assert_eq!(response.status(), 429);
        let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
        assert_eq!(
            body["message"],
            "Too many open connections from this address"
        );
    }

    #[test]
    fn updates_every_10_seconds() {
        assert_eq!(super::EVERY, Duration::from_secs(10));
    }
}
