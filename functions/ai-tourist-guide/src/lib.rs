//! `POST /api/ai/tourist-guide/{attraction_id}`: a short guide to an
//! attraction in English or French, written by Gemini from our data about it
//! (see [`ai::guide`]) under a strict timeout, else a written
//! fallback in the same language: the body's `language`, else the caller's
//! (`Accept-Language`, then their account's). Guides are cached per attraction, language
//! and preferences (a day; a fallback for a minute, so the API is retried).
//! Logged, with its `prediction_id`.

use ai::guide::{self, Cached, Facts, Language};
use ai::{MESSAGES, NewPrediction, log_prediction};
use chrono::{DateTime, Utc};
use domain::tourism::ATTRACTIONS;
use serde_json::{Value, json};
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(tourist_guide)))
}

/// The guide wanted.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
struct TouristGuideRequest {
    /// `en` or `fr`; by default the caller's language (`Accept-Language`,
    /// else their account's, else `en`).
    #[schema(example = "fr")]
    language: Option<String>,
    /// What the visitor cares about: text or an object (at most 1000 characters as JSON).
    #[schema(value_type = Option<Object>)]
    preferences: Option<Value>,
}

impl TouristGuideRequest {
    fn preferences(&self) -> Option<String> {
        match self.preferences.as_ref()? {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

impl Validate for TouristGuideRequest {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .check(
                self.language
                    .as_deref()
                    .is_none_or(|l| Language::parse(l).is_some()),
                "language",
                MESSAGES.text("ai-guide-language"),
            )
            .max_len("preferences", self.preferences().as_deref(), 1000)
            .finish()
    }
}

/// The guide and where it came from.
#[derive(Debug, Serialize, ToSchema)]
struct TouristGuide {
    #[schema(example = "yaounde-national-museum")]
    attraction_id: String,
    guide: String,
    generated_at: DateTime<Utc>,
    #[schema(example = "fr")]
    language: &'static str,
    /// `gemini`, or `fallback` when the API was absent, slow or failing.
    #[schema(example = "gemini")]
    source: String,
    /// Whether this answer came from the cache.
    cached: bool,
    #[schema(value_type = String)]
    prediction_id: Uuid,
}

/// A guide to one attraction; 404 when unknown.
#[utoipa::path(post, path = "/api/ai/tourist-guide/{attraction_id}", tag = "AI",
    params(("attraction_id" = String, Path, example = "yaounde-national-museum")),
    request_body = TouristGuideRequest,
    responses((status = 200, body = TouristGuide), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn tourist_guide(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    lang: Lang,
    Path(attraction_id): Path<String>,
    Json(mut req): Json<TouristGuideRequest>,
) -> ApiResult<Json<TouristGuide>> {
    let sql = format!(
        "SELECT a.id, a.name, c.name AS city, a.description, a.category, a.tags,
                a.opening_hours, a.entry_fee, a.rating
         FROM {ATTRACTIONS} a JOIN cities c ON c.id = a.city_id WHERE a.id = $1"
    );
    let facts: Facts = sqlx::query_as(&sql)
        .bind(&attraction_id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| not_found(domain::MESSAGES.text("thing-attraction")))?;
    let language = req
        .language
        .as_deref()
        .and_then(Language::parse)
        .unwrap_or(Language::from(lang));
    // Logged as answered.
    req.language = Some(language.code().to_owned());
    let preferences = req.preferences();
    let (written, cached) = write(&state, &facts, language, preferences.as_deref()).await;
    let answer = TouristGuide {
        attraction_id,
        guide: written.guide,
        generated_at: written.generated_at,
        language: language.code(),
        source: written.source,
        cached,
        prediction_id: Uuid::new_v4(),
    };
    let gemini = answer.source == "gemini";
    let model = state
        .config
        .gemini
        .as_ref()
        .map(|g| format!("gemini:{}", g.model));
    log_prediction(
        &state.db,
        &NewPrediction {
            id: answer.prediction_id,
            kind: "tourist_guide",
            model_version: model.as_deref().filter(|_| gemini).unwrap_or("template-v1"),
            route_id: None,
            user_id: user.as_ref().map(|u| u.uid.as_str()),
            input: json!(req),
            output: json!(answer),
            // The template states only our data; an LLM's text is unverified.
            confidence: if gemini { 0.5 } else { 1.0 },
            fallback: !gemini,
        },
    )
    .await?;
    Ok(Json(answer))
}

/// The cached guide, else a new one (cached); and whether it was cached.
async fn write(
    state: &AppState,
    facts: &Facts,
    language: Language,
    preferences: Option<&str>,
) -> (Cached, bool) {
    let key = guide::cache_key(state, &facts.id, language, preferences.unwrap_or(""));
    if let Some(hit) = guide::cached(state, &key).await {
        return (hit, true);
    }
    let prompt = guide::prompt(facts, language, preferences);
    let (text, source, ttl) = match guide::generate(state.config.gemini.as_ref(), &prompt).await {
        Ok(text) => (text, "gemini", guide::CACHE_TTL),
        Err(e) => {
            if e != guide::GuideError::NotConfigured {
                tracing::warn!(error = %e, "tourist guide: written fallback served");
            }
            (
                guide::fallback(facts, language),
                "fallback",
                guide::FALLBACK_TTL,
            )
        }
    };
    let written = Cached {
        guide: text,
        source: source.to_owned(),
        generated_at: Utc::now(),
    };
    guide::store(state, &key, &written, ttl).await;
    (written, false)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::post;
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send, serve};

    /// How the test LLM behaves.
    #[derive(Clone, Copy)]
    enum Mode {
        Answer,
        Fail,
        Hang,
    }

    /// A local server speaking Gemini's generateContent; counts its calls and
    /// keeps the last prompt.
    struct Llm {
        url: String,
        hits: Arc<AtomicUsize>,
        prompt: Arc<std::sync::Mutex<String>>,
    }

    async fn llm(mode: Mode) -> Llm {
        let hits = Arc::new(AtomicUsize::new(0));
        let prompt = Arc::new(std::sync::Mutex::new(String::new()));
        let (h, p) = (hits.clone(), prompt.clone());
        let app = Router::new().route(
            "/v1beta/models/{call}",
            post(
                move |headers: HeaderMap, axum::Json(body): axum::Json<Value>| {
                    let (h, p) = (h.clone(), p.clone());
                    async move {
                        h.fetch_add(1, Ordering::SeqCst);
                        assert_eq!(headers["x-goog-api-key"], "test-key");
                        *p.lock().unwrap() = body["contents"][0]["parts"][0]["text"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        match mode {
                        Mode::Answer => axum::Json(json!({"candidates": [{"content": {"parts": [
                            {"text": "Bienvenue au Musée national. "}, {"text": "Une visite riche."}
                        ]}}]}))
                        .into_response(),
                        Mode::Fail => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                        Mode::Hang => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            StatusCode::OK.into_response()
                        }
                    }
                    }
                },
            ),
        );
        let addr = serve(app).await;
        Llm {
            url: format!("http://{addr}"),
            hits,
            prompt,
        }
    }

    async fn app_with(llm: &Llm) -> TestApp {
        TestApp::spawn_with(
            vec![super::function()],
            &[
                ("GEMINI_API_KEY", "test-key"),
                ("GEMINI_API_URL", &llm.url),
                ("GEMINI_MODEL", "gemini-test"),
                ("GEMINI_TIMEOUT_MS", "300"),
            ],
        )
        .await
    }

    async fn guide(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
        send(app.post(&format!("/api/ai/tourist-guide/{id}"), &body)).await
    }

    #[tokio::test]
    async fn uses_the_llms_text_grounded_on_our_data_and_caches_it() {
        let llm = llm(Mode::Answer).await;
        let app = app_with(&llm).await;
        let body = json!({"language": "fr", "preferences": "history"});
        let (status, first) = guide(&app, "yaounde-national-museum", body.clone()).await;
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["attraction_id"], "yaounde-national-museum");
        assert_eq!(
            first["guide"],
            "Bienvenue au Musée national. Une visite riche."
        );
        assert_eq!(
            (first["source"].as_str(), first["cached"].as_bool()),
            (Some("gemini"), Some(false))
        );
        assert!(first["generated_at"].as_str().unwrap().contains('T'));
        let prompt = llm.prompt.lock().unwrap().clone();
        assert!(
            prompt.contains("in French") && prompt.contains("National Museum"),
            "{prompt}"
        );
        assert!(
            prompt.contains("Yaounde") && prompt.contains("history"),
            "{prompt}"
        );

        let (_, second) = guide(&app, "yaounde-national-museum", body).await;
        assert_eq!(second["guide"], first["guide"]);
        assert_eq!(second["cached"], true);
        assert_eq!(second["generated_at"], first["generated_at"]);
        assert_eq!(
            llm.hits.load(Ordering::SeqCst),
            1,
            "the cache answered the second call"
        );
        // Keyed by the SHA-256 of the caller's preferences.
        let key = ai::guide::cache_key(
            &app.state,
            "yaounde-national-museum",
            ai::guide::Language::Fr,
            "history",
        );
        assert!(
            key.ends_with(":259aa8ef98a8b91de574cd904138ef643240c23080cf24da4793a6f10a43fa9d"),
            "{key}"
        );
        let hit = ai::guide::cached(&app.state, &key).await;
        assert_eq!(
            hit.map(|c| c.guide),
            first["guide"].as_str().map(String::from)
        );
        let (_, english) = guide(&app, "yaounde-national-museum", json!({})).await;
        assert_eq!(english["language"], "en");
        assert_eq!(
            llm.hits.load(Ordering::SeqCst),
            2,
            "another language is another guide"
        );
        let version: String = sqlx::query_scalar(
            "SELECT model_version FROM ai_predictions WHERE id = $1::text::uuid",
        )
        .bind(first["prediction_id"].as_str().unwrap())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(version, "gemini:gemini-test");
    }

    #[tokio::test]
    async fn falls_back_within_the_timeout_when_the_llm_hangs() {
        let llm = llm(Mode::Hang).await;
        let app = app_with(&llm).await;
        let started = Instant::now();
        let (status, body) = guide(&app, "buea-mount-cameroon", json!({"language": "fr"})).await;
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(body["source"], "fallback");
        let text = body["guide"].as_str().unwrap();
        assert!(
            text.starts_with("Mount Cameroon") && text.contains("Ouvert"),
            "{text}"
        );
        assert_eq!(llm.hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn falls_back_in_english_when_the_llm_fails_or_is_absent() {
        let llm = llm(Mode::Fail).await;
        let app = app_with(&llm).await;
        let (status, body) = guide(&app, "douala-waterfront", json!({"language": "en"})).await;
        assert_eq!(status, 200);
        assert_eq!(body["source"], "fallback");
        assert!(body["guide"].as_str().unwrap().contains("Open"), "{body}");
        let plain = TestApp::spawn(vec![super::function()]).await;
        let (_, body) = guide(&plain, "douala-waterfront", json!({})).await;
        assert_eq!(body["source"], "fallback");
    }

    #[tokio::test]
    async fn without_a_language_the_guide_is_in_the_callers() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let ask = |body: Value, lang: &str| {
            send(
                app.post("/api/ai/tourist-guide/buea-mount-cameroon", &body)
                    .header("accept-language", lang),
            )
        };
        let (status, french) = ask(json!({}), "fr-CM").await;
        assert_eq!(status, 200, "{french}");
        assert_eq!(french["language"], "fr");
        let text = french["guide"].as_str().unwrap();
        assert!(
            text.contains("Idéal pour : ") && text.contains("emportez de l’eau"),
            "{text}"
        );
        assert!(
            !text.contains("Good for") && !text.contains("Visitors"),
            "{text}"
        );
        let (_, asked) = ask(json!({"language": "en"}), "fr").await;
        assert_eq!(asked["language"], "en", "the body's language wins");
        assert!(asked["guide"].as_str().unwrap().contains("Good for: "));
        let logged: Value =
            sqlx::query_scalar("SELECT input FROM ai_predictions WHERE id = $1::text::uuid")
                .bind(french["prediction_id"].as_str().unwrap())
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert_eq!(logged["language"], "fr", "logged as answered");
        let (status, again) = ask(json!({}), "fr").await;
        assert_eq!(status, 200);
        assert_eq!(again["cached"], true, "one cache entry per language");
        let (status, body) = send(
            app.post("/api/ai/tourist-guide/nope", &json!({}))
                .header("accept-language", "fr"),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Site touristique introuvable"))
        );
    }

    #[tokio::test]
    async fn unknown_attractions_are_404_and_bad_input_422_with_nothing_logged() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = guide(&app, "nope", json!({})).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Attraction not found"))
        );
        let (status, body) = guide(&app, "douala-waterfront", json!({"language": "de"})).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "language"]));
        let long = "x".repeat(1001);
        assert_eq!(
            guide(&app, "douala-waterfront", json!({"preferences": long}))
                .await
                .0,
            422
        );
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM ai_predictions")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
