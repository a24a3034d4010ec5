//! `POST /api/travels/estimate`: when a departure will really leave, as
//! windows of Africa/Douala local time around its scheduled time. Computed
//! from the corridor's observed departures near that hour (`trip_observations`);
//! with too few of them, a heuristic window flagged as such in `notes`. Every
//! estimate is logged in `ai_predictions`.

use chrono::{Duration, NaiveTime};
use serde_json::json;
use shared::domain::travel::{douala_day_sql, is_departure_date, route_not_found};
use shared::prelude::*;
use std::sync::LazyLock;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(estimate_departure)))
}

/// Fewer observed departures than this and the estimate is a heuristic.
const MIN_OBSERVATIONS: usize = 10;

/// An estimate request.
#[derive(Deserialize, Serialize, ToSchema)]
struct EstimateRequest {
    /// A departure id, or a daily route's id (then `departure_date` picks the day).
    #[schema(example = "route-yaounde-douala-morning")]
    route_id: String,
    /// An ISO instant (its Africa/Douala day) or `YYYY-MM-DD`.
    #[schema(example = "2026-11-27T11:00:00.000Z")]
    departure_date: Option<String>,
    /// 1 to 20 (default 1).
    #[serde(default = "one")]
    passengers: i32,
    /// Accepted for the app's sake; not used yet.
    #[schema(value_type = Option<Object>)]
    user_preferences: Option<serde_json::Value>,
}

fn one() -> i32 {
    1
}

impl Validate for EstimateRequest {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .check(
                !self.route_id.trim().is_empty(),
                "route_id",
                "must not be empty",
            )
            .max_len("route_id", Some(&self.route_id), 200)
            .check(
                self.departure_date.as_deref().is_none_or(is_departure_date),
                "departure_date",
                "must be an ISO 8601 instant or YYYY-MM-DD",
            )
            .range("passengers", self.passengers, 1, 20)
            .finish()
    }
}

/// A span of local time the departure may fall in.
#[derive(Debug, Serialize, ToSchema)]
struct Window {
    /// `HH:MM-HH:MM`, Africa/Douala time.
    #[schema(example = "06:00-06:30")]
    label: String,
    /// The same value as `label` (the AI endpoint's field name).
    #[schema(example = "06:00-06:30")]
    window: String,
    /// 0 to 1: the estimated chance of leaving in this window.
    confidence: f64,
    recommended: bool,
}

/// Windows around the scheduled time; exactly one recommended.
#[derive(Serialize, ToSchema)]
struct Estimate {
    route_id: String,
    windows: Vec<Window>,
    /// How the windows were obtained (`heuristic: ...` when not from data).
    notes: String,
}

/// The departure meant: by its id, or a schedule's next one (on the given day).
static DEPARTURE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT t.id, t.origin, t.destination, (t.departure_time AT TIME ZONE 'Africa/Douala')::time
         FROM travel_routes t
         WHERE t.id = $1 OR (t.schedule_id = $1 AND t.departure_time > now()
               AND ($2::text IS NULL OR (t.departure_time AT TIME ZONE 'Africa/Douala')::date = {day}))
         ORDER BY (t.id = $1) DESC, t.departure_time LIMIT 1",
        day = douala_day_sql(2)
    )
});

/// Minutes between each recent departure observed on the corridor and its
/// schedule: the linked departure's time, else the scheduled local time ($3)
/// on the day it left. Observations more than an hour early or three late
/// belong to another departure.
const DELAYS: &str = "
    SELECT delay FROM (
        SELECT extract(epoch FROM o.departed_at - COALESCE(r.departure_time,
                   ((o.departed_at AT TIME ZONE 'Africa/Douala')::date + $3::time) AT TIME ZONE 'Africa/Douala'))::float8 / 60 AS delay,
               o.departed_at
        FROM trip_observations o LEFT JOIN travel_routes r ON r.id = o.route_id
        WHERE fold(o.origin) = fold($1) AND fold(o.destination) = fold($2)
          AND (r.id IS NULL OR (r.departure_time AT TIME ZONE 'Africa/Douala')::time = $3::time)
        ORDER BY o.departed_at DESC LIMIT 2000
    ) d WHERE delay BETWEEN -60 AND 180";

/// Departure windows for a route; 404 when unknown.
#[utoipa::path(post, path = "/api/travels/estimate", tag = "AI",
    request_body = EstimateRequest,
    responses((status = 200, body = Estimate), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn estimate_departure(
    State(state): State<AppState>,
    Json(req): Json<EstimateRequest>,
) -> ApiResult<Json<Estimate>> {
    let (departure_id, origin, destination, scheduled): (String, String, String, NaiveTime) =
        sqlx::query_as(DEPARTURE.as_str())
            .bind(&req.route_id)
            .bind(&req.departure_date)
            .fetch_optional(&state.db)
            .await?
            .ok_or_else(route_not_found)?;
    let delays: Vec<f64> = sqlx::query_scalar(DELAYS)
        .bind(&origin)
        .bind(&destination)
        .bind(scheduled)
        .fetch_all(&state.db)
        .await?;
    let (windows, notes, fallback) = windows(scheduled, &delays, &origin, &destination);
    let estimate = Estimate {
        route_id: req.route_id.clone(),
        windows,
        notes,
    };
    log_prediction(&state, &departure_id, &req, &estimate, fallback).await?;
    Ok(Json(estimate))
}

/// The windows, the notes, and whether they are the heuristic fallback.
fn windows(
    scheduled: NaiveTime,
    delays: &[f64],
    origin: &str,
    destination: &str,
) -> (Vec<Window>, String, bool) {
    let at = scheduled.format("%H:%M");
    if delays.len() < MIN_OBSERVATIONS {
        let windows = vec![
            window(scheduled, -30, 0, 0.2, false),
            window(scheduled, 0, 30, 0.5, true),
            window(scheduled, 30, 60, 0.2, false),
        ];
        let notes = format!(
            "heuristic: no observed history ({} observed departures on {origin} - {destination} \
             around {at}, {MIN_OBSERVATIONS} needed); scheduled {at}, windows around it",
            delays.len()
        );
        return (windows, notes, true);
    }
    let mut sorted = delays.to_vec();
    sorted.sort_by(f64::total_cmp);
    let round5 = |m: f64| (m / 5.0).round() as i64 * 5;
    let low = round5(quantile(&sorted, 0.1));
    let high = round5(quantile(&sorted, 0.9)).max(low + 10);
    let share = |from: i64, to: i64| {
        let inside = sorted
            .iter()
            .filter(|&&d| d >= from as f64 && d < to as f64)
            .count();
        // Laplace's rule: honest for small samples, never exactly 0 or 1.
        (inside as f64 + 1.0) / (sorted.len() as f64 + 2.0)
    };
    let windows = vec![
        window(scheduled, low - 30, low, share(low - 30, low), false),
        window(scheduled, low, high, share(low, high), true),
        window(scheduled, high, high + 30, share(high, high + 30), false),
    ];
    let notes = format!(
        "from {} observed departures on {origin} - {destination} around {at}: median {} min \
         after schedule, 80% between {low} and {high} min",
        sorted.len(),
        round5(quantile(&sorted, 0.5)),
    );
    (windows, notes, false)
}

/// The `q` quantile of sorted, non-empty `values`, interpolated.
fn quantile(values: &[f64], q: f64) -> f64 {
    let pos = q * (values.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    let next = values.get(i + 1).copied().unwrap_or(values[i]);
    values[i] + (next - values[i]) * frac
}

fn window(scheduled: NaiveTime, from: i64, to: i64, confidence: f64, recommended: bool) -> Window {
    let at = |m: i64| {
        (scheduled + Duration::minutes(m))
            .format("%H:%M")
            .to_string()
    };
    let label = format!("{}-{}", at(from), at(to));
    Window {
        window: label.clone(),
        label,
        confidence: (confidence * 100.0).round() / 100.0,
        recommended,
    }
}

/// Records the estimate for later comparison with what happened.
async fn log_prediction(
    state: &AppState,
    departure_id: &str,
    req: &EstimateRequest,
    estimate: &Estimate,
    fallback: bool,
) -> ApiResult<()> {
    let recommended = estimate.windows.iter().find(|w| w.recommended);
    let version = if fallback {
        "heuristic-v1"
    } else {
        "observed-quantiles-v1"
    };
    sqlx::query(
        "INSERT INTO ai_predictions (kind, model_version, route_id, input, output, confidence, fallback)
         VALUES ('departure_window', $1, $2, $3, $4, $5, $6)",
    )
    .bind(version)
    .bind(departure_id)
    .bind(json!(req))
    .bind(json!(estimate))
    .bind(recommended.map_or(0.0, |w| w.confidence))
    .bind(fallback)
    .execute(&state.db)
    .await?;
    Ok(())
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
                   "passengers": 2, "user_preferences": {"prefer": "early"}}),
        )
        .await;
        assert_heuristic(status, &body);
    }

    fn assert_heuristic(status: u16, body: &Value) {
        assert_eq!(status, 200, "{body}");
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["notes", "route_id", "windows"]);
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
                .starts_with("heuristic: no observed history"),
            "{}",
            body["notes"]
        );
    }

    #[tokio::test]
    async fn learns_windows_from_observed_departures() {
        let app = TestApp::spawn(vec![super::function()]).await;
        // 20 past departures of the 15:00 Yaounde-Douala bus, 10 to 29 minutes late,
        // plus noise from other hours and another corridor that must not count.
        sqlx::query(
            "INSERT INTO trip_observations (origin, destination, departed_at, arrived_at)
             SELECT 'YAOUNDÉ', 'Douala', dep, dep + interval '3 hours'
             FROM (SELECT (((now() AT TIME ZONE 'Africa/Douala')::date - i) + time '15:00'
                           + make_interval(mins => 9 + i)) AT TIME ZONE 'Africa/Douala' AS dep
                   FROM generate_series(1, 20) AS i) d
             UNION ALL
             SELECT 'Yaounde', 'Douala', dep, dep + interval '3 hours'
             FROM (SELECT (((now() AT TIME ZONE 'Africa/Douala')::date - i) + time '06:00')
                           AT TIME ZONE 'Africa/Douala' AS dep FROM generate_series(1, 20) AS i) d
             UNION ALL
             SELECT 'Douala', 'Yaounde', now() - make_interval(days => i), now() - make_interval(days => i) + interval '3 hours'
             FROM generate_series(1, 20) AS i",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
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
        // Delays 10..29 min: the 10th-90th percentiles are about 12 and 27, rounded to 5.
        assert_eq!(best[0]["label"], "15:10-15:25");
        assert_eq!(best[0]["window"], "15:10-15:25");
        let c = best[0]["confidence"].as_f64().unwrap();
        assert!(c > 0.6 && c < 1.0, "{c}");
        let notes = body["notes"].as_str().unwrap();
        assert!(notes.starts_with("from 20 observed departures"), "{notes}");
        let (fallback, version): (bool, String) = sqlx::query_as(
            "SELECT fallback, model_version FROM ai_predictions WHERE route_id = $1",
        )
        .bind(&departure)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(
            (fallback, version.as_str()),
            (false, "observed-quantiles-v1")
        );
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
        ] {
            let (status, answer) = estimate(&app, body.clone()).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(answer["detail"][0]["loc"], json!(["body", field]));
        }
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM ai_predictions")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(n, 0, "nothing logged for refused requests");
    }

    #[test]
    fn windows_wrap_around_midnight() {
        let t = chrono::NaiveTime::from_hms_opt(23, 50, 0).unwrap();
        let (w, _, fallback) = super::windows(t, &[], "A", "B");
        assert!(fallback);
        assert_eq!(w[1].label, "23:50-00:20");
    }

    #[tokio::test]
    async fn serves_its_manifest() {
        shared::testing::assert_serves_its_manifest(super::function()).await;
    }
}
