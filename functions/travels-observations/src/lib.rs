//! `POST /api/travels/{route_id}/observations`: when a dated departure really
//! left and arrived, recorded by the ride's owner or an admin. The
//! departure-window and traffic models learn from these at their next refit.
//! A second report for the same departure replaces the first (200; 201 when new).

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::MESSAGES;
use domain::travel::route_not_found;
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(record_observation)))
}

/// What happened, in either spelling.
#[derive(Debug, Deserialize, ToSchema)]
struct NewTripObservation {
    /// When the departure really left.
    #[serde(alias = "actual_departure_time")]
    departed_at: Timestamp,
    /// When it really arrived; after `departed_at`.
    #[serde(alias = "actual_arrival_time")]
    arrived_at: Timestamp,
}

impl Validate for NewTripObservation {
    fn validate(&self) -> Vec<FieldError> {
        let soon = Utc::now() + chrono::Duration::minutes(5);
        Validator::body()
            .check(
                self.arrived_at > self.departed_at,
                "arrived_at",
                MESSAGES.text("must-be-after").arg("other", "departed_at"),
            )
            .check(
                self.arrived_at.0 <= soon,
                "arrived_at",
                MESSAGES.text("not-in-future"),
            )
            .finish()
    }
}

/// The recorded observation.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
struct TripObservation {
    #[schema(value_type = String)]
    observation_id: Uuid,
    route_id: String,
    scheduled_departure: DateTime<Utc>,
    departed_at: DateTime<Utc>,
    arrived_at: DateTime<Utc>,
    /// Minutes after the timetable (negative: early).
    delay_minutes: f64,
    average_speed_kmh: Option<f64>,
    source: String,
    recorded_by: Option<String>,
    #[serde(skip)]
    created: bool,
}

/// $1 departure, $2 departed, $3 arrived, $4 caller.
const UPSERT: &str = "
    INSERT INTO trip_observations (route_id, schedule_id, origin, destination, scheduled_departure,
        departed_at, arrived_at, average_speed_kmh, source, recorded_by)
    SELECT t.id, t.schedule_id, t.origin, t.destination, t.departure_time, $2, $3,
           t.distance_km / (extract(epoch FROM $3::timestamptz - $2::timestamptz) / 3600.0), 'operator', $4
    FROM travel_routes t WHERE t.id = $1
    ON CONFLICT (route_id) WHERE route_id IS NOT NULL AND source = 'operator' DO UPDATE SET
        departed_at = EXCLUDED.departed_at, arrived_at = EXCLUDED.arrived_at,
        average_speed_kmh = EXCLUDED.average_speed_kmh, recorded_by = EXCLUDED.recorded_by,
        created_at = now()
    RETURNING id AS observation_id, route_id, scheduled_departure, departed_at, arrived_at,
        extract(epoch FROM departed_at - scheduled_departure)::float8 / 60 AS delay_minutes,
        average_speed_kmh, source, recorded_by, (xmax = 0) AS created";

/// Records a departure's actual times; 403 unless the caller owns the ride or is an admin.
#[utoipa::path(post, path = "/api/travels/{route_id}/observations", tag = "Travel",
    params(("route_id" = String, Path, description = "A dated departure's id",
        example = "route-yaounde-douala-morning-20261127")),
    request_body = NewTripObservation,
    responses((status = 201, body = TripObservation), (status = 200, body = TripObservation),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("FirebaseAuth" = [])))]
async fn record_observation(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Path(route_id): Path<String>,
    Json(body): Json<NewTripObservation>,
) -> ApiResult<(StatusCode, Json<TripObservation>)> {
    let (departed, arrived) = (body.departed_at.0, body.arrived_at.0);
    let mut tx = db.begin().await?;
    let (owner, scheduled): (Option<String>, DateTime<Utc>) = sqlx::query_as(
        "SELECT owner_id, departure_time FROM travel_routes WHERE id = $1 FOR SHARE",
    )
    .bind(&route_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(route_not_found)?;
    if owner.as_deref() != Some(user.uid.as_str()) && user.role != Role::Admin {
        return Err(forbidden(MESSAGES.text("observation-not-yours")));
    }
    if !(-60..=180).contains(&(departed - scheduled).num_minutes()) {
        return Err(invalid(
            &["body", "departed_at"],
            MESSAGES.text("departure-off-timetable"),
        ));
    }
    let saved: TripObservation = sqlx::query_as(UPSERT)
        .bind(&route_id)
        .bind(departed)
        .bind(arrived)
        .bind(&user.uid)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    let status = if saved.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(saved)))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, TestKeys, claims, send};

    /// A departure that left two hours ago, owned by `owner`; its id and timetable time.
    async fn past_ride(app: &TestApp, owner: &str) -> (String, chrono::DateTime<chrono::Utc>) {
        sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(owner)
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query_as(
            "UPDATE travel_routes SET owner_id = $1, departure_time = date_trunc('minute', now()) - interval '3 hours',
                 estimated_arrival = date_trunc('minute', now())
             WHERE id = (SELECT id FROM travel_routes WHERE schedule_id = 'route-douala-buea-midday'
                         ORDER BY departure_time LIMIT 1)
             RETURNING id, departure_time",
        )
        .bind(owner)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    async fn observe(app: &TestApp, route: &str, token: &str, body: Value) -> (u16, Value) {
        send(
            app.post(&format!("/api/travels/{route}/observations"), &body)
                .bearer_auth(token),
        )
        .await
    }

    fn times(t: chrono::DateTime<chrono::Utc>, late: i64, trip: i64) -> Value {
        json!({"departed_at": (t + chrono::Duration::minutes(late)).to_rfc3339(),
               "arrived_at": (t + chrono::Duration::minutes(late + trip)).to_rfc3339()})
    }

    #[tokio::test]
    async fn the_owner_records_and_then_corrects_a_trip() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (route, t) = past_ride(&app, "driver").await;
        let (status, body) = observe(&app, &route, &app.token("driver"), times(t, 20, 105)).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["route_id"], route.as_str());
        assert_eq!(body["delay_minutes"], 20.0);
        assert_eq!(body["source"], "operator");
        assert_eq!(body["recorded_by"], "driver");
        assert!(
            (body["average_speed_kmh"].as_f64().unwrap() - 40.0).abs() < 0.01,
            "70 km in 105 min"
        );
        let app_spelling = json!({"actual_departure_time": (t + chrono::Duration::minutes(25)).to_rfc3339(),
                                  "actual_arrival_time": (t + chrono::Duration::minutes(120)).to_rfc3339()});
        let (status, again) = observe(&app, &route, &app.token("driver"), app_spelling).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["observation_id"], body["observation_id"]);
        assert_eq!(again["delay_minutes"], 25.0);
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM trip_observations")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(n, 1);
    }

    #[tokio::test]
    async fn admins_may_record_others_may_not() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (route, t) = past_ride(&app, "driver").await;
        let (status, body) = observe(&app, &route, &app.token("mallory"), times(t, 5, 90)).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (
                403,
                Some("Only the ride's owner or an administrator can record its trip")
            )
        );
        let (status, body) = send(
            app.post(
                &format!("/api/travels/{route}/observations"),
                &times(t, 5, 90),
            )
            .bearer_auth(app.token("mallory"))
            .header("Accept-Language", "fr"),
        )
        .await;
        assert_eq!(status, 403);
        assert_eq!(
            body["message"],
            "Seul le propriétaire du trajet ou un administrateur peut enregistrer son voyage"
        );
        assert_eq!(
            body["detail"],
            "Only the ride's owner or an administrator can record its trip"
        );
        let mut admin = claims("root");
        admin["role"] = "admin".into();
        let (status, _) =
            observe(&app, &route, &TestKeys::get().sign(&admin), times(t, 5, 90)).await;
        assert_eq!(status, 201);
        let (status, _) = send(app.post(
            &format!("/api/travels/{route}/observations"),
            &times(t, 5, 90),
        ))
        .await;
        assert_eq!(status, 401);
    }

    #[tokio::test]
    async fn unknown_departures_are_404_and_bad_input_422_writing_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (route, t) = past_ride(&app, "driver").await;
        let token = app.token("driver");
        assert_eq!(observe(&app, "nope", &token, times(t, 5, 90)).await.0, 404);
        for (body, field) in [
            (times(t, 5, -10), "arrived_at"),
            (times(t, 5, 0), "arrived_at"),
            (times(t, -90, 60), "departed_at"),
            (times(t, 240, 90), "arrived_at"),
            (
                json!({"departed_at": "yesterday", "arrived_at": t.to_rfc3339()}),
                "departed_at",
            ),
            (
                json!({"departed_at": "0000-01-01T00:00:00", "arrived_at": t.to_rfc3339()}),
                "departed_at",
            ),
        ] {
            let (status, answer) = observe(&app, &route, &token, body.clone()).await;
            assert_eq!(status, 422, "{body} {answer}");
            assert_eq!(answer["detail"][0]["loc"][1], field, "{answer}");
        }
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM trip_observations")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
