//! `POST /api/tourism/saved-attractions`: the caller saves an attraction,
//! with optional notes. Saving it again keeps the one row and its first save
//! date, and replaces the notes when the request carries some: 201 for a new
//! save, 200 for an update.

use axum::http::StatusCode;
use domain::tourism::{MAX_NOTES, SAVED_COLUMNS, SavedAttraction};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(save_attraction)))
}

/// What to save.
#[derive(Deserialize, ToSchema)]
struct SaveRequest {
    #[schema(example = "douala-waterfront")]
    #[serde(alias = "attractionId")]
    attraction_id: String,
    /// At most 1000 characters; absent keeps the notes of an earlier save.
    #[schema(max_length = 1000)]
    #[schema(example = "Go at sunset")]
    notes: Option<String>,
}

impl Validate for SaveRequest {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .max_len("attraction_id", Some(&self.attraction_id), 200)
            .max_len("notes", self.notes.as_deref(), MAX_NOTES)
            .finish()
    }
}

/// The saved attraction.
#[derive(Serialize, ToSchema)]
struct Saved {
    success: bool,
    data: SavedAttraction,
}

/// Saves an attraction for the caller; 404 when the attraction is unknown.
#[utoipa::path(post, path = "/api/tourism/saved-attractions", tag = "Tourism",
    request_body = SaveRequest, security(("FirebaseAuth" = [])),
    responses((status = 201, body = Saved), (status = 200, body = Saved),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn save_attraction(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Json(req): Json<SaveRequest>,
) -> ApiResult<(StatusCode, Json<Saved>)> {
    // `xmax = 0` only on a freshly inserted row: it tells a new save from an update.
    let sql = format!(
        "INSERT INTO saved_attractions (user_id, attraction_id, notes)
         SELECT $1, id, $3 FROM attractions WHERE id = $2 AND location IS NOT NULL
         ON CONFLICT (user_id, attraction_id)
             DO UPDATE SET notes = COALESCE(EXCLUDED.notes, saved_attractions.notes)
         RETURNING {SAVED_COLUMNS}, (xmax = 0) AS created"
    );
    let row: SaveRow = sqlx::query_as(&sql)
        .bind(&user.uid)
        .bind(&req.attraction_id)
        .bind(&req.notes)
        .fetch_optional(&db)
        .await
        .on_constraint("saved_attractions_attraction_id_fkey", attraction_not_found)?
        .ok_or_else(attraction_not_found)?;
    let status = if row.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Saved {
            success: true,
            data: row.saved,
        }),
    ))
}

fn attraction_not_found() -> ApiError {
    not_found(domain::MESSAGES.text("thing-attraction"))
}

/// What the upsert returns.
#[derive(sqlx::FromRow)]
struct SaveRow {
    created: bool,
    #[sqlx(flatten)]
    saved: SavedAttraction,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    async fn saved_rows(app: &TestApp) -> Vec<(String, String, Option<String>)> {
        sqlx::query_as(
            "SELECT user_id, attraction_id, notes FROM saved_attractions ORDER BY user_id, attraction_id",
        )
        .fetch_all(&app.state.db)
        .await
        .unwrap()
    }

    async fn save(app: &TestApp, uid: &str, body: Value) -> (u16, Value) {
        send(
            app.post("/api/tourism/saved-attractions", &body)
                .bearer_auth(app.token(uid)),
        )
        .await
    }

    #[tokio::test]
    async fn saves_once_and_updates_the_notes() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = save(
            &app,
            "ada",
            json!({"attraction_id": "douala-waterfront", "notes": "sunset"}),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(body["success"], true);
        let data = body["data"].as_object().unwrap();
        let keys: Vec<&String> = data.keys().collect();
        assert_eq!(keys, ["attractionId", "notes", "savedDate", "userId"]);
        assert_eq!(data["userId"], "ada");
        assert_eq!(data["attractionId"], "douala-waterfront");
        assert_eq!(data["notes"], "sunset");
        let saved_date = data["savedDate"].clone();

        let (status, body) = save(
            &app,
            "ada",
            json!({"attraction_id": "douala-waterfront", "notes": "with Bob"}),
        )
        .await;
        assert_eq!(status, 200, "saving again updates");
        assert_eq!(body["data"]["notes"], "with Bob");
        assert_eq!(
            body["data"]["savedDate"], saved_date,
            "first save date kept"
        );

        let (status, body) = save(&app, "ada", json!({"attractionId": "douala-waterfront"})).await;
        assert_eq!(status, 200, "the app's camelCase id works too");
        assert_eq!(
            body["data"]["notes"], "with Bob",
            "no notes keeps the notes"
        );

        let (status, body) = save(&app, "bob", json!({"attraction_id": "douala-waterfront"})).await;
        assert_eq!(status, 201);
        assert_eq!(body["data"]["notes"], json!(null));

        assert_eq!(
            saved_rows(&app).await,
            [
                (
                    "ada".into(),
                    "douala-waterfront".into(),
                    Some("with Bob".into())
                ),
                ("bob".into(), "douala-waterfront".into(), None),
            ]
        );
    }

    #[tokio::test]
    async fn unknown_attractions_and_bad_input_write_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query("UPDATE attractions SET location = NULL WHERE id = 'buea-museum-buea'")
            .execute(&app.state.db)
            .await
            .unwrap();
        for id in ["atlantis", "buea-museum-buea"] {
            let (status, body) = save(&app, "ada", json!({"attraction_id": id})).await;
            assert_eq!(status, 404, "{id}");
            assert_eq!(body["detail"], "Attraction not found");
            assert_eq!(body["message"], "Attraction not found");
        }
        let (status, body) = send(
            app.post(
                "/api/tourism/saved-attractions",
                &json!({"attraction_id": "atlantis"}),
            )
            .bearer_auth(app.token("ada"))
            .header("accept-language", "fr"),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Site touristique introuvable");

        let long = "x".repeat(1001);
        for (body, field) in [
            (
                json!({"attraction_id": "douala-waterfront", "notes": long}),
                "notes",
            ),
            (json!({"notes": "no id"}), "attraction_id"),
            (json!({"attraction_id": 7}), "attraction_id"),
        ] {
            let (status, answer) = save(&app, "ada", body).await;
            assert_eq!(status, 422);
            assert_eq!(answer["detail"][0]["loc"], json!(["body", field]));
        }
        let (status, _) = send(
            app.post_raw(
                "/api/tourism/saved-attractions",
                r#"{"attraction_id": "douala-waterfront", "notes": "a\u0000b"}"#,
            )
            .bearer_auth(app.token("ada")),
        )
        .await;
        assert_eq!(status, 422, "NUL bytes are refused");

        let (status, _) = send(app.post(
            "/api/tourism/saved-attractions",
            &json!({"attraction_id": "douala-waterfront"}),
        ))
        .await;
        assert_eq!(status, 401);
        assert!(saved_rows(&app).await.is_empty());
    }
}
