//! `GET /ai/models/status`: each AI model's version, fit time, sample sizes,
//! whether synthetic data was used, health and fit metrics (the fitted
//! models from `ai_models`; the per-request ones described), and whether the
//! tourist guide's API answers (a cheap check within its timeout, remembered
//! for a minute; `not configured` without a key). Descriptions are written
//! in the caller's language.

use ai::{MESSAGES, departure, guide, traffic};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(models_status)))
}

/// One model.
#[derive(Debug, Serialize, ToSchema)]
struct AiModel {
    #[schema(example = "departure")]
    name: String,
    /// The active version; null before the first fit or for per-request models.
    version: Option<i32>,
    fitted_at: Option<DateTime<Utc>>,
    samples: i64,
    synthetic_samples: i64,
    feedback_samples: i64,
    /// Whether synthetic history went into the fit.
    synthetic: bool,
    /// `ok`, `degraded`, `untrained`.
    health: String,
    #[schema(value_type = Object)]
    metrics: Value,
    /// What the model is, in the caller's language.
    description: String,
}

/// The guide's API.
#[derive(Debug, Serialize, ToSchema)]
struct AiGuideApi {
    /// `ok`, `unreachable` or `not configured`.
    #[schema(example = "not configured")]
    status: &'static str,
    model: Option<String>,
}

/// Every model's state.
#[derive(Debug, Serialize, ToSchema)]
struct AiModelsStatus {
    models: Vec<AiModel>,
    guide_api: AiGuideApi,
    generated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Fitted {
    name: String,
    version: i32,
    fitted_at: DateTime<Utc>,
    samples: i32,
    synthetic_samples: i32,
    feedback_samples: i32,
    health: String,
    metrics: Value,
}

/// The models and the guide API.
#[utoipa::path(get, path = "/ai/models/status", tag = "AI",
    responses((status = 200, body = AiModelsStatus), (status = 429, body = ErrorBody)))]
async fn models_status(
    State(state): State<AppState>,
    lang: Lang,
) -> ApiResult<Json<AiModelsStatus>> {
    let fitted: Vec<Fitted> = sqlx::query_as(
        "SELECT name, version, fitted_at, samples, synthetic_samples, feedback_samples, health, metrics
         FROM ai_models WHERE active",
    )
    .fetch_all(&state.db)
    .await?;
    let describe = |id: &'static str| MESSAGES.text(id).render(lang);
    let mut models: Vec<AiModel> = [
        (departure::MODEL, "ai-model-departure"),
        (traffic::MODEL, "ai-model-traffic"),
    ]
    .into_iter()
    .map(|(name, id)| (name, describe(id)))
    .map(
        |(name, description)| match fitted.iter().find(|f| f.name == name) {
            Some(f) => AiModel {
                name: name.into(),
                version: Some(f.version),
                fitted_at: Some(f.fitted_at),
                samples: f.samples.into(),
                synthetic_samples: f.synthetic_samples.into(),
                feedback_samples: f.feedback_samples.into(),
                synthetic: f.synthetic_samples > 0,
                health: f.health.clone(),
                metrics: f.metrics.clone(),
                description,
            },
            None => unfitted(name, "untrained", description),
        },
    )
    .collect();
    models.push(unfitted(
        "recommendation",
        "ok",
        describe("ai-model-recommendation"),
    ));
    models.push(unfitted(
        "travel_pattern",
        "ok",
        describe("ai-model-travel-pattern"),
    ));
    Ok(Json(AiModelsStatus {
        models,
        guide_api: AiGuideApi {
            status: guide::probe(&state).await,
            model: state.config.gemini.as_ref().map(|g| g.model.clone()),
        },
        generated_at: Utc::now(),
    }))
}

fn unfitted(name: &str, health: &str, description: String) -> AiModel {
    AiModel {
        name: name.into(),
        version: None,
        fitted_at: None,
        samples: 0,
        synthetic_samples: 0,
        feedback_samples: 0,
        synthetic: false,
        health: health.into(),
        metrics: json!({}),
        description,
    }
}

#[cfg(test)]
mod tests {
    use ai::{refit, synthetic};
    use axum::Router;
    use axum::routing::get;
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send, serve};

    fn model<'a>(body: &'a Value, name: &str) -> &'a Value {
        body["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()
    }

    #[tokio::test]
    async fn reports_untrained_then_fitted_models_and_their_synthetic_share() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/ai/models/status")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(model(&body, "departure")["health"], "untrained");
        assert_eq!(model(&body, "departure")["version"], Value::Null);
        assert_eq!(body["guide_api"]["status"], "not configured");
        assert!(
            model(&body, "traffic")["description"]
                .as_str()
                .unwrap()
                .starts_with("speed per corridor and hour of the week")
        );
        let (_, french) = send(app.get("/ai/models/status").header("accept-language", "fr")).await;
        let traffic = model(&french, "traffic");
        assert_eq!(traffic["health"], "untrained", "machine values stay");
        assert_eq!(
            traffic["description"],
            "vitesse par corridor et par heure de la semaine rapportée à la circulation fluide, \
             ajustée par les positions en direct"
        );
        assert!(
            model(&french, "recommendation")["description"]
                .as_str()
                .unwrap()
                .contains("à chaque requête")
        );

        synthetic::seed(&app.state.db, 90, synthetic::DEFAULT_SEED)
            .await
            .unwrap();
        refit::run(&app.state.db, 30).await.unwrap().unwrap();
        let (_, body) = send(app.get("/ai/models/status")).await;
        let d = model(&body, "departure");
        assert_eq!(
            (d["version"].clone(), d["health"].clone()),
            (json!(1), json!("ok"))
        );
        assert_eq!(
            (d["samples"].clone(), d["synthetic"].clone()),
            (json!(1080), json!(true))
        );
        assert!(d["fitted_at"].as_str().unwrap().contains('T'));
        let coverage = d["metrics"]["held_out_coverage"].as_f64().unwrap();
        assert!((0.6..1.0).contains(&coverage), "{d}");
        assert_eq!(model(&body, "traffic")["synthetic_samples"], 1080);
        assert_eq!(model(&body, "recommendation")["health"], "ok");
    }

    #[tokio::test]
    async fn checks_whether_the_guide_api_answers() {
        let up = serve(Router::new().route("/v1beta/models/{model}", get(|| async { "{}" }))).await;
        let app = TestApp::spawn_with(
            vec![super::function()],
            &[
                ("GEMINI_API_KEY", "k"),
                ("GEMINI_API_URL", &format!("http://{up}")),
            ],
        )
        .await;
        let (_, body) = send(app.get("/ai/models/status")).await;
        assert_eq!(body["guide_api"]["status"], "ok");
        assert_eq!(body["guide_api"]["model"], "gemini-2.5-flash");
        let down = TestApp::spawn_with(
            vec![super::function()],
            &[
                ("GEMINI_API_KEY", "k"),
                ("GEMINI_API_URL", "http://127.0.0.1:9"),
                ("GEMINI_TIMEOUT_MS", "300"),
            ],
        )
        .await;
        let (_, body) = send(down.get("/ai/models/status")).await;
        assert_eq!(body["guide_api"]["status"], "unreachable");
    }
}
