//! `GET /api/ai/traffic-prediction/{route_id}`: average speed and congestion
//! on a route's corridor for the current hour of the week, from the fitted
//! traffic model moved by the last 30 minutes of travellers' pings (see
//! [`ai::traffic`]). Logged, with its `prediction_id`.

use ai::traffic::{self, Traffic};
use ai::{NewPrediction, log_prediction, stats::round};
use domain::travel::route_not_found;
use serde_json::json;
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(traffic_prediction)))
}

/// The traffic estimate and its audit id.
#[derive(Serialize, ToSchema)]
struct TrafficPrediction {
    #[serde(flatten)]
    traffic: Traffic,
    #[schema(value_type = String)]
    prediction_id: Uuid,
}

/// Traffic on a route or departure now; 404 when unknown.
#[utoipa::path(get, path = "/api/ai/traffic-prediction/{route_id}", tag = "AI",
    params(("route_id" = String, Path, example = "route-yaounde-douala-morning")),
    responses((status = 200, body = TrafficPrediction), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn traffic_prediction(
    State(Db(db)): State<Db>,
    MaybeUser(user): MaybeUser,
    Path(route_id): Path<String>,
) -> ApiResult<Json<TrafficPrediction>> {
    let traffic = traffic::estimate(&db, &route_id)
        .await?
        .ok_or_else(route_not_found)?;
    let prediction = TrafficPrediction {
        traffic,
        prediction_id: Uuid::new_v4(),
    };
    let t = &prediction.traffic;
    log_prediction(
        &db,
        &NewPrediction {
            id: prediction.prediction_id,
            kind: "traffic",
            model_version: &t.model_version,
            route_id: None,
            user_id: user.as_ref().map(|u| u.uid.as_str()),
            input: json!({"route_id": route_id}),
            output: json!(prediction),
            // Trips behind this hour's speed, as a share of a well-observed hour.
            confidence: round((t.samples as f64 + t.recent_pings as f64) / 12.0, 2).min(0.95),
            fallback: t.source.starts_with("heuristic"),
        },
    )
    .await?;
    Ok(Json(prediction))
}

#[cfg(test)]
mod tests {
    use ai::{refit, synthetic};
    use serde_json::Value;
    use shared::testing::{TestApp, send};

    async fn predict(app: &TestApp, route: &str) -> (u16, Value) {
        send(app.get(&format!("/api/ai/traffic-prediction/{route}"))).await
    }

    /// A departure of `schedule` under way now, and one traveller's pings
    /// along its road at `kmh` over the last minutes.
    pub async fn travelling(app: &TestApp, schedule: &str, kmh: f64) -> String {
        let id: String = sqlx::query_scalar(
            "UPDATE travel_routes SET departure_time = now() - interval '1 hour',
                 estimated_arrival = now() + interval '2 hours'
             WHERE id = (SELECT id FROM travel_routes WHERE schedule_id = $1 ORDER BY departure_time LIMIT 1)
             RETURNING id",
        )
        .bind(schedule)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        sqlx::query("INSERT INTO users (uid) VALUES ('rider') ON CONFLICT DO NOTHING")
            .execute(&app.state.db)
            .await
            .unwrap();
        // Six pings a minute apart along the road, `kmh` apart in distance.
        sqlx::query(
            "INSERT INTO user_locations (user_id, location, activity_type, route_id, recorded_at)
             SELECT 'rider', ST_LineInterpolatePoint(t.geometry,
                        LEAST(1.0, 0.2 + i * ($2 / 60.0) / (ST_Length(t.geometry::geography) / 1000.0))),
                    'traveling', t.id, now() - make_interval(mins => 6 - i)
             FROM travel_routes t, generate_series(0, 5) AS i WHERE t.id = $1",
        )
        .bind(&id)
        .bind(kmh)
        .execute(&app.state.db)
        .await
        .unwrap();
        id
    }

    #[tokio::test]
    async fn fitted_speed_moves_when_pings_show_slower_traffic() {
        let app = TestApp::spawn(vec![super::function()]).await;
        synthetic::seed(&app.state.db, 90, synthetic::DEFAULT_SEED)
            .await
            .unwrap();
        refit::run(&app.state.db, 30).await.unwrap().unwrap();
        let (status, before) = predict(&app, "route-douala-buea-morning").await;
        assert_eq!(status, 200, "{before}");
        assert_eq!(before["route_id"], "route-douala-buea-morning");
        assert_eq!(before["source"], "model");
        assert_eq!(before["model_version"], "traffic-v1");
        let speed = before["average_speed_kmh"].as_f64().unwrap();
        assert!((20.0..80.0).contains(&speed), "{before}");
        let congestion = before["congestion_score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&congestion));
        assert!(before["updated_at"].as_str().unwrap().contains('T'));

        let departure = travelling(&app, "route-douala-buea-morning", 12.0).await;
        let (_, after) = predict(&app, &departure).await;
        assert_eq!(after["source"], "model+pings", "{after}");
        assert_eq!(after["recent_pings"], 5);
        assert!(
            after["average_speed_kmh"].as_f64().unwrap() < speed - 10.0,
            "{after}"
        );
        assert!(after["congestion_score"].as_f64().unwrap() > congestion + 0.1);
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM ai_predictions WHERE kind = 'traffic'")
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn without_a_fit_uses_the_timetable_and_says_so() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = predict(&app, "route-yaounde-douala-morning").await;
        assert_eq!(status, 200);
        assert_eq!(body["source"], "heuristic");
        // 230 km in 225 minutes.
        assert_eq!(body["average_speed_kmh"], 61.3);
        assert!(body["prediction_id"].is_string());
    }

    #[tokio::test]
    async fn unknown_routes_are_404_and_log_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = predict(&app, "nope").await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Route not found"))
        );
        let (status, body) = send(
            app.get("/api/ai/traffic-prediction/nope")
                .header("accept-language", "fr"),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Trajet introuvable"))
        );
        assert_eq!(predict(&app, "a%00b").await.0, 422);
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM ai_predictions")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
