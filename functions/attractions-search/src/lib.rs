//! `POST /api/attractions/search`: attractions whose name, description or
//! category contains the query, ignoring case and accents. The description
//! searched is the one the caller reads: French callers find French words.

use domain::tourism::{Attraction, SELECT_ATTRACTIONS, Translations};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(search_attractions)))
}

/// A search request.
#[derive(Deserialize, ToSchema)]
struct SearchRequest {
    #[schema(example = "museum")]
    query: String,
    city_id: Option<String>,
    category: Option<String>,
    /// 0 to 5.
    #[schema(minimum = 0, maximum = 5)]
    #[serde(default)]
    min_rating: f64,
}

impl Validate for SearchRequest {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .max_len("query", Some(&self.query), 200)
            .range("min_rating", self.min_rating, 0.0, 5.0)
            .finish()
    }
}

/// Matching attractions, best rated first.
#[derive(Serialize, ToSchema)]
struct SearchResults {
    results: Vec<Attraction>,
}

/// Searches attractions by text, optionally within a city or category.
///
/// `description` is in the caller's language, and so is the description
/// searched; `?translations=true` adds `descriptions` in each language.
#[utoipa::path(post, path = "/api/attractions/search", tag = "Tourism",
    request_body = SearchRequest, params(Translations),
    responses((status = 200, body = SearchResults), (status = 422, body = ErrorBody)))]
async fn search_attractions(
    State(ReadDb(db)): State<ReadDb>,
    lang: Lang,
    Query(translations): Query<Translations>,
    Json(req): Json<SearchRequest>,
) -> ApiResult<Json<SearchResults>> {
    let sql = format!(
        r"{SELECT_ATTRACTIONS}
         WHERE (fold(a.name) LIKE fold($1) ESCAPE '\'
                OR fold(CASE WHEN $5 = 'fr' THEN COALESCE(NULLIF(btrim(a.description_fr), ''), a.description)
                             ELSE a.description END) LIKE fold($1) ESCAPE '\'
                OR fold(a.category) LIKE fold($1) ESCAPE '\')
           AND ($2::text IS NULL OR a.city_id = $2)
           AND ($3::text IS NULL OR fold(a.category) = fold($3))
           AND a.rating >= $4
         ORDER BY a.rating DESC, a.name"
    );
    let results: Vec<Attraction> = sqlx::query_as(&sql)
        .bind(contains_pattern(&req.query))
        .bind(req.city_id)
        .bind(req.category)
        .bind(req.min_rating)
        .bind(lang.code())
        .fetch_all(&db)
        .await?;
    let results = results
        .into_iter()
        .map(|a| a.localized(lang, translations))
        .collect();
    Ok(Json(SearchResults { results }))
}

/// A `LIKE` pattern matching `query` anywhere, its wildcards escaped (the SQL
/// folds its case and accents as it folds the columns).
fn contains_pattern(query: &str) -> String {
    let mut pattern = String::from("%");
    for c in query.trim().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, pluck, send};

    fn ids(body: &Value) -> Vec<&str> {
        pluck(&body["results"], "id")
    }

    #[tokio::test]
    async fn matches_name_description_or_category_case_and_accent_insensitively() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let search = |body: Value| send(app.post("/api/attractions/search", &body));

        let (status, body) = search(json!({"query": "MUSÉE"})).await;
        assert_eq!(
            (status, ids(&body).len()),
            (200, 0),
            "no French museum names"
        );

        let (status, body) = search(json!({"query": "Musèum", "city_id": "douala"})).await;
        assert_eq!(status, 200);
        assert_eq!(
            ids(&body),
            ["douala-maritime-museum", "douala-littoral-state-museum"]
        );

        let (_, body) = search(json!({"query": "NATURE", "min_rating": 4.7})).await;
        assert_eq!(
            ids(&body),
            [
                "buea-mount-cameroon",
                "buea-botanical-garden",
                "yaounde-mount-febe-viewpoint"
            ]
        );

        let (_, body) =
            search(json!({"query": "", "category": "Culture", "city_id": "buea"})).await;
        assert_eq!(ids(&body).len(), 2);

        let (_, body) = search(json!({"query": "100%_"})).await;
        assert_eq!(ids(&body).len(), 0, "wildcards in the query are literal");
    }

    #[tokio::test]
    async fn results_carry_both_field_sets_and_skip_unlocated_attractions() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query(
            "UPDATE attractions SET location = NULL WHERE id = 'douala-littoral-state-museum'",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        let (status, body) = send(app.post(
            "/api/attractions/search",
            &json!({"query": "museum", "city_id": "douala"}),
        ))
        .await;
        assert_eq!(status, 200);
        assert_eq!(ids(&body), ["douala-maritime-museum"]);
        let museum = &body["results"][0];
        assert_eq!(museum["city_id"], "douala");
        assert_eq!(museum["cityId"], "douala");
        assert_eq!(museum["entry_fee"], "3000 XAF");
        assert_eq!(museum["estimatedCost"], 3000);
        assert_eq!(museum["guidedTourAvailable"], true);
        assert_eq!(museum["opening_hours"], "10:00-17:00");
        assert_eq!(
            museum["openingHours"]["monday"],
            json!({"open": "10:00", "close": "17:00", "closed": false})
        );
        assert_eq!(
            museum["coordinates"]["latitude"],
            museum["location"]["latitude"]
        );
        assert_eq!(museum["imageUrls"], json!([]));
        assert_eq!(museum["contactInfo"], json!({}));
        assert_eq!(museum["reviews"], json!([]));
    }

    #[tokio::test]
    async fn filters_and_orders_by_the_rating_reviews_give() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query("INSERT INTO users (uid) VALUES ('ada'), ('bob')")
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO reviews (attraction_id, user_id, rating) VALUES
             ('buea-mount-cameroon', 'ada', 1), ('buea-mount-cameroon', 'bob', 2),
             ('yaounde-mvog-betsi-zoo', 'ada', 5)",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        let (_, body) = send(app.post(
            "/api/attractions/search",
            &json!({"query": "NATURE", "min_rating": 4.7}),
        ))
        .await;
        assert_eq!(
            ids(&body),
            [
                "yaounde-mvog-betsi-zoo",
                "buea-botanical-garden",
                "yaounde-mount-febe-viewpoint"
            ],
            "the zoo's 5 stars lift it from 4.1; the mountain's 1.5 drops it"
        );
        assert_eq!(body["results"][0]["rating"], 5.0);
    }

    #[tokio::test]
    async fn french_callers_read_and_search_the_french_descriptions() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let search = |query: &'static str, accept: &'static str| {
            send(
                app.post(query, &json!({"query": "coucher du soleil"}))
                    .header("accept-language", accept),
            )
        };
        let (status, body) = search("/api/attractions/search", "fr").await;
        assert_eq!(status, 200);
        assert_eq!(ids(&body), ["douala-waterfront"]);
        let fr = body["results"][0]["description"].as_str().unwrap();
        assert!(fr.contains("coucher du soleil"), "{fr}");
        assert_eq!(body["results"][0].get("descriptions"), None);

        let (_, body) = search("/api/attractions/search", "en").await;
        assert_eq!(
            ids(&body).len(),
            0,
            "English readers search the English text"
        );

        let (_, body) = search("/api/attractions/search?translations=true", "fr, en;q=0.5").await;
        let waterfront = &body["results"][0];
        assert_eq!(waterfront["descriptions"]["fr"], fr);
        let en = waterfront["descriptions"]["en"].as_str().unwrap();
        assert!(en.starts_with("Scenic harbor views"), "{en}");

        let (_, body) = send(
            app.post(
                "/api/attractions/search",
                &json!({"query": "MUSEE", "city_id": "douala"}),
            )
            .header("accept-language", "fr"),
        )
        .await;
        assert_eq!(
            ids(&body),
            ["douala-littoral-state-museum"],
            "accents fold in French too"
        );
    }

    #[tokio::test]
    async fn bad_bodies_are_422_naming_the_field() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.post(
            "/api/attractions/search",
            &json!({"query": "x", "min_rating": 7}),
        ))
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "min_rating"]));
        assert!(body["message"].as_str().unwrap().contains("min_rating"));

        let (status, body) =
            send(app.post("/api/attractions/search", &json!({"city_id": "douala"}))).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "query"]));
        assert_eq!(body["detail"][0]["type"], "missing");

        let (status, body) = send(app.post_raw("/api/attractions/search", "{\"query\": ")).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["type"], "json_invalid");

        let (status, body) = send(app.post(
            "/api/attractions/search",
            &json!({"query": "x", "min_rating": "high"}),
        ))
        .await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "min_rating"]));
    }
}
