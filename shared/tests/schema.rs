//! The migrated schema and the seed, checked in a real PostGIS database.

use shared::testing::fresh_db;
use sqlx::PgPool;

async fn count(db: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

#[tokio::test]
async fn seed_is_idempotent_and_only_adds_new_days() {
    let db = fresh_db().await;
    let before = count(&db, "SELECT count(*) FROM travel_routes").await;
    assert_eq!(before, 12 * (shared::seed::DEPARTURE_DAYS_AHEAD as i64 + 1));
    sqlx::query("UPDATE travel_routes SET available_seats = 0 WHERE schedule_id = 'route-douala-buea-morning'")
        .execute(&db)
        .await
        .unwrap();

    let report = shared::seed::run(&db).await.unwrap();
    assert_eq!(report.departures_added, 0);
    assert_eq!(
        (report.cities, report.attractions, report.schedules),
        (3, 16, 12)
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM travel_routes").await,
        before
    );
    assert_eq!(count(&db, "SELECT count(*) FROM attractions").await, 16);
    let untouched = count(
        &db,
        "SELECT count(*) FROM travel_routes WHERE schedule_id = 'route-douala-buea-morning' AND available_seats = 0",
    )
    .await;
    assert_eq!(
        untouched,
        before / 12,
        "re-seeding never resets booked seats"
    );
}

#[tokio::test]
async fn daily_departures_run_at_local_douala_time() {
    let db = fresh_db().await;
    let (local, utc_hour, minutes, arrival_local): (String, f64, i32, String) = sqlx::query_as(
        "SELECT to_char(departure_time AT TIME ZONE 'Africa/Douala', 'HH24:MI'),
                extract(hour FROM departure_time AT TIME ZONE 'UTC')::float8,
                duration_minutes,
                to_char(estimated_arrival AT TIME ZONE 'Africa/Douala', 'HH24:MI')
         FROM travel_routes
         WHERE schedule_id = 'route-yaounde-douala-morning'
           AND (departure_time AT TIME ZONE 'Africa/Douala')::date
               = (now() AT TIME ZONE 'Africa/Douala')::date + 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((local.as_str(), utc_hour, minutes), ("06:00", 5.0, 225));
    assert_eq!(arrival_local, "09:45");
    let future = count(&db, "SELECT count(DISTINCT schedule_id) FROM travel_routes WHERE departure_time > now() + interval '6 days'").await;
    assert_eq!(
        future, 12,
        "every daily route has departures in the coming days"
    );
}

#[tokio::test]
async fn geometries_are_real_postgis_shapes() {
    let db = fresh_db().await;
    let city: String = sqlx::query_scalar(
        "SELECT c.id FROM cities c, attractions a WHERE a.id = 'buea-botanical-garden'
         AND ST_Contains(c.boundary, a.location)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(city, "buea");
    let km: f64 = sqlx::query_scalar(
        "SELECT ST_Length(geometry::geography) / 1000 FROM route_schedules WHERE id = 'route-yaounde-douala-morning'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(
        (180.0..260.0).contains(&km),
        "Yaoundé-Douala corridor is {km} km"
    );
    let gist = count(
        &db,
        "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%USING gist%'",
    )
    .await;
    assert!(gist >= 6, "GIST indexes on every geometry: {gist}");
}

#[tokio::test]
async fn constraints_reject_impossible_rows_and_deletes_cascade() {
    let db = fresh_db().await;
    let bad = [
        "UPDATE travel_routes SET available_seats = -1 WHERE id = (SELECT min(id) FROM travel_routes)",
        "UPDATE travel_routes SET available_seats = total_seats + 1 WHERE id = (SELECT min(id) FROM travel_routes)",
        "UPDATE attractions SET rating = 5.5 WHERE id = 'douala-waterfront'",
        "INSERT INTO users (uid, role) VALUES ('x', 'superuser')",
        "INSERT INTO users (uid) VALUES ('')",
    ];
    for sql in bad {
        assert!(sqlx::query(sql).execute(&db).await.is_err(), "{sql}");
    }
    sqlx::query("INSERT INTO users (uid) VALUES ('leaver')")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO bookings (user_id, route_id, passengers, total_price, payment_method)
         SELECT 'leaver', min(id), 2, 7000, 'momo' FROM travel_routes",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("INSERT INTO device_sessions (user_id, device_id) VALUES ('leaver', 'phone')")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM users WHERE uid = 'leaver'")
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM bookings").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM device_sessions").await, 0);
    let booked_route =
        sqlx::query("DELETE FROM travel_routes WHERE id = (SELECT min(id) FROM travel_routes)")
            .execute(&db)
            .await;
    assert!(booked_route.is_ok(), "a route without bookings can go");
}
