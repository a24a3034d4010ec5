//! `DELETE /api/users/sessions/{session_id}`: the caller revokes one of their
//! device sessions. That device is refused (401) by every function until the
//! user signs in on it again, and so is the sign-in it was using from any
//! other device id; someone else's session, an unknown one or an id that is
//! not a UUID is a 404 and changes nothing.
//!
//! `DELETE /api/users/sessions`: "sign out everywhere". Every session of the
//! caller is revoked and every token signed in until now is refused on every
//! device (this one included), as Firebase's token revocation does, until the
//! user signs in again.

use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(
        OpenApiRouter::new()
            .routes(routes!(revoke_session))
            .routes(routes!(revoke_all_sessions))
    )
}

/// Signs the caller out on every device.
#[utoipa::path(delete, path = "/api/users/sessions", tag = "User",
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = Acknowledged,
        description = "Every session revoked; tokens signed in until now are refused everywhere"),
        (status = 401, body = ErrorBody)))]
async fn revoke_all_sessions(
    State(state): State<AppState>,
    user: AuthUser,
    lang: Lang,
) -> ApiResult<Json<Acknowledged>> {
    shared::sessions::revoke_all(&state, &user.uid).await?;
    let said = shared::i18n::MESSAGES.text("ack-signed-out-everywhere");
    Ok(Json(Acknowledged::said(said, lang)))
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
    lang: Lang,
    Path(session_id): Path<String>,
) -> ApiResult<Json<Acknowledged>> {
    let id = Uuid::try_parse(&session_id)
        .map_err(|_| not_found(shared::i18n::MESSAGES.text("thing-session")))?;
    if !shared::sessions::revoke(&state, &user.uid, id).await? {
        return Err(not_found(shared::i18n::MESSAGES.text("thing-session")));
    }
    let said = shared::i18n::MESSAGES.text("ack-session-revoked");
    Ok(Json(Acknowledged::said(said, lang)))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, TestKeys, claims, send};
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
        // Each device signed in on its own.
        let phone_token = signed_in_at("ada", chrono::Utc::now().timestamp() - 600);
        assert_eq!(list_with(&app, &phone_token, "phone").await, 200);
        assert_eq!(list(&app, "ada", "laptop").await.0, 200);
        let (phone, ..) = session(&app, "ada", "phone").await;

        let (status, body) = revoke(&app, "ada", "laptop", &phone.to_string()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"message": "Session revoked", "success": true}));
        assert_eq!(session(&app, "ada", "phone").await, (phone, false, true));

        let status = list_with(&app, &phone_token, "phone").await;
        assert_eq!(status, 401, "the revoked device is refused");
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

    /// A token of `uid` from a sign-in at `auth_time` (seconds).
    fn signed_in_at(uid: &str, auth_time: i64) -> String {
        let mut c = claims(uid);
        c["auth_time"] = json!(auth_time);
        c["iat"] = json!(auth_time.min(chrono::Utc::now().timestamp()));
        TestKeys::get().sign(&c)
    }

    /// `GET /api/users/sessions` with `token` from `device`.
    async fn list_with(app: &TestApp, token: &str, device: &str) -> u16 {
        let request = app
            .get("/api/users/sessions")
            .bearer_auth(token)
            .header("x-device-id", device)
            .header("x-forwarded-for", "203.0.113.5");
        send(request).await.0
    }

    #[tokio::test]
    async fn signing_out_everywhere_refuses_every_earlier_token_on_every_device() {
        let app = spawn().await;
        let now = chrono::Utc::now().timestamp();
        let phone = signed_in_at("ada", now - 600);
        let laptop = signed_in_at("ada", now - 300);
        assert_eq!(list_with(&app, &phone, "phone").await, 200);
        assert_eq!(list_with(&app, &laptop, "laptop").await, 200);
        assert_eq!(list(&app, "bob", "bobs-phone").await.0, 200);

        let url = app.url("/api/users/sessions");
        let request = app
            .client
            .delete(url)
            .bearer_auth(&laptop)
            .header("x-device-id", "laptop");
        let (status, body) = send(request).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({"message": "Signed out on every device", "success": true})
        );

        assert_eq!(list_with(&app, &phone, "phone").await, 401);
        assert_eq!(
            list_with(&app, &laptop, "laptop").await,
            401,
            "this one too"
        );
        assert_eq!(
            list_with(&app, &phone, "a-new-device").await,
            401,
            "an earlier token on a device never seen before"
        );
        let mut refreshed = claims("ada");
        refreshed["auth_time"] = json!(now - 600);
        refreshed["iat"] = json!(chrono::Utc::now().timestamp());
        assert_eq!(
            list_with(&app, &TestKeys::get().sign(&refreshed), "phone").await,
            401,
            "a refreshed token keeps its sign-in time"
        );
        let (active,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM device_sessions WHERE user_id = 'ada' AND is_active",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(active, 0, "every session shows as revoked");
        assert_eq!(
            list(&app, "bob", "bobs-phone").await.0,
            200,
            "bob unaffected"
        );

        let again = signed_in_at("ada", chrono::Utc::now().timestamp() + 2);
        assert_eq!(
            list_with(&app, &again, "phone").await,
            200,
            "signed in again"
        );
        let (_, active, _) = session(&app, "ada", "phone").await;
        assert!(active, "the device's session is active again");
    }

    #[tokio::test]
    async fn a_stolen_token_under_a_new_device_id_stays_revoked() {
        let app = spawn().await;
        let now = chrono::Utc::now().timestamp();
        let phone = signed_in_at("ada", now - 600);
        let laptop = signed_in_at("ada", now - 300);
        assert_eq!(list_with(&app, &phone, "phone").await, 200);
        assert_eq!(list_with(&app, &laptop, "laptop").await, 200);
        let (phone_session, ..) = session(&app, "ada", "phone").await;
        let (status, _) = revoke(&app, "ada", "laptop", &phone_session.to_string()).await;
        assert_eq!(status, 200);

        for device in ["phone", "thief-1", "thief-2"] {
            assert_eq!(
                list_with(&app, &phone, device).await,
                401,
                "the revoked sign-in from {device}"
            );
        }
        assert_eq!(
            list_with(&app, &laptop, "laptop").await,
            200,
            "another sign-in keeps working"
        );
        let again = signed_in_at("ada", chrono::Utc::now().timestamp() + 2);
        assert_eq!(list_with(&app, &again, "phone").await, 200);
    }

    #[tokio::test]
    async fn without_a_token_it_is_401() {
        let app = spawn().await;
        let url = app.url(&format!("/api/users/sessions/{}", Uuid::new_v4()));
        assert_eq!(send(app.client.delete(url)).await.0, 401);
        let everywhere = app.url("/api/users/sessions");
        assert_eq!(send(app.client.delete(everywhere)).await.0, 401);
    }
}
