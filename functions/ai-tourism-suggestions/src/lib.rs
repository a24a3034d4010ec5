//! `GET /api/ai/tourism-suggestions/{city_id}`: what to do in a city. Its
//! best attractions (rating and popularity), groups of nearby ones worth one
//! outing (PostGIS `ST_ClusterDBSCAN`, 2.5 km), and travel advice from the
//! city's daily routes and, where the departure-window model is trusted,
//! their observed delays, in the caller's language. Logged, with its
//! `prediction_id`.

use std::collections::BTreeMap;

use ai::departure::Params;
use ai::words::{and_list, duration, number, on_day};
use ai::{MESSAGES, NewPrediction, log_prediction, stats::round};
use domain::tourism::ATTRACTIONS;
use serde_json::json;
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(suggestions)))
}

/// Suggestions for a city.
#[derive(Debug, Serialize, ToSchema)]
struct TourismSuggestions {
    #[schema(example = "buea")]
    city_id: String,
    suggestions: Vec<String>,
    #[schema(value_type = String)]
    prediction_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct Spot {
    name: String,
    category: String,
    rating: f64,
    popularity: i64,
    cluster: Option<i32>,
    latitude: f64,
    longitude: f64,
}

/// $1 city: its attractions, each with its DBSCAN cluster (2.5 km, pairs and up).
fn spots_sql() -> String {
    format!(
        "SELECT a.name, a.category, a.rating,
                (SELECT count(*) FROM reviews r WHERE r.attraction_id = a.id)
                  + (SELECT count(*) FROM saved_attractions s WHERE s.attraction_id = a.id) AS popularity,
                ST_ClusterDBSCAN(ST_Transform(a.location, 3857), eps := 2500, minpoints := 2) OVER () AS cluster,
                ST_Y(a.location) AS latitude, ST_X(a.location) AS longitude
         FROM {ATTRACTIONS} a WHERE a.city_id = $1"
    )
}

#[derive(sqlx::FromRow)]
struct Departure {
    destination: String,
    at: String,
    duration_minutes: i32,
    params: Option<sqlx::types::Json<Params>>,
}

/// $1 city: the daily routes leaving it, with their departure-window bucket.
const DEPARTURES: &str = "
    SELECT s.destination, to_char(s.departure_time_of_day, 'HH24:MI') AS at, s.duration_minutes, p.params
    FROM route_schedules s
    LEFT JOIN ai_model_params p ON p.model = 'departure'
         AND p.key = fold(s.origin) || '|' || fold(s.destination) || '|' || extract(hour FROM s.departure_time_of_day)::int
    WHERE s.is_daily AND s.is_active AND s.origin_city_id = $1
    ORDER BY s.destination, s.departure_time_of_day";

/// Suggestions for a city; 404 when unknown.
#[utoipa::path(get, path = "/api/ai/tourism-suggestions/{city_id}", tag = "AI",
    params(("city_id" = String, Path, example = "buea")),
    responses((status = 200, body = TourismSuggestions), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn suggestions(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    lang: Lang,
    Path(city_id): Path<String>,
) -> ApiResult<Json<TourismSuggestions>> {
    let city: String = sqlx::query_scalar("SELECT name FROM cities WHERE id = $1")
        .bind(&city_id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| not_found(domain::MESSAGES.text("thing-city")))?;
    let spots: Vec<Spot> = sqlx::query_as(&spots_sql())
        .bind(&city_id)
        .fetch_all(&state.db)
        .await?;
    let departures: Vec<Departure> = sqlx::query_as(DEPARTURES)
        .bind(&city_id)
        .fetch_all(&state.db)
        .await?;
    let mut lines = best(&spots, lang);
    lines.extend(outings(&spots, lang));
    let min_samples = state.config.ai_min_samples as usize;
    let (advice, coverage) = travel_advice(&city, &departures, min_samples, lang);
    lines.extend(advice);
    let answer = TourismSuggestions {
        city_id,
        suggestions: lines,
        prediction_id: Uuid::new_v4(),
    };
    log_prediction(
        &state.db,
        &NewPrediction {
            id: answer.prediction_id,
            kind: "tourism_suggestions",
            model_version: "dbscan-departure-v1",
            route_id: None,
            user_id: user.as_ref().map(|u| u.uid.as_str()),
            input: json!({"city_id": answer.city_id}),
            output: json!(answer),
            confidence: coverage.unwrap_or(0.5),
            fallback: coverage.is_none(),
        },
    )
    .await?;
    Ok(Json(answer))
}

/// The three best attractions: rating, then popularity.
fn best(spots: &[Spot], lang: Lang) -> Vec<String> {
    let mut ranked: Vec<&Spot> = spots.iter().collect();
    ranked.sort_by(|a, b| {
        b.rating
            .total_cmp(&a.rating)
            .then(b.popularity.cmp(&a.popularity))
            .then(a.name.cmp(&b.name))
    });
    ranked
        .iter()
        .take(3)
        .map(|s| {
            MESSAGES
                .text("ai-tourism-best")
                .arg("name", &s.name)
                .arg("category", &s.category)
                .arg("rating", number(lang, s.rating, 1))
                .render(lang)
        })
        .collect()
}

/// One line per DBSCAN cluster: the places close enough for one outing.
fn outings(spots: &[Spot], lang: Lang) -> Vec<String> {
    let mut clusters: BTreeMap<i32, Vec<&Spot>> = BTreeMap::new();
    for s in spots {
        if let Some(c) = s.cluster {
            clusters.entry(c).or_default().push(s);
        }
    }
    clusters
        .values()
        .map(|group| {
            let mut names: Vec<&str> = group.iter().map(|s| s.name.as_str()).collect();
            names.sort();
            let span = group
                .iter()
                .flat_map(|a| group.iter().map(move |b| km(a, b)))
                .fold(0.0, f64::max);
            MESSAGES
                .text("ai-tourism-outing")
                .arg("places", and_list(lang, &names))
                .arg("km", number(lang, span, 1))
                .render(lang)
        })
        .collect()
}

/// Great-circle distance in km.
fn km(a: &Spot, b: &Spot) -> f64 {
    let (la, lb) = (a.latitude.to_radians(), b.latitude.to_radians());
    let (dlat, dlon) = (lb - la, (b.longitude - a.longitude).to_radians());
    let h = (dlat / 2.0).sin().powi(2) + la.cos() * lb.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// One line per destination: the daily departures, and the most punctual
/// one where the model is trusted; the mean held-out coverage behind them.
fn travel_advice(
    city: &str,
    departures: &[Departure],
    min_samples: usize,
    lang: Lang,
) -> (Vec<String>, Option<f64>) {
    let mut by_destination: BTreeMap<&str, Vec<&Departure>> = BTreeMap::new();
    for d in departures {
        by_destination.entry(&d.destination).or_default().push(d);
    }
    let mut coverage = Vec::new();
    let lines = by_destination
        .iter()
        .map(|(destination, list)| {
            let times: Vec<&str> = list.iter().map(|d| d.at.as_str()).collect();
            let mut line = MESSAGES
                .text("ai-tourism-departures")
                .arg("city", city)
                .arg("destination", *destination)
                .arg("times", times.join(", "))
                .arg("duration", duration(lang, list[0].duration_minutes))
                .render(lang);
            let trusted = list
                .iter()
                .filter_map(|d| Some((d, &d.params.as_ref()?.0)))
                .filter(|(_, p)| p.trusted && p.samples >= min_samples)
                .min_by(|a, b| a.1.median.total_cmp(&b.1.median));
            if let Some((d, p)) = trusted {
                coverage.push(p.confidence);
                let (late_day, shift) = p
                    .weekday_shift
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or((0, 0.0), |(d, s)| (d, *s));
                let punctual = MESSAGES
                    .text("ai-tourism-punctual")
                    .arg("at", &d.at)
                    .arg("delay", number(lang, p.median, 0))
                    .arg("day", on_day(late_day))
                    .arg("shift", number(lang, shift, 0))
                    .arg("samples", p.samples);
                line.push(' ');
                line.push_str(&punctual.render(lang));
            }
            line
        })
        .collect();
    let mean = (!coverage.is_empty())
        .then(|| round(coverage.iter().sum::<f64>() / coverage.len() as f64, 2));
    (lines, mean)
}

#[cfg(test)]
mod tests {
    use ai::{refit, synthetic};
    use serde_json::Value;
    use shared::testing::{TestApp, send};

    async fn suggest(app: &TestApp, city: &str) -> (u16, Value) {
        send(app.get(&format!("/api/ai/tourism-suggestions/{city}"))).await
    }

    fn lines(body: &Value) -> Vec<&str> {
        body["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn best_places_outings_and_advice_from_observed_delays() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = suggest(&app, "buea").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["city_id"], "buea");
        let before = lines(&body);
        assert_eq!(
            before[0],
            "Don't miss Mount Cameroon (nature, rated 4.9/5)."
        );
        assert!(
            before.iter().any(|l| l.starts_with("Combine ")),
            "{before:?}"
        );
        let to_douala = before
            .iter()
            .find(|l| l.starts_with("Buea to Douala"))
            .unwrap();
        assert!(
            to_douala.contains("06:30, 13:00") && !to_douala.contains("punctual"),
            "{to_douala}"
        );

        synthetic::seed(&app.state.db, 90, synthetic::DEFAULT_SEED)
            .await
            .unwrap();
        refit::run(&app.state.db, 30).await.unwrap().unwrap();
        let (_, body) = suggest(&app, "buea").await;
        let after = lines(&body);
        let to_douala = after
            .iter()
            .find(|l| l.starts_with("Buea to Douala"))
            .unwrap();
        assert!(
            to_douala.contains("The most punctual is the"),
            "{to_douala}"
        );
        assert!(
            to_douala.contains("(90 observed departures)"),
            "{to_douala}"
        );
        assert!(body["prediction_id"].is_string());
    }

    #[tokio::test]
    async fn suggestions_are_written_in_the_callers_language() {
        let app = TestApp::spawn(vec![super::function()]).await;
        synthetic::seed(&app.state.db, 90, synthetic::DEFAULT_SEED)
            .await
            .unwrap();
        refit::run(&app.state.db, 30).await.unwrap().unwrap();
        let (status, body) = send(
            app.get("/api/ai/tourism-suggestions/buea")
                .header("accept-language", "fr"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let french = lines(&body);
        assert_eq!(
            french[0],
            "Ne manquez pas Mount Cameroon (nature, noté 4,9/5)."
        );
        assert!(
            french
                .iter()
                .any(|l| l.starts_with("Combinez ") && l.contains(" en une seule sortie : ")),
            "{french:?}"
        );
        let to_douala = french
            .iter()
            .find(|l| {
                l.starts_with("De Buea à Douala : départs quotidiens à 06:30, 13:00, environ ")
            })
            .unwrap_or_else(|| panic!("{french:?}"));
        assert!(
            to_douala.contains(" h ")
                && to_douala.contains("Le plus ponctuel est celui de ")
                && to_douala.contains("(90 départs observés)."),
            "{to_douala}"
        );
        for english in [
            "miss",
            "Combine ",
            "daily",
            "punctual",
            "observed",
            "timetable",
        ] {
            assert!(
                french.iter().all(|l| !l.contains(english)),
                "{english} in {french:?}"
            );
        }
        let (status, missing) = send(
            app.get("/api/ai/tourism-suggestions/paris")
                .header("accept-language", "fr"),
        )
        .await;
        assert_eq!(
            (status, missing["message"].as_str()),
            (404, Some("Ville introuvable"))
        );
    }

    #[tokio::test]
    async fn unknown_cities_are_404_and_log_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = suggest(&app, "paris").await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("City not found"))
        );
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM ai_predictions")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
