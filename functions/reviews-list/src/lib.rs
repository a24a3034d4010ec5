//! `GET /api/tourism/attractions/{attraction_id}/reviews?page=1&pageSize=10`:
//! an attraction's reviews, newest first, a page at a time.

use domain::tourism::{Review, attraction_exists, reviews_of};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(list_reviews)))
}

/// Which page: `?page=1&pageSize=10`, at most 50.
type Page = PageQuery<10, 50>;

/// One page of reviews.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ReviewPage {
    items: Vec<Review>,
    /// Reviews of the attraction, on all pages.
    total: i64,
    page: i64,
    page_size: i64,
    /// Whether a later page has more.
    has_more: bool,
}

/// The answer.
#[derive(Serialize, ToSchema)]
struct Reviews {
    success: bool,
    data: ReviewPage,
}

/// The attraction's reviews, newest first (`pageSize` 10 by default, at most 50);
/// 404 when the attraction is unknown.
#[utoipa::path(get, path = "/api/tourism/attractions/{attraction_id}/reviews", tag = "Tourism",
    params(("attraction_id" = String, Path, example = "douala-waterfront"), Page),
    responses((status = 200, body = Reviews), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_reviews(
    State(Db(db)): State<Db>,
    Path(attraction_id): Path<String>,
    Query(paging): Query<Page>,
) -> ApiResult<Json<Reviews>> {
    if !attraction_exists(&db, &attraction_id).await? {
        return Err(not_found(domain::MESSAGES.text("thing-attraction")));
    }
    let (page, page_size, offset) = (paging.page(), paging.size(), paging.offset());
    let items = reviews_of(&db, &attraction_id, page_size, offset).await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM reviews WHERE attraction_id = $1")
        .bind(&attraction_id)
        .fetch_one(&db)
        .await?;
    let has_more = offset + (items.len() as i64) < total;
    Ok(Json(Reviews {
        success: true,
        data: ReviewPage {
            items,
            total,
            page,
            page_size,
            has_more,
        },
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    /// Reviews of the waterfront by `n` users, the first written longest ago;
    /// user 0 has a display name, user 1 only an e-mail, the rest neither.
    async fn given_reviews(app: &TestApp, n: i32) {
        for i in 0..n {
            let uid = format!("user-{i}");
            let (name, email) = match i {
                0 => (Some("Ada Lovelace"), None),
                1 => (None, Some("bob.smith@example.test")),
                _ => (None, None),
            };
            sqlx::query("INSERT INTO users (uid, display_name, email) VALUES ($1, $2, $3)")
                .bind(&uid)
                .bind(name)
                .bind(email)
                .execute(&app.state.db)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO reviews (attraction_id, user_id, rating, comment, images, updated_at)
                 VALUES ('douala-waterfront', $1, $2, $3, $4, now() - make_interval(mins => 100 - $5))",
            )
            .bind(&uid)
            .bind(i % 5 + 1)
            .bind(format!("comment {i}"))
            .bind(vec![format!("https://img.example/{i}.jpg")])
            .bind(i)
            .execute(&app.state.db)
            .await
            .unwrap();
        }
    }

    async fn get(app: &TestApp, path: &str) -> (u16, Value) {
        send(app.get(path)).await
    }

    #[tokio::test]
    async fn pages_reviews_newest_first_in_the_apps_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        given_reviews(&app, 3).await;

        let (status, body) = get(
            &app,
            "/api/tourism/attractions/douala-waterfront/reviews?page=1&pageSize=2",
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["success"], true);
        let data = &body["data"];
        assert_eq!(
            (
                &data["total"],
                &data["page"],
                &data["pageSize"],
                &data["hasMore"]
            ),
            (&json!(3), &json!(1), &json!(2), &json!(true))
        );
        let items = data["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        let newest = items[0].as_object().unwrap();
        let keys: Vec<&String> = newest.keys().collect();
        assert_eq!(
            keys,
            [
                "comment", "date", "id", "images", "rating", "userId", "userName"
            ]
        );
        assert_eq!(newest["userId"], "user-2");
        assert_eq!(newest["userName"], "Traveller", "no name, no email");
        assert_eq!(newest["rating"], 3);
        assert_eq!(newest["comment"], "comment 2");
        assert_eq!(newest["images"], json!(["https://img.example/2.jpg"]));
        assert_eq!(
            items[1]["userName"], "Traveller",
            "never the e-mail's local part"
        );
        let text = body.to_string();
        assert!(!text.contains("bob.smith") && !text.contains('@'), "{text}");

        let (_, body) = get(
            &app,
            "/api/tourism/attractions/douala-waterfront/reviews?page=2&pageSize=2",
        )
        .await;
        assert_eq!(body["data"]["hasMore"], false);
        assert_eq!(body["data"]["items"][0]["userName"], "Ada L.");

        let (_, body) = get(&app, "/api/tourism/attractions/douala-waterfront/reviews").await;
        assert_eq!(
            (&body["data"]["page"], &body["data"]["pageSize"]),
            (&json!(1), &json!(10)),
            "defaults"
        );
        assert_eq!(body["data"]["items"].as_array().unwrap().len(), 3);

        let (_, body) = get(&app, "/api/tourism/attractions/buea-mount-cameroon/reviews").await;
        assert_eq!(
            body,
            json!({"success": true, "data": {"items": [], "total": 0, "page": 1, "pageSize": 10, "hasMore": false}})
        );
    }

    #[tokio::test]
    async fn unknown_attractions_and_bad_pages_are_refused() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = get(&app, "/api/tourism/attractions/atlantis/reviews").await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Attraction not found");

        for (query, field) in [
            ("page=0", "page"),
            ("page=-1", "page"),
            ("pageSize=0", "pageSize"),
            ("pageSize=51", "pageSize"),
            ("pageSize=ten", "pageSize"),
        ] {
            let (status, body) = get(
                &app,
                &format!("/api/tourism/attractions/douala-waterfront/reviews?{query}"),
            )
            .await;
            assert_eq!(status, 422, "{query}");
            assert_eq!(body["detail"][0]["loc"], json!(["query", field]), "{query}");
        }
    }
}
