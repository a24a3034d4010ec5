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
use serde_json::json;
use shared::domain::bookings::local_time;
use shared::domain::notifications::{self, Kind, NewNotification};
use shared::prelude::*;
use sqlx::PgConnection;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(delete_account)))
}

/// Deletes the caller's account and everything that is only theirs.
#[utoipa::path(delete, path = "/api/users/account", tag = "User",
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = Acknowledged), (status = 401, body = ErrorBody)))]
async fn delete_account(
    State(state): State<AppState>,
    user: AuthUser,
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
    Ok(Json(Acknowledged::new("Account deletion scheduled")))
}

/// Gives back the seats of `uid`'s live bookings on departures still to come.
const RETURN_SEATS: &str = "
    WITH held AS (
        SELECT b.route_id, sum(b.passengers)::int AS seats
        FROM bookings b JOIN travel_routes t ON t.id = b.route_id
        WHERE b.user_id = $1 AND b.status IN ('confirmed', 'pending') AND t.departure_time > now()
        GROUP BY b.route_id
    )
    UPDATE travel_routes t SET available_seats = LEAST(t.total_seats, t.available_seats + held.seats)
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
        title: format!("Ride cancelled: {} → {}", s.origin, s.destination),
        body: format!(
            "Your ride from {} to {} on {} was cancelled by the driver",
            s.origin,
            s.destination,
            local_time(s.departure_time)
        ),
        data: json!({"bookingId": s.id, "routeId": s.route_id, "status": "cancelled"}),
    };
    Ok(notifications::insert(conn, &n).await?)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use shared::testing::{TestApp, assert_serves_its_manifest, send};
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
        sqlx::query_scalar(
            "WITH u AS (INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING),
                  t AS (UPDATE travel_routes SET available_seats = available_seats - $3
                        WHERE id = $2 RETURNING id, price_per_seat)
             INSERT INTO bookings (user_id, route_id, passengers, total_price, payment_method, payment_status)
             SELECT $1, id, $3, price_per_seat * $3, 'card', 'paid' FROM t RETURNING id",
        )
        .bind(uid)
        .bind(route)
        .bind(seats)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
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
        let (title, body, category): (String, String, String) =
            sqlx::query_as("SELECT title, body, category FROM notifications WHERE user_id = 'pat'")
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert_eq!(title, "Ride cancelled: Douala → Buea");
        assert!(
            body.starts_with("Your ride from Douala to Buea on ")
                && body.ends_with(" was cancelled by the driver"),
            "{body}"
        );
        assert_eq!(category, "trip_update");
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
    }

    #[tokio::test]
    async fn serves_its_manifest() {
        assert_serves_its_manifest(super::function()).await;
    }
}
