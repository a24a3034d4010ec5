//! `GET /api/tourism/saved-attractions`: the caller's saved attractions,
//! newest first, a page at a time (`?page=1&pageSize=50`, at most 100).

use domain::tourism::{SAVED_COLUMNS, SavedAttraction};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(list_saved)))
}

/// Which page: `?page=1&pageSize=50`, at most 100.
type Page = PageQuery<50, 100>;

/// The caller's saved attractions.
#[derive(Serialize, ToSchema)]
struct SavedList {
    success: bool,
    data: Vec<SavedAttraction>,
}

/// The caller's saved attractions, most recently saved first (`pageSize` 50 by
/// default, at most 100).
#[utoipa::path(get, path = "/api/tourism/saved-attractions", tag = "Tourism", params(Page),
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = SavedList), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_saved(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Query(page): Query<Page>,
) -> ApiResult<Json<SavedList>> {
    let sql = format!(
        "SELECT {SAVED_COLUMNS} FROM saved_attractions WHERE user_id = $1
         ORDER BY saved_at DESC, attraction_id LIMIT $2 OFFSET $3"
    );
    let data = sqlx::query_as(&sql)
        .bind(&user.uid)
        .bind(page.size())
        .bind(page.offset())
        .fetch_all(&db)
        .await?;
    Ok(Json(SavedList {
        success: true,
        data,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::testing::{TestApp, pluck, send};

    async fn save(
        app: &TestApp,
        uid: &str,
        attraction: &str,
        minutes_ago: i32,
        notes: Option<&str>,
    ) {
        sqlx::query("INSERT INTO users (uid, email) VALUES ($1, $1 || '@example.test') ON CONFLICT DO NOTHING")
            .bind(uid)
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO saved_attractions (user_id, attraction_id, notes, saved_at)
             VALUES ($1, $2, $3, now() - make_interval(mins => $4))",
        )
        .bind(uid)
        .bind(attraction)
        .bind(notes)
        .bind(minutes_ago)
        .execute(&app.state.db)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn lists_only_the_callers_saved_attractions_newest_first() {
        let app = TestApp::spawn(vec![super::function()]).await;
        save(&app, "ada", "douala-waterfront", 30, Some("sunset")).await;
        save(&app, "ada", "buea-mount-cameroon", 5, None).await;
        save(&app, "bob", "yaounde-national-museum", 1, Some("bob's")).await;

        let (status, body) = send(
            app.get("/api/tourism/saved-attractions")
                .bearer_auth(app.token("ada")),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["success"], true);
        assert_eq!(
            pluck(&body["data"], "attractionId"),
            ["buea-mount-cameroon", "douala-waterfront"]
        );
        let first = &body["data"][1];
        assert_eq!(first["userId"], "ada");
        assert_eq!(first["notes"], "sunset");
        assert!(first["savedDate"].as_str().unwrap().contains('T'));
        assert_eq!(body["data"][0]["notes"], json!(null));

        let (_, body) = send(
            app.get("/api/tourism/saved-attractions")
                .bearer_auth(app.token("carol")),
        )
        .await;
        assert_eq!(
            body,
            json!({"success": true, "data": []}),
            "a new user has none"
        );

        let (_, body) = send(
            app.get("/api/tourism/saved-attractions?page=2&pageSize=1")
                .bearer_auth(app.token("ada")),
        )
        .await;
        assert_eq!(pluck(&body["data"], "attractionId"), ["douala-waterfront"]);
    }

    #[tokio::test]
    async fn needs_a_token_and_a_sane_page() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/api/tourism/saved-attractions")).await;
        assert_eq!(status, 401);
        assert_eq!(body["message"], "Not authenticated");

        for (query, field) in [
            ("page=0", "page"),
            ("pageSize=0", "pageSize"),
            ("pageSize=101", "pageSize"),
            ("page=x", "page"),
        ] {
            let (status, body) = send(
                app.get(&format!("/api/tourism/saved-attractions?{query}"))
                    .bearer_auth(app.token("ada")),
            )
            .await;
            assert_eq!(status, 422, "{query}");
            assert_eq!(body["detail"][0]["loc"], json!(["query", field]), "{query}");
        }
    }
}
