//! WebSocket connections as the long-lived functions hold them (feature
//! `ws`): counted in `websocket_connections` and `websocket_messages_total`,
//! held against the drain, fed from a Redis pub/sub channel, and closed with
//! a code the client can act on (1001 when the instance goes away).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::runtime::LongLived;
use crate::state::AppState;

/// A close code and its reason.
pub type Close = (u16, &'static str);

/// The close of a draining instance: clients reconnect elsewhere.
pub const GOING_AWAY: Close = (1001, "Server going away");

/// One open connection, counted and held against the drain while it lives.
pub struct Connection {
    _held: LongLived,
    metrics: Arc<Metrics>,
}

impl Connection {
    /// Counts a new connection.
    pub fn open(state: &AppState) -> Self {
        state.metrics.websocket_connections.inc();
        Self {
            _held: LongLived::hold(),
            metrics: state.metrics.clone(),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.metrics.websocket_connections.dec();
    }
}

/// Sends one text frame, counted; `false` when the client is gone.
pub async fn send_text(socket: &mut WebSocket, state: &AppState, text: String) -> bool {
    let sent = socket.send(Message::Text(text.into())).await.is_ok();
    if sent {
        state
            .metrics
            .websocket_messages
            .with_label_values(&["out"])
            .inc();
    }
    sent
}

/// Takes what the client sent (counted); `false` once it closed or left.
pub fn received(state: &AppState, incoming: Option<Result<Message, axum::Error>>) -> bool {
    match incoming {
        Some(Ok(Message::Text(_) | Message::Binary(_))) => {
            state
                .metrics
                .websocket_messages
                .with_label_values(&["in"])
                .inc();
            true
        }
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => true,
        Some(Ok(Message::Close(_)) | Err(_)) | None => false,
    }
}

/// Sends the close frame, then gives the client a moment to answer it.
pub async fn close(socket: &mut WebSocket, (code, reason): Close) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(msg)) = socket.recv().await {
                if matches!(msg, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

/// Resolves once the instance drains (never, if it cannot tell); pair with
/// [`crate::runtime::draining`].
pub async fn drained(draining: &mut watch::Receiver<bool>) {
    if draining.wait_for(|d| *d).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A dedicated pub/sub connection listening on `channel` (pooled connections
/// cannot subscribe).
pub async fn subscribe(
    state: &AppState,
    channel: String,
) -> redis::RedisResult<redis::aio::PubSubStream> {
    let client = redis::Client::open(state.config.redis_url.as_str())?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub.into_on_message())
}
