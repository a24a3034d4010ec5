//! `DELETE /api/vehicles/{vehicle_id}`: the owner retires a vehicle. A soft
//! delete (`is_active = false`): the row stays, so rides already published
//! with it keep their vehicle. Deleting twice is harmless.

use axum::http::StatusCode;
use domain::vehicles::find_owned;
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(delete_vehicle)))
}

/// Retires the caller's vehicle; 204 with no body.
#[utoipa::path(delete, path = "/api/vehicles/{vehicle_id}", tag = "Vehicles",
    params(("vehicle_id" = String, Path, description = "The vehicle's UUID")),
    security(("FirebaseAuth" = [])),
    responses((status = 204, description = "Retired"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_vehicle(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Path(vehicle_id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut tx = db.begin().await?;
    let vehicle = find_owned(&mut tx, &vehicle_id, &user.uid, true).await?;
    sqlx::query(
        "UPDATE vehicles SET is_active = false, updated_at = now() WHERE id = $1 AND is_active",
    )
    .bind(vehicle.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use shared::testing::{TestApp, send};

    /// A vehicle of `owner`'s; its id.
    async fn give(app: &TestApp, owner: &str) -> String {
        sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(owner)
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query_scalar(
            "INSERT INTO vehicles (owner_id, vehicle_type, license_plate, capacity, \
             updated_at) VALUES ($1, 'bus', 'SW 42 B', 30, now() - interval '1 hour') \
             RETURNING id::text",
        )
        .bind(owner)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    async fn stored(app: &TestApp, id: &str) -> Value {
        sqlx::query_scalar("SELECT to_jsonb(v) FROM vehicles v WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    }

    /// The status and raw body of `DELETE /api/vehicles/{id}` as `uid`.
    async fn delete(app: &TestApp, uid: Option<&str>, id: &str) -> (u16, String) {
        let mut request = app.client.delete(app.url(&format!("/api/vehicles/{id}")));
        if let Some(uid) = uid {
            request = request.bearer_auth(app.token(uid));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn soft_deletes_with_204_and_an_empty_body() {
        let app = TestApp::spawn(vec![super::function(), vehicles_get::function()]).await;
        let id = give(&app, "alice").await;
        let before = stored(&app, &id).await;

        assert_eq!(delete(&app, Some("alice"), &id).await, (204, String::new()));
        let after = stored(&app, &id).await;
        assert_eq!(after["is_active"], false, "the row stays, retired");
        assert!(after["updated_at"].as_str() > before["updated_at"].as_str());
        assert_eq!(after["license_plate"], before["license_plate"]);
        let (status, shown) = send(
            app.get(&format!("/api/vehicles/{id}"))
                .bearer_auth(app.token("alice")),
        )
        .await;
        assert_eq!((status, &shown["is_active"]), (200, &Value::Bool(false)));

        assert_eq!(
            delete(&app, Some("alice"), &id).await.0,
            204,
            "twice is harmless"
        );
        assert_eq!(stored(&app, &id).await, after);
    }

    #[tokio::test]
    async fn another_users_vehicle_is_403_and_stays_active() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = give(&app, "alice").await;
        let before = stored(&app, &id).await;
        let (status, body) = delete(&app, Some("bob"), &id).await;
        assert_eq!(status, 403);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(body["message"].is_string() && body["detail"].is_string());
        assert_eq!(stored(&app, &id).await, before);
    }

    #[tokio::test]
    async fn unknown_or_malformed_ids_are_404() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for unknown in ["00000000-0000-0000-0000-000000000000", "x'; --"] {
            let (status, body) = delete(&app, Some("alice"), unknown).await;
            assert_eq!(status, 404, "{unknown}");
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["message"], "Vehicle not found");
        }
    }

    #[tokio::test]
    async fn needs_a_token() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = give(&app, "alice").await;
        assert_eq!(delete(&app, None, &id).await.0, 401);
        assert_eq!(stored(&app, &id).await["is_active"], true);
    }
}
