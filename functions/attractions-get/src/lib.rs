//! `GET /api/attractions/{attraction_id}`: one attraction, described in the
//! caller's language, with its latest three reviews (as their authors wrote them).

use domain::tourism::{Attraction, SELECT_ATTRACTIONS, Translations, reviews_of};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(get_attraction)))
}

/// One attraction and its latest three reviews; 404 when unknown.
///
/// `description` is in the caller's language; `?translations=true` adds
/// `descriptions` in each language. Reviews stay as their authors wrote them.
#[utoipa::path(get, path = "/api/attractions/{attraction_id}", tag = "Tourism",
    params(("attraction_id" = String, Path, example = "douala-waterfront"), Translations),
    responses((status = 200, body = Attraction), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn get_attraction(
    State(ReadDb(db)): State<ReadDb>,
    Path(attraction_id): Path<String>,
    lang: Lang,
    Query(translations): Query<Translations>,
) -> ApiResult<Json<Attraction>> {
    let sql = format!("{SELECT_ATTRACTIONS} WHERE a.id = $1");
    let mut attraction = sqlx::query_as::<_, Attraction>(&sql)
        .bind(&attraction_id)
        .fetch_optional(&db)
        .await?
        .ok_or_else(|| not_found(domain::MESSAGES.text("thing-attraction")))?
        .localized(lang, translations);
    attraction.app.reviews = reviews_of(&db, &attraction_id, 3, 0).await?;
    Ok(Json(attraction))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, pluck, send};

    fn every_day(open: &str, close: &str) -> Value {
        let day = json!({"open": open, "close": close, "closed": false});
        json!({
            "monday": day, "tuesday": day, "wednesday": day, "thursday": day,
            "friday": day, "saturday": day, "sunday": day,
        })
    }

    #[tokio::test]
    async fn answers_the_attraction_in_both_field_sets() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/api/attractions/douala-waterfront")).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({
                "id": "douala-waterfront",
                "city_id": "douala",
                "name": "Douala Waterfront",
                "description": "Scenic harbor views with bustling fish markets and fresh seafood stalls. Perfect for sunset viewing and experiencing local commerce.",
                "category": "nature",
                "rating": 4.6,
                "opening_hours": "08:00-18:00",
                "entry_fee": "2000 XAF",
                "location": {"latitude": 4.052, "longitude": 9.7679, "accuracy_meters": 15.0},
                "tags": ["waterfront", "sunset", "seafood", "market"],
                "cityId": "douala",
                "coordinates": {"latitude": 4.052, "longitude": 9.7679},
                "imageUrls": [],
                "openingHours": every_day("08:00", "18:00"),
                "contactInfo": {},
                "estimatedCost": 2000,
                "guidedTourAvailable": false,
                "reviews": [],
            })
        );
    }

    #[tokio::test]
    async fn derives_cost_and_guided_tours_from_the_fee_and_tags() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query("UPDATE attractions SET entry_fee = 'Ask at the gate' WHERE id = 'douala-maritime-museum'")
            .execute(&app.state.db)
            .await
            .unwrap();
        for (id, cost, guided) in [
            ("douala-bonanjo", json!(0), false),
            ("douala-akwa-palace", json!(5000), true),
            ("douala-maritime-museum", json!(null), true),
            ("buea-colonial-architecture-tour", json!(2500), true),
        ] {
            let (status, body) = send(app.get(&format!("/api/attractions/{id}"))).await;
            assert_eq!(status, 200, "{id}");
            assert_eq!(body["estimatedCost"], cost, "{id}");
            assert_eq!(body["guidedTourAvailable"], guided, "{id}");
        }
    }

    #[tokio::test]
    async fn carries_the_latest_three_reviews() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query(
            "INSERT INTO users (uid, display_name, email) VALUES
             ('u1', 'Ada', NULL), ('u2', NULL, 'bob@example.test'), ('u3', NULL, NULL), ('u4', 'Dee', NULL)",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO reviews (attraction_id, user_id, rating, comment, images, updated_at) VALUES
             ('douala-waterfront', 'u1', 5, 'oldest', '{}', now() - interval '4 days'),
             ('douala-waterfront', 'u2', 4, 'third', '{https://img.example/b.jpg}', now() - interval '3 days'),
             ('douala-waterfront', 'u3', 3, 'second', '{}', now() - interval '2 days'),
             ('douala-waterfront', 'u4', 2, 'newest', '{}', now() - interval '1 day'),
             ('buea-mount-cameroon', 'u1', 1, 'elsewhere', '{}', now())",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        let (status, body) = send(app.get("/api/attractions/douala-waterfront")).await;
        assert_eq!(status, 200);
        assert_eq!(
            pluck(&body["reviews"], "comment"),
            ["newest", "second", "third"]
        );
        assert_eq!(
            pluck(&body["reviews"], "userName"),
            ["Dee", "Traveller", "Traveller"],
            "public names, never an e-mail's local part"
        );
        assert!(!body.to_string().contains("bob"), "{body}");
        let third = &body["reviews"][2];
        assert_eq!(third["userId"], "u2");
        assert_eq!(third["rating"], 4);
        assert_eq!(third["images"], json!(["https://img.example/b.jpg"]));
        assert!(third["id"].as_str().unwrap().len() == 36);
        assert!(third["date"].as_str().unwrap().contains('T'));
    }

    const WATERFRONT_EN: &str = "Scenic harbor views with bustling fish markets and fresh seafood stalls. Perfect for sunset viewing and experiencing local commerce.";

    /// `GET /api/attractions/douala-waterfront{query}`, with `accept_language` if any.
    async fn waterfront(app: &TestApp, query: &str, accept_language: Option<&str>) -> Value {
        let mut request = app.get(&format!("/api/attractions/douala-waterfront{query}"));
        if let Some(value) = accept_language {
            request = request.header("accept-language", value);
        }
        let (status, body) = send(request).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    #[tokio::test]
    async fn the_description_is_in_the_callers_language_and_both_on_request() {
        let app = TestApp::spawn(vec![super::function()]).await;
        assert_eq!(
            waterfront(&app, "", None).await["description"],
            WATERFRONT_EN
        );
        let french = waterfront(&app, "", Some("fr")).await;
        let fr = french["description"].as_str().unwrap();
        assert!(fr.starts_with("De belles vues sur le port"), "{fr}");
        assert_eq!(french["name"], "Douala Waterfront");
        assert_eq!(french.get("descriptions"), None);
        let rather_english = waterfront(&app, "", Some("fr;q=0.5, en;q=0.9")).await;
        assert_eq!(rather_english["description"], WATERFRONT_EN);

        let both = waterfront(&app, "?translations=true", None).await;
        assert_eq!(both["description"], WATERFRONT_EN);
        assert_eq!(both["descriptions"], json!({"en": WATERFRONT_EN, "fr": fr}));
        assert_eq!(both["cityId"], "douala", "every other field is still there");
    }

    #[tokio::test]
    async fn reviews_stay_as_written_whatever_the_language() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query("INSERT INTO users (uid, display_name) VALUES ('u1', 'Ada')")
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO reviews (attraction_id, user_id, rating, comment)
             VALUES ('douala-waterfront', 'u1', 5, 'Great fish at sunset')",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        let body = waterfront(&app, "", Some("fr")).await;
        assert_eq!(body["reviews"][0]["comment"], "Great fish at sunset");
    }

    #[tokio::test]
    async fn a_signed_in_user_reads_their_stored_language() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let signed_in = || {
            send(
                app.get("/api/attractions/douala-waterfront")
                    .bearer_auth(app.token("ada")),
            )
        };
        let (status, body) = signed_in().await;
        assert_eq!(status, 200);
        assert_eq!(body["description"], WATERFRONT_EN);
        sqlx::query("UPDATE users SET language = 'fr' WHERE uid = 'ada'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (_, body) = signed_in().await;
        let fr = body["description"].as_str().unwrap();
        assert!(fr.starts_with("De belles vues sur le port"), "{fr}");

        let (status, body) = send(
            app.get("/api/attractions/nope")
                .bearer_auth(app.token("ada")),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Site touristique introuvable");
        assert_eq!(
            body["detail"], "Attraction not found",
            "detail stays English"
        );
    }

    #[tokio::test]
    async fn unknown_or_unlocated_attraction_is_404() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/api/attractions/nope")).await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Attraction not found");

        sqlx::query("UPDATE attractions SET location = NULL WHERE id = 'douala-bonanjo'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (status, body) = send(app.get("/api/attractions/douala-bonanjo")).await;
        assert_eq!(status, 404, "never served without coordinates");
        assert_eq!(body["detail"], "Attraction not found");
    }
}
