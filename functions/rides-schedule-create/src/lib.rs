//! `POST /api/rides/schedules`: a driver publishes a ride.
//! Publishing the same vehicle at the same instant again updates that ride,
//! never below the seats already booked, and once it has bookings never its
//! route, times or price (409): passengers keep what they booked.

use domain::travel::{NewRide, publish};
use shared::idempotency::{IdempotencyKey, once};
use shared::prelude::*;
use shared::time::Timestamp;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(create_schedule)))
}

/// A ride, in the app's words.
#[derive(Deserialize, Serialize, ToSchema)]
struct RideRequest {
    /// One of the caller's active vehicles.
    #[schema(value_type = String, example = "4f7d2c1e-8a3b-4c5d-9e6f-0a1b2c3d4e5f")]
    vehicle_id: Uuid,
    #[schema(example = "Douala")]
    origin: String,
    #[schema(example = "Buea")]
    destination: String,
    /// In the future.
    departure_time: Timestamp,
    /// 1 to the vehicle's capacity.
    #[schema(minimum = 1)]
    total_seats: i32,
    /// XAF, at least 0.
    #[schema(minimum = 0)]
    price_per_seat: f64,
    /// Up to 500 characters for passengers.
    notes: Option<String>,
}

impl Validate for RideRequest {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .not_empty("origin", self.origin.trim())
            .max_len("origin", Some(&self.origin), 100)
            .not_empty("destination", self.destination.trim())
            .max_len("destination", Some(&self.destination), 100)
            .range("total_seats", self.total_seats, 1, 100)
            .range("price_per_seat", self.price_per_seat, 0.0, 10_000_000.0)
            .max_len("notes", self.notes.as_deref(), 500)
            .finish()
    }
}

/// The ride's schedule and whether it was new.
#[derive(Serialize, Deserialize, ToSchema)]
struct RideScheduled {
    #[schema(example = "ride-2b0c5e0f4f1a4c8e9d7b6a5f4e3d2c1b")]
    schedule_id: String,
    /// `created` or `updated`.
    #[schema(example = "created")]
    status: String,
}

/// Publishes (or updates) a ride on the caller's vehicle; it is then bookable
/// like any departure.
#[utoipa::path(post, path = "/api/rides/schedules", tag = "Vehicles",
    request_body = RideRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry safely: the same key and body answer the first result")),
    responses((status = 200, body = RideScheduled), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("FirebaseAuth" = [])))]
async fn create_schedule(
    State(Db(db)): State<Db>,
    user: AuthUser,
    key: IdempotencyKey,
    Json(req): Json<RideRequest>,
) -> ApiResult<Json<RideScheduled>> {
    let ride = NewRide {
        vehicle_id: req.vehicle_id,
        origin: req.origin.trim().to_owned(),
        destination: req.destination.trim().to_owned(),
        departure_time: req.departure_time.into(),
        estimated_arrival: None,
        seats: req.total_seats,
        price_per_seat: req.price_per_seat,
        amenities: Vec::new(),
        distance_km: None,
        duration_minutes: None,
        notes: req.notes.clone(),
    };
    let answer = once(&db, &user.uid, "rides.publish", &key, &req, async |conn| {
        let published = publish(conn, &user.uid, &ride).await?;
        let status = if published.created {
            "created"
        } else {
            "updated"
        };
        Ok(RideScheduled {
            schedule_id: published.schedule_id,
            status: status.into(),
        })
    })
    .await?;
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};
    use serde_json::{Value, json};
    use shared::testing::{TestApp, assert_seats_add_up, insert_booking, pluck, send};
    use sqlx::Row;
    use uuid::Uuid;

    async fn vehicle(app: &TestApp, owner: &str, capacity: i32, active: bool) -> Uuid {
        shared::testing::insert_vehicle(&app.state.db, owner, capacity, active).await
    }

    /// A departure `days` ahead at 04:10 UTC (05:10 in Douala).
    fn departure(days: i64) -> DateTime<Utc> {
        (Utc::now() + Duration::days(days))
            .date_naive()
            .and_hms_opt(4, 10, 0)
            .unwrap()
            .and_utc()
    }

    fn ride(vehicle: Uuid, days: i64) -> Value {
        json!({
            "vehicle_id": vehicle,
            "origin": "douala",
            "destination": "Buéa",
            "departure_time": departure(days),
            "total_seats": 8,
            "price_per_seat": 2500.5,
            "notes": "Leaves from Mboppi",
        })
    }

    async fn counts(app: &TestApp) -> (i64, i64) {
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM route_schedules), (SELECT count(*) FROM travel_routes)",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_departure_time_without_an_offset_is_utc() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let v = vehicle(&app, "driver", 15, true).await;
        let mut body = ride(v, 2);
        // Python's utcnow().isoformat(), as the original's clients send it.
        body["departure_time"] = json!(
            departure(2)
                .naive_utc()
                .format("%Y-%m-%dT%H:%M:%S%.6f")
                .to_string()
        );
        let (status, answer) = send(
            app.post("/api/rides/schedules", &body)
                .bearer_auth(app.token("driver")),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let stored: DateTime<Utc> =
            sqlx::query_scalar("SELECT departure_time FROM travel_routes WHERE vehicle_id = $1")
                .bind(v)
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert_eq!(stored, departure(2));
        body["departure_time"] = json!("0000-01-01T05:00:00");
        let (status, answer) = send(
            app.post("/api/rides/schedules", &body)
                .bearer_auth(app.token("driver")),
        )
        .await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(
            answer["detail"][0]["loc"],
            json!(["body", "departure_time"])
        );
    }

    #[tokio::test]
    async fn publishes_a_bookable_ride_that_is_listed_and_found() {
        let app = TestApp::spawn(vec![
            super::function(),
            travels_list::function(),
            travels_search::function(),
        ])
        .await;
        let v = vehicle(&app, "driver", 15, true).await;
        let (status, body) = send(
            app.post("/api/rides/schedules", &ride(v, 1))
                .bearer_auth(app.token("driver")),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["schedule_id", "status"]);
        assert_eq!(body["status"], "created");
        let schedule = body["schedule_id"].as_str().unwrap();
        assert!(schedule.starts_with("ride-"));

        let row = sqlx::query(
            "SELECT t.id, t.estimated_arrival, t.available_seats, t.price_per_seat::float8 AS price,
                    s.notes, t.destination_city_id, t.distance_km, t.geometry IS NOT NULL AS has_road
             FROM travel_routes t JOIN route_schedules s ON s.id = t.schedule_id
             WHERE s.id = $1 AND t.vehicle_id = $2 AND t.owner_id = 'driver' AND NOT s.is_daily",
        )
        .bind(schedule)
        .bind(v)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        let route_id: String = row.get("id");
        let arrival: DateTime<Utc> = row.get("estimated_arrival");
        let seats: i32 = row.get("available_seats");
        let price: f64 = row.get("price");
        let notes: Option<String> = row.get("notes");
        let city: Option<String> = row.get("destination_city_id");
        let distance: Option<f64> = row.get("distance_km");
        let geometry: bool = row.get("has_road");
        assert_eq!((seats, price), (8, 2500.5));
        assert_eq!(notes.as_deref(), Some("Leaves from Mboppi"));
        assert_eq!(city.as_deref(), Some("buea"), "accent-folded city lookup");
        assert!(geometry, "road copied from the daily Douala-Buea route");
        assert!(distance.unwrap() > 30.0);
        let usual: i32 = sqlx::query_scalar(
            "SELECT duration_minutes FROM route_schedules
             WHERE is_daily AND origin = 'Douala' AND destination = 'Buea' ORDER BY id LIMIT 1",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(arrival, departure(1) + Duration::minutes(usual.into()));

        let (_, list) = send(app.get("/api/travels?limit=100")).await;
        assert!(pluck(&list, "id").contains(&route_id.as_str()));
        let (_, found) = send(app.post(
            "/api/travels/search",
            &json!({"origin": "Douala", "destination": "buea",
                    "departure_date": departure(1).to_rfc3339(), "passengers": 8}),
        ))
        .await;
        assert!(pluck(&found["results"], "id").contains(&route_id.as_str()));
        assert_seats_add_up(&app.state.db).await;
    }

    async fn ride_row(app: &TestApp, schedule: &Value) -> (i32, i32, f64, String) {
        sqlx::query_as(
            "SELECT total_seats, available_seats, price_per_seat::float8, destination
             FROM travel_routes WHERE schedule_id = $1",
        )
        .bind(schedule.as_str().unwrap())
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn republishing_updates_but_keeps_booked_seats() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let v = vehicle(&app, "driver", 15, true).await;
        let publish = |body: Value| {
            send(
                app.post("/api/rides/schedules", &body)
                    .bearer_auth(app.token("driver")),
            )
        };
        let (_, first) = publish(ride(v, 2)).await;
        let schedule = &first["schedule_id"];
        let mut cheaper = ride(v, 2);
        cheaper["price_per_seat"] = json!(2000);
        let (status, body) = publish(cheaper).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("updated")));
        let before = counts(&app).await;
        // Five seats get booked.
        let route: String =
            sqlx::query_scalar("SELECT id FROM travel_routes WHERE schedule_id = $1")
                .bind(schedule.as_str().unwrap())
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        insert_booking(&app.state.db, "pat", &route, 5).await;
        let mut more = ride(v, 2);
        more["total_seats"] = json!(12);
        more["price_per_seat"] = json!(2000);
        more["notes"] = json!("Now from Bonaberi");
        let (status, again) = publish(more).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["status"], "updated");
        assert_eq!(&again["schedule_id"], schedule);
        assert_eq!(counts(&app).await, before, "no second ride");
        assert_eq!(
            ride_row(&app, schedule).await,
            (12, 7, 2000.0, "Buéa".into())
        );

        let mut fewer = ride(v, 2);
        fewer["total_seats"] = json!(4);
        fewer["price_per_seat"] = json!(2000);
        let (status, body) = publish(fewer).await;
        assert_eq!(status, 400, "4 seats < 5 booked");
        assert!(body["message"].as_str().unwrap().contains("already booked"));
        assert_eq!(
            ride_row(&app, schedule).await,
            (12, 7, 2000.0, "Buéa".into()),
            "unchanged"
        );
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn a_booked_ride_keeps_its_route_and_price() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let v = vehicle(&app, "driver", 15, true).await;
        let publish = |body: Value| {
            send(
                app.post("/api/rides/schedules", &body)
                    .bearer_auth(app.token("driver")),
            )
        };
        let (_, first) = publish(ride(v, 2)).await;
        let schedule = &first["schedule_id"];
        let route: String =
            sqlx::query_scalar("SELECT id FROM travel_routes WHERE schedule_id = $1")
                .bind(schedule.as_str().unwrap())
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        let booking = insert_booking(&app.state.db, "pat", &route, 2).await;
        let booked = ride_row(&app, schedule).await;
        let mut elsewhere = ride(v, 2);
        elsewhere["destination"] = json!("Limbe");
        let mut dearer = ride(v, 2);
        dearer["price_per_seat"] = json!(9000);
        for changed in [elsewhere, dearer] {
            let (status, body) = publish(changed).await;
            assert_eq!(status, 409, "{body}");
            assert_eq!(
                body["message"],
                "This ride already has 2 booked seats: its route, times and price can no \
                 longer change. Publish a new ride instead."
            );
            assert_eq!(ride_row(&app, schedule).await, booked, "nothing rewritten");
        }
        // Once nobody holds a seat, the driver may change it again.
        sqlx::query(
            "WITH b AS (UPDATE bookings SET status = 'cancelled' WHERE id = $1 RETURNING route_id, passengers)
             UPDATE travel_routes t SET available_seats = available_seats + b.passengers FROM b WHERE t.id = b.route_id",
        )
        .bind(booking)
        .execute(&app.state.db)
        .await
        .unwrap();
        let mut dearer = ride(v, 2);
        dearer["price_per_seat"] = json!(9000);
        let (status, body) = publish(dearer).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("updated")));
        assert_eq!(
            ride_row(&app, schedule).await,
            (8, 8, 9000.0, "Buéa".into())
        );
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn each_rule_refuses_and_writes_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let mine = vehicle(&app, "driver", 8, true).await;
        let parked = vehicle(&app, "driver", 8, false).await;
        let theirs = vehicle(&app, "other", 8, true).await;
        let before = counts(&app).await;
        let mut too_many = ride(mine, 3);
        too_many["total_seats"] = json!(9);
        let mut past = ride(mine, 3);
        past["departure_time"] = json!(Utc::now() - Duration::minutes(5));
        for (body, status, message) in [
            (ride(theirs, 3), 403, "You do not own this vehicle"),
            (ride(Uuid::new_v4(), 3), 404, "Vehicle not found"),
            (ride(parked, 3), 400, "Vehicle is not active"),
            (too_many, 400, "Seats exceed the vehicle's capacity of 8"),
            (past, 400, "Departure time must be in the future"),
        ] {
            let (got, answer) = send(
                app.post("/api/rides/schedules", &body)
                    .bearer_auth(app.token("driver")),
            )
            .await;
            assert_eq!(
                (got, answer["message"].as_str().unwrap()),
                (status, message)
            );
        }
        for (field, value) in [
            ("total_seats", json!(0)),
            ("total_seats", json!(101)),
            ("price_per_seat", json!(-5)),
            ("origin", json!(" ")),
            ("notes", json!("n".repeat(501))),
        ] {
            let mut body = ride(mine, 3);
            body[field] = value;
            let (status, answer) = send(
                app.post("/api/rides/schedules", &body)
                    .bearer_auth(app.token("driver")),
            )
            .await;
            assert_eq!(status, 422, "{field}");
            assert_eq!(answer["detail"][0]["loc"], json!(["body", field]));
        }
        assert_eq!(counts(&app).await, before, "nothing written");
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn retries_with_the_same_key_act_once() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let v = vehicle(&app, "driver", 15, true).await;
        let post = |body: &Value, key: &str| {
            send(
                app.post("/api/rides/schedules", body)
                    .bearer_auth(app.token("driver"))
                    .header("Idempotency-Key", key),
            )
        };
        let before = counts(&app).await;
        let body = ride(v, 4);
        let (_, first) = post(&body, "ride-key").await;
        let (status, again) = post(&body, "ride-key").await;
        assert_eq!(status, 200);
        assert_eq!(again, first, "the first answer, not \"updated\"");
        assert_eq!(first["status"], "created");
        assert_eq!(counts(&app).await, (before.0 + 1, before.1 + 1));
        let mut other = body.clone();
        other["total_seats"] = json!(9);
        let (status, answer) = post(&other, "ride-key").await;
        assert_eq!(status, 422);
        assert_eq!(
            answer["detail"][0]["loc"],
            json!(["header", "Idempotency-Key"])
        );
        let (status, _) = post(&body, "bad key").await;
        assert_eq!(status, 422);
        assert_seats_add_up(&app.state.db).await;
    }
}
