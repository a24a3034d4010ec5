//! `POST /api/auth/verify-token`: the platform has already verified the bearer
//! token (401 otherwise); this answers who the caller is, from their user row.
//! The app posts an empty JSON body; any body, or none, is accepted and ignored.

use chrono::{DateTime, Utc};
use domain::users::{self, UserRow};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(verify_token)))
}

/// A valid token's answer: the original's `{uid, role, status}` beside the
/// app's `valid` and `user`.
#[derive(Debug, Serialize, ToSchema)]
struct VerifiedToken {
    uid: String,
    /// `standard` | `premium` | `admin`, from the token's `role` claim.
    #[schema(example = "standard")]
    role: &'static str,
    #[schema(example = "valid")]
    status: &'static str,
    valid: bool,
    user: VerifiedUser,
}

/// The signed-in user as the app's auth context reads it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct VerifiedUser {
    uid: String,
    email: Option<String>,
    phone_number: Option<String>,
    display_name: Option<String>,
    #[serde(rename = "photoURL")]
    photo_url: Option<String>,
    #[schema(example = "en")]
    preferred_language: String,
    notifications_enabled: bool,
    created_at: DateTime<Utc>,
    last_login: Option<DateTime<Utc>>,
}

impl From<UserRow> for VerifiedUser {
    fn from(r: UserRow) -> Self {
        VerifiedUser {
            uid: r.uid,
            email: r.email,
            phone_number: r.phone,
            display_name: r.display_name,
            photo_url: r.profile_photo,
            preferred_language: r.language,
            notifications_enabled: r.notification_enabled,
            created_at: r.created_at,
            last_login: r.last_login,
        }
    }
}

/// Confirms the caller's token and answers their account.
#[utoipa::path(post, path = "/api/auth/verify-token", tag = "User",
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = VerifiedToken), (status = 401, body = ErrorBody)))]
async fn verify_token(State(Db(db)): State<Db>, user: AuthUser) -> ApiResult<Json<VerifiedToken>> {
    let mut conn = db.acquire().await?;
    let row = users::load(&mut conn, &user).await?;
    Ok(Json(VerifiedToken {
        uid: user.uid,
        role: user.role.as_str(),
        status: "valid",
        valid: true,
        user: row.into(),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::testing::{TestApp, send};

    #[tokio::test]
    async fn an_empty_body_answers_the_caller_in_both_shapes() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query(
            "INSERT INTO users (uid, email, phone, display_name, profile_photo, language)
             VALUES ('ada', 'ada@example.test', '+237670000000', 'Ada', 'https://e.com/a.jpg', 'fr')",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        let token = app.token("ada");
        let request = app
            .post_raw("/api/auth/verify-token", "")
            .bearer_auth(&token);
        let (status, body) = send(request).await;
        assert_eq!(status, 200, "{body}");
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["role", "status", "uid", "user", "valid"]);
        assert_eq!(body["uid"], "ada");
        assert_eq!(body["role"], "standard");
        assert_eq!(body["status"], "valid");
        assert_eq!(body["valid"], true);
        let user = &body["user"];
        let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "createdAt",
                "displayName",
                "email",
                "lastLogin",
                "notificationsEnabled",
                "phoneNumber",
                "photoURL",
                "preferredLanguage",
                "uid"
            ]
        );
        assert_eq!(user["email"], "ada@example.test");
        assert_eq!(user["phoneNumber"], "+237670000000");
        assert_eq!(user["displayName"], "Ada");
        assert_eq!(user["photoURL"], "https://e.com/a.jpg");
        assert_eq!(user["preferredLanguage"], "fr");
        assert_eq!(user["notificationsEnabled"], true);
        assert!(user["createdAt"].is_string());
        assert!(
            user["lastLogin"].is_string(),
            "the platform records the sign-in"
        );

        let (status, body) = send(
            app.post("/api/auth/verify-token", &json!({}))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!((status, &body["uid"]), (200, &json!("ada")));
        let bare = app.client.post(app.url("/api/auth/verify-token"));
        let (status, _) = send(bare.bearer_auth(&token)).await;
        assert_eq!(status, 200, "no body and no content type");
    }

    #[tokio::test]
    async fn a_first_time_user_gets_defaults_and_the_token_role() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let mut claims = shared::testing::claims("grace");
        claims["role"] = json!("premium");
        let token = shared::testing::TestKeys::get().sign(&claims);
        let request = app
            .post_raw("/api/auth/verify-token", "")
            .bearer_auth(&token);
        let (status, body) = send(request).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["role"], "premium");
        assert_eq!(body["user"]["email"], "grace@example.test");
        assert_eq!(body["user"]["preferredLanguage"], "en");
        assert_eq!(body["user"]["displayName"], json!(null));
    }

    #[tokio::test]
    async fn without_a_valid_token_it_is_401() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.post_raw("/api/auth/verify-token", "")).await;
        assert_eq!(status, 401);
        assert!(body["message"].is_string() && body["detail"].is_string());
        let forged = app
            .post_raw("/api/auth/verify-token", "")
            .bearer_auth("not.a.token");
        assert_eq!(send(forged).await.0, 401);
    }
}
