//! Notification rows and their delivery. Any function writes a row in the same
//! transaction as the change it reports ([`insert`]), so a booking and its
//! confirmation exist together or not at all. Once that transaction commits,
//! the writer calls [`publish`]: the row goes out on the user's Redis channel,
//! which every instance serving that user's WebSockets listens to, and as a
//! push to the user's subscribed devices ([`crate::push`]).
//!
//! A row keeps what it says as a message and its arguments ([`Text`]), and
//! is rendered in the reader's language each time it is read: listed (the
//! negotiated language), pushed (the recipient's stored language) or sent
//! over a WebSocket (the socket's language). The English rendering is kept
//! in `title` and `body` as well.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::i18n::{self, Lang, Stored, Text};
use crate::push;
use crate::state::AppState;

/// The app's notification types (see `functions/docs/openapi.json`), stored as the row's `category`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    TripUpdate,
    BookingConfirmation,
    Payment,
    Promotion,
    System,
}

impl Kind {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TripUpdate => "trip_update",
            Kind::BookingConfirmation => "booking_confirmation",
            Kind::Payment => "payment",
            Kind::Promotion => "promotion",
            Kind::System => "system",
        }
    }

    /// The kind a stored category names; `None` for any other category
    /// (rows written before the app's types existed say `general`).
    pub fn from_category(category: &str) -> Option<Self> {
        [
            Kind::TripUpdate,
            Kind::BookingConfirmation,
            Kind::Payment,
            Kind::Promotion,
            Kind::System,
        ]
        .into_iter()
        .find(|k| k.as_str() == category)
    }
}

/// A notification to write for one user.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    pub user_id: &'a str,
    pub kind: Kind,
    /// The title; its `.body` attribute is the body.
    pub text: Text,
    /// Extra fields the app may act on (`bookingId`, `actionUrl`, ...).
    pub data: Value,
}

/// Writes `n` on `conn` (normally inside the caller's transaction); returns its id.
pub async fn insert(
    conn: &mut PgConnection,
    n: &NewNotification<'_>,
) -> Result<uuid::Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO notifications (user_id, title, body, category, data, message_key, message_params)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(n.user_id)
    .bind(n.text.render(Lang::En))
    .bind(n.text.attribute(Lang::En, "body").unwrap_or_default())
    .bind(n.kind.as_str())
    .bind(&n.data)
    .bind(n.text.id())
    .bind(n.text.to_stored().params)
    .fetch_one(conn)
    .await
}

/// A stored notification as the list, the WebSocket and the push carry it:
/// the original backend's fields beside the app's.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Notification {
    #[schema(value_type = String, example = "0f8fad5b-d9cb-469f-a165-70867728950e")]
    pub id: Uuid,
    #[schema(example = "Booking confirmed: Yaounde → Douala")]
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub read: bool,
    /// As stored; usually one of the app's types.
    #[schema(example = "booking_confirmation")]
    pub category: String,
    #[serde(rename = "userId")]
    pub user_id: String,
    /// `trip_update` | `booking_confirmation` | `payment` | `promotion` |
    /// `system` (the category, or `system` for any other).
    #[serde(rename = "type")]
    #[schema(example = "booking_confirmation")]
    pub kind: &'static str,
    /// The body.
    pub message: String,
    /// `created_at`.
    pub timestamp: DateTime<Utc>,
    /// `read`.
    #[serde(rename = "isRead")]
    pub is_read: bool,
    /// Where the app goes when the notification is tapped (`data.actionUrl`).
    #[serde(rename = "actionUrl", skip_serializing_if = "Option::is_none")]
    pub action_url: Option<String>,
    /// The extra fields written with the row; absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

impl push::Pushable for Notification {
    fn id(&self) -> Uuid {
        self.id
    }
    fn user_id(&self) -> &str {
        &self.user_id
    }
    fn title(&self) -> &str {
        &self.title
    }
    fn body(&self) -> &str {
        &self.body
    }
    fn kind(&self) -> &str {
        self.kind
    }
    fn category(&self) -> &str {
        &self.category
    }
    fn data(&self) -> Option<&Value> {
        self.data.as_ref()
    }
}

/// The columns of a notification row; also what [`publish`] sends to the
/// WebSockets, which render it in each socket's language.
#[derive(Debug, Clone, FromRow, Serialize, serde::Deserialize)]
pub struct NotificationRow {
    pub id: Uuid,
    pub user_id: String,
    pub title: String,
    pub body: String,
    pub category: String,
    pub data: Value,
    pub read: bool,
    pub created_at: DateTime<Utc>,
    pub message_key: Option<String>,
    pub message_params: Value,
}

/// `SELECT` of every [`NotificationRow`] column; add `WHERE`/`ORDER BY`.
pub const SELECT_NOTIFICATIONS: &str = "SELECT id, user_id, title, body, category, data, read, \
     created_at, message_key, message_params FROM notifications";

impl NotificationRow {
    /// The row as its reader sees it in `lang`: its message rendered there
    /// (when this binary has registered the message's catalog), else the
    /// stored English.
    pub fn render(mut self, lang: Lang) -> Notification {
        let text = self.message_key.take().and_then(|key| {
            Stored {
                key,
                params: self.message_params.take(),
            }
            .text()
        });
        if let Some(text) = text {
            self.body = text.attribute(lang, "body").unwrap_or_default();
            self.title = text.render(lang);
        }
        self.into()
    }
}

impl From<NotificationRow> for Notification {
    fn from(r: NotificationRow) -> Self {
        let action_url = r.data["actionUrl"].as_str().map(str::to_owned);
        let data = r
            .data
            .as_object()
            .is_some_and(|o| !o.is_empty())
            .then_some(r.data);
        Notification {
            kind: Kind::from_category(&r.category)
                .unwrap_or(Kind::System)
                .as_str(),
            message: r.body.clone(),
            timestamp: r.created_at,
            is_read: r.read,
            id: r.id,
            title: r.title,
            body: r.body,
            created_at: r.created_at,
            read: r.read,
            category: r.category,
            user_id: r.user_id,
            action_url,
            data,
        }
    }
}

/// `user_id`'s notification `id`; `None` when unknown or someone else's.
pub async fn find(
    db: &PgPool,
    user_id: &str,
    id: Uuid,
) -> Result<Option<NotificationRow>, sqlx::Error> {
    let sql = format!("{SELECT_NOTIFICATIONS} WHERE id = $1 AND user_id = $2");
    sqlx::query_as(&sql)
        .bind(id)
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// A notification [`publish`] sent, as the list item in `lang`; `None`
/// for anything else on the channel.
pub fn render_published(payload: &str, lang: Lang) -> Option<String> {
    let row: NotificationRow = serde_json::from_str(payload).ok()?;
    serde_json::to_string(&row.render(lang)).ok()
}

/// The Redis pub/sub channel of `user_id`'s notifications.
pub fn channel(state: &AppState, user_id: &str) -> String {
    state.redis_key(&["notifications", user_id])
}

/// Delivers the committed notification `notification_id` of `user_id`: the
/// row on the user's channel, which reaches their open WebSockets on any
/// instance (each renders it in its reader's language), and a push in the
/// user's stored language to their devices, started in the background. Call it after the transaction that wrote the row commits.
/// Failures are logged, never returned: the change itself has succeeded.
pub async fn publish(state: &AppState, user_id: &str, notification_id: Uuid) {
    let row = match find(&state.db, user_id, notification_id).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            tracing::warn!(%notification_id, "not published: no such notification for this user");
            return;
        }
        Err(e) => {
            tracing::warn!(%notification_id, error = %e, "not published: could not read the notification");
            return;
        }
    };
    if let Err(e) = broadcast(state, &row).await {
        tracing::warn!(%notification_id, error = %e, "could not publish the notification to WebSockets");
    }
    if state.config.fcm.is_some() {
        let state = state.clone();
        tokio::spawn(async move {
            let lang = i18n::stored_language(&state, &row.user_id).await;
            push::deliver(&state, &row.render(lang)).await;
        });
    }
}

/// PUBLISHes `n` on its user's channel (within the Redis deadline, through
/// the breaker); how many subscribers received it.
async fn broadcast(state: &AppState, n: &NotificationRow) -> Result<usize, BroadcastError> {
    let payload = serde_json::to_string(n)?;
    let channel = channel(state, &n.user_id);
    let received = state
        .with_redis("PUBLISH", async |c| {
            redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(payload)
                .query_async::<usize>(c)
                .await
        })
        .await?;
    Ok(received)
}

/// Why a notification did not reach the WebSockets.
#[derive(Debug, thiserror::Error)]
enum BroadcastError {
    #[error("could not serialize it: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Redis(#[from] crate::cache::CacheError),
}
