//! `DELETE /api/users/sessions/{session_id}`: the caller revokes one of their
//! device sessions. That device is refused (401) by every function until the
//! user signs in on it again; someone else's session, an unknown one or an
//! id that is not a UUID is a 404 and changes nothing.

use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(revoke_session)))
}

/// Revokes the caller's session `session_id`.
#[utoipa::path(delete, path = "/api/users/sessions/{session_id}", tag = "User",
    security(("FirebaseAuth" = [])),
    params(("session_id" = String, Path, description = "The session's UUID")),
    responses((status = 200, body = Acknowledged), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn revoke_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<Acknowledged>> {
    let id = Uuid::try_parse(&session_id).map_err(|_| not_found("Session"))?;
    if !shared::sessions::revoke(&state, &user.uid, id).await? {
        return Err(not_found("Session"));
    }
    Ok(Json(Acknowledged::new("Session revoked")))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, assert_serves_its_manifest, send};
    use uuid::Uuid;

    async fn spawn() -> TestApp {
        TestApp::spawn(vec![super::function(), users_sessions_list::function()]).await
    }

    /// A request to `path` as `uid` from `device`.
    fn from(
        app: &TestApp,
        request: reqwest::RequestBuilder,
        uid: &str,
        device: &str,
    ) -> reqwest::RequestBuilder {
        request
            .bearer_auth(app.token(uid))
            .header("x-device-id", device)
            .header("x-forwarded-for", "203.0.113.5")
    }

    async fn list(app: &TestApp, uid: &str, device: &str) -> (u16, Value) {
        send(from(app, app.get("/api/users/sessions"), uid, device)).await
    }

    async fn revoke(app: &TestApp, uid: &str, device: &str, id: &str) -> (u16, Value) {
        let url = app.url(&format!("/api/users/sessions/{id}"));
        send(from(app, app.client.delete(url), uid, device)).await
    }

    /// `uid`'s session on `device`: (id, is_active, revoked).
    async fn session(app: &TestApp, uid: &str, device: &str) -> (Uuid, bool, bool) {
        sqlx::query_as(
            "SELECT id, is_active, revoked_at IS NOT NULL FROM device_sessions
             WHERE user_id = $1 AND device_id = $2",
        )
        .bind(uid)
        .bind(device)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_revoked_device_is_refused_and_the_others_keep_working() {
        let app = spawn().await;
        assert_eq!(list(&app, "ada", "phone").await.0, 200);
        assert_eq!(list(&app, "ada", "laptop").await.0, 200);
        let (phone, ..) = session(&app, "ada", "phone").await;

        let (status, body) = revoke(&app, "ada", "laptop", &phone.to_string()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"message": "Session revoked", "success": true}));
        assert_eq!(session(&app, "ada", "phone").await, (phone, false, true));

        let (status, body) = list(&app, "ada", "phone").await;
        assert_eq!(status, 401, "the revoked device is refused: {body}");
        let (status, body) = list(&app, "ada", "laptop").await;
        assert_eq!(status, 200);
        let phone_row = body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["session_id"] == json!(phone))
            .cloned()
            .unwrap();
        assert_eq!(phone_row["is_active"], false);
        assert_eq!(phone_row["isActive"], false);
    }

    #[tokio::test]
    async fn another_users_session_is_404_and_stays_active() {
        let app = spawn().await;
        assert_eq!(list(&app, "ada", "phone").await.0, 200);
        let (ada_phone, ..) = session(&app, "ada", "phone").await;
        let (status, body) = revoke(&app, "bob", "bobs-phone", &ada_phone.to_string()).await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Session not found");
        assert_eq!(body["detail"], "Session not found");
        assert_eq!(
            session(&app, "ada", "phone").await,
            (ada_phone, true, false)
        );
        let (status, bobs) = list(&app, "bob", "bobs-phone").await;
        assert_eq!(status, 200);
        assert_eq!(
            bobs["sessions"].as_array().unwrap().len(),
            1,
            "only bob's own"
        );
        assert_eq!(list(&app, "ada", "phone").await.0, 200, "ada unaffected");
    }

    #[tokio::test]
    async fn unknown_or_malformed_ids_are_404() {
        let app = spawn().await;
        for id in [Uuid::new_v4().to_string().as_str(), "not-a-uuid", "1"] {
            let (status, body) = revoke(&app, "ada", "phone", id).await;
            assert_eq!(status, 404, "{id}");
            assert_eq!(body["message"], "Session not found");
        }
        let (status, _) = revoke(&app, "ada", "phone", "%00").await;
        assert_eq!(status, 422, "NUL in the path");
        let (_, active, _) = session(&app, "ada", "phone").await;
        assert!(active);
    }

    #[tokio::test]
    async fn without_a_token_it_is_401() {
        let app = spawn().await;
        let url = app.url(&format!("/api/users/sessions/{}", Uuid::new_v4()));
        assert_eq!(send(app.client.delete(url)).await.0, 401);
    }

    #[tokio::test]
    async fn serves_its_manifest() {
        assert_serves_its_manifest(super::function()).await;
    }
}
