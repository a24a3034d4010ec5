//! `POST /api/ai/estimate-departure`: when a departure will really leave, as
//! windows of Africa/Douala local time from the fitted departure-window
//! model (see [`ai::departure`]), or a heuristic flagged in
//! `notes` where data is thin; the notes are written in the caller's
//! language. A route's id means its next departure after `current_time`;
//! every answer is logged and carries its `prediction_id`.

use ai::departure::{self, DepartureEstimate, Target};
use ai::preferences::TravelPreferences;
use serde_json::json;
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(estimate_departure)))
}

/// An estimate request.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
struct DepartureEstimateRequest {
    /// A departure id, or a route's id (then its next departure after `current_time`).
    #[schema(example = "route-yaounde-douala-morning")]
    route_id: String,
    /// Default now.
    current_time: Option<Timestamp>,
    /// Logged with the estimate; the windows do not depend on it.
    user_preferences: Option<TravelPreferences>,
}

impl Validate for DepartureEstimateRequest {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .check(
                !self.route_id.trim().is_empty(),
                "route_id",
                shared::i18n::MESSAGES.text("must-not-be-empty"),
            )
            .max_len("route_id", Some(&self.route_id), 200)
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

/// Departure windows for a route or departure; 404 when unknown.
#[utoipa::path(post, path = "/api/ai/estimate-departure", tag = "AI",
    request_body = DepartureEstimateRequest,
    responses((status = 200, body = DepartureEstimate), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn estimate_departure(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    lang: Lang,
    Json(req): Json<DepartureEstimateRequest>,
) -> ApiResult<Json<DepartureEstimate>> {
    let target = Target {
        route_id: &req.route_id,
        after: req.current_time.map(|t| t.0),
        day: None,
    };
    let uid = user.as_ref().map(|u| u.uid.as_str());
    let estimate = departure::estimate(&state, target, json!(req), uid, lang).await?;
    Ok(Json(estimate))
}

#[cfg(test)]
mod tests {
    use ai::{departure, refit, synthetic};
    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};
    use shared::testing::{TestApp, fresh_db, send};

    async fn estimate(app: &TestApp, body: Value) -> (u16, Value) {
        send(app.post("/api/ai/estimate-departure", &body)).await
    }

    async fn predictions(app: &TestApp) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM ai_predictions")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    }

    /// The acceptance figures: fit on the synthetic history up to two weeks
    /// ago, then score the last two weeks the model never saw.
    #[tokio::test]
    async fn is_calibrated_on_the_held_out_last_two_weeks_and_beats_fixed_offsets() {
        let db = fresh_db().await;
        let written = synthetic::seed(&db, synthetic::DEFAULT_DAYS, synthetic::DEFAULT_SEED)
            .await
            .unwrap();
        assert_eq!(written, 12 * 90, "one trip a day per daily route");
        let cutoff: DateTime<Utc> = sqlx::query_scalar(
            "SELECT ((now() AT TIME ZONE 'Africa/Douala')::date - 14)::timestamp AT TIME ZONE 'Africa/Douala'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        let mut conn = db.acquire().await.unwrap();
        let train = departure::load_observations(&mut conn, Some(cutoff))
            .await
            .unwrap();
        let held_out: Vec<_> = departure::load_observations(&mut conn, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|o| o.scheduled >= cutoff)
            .collect();
        let buckets = departure::fit(&train, 30);
        let eval = departure::evaluate(&buckets, &held_out);
        println!("calibration: {}", serde_json::to_string(&eval).unwrap());
        assert_eq!(
            eval.departures,
            12 * 14,
            "every route trusted, every held-out day scored"
        );
        for &(stated, observed, n) in &eval.bands {
            if n >= 20 {
                assert!(
                    (observed - stated).abs() <= 0.05,
                    "band of {n}: stated {stated:.3}, observed {observed:.3}"
                );
            }
        }
        assert!(
            (eval.observed - eval.stated).abs() <= 0.05,
            "overall: stated {:.3}, observed {:.3}",
            eval.stated,
            eval.observed
        );
        assert!(
            eval.mae < eval.heuristic_mae,
            "model {:.2} min vs the +15 min heuristic {:.2}",
            eval.mae,
            eval.heuristic_mae
        );
        assert!(
            eval.mae < eval.fixed_offset_mae,
            "model {:.2} min vs each route's median offset {:.2}",
            eval.mae,
            eval.fixed_offset_mae
        );
    }

    #[tokio::test]
    async fn answers_fitted_windows_after_a_refit_and_logs_them() {
        let app = TestApp::spawn(vec![super::function()]).await;
        synthetic::seed(&app.state.db, 90, synthetic::DEFAULT_SEED)
            .await
            .unwrap();
        refit::run(&app.state.db, 30).await.unwrap().unwrap();
        let (status, body) = estimate(
            &app,
            json!({"route_id": "route-yaounde-douala-morning",
                   "current_time": "2001-01-01T00:00:00Z", "user_preferences": {"comfort": "high"}}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["route_id"], "route-yaounde-douala-morning");
        let notes = body["notes"].as_str().unwrap();
        assert!(
            notes.starts_with("fitted on 90 observed departures"),
            "{notes}"
        );
        assert!(notes.contains("90 of them synthetic"), "{notes}");
        let windows = body["windows"].as_array().unwrap();
        assert_eq!(windows.len(), 3);
        let best: Vec<&Value> = windows
            .iter()
            .filter(|w| w["recommended"] == true)
            .collect();
        assert_eq!(best.len(), 1);
        assert_eq!(best[0]["window"], best[0]["label"]);
        let label = best[0]["window"].as_str().unwrap();
        // Around the 06:00 timetable; a bucket whose band reaches early starts at 05:5x.
        assert!(
            (label.starts_with("06:") || label.starts_with("05:5")) && label.len() == 11,
            "{label}"
        );
        let c = best[0]["confidence"].as_f64().unwrap();
        assert!((0.6..1.0).contains(&c), "{c}");
        let (version, fallback, confidence, departure): (String, bool, f64, String) =
            sqlx::query_as(
                "SELECT model_version, fallback, confidence, route_id FROM ai_predictions WHERE id = $1::text::uuid",
            )
            .bind(body["prediction_id"].as_str().unwrap())
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!((version.as_str(), fallback), ("departure-v1", false));
        assert_eq!(confidence, c);
        assert_eq!(departure, body["departure_id"].as_str().unwrap());
        assert!(departure.starts_with("route-yaounde-douala-morning-"));

        let (status, french) = send(
            app.post(
                "/api/ai/estimate-departure",
                &json!({"route_id": "route-yaounde-douala-morning",
                        "current_time": "2001-01-01T00:00:00Z"}),
            )
            .header("accept-language", "fr-CM,fr;q=0.9,en;q=0.5"),
        )
        .await;
        assert_eq!(status, 200, "{french}");
        let notes = french["notes"].as_str().unwrap();
        assert!(
            notes.starts_with("ajusté sur 90 départs observés de Yaounde - Douala vers 06:00 WAT"),
            "{notes}"
        );
        assert!(
            notes.contains("dont 90 synthétiques")
                && notes.contains("après l’horaire le ")
                && notes.contains("des départs de validation"),
            "{notes}"
        );
        for english in ["fitted", "departures", "timetable", "held-out", "synthetic"] {
            assert!(!notes.contains(english), "{english} in {notes}");
        }
        assert_eq!(
            french["windows"], body["windows"],
            "labels are times in both"
        );
    }

    #[tokio::test]
    async fn notes_are_in_the_callers_language_from_the_header_or_their_account() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let body = json!({"route_id": "route-buea-douala-morning"});
        let ask = |lang: Option<&str>, uid: Option<&str>| {
            let mut request = app.post("/api/ai/estimate-departure", &body);
            if let Some(lang) = lang {
                request = request.header("accept-language", lang);
            }
            if let Some(uid) = uid {
                request = request.bearer_auth(app.token(uid));
            }
            send(request)
        };
        let notes = |answer: &Value| answer["notes"].as_str().unwrap().to_owned();

        let (status, english) = ask(None, None).await;
        assert_eq!(status, 200, "{english}");
        assert_eq!(
            notes(&english),
            "heuristic: no fitted history for Buea - Douala around 06:30 WAT; \
             windows around the timetable"
        );
        let (status, french) = ask(Some("fr"), None).await;
        assert_eq!(status, 200, "{french}");
        assert_eq!(
            notes(&french),
            "heuristique : aucun historique ajusté pour Buea - Douala vers 06:30 WAT ; \
             fenêtres autour de l’horaire"
        );
        assert_eq!(french["windows"], english["windows"]);
        assert_eq!(french["model_version"], "heuristic-v1");

        sqlx::query("INSERT INTO users (uid, language) VALUES ('ada', 'fr')")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (status, hers) = ask(None, Some("ada")).await;
        assert_eq!(status, 200, "{hers}");
        assert!(
            notes(&hers).starts_with("heuristique : aucun historique ajusté"),
            "her stored language: {hers}"
        );
        let (_, asked) = ask(Some("en-GB"), Some("ada")).await;
        assert!(
            notes(&asked).starts_with("heuristic: no fitted history"),
            "the header wins over the account: {asked}"
        );
        let (status, missing) = send(
            app.post("/api/ai/estimate-departure", &json!({"route_id": "nope"}))
                .header("accept-language", "fr"),
        )
        .await;
        assert_eq!(
            (status, missing["message"].as_str()),
            (404, Some("Trajet introuvable"))
        );
    }

    #[tokio::test]
    async fn without_a_fit_answers_a_flagged_heuristic() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = estimate(&app, json!({"route_id": "route-buea-douala-morning"})).await;
        assert_eq!(status, 200, "{body}");
        let notes = body["notes"].as_str().unwrap();
        assert!(notes.starts_with("heuristic: no fitted history"), "{notes}");
        assert_eq!(body["model_version"], "heuristic-v1");
        assert_eq!(body["windows"][1]["window"], "06:30-07:00");
        assert!(body["windows"][1]["confidence"].as_f64().unwrap() < 0.6);
        assert_eq!(predictions(&app).await, 1);
    }

    #[tokio::test]
    async fn unknown_routes_and_bad_input_write_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = estimate(&app, json!({"route_id": "nope"})).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Route not found"))
        );
        for body in [
            json!({"route_id": ""}),
            json!({"route_id": "route-buea-yaounde", "current_time": "tomorrow"}),
            json!({}),
        ] {
            assert_eq!(estimate(&app, body.clone()).await.0, 422, "{body}");
        }
        let (status, _) = send(app.post_raw(
            "/api/ai/estimate-departure",
            r#"{"route_id": "route-buea-yaounde\u0000"}"#,
        ))
        .await;
        assert_eq!(status, 422, "a NUL byte");
        assert_eq!(
            predictions(&app).await,
            0,
            "nothing logged for refused requests"
        );
    }

    /// The original backend's own clients: `utcnow().isoformat()` has no offset.
    #[tokio::test]
    async fn takes_the_original_clients_times_without_offset_as_utc() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let now = Utc::now().naive_utc();
        let (status, body) = estimate(
            &app,
            json!({"route_id": "route-yaounde-douala-morning",
                   "current_time": now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
                   "user_preferences": {"comfort": "high"}}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (input, departure): (Value, DateTime<Utc>) = sqlx::query_as(
            "SELECT p.input, t.departure_time FROM ai_predictions p
             JOIN travel_routes t ON t.id = p.route_id WHERE p.id = $1::text::uuid",
        )
        .bind(body["prediction_id"].as_str().unwrap())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert!(departure > now.and_utc(), "the next departure after it");
        assert_eq!(input["user_preferences"], json!({"comfort": "high"}));
        assert!(input["current_time"].as_str().unwrap().ends_with('Z'));
    }

    #[tokio::test]
    async fn out_of_range_times_and_unbounded_preferences_are_422s_naming_the_field() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let route = "route-buea-yaounde";
        for (body, field) in [
            (
                json!({"route_id": route, "current_time": "0000-01-01T00:00:00"}),
                "current_time",
            ),
            (
                json!({"route_id": route, "current_time": "0000-01-01T00:00:00Z"}),
                "current_time",
            ),
            (
                json!({"route_id": route, "current_time": "99999-01-01T00:00:00"}),
                "current_time",
            ),
            (
                json!({"route_id": route, "user_preferences": {"comfort": "high", "x": 1}}),
                "user_preferences",
            ),
            (
                json!({"route_id": route, "user_preferences": {"amenities": vec!["wifi"; 11]}}),
                "user_preferences.amenities",
            ),
            (
                json!({"route_id": route, "user_preferences": {"amenities": ["x".repeat(100_000)]}}),
                "user_preferences.amenities",
            ),
            (
                json!({"route_id": route, "user_preferences": {"comfort": "x".repeat(1000)}}),
                "user_preferences",
            ),
        ] {
            let (status, answer) = estimate(&app, body.clone()).await;
            assert_eq!(status, 422, "{body}");
            let loc = answer["detail"][0]["loc"].to_string();
            assert!(loc.contains(field), "{loc} for {body}");
        }
        assert_eq!(predictions(&app).await, 0);
    }

    #[tokio::test]
    async fn the_ai_tier_allows_20_calls_a_minute() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let body = json!({"route_id": "route-buea-yaounde"});
        for i in 0..20 {
            assert_eq!(estimate(&app, body.clone()).await.0, 200, "call {}", i + 1);
        }
        let response = app
            .post("/api/ai/estimate-departure", &body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
    }
}
