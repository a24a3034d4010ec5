//! `POST /api/users/locations/track`: records where the caller is, from which
//! device session and client IP, in which city (the one whose boundary holds
//! the point) and, while travelling, on which departure: one under way now
//! (left, not more than an hour past its arrival, not cancelled) whose line
//! passes within 2 km, preferring one the caller has booked, nearest first.
//! These pings are what the travel estimates learn from.

use axum::Extension;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use domain::{MESSAGES, geo};
use shared::middleware::ClientIp;
use shared::prelude::*;
use shared::sessions::Device;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(track_location)))
}

/// The largest accuracy radius accepted, in metres.
const MAX_ACCURACY: f64 = 100_000.0;

/// What the caller is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum LocationActivity {
    /// Also accepted as `travelling`.
    #[serde(alias = "travelling")]
    Traveling,
    Browsing,
    Idle,
}

impl LocationActivity {
    fn as_str(self) -> &'static str {
        match self {
            LocationActivity::Traveling => "traveling",
            LocationActivity::Browsing => "browsing",
            LocationActivity::Idle => "idle",
        }
    }
}

/// A location ping, in the original's field names or the app's.
#[derive(Debug, Deserialize, ToSchema)]
struct LocationPing {
    /// -90 to 90.
    #[schema(minimum = -90, maximum = 90)]
    #[schema(example = 4.0511)]
    latitude: f64,
    /// -180 to 180.
    #[schema(minimum = -180, maximum = 180)]
    #[schema(example = 9.7679)]
    longitude: f64,
    /// Metres, 0 to 100000.
    #[schema(minimum = 0, maximum = 100000)]
    accuracy_meters: Option<f64>,
    /// As `accuracy_meters`.
    accuracy: Option<f64>,
    /// `traveling` | `browsing` | `idle`.
    activity_type: Option<LocationActivity>,
    /// As `activity_type`.
    #[serde(rename = "activityType")]
    activity_type_app: Option<LocationActivity>,
}

impl LocationPing {
    fn accuracy(&self) -> Option<f64> {
        self.accuracy_meters.or(self.accuracy)
    }

    fn activity(&self) -> Option<LocationActivity> {
        self.activity_type.or(self.activity_type_app)
    }
}

fn agree<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
    a.is_none() || b.is_none() || a == b
}

impl Validate for LocationPing {
    fn validate(&self) -> Vec<FieldError> {
        let mut v = Validator::body()
            .range("latitude", self.latitude, -90.0, 90.0)
            .range("longitude", self.longitude, -180.0, 180.0)
            .check(
                agree(self.accuracy_meters, self.accuracy),
                "accuracy",
                MESSAGES
                    .text("differs-from")
                    .arg("other", "accuracy_meters"),
            )
            .check(
                agree(self.activity_type, self.activity_type_app),
                "activityType",
                MESSAGES.text("differs-from").arg("other", "activity_type"),
            );
        for (field, value) in [
            ("accuracy_meters", self.accuracy_meters),
            ("accuracy", self.accuracy),
        ] {
            if let Some(a) = value {
                v = v.range(field, a, 0.0, MAX_ACCURACY);
            }
        }
        v.finish()
    }
}

/// The city a recorded point lies in.
#[derive(Debug, Serialize, ToSchema)]
struct LocationCity {
    #[schema(example = "douala")]
    id: String,
    #[schema(example = "Douala")]
    name: String,
}

/// The recorded location.
#[derive(Debug, Serialize, ToSchema)]
struct TrackedLocation {
    #[schema(value_type = String)]
    location_id: Uuid,
    /// The client IP the platform resolved (`shared::client_ip`: the peer, or `X-Forwarded-For` behind
    /// trusted proxies), not the device's own report.
    #[schema(example = "203.0.113.5")]
    device_ip: Option<String>,
    recorded_at: DateTime<Utc>,
    success: bool,
    #[schema(example = "Location recorded")]
    message: &'static str,
    /// The city whose boundary holds the point; `null` outside every city.
    city: Option<LocationCity>,
}

#[derive(sqlx::FromRow)]
struct Inserted {
    id: Uuid,
    device_ip: Option<String>,
    recorded_at: DateTime<Utc>,
    city_id: Option<String>,
    city_name: Option<String>,
    route_id: Option<String>,
}

/// $1 user, $2 point (EWKB), $3 device id, $4 accuracy, $5 activity, $6 IP.
const INSERT: &str = "
    WITH here AS (SELECT ST_SetSRID($2::geometry, 4326) AS p),
    route AS (
        SELECT t.id FROM travel_routes t, here
        WHERE $5 = 'traveling' AND t.cancelled_at IS NULL AND t.geometry IS NOT NULL
          AND t.departure_time <= now() AND now() <= t.estimated_arrival + interval '1 hour'
          AND ST_DWithin(t.geometry::geography, here.p::geography, 2000)
        ORDER BY EXISTS (SELECT 1 FROM bookings b WHERE b.route_id = t.id AND b.user_id = $1
                         AND b.status = 'confirmed') DESC,
                 ST_Distance(t.geometry::geography, here.p::geography), t.departure_time DESC, t.id
        LIMIT 1
    ),
    inserted AS (
        INSERT INTO user_locations (user_id, session_id, location, accuracy_meters, activity_type,
            device_ip, city_id, route_id)
        SELECT $1,
            (SELECT id FROM device_sessions WHERE user_id = $1 AND device_id = $3),
            here.p, $4, $5, $6::inet,
            (SELECT c.id FROM cities c WHERE ST_Contains(c.boundary, here.p)
             ORDER BY ST_Distance(c.center, here.p), c.id LIMIT 1),
            (SELECT id FROM route)
        FROM here
        RETURNING id, host(device_ip) AS device_ip, recorded_at, city_id, route_id
    )
    SELECT i.id, i.device_ip, i.recorded_at, i.city_id, c.name AS city_name, i.route_id
    FROM inserted i LEFT JOIN cities c ON c.id = i.city_id";

/// Records the caller's location.
#[utoipa::path(post, path = "/api/users/locations/track", tag = "User",
    security(("FirebaseAuth" = [])), request_body = LocationPing,
    responses((status = 200, body = TrackedLocation), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn track_location(
    State(state): State<AppState>,
    user: AuthUser,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    Json(ping): Json<LocationPing>,
) -> ApiResult<Json<TrackedLocation>> {
    let device = Device::from_headers(&headers, &ip);
    let address: Option<std::net::IpAddr> = ip.parse().ok();
    let row: Inserted = sqlx::query_as(INSERT)
        .bind(&user.uid)
        .bind(geo::point(ping.latitude, ping.longitude))
        .bind(&device.id)
        .bind(ping.accuracy())
        .bind(ping.activity().map(LocationActivity::as_str))
        .bind(address.map(|a| a.to_string()))
        .fetch_one(&state.db)
        .await?;
    // A ping on a departure under way may move that road's traffic estimate.
    if let Some(route_id) = &row.route_id {
        ai::traffic::ping_recorded(&state, route_id).await;
    }
    let city = row
        .city_id
        .zip(row.city_name)
        .map(|(id, name)| LocationCity { id, name });
    Ok(Json(TrackedLocation {
        location_id: row.id,
        device_ip: row.device_ip,
        recorded_at: row.recorded_at,
        success: true,
        message: "Location recorded",
        city,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    async fn track(app: &TestApp, body: &Value) -> (u16, Value) {
        let request = app
            .post("/api/users/locations/track", body)
            .bearer_auth(app.token("ada"))
            .header("x-device-id", "phone-1")
            .header("x-device-ip", "10.1.2.3")
            .header("x-forwarded-for", "203.0.113.5");
        send(request).await
    }

    #[derive(Debug, PartialEq, sqlx::FromRow)]
    struct Stored {
        lat: f64,
        lon: f64,
        accuracy_meters: Option<f64>,
        activity_type: Option<String>,
        device_ip: Option<String>,
        city_id: Option<String>,
        route_id: Option<String>,
        has_session: bool,
    }

    async fn stored(app: &TestApp, id: &str) -> Stored {
        sqlx::query_as(
            "SELECT ST_Y(l.location) AS lat, ST_X(l.location) AS lon, l.accuracy_meters,
                    l.activity_type, host(l.device_ip) AS device_ip, l.city_id, l.route_id,
                    s.device_id IS NOT DISTINCT FROM 'phone-1' AND s.user_id = 'ada' AS has_session
             FROM user_locations l LEFT JOIN device_sessions s ON s.id = l.session_id
             WHERE l.id = $1::uuid",
        )
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_point_in_central_douala_is_recorded_in_douala() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let body = json!({"latitude": 4.0511, "longitude": 9.7679, "accuracy_meters": 12.5,
                          "activity_type": "browsing"});
        let (status, answer) = track(&app, &body).await;
        assert_eq!(status, 200, "{answer}");
        let mut keys: Vec<&str> = answer
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "city",
                "device_ip",
                "location_id",
                "message",
                "recorded_at",
                "success"
            ]
        );
        assert_eq!(
            answer["device_ip"], "203.0.113.5",
            "the resolved client IP, not X-Device-IP"
        );
        assert_eq!(answer["success"], true);
        assert_eq!(answer["message"], "Location recorded");
        assert_eq!(answer["city"], json!({"id": "douala", "name": "Douala"}));
        assert!(answer["recorded_at"].is_string());
        let row = stored(&app, answer["location_id"].as_str().unwrap()).await;
        assert_eq!(
            row,
            Stored {
                lat: 4.0511,
                lon: 9.7679,
                accuracy_meters: Some(12.5),
                activity_type: Some("browsing".into()),
                device_ip: Some("203.0.113.5".into()),
                city_id: Some("douala".into()),
                route_id: None,
                has_session: true,
            }
        );
    }

    #[tokio::test]
    async fn a_point_at_sea_has_no_city_and_the_apps_field_names_work() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let body = json!({"latitude": 2.0, "longitude": 7.0, "accuracy": 30,
                          "activityType": "idle"});
        let (status, answer) = track(&app, &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["city"], json!(null));
        let row = stored(&app, answer["location_id"].as_str().unwrap()).await;
        assert_eq!(row.city_id, None);
        assert_eq!(row.accuracy_meters, Some(30.0));
        assert_eq!(row.activity_type.as_deref(), Some("idle"));
        let (status, answer) = track(&app, &json!({"latitude": 3.9, "longitude": 11.5})).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["city"]["id"], "yaounde",
            "no activity, no accuracy: still recorded"
        );
    }

    /// Puts `route` under way now; cancels every other departure under way,
    /// so the test does not depend on the hour it runs at.
    async fn under_way(app: &TestApp, route: &str) {
        sqlx::query(
            "UPDATE travel_routes SET departure_time = now() - interval '1 hour',
                 estimated_arrival = now() + interval '2 hours' WHERE id = $1",
        )
        .bind(route)
        .execute(&app.state.db)
        .await
        .unwrap();
        sqlx::query(
            "UPDATE travel_routes SET cancelled_at = now()
             WHERE id <> $1 AND departure_time <= now() AND now() <= estimated_arrival + interval '1 hour'",
        )
        .bind(route)
        .execute(&app.state.db)
        .await
        .unwrap();
    }

    async fn next_departure(app: &TestApp, schedule: &str) -> String {
        sqlx::query_scalar(
            "SELECT id FROM travel_routes WHERE schedule_id = $1 AND departure_time > now() + interval '1 day'
             ORDER BY departure_time LIMIT 1",
        )
        .bind(schedule)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_traveling_point_on_a_corridor_is_tied_to_the_departure_under_way() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let route = next_departure(&app, "route-yaounde-douala-midday").await;
        under_way(&app, &route).await;
        // Near Edea, on the Yaounde-Douala road, about 500 m off its line.
        let body = json!({"latitude": 3.80, "longitude": 10.13, "activity_type": "travelling"});
        let (status, answer) = track(&app, &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["city"], json!(null));
        let row = stored(&app, answer["location_id"].as_str().unwrap()).await;
        assert_eq!(row.route_id.as_deref(), Some(route.as_str()));
        assert_eq!(
            row.activity_type.as_deref(),
            Some("traveling"),
            "stored in one spelling"
        );

        // Browsing on the same spot ties to no departure; far from the road neither.
        let (_, answer) = track(
            &app,
            &json!({"latitude": 3.80, "longitude": 10.13,
                                               "activityType": "browsing"}),
        )
        .await;
        assert_eq!(
            stored(&app, answer["location_id"].as_str().unwrap())
                .await
                .route_id,
            None
        );
        let (_, answer) = track(
            &app,
            &json!({"latitude": 3.5, "longitude": 10.5,
                                               "activityType": "traveling"}),
        )
        .await;
        assert_eq!(
            stored(&app, answer["location_id"].as_str().unwrap())
                .await
                .route_id,
            None
        );
    }

    #[tokio::test]
    async fn a_booked_departure_is_preferred_over_another_on_the_same_road() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let booked = next_departure(&app, "route-douala-yaounde-morning").await;
        let other = next_departure(&app, "route-yaounde-douala-morning").await;
        under_way(&app, &other).await;
        sqlx::query(
            "UPDATE travel_routes SET departure_time = now() - interval '90 minutes',
                 estimated_arrival = now() + interval '2 hours', cancelled_at = NULL WHERE id = $1",
        )
        .bind(&booked)
        .execute(&app.state.db)
        .await
        .unwrap();
        sqlx::query("INSERT INTO users (uid) VALUES ('ada') ON CONFLICT DO NOTHING;")
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO bookings (user_id, route_id, passengers, total_price, payment_method)
             VALUES ('ada', $1, 1, 5000, 'card')",
        )
        .bind(&booked)
        .execute(&app.state.db)
        .await
        .unwrap();
        // Both follow the same road; unbooked, the later departure would win.
        let body = json!({"latitude": 3.80, "longitude": 10.13, "activityType": "traveling"});
        let (status, answer) = track(&app, &body).await;
        assert_eq!(status, 200, "{answer}");
        let row = stored(&app, answer["location_id"].as_str().unwrap()).await;
        assert_eq!(row.route_id.as_deref(), Some(booked.as_str()));
        sqlx::query("UPDATE bookings SET status = 'cancelled' WHERE user_id = 'ada'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (_, answer) = track(&app, &body).await;
        let row = stored(&app, answer["location_id"].as_str().unwrap()).await;
        assert_eq!(
            row.route_id.as_deref(),
            Some(other.as_str()),
            "a cancelled booking counts for nothing"
        );
    }

    #[tokio::test]
    async fn bad_input_is_422_and_records_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for case in [
            json!({"latitude": 91, "longitude": 9.7}),
            json!({"latitude": 4.0, "longitude": -181}),
            json!({"latitude": 4.0, "longitude": 9.7, "accuracy_meters": -1}),
            json!({"latitude": 4.0, "longitude": 9.7, "accuracy": 100001}),
            json!({"latitude": 4.0, "longitude": 9.7, "activity_type": "flying"}),
            json!({"latitude": 4.0, "longitude": 9.7, "activityType": "TRAVELING!"}),
            json!({"latitude": 4.0, "longitude": 9.7, "accuracy": 5, "accuracy_meters": 6}),
            json!({"latitude": 4.0, "longitude": 9.7, "activity_type": "idle",
                   "activityType": "browsing"}),
            json!({"latitude": "north", "longitude": 9.7}),
            json!({"longitude": 9.7}),
        ] {
            let (status, body) = track(&app, &case).await;
            assert_eq!(status, 422, "{case}: {body}");
            assert!(
                body["message"].is_string() && body["detail"].is_array(),
                "{body}"
            );
        }
        let (status, body) = track(&app, &json!({"latitude": 91, "longitude": 9.7})).await;
        assert_eq!(
            (status, &body["detail"][0]["loc"]),
            (422, &json!(["body", "latitude"]))
        );
        let nul = app
            .post_raw(
                "/api/users/locations/track",
                r#"{"latitude": 4.0, "longitude": 9.7, "activity_type": "idle\u0000"}"#,
            )
            .bearer_auth(app.token("ada"));
        assert_eq!(send(nul).await.0, 422);
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM user_locations")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(count, 0, "nothing recorded");
    }

    #[tokio::test]
    async fn without_a_token_it_is_401() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let request = app.post(
            "/api/users/locations/track",
            &json!({"latitude": 4.0, "longitude": 9.7}),
        );
        assert_eq!(send(request).await.0, 401);
    }

    #[tokio::test]
    async fn mangled_bodies_are_refused_and_never_a_server_error() {
        let settings = [
            ("RATE_LIMIT_AUTHENTICATED", "100000"),
            ("AUTH_FAILURE_LIMIT", "100000"),
        ];
        let app = TestApp::spawn_with(vec![super::function()], &settings).await;
        let seed = json!({"latitude": 4.05, "longitude": 9.7, "accuracy": 12.5, "activityType": "traveling"});
        let token = app.token("fuzzer");
        let statuses = shared::testing::fuzz_json(
            &app,
            "/api/users/locations/track",
            &seed,
            Some(&token),
            400,
        )
        .await;
        assert!(
            statuses.get(&422).copied().unwrap_or(0) > 100,
            "{statuses:?}"
        );
        let stored: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM user_locations WHERE ST_Y(location) NOT BETWEEN -90 AND 90
                OR ST_X(location) NOT BETWEEN -180 AND 180 OR accuracy_meters < 0",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(stored, 0, "nothing out of range was stored: {statuses:?}");
    }
}
