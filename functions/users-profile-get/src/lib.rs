//! `GET /api/users/profile`: the caller's profile, the original backend's
//! fields beside the app's camelCase ones.

use domain::users::{self, Profile};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(get_profile)))
}

/// The caller's profile; a first-time caller gets the defaults.
#[utoipa::path(get, path = "/api/users/profile", tag = "User",
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody)))]
async fn get_profile(State(Db(db)): State<Db>, user: AuthUser) -> ApiResult<Json<Profile>> {
    let mut conn = db.acquire().await?;
    let row = users::load(&mut conn, &user).await?;
    Ok(Json(row.into()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::testing::{TestApp, send};

    #[tokio::test]
    async fn a_new_user_gets_the_defaults_in_both_shapes() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let request = app.get("/api/users/profile").bearer_auth(app.token("ada"));
        let (status, body) = send(request).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({
                "uid": "ada", "email": "ada@example.test", "phone": null, "display_name": null,
                "language": "en", "notification_enabled": true, "role": "standard",
                "firstName": null, "lastName": null, "phoneNumber": null, "profilePhoto": null,
                "dateOfBirth": null, "gender": null, "displayName": null,
                "preferredLanguage": "en", "notificationsEnabled": true,
            })
        );
    }

    #[tokio::test]
    async fn a_filled_profile_answers_the_same_values_under_both_names() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query(
            "INSERT INTO users (uid, email, phone, display_name, language, notification_enabled,
                 first_name, last_name, profile_photo, date_of_birth, gender)
             VALUES ('ada', 'ada@example.test', '+237 670 00 00 00', 'Ada L.', 'fr', false,
                 'Ada', 'Lovelace', 'https://e.com/ada.jpg', '1990-05-17', 'female')",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        let request = app.get("/api/users/profile").bearer_auth(app.token("ada"));
        let (status, body) = send(request).await;
        assert_eq!(status, 200);
        assert_eq!(body["firstName"], "Ada");
        assert_eq!(body["lastName"], "Lovelace");
        assert_eq!(body["dateOfBirth"], "1990-05-17");
        assert_eq!(body["gender"], "female");
        assert_eq!(body["profilePhoto"], "https://e.com/ada.jpg");
        for (original, app_name) in [
            ("phone", "phoneNumber"),
            ("display_name", "displayName"),
            ("language", "preferredLanguage"),
            ("notification_enabled", "notificationsEnabled"),
        ] {
            assert_eq!(body[original], body[app_name], "{original} = {app_name}");
        }
        assert_eq!(body["language"], "fr");
        assert_eq!(body["notification_enabled"], false);
    }

    #[tokio::test]
    async fn without_a_token_it_is_401() {
        let app = TestApp::spawn(vec![super::function()]).await;
        assert_eq!(send(app.get("/api/users/profile")).await.0, 401);
    }
}
