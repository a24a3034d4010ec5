//! `GET /api/health`: the service's status, with its Postgres and Redis checks.

use shared::app::{Dependencies, check_dependencies};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(health)))
}

/// The health report: `ok` when both dependencies answer, else `degraded`.
#[derive(Serialize, ToSchema)]
struct Health {
    #[schema(example = "ok")]
    status: &'static str,
    timestamp: chrono::DateTime<chrono::Utc>,
    #[schema(example = "ai-imutis-backend")]
    service: &'static str,
    checks: Dependencies,
}

/// Reports the service status and its dependencies'.
#[utoipa::path(get, path = "/api/health", tag = "Health", responses((status = 200, body = Health)))]
async fn health(State(state): State<AppState>) -> Json<Health> {
    let checks = check_dependencies(&state).await;
    Json(Health {
        status: if checks.all_ok() { "ok" } else { "degraded" },
        timestamp: chrono::Utc::now(),
        service: "ai-imutis-backend",
        checks,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::testing::{TestApp, send};

    #[tokio::test]
    async fn reports_ok_with_both_dependencies_up() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/api/health")).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["service"], "ai-imutis-backend");
        assert_eq!(body["checks"], json!({"postgres": "ok", "redis": "ok"}));
        let ts = body["timestamp"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    }

    #[tokio::test]
    async fn reports_degraded_when_redis_is_unreachable() {
        let app = TestApp::spawn_with(
            vec![super::function()],
            &[("REDIS_URL", "redis://127.0.0.1:1")],
        )
        .await;
        let (status, body) = send(app.get("/api/health")).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "degraded");
        assert_eq!(body["checks"]["redis"], "unavailable");
        assert_eq!(body["checks"]["postgres"], "ok");
        let (ready, _) = send(app.get("/readyz")).await;
        assert_eq!(ready, 200, "Redis is soft: the instance stays in rotation");
    }
}
