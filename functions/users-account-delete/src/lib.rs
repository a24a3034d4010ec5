//! `DELETE /api/users/account`: the caller's account goes, in one transaction
//! that never strands anyone else. The caller's live bookings on coming
//! departures give their seats back; the rides they published that have not
//! left are cancelled (kept, ownerless, with no seats), and every other
//! passenger booked on them has the booking cancelled and is told. Then the
//! user row goes, and with it (by cascade) their sessions, bookings,
//! notifications, subscriptions, vehicles, locations, reviews, saved
//! attractions and idempotency keys. Every instance then forgets the user, so
//! their next request starts a fresh account.

use chrono::{DateTime, Utc};
use domain::MESSAGES;
use serde_json::json;
use shared::notifications::{self, Kind, NewNotification};
use shared::prelude::*;
use sqlx::PgConnection;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(delete_account))).messages(&MESSAGES)
}

/// Deletes the caller's account and everything that is only theirs.
#[utoipa::path(delete, path = "/api/users/account", tag = "User",
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = Acknowledged), (status = 401, body = ErrorBody)))]
async fn delete_account(
    State(state): State<AppState>,
    user: AuthUser,
    lang: Lang,
) -> ApiResult<Json<Acknowledged>> {
    let mut tx = state.db.begin().await?;
    let told = delete(&mut tx, &user.uid).await?;
    tx.commit().await?;
    if let Err(e) = shared::sessions::forget_user(&state, &user.uid).await {
        tracing::error!(error = %e, uid = %user.uid, "account deleted, but other instances may still remember it");
    }
    for (passenger, notification) in told {
        notifications::publish(&state, &passenger, notification).await;
    }
    tracing::info!(uid = %user.uid, "account deleted");
    let said = MESSAGES.text("ack-account-deletion-scheduled");
    Ok(Json(Acknowledged::said(said, lang)))
}

/// Locks every departure whose seats the deletion changes (those of `$1`'s
/// live bookings and `$1`'s own rides still to come), in id order: after the
/// user's row and before any booking, the order every seat write takes (see
/// `domain::users::hold`).
const LOCK_DEPARTURES: &str = "
    SELECT t.id FROM travel_routes t
    WHERE t.id IN (SELECT route_id FROM bookings WHERE user_id = $1 AND status IN ('confirmed', 'pending'))
       OR (t.owner_id = $1 AND t.departure_time > now() AND t.cancelled_at IS NULL)
    ORDER BY t.id FOR NO KEY UPDATE OF t";

/// Cancels `$1`'s live bookings on departures still to come and gives back
/// the seats of exactly the rows this statement changed: a booking that a
/// cancellation or another deletion beside it changed first is not among
/// them, so each booking's seats come back once.
const RETURN_SEATS: &str = "
    WITH cancelled AS (
        UPDATE bookings b SET status = 'cancelled', cancelled_at = now(),
            payment_status = CASE WHEN b.payment_status = 'paid' THEN 'refunded' ELSE b.payment_status END
        FROM travel_routes t
        WHERE b.user_id = $1 AND b.status IN ('confirmed', 'pending')
          AND t.id = b.route_id AND t.departure_time > now()
        RETURNING b.route_id, b.passengers
    ), held AS (
        SELECT route_id, sum(passengers)::int AS seats FROM cancelled GROUP BY route_id
    )
    UPDATE travel_routes t SET available_seats = t.available_seats + held.seats
    FROM held WHERE t.id = held.route_id";

/// Cancels `uid`'s published departures still to come, and their schedules.
const CANCEL_RIDES: &str = "
    WITH rides AS (
        UPDATE travel_routes SET cancelled_at = now(), available_seats = 0
        WHERE owner_id = $1 AND departure_time > now() AND cancelled_at IS NULL
        RETURNING id, schedule_id
    ), schedules AS (
        UPDATE route_schedules SET is_active = false, updated_at = now()
        WHERE id IN (SELECT schedule_id FROM rides) AND NOT is_daily
    )
    SELECT id FROM rides";

/// Cancels the other passengers' live bookings on the rides `$1` (ids).
const CANCEL_PASSENGERS: &str = "
    UPDATE bookings b SET status = 'cancelled', cancelled_at = now(),
        payment_status = CASE WHEN b.payment_status = 'paid' THEN 'refunded' ELSE b.payment_status END
    FROM travel_routes t
    WHERE b.route_id = ANY($1) AND b.user_id <> $2 AND b.status IN ('confirmed', 'pending')
      AND t.id = b.route_id
    RETURNING b.id, b.user_id, t.id AS route_id, t.origin, t.destination, t.departure_time";

#[derive(sqlx::FromRow)]
struct Stranded {
    id: Uuid,
    user_id: String,
    route_id: String,
    origin: String,
    destination: String,
    departure_time: DateTime<Utc>,
}

/// Does the deletion on `conn` (the caller's transaction); answers each told
/// passenger with their notification, to publish once it commits.
async fn delete(conn: &mut PgConnection, uid: &str) -> ApiResult<Vec<(String, Uuid)>> {
    // Held until the commit: a booking or cancellation of this user waits,
    // and so does a second deletion, which then finds nothing to do.
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM users WHERE uid = $1 FOR UPDATE")
        .bind(uid)
        .fetch_optional(&mut *conn)
        .await?;
    if found.is_none() {
        return Ok(Vec::new());
    }
    sqlx::query(LOCK_DEPARTURES)
        .bind(uid)
        .execute(&mut *conn)
        .await?;
    sqlx::query(RETURN_SEATS)
        .bind(uid)
        .execute(&mut *conn)
        .await?;
    let rides: Vec<String> = sqlx::query_scalar(CANCEL_RIDES)
        .bind(uid)
        .fetch_all(&mut *conn)
        .await?;
    let stranded: Vec<Stranded> = sqlx::query_as(CANCEL_PASSENGERS)
        .bind(&rides)
        .bind(uid)
        .fetch_all(&mut *conn)
        .await?;
    let mut told = Vec::with_capacity(stranded.len());
    for s in &stranded {
        told.push((s.user_id.clone(), notify(conn, s).await?));
    }
    sqlx::query("DELETE FROM users WHERE uid = $1")
        .bind(uid)
        .execute(&mut *conn)
        .await?;
    Ok(told)
}

async fn notify(conn: &mut PgConnection, s: &Stranded) -> ApiResult<Uuid> {
    let n = NewNotification {
        user_id: &s.user_id,
        kind: Kind::TripUpdate,
        text: MESSAGES
            .text("ride-cancelled")
            .arg("origin", &s.origin)
            .arg("destination", &s.destination)
            .arg("departure", s.departure_time),
        data: json!({"bookingId": s.id, "routeId": s.route_id, "status": "cancelled"}),
    };
    Ok(notifications::insert(conn, &n).await?)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use serde_json::{Value, json};
    use shared::testing::{TestApp, assert_seats_add_up, insert_booking, insert_departure, send};
    use uuid::Uuid;

    async fn delete(app: &TestApp, uid: &str) -> (u16, Value) {
        let request = app
            .client
            .delete(app.url("/api/users/account"))
            .bearer_auth(app.token(uid));
        send(request).await
    }

    async fn exec(app: &TestApp, sql: &str) {
        sqlx::raw_sql(sql).execute(&app.state.db).await.unwrap();
    }

    async fn count(app: &TestApp, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    }

    /// `uid` books `seats` on `route`, taking them from the route.
    async fn book(app: &TestApp, uid: &str, route: &str, seats: i32) -> Uuid {
        insert_booking(&app.state.db, uid, route, seats).await
    }

    /// Driver `dan`: a vehicle, a ride tomorrow (`ride-dan`, 10 seats), one that left yesterday.
    async fn driver(app: &TestApp) {
        exec(
            app,
            "INSERT INTO users (uid, email) VALUES ('dan', 'dan@example.test');
             INSERT INTO vehicles (id, owner_id, vehicle_type, license_plate, capacity)
             VALUES ('00000000-0000-4000-8000-00000000da00', 'dan', 'minibus', 'LT 1 DAN', 12);
             INSERT INTO route_schedules (id, origin, destination, departure_time_of_day,
                 duration_minutes, total_seats, price_per_seat, confidence, vehicle_id, owner_id, is_daily)
             VALUES ('sched-dan', 'Douala', 'Buea', '08:00', 90, 10, 3000, 0.95,
                 '00000000-0000-4000-8000-00000000da00', 'dan', false);
             INSERT INTO travel_routes (id, schedule_id, origin, destination, departure_time,
                 estimated_arrival, total_seats, available_seats, price_per_seat, confidence,
                 vehicle_id, owner_id)
             VALUES ('ride-dan', 'sched-dan', 'Douala', 'Buea', now() + interval '1 day',
                     now() + interval '1 day 90 minutes', 10, 10, 3000, 0.95,
                     '00000000-0000-4000-8000-00000000da00', 'dan'),
                    ('ride-dan-past', 'sched-dan', 'Douala', 'Buea', now() - interval '1 day',
                     now() - interval '1 day' + interval '90 minutes', 10, 10, 3000, 0.95,
                     '00000000-0000-4000-8000-00000000da00', 'dan');",
        )
        .await;
    }

    #[tokio::test]
    async fn a_drivers_deletion_cancels_their_ride_tells_its_passenger_and_returns_their_own_seats()
    {
        let app = TestApp::spawn(vec![super::function(), users_profile_get::function()]).await;
        driver(&app).await;
        let pat = book(&app, "pat", "ride-dan", 2).await;
        let old = book(&app, "pat", "ride-dan-past", 1).await;
        let seated: String = sqlx::query_scalar(
            "SELECT id FROM travel_routes WHERE owner_id IS NULL AND departure_time > now() + interval '1 day'
             ORDER BY departure_time LIMIT 1",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        let free_before: i32 = count_seats(&app, &seated).await;
        book(&app, "dan", &seated, 3).await;
        exec(
            &app,
            "INSERT INTO notifications (user_id, title, body) VALUES ('dan', 't', 'b');
             INSERT INTO notification_subscriptions (user_id, token) VALUES ('dan', 'fcm-dan');
             INSERT INTO device_sessions (user_id, device_id) VALUES ('dan', 'phone');
             INSERT INTO saved_attractions (user_id, attraction_id) VALUES ('dan', 'douala-waterfront');",
        )
        .await;

        let (status, body) = delete(&app, "dan").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            serde_json::json!({"message": "Account deletion scheduled", "success": true})
        );

        let (status, cancelled_at): (String, Option<chrono::DateTime<chrono::Utc>>) =
            sqlx::query_as("SELECT b.status, b.cancelled_at FROM bookings b WHERE b.id = $1")
                .bind(pat)
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert_eq!(status, "cancelled");
        assert!(cancelled_at.is_some());
        let (title, body, category, key): (String, String, String, Option<String>) =
            sqlx::query_as(
                "SELECT title, body, category, message_key FROM notifications WHERE user_id = 'pat'",
            )
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(key.as_deref(), Some("ride-cancelled"));
        assert_eq!(title, "Ride cancelled: Douala → Buea");
        assert!(
            body.starts_with("Your ride from Douala to Buea on ")
                && body.ends_with(" was cancelled by the driver"),
            "{body}"
        );
        assert_eq!(category, "trip_update");
        let shown: String = sqlx::query_scalar(
            "SELECT string_agg(title || body || data::text, ' ') FROM notifications WHERE user_id = 'pat'",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert!(
            !shown.contains("dan@"),
            "no e-mail in what passengers are told: {shown}"
        );
        let past_status: String = sqlx::query_scalar("SELECT status FROM bookings WHERE id = $1")
            .bind(old)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(past_status, "confirmed", "a ride that has left is history");

        let ride: (Option<String>, bool, i32, Option<Uuid>) = sqlx::query_as(
            "SELECT owner_id, cancelled_at IS NOT NULL, available_seats, vehicle_id
             FROM travel_routes WHERE id = 'ride-dan'",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(ride, (None, true, 0, None), "kept, ownerless, cancelled");
        let past: (Option<String>, bool) = sqlx::query_as(
            "SELECT owner_id, cancelled_at IS NOT NULL FROM travel_routes WHERE id = 'ride-dan-past'",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(past, (None, false));
        assert_eq!(
            count_seats(&app, &seated).await,
            free_before,
            "dan's own seats went back"
        );
        for table in [
            "users WHERE uid",
            "bookings WHERE user_id",
            "notifications WHERE user_id",
            "notification_subscriptions WHERE user_id",
            "device_sessions WHERE user_id",
            "vehicles WHERE owner_id",
            "saved_attractions WHERE user_id",
            "route_schedules WHERE owner_id",
        ] {
            let n = count(&app, &format!("SELECT count(*) FROM {table} = 'dan'")).await;
            assert_eq!(n, 0, "{table}");
        }
        assert_eq!(
            count(
                &app,
                "SELECT count(*) FROM route_schedules WHERE id = 'sched-dan' AND NOT is_active"
            )
            .await,
            1
        );
        assert_eq!(
            count(&app, "SELECT count(*) FROM users WHERE uid = 'pat'").await,
            1
        );

        // The platform records a deleted user afresh on their next request.
        let request = app.get("/api/users/profile").bearer_auth(app.token("dan"));
        let (status, profile) = send(request).await;
        assert_eq!(status, 200, "{profile}");
        assert_eq!(profile["email"], "dan@example.test");
        assert_eq!(profile["display_name"], serde_json::json!(null));
        let fresh: (bool, i64) = sqlx::query_as(
            "SELECT last_login IS NOT NULL, (SELECT count(*) FROM device_sessions WHERE user_id = 'dan')
             FROM users WHERE uid = 'dan'",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(
            fresh,
            (true, 1),
            "recorded by the platform, with a new session"
        );
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn parallel_deletions_give_each_booking_its_seats_back_once() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let db = &app.state.db;
        for round in 0..6 {
            let uid = format!("hasty-{round}");
            let route = insert_departure(db, Duration::days(1), 14).await;
            book(&app, &uid, &route, 2).await;
            book(&app, "stays", &route, 6).await;
            let (a, b, c) =
                tokio::join!(delete(&app, &uid), delete(&app, &uid), delete(&app, &uid));
            assert_eq!([a.0, b.0, c.0], [200; 3], "round {round}");
            assert_eq!(
                count_seats(&app, &route).await,
                8,
                "round {round}: 14 - 6 held"
            );
        }
        assert_seats_add_up(db).await;
    }

    #[tokio::test]
    async fn a_cancellation_racing_the_deletion_returns_the_seats_once() {
        let app = TestApp::spawn(vec![super::function(), bookings_cancel::function()]).await;
        let db = &app.state.db;
        for round in 0..8 {
            let uid = format!("torn-{round}");
            let route = insert_departure(db, Duration::days(1), 10).await;
            let booking = book(&app, &uid, &route, 3).await;
            book(&app, &uid, &route, 1).await;
            let cancel = app
                .client
                .post(app.url(&format!("/api/bookings/{booking}/cancel")))
                .bearer_auth(app.token(&uid));
            let ((cancelled, body), (deleted, _)) = tokio::join!(send(cancel), delete(&app, &uid));
            assert!(
                [200, 404].contains(&cancelled),
                "round {round}: {cancelled} {body}"
            );
            assert_eq!(deleted, 200);
            assert_eq!(count_seats(&app, &route).await, 10, "round {round}");
        }
        assert_seats_add_up(db).await;
    }

    #[tokio::test]
    async fn a_booking_racing_the_deletion_is_never_lost_nor_returned_twice() {
        let settings = [("RATE_LIMIT_BOOKING", "1000")];
        let functions = vec![super::function(), travels_book::function()];
        let app = TestApp::spawn_with(functions, &settings).await;
        let db = &app.state.db;
        driver(&app).await;
        for round in 0..8 {
            let uid = format!("eager-{round}");
            let route = insert_departure(db, Duration::days(1), 10).await;
            book(&app, &uid, &route, 2).await;
            let request = json!({"route_id": route, "passengers": 3, "payment_method": "momo"});
            let booking = app
                .post("/api/travels/book", &request)
                .bearer_auth(app.token(&uid))
                .header("Idempotency-Key", format!("race-{round}"));
            let ((booked, body), (deleted, _)) = tokio::join!(send(booking), delete(&app, &uid));
            assert!(
                [200, 409].contains(&booked),
                "round {round}: {booked} {body}"
            );
            assert_eq!(deleted, 200);
            // Either refused, or made before the deletion (and undone by it),
            // or made by the account the platform records afresh after it.
            let free = count_seats(&app, &route).await;
            assert!(free == 10 || free == 7, "round {round}: {free} free");
            assert_seats_add_up(db).await;
        }
        // A passenger booking the ride of a driver who deletes their account.
        let request = json!({"route_id": "ride-dan", "passengers": 2, "payment_method": "momo"});
        let booking = app
            .post("/api/travels/book", &request)
            .bearer_auth(app.token("pat"));
        let ((booked, body), (deleted, _)) = tokio::join!(send(booking), delete(&app, "dan"));
        assert!([200, 400].contains(&booked), "{booked} {body}");
        assert_eq!(deleted, 200);
        let live: i64 = count(
            &app,
            "SELECT count(*) FROM bookings WHERE route_id = 'ride-dan' AND status <> 'cancelled'",
        )
        .await;
        assert_eq!(live, 0, "nobody stays booked on a cancelled ride");
        assert_seats_add_up(db).await;
    }

    async fn count_seats(app: &TestApp, route: &str) -> i32 {
        sqlx::query_scalar("SELECT available_seats FROM travel_routes WHERE id = $1")
            .bind(route)
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn without_a_token_nothing_is_deleted() {
        let app = TestApp::spawn(vec![super::function()]).await;
        driver(&app).await;
        let (status, _) = send(app.client.delete(app.url("/api/users/account"))).await;
        assert_eq!(status, 401);
        assert_eq!(
            count(&app, "SELECT count(*) FROM users WHERE uid = 'dan'").await,
            1
        );
        assert_seats_add_up(&app.state.db).await;
    }
}
