//! `POST /api/ai/analyze-travel-pattern`: a route's demand trend. Over the
//! last `recent_trips` departures of the route that have left, a
//! least-squares line of occupancy (seats taken over seats) against the
//! departure's order: `rising` or `falling` when its slope is significant
//! (confidence 1 - p, p the two-sided tail of the slope's t-statistic under
//! Student's t with n - 2 degrees of freedom), else `stable`
//! (confidence p: how well a flat line fits). A second insight counts what is
//! already booked on the coming departures. Commentaries are written in the
//! caller's language. Logged, with its `prediction_id`.

use ai::stats::{least_squares, mean, round, student_t_two_sided_p};
use ai::words::{number, percent, signed};
use ai::{MESSAGES, NewPrediction, log_prediction};
use chrono::{DateTime, Utc};
use domain::travel::route_not_found;
use serde_json::json;
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(analyze)))
}

/// The route to analyze.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
struct TravelPatternRequest {
    /// A route's id or one of its departures'.
    #[schema(example = "route-yaounde-douala-morning")]
    route_id: String,
    /// How many of the latest departures, 1 to 100 (default 10).
    #[schema(minimum = 1, maximum = 100)]
    #[serde(default = "ten")]
    recent_trips: i64,
}

fn ten() -> i64 {
    10
}

impl Validate for TravelPatternRequest {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .check(
                !self.route_id.trim().is_empty(),
                "route_id",
                shared::i18n::MESSAGES.text("must-not-be-empty"),
            )
            .max_len("route_id", Some(&self.route_id), 200)
            .range("recent_trips", self.recent_trips, 1, 100)
            .finish()
    }
}

/// One finding.
#[derive(Debug, Serialize, ToSchema)]
struct TravelInsight {
    /// `rising`, `falling`, `stable`, `insufficient_data` or `upcoming`.
    #[schema(example = "rising")]
    trend: String,
    /// 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    confidence: f64,
    commentary: String,
}

/// The analysis.
#[derive(Debug, Serialize, ToSchema)]
struct TravelPattern {
    route_id: String,
    insights: Vec<TravelInsight>,
    generated_at: DateTime<Utc>,
    #[schema(value_type = String)]
    prediction_id: Uuid,
}

/// $1 a route or departure id, $2 how many: the route's latest departures
/// that have left (oldest first) with their seats, then its coming ones
/// summed up, all in one row per departure with `upcoming` marking the sum.
const DEPARTURES: &str = "
    WITH route AS (
        SELECT COALESCE(t.schedule_id, t.id) AS schedule, t.id
        FROM travel_routes t WHERE t.id = $1 OR t.schedule_id = $1
        ORDER BY (t.id = $1) DESC, abs(extract(epoch FROM t.departure_time - now())) LIMIT 1
    ), siblings AS (
        SELECT t.* FROM travel_routes t, route
        WHERE (t.schedule_id = route.schedule OR t.id = route.id) AND t.cancelled_at IS NULL
    ), past AS (
        SELECT departure_time, total_seats, available_seats, false AS upcoming FROM siblings
        WHERE departure_time <= now() AND total_seats > 0
        ORDER BY departure_time DESC LIMIT $2
    )
    SELECT (SELECT id FROM route) AS departure, departure_time, total_seats::int8 AS total_seats,
           available_seats::int8 AS available_seats, upcoming
    FROM past
    UNION ALL
    SELECT (SELECT id FROM route), min(departure_time), sum(total_seats), sum(available_seats), true
    FROM siblings WHERE departure_time > now() AND departure_time <= now() + interval '14 days'
    HAVING EXISTS (SELECT 1 FROM route)
    ORDER BY upcoming, departure_time";

/// A row of [`DEPARTURES`].
#[derive(sqlx::FromRow)]
struct Row {
    departure: Option<String>,
    total_seats: Option<i64>,
    available_seats: Option<i64>,
    upcoming: bool,
}

/// The demand trend of a route; 404 when unknown.
#[utoipa::path(post, path = "/api/ai/analyze-travel-pattern", tag = "AI",
    request_body = TravelPatternRequest,
    responses((status = 200, body = TravelPattern), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn analyze(
    State(Db(db)): State<Db>,
    MaybeUser(user): MaybeUser,
    lang: Lang,
    Json(req): Json<TravelPatternRequest>,
) -> ApiResult<Json<TravelPattern>> {
    let rows: Vec<Row> = sqlx::query_as(DEPARTURES)
        .bind(&req.route_id)
        .bind(req.recent_trips)
        .fetch_all(&db)
        .await?;
    let departure = rows
        .first()
        .and_then(|r| r.departure.clone())
        .ok_or_else(route_not_found)?;
    let past: Vec<f64> = rows
        .iter()
        .filter(|r| !r.upcoming)
        .filter_map(|r| Some(1.0 - r.available_seats? as f64 / r.total_seats? as f64))
        .collect();
    let mut insights = vec![trend(&past, lang)];
    if let Some(Row {
        total_seats: Some(total),
        available_seats: Some(free),
        ..
    }) = rows.iter().find(|r| r.upcoming)
    {
        let taken = total - free;
        insights.push(TravelInsight {
            trend: "upcoming".into(),
            confidence: 1.0,
            commentary: MESSAGES
                .text("ai-pattern-upcoming")
                .arg("taken", taken)
                .arg("total", *total)
                .arg(
                    "share",
                    percent(lang, taken as f64 / (*total).max(1) as f64),
                )
                .render(lang),
        });
    }
    let pattern = TravelPattern {
        route_id: req.route_id.clone(),
        insights,
        generated_at: Utc::now(),
        prediction_id: Uuid::new_v4(),
    };
    let first = &pattern.insights[0];
    log_prediction(
        &db,
        &NewPrediction {
            id: pattern.prediction_id,
            kind: "travel_pattern",
            model_version: "least-squares-v1",
            route_id: Some(&departure),
            user_id: user.as_ref().map(|u| u.uid.as_str()),
            input: json!(req),
            output: json!(pattern),
            confidence: first.confidence,
            fallback: first.trend == "insufficient_data",
        },
    )
    .await?;
    Ok(Json(pattern))
}

/// The occupancy trend of departures in order (oldest first), told in `lang`.
fn trend(occupancy: &[f64], lang: Lang) -> TravelInsight {
    let x: Vec<f64> = (0..occupancy.len()).map(|i| i as f64).collect();
    let Some(line) = least_squares(&x, occupancy) else {
        return TravelInsight {
            trend: "insufficient_data".into(),
            confidence: 0.0,
            commentary: MESSAGES
                .text("ai-pattern-too-few")
                .arg("count", occupancy.len())
                .render(lang),
        };
    };
    // The slope's t has n - 2 degrees of freedom (two parameters fitted).
    let p = student_t_two_sided_p(line.t, (line.n - 2) as f64);
    let (label, confidence) = match (p < 0.05, line.slope > 0.0) {
        (true, true) => ("rising", 1.0 - p),
        (true, false) => ("falling", 1.0 - p),
        (false, _) => ("stable", p),
    };
    let first = line.intercept;
    let last = line.intercept + line.slope * (occupancy.len() - 1) as f64;
    TravelInsight {
        trend: label.into(),
        confidence: round(confidence.clamp(0.0, 0.99), 2),
        commentary: MESSAGES
            .text("ai-pattern-trend")
            .arg("count", occupancy.len())
            .arg("mean", percent(lang, mean(occupancy)))
            .arg("first", percent(lang, first))
            .arg("last", percent(lang, last))
            .arg("slope", signed(lang, 100.0 * line.slope, 1))
            .arg("r2", number(lang, line.r2, 2))
            .arg("t", number(lang, line.t, 1))
            .render(lang),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    async fn analyze(app: &TestApp, body: Value) -> (u16, Value) {
        send(app.post("/api/ai/analyze-travel-pattern", &body)).await
    }

    /// Past departures of a route, one a day, with the given seats taken out
    /// of 10 (in place of today's seeded one, if it has left).
    async fn history(app: &TestApp, schedule: &str, taken: &[i32]) {
        sqlx::query("DELETE FROM travel_routes WHERE schedule_id = $1 AND departure_time <= now()")
            .bind(schedule)
            .execute(&app.state.db)
            .await
            .unwrap();
        for (i, t) in taken.iter().enumerate() {
            sqlx::query(
                "INSERT INTO travel_routes (id, schedule_id, origin, destination, departure_time,
                     estimated_arrival, total_seats, available_seats, price_per_seat, confidence)
                 SELECT $1 || '-past-' || $2, id, origin, destination,
                        now() - make_interval(days => $3), now() - make_interval(days => $3) + interval '3 hours',
                        10, 10 - $4, price_per_seat, 0.9
                 FROM route_schedules WHERE id = $1",
            )
            .bind(schedule)
            .bind(i as i32)
            .bind((taken.len() - i) as i32)
            .bind(t)
            .execute(&app.state.db)
            .await
            .unwrap();
        }
    }

    #[tokio::test]
    async fn finds_rising_demand_with_a_confidence_from_the_fit() {
        let app = TestApp::spawn(vec![super::function()]).await;
        history(
            &app,
            "route-yaounde-douala-morning",
            &[9, 9, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8],
        )
        .await;
        let (status, body) = analyze(
            &app,
            json!({"route_id": "route-yaounde-douala-morning", "recent_trips": 10}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["route_id"], "route-yaounde-douala-morning");
        let trend = &body["insights"][0];
        assert_eq!(trend["trend"], "rising", "{body}");
        assert!(trend["confidence"].as_f64().unwrap() > 0.95);
        let commentary = trend["commentary"].as_str().unwrap();
        assert!(commentary.contains("last 10 departures"), "{commentary}");
        assert_eq!(body["insights"][1]["trend"], "upcoming");
        assert!(body["generated_at"].as_str().unwrap().contains('T'));

        let (_, flat) = analyze(
            &app,
            json!({"route_id": "route-yaounde-douala-morning", "recent_trips": 2}),
        )
        .await;
        assert_eq!(flat["insights"][0]["trend"], "insufficient_data");
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM ai_predictions WHERE kind = 'travel_pattern'")
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn commentary_is_written_in_the_callers_language() {
        let app = TestApp::spawn(vec![super::function()]).await;
        history(
            &app,
            "route-yaounde-douala-morning",
            &[1, 2, 2, 3, 4, 5, 5, 6, 7, 8],
        )
        .await;
        let ask = |body: Value| {
            send(
                app.post("/api/ai/analyze-travel-pattern", &body)
                    .header("accept-language", "fr"),
            )
        };
        let (status, body) =
            ask(json!({"route_id": "route-yaounde-douala-morning", "recent_trips": 10})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["insights"][0]["trend"], "rising",
            "machine values stay"
        );
        let trend = body["insights"][0]["commentary"].as_str().unwrap();
        assert!(
            trend.starts_with("taux d’occupation sur les 10 derniers départs : ")
                && trend.contains("\u{202F}% en moyenne, ajusté de ")
                && trend.contains(" points par départ, R² 0,"),
            "{trend}"
        );
        let upcoming = body["insights"][1]["commentary"].as_str().unwrap();
        assert!(
            upcoming.contains(" déjà réservé")
                && upcoming.ends_with("sur les départs des 14 prochains jours"),
            "{upcoming}"
        );
        let (_, few) =
            ask(json!({"route_id": "route-yaounde-douala-morning", "recent_trips": 2})).await;
        assert_eq!(
            few["insights"][0]["commentary"],
            "2 départs de ce trajet ont eu lieu ; une tendance en demande au moins 3"
        );
        for text in [trend, upcoming] {
            for english in ["occupancy", "departures", "average", "booked", "seats"] {
                assert!(!text.contains(english), "{english} in {text}");
            }
        }
        let (_, english) = send(app.post(
            "/api/ai/analyze-travel-pattern",
            &json!({"route_id": "route-yaounde-douala-morning", "recent_trips": 2}),
        ))
        .await;
        assert_eq!(
            english["insights"][0]["commentary"],
            "2 departures of this route have left; a trend needs at least 3"
        );
    }

    /// Ten departures whose slope has t = 2.07: the normal tail would call it
    /// rising (p = 0.038); Student's t with 8 degrees of freedom says p = 0.072.
    #[tokio::test]
    async fn a_slope_is_judged_by_students_t_with_n_minus_2_degrees_of_freedom() {
        let app = TestApp::spawn(vec![super::function()]).await;
        history(
            &app,
            "route-douala-buea-morning",
            &[2, 7, 4, 5, 7, 4, 4, 7, 7, 8],
        )
        .await;
        let (status, body) = analyze(
            &app,
            json!({"route_id": "route-douala-buea-morning", "recent_trips": 10}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let trend = &body["insights"][0];
        assert_eq!(trend["trend"], "stable", "{body}");
        assert_eq!(trend["confidence"], 0.07, "{body}");
        assert!(
            trend["commentary"].as_str().unwrap().contains("t 2.1"),
            "{body}"
        );
    }

    /// What `scripts/dev` serves: on the synthetic history every daily route
    /// has departures that left with their bookings, so an answer is a trend.
    #[tokio::test]
    async fn the_synthetic_history_gives_every_route_a_trend() {
        use ai::synthetic;
        let app = TestApp::spawn(vec![super::function()]).await;
        for _ in 0..2 {
            synthetic::seed(&app.state.db, 90, synthetic::DEFAULT_SEED)
                .await
                .unwrap();
        }
        let (unbalanced, booked): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE t.available_seats + COALESCE(b.n, 0) <> t.total_seats),
                    count(*) FILTER (WHERE b.n > 0 AND t.departure_time < now())
             FROM travel_routes t LEFT JOIN (
                 SELECT route_id, sum(passengers) AS n FROM bookings
                 WHERE status <> 'cancelled' GROUP BY route_id) b ON b.route_id = t.id",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(
            unbalanced, 0,
            "a rerun gave the seats back before booking again"
        );
        let routes: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM route_schedules WHERE is_daily AND is_active ORDER BY id",
        )
        .fetch_all(&app.state.db)
        .await
        .unwrap();
        // 90 days of departures that left, but for the day still under way,
        // whose departures may not all have left at this hour.
        assert!(booked >= 89 * routes.len() as i64, "{booked}");
        let mut trends = std::collections::BTreeSet::new();
        for route in &routes {
            let (status, body) =
                analyze(&app, json!({"route_id": route, "recent_trips": 60})).await;
            assert_eq!(status, 200, "{body}");
            let trend = body["insights"][0]["trend"].as_str().unwrap().to_owned();
            assert!(
                ["rising", "falling", "stable"].contains(&trend.as_str()),
                "{body}"
            );
            let commentary = body["insights"][0]["commentary"].as_str().unwrap();
            assert!(commentary.contains("last 60 departures"), "{commentary}");
            trends.insert(trend);
        }
        assert!(trends.len() >= 2, "the routes differ: {trends:?}");
    }

    #[tokio::test]
    async fn steady_demand_is_stable_and_a_departure_id_works_too() {
        let app = TestApp::spawn(vec![super::function()]).await;
        history(&app, "route-buea-yaounde", &[5, 6, 5, 6, 5, 6, 5, 6]).await;
        let departure: String = sqlx::query_scalar(
            "SELECT id FROM travel_routes WHERE schedule_id = 'route-buea-yaounde' AND departure_time > now() LIMIT 1",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        let (status, body) = analyze(&app, json!({"route_id": departure})).await;
        assert_eq!(status, 200);
        assert_eq!(body["insights"][0]["trend"], "stable", "{body}");
        let c = body["insights"][0]["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c));
    }

    #[tokio::test]
    async fn unknown_routes_are_404_and_bad_input_422_with_nothing_logged() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = analyze(&app, json!({"route_id": "nope"})).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Route not found"))
        );
        for body in [
            json!({"route_id": "route-buea-yaounde", "recent_trips": 0}),
            json!({"route_id": "route-buea-yaounde", "recent_trips": 101}),
            json!({"route_id": ""}),
        ] {
            assert_eq!(analyze(&app, body.clone()).await.0, 422, "{body}");
        }
        let (status, _) = send(app.post_raw(
            "/api/ai/analyze-travel-pattern",
            r#"{"route_id": "route-buea\u0000"}"#,
        ))
        .await;
        assert_eq!(status, 422);
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM ai_predictions")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
