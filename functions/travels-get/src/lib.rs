//! `GET /api/travels/{route_id}`: one departure with its road. A daily
//! route's id answers with its next upcoming departure.

use domain::travel::{TravelDetail, find_detail, route_not_found};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(get_travel)))
}

/// A departure by its id (or a schedule's next departure); 404 otherwise.
#[utoipa::path(get, path = "/api/travels/{route_id}", tag = "Travel",
    params(("route_id" = String, Path, example = "route-yaounde-douala-morning-20261127")),
    responses((status = 200, body = TravelDetail), (status = 404, body = ErrorBody)))]
async fn get_travel(
    State(ReadDb(db)): State<ReadDb>,
    Path(route_id): Path<String>,
) -> ApiResult<Json<TravelDetail>> {
    let mut conn = db.acquire().await?;
    find_detail(&mut conn, &route_id)
        .await?
        .map(Json)
        .ok_or_else(route_not_found)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use shared::testing::{TestApp, send};

    async fn a_departure(app: &TestApp, schedule: &str) -> String {
        sqlx::query_scalar(
            "SELECT id FROM travel_routes WHERE schedule_id = $1 AND departure_time > now()
             ORDER BY departure_time LIMIT 1 OFFSET 1",
        )
        .bind(schedule)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn answers_a_departure_in_the_contract_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = a_departure(&app, "route-yaounde-douala-morning").await;
        let (status, body) = send(app.get(&format!("/api/travels/{id}"))).await;
        assert_eq!(status, 200);
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "amenities",
                "available_seats",
                "confidence",
                "departure_time",
                "destination",
                "distance_km",
                "duration_minutes",
                "estimated_arrival",
                "id",
                "origin",
                "price_per_seat",
                "route_geometry"
            ]
        );
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["origin"], "Yaounde");
        assert_eq!(body["destination"], "Douala");
        assert_eq!(body["price_per_seat"], 5500.0);
        assert_eq!(body["available_seats"], 8);
        assert_eq!(body["confidence"], 0.91);
        assert_eq!(body["distance_km"], 230.0);
        assert_eq!(body["duration_minutes"], 225);
        assert_eq!(
            body["amenities"],
            serde_json::json!(["AC", "WiFi", "USB Charging"])
        );
        let geometry: Value =
            serde_json::from_str(body["route_geometry"].as_str().unwrap()).unwrap();
        assert_eq!(geometry["type"], "LineString");
        let coords = geometry["coordinates"].as_array().unwrap();
        assert_eq!(coords.len(), 5);
        assert!(
            (coords[0][0].as_f64().unwrap() - 11.5).abs() < 0.2,
            "starts in Yaounde (lon, lat)"
        );
        // The departure leaves at 06:00 in Douala.
        let local: String = sqlx::query_scalar(
            "SELECT to_char($1::timestamptz AT TIME ZONE 'Africa/Douala', 'HH24:MI')",
        )
        .bind(body["departure_time"].as_str().unwrap())
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(local, "06:00");
    }

    #[tokio::test]
    async fn distance_falls_back_to_the_roads_length() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = a_departure(&app, "route-douala-buea-morning").await;
        sqlx::query("UPDATE travel_routes SET distance_km = NULL WHERE id = $1")
            .bind(&id)
            .execute(&app.state.db)
            .await
            .unwrap();
        let (_, body) = send(app.get(&format!("/api/travels/{id}"))).await;
        let km = body["distance_km"].as_f64().unwrap();
        let expected: f64 = sqlx::query_scalar(
            "SELECT ST_Length(geometry::geography) / 1000 FROM travel_routes WHERE id = $1",
        )
        .bind(&id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert!(km > 10.0 && (km - expected).abs() < 1e-6, "{km}");
    }

    #[tokio::test]
    async fn a_schedule_id_answers_its_next_departure() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let next: String = sqlx::query_scalar(
            "SELECT id FROM travel_routes WHERE schedule_id = 'route-buea-yaounde'
             AND departure_time > now() ORDER BY departure_time LIMIT 1",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        let (status, body) = send(app.get("/api/travels/route-buea-yaounde")).await;
        assert_eq!(status, 200);
        assert_eq!(body["id"], next.as_str());
    }

    #[tokio::test]
    async fn unknown_routes_are_404_and_nul_is_422() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/api/travels/nope")).await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Route not found");
        assert_eq!(body["detail"], "Route not found");
        let (status, _) = send(app.get("/api/travels/route%00x")).await;
        assert_eq!(status, 422);
    }
}
