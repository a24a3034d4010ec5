//! `POST /api/ai/feedback`: what really happened after a prediction. The
//! outcome is kept on the prediction (`actual_outcome`, `feedback_at`); a
//! departure window's actual departure (and arrival) also becomes a trip
//! observation with source `feedback`, which the next refit learns from.
//! Feedback on the same prediction again replaces the first. One transaction.

use chrono::{DateTime, Utc};
use serde_json::json;
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(record_feedback)))
}

/// What happened.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
struct AiFeedback {
    /// The `prediction_id` an AI answer carried.
    prediction_id: String,
    /// When the departure really left (ISO 8601 with offset).
    actual_departure_time: Option<String>,
    /// When it really arrived; after the departure.
    actual_arrival_time: Option<String>,
    /// 1 to 5: how useful the prediction was.
    rating: Option<i32>,
    /// At most 1000 characters.
    comment: Option<String>,
}

fn instant(s: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s?).ok().map(|t| t.to_utc())
}

impl AiFeedback {
    fn departed(&self) -> Option<DateTime<Utc>> {
        instant(self.actual_departure_time.as_deref())
    }

    fn arrived(&self) -> Option<DateTime<Utc>> {
        instant(self.actual_arrival_time.as_deref())
    }
}

impl Validate for AiFeedback {
    fn validate(&self) -> Vec<FieldError> {
        let times_ok = |s: &Option<String>, t: Option<DateTime<Utc>>| s.is_none() || t.is_some();
        let mut v = Validator::body()
            .check(
                Uuid::parse_str(&self.prediction_id).is_ok(),
                "prediction_id",
                "must be a prediction id (UUID)",
            )
            .check(
                times_ok(&self.actual_departure_time, self.departed()),
                "actual_departure_time",
                "must be an ISO 8601 instant with its offset",
            )
            .check(
                times_ok(&self.actual_arrival_time, self.arrived()),
                "actual_arrival_time",
                "must be an ISO 8601 instant with its offset",
            )
            .check(
                self.arrived().is_none() || self.departed().is_some(),
                "actual_departure_time",
                "is required with actual_arrival_time",
            )
            .check(
                match (self.departed(), self.arrived()) {
                    (Some(d), Some(a)) => a > d,
                    _ => true,
                },
                "actual_arrival_time",
                "must be after actual_departure_time",
            )
            .check(
                self.departed()
                    .is_none_or(|d| d <= Utc::now() + chrono::Duration::minutes(5)),
                "actual_departure_time",
                "must not be in the future",
            )
            .check(
                self.actual_departure_time.is_some()
                    || self.rating.is_some()
                    || self.comment.is_some(),
                "body",
                "give an actual time, a rating or a comment",
            )
            .max_len("comment", self.comment.as_deref(), 1000);
        if let Some(r) = self.rating {
            v = v.range("rating", r, 1, 5);
        }
        v.finish()
    }
}

/// The feedback as recorded.
#[derive(Debug, Serialize, ToSchema)]
struct AiFeedbackRecorded {
    #[schema(value_type = String)]
    prediction_id: Uuid,
    /// The trip observation written from it, if it carried a departure time.
    #[schema(value_type = Option<String>)]
    observation_id: Option<Uuid>,
    success: bool,
    #[schema(example = "Feedback recorded")]
    message: &'static str,
}

/// $1 prediction, $2 departed, $3 arrived?, $4 caller?: the departure's
/// observation, its arrival the actual one or after the timetable duration.
const OBSERVE: &str = "
    INSERT INTO trip_observations (route_id, schedule_id, origin, destination, scheduled_departure,
        departed_at, arrived_at, average_speed_kmh, source, recorded_by, prediction_id)
    SELECT t.id, t.schedule_id, t.origin, t.destination, t.departure_time, $2,
           COALESCE($3, $2 + (t.estimated_arrival - t.departure_time)),
           CASE WHEN $3::timestamptz IS NULL THEN NULL
                ELSE t.distance_km / (extract(epoch FROM $3 - $2) / 3600.0) END,
           'feedback', $4, p.id
    FROM ai_predictions p JOIN travel_routes t ON t.id = p.route_id
    WHERE p.id = $1 AND p.kind = 'departure_window'
    ON CONFLICT (prediction_id) WHERE prediction_id IS NOT NULL DO UPDATE SET
        departed_at = EXCLUDED.departed_at, arrived_at = EXCLUDED.arrived_at,
        average_speed_kmh = EXCLUDED.average_speed_kmh, recorded_by = EXCLUDED.recorded_by
    RETURNING id";

/// Records an outcome; 404 for an unknown prediction.
#[utoipa::path(post, path = "/api/ai/feedback", tag = "AI", request_body = AiFeedback,
    responses((status = 200, body = AiFeedbackRecorded), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn record_feedback(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Json(body): Json<AiFeedback>,
) -> ApiResult<Json<AiFeedbackRecorded>> {
    let id = Uuid::parse_str(&body.prediction_id).map_err(|_| not_found("Prediction"))?;
    let uid = user.as_ref().map(|u| u.uid.as_str());
    let mut tx = state.db.begin().await?;
    let found: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "UPDATE ai_predictions p SET actual_outcome = $2, feedback_at = now()
         WHERE p.id = $1
         RETURNING (SELECT t.departure_time FROM travel_routes t WHERE t.id = p.route_id)",
    )
    .bind(id)
    .bind(json!(body))
    .fetch_optional(&mut *tx)
    .await?;
    let scheduled = found.ok_or_else(|| not_found("Prediction"))?;
    let observation_id = match (body.departed(), scheduled) {
        (Some(departed), Some(scheduled)) => {
            let delay = (departed - scheduled).num_minutes();
            if !(-60..=180).contains(&delay) {
                return Err(invalid(
                    &["body", "actual_departure_time"],
                    "must be within an hour before and three hours after the timetable",
                ));
            }
            sqlx::query_scalar(OBSERVE)
                .bind(id)
                .bind(departed)
                .bind(body.arrived())
                .bind(uid)
                .fetch_optional(&mut *tx)
                .await?
        }
        _ => None,
    };
    tx.commit().await?;
    Ok(Json(AiFeedbackRecorded {
        prediction_id: id,
        observation_id,
        success: true,
        message: "Feedback recorded",
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    async fn feedback(app: &TestApp, body: Value) -> (u16, Value) {
        send(app.post("/api/ai/feedback", &body)).await
    }

    /// A logged departure-window prediction for a departure that left an
    /// hour ago; its id and the departure's scheduled time (RFC 3339).
    async fn prediction(app: &TestApp) -> (String, String) {
        sqlx::query_as(
            "WITH d AS (
                 UPDATE travel_routes SET departure_time = date_trunc('minute', now()) - interval '1 hour',
                     estimated_arrival = date_trunc('minute', now()) + interval '2 hours'
                 WHERE id = (SELECT id FROM travel_routes WHERE schedule_id = 'route-douala-buea-morning'
                             ORDER BY departure_time LIMIT 1)
                 RETURNING id, departure_time)
             INSERT INTO ai_predictions (kind, model_version, route_id, input, output, confidence)
             SELECT 'departure_window', 'departure-v1', d.id, '{}', '{}', 0.8 FROM d
             RETURNING id::text, (SELECT to_char(departure_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM d)",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn records_the_outcome_and_an_observation_the_next_refit_learns_from() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (id, scheduled) = prediction(&app).await;
        let departed = chrono::DateTime::parse_from_rfc3339(&scheduled).unwrap()
            + chrono::Duration::minutes(12);
        let arrived = departed + chrono::Duration::minutes(100);
        let (status, body) = feedback(
            &app,
            json!({"prediction_id": id, "actual_departure_time": departed.to_rfc3339(),
                   "actual_arrival_time": arrived.to_rfc3339(), "rating": 4, "comment": "close"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["success"].clone(), body["message"].clone()),
            (json!(true), json!("Feedback recorded"))
        );
        let (outcome, source, delay, speed): (Value, String, f64, f64) = sqlx::query_as(
            "SELECT p.actual_outcome, o.source,
                    extract(epoch FROM o.departed_at - o.scheduled_departure)::float8 / 60, o.average_speed_kmh
             FROM ai_predictions p JOIN trip_observations o ON o.prediction_id = p.id
             WHERE p.id = $1::text::uuid AND p.feedback_at IS NOT NULL",
        )
        .bind(&id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(outcome["rating"], 4);
        assert_eq!((source.as_str(), delay), ("feedback", 12.0));
        assert!((speed - 42.0).abs() < 0.1, "70 km in 100 minutes: {speed}");
        // Again: the same observation, updated.
        let (_, again) = feedback(
            &app,
            json!({"prediction_id": id, "actual_departure_time": (departed + chrono::Duration::minutes(3)).to_rfc3339()}),
        )
        .await;
        assert_eq!(again["observation_id"], body["observation_id"]);
        let mut conn = app.state.db.acquire().await.unwrap();
        let seen = shared::domain::ai::departure::load_observations(&mut conn, None)
            .await
            .unwrap();
        assert_eq!(seen.len(), 1);
        assert!(
            seen[0].feedback && seen[0].delay == 15.0 && seen[0].key.starts_with("douala|buea|"),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn unknown_predictions_are_404_and_bad_input_422_changing_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = feedback(
            &app,
            json!({"prediction_id": "6f1c2a3e-0000-4000-8000-000000000000", "rating": 3}),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Prediction not found"))
        );
        let (id, scheduled) = prediction(&app).await;
        let t = chrono::DateTime::parse_from_rfc3339(&scheduled).unwrap();
        for (body, field) in [
            (
                json!({"prediction_id": "nope", "rating": 3}),
                "prediction_id",
            ),
            (json!({"prediction_id": id, "rating": 6}), "rating"),
            (json!({"prediction_id": id}), "body"),
            (
                json!({"prediction_id": id, "actual_departure_time": "soon"}),
                "actual_departure_time",
            ),
            (
                json!({"prediction_id": id, "actual_departure_time": t.to_rfc3339(),
                    "actual_arrival_time": t.to_rfc3339()}),
                "actual_arrival_time",
            ),
            (
                json!({"prediction_id": id, "actual_departure_time": (t - chrono::Duration::hours(5)).to_rfc3339()}),
                "actual_departure_time",
            ),
        ] {
            let (status, answer) = feedback(&app, body.clone()).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(answer["detail"][0]["loc"][1], field, "{answer}");
        }
        let (status, _) = send(app.post_raw(
            "/api/ai/feedback",
            r#"{"prediction_id": "x", "comment": "a\u0000"}"#,
        ))
        .await;
        assert_eq!(status, 422);
        let (touched, observed): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM ai_predictions WHERE feedback_at IS NOT NULL),
                    (SELECT count(*) FROM trip_observations)",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!((touched, observed), (0, 0));
    }

    #[tokio::test]
    async fn serves_its_manifest() {
        shared::testing::assert_serves_its_manifest(super::function()).await;
    }
}
