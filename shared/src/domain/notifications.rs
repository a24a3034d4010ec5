//! Notification rows. Any function writes them in the same transaction as the
//! change they report, so a booking and its confirmation exist together or not
//! at all; delivery (WebSocket, push) reads them afterwards.

use serde_json::Value;
use sqlx::PgConnection;

/// The app's notification types (contract E), stored as the row's `category`.
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
}

/// A notification to write for one user.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    pub user_id: &'a str,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    /// Extra fields the app may act on (`bookingId`, `actionUrl`, ...).
    pub data: Value,
}

/// Writes `n` on `conn` (normally inside the caller's transaction); returns its id.
pub async fn insert(
    conn: &mut PgConnection,
    n: &NewNotification<'_>,
) -> Result<uuid::Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO notifications (user_id, title, body, category, data)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(n.user_id)
    .bind(&n.title)
    .bind(&n.body)
    .bind(n.kind.as_str())
    .bind(&n.data)
    .fetch_one(conn)
    .await
}
