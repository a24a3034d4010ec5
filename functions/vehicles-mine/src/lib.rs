//! `GET /api/vehicles/mine`: the caller's active vehicles in the app's own
//! field names, newest first. Retired (deleted) vehicles are left out: the
//! app's list has no field to tell them apart.

use shared::prelude::*;
use sqlx::FromRow;
use sqlx::types::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(my_vehicles)))
}

/// Most vehicles the list answers with.
const MAX_VEHICLES: i64 = 100;

/// A vehicle as the app's "my vehicles" screen reads it.
#[derive(Serialize, FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
struct MyVehicle {
    #[schema(value_type = String)]
    id: Uuid,
    owner_id: String,
    #[serde(rename = "type")]
    #[schema(example = "minibus")]
    vehicle_type: String,
    #[schema(example = "LT 123 AB")]
    plate_number: String,
    seats: i32,
    make: Option<String>,
    model: Option<String>,
    color: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// The caller's vehicles, newest first (at most 100).
#[utoipa::path(get, path = "/api/vehicles/mine", tag = "Vehicles",
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = [MyVehicle]), (status = 401, body = ErrorBody)))]
async fn my_vehicles(State(Db(db)): State<Db>, user: AuthUser) -> ApiResult<Json<Vec<MyVehicle>>> {
    let vehicles = sqlx::query_as(
        "SELECT id, owner_id, vehicle_type, license_plate AS plate_number, capacity AS seats,
                make, model, color, created_at
         FROM vehicles WHERE owner_id = $1 AND is_active
         ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(&user.uid)
    .bind(MAX_VEHICLES)
    .fetch_all(&db)
    .await?;
    Ok(Json(vehicles))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::testing::{TestApp, pluck, send};

    /// Gives `owner` a vehicle with `plate`, `age_minutes` old.
    async fn give(app: &TestApp, owner: &str, plate: &str, age_minutes: i32, active: bool) {
        sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(owner)
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO vehicles (owner_id, vehicle_type, license_plate, capacity, make, model,
                 color, is_active, created_at)
             VALUES ($1, 'taxi', $2, 4, 'Toyota', 'Corolla', 'yellow', $3,
                 now() - make_interval(mins => $4))",
        )
        .bind(owner)
        .bind(plate)
        .bind(active)
        .bind(age_minutes)
        .execute(&app.state.db)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn lists_the_callers_active_vehicles_in_the_apps_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        give(&app, "alice", "OLD 1", 30, true).await;
        give(&app, "alice", "NEW 2", 5, true).await;
        give(&app, "alice", "GONE 3", 1, false).await;
        give(&app, "bob", "BOB 1", 1, true).await;

        let (status, body) = send(
            app.get("/api/vehicles/mine")
                .bearer_auth(app.token("alice")),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(pluck(&body, "plateNumber"), ["NEW 2", "OLD 1"]);
        let mut first = body[0].clone();
        let object = first.as_object_mut().unwrap();
        assert!(object.remove("id").unwrap().is_string());
        assert!(object.remove("createdAt").unwrap().is_string());
        assert_eq!(
            first,
            json!({"ownerId": "alice", "type": "taxi", "plateNumber": "NEW 2", "seats": 4,
                   "make": "Toyota", "model": "Corolla", "color": "yellow"})
        );

        let (_, body) = send(app.get("/api/vehicles/mine").bearer_auth(app.token("bob"))).await;
        assert_eq!(pluck(&body, "plateNumber"), ["BOB 1"]);
        let (_, body) = send(
            app.get("/api/vehicles/mine")
                .bearer_auth(app.token("carol")),
        )
        .await;
        assert_eq!(body, json!([]));
    }

    #[tokio::test]
    async fn answers_at_most_a_hundred() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for i in 0..105 {
            give(&app, "fleet", &format!("F {i}"), i, true).await;
        }
        let (_, body) = send(
            app.get("/api/vehicles/mine")
                .bearer_auth(app.token("fleet")),
        )
        .await;
        assert_eq!(body.as_array().unwrap().len(), 100);
        assert_eq!(body[0]["plateNumber"], "F 0");
    }

    #[tokio::test]
    async fn is_not_taken_for_a_vehicle_id_beside_vehicles_get() {
        let app = TestApp::spawn(vec![super::function(), vehicles_get::function()]).await;
        give(&app, "alice", "LT 1 A", 1, true).await;
        let (status, body) = send(
            app.get("/api/vehicles/mine")
                .bearer_auth(app.token("alice")),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(pluck(&body, "plateNumber"), ["LT 1 A"]);
    }

    #[tokio::test]
    async fn needs_a_token() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/api/vehicles/mine")).await;
        assert_eq!(status, 401);
        assert!(body["message"].is_string());
    }
}
