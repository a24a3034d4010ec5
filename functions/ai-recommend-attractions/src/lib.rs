//! `POST /api/ai/recommend-attractions`: a city's attractions ranked for the
//! caller. The score (0 to 1) blends the Okapi BM25 relevance of the
//! interests to each attraction's name, category, tags and description
//! (accent- and case-insensitive, English and French, see
//! [`ai::text`]), the relevance of what a signed-in user saved
//! or rated 4 or more, the rating, popularity (reviews and saves) and, when
//! the body gives a position, nearness. `reason` names what matched, in the
//! caller's language. Logged, with its `prediction_id`.

use std::collections::{BTreeMap, HashMap};

use ai::stats::round;
use ai::text::{Document, bm25, terms};
use ai::words::number;
use ai::{MESSAGES, NewPrediction, log_prediction};
use domain::tourism::ATTRACTIONS;
use serde_json::json;
use shared::i18n::clauses;
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(recommend)))
}

/// What the caller likes, and where.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
struct RecommendAttractionsRequest {
    #[schema(example = "yaounde")]
    city_id: String,
    /// Words or phrases, in English or French (at most 20, 100 characters each).
    #[schema(max_items = 20)]
    #[serde(default)]
    #[schema(example = json!(["museum", "history"]))]
    interests: Vec<String>,
    /// 1 to 20 (default 5).
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default = "five")]
    max_results: i64,
    /// Where the caller is (with `longitude`): nearer attractions rank higher.
    latitude: Option<f64>,
    longitude: Option<f64>,
}

fn five() -> i64 {
    5
}

impl Validate for RecommendAttractionsRequest {
    fn validate(&self) -> Vec<FieldError> {
        let mut v = Validator::body()
            .check(
                !self.city_id.trim().is_empty(),
                "city_id",
                shared::i18n::MESSAGES.text("must-not-be-empty"),
            )
            .max_len("city_id", Some(&self.city_id), 100)
            .range("max_results", self.max_results, 1, 20)
            .check(
                self.interests.len() <= 20,
                "interests",
                MESSAGES.text("ai-at-most-interests").arg("max", 20),
            )
            .check(
                self.interests.iter().all(|i| i.chars().count() <= 100),
                "interests",
                MESSAGES.text("ai-interest-too-long").arg("max", 100),
            )
            .check(
                self.latitude.is_some() == self.longitude.is_some(),
                "longitude",
                MESSAGES.text("ai-position-pair"),
            );
        if let (Some(lat), Some(lon)) = (self.latitude, self.longitude) {
            v = v
                .range("latitude", lat, -90.0, 90.0)
                .range("longitude", lon, -180.0, 180.0);
        }
        v.finish()
    }
}

/// One recommended attraction.
#[derive(Debug, Serialize, ToSchema)]
struct AttractionRecommendation {
    #[schema(example = "yaounde-national-museum")]
    attraction_id: String,
    name: String,
    /// 0 to 1, best first.
    #[schema(minimum = 0, maximum = 1)]
    score: f64,
    /// What matched, in words (the caller's language).
    #[schema(example = "matches museum, history; rated 4.5/5")]
    reason: String,
}

/// The ranking and its audit id.
#[derive(Debug, Serialize, ToSchema)]
struct AttractionRecommendations {
    recommendations: Vec<AttractionRecommendation>,
    #[schema(value_type = String)]
    prediction_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: String,
    name: String,
    description: String,
    category: String,
    tags: Vec<String>,
    rating: f64,
    popularity: i64,
    km: Option<f64>,
    saved: bool,
    my_rating: Option<i32>,
}

/// $1 city, $2 latitude, $3 longitude, $4 the caller's uid.
fn candidates_sql() -> String {
    format!(
        "SELECT a.id, a.name, a.description, a.category, a.tags, a.rating,
                (SELECT count(*) FROM reviews r WHERE r.attraction_id = a.id)
                  + (SELECT count(*) FROM saved_attractions s WHERE s.attraction_id = a.id) AS popularity,
                CASE WHEN $2::float8 IS NULL THEN NULL ELSE
                  ST_Distance(a.location::geography, ST_SetSRID(ST_MakePoint($3, $2), 4326)::geography) / 1000.0
                END AS km,
                EXISTS (SELECT 1 FROM saved_attractions s WHERE s.attraction_id = a.id AND s.user_id = $4) AS saved,
                (SELECT r.rating FROM reviews r WHERE r.attraction_id = a.id AND r.user_id = $4) AS my_rating
         FROM {ATTRACTIONS} a WHERE a.city_id = $1 ORDER BY a.id"
    )
}

/// What the caller saved or rated 4 or more, anywhere: their taste.
const TASTE: &str = "
    SELECT a.name || ' ' || a.category || ' ' || array_to_string(a.tags, ' ')
    FROM attractions a
    WHERE a.id IN (SELECT attraction_id FROM saved_attractions WHERE user_id = $1
                   UNION SELECT attraction_id FROM reviews WHERE user_id = $1 AND rating >= 4)
    LIMIT 50";

/// Attractions of a city ranked for the caller; 404 for an unknown city.
#[utoipa::path(post, path = "/api/ai/recommend-attractions", tag = "AI",
    request_body = RecommendAttractionsRequest,
    responses((status = 200, body = AttractionRecommendations), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn recommend(
    State(Db(db)): State<Db>,
    MaybeUser(user): MaybeUser,
    lang: Lang,
    Json(req): Json<RecommendAttractionsRequest>,
) -> ApiResult<Json<AttractionRecommendations>> {
    let uid = user.as_ref().map(|u| u.uid.as_str());
    let city: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cities WHERE id = $1)")
        .bind(&req.city_id)
        .fetch_one(&db)
        .await?;
    if !city {
        return Err(not_found(domain::MESSAGES.text("thing-city")));
    }
    let candidates: Vec<Candidate> = sqlx::query_as(&candidates_sql())
        .bind(&req.city_id)
        .bind(req.latitude)
        .bind(req.longitude)
        .bind(uid)
        .fetch_all(&db)
        .await?;
    let taste: Vec<String> = match uid {
        Some(uid) => sqlx::query_scalar(TASTE).bind(uid).fetch_all(&db).await?,
        None => Vec::new(),
    };
    let mut ranked = rank(&req, &candidates, &taste.join(" "), lang);
    ranked.truncate(req.max_results as usize);
    let answer = AttractionRecommendations {
        prediction_id: Uuid::new_v4(),
        recommendations: ranked,
    };
    log_prediction(
        &db,
        &NewPrediction {
            id: answer.prediction_id,
            kind: "recommendation",
            model_version: "bm25-blend-v1",
            route_id: None,
            user_id: uid,
            input: json!(req),
            output: json!(answer),
            confidence: answer.recommendations.first().map_or(0.0, |r| r.score),
            fallback: false,
        },
    )
    .await?;
    Ok(Json(answer))
}

/// Scores and orders the candidates, best first.
fn rank(
    req: &RecommendAttractionsRequest,
    candidates: &[Candidate],
    taste: &str,
    lang: Lang,
) -> Vec<AttractionRecommendation> {
    let docs: Vec<Document> = candidates
        .iter()
        .map(|c| {
            let tags = c.tags.join(" ").replace('-', " ");
            Document::new(&[
                (&c.name, 3.0),
                (&c.category, 2.0),
                (&tags, 2.0),
                (&c.description, 1.0),
            ])
        })
        .collect();
    // Each query term, and the caller's own word for it (for the reason).
    let mut said: HashMap<String, String> = HashMap::new();
    let mut query: BTreeMap<String, f64> = BTreeMap::new();
    for interest in &req.interests {
        for word in interest.split_whitespace() {
            for t in terms(word) {
                said.entry(t.clone()).or_insert_with(|| word.to_lowercase());
                query.insert(t, 1.0);
            }
        }
    }
    let taste_query: BTreeMap<String, f64> = terms(taste).into_iter().map(|t| (t, 1.0)).collect();
    let relevance = bm25(&query, &docs);
    let liked = bm25(&taste_query, &docs);
    let most_popular = candidates.iter().map(|c| c.popularity).max().unwrap_or(0);
    let mut ranked: Vec<AttractionRecommendation> = candidates
        .iter()
        .zip(relevance.iter().zip(&liked))
        .map(|(c, ((text, matched), (taste, _)))| {
            let saturate = |s: f64| s / (s + 2.0);
            let mut parts: Vec<(f64, f64)> = vec![(0.2, c.rating / 5.0)];
            parts.push((
                0.1,
                (1.0 + c.popularity as f64).ln() / (1.0 + most_popular as f64).ln().max(1.0),
            ));
            if !query.is_empty() {
                parts.push((0.6, saturate(*text)));
            }
            if !taste_query.is_empty() {
                parts.push((0.1, saturate(*taste)));
            }
            if let Some(km) = c.km {
                parts.push((0.15, 1.0 / (1.0 + km / 5.0)));
            }
            let total: f64 = parts.iter().map(|(w, _)| w).sum();
            let score = parts
                .iter()
                .map(|(w, v)| w * v.clamp(0.0, 1.0))
                .sum::<f64>()
                / total;
            AttractionRecommendation {
                attraction_id: c.id.clone(),
                name: c.name.clone(),
                score: round(score.clamp(0.0, 1.0), 3),
                reason: reason(c, matched, &said, *taste > 0.0, lang),
            }
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.name.cmp(&b.name))
    });
    ranked
}

/// What made `c` rank where it did, in `lang`.
fn reason(
    c: &Candidate,
    matched: &[String],
    said: &HashMap<String, String>,
    taste: bool,
    lang: Lang,
) -> String {
    let mut parts = Vec::new();
    if !matched.is_empty() {
        let words: Vec<&str> = matched
            .iter()
            .filter_map(|t| said.get(t).map(String::as_str))
            .collect();
        parts.push(
            MESSAGES
                .text("ai-reason-matches")
                .arg("words", words.join(", ")),
        );
    }
    if c.saved {
        parts.push(MESSAGES.text("ai-reason-saved"));
    } else if let Some(r) = c.my_rating {
        parts.push(MESSAGES.text("ai-reason-you-rated").arg("rating", r));
    } else if taste {
        parts.push(MESSAGES.text("ai-reason-taste"));
    }
    parts.push(
        MESSAGES
            .text("ai-reason-rated")
            .arg("rating", number(lang, c.rating, 1)),
    );
    if let Some(km) = c.km {
        parts.push(
            MESSAGES
                .text("ai-reason-distance")
                .arg("km", number(lang, km, 1)),
        );
    }
    let parts: Vec<String> = parts.iter().map(|p| p.render(lang)).collect();
    clauses(lang, &parts)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, pluck, send};

    async fn recommend(app: &TestApp, body: Value) -> (u16, Value) {
        send(app.post("/api/ai/recommend-attractions", &body)).await
    }

    fn position(body: &Value, id: &str) -> usize {
        pluck(&body["recommendations"], "attraction_id")
            .iter()
            .position(|a| *a == id)
            .unwrap_or_else(|| panic!("{id} not in {body}"))
    }

    #[tokio::test]
    async fn museum_history_ranks_the_national_museum_above_the_zoo_in_both_languages() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for interests in [json!(["museum history"]), json!(["musée", "HISTOIRE"])] {
            let (status, body) = recommend(
                &app,
                json!({"city_id": "yaounde", "interests": interests, "max_results": 20}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let list = body["recommendations"].as_array().unwrap();
            assert_eq!(list.len(), 6, "every located Yaounde attraction");
            assert_eq!(
                list[0]["attraction_id"], "yaounde-national-museum",
                "{body}"
            );
            assert!(
                position(&body, "yaounde-national-museum")
                    < position(&body, "yaounde-mvog-betsi-zoo")
            );
            let reason = list[0]["reason"].as_str().unwrap();
            assert!(reason.starts_with("matches "), "{reason}");
            let scores: Vec<f64> = list.iter().map(|r| r["score"].as_f64().unwrap()).collect();
            assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
            assert!(
                scores.windows(2).all(|w| w[0] >= w[1]),
                "best first: {scores:?}"
            );
            assert!(list[0]["name"].is_string());
            assert!(body["prediction_id"].is_string());
        }
    }

    #[tokio::test]
    async fn max_results_is_respected_and_position_and_taste_count() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (_, body) = recommend(
            &app,
            json!({"city_id": "douala", "interests": ["museum"], "max_results": 2}),
        )
        .await;
        assert_eq!(body["recommendations"].as_array().unwrap().len(), 2);
        let (_, body) = recommend(&app, json!({"city_id": "buea", "interests": []})).await;
        assert_eq!(
            body["recommendations"].as_array().unwrap().len(),
            5,
            "default 5"
        );
        // Standing at the zoo, with no interests: the zoo comes first.
        let (_, body) = recommend(
            &app,
            json!({"city_id": "yaounde", "latitude": 3.8480, "longitude": 11.5020, "max_results": 20}),
        )
        .await;
        let zoo: (f64, f64) = sqlx::query_as(
            "SELECT ST_Y(location), ST_X(location) FROM attractions WHERE id = 'yaounde-mvog-betsi-zoo'",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        let (_, near) = recommend(
            &app,
            json!({"city_id": "yaounde", "latitude": zoo.0, "longitude": zoo.1, "max_results": 20}),
        )
        .await;
        assert!(
            body["recommendations"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("km away")
        );
        assert_eq!(
            near["recommendations"][0]["attraction_id"], "yaounde-mvog-betsi-zoo",
            "{near}"
        );
        // A user who saved the zoo sees it rise for a vague interest.
        let token = app.token("ada");
        let (_, anonymous) =
            recommend(&app, json!({"city_id": "yaounde", "interests": ["nature"]})).await;
        sqlx::query("INSERT INTO users (uid) VALUES ('ada') ON CONFLICT DO NOTHING")
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query("INSERT INTO saved_attractions (user_id, attraction_id) VALUES ('ada', 'yaounde-mvog-betsi-zoo')")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (status, mine) = send(
            app.post(
                "/api/ai/recommend-attractions",
                &json!({"city_id": "yaounde", "interests": ["nature"]}),
            )
            .bearer_auth(token),
        )
        .await;
        assert_eq!(status, 200);
        let zoo_score = |b: &Value| {
            b["recommendations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["attraction_id"] == "yaounde-mvog-betsi-zoo")
                .map(|r| r["score"].as_f64().unwrap())
        };
        assert!(
            zoo_score(&mine).unwrap() > zoo_score(&anonymous).unwrap_or(0.0),
            "{mine}"
        );
        let zoo_reason = mine["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["attraction_id"] == "yaounde-mvog-betsi-zoo")
            .unwrap()["reason"]
            .clone();
        assert!(
            zoo_reason.as_str().unwrap().contains("you saved it"),
            "{zoo_reason}"
        );
    }

    #[tokio::test]
    async fn reasons_are_written_in_the_callers_language() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let body = json!({"city_id": "yaounde", "interests": ["musée histoire"],
                          "latitude": 3.8480, "longitude": 11.5020, "max_results": 20});
        let (status, french) = send(
            app.post("/api/ai/recommend-attractions", &body)
                .header("accept-language", "fr-FR,en;q=0.5"),
        )
        .await;
        assert_eq!(status, 200, "{french}");
        let reason = french["recommendations"][0]["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("correspond à ")
                && reason.contains("musée")
                && reason.contains(" ; noté ")
                && reason.contains("/5 ; à ")
                && reason.ends_with(" km"),
            "{reason}"
        );
        assert!(reason.contains(','), "decimal commas: {reason}");
        let (_, english) = recommend(&app, body).await;
        let reason = english["recommendations"][0]["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("matches ")
                && reason.contains("; rated ")
                && reason.ends_with(" km away"),
            "{reason}"
        );

        sqlx::query("INSERT INTO users (uid, language) VALUES ('ada', 'fr')")
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query("INSERT INTO saved_attractions (user_id, attraction_id) VALUES ('ada', 'yaounde-mvog-betsi-zoo')")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (status, hers) = send(
            app.post(
                "/api/ai/recommend-attractions",
                &json!({"city_id": "yaounde", "interests": ["nature"], "max_results": 20}),
            )
            .bearer_auth(app.token("ada")),
        )
        .await;
        assert_eq!(status, 200, "{hers}");
        let zoo = hers["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["attraction_id"] == "yaounde-mvog-betsi-zoo")
            .unwrap();
        let reason = zoo["reason"].as_str().unwrap();
        assert!(
            reason.contains("vous l’avez enregistré ; noté "),
            "{reason}"
        );
        assert!(
            !reason.contains("saved") && !reason.contains("rated"),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn unknown_cities_are_404_and_bad_input_422_with_nothing_logged() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) =
            recommend(&app, json!({"city_id": "paris", "interests": ["museum"]})).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("City not found"))
        );
        for (body, field) in [
            (
                json!({"city_id": "yaounde", "max_results": 21}),
                "max_results",
            ),
            (
                json!({"city_id": "yaounde", "max_results": 0}),
                "max_results",
            ),
            (json!({"city_id": "yaounde", "latitude": 3.8}), "longitude"),
            (json!({"city_id": ""}), "city_id"),
        ] {
            let (status, answer) = recommend(&app, body.clone()).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(
                answer["detail"][0]["loc"],
                json!(["body", field]),
                "{answer}"
            );
        }
        let (status, _) = send(app.post_raw(
            "/api/ai/recommend-attractions",
            r#"{"city_id": "yaounde", "interests": ["mus\u0000ee"]}"#,
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
