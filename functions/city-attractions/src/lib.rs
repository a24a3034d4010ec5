//! `GET /api/cities/{city_id}/attractions`: a city's attractions, best rated
//! first, described in the caller's language.

use domain::tourism::{Attraction, SELECT_ATTRACTIONS, Translations};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(city_attractions)))
}

/// The attractions of one city; 404 when the city does not exist.
///
/// `description` is in the caller's language; `?translations=true` adds
/// `descriptions` in each language.
#[utoipa::path(get, path = "/api/cities/{city_id}/attractions", tag = "Tourism",
    params(("city_id" = String, Path, example = "douala"), Translations),
    responses((status = 200, body = [Attraction]), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn city_attractions(
    State(state): State<AppState>,
    Path(city_id): Path<String>,
    lang: Lang,
    Query(translations): Query<Translations>,
) -> ApiResult<Json<Vec<Attraction>>> {
    let sql = format!("{SELECT_ATTRACTIONS} WHERE a.city_id = $1 ORDER BY a.rating DESC, a.name");
    let attractions: Vec<Attraction> = sqlx::query_as(&sql)
        .bind(&city_id)
        .fetch_all(&state.db_read)
        .await?;
    if attractions.is_empty() && !city_exists(&state, &city_id).await? {
        return Err(not_found(domain::MESSAGES.text("thing-city")));
    }
    Ok(Json(
        attractions
            .into_iter()
            .map(|a| a.localized(lang, translations))
            .collect(),
    ))
}

async fn city_exists(state: &AppState, city_id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cities WHERE id = $1)")
        .bind(city_id)
        .fetch_one(&state.db_read)
        .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::testing::{TestApp, pluck, send};

    #[tokio::test]
    async fn lists_a_citys_attractions_with_their_points() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/api/cities/buea/attractions")).await;
        assert_eq!(status, 200);
        let list = body.as_array().unwrap();
        assert_eq!(list.len(), 5);
        assert!(list.iter().all(|a| a["city_id"] == "buea"));
        assert_eq!(list[0]["id"], "buea-mount-cameroon", "best rated first");
        let location = &list[0]["location"];
        assert_eq!(location["latitude"], 4.203);
        assert_eq!(location["longitude"], 9.167);
        assert_eq!(location["accuracy_meters"], 50.0);
        assert_eq!(list[0]["entry_fee"], "10000 XAF");
        assert_eq!(list[0]["opening_hours"], "06:00-18:00");
        assert!(
            list[0]["tags"]
                .as_array()
                .unwrap()
                .contains(&"summit".into())
        );
    }

    #[tokio::test]
    async fn lists_carry_the_apps_fields_and_no_reviews() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query("INSERT INTO users (uid) VALUES ('ada')")
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO reviews (attraction_id, user_id, rating) VALUES ('buea-mount-cameroon', 'ada', 5)",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        let (_, body) = send(app.get("/api/cities/buea/attractions")).await;
        let mount = &body[0];
        assert_eq!(mount["id"], "buea-mount-cameroon");
        assert_eq!(mount["cityId"], "buea");
        assert_eq!(
            mount["coordinates"],
            json!({"latitude": 4.203, "longitude": 9.167})
        );
        assert_eq!(mount["imageUrls"], json!([]));
        assert_eq!(
            mount["openingHours"]["saturday"],
            json!({"open": "06:00", "close": "18:00", "closed": false})
        );
        assert_eq!(mount["contactInfo"], json!({}));
        assert_eq!(mount["estimatedCost"], 10000);
        assert_eq!(mount["guidedTourAvailable"], false);
        assert_eq!(mount["reviews"], json!([]), "lists carry no reviews");
        assert_eq!(mount["rating"], 5.0, "the average of its one review");
        for a in body.as_array().unwrap() {
            assert_eq!(a["cityId"], a["city_id"]);
            assert_eq!(a["coordinates"]["latitude"], a["location"]["latitude"]);
            assert_eq!(a["coordinates"]["longitude"], a["location"]["longitude"]);
        }
        let museum = body
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == "buea-museum-buea")
            .unwrap();
        assert_eq!(museum["guidedTourAvailable"], true, "museums offer guides");
    }

    #[tokio::test]
    async fn best_rated_first_by_the_rating_reviews_give() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query("INSERT INTO users (uid) VALUES ('ada')")
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO reviews (attraction_id, user_id, rating) VALUES ('buea-mount-cameroon', 'ada', 1)",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        let (_, body) = send(app.get("/api/cities/buea/attractions")).await;
        let list = body.as_array().unwrap();
        assert_eq!(list[0]["id"], "buea-botanical-garden");
        assert_eq!(list[4]["id"], "buea-mount-cameroon");
        assert_eq!(list[4]["rating"], 1.0);
    }

    #[tokio::test]
    async fn attractions_without_a_location_are_not_listed() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query("UPDATE attractions SET location = NULL WHERE id = 'buea-botanical-garden'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (status, body) = send(app.get("/api/cities/buea/attractions")).await;
        assert_eq!(status, 200);
        let ids = pluck(&body, "id");
        assert_eq!(ids.len(), 4);
        assert!(!ids.contains(&"buea-botanical-garden"));

        sqlx::query("UPDATE attractions SET location = NULL WHERE city_id = 'buea'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (status, body) = send(app.get("/api/cities/buea/attractions")).await;
        assert_eq!(
            (status, body),
            (200, json!([])),
            "a known city with none listed"
        );
    }

    #[tokio::test]
    async fn descriptions_follow_the_callers_language() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let list = |query: &'static str, accept: &'static str| {
            send(
                app.get(&format!("/api/cities/buea/attractions{query}"))
                    .header("accept-language", accept),
            )
        };
        let (status, english) = list("", "en").await;
        assert_eq!(status, 200);
        let mount_en = english[0]["description"].as_str().unwrap();
        assert!(
            mount_en.starts_with("Africa's highest mountain"),
            "{mount_en}"
        );

        let (_, french) = list("", "fr-FR,fr;q=0.9").await;
        assert_eq!(
            pluck(&french, "id"),
            pluck(&english, "id"),
            "same list, same order"
        );
        let mount_fr = french[0]["description"].as_str().unwrap();
        assert!(
            mount_fr.starts_with("La plus haute montagne d’Afrique"),
            "{mount_fr}"
        );
        assert!(
            french
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a.get("descriptions").is_none())
        );

        let (_, both) = list("?translations=true", "en;q=0.9, fr;q=0.5").await;
        assert_eq!(both[0]["description"], mount_en);
        assert_eq!(
            both[0]["descriptions"],
            json!({"en": mount_en, "fr": mount_fr})
        );

        let (status, body) = send(
            app.get("/api/cities/atlantis/attractions")
                .header("accept-language", "fr"),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Ville introuvable");
        assert_eq!(body["detail"], "City not found");
    }

    #[tokio::test]
    async fn unknown_city_is_404_in_the_contract_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/api/cities/atlantis/attractions")).await;
        assert_eq!(status, 404);
        assert_eq!(body["detail"], "City not found");
        assert_eq!(body["message"], "City not found");
    }
}
