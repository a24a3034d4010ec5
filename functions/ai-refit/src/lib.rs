//! `POST /api/ai/refit` (admins): refits every AI model from the data as it
//! stands (observations, feedback, synthetic history) into a new version,
//! in one transaction under an advisory lock; a refit started while another
//! runs skips (`status: "already_running"`). Meant to run on a schedule.

use ai::refit::{self, FittedModel};
use chrono::{DateTime, Utc};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(refit_models)))
}

/// What the refit did.
#[derive(Debug, Serialize, ToSchema)]
struct AiRefit {
    /// `refitted`, or `already_running` when another refit held the lock.
    #[schema(example = "refitted")]
    status: &'static str,
    /// The new versions (empty when skipped).
    models: Vec<FittedModel>,
    finished_at: DateTime<Utc>,
}

/// Refits every model; 403 unless the caller is an admin.
#[utoipa::path(post, path = "/api/ai/refit", tag = "AI",
    responses((status = 200, body = AiRefit), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("FirebaseAuth" = [])))]
async fn refit_models(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<AiRefit>> {
    if user.role != Role::Admin {
        return Err(forbidden(ai::MESSAGES.text("ai-refit-admins-only")));
    }
    let fitted = refit::run(&state.db, state.config.ai_min_samples).await?;
    Ok(Json(AiRefit {
        status: if fitted.is_some() {
            "refitted"
        } else {
            "already_running"
        },
        models: fitted.unwrap_or_default(),
        finished_at: Utc::now(),
    }))
}

#[cfg(test)]
mod tests {
    use ai::{refit, synthetic};
    use serde_json::Value;
    use shared::testing::{TestApp, TestKeys, claims, send};

    fn admin() -> String {
        let mut c = claims("root");
        c["role"] = "admin".into();
        TestKeys::get().sign(&c)
    }

    async fn post(app: &TestApp, token: Option<String>) -> (u16, Value) {
        let request = app.client.post(app.url("/api/ai/refit"));
        send(match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        })
        .await
    }

    #[tokio::test]
    async fn admins_refit_into_a_new_version_with_the_same_parameters() {
        let app = TestApp::spawn(vec![super::function()]).await;
        synthetic::seed(&app.state.db, 90, synthetic::DEFAULT_SEED)
            .await
            .unwrap();
        let (status, first) = post(&app, Some(admin())).await;
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["status"], "refitted");
        let departure = &first["models"][0];
        assert_eq!(departure["name"], "departure");
        assert_eq!(departure["version"], 1);
        assert_eq!(departure["samples"], 1080);
        assert_eq!(departure["synthetic_samples"], 1080);
        assert_eq!(departure["health"], "ok");
        assert_eq!(departure["metrics"]["trusted_buckets"], 12);
        assert_eq!(first["models"][1]["name"], "traffic");
        let params = || async {
            sqlx::query_scalar::<_, Value>(
                "SELECT jsonb_object_agg(model || ':' || key, params) FROM ai_model_params",
            )
            .fetch_one(&app.state.db)
            .await
            .unwrap()
        };
        let before = params().await;
        let (_, second) = post(&app, Some(admin())).await;
        assert_eq!(second["models"][0]["version"], 2);
        assert_eq!(
            params().await,
            before,
            "the same data fits the same parameters"
        );
    }

    #[tokio::test]
    async fn concurrent_refits_never_interleave() {
        let app = TestApp::spawn(vec![super::function()]).await;
        synthetic::seed(&app.state.db, 30, 1).await.unwrap();
        let runs = futures_join(&app).await;
        assert!(runs.iter().any(|r| *r), "at least one ran");
        let (versions, active, keys): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM ai_models WHERE name = 'departure'),
                    (SELECT count(*) FROM ai_models WHERE name = 'departure' AND active),
                    (SELECT count(DISTINCT version) FROM ai_model_params WHERE model = 'departure')",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(versions, runs.iter().filter(|r| **r).count() as i64);
        assert_eq!(
            (active, keys),
            (1, 1),
            "one active version, all its buckets"
        );
    }

    /// Two refits at once; whether each ran (false: it skipped).
    async fn futures_join(app: &TestApp) -> [bool; 2] {
        let (a, b) = tokio::join!(refit::run(&app.state.db, 30), refit::run(&app.state.db, 30));
        [a.unwrap().is_some(), b.unwrap().is_some()]
    }

    #[tokio::test]
    async fn others_are_refused() {
        let app = TestApp::spawn(vec![super::function()]).await;
        assert_eq!(post(&app, None).await.0, 401);
        let (status, body) = post(&app, Some(app.token("ada"))).await;
        assert_eq!(status, 403, "{body}");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM ai_models")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
