//! `GET /api/rides/schedules/mine`: the rides the caller published, latest
//! departure first, a page at a time.

use chrono::{DateTime, Utc};
use domain::travel::Page;
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(my_rides)))
}

/// One published ride, in the app's field names.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
struct MyRide {
    /// The schedule id (`schedule_id` of `POST /api/rides/schedules`).
    #[schema(example = "ride-2b0c5e0f4f1a4c8e9d7b6a5f4e3d2c1b")]
    id: String,
    #[serde(rename = "vehicleId")]
    #[schema(value_type = Option<String>)]
    vehicle_id: Option<Uuid>,
    origin: String,
    destination: String,
    departure_time: DateTime<Utc>,
    total_seats: i32,
    available_seats: i32,
    price_per_seat: f64,
    notes: Option<String>,
    #[serde(rename = "createdAt")]
    created_at: DateTime<Utc>,
}

/// The owner's rides through `travel_routes_owner_idx`.
const MINE: &str = "
    SELECT s.id, t.vehicle_id, t.origin, t.destination, t.departure_time, t.total_seats,
           t.available_seats, t.price_per_seat::float8 AS price_per_seat, s.notes, s.created_at
    FROM travel_routes t JOIN route_schedules s ON s.id = t.schedule_id
    WHERE t.owner_id = $1 AND NOT s.is_daily
    ORDER BY t.departure_time DESC, s.id LIMIT $2 OFFSET $3";

/// The caller's published rides, latest departure first (`limit` default 50, at most 100).
#[utoipa::path(get, path = "/api/rides/schedules/mine", tag = "Vehicles", params(Page),
    responses((status = 200, body = [MyRide]), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("FirebaseAuth" = [])))]
async fn my_rides(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Query(page): Query<Page>,
) -> ApiResult<Json<Vec<MyRide>>> {
    let rides = sqlx::query_as(MINE)
        .bind(&user.uid)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&db)
        .await?;
    Ok(Json(rides))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use domain::travel::{NewRide, publish};
    use serde_json::json;
    use shared::testing::{TestApp, assert_seats_add_up, pluck, send};
    use uuid::Uuid;

    /// Publishes `count` rides for `owner` through the shared publishing code.
    async fn rides(app: &TestApp, owner: &str, count: i64) -> Vec<String> {
        sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(owner)
            .execute(&app.state.db)
            .await
            .unwrap();
        let vehicle: Uuid = sqlx::query_scalar(
            "INSERT INTO vehicles (owner_id, vehicle_type, license_plate, capacity)
             VALUES ($1, 'bus', $2, 30) RETURNING id",
        )
        .bind(owner)
        .bind(format!("OU {owner}"))
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        let mut ids = Vec::new();
        for i in 1..=count {
            let mut conn = app.state.db.acquire().await.unwrap();
            let ride = NewRide {
                vehicle_id: vehicle,
                origin: "Yaounde".into(),
                destination: "Buea".into(),
                departure_time: Utc::now() + Duration::hours(i * 10),
                estimated_arrival: None,
                seats: 20,
                price_per_seat: 7000.0,
                amenities: vec![],
                distance_km: None,
                duration_minutes: None,
                notes: Some(format!("ride {i}")),
            };
            ids.push(publish(&mut conn, owner, &ride).await.unwrap().schedule_id);
        }
        ids
    }

    #[tokio::test]
    async fn lists_the_callers_rides_latest_departure_first() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let mine = rides(&app, "driver-a", 3).await;
        let (status, body) = send(
            app.get("/api/rides/schedules/mine")
                .bearer_auth(app.token("driver-a")),
        )
        .await;
        assert_eq!(status, 200);
        let first = &body[0];
        let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "available_seats",
                "createdAt",
                "departure_time",
                "destination",
                "id",
                "notes",
                "origin",
                "price_per_seat",
                "total_seats",
                "vehicleId"
            ]
        );
        let latest_first: Vec<&str> = mine.iter().rev().map(String::as_str).collect();
        assert_eq!(pluck(&body, "id"), latest_first);
        assert_eq!(first["notes"], "ride 3");
        assert_eq!(
            (&first["total_seats"], &first["available_seats"]),
            (&json!(20), &json!(20))
        );
        assert_eq!(first["price_per_seat"], 7000.0);
        assert!(first["vehicleId"].is_string());

        let (_, page) = send(
            app.get("/api/rides/schedules/mine?limit=1&offset=1")
                .bearer_auth(app.token("driver-a")),
        )
        .await;
        assert_eq!(pluck(&page, "id"), [mine[1].as_str()]);
        let (status, _) = send(
            app.get("/api/rides/schedules/mine?limit=500")
                .bearer_auth(app.token("driver-a")),
        )
        .await;
        assert_eq!(status, 422);
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn another_user_sees_none_of_them() {
        let app = TestApp::spawn(vec![super::function()]).await;
        rides(&app, "driver-a", 2).await;
        let theirs = rides(&app, "driver-b", 1).await;
        let (status, body) = send(
            app.get("/api/rides/schedules/mine")
                .bearer_auth(app.token("driver-b")),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(pluck(&body, "id"), [theirs[0].as_str()]);
        let (_, nobody) = send(
            app.get("/api/rides/schedules/mine")
                .bearer_auth(app.token("passenger")),
        )
        .await;
        assert_eq!(nobody, json!([]), "daily company routes are nobody's rides");
        let (status, _) = send(app.get("/api/rides/schedules/mine")).await;
        assert_eq!(status, 401);
        assert_seats_add_up(&app.state.db).await;
    }
}
