//! `POST /api/ai/feedback`: what really happened after a prediction, from
//! the signed-in traveller it was made for. A traveller rates only their own
//! predictions (another's, or an anonymous one, is a 404), once each (a
//! second is a 409); the actual departure and arrival, which become a trip
//! observation (source `feedback`) the next refit learns from, only for a
//! departure they booked or drive (403 otherwise). The outcome is also kept
//! on the prediction (`actual_outcome`, `feedback_at`). One transaction.

use ai::MESSAGES;
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
    /// When the departure really left.
    actual_departure_time: Option<Timestamp>,
    /// When it really arrived; after the departure.
    actual_arrival_time: Option<Timestamp>,
    /// 1 to 5: how useful the prediction was.
    #[schema(minimum = 1, maximum = 5)]
    rating: Option<i32>,
    /// At most 1000 characters.
    #[schema(max_length = 1000)]
    comment: Option<String>,
}

impl AiFeedback {
    fn departed(&self) -> Option<DateTime<Utc>> {
        self.actual_departure_time.map(|t| t.0)
    }

    fn arrived(&self) -> Option<DateTime<Utc>> {
        self.actual_arrival_time.map(|t| t.0)
    }
}

impl Validate for AiFeedback {
    fn validate(&self) -> Vec<FieldError> {
        let mut v = Validator::body()
            .check(
                Uuid::parse_str(&self.prediction_id).is_ok(),
                "prediction_id",
                MESSAGES.text("ai-prediction-id"),
            )
            .check(
                self.arrived().is_none() || self.departed().is_some(),
                "actual_departure_time",
                MESSAGES.text("ai-departure-required"),
            )
            .check(
                match (self.departed(), self.arrived()) {
                    (Some(d), Some(a)) => a > d,
                    _ => true,
                },
                "actual_arrival_time",
                MESSAGES.text("ai-arrival-after-departure"),
            )
            .check(
                self.departed()
                    .is_none_or(|d| d <= Utc::now() + chrono::Duration::minutes(5)),
                "actual_departure_time",
                MESSAGES.text("ai-not-in-future"),
            )
            .check(
                self.actual_departure_time.is_some()
                    || self.rating.is_some()
                    || self.comment.is_some(),
                "body",
                MESSAGES.text("ai-feedback-empty"),
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
    /// In the caller's language.
    #[schema(example = "Feedback recorded")]
    message: String,
}

/// $1 prediction, $2 caller: the prediction's departure time, and whether
/// the caller holds a live booking on that departure or drives it. Locks
/// the prediction, so its feedback is written once.
const FIND: &str = "
    SELECT t.departure_time,
           COALESCE(t.owner_id = $2 OR EXISTS (
               SELECT 1 FROM bookings b WHERE b.route_id = t.id AND b.user_id = $2
                   AND b.status IN ('confirmed', 'completed')), FALSE) AS travelled
    FROM ai_predictions p LEFT JOIN travel_routes t ON t.id = p.route_id
    WHERE p.id = $1 AND p.user_id = $2
    FOR UPDATE OF p";

/// $1 prediction, $2 departed, $3 arrived?, $4 caller: the departure's
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
    RETURNING id";

/// Records an outcome once; 404 unless the prediction was made for the caller.
#[utoipa::path(post, path = "/api/ai/feedback", tag = "AI", request_body = AiFeedback,
    responses((status = 200, body = AiFeedbackRecorded), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)),
    security(("FirebaseAuth" = [])))]
async fn record_feedback(
    State(Db(db)): State<Db>,
    user: AuthUser,
    lang: Lang,
    Json(body): Json<AiFeedback>,
) -> ApiResult<Json<AiFeedbackRecorded>> {
    let id = Uuid::parse_str(&body.prediction_id).map_err(|_| prediction_not_found())?;
    let mut tx = db.begin().await?;
    let (scheduled, travelled): (Option<DateTime<Utc>>, bool) = sqlx::query_as(FIND)
        .bind(id)
        .bind(&user.uid)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(prediction_not_found)?;
    if body.departed().is_some() && !travelled {
        return Err(forbidden(MESSAGES.text("ai-feedback-not-a-traveller")));
    }
    check_delay(body.departed(), scheduled)?;
    sqlx::query(
        "INSERT INTO ai_feedback (prediction_id, user_id, rating, comment, actual_departure, actual_arrival)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(&user.uid)
    .bind(body.rating)
    .bind(&body.comment)
    .bind(body.departed())
    .bind(body.arrived())
    .execute(&mut *tx)
    .await
    .on_constraint("ai_feedback_prediction_user_key", || {
        conflict(MESSAGES.text("ai-feedback-already-recorded"))
    })?;
    sqlx::query("UPDATE ai_predictions SET actual_outcome = $2, feedback_at = now() WHERE id = $1")
        .bind(id)
        .bind(json!(body))
        .execute(&mut *tx)
        .await?;
    let observation_id = match body.departed() {
        Some(departed) if scheduled.is_some() => {
            sqlx::query_scalar(OBSERVE)
                .bind(id)
                .bind(departed)
                .bind(body.arrived())
                .bind(&user.uid)
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
        message: MESSAGES.text("ai-feedback-recorded").render(lang),
    }))
}

fn prediction_not_found() -> ApiError {
    not_found(MESSAGES.text("ai-thing-prediction"))
}

/// An actual departure must lie within an hour before and three hours after the timetable.
fn check_delay(departed: Option<DateTime<Utc>>, scheduled: Option<DateTime<Utc>>) -> ApiResult<()> {
    match (departed, scheduled) {
        (Some(d), Some(s)) if !(-60..=180).contains(&(d - s).num_minutes()) => Err(invalid(
            &["body", "actual_departure_time"],
            MESSAGES.text("ai-departure-near-timetable"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration};
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    async fn feedback(app: &TestApp, uid: &str, body: Value) -> (u16, Value) {
        send(
            app.post("/api/ai/feedback", &body)
                .bearer_auth(app.token(uid)),
        )
        .await
    }

    /// A departure that left an hour ago, a departure-window prediction made
    /// for `owner` (anonymous when `None`) about it, and, when `passenger` is
    /// given, their confirmed booking on it. The prediction's id and the
    /// departure's scheduled time.
    async fn prediction(
        app: &TestApp,
        owner: Option<&str>,
        passenger: Option<&str>,
    ) -> (String, DateTime<chrono::FixedOffset>) {
        for uid in owner.iter().chain(passenger.iter()) {
            sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(uid)
                .execute(&app.state.db)
                .await
                .unwrap();
        }
        let (id, scheduled): (String, String) = sqlx::query_as(
            "WITH d AS (
                 UPDATE travel_routes SET departure_time = date_trunc('minute', now()) - interval '1 hour',
                     estimated_arrival = date_trunc('minute', now()) + interval '2 hours',
                     available_seats = available_seats - CASE WHEN $2::text IS NULL THEN 0 ELSE 1 END
                 WHERE id = (SELECT id FROM travel_routes WHERE schedule_id = 'route-douala-buea-morning'
                             ORDER BY departure_time LIMIT 1)
                 RETURNING id, departure_time, price_per_seat),
             b AS (
                 INSERT INTO bookings (user_id, route_id, passengers, total_price, payment_method)
                 SELECT $2, d.id, 1, d.price_per_seat, 'cash' FROM d WHERE $2::text IS NOT NULL)
             INSERT INTO ai_predictions (kind, model_version, route_id, user_id, input, output, confidence)
             SELECT 'departure_window', 'departure-v1', d.id, $1, '{}', '{}', 0.8 FROM d
             RETURNING id::text, (SELECT to_char(departure_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM d)",
        )
        .bind(owner)
        .bind(passenger)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        (id, DateTime::parse_from_rfc3339(&scheduled).unwrap())
    }

    async fn recorded(app: &TestApp) -> (i64, i64, i64) {
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM ai_feedback),
                    (SELECT count(*) FROM ai_predictions WHERE feedback_at IS NOT NULL),
                    (SELECT count(*) FROM trip_observations)",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_passenger_records_the_outcome_once_and_the_next_refit_learns_from_it() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (id, scheduled) = prediction(&app, Some("ada"), Some("ada")).await;
        let departed = scheduled + Duration::minutes(12);
        let arrived = departed + Duration::minutes(100);
        let (status, body) = feedback(
            &app,
            "ada",
            json!({"prediction_id": id, "actual_departure_time": departed.to_rfc3339(),
                   "actual_arrival_time": arrived.to_rfc3339(), "rating": 4, "comment": "close"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["success"].clone(), body["message"].clone()),
            (json!(true), json!("Feedback recorded"))
        );
        let (outcome, source, delay, speed, by): (Value, String, f64, f64, String) =
            sqlx::query_as(
                "SELECT p.actual_outcome, o.source,
                    extract(epoch FROM o.departed_at - o.scheduled_departure)::float8 / 60,
                    o.average_speed_kmh, o.recorded_by
             FROM ai_predictions p JOIN trip_observations o ON o.prediction_id = p.id
             WHERE p.id = $1::text::uuid AND p.feedback_at IS NOT NULL",
            )
            .bind(&id)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(outcome["rating"], 4);
        assert_eq!(
            (source.as_str(), delay, by.as_str()),
            ("feedback", 12.0, "ada")
        );
        assert!((speed - 42.0).abs() < 0.1, "70 km in 100 minutes: {speed}");
        // Again, by the same traveller: a 409, and the first stands.
        let (status, again) = feedback(
            &app,
            "ada",
            json!({"prediction_id": id, "actual_departure_time": (departed + Duration::minutes(3)).to_rfc3339()}),
        )
        .await;
        assert_eq!(status, 409, "{again}");
        assert_eq!(recorded(&app).await, (1, 1, 1));
        let mut conn = app.state.db.acquire().await.unwrap();
        let seen = ai::departure::load_observations(&mut conn, None)
            .await
            .unwrap();
        assert_eq!(seen.len(), 1);
        assert!(
            seen[0].feedback && seen[0].delay == 12.0 && seen[0].key.starts_with("douala|buea|"),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn concurrent_feedback_on_one_prediction_is_recorded_once() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (id, scheduled) = prediction(&app, Some("ada"), Some("ada")).await;
        let send = |i: i64| {
            let body = json!({"prediction_id": id, "rating": 1 + i % 5,
                "actual_departure_time": (scheduled + Duration::minutes(i)).to_rfc3339()});
            feedback(&app, "ada", body)
        };
        let all = tokio::join!(send(0), send(1), send(2), send(3), send(4), send(5));
        let mut statuses = [all.0.0, all.1.0, all.2.0, all.3.0, all.4.0, all.5.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409, 409, 409, 409, 409]);
        assert_eq!(recorded(&app).await, (1, 1, 1));
    }

    #[tokio::test]
    async fn a_french_speaking_traveller_reads_the_answers_in_french() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (id, scheduled) = prediction(&app, Some("ada"), None).await;
        sqlx::query("UPDATE users SET language = 'fr' WHERE uid = 'ada'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let left = (scheduled + Duration::minutes(5)).to_rfc3339();
        let (status, body) = feedback(
            &app,
            "ada",
            json!({"prediction_id": id, "actual_departure_time": left, "rating": 5}),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (
                403,
                Some(
                    "Seuls un passager ou le chauffeur de ce départ peuvent indiquer quand il est parti"
                )
            )
        );
        let (status, body) = feedback(&app, "ada", json!({"prediction_id": id, "rating": 5})).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (200, Some("Avis enregistré"))
        );
        assert_eq!(body["success"], true);
        let (status, body) = feedback(&app, "ada", json!({"prediction_id": id, "rating": 4})).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (
                409,
                Some("Un avis sur cette prédiction a déjà été enregistré")
            )
        );
        let (status, body) = send(
            app.post(
                "/api/ai/feedback",
                &json!({"prediction_id": id, "rating": 4}),
            )
            .bearer_auth(app.token("ada"))
            .header("accept-language", "en"),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (
                409,
                Some("Feedback on this prediction was already recorded")
            ),
            "the header wins over the account"
        );
        let (status, body) = feedback(
            &app,
            "ada",
            json!({"prediction_id": "6f1c2a3e-0000-4000-8000-000000000000", "rating": 3}),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Prédiction introuvable"))
        );
        let (status, body) = feedback(&app, "ada", json!({"prediction_id": "nope"})).await;
        assert_eq!(status, 422, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("prediction_id : doit être un identifiant de prédiction (UUID)")
                && message.contains("body : indiquez une heure réelle, une note ou un commentaire"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn only_the_signed_in_traveller_the_prediction_was_for_may_rate_it() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (mine, scheduled) = prediction(&app, Some("ada"), None).await;
        let (status, _) = send(app.post(
            "/api/ai/feedback",
            &json!({"prediction_id": mine, "rating": 1}),
        ))
        .await;
        assert_eq!(status, 401, "anonymous feedback");
        let (status, body) =
            feedback(&app, "mallory", json!({"prediction_id": mine, "rating": 1})).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Prediction not found"))
        );
        let (anonymous, _) = prediction(&app, None, None).await;
        let (status, _) = feedback(
            &app,
            "mallory",
            json!({"prediction_id": anonymous, "rating": 1}),
        )
        .await;
        assert_eq!(status, 404, "nobody's prediction is not anyone's to rate");
        // Ada did not book that departure: she may rate the answer, not report the trip.
        let left = (scheduled + Duration::minutes(5)).to_rfc3339();
        let (status, body) = feedback(
            &app,
            "ada",
            json!({"prediction_id": mine, "actual_departure_time": left, "rating": 5}),
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(recorded(&app).await, (0, 0, 0));
        let (status, body) =
            feedback(&app, "ada", json!({"prediction_id": mine, "rating": 5})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["observation_id"], Value::Null);
        assert_eq!(recorded(&app).await, (1, 1, 0));
    }

    #[tokio::test]
    async fn unknown_predictions_are_404_and_bad_input_422_changing_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = feedback(
            &app,
            "ada",
            json!({"prediction_id": "6f1c2a3e-0000-4000-8000-000000000000", "rating": 3}),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Prediction not found"))
        );
        let (id, t) = prediction(&app, Some("ada"), Some("ada")).await;
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
                json!({"prediction_id": id, "actual_departure_time": "0000-01-01T00:00:00"}),
                "actual_departure_time",
            ),
            (
                json!({"prediction_id": id, "actual_departure_time": t.to_rfc3339(),
                    "actual_arrival_time": t.to_rfc3339()}),
                "actual_arrival_time",
            ),
            (
                json!({"prediction_id": id, "actual_departure_time": (t - Duration::hours(5)).to_rfc3339()}),
                "actual_departure_time",
            ),
        ] {
            let (status, answer) = feedback(&app, "ada", body.clone()).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(answer["detail"][0]["loc"][1], field, "{answer}");
        }
        let (status, _) = send(
            app.post_raw(
                "/api/ai/feedback",
                r#"{"prediction_id": "x", "comment": "a\u0000"}"#,
            )
            .bearer_auth(app.token("ada")),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(recorded(&app).await, (0, 0, 0));
        // Python's utcnow().isoformat(): no offset, UTC.
        let departed = (t + Duration::minutes(7))
            .naive_utc()
            .format("%Y-%m-%dT%H:%M:%S%.6f");
        let (status, body) = feedback(
            &app,
            "ada",
            json!({"prediction_id": id, "actual_departure_time": departed.to_string()}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body["observation_id"].is_string());
    }
}
