//! `POST /api/travels/estimate`: when a departure will really leave, as
//! windows of Africa/Douala local time around its timetable, from the same
//! fitted departure-window model as `POST /api/ai/estimate-departure` (see
//! [`ai::departure`]); where data is thin, a heuristic flagged
//! in `notes`. Windows carry `label` and `window`; every estimate is logged
//! and carries its `prediction_id`.

use ai::departure::{self, DepartureEstimate, Target};
use ai::preferences::TravelPreferences;
use serde_json::json;
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(estimate_departure)))
}

/// An estimate request.
#[derive(Deserialize, Serialize, ToSchema)]
struct TravelEstimateRequest {
    /// A departure id, or a daily route's id (then `departure_date` picks the day).
    #[schema(example = "route-yaounde-douala-morning")]
    route_id: String,
    /// Which day's departure of a daily route (its Africa/Douala day).
    departure_date: Option<DepartureDate>,
    /// 1 to 20 (default 1).
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default = "one")]
    passengers: i32,
    /// Logged with the estimate; the windows do not depend on it.
    user_preferences: Option<TravelPreferences>,
}

fn one() -> i32 {
    1
}

impl Validate for TravelEstimateRequest {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .not_empty("route_id", self.route_id.trim())
            .max_len("route_id", Some(&self.route_id), 200)
            .range("passengers", self.passengers, 1, 20)
            .finish()
            .into_iter()
            .chain(
                self.user_preferences
                    .iter()
                    .flat_map(|p| p.validate("user_preferences")),
            )
            .collect()
    }
}

/// Departure windows for a route; 404 when unknown.
#[utoipa::path(post, path = "/api/travels/estimate", tag = "AI",
    operation_id = "estimate_travel_windows",
    request_body = TravelEstimateRequest,
    responses((status = 200, body = DepartureEstimate), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn estimate_departure(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    lang: Lang,
    Json(req): Json<TravelEstimateRequest>,
) -> ApiResult<Json<DepartureEstimate>> {
    let target = Target {
        route_id: &req.route_id,
        after: None,
        day: req.departure_date.map(DepartureDate::douala_day),
    };
    let uid = user.as_ref().map(|u| u.uid.as_str());
    let estimate = departure::estimate(&state, target, json!(req), uid, lang).await?;
    Ok(Json(estimate))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    async fn estimate(app: &TestApp, body: Value) -> (u16, Value) {
        send(app.post("/api/travels/estimate", &body)).await
    }

    fn recommended(body: &Value) -> Vec<&Value> {
        body["windows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["recommended"] == true)
            .collect()
    }

    #[tokio::test]
    async fn without_history_answers_a_flagged_heuristic_in_the_contract_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        // Noon UTC three days ahead: that day's 06:00 departure in Douala.
        let day: chrono::NaiveDate =
            sqlx::query_scalar("SELECT (now() AT TIME ZONE 'Africa/Douala')::date + 3")
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        let (status, body) = estimate(
            &app,
            json!({"route_id": "route-yaounde-douala-morning", "departure_date": format!("{day}T12:00:00.000Z"),
                   "passengers": 2, "user_preferences": {"comfort": "high", "preferredTime": "morning"}}),
        )
        .await;
        assert_heuristic(status, &body);
        // The original's clients: Python's utcnow().isoformat(), no offset, is UTC.
        let (status, again) = estimate(
            &app,
            json!({"route_id": "route-yaounde-douala-morning",
                   "departure_date": format!("{day}T12:00:00.123456")}),
        )
        .await;
        assert_heuristic(status, &again);
        assert_eq!(again["departure_id"], body["departure_id"]);
    }

    fn assert_heuristic(status: u16, body: &Value) {
        assert_eq!(status, 200, "{body}");
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "departure_id",
                "model_version",
                "notes",
                "prediction_id",
                "route_id",
                "windows"
            ]
        );
        assert_eq!(body["route_id"], "route-yaounde-douala-morning");
        let windows = body["windows"].as_array().unwrap();
        assert_eq!(windows.len(), 3);
        for w in windows {
            let keys: Vec<&String> = w.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["confidence", "label", "recommended", "window"]);
            assert_eq!(w["label"], w["window"]);
            let c = w["confidence"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&c));
        }
        assert_eq!(
            body["windows"][0]["label"], "05:30-06:00",
            "Douala local time around the 06:00 departure"
        );
        let best = recommended(body);
        assert_eq!(best.len(), 1);
        assert_eq!(best[0]["label"], "06:00-06:30");
        assert!(
            best[0]["confidence"].as_f64().unwrap() < 0.6,
            "a heuristic is not confident"
        );
        assert!(
            body["notes"]
                .as_str()
                .unwrap()
                .starts_with("heuristic: no fitted history"),
            "{}",
            body["notes"]
        );
    }

    #[tokio::test]
    async fn learns_windows_from_observed_departures() {
        let app = TestApp::spawn(vec![super::function()]).await;
        // 40 past departures of the 15:00 Yaounde-Douala bus, 10 to 29 minutes late,
        // plus departures at another hour and on another corridor that must not count.
        sqlx::query(
            "INSERT INTO trip_observations (origin, destination, scheduled_departure, departed_at, arrived_at)
             SELECT 'YAOUNDÉ', 'Douala', s, s + make_interval(mins => 9 + (i % 20) + 1), s + interval '4 hours'
             FROM (SELECT i, (((now() AT TIME ZONE 'Africa/Douala')::date - i) + time '15:00')
                             AT TIME ZONE 'Africa/Douala' AS s
                   FROM generate_series(1, 40) AS i) d
             UNION ALL
             SELECT 'Yaounde', 'Douala', s, s + interval '90 minutes', s + interval '5 hours'
             FROM (SELECT (((now() AT TIME ZONE 'Africa/Douala')::date - i) + time '06:00')
                           AT TIME ZONE 'Africa/Douala' AS s FROM generate_series(1, 40) AS i) d
             UNION ALL
             SELECT 'Douala', 'Yaounde', s, s, s + interval '3 hours'
             FROM (SELECT now() - make_interval(days => i) AS s FROM generate_series(1, 40) AS i) d",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        ai::refit::run(&app.state.db, 30).await.unwrap().unwrap();
        let departure: String = sqlx::query_scalar(
            "SELECT id FROM travel_routes WHERE schedule_id = 'route-yaounde-douala-evening'
             AND departure_time > now() ORDER BY departure_time LIMIT 1",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        let (status, body) = estimate(&app, json!({"route_id": departure})).await;
        assert_eq!(status, 200, "{body}");
        let best = recommended(&body);
        assert_eq!(best.len(), 1);
        // Delays 10..29 min: the central 80% is about 12 to 27 min, to 5 minutes.
        let label = best[0]["label"].as_str().unwrap();
        assert_eq!(best[0]["window"], label);
        assert!(("15:05-".."15:20-").contains(&label), "{label} {body}");
        assert!(
            label.ends_with("15:25") || label.ends_with("15:30"),
            "{label}"
        );
        let c = best[0]["confidence"].as_f64().unwrap();
        assert!(c > 0.6 && c < 1.0, "{c}");
        let notes = body["notes"].as_str().unwrap();
        assert!(
            notes.starts_with("fitted on 40 observed departures"),
            "{notes}"
        );
        let (fallback, version): (bool, String) = sqlx::query_as(
            "SELECT fallback, model_version FROM ai_predictions WHERE route_id = $1",
        )
        .bind(&departure)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!((fallback, version.as_str()), (false, "departure-v1"));
    }

    #[tokio::test]
    async fn unknown_routes_are_404_and_bad_input_422() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = estimate(&app, json!({"route_id": "nope"})).await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Route not found");
        let (status, _) = estimate(
            &app,
            json!({"route_id": "route-buea-yaounde", "departure_date": "2001-01-01"}),
        )
        .await;
        assert_eq!(status, 404, "no departure of that schedule on that day");
        for (body, field) in [
            (
                json!({"route_id": "route-buea-yaounde", "passengers": 0}),
                "passengers",
            ),
            (
                json!({"route_id": "route-buea-yaounde", "passengers": 21}),
                "passengers",
            ),
            (json!({"route_id": ""}), "route_id"),
            (
                json!({"route_id": "route-buea-yaounde", "departure_date": "soon"}),
                "departure_date",
            ),
            (json!({}), "route_id"),
            (
                json!({"route_id": "route-buea-yaounde", "departure_date": "0000-01-01"}),
                "departure_date",
            ),
            (
                json!({"route_id": "route-buea-yaounde", "departure_date": "0000-01-01T00:00:00"}),
                "departure_date",
            ),
            (
                json!({"route_id": "route-buea-yaounde", "user_preferences": {"notes": "x"}}),
                "user_preferences",
            ),
        ] {
            let (status, answer) = estimate(&app, body.clone()).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(answer["detail"][0]["loc"][1], field, "{answer}");
        }
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM ai_predictions")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(n, 0, "nothing logged for refused requests");
    }
}
