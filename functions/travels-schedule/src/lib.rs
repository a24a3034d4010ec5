//! `POST /api/travels/schedule`: a vehicle owner publishes a ride (contract
//! B) and gets the bookable departure back. Retries with the same
//! `Idempotency-Key` answer the first result.

use axum::http::StatusCode;
use domain::MESSAGES;
use domain::travel::{NewRide, TravelDetail, find_detail, publish};
use shared::idempotency::{IdempotencyKey, once};
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(schedule_travel)))
}

/// A ride to publish.
#[derive(Deserialize, Serialize, ToSchema)]
struct ScheduleRequest {
    /// One of the caller's active vehicles.
    #[schema(value_type = String, example = "4f7d2c1e-8a3b-4c5d-9e6f-0a1b2c3d4e5f")]
    vehicle_id: Uuid,
    #[schema(example = "Yaounde")]
    origin: String,
    #[schema(example = "Douala")]
    destination: String,
    /// In the future.
    departure_time: Timestamp,
    /// After the departure.
    estimated_arrival: Timestamp,
    /// At least 1, at most the vehicle's capacity.
    #[schema(minimum = 1)]
    available_seats: i32,
    /// XAF, at least 0.
    #[schema(minimum = 0)]
    price_per_seat: f64,
    #[serde(default)]
    amenities: Vec<String>,
    /// Default: the length of the corridor's road.
    distance_km: Option<f64>,
    /// Default: from departure to arrival.
    duration_minutes: Option<i32>,
}

impl Validate for ScheduleRequest {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .not_empty("origin", self.origin.trim())
            .max_len("origin", Some(&self.origin), 100)
            .not_empty("destination", self.destination.trim())
            .max_len("destination", Some(&self.destination), 100)
            .range("available_seats", self.available_seats, 1, 100)
            .range("price_per_seat", self.price_per_seat, 0.0, 10_000_000.0)
            .max_items("amenities", self.amenities.len(), 20)
            .check(
                self.amenities
                    .iter()
                    .all(|a| !a.trim().is_empty() && a.chars().count() <= 50),
                "amenities",
                MESSAGES
                    .text("each-between-characters")
                    .arg("min", 1)
                    .arg("max", 50),
            )
            .range("distance_km", self.distance_km.unwrap_or(1.0), 0.0, 5_000.0)
            .range(
                "duration_minutes",
                self.duration_minutes.unwrap_or(1),
                1,
                10_080,
            )
            .finish()
    }
}

/// Publishes a ride on the caller's vehicle: 201 with the departure created
/// (or updated, for the same vehicle and departure instant).
#[utoipa::path(post, path = "/api/travels/schedule", tag = "Travel",
    request_body = ScheduleRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry safely: the same key and body answer the first result")),
    responses((status = 201, body = TravelDetail), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The ride already has booked seats: its route, times and price cannot change", body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("FirebaseAuth" = [])))]
async fn schedule_travel(
    State(Db(db)): State<Db>,
    user: AuthUser,
    key: IdempotencyKey,
    Json(req): Json<ScheduleRequest>,
) -> ApiResult<(StatusCode, Json<TravelDetail>)> {
    let ride = NewRide {
        vehicle_id: req.vehicle_id,
        origin: req.origin.trim().to_owned(),
        destination: req.destination.trim().to_owned(),
        departure_time: req.departure_time.0,
        estimated_arrival: Some(req.estimated_arrival.0),
        seats: req.available_seats,
        price_per_seat: req.price_per_seat,
        amenities: req.amenities.clone(),
        distance_km: req.distance_km,
        duration_minutes: req.duration_minutes,
        notes: None,
    };
    let detail = once(
        &db,
        &user.uid,
        "travels.schedule",
        &key,
        &req,
        async |conn| {
            let published = publish(conn, &user.uid, &ride).await?;
            find_detail(conn, &published.route_id)
                .await?
                .ok_or_else(|| ApiError::internal("published ride vanished"))
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};
    use uuid::Uuid;

    async fn vehicle(app: &TestApp, owner: &str, capacity: i32, active: bool) -> Uuid {
        shared::testing::insert_vehicle(&app.state.db, owner, capacity, active).await
    }

    fn ride(vehicle: Uuid, hours_ahead: i64) -> Value {
        let departure = (Utc::now() + Duration::hours(hours_ahead)).date_naive();
        let departure = departure.and_hms_opt(5, 15, 0).unwrap().and_utc();
        json!({
            "vehicle_id": vehicle,
            "origin": "Yaoundé",
            "destination": "douala",
            "departure_time": departure,
            "estimated_arrival": departure + Duration::minutes(200),
            "available_seats": 12,
            "price_per_seat": 4500,
            "amenities": ["AC"],
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
    async fn publishes_a_ride_as_a_travel_detail() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let v = vehicle(&app, "driver", 18, true).await;
        let body = ride(v, 72);
        let (status, detail) = send(
            app.post("/api/travels/schedule", &body)
                .bearer_auth(app.token("driver")),
        )
        .await;
        assert_eq!(status, 201, "{detail}");
        let keys: Vec<&String> = detail.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "amenities",
                "available_seats",
                "confidence",
                "departure_time",
                "destination",
                "distance_km",
                "duration_minutes",
                "estimated_arrival",
                "id",
                "origin",
                "price_per_seat",
                "route_geometry"
            ]
        );
        assert!(detail["id"].as_str().unwrap().starts_with("ride-"));
        assert_eq!(detail["origin"], "Yaoundé");
        assert_eq!(detail["available_seats"], 12);
        assert_eq!(detail["price_per_seat"], 4500.0);
        assert_eq!(detail["confidence"], 0.95);
        assert_eq!(detail["duration_minutes"], 200);
        assert_eq!(detail["amenities"], json!(["AC"]));
        let departure: chrono::DateTime<Utc> =
            detail["departure_time"].as_str().unwrap().parse().unwrap();
        assert_eq!(json!(departure), body["departure_time"]);
        // The road comes from the corridor's daily route; the distance is its length.
        let road: Value = serde_json::from_str(detail["route_geometry"].as_str().unwrap()).unwrap();
        assert_eq!(road["type"], "LineString");
        let km = detail["distance_km"].as_f64().unwrap();
        assert!((200.0..300.0).contains(&km), "{km}");

        let (owner, vehicle_id, schedule_owner, is_daily, origin_city, notes_confidence): (
            String,
            Uuid,
            String,
            bool,
            Option<String>,
            f64,
        ) = sqlx::query_as(
            "SELECT t.owner_id, t.vehicle_id, s.owner_id, s.is_daily, t.origin_city_id, s.confidence
             FROM travel_routes t JOIN route_schedules s ON s.id = t.schedule_id WHERE t.id = $1",
        )
        .bind(detail["id"].as_str().unwrap())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!((owner.as_str(), vehicle_id), ("driver", v));
        assert_eq!(schedule_owner, "driver");
        assert!(!is_daily);
        assert_eq!(origin_city.as_deref(), Some("yaounde"));
        assert_eq!(notes_confidence, 0.95);
    }

    #[tokio::test]
    async fn each_rule_refuses_and_writes_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let mine = vehicle(&app, "driver", 12, true).await;
        let parked = vehicle(&app, "driver", 12, false).await;
        let theirs = vehicle(&app, "someone-else", 12, true).await;
        let before = counts(&app).await;
        let past = {
            let mut b = ride(mine, 48);
            let t = Utc::now() - Duration::hours(1);
            b["departure_time"] = json!(t);
            b["estimated_arrival"] = json!(t + Duration::hours(3));
            b
        };
        let backwards = {
            let mut b = ride(mine, 48);
            b["estimated_arrival"] = b["departure_time"].clone();
            b
        };
        let too_many = {
            let mut b = ride(mine, 48);
            b["available_seats"] = json!(13);
            b
        };
        for (body, status, message) in [
            (ride(theirs, 48), 403, "You do not own this vehicle"),
            (ride(Uuid::new_v4(), 48), 404, "Vehicle not found"),
            (ride(parked, 48), 400, "Vehicle is not active"),
            (too_many, 400, "Seats exceed the vehicle's capacity of 12"),
            (past, 400, "Departure time must be in the future"),
            (backwards, 400, "Estimated arrival must be after departure"),
        ] {
            let (got, answer) = send(
                app.post("/api/travels/schedule", &body)
                    .bearer_auth(app.token("driver")),
            )
            .await;
            assert_eq!(
                (got, answer["message"].as_str().unwrap()),
                (status, message)
            );
        }
        assert_eq!(counts(&app).await, before, "nothing written");
    }

    #[tokio::test]
    async fn bad_input_is_422_and_a_token_is_required() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let v = vehicle(&app, "driver", 12, true).await;
        let before = counts(&app).await;
        for (field, value) in [
            ("available_seats", json!(0)),
            ("price_per_seat", json!(-1)),
            ("origin", json!("")),
            ("destination", json!("x".repeat(101))),
            ("vehicle_id", json!("not-a-uuid")),
            ("departure_time", json!("tomorrow")),
            ("departure_time", json!("0000-01-01T06:00:00")),
            ("estimated_arrival", json!("0000-01-01T09:00:00Z")),
            ("amenities", json!([""])),
        ] {
            let mut body = ride(v, 48);
            body[field] = value;
            let (status, answer) = send(
                app.post("/api/travels/schedule", &body)
                    .bearer_auth(app.token("driver")),
            )
            .await;
            assert_eq!(status, 422, "{field}");
            assert_eq!(answer["detail"][0]["loc"][1], field);
        }
        let (status, _) = send(
            app.post_raw(
                "/api/travels/schedule",
                r#"{"origin": "a\u0000", "destination": "b"}"#,
            )
            .bearer_auth(app.token("driver")),
        )
        .await;
        assert_eq!(status, 422);
        let (status, _) = send(app.post("/api/travels/schedule", &ride(v, 48))).await;
        assert_eq!(status, 401);
        assert_eq!(counts(&app).await, before, "nothing written");
    }

    #[tokio::test]
    async fn retries_with_the_same_key_publish_once() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let v = vehicle(&app, "driver", 18, true).await;
        let body = ride(v, 96);
        let post = |body: &Value, key: &str| {
            app.post("/api/travels/schedule", body)
                .bearer_auth(app.token("driver"))
                .header("Idempotency-Key", key)
        };
        let before = counts(&app).await;
        let (s1, first) = send(post(&body, "k-1")).await;
        let (s2, again) = send(post(&body, "k-1")).await;
        assert_eq!((s1, s2), (201, 201));
        assert_eq!(first, again);
        assert_eq!(counts(&app).await, (before.0 + 1, before.1 + 1));
        let mut other = body.clone();
        other["price_per_seat"] = json!(9999);
        let (status, _) = send(post(&other, "k-1")).await;
        assert_eq!(status, 422);
        // Publishing the same vehicle and instant without a key updates that ride.
        let (status, updated) = send(
            app.post("/api/travels/schedule", &other)
                .bearer_auth(app.token("driver")),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(updated["id"], first["id"]);
        assert_eq!(updated["price_per_seat"], 9999.0);
        assert_eq!(counts(&app).await, (before.0 + 1, before.1 + 1));
    }
}
