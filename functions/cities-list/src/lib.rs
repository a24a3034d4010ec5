//! `GET /api/cities`: every city, by name, described in the caller's language.

use domain::tourism::{CITY_COLUMNS, City, Translations};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(list_cities)))
}

/// Every city the system covers.
///
/// `description` is in the caller's language (`Accept-Language`, else the
/// signed-in user's, else English); `?translations=true` adds `descriptions`
/// in each language.
#[utoipa::path(get, path = "/api/cities", tag = "Tourism", params(Translations),
    responses((status = 200, body = [City]), (status = 422, body = ErrorBody)))]
async fn list_cities(
    State(ReadDb(db)): State<ReadDb>,
    lang: Lang,
    Query(translations): Query<Translations>,
) -> ApiResult<Json<Vec<City>>> {
    let sql = format!("SELECT {CITY_COLUMNS} FROM cities ORDER BY name");
    let cities: Vec<City> = sqlx::query_as(&sql).fetch_all(&db).await?;
    Ok(Json(
        cities
            .into_iter()
            .map(|c| c.localized(lang, translations))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, pluck, send};

    #[tokio::test]
    async fn lists_the_seeded_cities_in_the_contract_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/api/cities")).await;
        assert_eq!(status, 200);
        assert_eq!(pluck(&body, "name"), ["Buea", "Douala", "Yaounde"]);
        let douala = &body[1];
        let keys: Vec<&String> = douala.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["country", "description", "id", "name", "population"]);
        assert_eq!(douala["id"], json!("douala"));
        assert_eq!(douala["population"], json!(2_000_000));
    }

    const DOUALA_EN: &str = "Economic capital with vibrant markets, bustling ports, and beautiful coastline. Known for its rich trading heritage and diverse cultural attractions.";

    /// Douala's description as `GET /api/cities{query}` with `accept_language` serves it.
    async fn douala(app: &TestApp, query: &str, accept_language: Option<&str>) -> Value {
        let mut request = app.get(&format!("/api/cities{query}"));
        if let Some(value) = accept_language {
            request = request.header("accept-language", value);
        }
        let (status, body) = send(request).await;
        assert_eq!(status, 200, "{body}");
        body[1].clone()
    }

    #[tokio::test]
    async fn descriptions_are_in_the_language_the_caller_prefers() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let english = douala(&app, "", None).await;
        assert_eq!(english["description"], DOUALA_EN, "English by default");
        assert_eq!(
            english.get("descriptions"),
            None,
            "one language unless asked"
        );

        let french = douala(&app, "", Some("fr")).await;
        let text = french["description"].as_str().unwrap();
        assert!(text.starts_with("Capitale économique"), "{text}");
        assert_eq!(french["name"], "Douala", "names stay as they are");

        let cameroon = douala(&app, "", Some("fr-CM, en;q=0.8")).await;
        assert_eq!(cameroon["description"], text);
        let rather_english = douala(&app, "", Some("fr;q=0.5, en;q=0.9")).await;
        assert_eq!(rather_english["description"], DOUALA_EN);
        let neither = douala(&app, "", Some("de-DE")).await;
        assert_eq!(neither["description"], DOUALA_EN);
    }

    #[tokio::test]
    async fn translations_true_adds_both_descriptions() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for accept in [None, Some("fr")] {
            let city = douala(&app, "?translations=true", accept).await;
            let fr = city["descriptions"]["fr"].as_str().unwrap();
            assert!(fr.starts_with("Capitale économique"), "{fr}");
            assert_eq!(
                city["descriptions"],
                json!({"en": DOUALA_EN, "fr": fr}),
                "{accept:?}"
            );
            let served = if accept.is_some() { fr } else { DOUALA_EN };
            assert_eq!(city["description"], served, "{accept:?}");
        }
        let off = douala(&app, "?translations=false", None).await;
        assert_eq!(off.get("descriptions"), None);

        sqlx::query("UPDATE cities SET description_fr = NULL WHERE id = 'douala'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let untranslated = douala(&app, "?translations=true", Some("fr")).await;
        assert_eq!(
            untranslated["description"], DOUALA_EN,
            "English where no French is written"
        );
        assert_eq!(
            untranslated["descriptions"],
            json!({"en": DOUALA_EN, "fr": DOUALA_EN})
        );

        let (status, body) = send(app.get("/api/cities?translations=maybe")).await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["query", "translations"]));
    }

    #[tokio::test]
    async fn a_signed_in_user_reads_their_stored_language_unless_the_header_says_otherwise() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let signed_in = |accept: Option<&str>| {
            let mut request = app.get("/api/cities").bearer_auth(app.token("ada"));
            if let Some(value) = accept {
                request = request.header("accept-language", value);
            }
            send(request)
        };
        let (status, body) = signed_in(None).await;
        assert_eq!(status, 200);
        assert_eq!(
            body[1]["description"], DOUALA_EN,
            "a new user reads English"
        );
        sqlx::query("UPDATE users SET language = 'fr' WHERE uid = 'ada'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (_, body) = signed_in(None).await;
        let text = body[1]["description"].as_str().unwrap();
        assert!(text.starts_with("Capitale économique"), "{text}");
        let (_, body) = signed_in(Some("en")).await;
        assert_eq!(body[1]["description"], DOUALA_EN, "the header wins");
        let anonymous = douala(&app, "", None).await;
        assert_eq!(anonymous["description"], DOUALA_EN);
    }
}
