//! `GET /api/attractions/{attraction_id}`: one attraction.

use shared::domain::tourism::{Attraction, SELECT_ATTRACTIONS};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(get_attraction)))
}

/// One attraction; 404 when unknown.
#[utoipa::path(get, path = "/api/attractions/{attraction_id}", tag = "Tourism",
    params(("attraction_id" = String, Path, example = "douala-waterfront")),
    responses((status = 200, body = Attraction), (status = 404, body = ErrorBody)))]
async fn get_attraction(
    State(state): State<AppState>,
    Path(attraction_id): Path<String>,
) -> ApiResult<Json<Attraction>> {
    let sql = format!("{SELECT_ATTRACTIONS} WHERE a.id = $1");
    sqlx::query_as(&sql)
        .bind(&attraction_id)
        .fetch_optional(&state.db)
        .await?
        .map(Json)
        .ok_or_else(|| not_found("Attraction"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::testing::{TestApp, send};

    #[tokio::test]
    async fn answers_the_attraction_in_the_contract_shape() {
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
            })
        );
    }

    #[tokio::test]
    async fn unknown_attraction_is_404() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/api/attractions/nope")).await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Attraction not found");
    }
}
