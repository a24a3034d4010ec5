//! `GET /`: tells a caller the backend is up.

use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(root)))
}

/// The greeting of the original backend.
#[derive(Serialize, ToSchema)]
struct Greeting {
    #[schema(example = "AI-IMUTIS backend is running")]
    message: &'static str,
}

/// Answers whether the backend runs.
#[utoipa::path(get, path = "/", tag = "Health", responses((status = 200, body = Greeting)))]
async fn root() -> Json<Greeting> {
    Json(Greeting {
        message: "AI-IMUTIS backend is running",
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::testing::{TestApp, send};

    #[tokio::test]
    async fn greets_with_the_contract_headers() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let response = app
            .get("/")
            .header("x-request-id", "abc-123")
            .header("x-device-ip", "10.1.2.3")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let h = response.headers().clone();
        assert_eq!(h["x-request-id"], "abc-123");
        assert_eq!(h["x-device-ip"], "10.1.2.3");
        assert!(
            h["x-response-time-ms"]
                .to_str()
                .unwrap()
                .parse::<f64>()
                .is_ok()
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-xss-protection"], "0");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(
            h["content-security-policy"],
            "default-src 'self'; frame-ancestors 'none'; object-src 'none'"
        );
        assert_eq!(
            h["strict-transport-security"],
            "max-age=63072000; includeSubDomains"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, json!({"message": "AI-IMUTIS backend is running"}));

        let (_, second) = send(app.get("/")).await;
        assert_eq!(second, body);
        let generated = app.get("/").send().await.unwrap();
        let id = generated.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(
            id.len(),
            36,
            "a fresh UUID when the client sends none: {id}"
        );
    }
}
