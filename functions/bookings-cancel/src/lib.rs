//! `POST /api/bookings/{booking_id}/cancel`: cancels one of the caller's
//! bookings before departure. The status change, the seats going back and the
//! notification are one transaction, and the change is conditional, so
//! cancelling twice (or two retries racing) returns the seats only once.

use chrono::{DateTime, Utc};
use domain::{MESSAGES, users};
use serde_json::json;
use shared::idempotency::{self, IdempotencyKey};
use shared::notifications::{self, Kind, NewNotification};
use shared::prelude::*;
use sqlx::PgConnection;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(cancel))).messages(&MESSAGES)
}

/// A cancelled booking.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct BookingCancelled {
    #[schema(value_type = String, example = "0f8fad5b-d9cb-469f-a165-70867728950e")]
    pub booking_id: Uuid,
    #[schema(example = "cancelled")]
    pub status: String,
    #[schema(example = "Booking cancelled")]
    pub message: String,
    pub success: bool,
}

/// Cancels the caller's booking; 404 for anyone else's, 400 once it has left.
#[utoipa::path(post, path = "/api/bookings/{booking_id}/cancel", tag = "Travel",
    security(("FirebaseAuth" = [])),
    params(("booking_id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key answer the first result")),
    responses((status = 200, body = BookingCancelled), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    Path(booking_id): Path<String>,
) -> ApiResult<Json<BookingCancelled>> {
    let id = Uuid::try_parse(&booking_id).map_err(|_| booking_not_found())?;
    let mut notified = None;
    let answer = idempotency::once(
        &state.db,
        &user.uid,
        "bookings.cancel",
        &key,
        &id,
        async |conn| release(conn, &state, &user.uid, id, &mut notified).await,
    )
    .await?;
    // After the commit, and only when this call cancelled.
    if let Some(notification) = notified {
        notifications::publish(&state, &user.uid, notification).await;
    }
    Ok(Json(answer))
}

#[derive(sqlx::FromRow)]
struct Released {
    origin: String,
    destination: String,
    departure_time: DateTime<Utc>,
    passengers: i32,
}

/// Locks the departure of booking `$1` of `$2`.
const LOCK_DEPARTURE: &str = "
    SELECT t.id FROM bookings b JOIN travel_routes t ON t.id = b.route_id
    WHERE b.id = $1 AND b.user_id = $2 FOR NO KEY UPDATE OF t";

/// Cancels a live booking of `uid` on a departure that has not left, and gives
/// its seats back; no row when it is unknown, someone else's, already
/// cancelled or departed.
const RELEASE: &str = "
    WITH cancelled AS (
        UPDATE bookings b SET status = 'cancelled', cancelled_at = now(),
            payment_status = CASE WHEN b.payment_status = 'paid' THEN 'refunded' ELSE b.payment_status END
        FROM travel_routes t
        WHERE b.id = $1 AND b.user_id = $2 AND b.status IN ('confirmed', 'pending')
          AND t.id = b.route_id AND t.departure_time > now()
        RETURNING b.route_id, b.passengers
    )
    UPDATE travel_routes t SET available_seats = t.available_seats + c.passengers
    FROM cancelled c WHERE t.id = c.route_id
    RETURNING t.origin, t.destination, t.departure_time, c.passengers";

async fn release(
    conn: &mut PgConnection,
    state: &AppState,
    uid: &str,
    id: Uuid,
    notified: &mut Option<Uuid>,
) -> ApiResult<BookingCancelled> {
    // The user, the departure, then the booking: the order every seat write
    // locks in, so a deletion running beside this waits or is waited for.
    if !users::hold(conn, uid).await? {
        return Err(booking_not_found());
    }
    sqlx::query(LOCK_DEPARTURE)
        .bind(id)
        .bind(uid)
        .execute(&mut *conn)
        .await?;
    let released: Option<Released> = sqlx::query_as(RELEASE)
        .bind(id)
        .bind(uid)
        .fetch_optional(&mut *conn)
        .await?;
    match released {
        Some(r) => {
            *notified = Some(notify(conn, uid, id, &r).await?);
            state
                .metrics
                .bookings
                .with_label_values(&["cancelled"])
                .inc();
        }
        None => why_not(conn, uid, id).await?,
    }
    Ok(BookingCancelled {
        booking_id: id,
        status: "cancelled".into(),
        message: "Booking cancelled".into(),
        success: true,
    })
}

async fn notify(conn: &mut PgConnection, uid: &str, id: Uuid, r: &Released) -> ApiResult<Uuid> {
    notifications::insert(
        conn,
        &NewNotification {
            user_id: uid,
            kind: Kind::BookingConfirmation,
            text: MESSAGES
                .text("booking-cancelled")
                .arg("origin", &r.origin)
                .arg("destination", &r.destination)
                .arg("count", r.passengers)
                .arg("departure", r.departure_time),
            data: json!({"bookingId": id, "status": "cancelled"}),
        },
    )
    .await
    .map_err(Into::into)
}

/// `404 "Booking not found"`: unknown, malformed or someone else's.
fn booking_not_found() -> ApiError {
    not_found(MESSAGES.text("thing-booking"))
}

/// Nothing changed: fine when already cancelled, else say why.
async fn why_not(conn: &mut PgConnection, uid: &str, id: Uuid) -> ApiResult<()> {
    let found: Option<(String, bool)> = sqlx::query_as(
        "SELECT b.status, t.departure_time > now() FROM bookings b
         JOIN travel_routes t ON t.id = b.route_id WHERE b.id = $1 AND b.user_id = $2",
    )
    .bind(id)
    .bind(uid)
    .fetch_optional(conn)
    .await?;
    match found {
        None => Err(booking_not_found()),
        Some((status, _)) if status == "cancelled" => Ok(()),
        Some(_) => Err(bad_request(MESSAGES.text("trip-departed"))),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};
    use serde_json::Value;
    use shared::i18n::Lang;
    use shared::testing::{TestApp, assert_seats_add_up, insert_booking, insert_departure, send};
    use uuid::Uuid;

    /// A booking of `seats` by `uid` on a departure of its own, leaving
    /// tomorrow (or, with `past`, one that left a minute ago).
    async fn booking(app: &TestApp, uid: &str, seats: i32, past: bool) -> (Uuid, String) {
        let departs_in = if past {
            Duration::minutes(-1)
        } else {
            Duration::days(1)
        };
        let route = insert_departure(&app.state.db, departs_in, 10).await;
        (
            insert_booking(&app.state.db, uid, &route, seats).await,
            route,
        )
    }

    /// Free seats on `route`, the booking's status and the notification count.
    async fn state_of(app: &TestApp, id: Uuid, route: &str) -> (i32, String, i64) {
        sqlx::query_as(
            "SELECT (SELECT available_seats FROM travel_routes WHERE id = $2),
                    (SELECT status FROM bookings WHERE id = $1),
                    (SELECT count(*) FROM notifications)",
        )
        .bind(id)
        .bind(route)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    async fn cancel(app: &TestApp, uid: &str, id: &str, key: Option<&str>) -> (u16, Value) {
        let mut request = app
            .client
            .post(app.url(&format!("/api/bookings/{id}/cancel")))
            .bearer_auth(app.token(uid));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        send(request).await
    }

    #[tokio::test]
    async fn cancelling_gives_the_seats_back_once() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (id, route) = booking(&app, "ada", 3, false).await;
        let (seats, _, _) = state_of(&app, id, &route).await;
        let (status, body) = cancel(&app, "ada", &id.to_string(), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            serde_json::json!({"booking_id": id, "status": "cancelled", "message": "Booking cancelled", "success": true})
        );
        assert_eq!(
            state_of(&app, id, &route).await,
            (seats + 3, "cancelled".into(), 1)
        );
        let (category, title, text, key, data): (String, String, String, Option<String>, Value) =
            sqlx::query_as(
                "SELECT category, title, body, message_key, data FROM notifications WHERE user_id = 'ada'",
            )
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(category, "booking_confirmation");
        assert_eq!(key.as_deref(), Some("booking-cancelled"));
        assert_eq!(title, "Booking cancelled: Yaounde → Douala");
        let departs: DateTime<Utc> =
            sqlx::query_scalar("SELECT departure_time FROM travel_routes WHERE id = $1")
                .bind(&route)
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert_eq!(
            text,
            format!(
                "Your 3 seats on Yaounde → Douala, departing {}, are released.",
                shared::i18n::datetime(Lang::En, departs)
            )
        );
        assert_eq!(data["bookingId"], id.to_string());
        let cancelled_at: bool =
            sqlx::query_scalar("SELECT cancelled_at IS NOT NULL FROM bookings WHERE id = $1")
                .bind(id)
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert!(cancelled_at);

        let (status, again) = cancel(&app, "ada", &id.to_string(), None).await;
        assert_eq!((status, again), (200, body));
        assert_eq!(
            state_of(&app, id, &route).await,
            (seats + 3, "cancelled".into(), 1)
        );
        assert!(
            app.text("/metrics")
                .await
                .contains(r#"bookings_total{status="cancelled",function="bookings-cancel"} 1"#)
        );
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn racing_cancellations_give_the_seats_back_once() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (id, route) = booking(&app, "ada", 2, false).await;
        let (seats, _, _) = state_of(&app, id, &route).await;
        let id_text = id.to_string();
        let answers = race(&app, &id_text).await;
        assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
        assert_eq!(
            state_of(&app, id, &route).await,
            (seats + 2, "cancelled".into(), 1)
        );
        assert_seats_add_up(&app.state.db).await;
    }

    async fn race(app: &TestApp, id: &str) -> Vec<u16> {
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let request = app
                    .client
                    .post(app.url(&format!("/api/bookings/{id}/cancel")))
                    .bearer_auth(app.token("ada"));
                tokio::spawn(async move { send(request).await.0 })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn nobody_cancels_anyone_elses_booking() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (id, route) = booking(&app, "ada", 1, false).await;
        let before = state_of(&app, id, &route).await;
        for (uid, target) in [
            ("bob", id.to_string()),
            ("ada", Uuid::new_v4().to_string()),
            ("ada", "not-a-uuid".into()),
        ] {
            let (status, body) = cancel(&app, uid, &target, None).await;
            assert_eq!(
                (status, body["message"].as_str()),
                (404, Some("Booking not found")),
                "{uid} {target}"
            );
        }
        assert_eq!(state_of(&app, id, &route).await, before);
        sqlx::query("INSERT INTO users (uid, language) VALUES ('bob', 'fr') ON CONFLICT (uid) DO UPDATE SET language = 'fr'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (status, body) = cancel(&app, "bob", &id.to_string(), None).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Réservation introuvable")),
            "in the language bob chose"
        );
        let (status, _) = send(
            app.client
                .post(app.url(&format!("/api/bookings/{id}/cancel"))),
        )
        .await;
        assert_eq!(status, 401);
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn a_departed_booking_cannot_be_cancelled() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (id, route) = booking(&app, "ada", 1, true).await;
        let before = state_of(&app, id, &route).await;
        let (status, body) = cancel(&app, "ada", &id.to_string(), None).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            body["message"],
            "This trip has already departed and can no longer be cancelled"
        );

        let (status, body) = send(
            app.client
                .post(app.url(&format!("/api/bookings/{id}/cancel")))
                .bearer_auth(app.token("ada"))
                .header("Accept-Language", "fr"),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            serde_json::json!({
                "detail": "This trip has already departed and can no longer be cancelled",
                "message": "Ce voyage est déjà parti et ne peut plus être annulé"
            })
        );
        assert_eq!(state_of(&app, id, &route).await, before);
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn an_idempotency_key_replays_the_first_answer() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (id, route) = booking(&app, "ada", 2, false).await;
        let (seats, _, _) = state_of(&app, id, &route).await;
        let (s1, first) = cancel(&app, "ada", &id.to_string(), Some("c-1")).await;
        let (s2, second) = cancel(&app, "ada", &id.to_string(), Some("c-1")).await;
        assert_eq!((s1, s2), (200, 200));
        assert_eq!(first, second);
        assert_eq!(
            state_of(&app, id, &route).await,
            (seats + 2, "cancelled".into(), 1)
        );
        let (other, _) = booking(&app, "ada", 1, false).await;
        let (status, _) = cancel(&app, "ada", &other.to_string(), Some("c-1")).await;
        assert_eq!(status, 422, "the same key for another booking");
        let (status, _) = cancel(&app, "ada", &other.to_string(), Some("bad key")).await;
        assert_eq!(status, 422);
        let still: String = sqlx::query_scalar("SELECT status FROM bookings WHERE id = $1")
            .bind(other)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(still, "confirmed");
        assert_seats_add_up(&app.state.db).await;
    }
}
