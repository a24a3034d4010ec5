//! `POST /api/tourism/attractions/{attraction_id}/reviews`: the caller reviews
//! an attraction. One review per user per attraction: posting again rewrites
//! it (201 for a new review, 200 for a rewrite). The attraction's rating is
//! the average of its reviews from then on (computed as attractions are read).

use axum::http::StatusCode;
use domain::MESSAGES;
use domain::tourism::{Review, SELECT_REVIEWS};
use domain::vehicles::{MAX_URL, is_web_url};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(create_review)))
}

/// Most images on one review.
const MAX_IMAGES: usize = 5;
/// Longest comment, in characters.
const MAX_COMMENT: usize = 2000;

/// A review.
#[derive(Deserialize, ToSchema)]
struct NewReview {
    /// A whole number of stars, 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    #[schema(example = 5)]
    rating: i32,
    /// At most 2000 characters (default empty).
    #[schema(max_length = 2000)]
    #[serde(default)]
    #[schema(example = "Beautiful at sunset")]
    comment: String,
    /// At most 5 `http`/`https` image URLs.
    #[serde(default)]
    images: Vec<String>,
}

impl Validate for NewReview {
    fn validate(&self) -> Vec<FieldError> {
        let good_url = |u: &String| u.chars().count() <= MAX_URL && is_web_url(u);
        Validator::body()
            .range("rating", self.rating, 1, 5)
            .max_len("comment", Some(&self.comment), MAX_COMMENT)
            .check(
                self.images.len() <= MAX_IMAGES,
                "images",
                MESSAGES.text("at-most-images").arg("max", MAX_IMAGES),
            )
            .check(
                self.images.iter().all(good_url),
                "images",
                MESSAGES.text("web-urls"),
            )
            .finish()
    }
}

/// The review as stored.
#[derive(Serialize, ToSchema)]
struct Reviewed {
    success: bool,
    data: Review,
}

/// Writes the caller's review of an attraction; 404 when it is unknown.
#[utoipa::path(post, path = "/api/tourism/attractions/{attraction_id}/reviews", tag = "Tourism",
    params(("attraction_id" = String, Path, example = "douala-waterfront")),
    request_body = NewReview, security(("FirebaseAuth" = [])),
    responses((status = 201, body = Reviewed), (status = 200, body = Reviewed),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create_review(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Path(attraction_id): Path<String>,
    Json(review): Json<NewReview>,
) -> ApiResult<(StatusCode, Json<Reviewed>)> {
    let mut tx = db.begin().await?;
    let created = upsert(&mut tx, &attraction_id, &user.uid, &review)
        .await
        .on_constraint("reviews_attraction_id_fkey", || {
            not_found(MESSAGES.text("thing-attraction"))
        })?
        .ok_or_else(|| not_found(MESSAGES.text("thing-attraction")))?;
    let data = sqlx::query_as(&format!(
        "{SELECT_REVIEWS} WHERE r.attraction_id = $1 AND r.user_id = $2"
    ))
    .bind(&attraction_id)
    .bind(&user.uid)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Reviewed {
            success: true,
            data,
        }),
    ))
}

/// Inserts or rewrites the user's review of a served attraction: whether it
/// is new, or `None` when there is no such attraction.
async fn upsert(
    tx: &mut sqlx::PgConnection,
    attraction_id: &str,
    uid: &str,
    review: &NewReview,
) -> Result<Option<bool>, sqlx::Error> {
    // `xmax = 0` only on a freshly inserted row.
    sqlx::query_scalar(
        "INSERT INTO reviews (attraction_id, user_id, rating, comment, images)
         SELECT id, $2, $3, $4, $5 FROM attractions WHERE id = $1 AND location IS NOT NULL
         ON CONFLICT (attraction_id, user_id) DO UPDATE
         SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, images = EXCLUDED.images,
             updated_at = now()
         RETURNING (xmax = 0)",
    )
    .bind(attraction_id)
    .bind(uid)
    .bind(review.rating)
    .bind(&review.comment)
    .bind(&review.images)
    .fetch_optional(tx)
    .await
}

#[cfg(test)]
mod tests {
    use domain::tourism::ATTRACTIONS;
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    const WATERFRONT: &str = "/api/tourism/attractions/douala-waterfront/reviews";

    async fn spawn() -> TestApp {
        TestApp::spawn(vec![super::function(), attractions_get::function()]).await
    }

    async fn review(app: &TestApp, uid: &str, path: &str, body: Value) -> (u16, Value) {
        send(app.post(path, &body).bearer_auth(app.token(uid))).await
    }

    async fn rating(app: &TestApp) -> Value {
        let (status, body) = send(app.get("/api/attractions/douala-waterfront")).await;
        assert_eq!(status, 200);
        assert_eq!(body["rating"], body["rating"].as_f64().unwrap());
        body["rating"].clone()
    }

    /// Every review row, and the rating the waterfront is served with.
    async fn snapshot(app: &TestApp) -> (Vec<(String, String, i32, String)>, f64) {
        let reviews = sqlx::query_as(
            "SELECT attraction_id, user_id, rating, comment FROM reviews ORDER BY attraction_id, user_id",
        )
        .fetch_all(&app.state.db)
        .await
        .unwrap();
        let sql = format!("SELECT a.rating FROM {ATTRACTIONS} a WHERE a.id = 'douala-waterfront'");
        let rating = sqlx::query_scalar(&sql)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        (reviews, rating)
    }

    #[tokio::test]
    async fn writes_the_review_in_the_apps_shape_and_rewrites_it() {
        let app = spawn().await;
        let (status, body) = review(
            &app,
            "ada",
            WATERFRONT,
            json!({"rating": 5, "comment": "Lovely sunset", "images": ["https://img.example/a.jpg"]}),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(body["success"], true);
        let data = body["data"].as_object().unwrap();
        let keys: Vec<&String> = data.keys().collect();
        assert_eq!(
            keys,
            [
                "comment", "date", "id", "images", "rating", "userId", "userName"
            ]
        );
        assert_eq!(data["userId"], "ada");
        assert_eq!(
            data["userName"], "Traveller",
            "never the e-mail's local part"
        );
        assert!(!body.to_string().contains("ada@"), "{body}");
        assert_eq!(data["rating"], 5);
        assert_eq!(data["comment"], "Lovely sunset");
        assert_eq!(data["images"], json!(["https://img.example/a.jpg"]));
        let id = data["id"].clone();

        let (status, body) = review(&app, "ada", WATERFRONT, json!({"rating": 2})).await;
        assert_eq!(status, 200, "a second review rewrites the first");
        assert_eq!(body["data"]["id"], id);
        assert_eq!(
            (
                &body["data"]["rating"],
                &body["data"]["comment"],
                &body["data"]["images"]
            ),
            (&json!(2), &json!(""), &json!([]))
        );
        let (reviews, _) = snapshot(&app).await;
        assert_eq!(
            reviews,
            [("douala-waterfront".into(), "ada".into(), 2, String::new())]
        );
    }

    #[tokio::test]
    async fn the_attractions_rating_follows_its_reviews() {
        let app = spawn().await;
        assert_eq!(
            rating(&app).await,
            4.6,
            "the published rating before any review"
        );
        review(&app, "ada", WATERFRONT, json!({"rating": 5})).await;
        assert_eq!(rating(&app).await, 5.0);
        review(&app, "bob", WATERFRONT, json!({"rating": 4})).await;
        assert_eq!(rating(&app).await, 4.5);
        review(&app, "carol", WATERFRONT, json!({"rating": 4})).await;
        assert_eq!(rating(&app).await, 4.3, "13 / 3 rounded to one decimal");
        review(&app, "ada", WATERFRONT, json!({"rating": 1})).await;
        assert_eq!(rating(&app).await, 3.0, "a rewrite replaces Ada's 5");

        let (_, body) = send(app.get("/api/attractions/douala-waterfront")).await;
        let reviews = body["reviews"].as_array().unwrap();
        assert_eq!(reviews.len(), 3);
        assert_eq!(reviews[0]["userId"], "ada", "the latest write first");

        let (_, other) = send(app.get("/api/attractions/buea-mount-cameroon")).await;
        assert_eq!(other["rating"], 4.9, "other attractions keep theirs");
    }

    #[tokio::test]
    async fn concurrent_reviews_all_count_in_the_rating() {
        let app = spawn().await;
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..8 {
            let stars = if i < 2 { 1 } else { 4 };
            let uid = format!("user-{i}");
            writes.spawn(send(
                app.post(WATERFRONT, &json!({"rating": stars}))
                    .bearer_auth(app.token(&uid)),
            ));
        }
        while let Some(written) = writes.join_next().await {
            assert_eq!(written.unwrap().0, 201);
        }
        assert_eq!(
            snapshot(&app).await.1,
            3.3,
            "26 / 8 rounded: no review was missed"
        );
    }

    #[tokio::test]
    async fn unknown_attractions_and_bad_reviews_change_nothing() {
        let app = spawn().await;
        review(
            &app,
            "ada",
            WATERFRONT,
            json!({"rating": 4, "comment": "ok"}),
        )
        .await;
        let before = snapshot(&app).await;

        let (status, body) = review(
            &app,
            "ada",
            "/api/tourism/attractions/atlantis/reviews",
            json!({"rating": 4}),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Attraction not found");

        let too_many: Vec<String> = (0..6)
            .map(|i| format!("https://img.example/{i}.jpg"))
            .collect();
        for (body, field) in [
            (json!({"rating": 0}), "rating"),
            (json!({"rating": 6}), "rating"),
            (json!({"rating": 4.5}), "rating"),
            (json!({"comment": "no rating"}), "rating"),
            (
                json!({"rating": 3, "comment": "x".repeat(10_000)}),
                "comment",
            ),
            (
                json!({"rating": 3, "images": ["javascript:alert(1)"]}),
                "images",
            ),
            (
                json!({"rating": 3, "images": ["ftp://img.example/a.jpg"]}),
                "images",
            ),
            (json!({"rating": 3, "images": too_many}), "images"),
        ] {
            let (status, answer) = review(&app, "ada", WATERFRONT, body.clone()).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(answer["detail"][0]["loc"], json!(["body", field]), "{body}");
        }
        let (status, _) = send(
            app.post_raw(WATERFRONT, r#"{"rating": 3, "comment": "a\u0000b"}"#)
                .bearer_auth(app.token("ada")),
        )
        .await;
        assert_eq!(status, 422, "NUL bytes are refused");

        let (status, _) = send(app.post(WATERFRONT, &json!({"rating": 1}))).await;
        assert_eq!(status, 401);

        assert_eq!(snapshot(&app).await, before, "nothing was written");
    }
}
