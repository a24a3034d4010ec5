//! `GET /api/cities`: every city, by name.

use domain::tourism::{CITY_COLUMNS, City};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(list_cities)))
}

/// Every city the system covers.
#[utoipa::path(get, path = "/api/cities", tag = "Tourism",
    responses((status = 200, body = [City])))]
async fn list_cities(State(ReadDb(db)): State<ReadDb>) -> ApiResult<Json<Vec<City>>> {
    let sql = format!("SELECT {CITY_COLUMNS} FROM cities ORDER BY name");
    let cities = sqlx::query_as(&sql).fetch_all(&db).await?;
    Ok(Json(cities))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
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
}
