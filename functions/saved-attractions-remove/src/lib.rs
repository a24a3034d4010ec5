//! `DELETE /api/tourism/saved-attractions/{attraction_id}`: the caller unsaves
//! an attraction. Idempotent: removing one that is not (or no longer) saved
//! answers the same 200, so a retried request is harmless, and nothing tells
//! whether someone else saved it. Only the caller's own row is ever touched.
//! The confirmation is in the caller's language.

use shared::prelude::*;

/// What this function says, in English and French (`locales/`).
pub static MESSAGES: Catalog = shared::catalog!("saved-attractions-remove");

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(remove_saved)))
}

/// The confirmation.
#[derive(Serialize, ToSchema)]
struct Removed {
    success: bool,
    /// In the caller's language.
    #[schema(example = "Removed from saved attractions")]
    message: String,
}

/// Removes an attraction from the caller's saved attractions.
#[utoipa::path(delete, path = "/api/tourism/saved-attractions/{attraction_id}", tag = "Tourism",
    params(("attraction_id" = String, Path, example = "douala-waterfront")),
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = Removed), (status = 401, body = ErrorBody)))]
async fn remove_saved(
    State(Db(db)): State<Db>,
    user: AuthUser,
    lang: Lang,
    Path(attraction_id): Path<String>,
) -> ApiResult<Json<Removed>> {
    sqlx::query("DELETE FROM saved_attractions WHERE user_id = $1 AND attraction_id = $2")
        .bind(&user.uid)
        .bind(&attraction_id)
        .execute(&db)
        .await?;
    Ok(Json(Removed {
        success: true,
        message: MESSAGES.text("saved-attraction-removed").render(lang),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    async fn saved_rows(app: &TestApp) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT user_id, attraction_id FROM saved_attractions ORDER BY user_id, attraction_id",
        )
        .fetch_all(&app.state.db)
        .await
        .unwrap()
    }

    async fn remove(app: &TestApp, uid: &str, attraction: &str) -> (u16, Value) {
        send(
            app.client
                .delete(app.url(&format!("/api/tourism/saved-attractions/{attraction}")))
                .bearer_auth(app.token(uid)),
        )
        .await
    }

    async fn given_saved(app: &TestApp) {
        sqlx::query("INSERT INTO users (uid) VALUES ('ada'), ('bob')")
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO saved_attractions (user_id, attraction_id) VALUES
             ('ada', 'douala-waterfront'), ('ada', 'buea-mount-cameroon'), ('bob', 'douala-waterfront')",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn removes_only_the_callers_row_and_twice_is_harmless() {
        let app = TestApp::spawn(vec![super::function()]).await;
        given_saved(&app).await;

        let (status, body) = remove(&app, "ada", "douala-waterfront").await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"success": true, "message": "Removed from saved attractions"})
        );
        assert_eq!(
            saved_rows(&app).await,
            [
                ("ada".into(), "buea-mount-cameroon".into()),
                ("bob".into(), "douala-waterfront".into()),
            ],
            "Bob's save of the same attraction stays"
        );

        let (status, body) = send(
            app.client
                .delete(app.url("/api/tourism/saved-attractions/douala-waterfront"))
                .bearer_auth(app.token("ada"))
                .header("accept-language", "fr-CM"),
        )
        .await;
        assert_eq!(status, 200, "removing again is harmless");
        assert_eq!(
            body,
            json!({"success": true, "message": "Retiré de vos sites enregistrés"}),
            "and says so in the caller's language"
        );
        let (status, _) = remove(&app, "ada", "atlantis").await;
        assert_eq!(status, 200, "so is an attraction never saved");
        assert_eq!(saved_rows(&app).await.len(), 2);
    }

    #[tokio::test]
    async fn another_user_cannot_remove_your_saves() {
        let app = TestApp::spawn(vec![super::function()]).await;
        given_saved(&app).await;
        let (status, _) = remove(&app, "mallory", "buea-mount-cameroon").await;
        assert_eq!(status, 200, "same answer as for any unsaved attraction");
        assert_eq!(saved_rows(&app).await.len(), 3, "Ada's row is still there");

        let (status, body) = send(
            app.client
                .delete(app.url("/api/tourism/saved-attractions/buea-mount-cameroon")),
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(body["message"], "Not authenticated");
        assert_eq!(saved_rows(&app).await.len(), 3);
    }
}
