//! WebSocket connections as the long-lived functions hold them (feature
//! `ws`): counted in `websocket_connections` and `websocket_messages_total`,
//! held against the drain, fed from Redis pub/sub, and closed with a code the
//! client can act on (1001 when the instance goes away).
//!
//! Bounded whoever connects:
//! - a message or frame above [`MAX_MESSAGE`] closes the socket with 1009
//!   before it is read in full ([`bounded`]); buffers are a few KiB a socket;
//! - [`Sockets::admit`] caps open sockets per user (`WS_MAX_PER_USER`) and
//!   per client address (`WS_MAX_PER_ADDRESS`, IPv6 per network) on this
//!   instance, answering 429 in the error shape before the upgrade;
//! - one Redis pub/sub connection per process ([`Hub`]) serves every socket:
//!   a channel is subscribed while at least one local socket listens to it,
//!   and each message is fanned out to those sockets.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::client_ip::limit_key;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::redis_pool::RedisPool;
use crate::runtime::LongLived;
use crate::state::AppState;

/// A close code and its reason.
pub type Close = (u16, &'static str);

/// The close of a draining instance: clients reconnect elsewhere.
pub const GOING_AWAY: Close = (1001, "Server going away");

/// The close of a client that sent more than [`MAX_MESSAGE`].
pub const TOO_BIG: Close = (1009, "Message too big");

/// The largest message (and frame) a client may send; the app sends none
/// beyond pings, so a few KiB is generous.
pub const MAX_MESSAGE: usize = 4 * 1024;

/// Messages a socket may fall behind its channel before it skips some.
const BACKLOG: usize = 16;
/// How long connecting and subscribing to Redis may take.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The upgrade with this module's bounds: messages and frames of at most
/// [`MAX_MESSAGE`], and small buffers (idle sockets cost little).
pub fn bounded(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .read_buffer_size(MAX_MESSAGE)
        .write_buffer_size(0)
}

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
pub async fn send_text(
    socket: &mut WebSocket,
    state: &AppState,
    text: impl Into<Utf8Bytes>,
) -> bool {
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

/// Takes what the client sent (counted): `Continue` while the socket stays
/// open, `Break(None)` once the client closed or left, `Break(Some(close))`
/// when we must close it (1009 for an oversized message).
pub fn received(
    state: &AppState,
    incoming: Option<Result<Message, axum::Error>>,
) -> ControlFlow<Option<Close>> {
    match incoming {
        Some(Ok(Message::Text(_) | Message::Binary(_))) => {
            state
                .metrics
                .websocket_messages
                .with_label_values(&["in"])
                .inc();
            ControlFlow::Continue(())
        }
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => ControlFlow::Continue(()),
        Some(Err(e)) if too_big(&e) => ControlFlow::Break(Some(TOO_BIG)),
        Some(Ok(Message::Close(_)) | Err(_)) | None => ControlFlow::Break(None),
    }
}

fn too_big(e: &axum::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
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

/// When a socket must end with [`GOING_AWAY`]: the instance drains
/// (SIGTERM), or the socket has lived `WS_MAX_LIFETIME_SECONDS`. Knative's
/// queue-proxy cuts a request at the revision's `timeoutSeconds` with no
/// close frame; closing first tells the client to reconnect, and it does so
/// cleanly (see knative/README.md, WebSockets).
pub struct Ending {
    draining: watch::Receiver<bool>,
    deadline: tokio::time::Instant,
}

impl Ending {
    /// Starts the clock of a socket that has just opened.
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            draining: crate::runtime::draining(),
            deadline: tokio::time::Instant::now() + config.ws_max_lifetime,
        }
    }

    /// Resolves once the socket should close.
    pub async fn wait(&mut self) {
        tokio::select! {
            () = drained(&mut self.draining) => {}
            () = tokio::time::sleep_until(self.deadline) => {}
        }
    }
}

/// Resolves once the instance drains (never, if it cannot tell); pair with
/// [`crate::runtime::draining`].
pub async fn drained(draining: &mut watch::Receiver<bool>) {
    if draining.wait_for(|d| *d).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A WebSocket function's per-process bookkeeping: open sockets per user and
/// per address, and the shared Redis subscriber. Make one per function
/// (`function()` does) and hand it to the handler as an extension.
#[derive(Clone, Default)]
pub struct Sockets {
    open: Arc<Mutex<HashMap<String, u32>>>,
    hub: Hub,
}

/// A socket refused for the caps: a 429 in the contract's error shape.
#[derive(Debug)]
pub struct TooMany(&'static str);

impl TooMany {
    fn text(&self) -> crate::i18n::Text {
        crate::i18n::MESSAGES.text(self.0)
    }
}

impl IntoResponse for TooMany {
    fn into_response(self) -> Response {
        ApiError::TooManyRequests {
            retry_after: 30,
            message: self.text(),
        }
        .into_response()
    }
}

/// The places a socket holds in [`Sockets`]; given back when dropped.
pub struct Slots {
    keys: Vec<String>,
    open: Arc<Mutex<HashMap<String, u32>>>,
}

impl Drop for Slots {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("not poisoned");
        for key in &self.keys {
            if let Some(n) = open.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    open.remove(key);
                }
            }
        }
    }
}

impl Sockets {
    /// Takes a place for one more socket from `ip` (and signed-in `uid`), or
    /// the refusal to answer (429) instead of upgrading.
    pub fn admit(&self, state: &AppState, ip: &str, uid: Option<&str>) -> Result<Slots, TooMany> {
        let config = &state.config;
        let mut wanted = vec![(
            format!("ip\0{}", limit_key(ip, config.ipv6_prefix)),
            config.ws_max_per_address,
        )];
        if let Some(uid) = uid {
            wanted.push((format!("uid\0{uid}"), config.ws_max_per_user));
        }
        let mut open = self.open.lock().expect("not poisoned");
        if let Some((key, _)) = wanted
            .iter()
            .find(|(key, cap)| open.get(key).is_some_and(|n| n >= cap))
        {
            drop(open);
            let label = if key.starts_with("ip") {
                "websocket_address"
            } else {
                "websocket_user"
            };
            state.metrics.rate_limited.with_label_values(&[label]).inc();
            let message = if uid.is_some() && !key.starts_with("ip") {
                "too-many-sockets-user"
            } else {
                "too-many-sockets-address"
            };
            return Err(TooMany(message));
        }
        for (key, _) in &wanted {
            *open.entry(key.clone()).or_default() += 1;
        }
        Ok(Slots {
            keys: wanted.into_iter().map(|(k, _)| k).collect(),
            open: self.open.clone(),
        })
    }

    /// The process's Redis subscriber.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

/// One Redis pub/sub connection for every socket of the process, opened on
/// the first subscription. When it is lost, every [`Subscription`] ends (the
/// sockets close with 1011 and their clients reconnect and catch up); the
/// next subscription connects again.
#[derive(Clone, Default)]
pub struct Hub(Arc<HubInner>);

#[derive(Default)]
struct HubInner {
    channels: Channels,
    commands: OnceLock<mpsc::UnboundedSender<Command>>,
}

/// Channel name to (entry id, the local listeners' sender).
type Channels = Arc<Mutex<HashMap<String, (u64, broadcast::Sender<Utf8Bytes>)>>>;

static ENTRY_IDS: AtomicU64 = AtomicU64::new(1);

/// Why a socket could not listen on a channel.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("the subscriber stopped")]
    Stopped,
    #[error("Redis did not answer in time")]
    Timeout,
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
}

enum Command {
    Subscribe(String, oneshot::Sender<Result<(), SubscribeError>>),
    Unsubscribe(String),
}

/// A socket's listening on one channel; unsubscribes the process from it
/// when the last local listener goes.
pub struct Subscription {
    rx: broadcast::Receiver<Utf8Bytes>,
    channel: String,
    entry: u64,
    hub: Hub,
}

impl Subscription {
    /// The next message on the channel; `None` once the subscriber lost
    /// Redis. A listener that fell [`BACKLOG`] messages behind skips some.
    pub async fn next(&mut self) -> Option<Utf8Bytes> {
        loop {
            match self.rx.recv().await {
                Ok(message) => return Some(message),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "a slow socket skipped messages");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut channels = self.hub.0.channels.lock().expect("not poisoned");
        let last = channels
            .get(&self.channel)
            .is_some_and(|(id, tx)| *id == self.entry && tx.receiver_count() <= 1);
        if last {
            channels.remove(&self.channel);
            if let Some(commands) = self.hub.0.commands.get() {
                let _ = commands.send(Command::Unsubscribe(self.channel.clone()));
            }
        }
    }
}

impl Hub {
    /// Listens on `channel`; once this returns, every message published on
    /// it reaches the subscription.
    pub async fn subscribe(
        &self,
        state: &AppState,
        channel: String,
    ) -> Result<Subscription, SubscribeError> {
        let commands = self.0.commands.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let redis = state.redis.pool().clone();
            tokio::spawn(listen(redis, self.0.channels.clone(), rx));
            tx
        });
        let subscription = {
            let mut channels = self.0.channels.lock().expect("not poisoned");
            let (entry, tx) = channels.entry(channel.clone()).or_insert_with(|| {
                let id = ENTRY_IDS.fetch_add(1, Ordering::Relaxed);
                (id, broadcast::channel(BACKLOG).0)
            });
            Subscription {
                rx: tx.subscribe(),
                channel: channel.clone(),
                entry: *entry,
                hub: self.clone(),
            }
        };
        let (done, answer) = oneshot::channel();
        commands
            .send(Command::Subscribe(channel, done))
            .map_err(|_| SubscribeError::Stopped)?;
        answer.await.map_err(|_| SubscribeError::Stopped)??;
        Ok(subscription)
    }

    /// How many channels this process listens to (for tests).
    pub fn channels(&self) -> usize {
        self.0.channels.lock().expect("not poisoned").len()
    }
}

/// The subscriber task: applies (un)subscriptions in order and fans each
/// message out to its channel's listeners.
async fn listen(
    redis: RedisPool,
    channels: Channels,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut sink: Option<PubSubSink> = None;
    let mut stream: Option<PubSubStream> = None;
    let mut subscribed: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return,
                Some(Command::Subscribe(channel, done)) => {
                    let result = if subscribed.contains(&channel) {
                        Ok(())
                    } else {
                        subscribe(&redis, &mut sink, &mut stream, &channel).await
                    };
                    if result.is_ok() {
                        subscribed.insert(channel);
                    }
                    let _ = done.send(result);
                }
                Some(Command::Unsubscribe(channel)) => {
                    if subscribed.remove(&channel) && let Some(sink) = sink.as_mut() {
                        let _ = tokio::time::timeout(SUBSCRIBE_TIMEOUT, sink.unsubscribe(&channel)).await;
                    }
                }
            },
            message = next_message(&mut stream) => match message {
                Some(message) => {
                    let (Ok(payload), channel) = (message.get_payload::<String>(), message.get_channel_name()) else {
                        continue;
                    };
                    let listened = match channels.lock().expect("not poisoned").get(channel) {
                        Some((_, tx)) => {
                            let _ = tx.send(payload.into());
                            true
                        }
                        None => false,
                    };
                    // No local listener left (one that raced a reconnect):
                    // stop receiving the channel; a new listener subscribes again.
                    if !listened
                        && subscribed.remove(channel)
                        && let Some(sink) = sink.as_mut()
                    {
                        let _ = tokio::time::timeout(SUBSCRIBE_TIMEOUT, sink.unsubscribe(channel)).await;
                    }
                }
                None => {
                    tracing::warn!("Redis pub/sub connection lost; sockets will reconnect");
                    (sink, stream) = (None, None);
                    subscribed.clear();
                    channels.lock().expect("not poisoned").clear();
                }
            },
        }
    }
}

async fn next_message(stream: &mut Option<PubSubStream>) -> Option<redis::Msg> {
    match stream {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

/// Subscribes to `channel`, connecting first if needed.
async fn subscribe(
    redis: &RedisPool,
    sink: &mut Option<PubSubSink>,
    stream: &mut Option<PubSubStream>,
    channel: &str,
) -> Result<(), SubscribeError> {
    let work = async {
        if sink.is_none() {
            let client = redis.client().await?;
            let (s, st) = client.get_async_pubsub().await?.split();
            (*sink, *stream) = (Some(s), Some(st));
        }
        sink.as_mut()
            .expect("connected above")
            .subscribe(channel)
            .await
    };
    match tokio::time::timeout(SUBSCRIBE_TIMEOUT, work).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(SubscribeError::Redis(e)),
        Err(_) => Err(SubscribeError::Timeout),
    }
}
