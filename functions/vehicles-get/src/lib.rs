//! `GET /api/vehicles/{vehicle_id}`: one of the caller's vehicles; 403 for
//! someone else's, 404 when unknown (any id that is not a UUID included).

use domain::vehicles::{Vehicle, find_owned};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(get_vehicle)))
}

/// One vehicle, for its owner only.
#[utoipa::path(get, path = "/api/vehicles/{vehicle_id}", tag = "Vehicles",
    params(("vehicle_id" = String, Path, description = "The vehicle's UUID")), security(("FirebaseAuth" = [])),
    responses((status = 200, body = Vehicle), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_vehicle(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Path(vehicle_id): Path<String>,
) -> ApiResult<Json<Vehicle>> {
    let mut conn = db.acquire().await?;
    let vehicle = find_owned(&mut conn, &vehicle_id, &user.uid, false).await?;
    Ok(Json(vehicle))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::testing::{TestApp, send};

    /// A vehicle of `owner`'s, by id.
    async fn give(app: &TestApp, owner: &str) -> String {
        sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(owner)
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query_scalar(
            "INSERT INTO vehicles (owner_id, vehicle_type, license_plate, capacity, photo_url, \
             make, model, year, color, amenities)
             VALUES ($1, 'minibus', 'LT 123 AB', 18, 'https://e.com/b.jpg', 'Toyota', 'Hiace', \
             2018, 'white', '{AC}') RETURNING id::text",
        )
        .bind(owner)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn the_owner_reads_the_vehicle_in_the_contract_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = give(&app, "alice").await;
        let (status, body) = send(
            app.get(&format!("/api/vehicles/{id}"))
                .bearer_auth(app.token("alice")),
        )
        .await;
        assert_eq!(status, 200);
        let mut body = body;
        let object = body.as_object_mut().unwrap();
        assert!(object.remove("created_at").unwrap().is_string());
        assert!(object.remove("updated_at").unwrap().is_string());
        assert_eq!(
            body,
            json!({
                "id": id, "owner_id": "alice", "vehicle_type": "minibus",
                "license_plate": "LT 123 AB", "capacity": 18,
                "photo_url": "https://e.com/b.jpg", "make": "Toyota", "model": "Hiace",
                "year": 2018, "color": "white", "amenities": ["AC"], "is_active": true,
            })
        );
    }

    #[tokio::test]
    async fn another_users_vehicle_is_403_and_unknown_ids_404() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = give(&app, "alice").await;
        let bob = app.token("bob");
        let (status, body) = send(app.get(&format!("/api/vehicles/{id}")).bearer_auth(&bob)).await;
        assert_eq!(status, 403);
        assert!(body["message"].is_string());
        assert!(body.get("owner_id").is_none(), "nothing of alice's leaks");

        for unknown in [
            "00000000-0000-0000-0000-000000000000",
            "not-a-uuid",
            "1",
            "%27%20OR%201=1",
        ] {
            let (status, body) = send(
                app.get(&format!("/api/vehicles/{unknown}"))
                    .bearer_auth(&bob),
            )
            .await;
            assert_eq!(status, 404, "{unknown}");
            assert_eq!(body["message"], "Vehicle not found");
        }
    }

    #[tokio::test]
    async fn needs_a_token() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = give(&app, "alice").await;
        assert_eq!(send(app.get(&format!("/api/vehicles/{id}"))).await.0, 401);
    }
}
