//! `PATCH /api/vehicles/{vehicle_id}`: the owner changes some fields of a
//! vehicle. Absent fields stay; `null` clears the optional ones (`photo_url`,
//! `make`, `model`, `year`, `color`) and leaves the required ones as they are.

use domain::vehicles::{
    PLATE_CONSTRAINT, VEHICLE_COLUMNS, Vehicle, VehicleRules, clean_amenities, clean_label,
    find_owned, normalize_plate, nullable, plate_taken,
};
use shared::prelude::*;
use sqlx::PgConnection;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(update_vehicle)))
}

/// The fields to change; every one optional.
#[derive(Deserialize, ToSchema)]
struct VehiclePatch {
    vehicle_type: Option<String>,
    license_plate: Option<String>,
    /// Seats, 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    capacity: Option<i32>,
    /// An `http` or `https` URL; `null` removes the photo.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    photo_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    make: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    model: Option<Option<String>>,
    /// 1900 to 2030.
    #[schema(minimum = 1900, maximum = 2030)]
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>)]
    year: Option<Option<i32>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    color: Option<Option<String>>,
    amenities: Option<Vec<String>>,
    /// `false` retires the vehicle, `true` brings it back.
    is_active: Option<bool>,
}

impl Validate for VehiclePatch {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .label("vehicle_type", self.vehicle_type.as_deref())
            .plate("license_plate", self.license_plate.as_deref())
            .seats("capacity", self.capacity)
            .photo_url(given(&self.photo_url))
            .optional_label("make", given(&self.make))
            .optional_label("model", given(&self.model))
            .year(self.year.flatten())
            .optional_label("color", given(&self.color))
            .amenities(self.amenities.as_deref())
            .finish()
    }
}

/// The value of a nullable field when it carries one.
fn given(field: &Option<Option<String>>) -> Option<&str> {
    field.as_ref().and_then(Option::as_deref)
}

impl VehiclePatch {
    /// `vehicle` with the given fields changed.
    fn apply(self, mut vehicle: Vehicle) -> Vehicle {
        let label = |v: Option<String>| clean_label(v.as_deref());
        if let Some(t) = self.vehicle_type {
            vehicle.vehicle_type = t.trim().to_owned();
        }
        if let Some(p) = self.license_plate {
            vehicle.license_plate = normalize_plate(&p);
        }
        vehicle.capacity = self.capacity.unwrap_or(vehicle.capacity);
        vehicle.photo_url = self.photo_url.unwrap_or(vehicle.photo_url);
        vehicle.make = self.make.map_or(vehicle.make, label);
        vehicle.model = self.model.map_or(vehicle.model, label);
        vehicle.year = self.year.unwrap_or(vehicle.year);
        vehicle.color = self.color.map_or(vehicle.color, label);
        if let Some(a) = self.amenities {
            vehicle.amenities = clean_amenities(&a);
        }
        vehicle.is_active = self.is_active.unwrap_or(vehicle.is_active);
        vehicle
    }
}

/// Changes the caller's vehicle; answers it as it now is.
#[utoipa::path(patch, path = "/api/vehicles/{vehicle_id}", tag = "Vehicles",
    params(("vehicle_id" = String, Path, description = "The vehicle's UUID")),
    request_body = VehiclePatch, security(("FirebaseAuth" = [])),
    responses((status = 200, body = Vehicle), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_vehicle(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Path(vehicle_id): Path<String>,
    Json(patch): Json<VehiclePatch>,
) -> ApiResult<Json<Vehicle>> {
    let mut tx = db.begin().await?;
    let vehicle = find_owned(&mut tx, &vehicle_id, &user.uid, true).await?;
    let vehicle = save(&mut tx, patch.apply(vehicle)).await?;
    tx.commit().await?;
    Ok(Json(vehicle))
}

/// Writes every field of `vehicle` and bumps `updated_at`.
async fn save(conn: &mut PgConnection, vehicle: Vehicle) -> ApiResult<Vehicle> {
    let sql = format!(
        "UPDATE vehicles SET vehicle_type = $2, license_plate = $3, capacity = $4, \
         photo_url = $5, make = $6, model = $7, year = $8, color = $9, amenities = $10, \
         is_active = $11, updated_at = now() WHERE id = $1 RETURNING {VEHICLE_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(vehicle.id)
        .bind(vehicle.vehicle_type)
        .bind(vehicle.license_plate)
        .bind(vehicle.capacity)
        .bind(vehicle.photo_url)
        .bind(vehicle.make)
        .bind(vehicle.model)
        .bind(vehicle.year)
        .bind(vehicle.color)
        .bind(vehicle.amenities)
        .bind(vehicle.is_active)
        .fetch_one(conn)
        .await
        .on_constraint(PLATE_CONSTRAINT, plate_taken)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    /// A vehicle of `owner`'s with plate `plate`, written an hour ago; its id.
    async fn give(app: &TestApp, owner: &str, plate: &str) -> String {
        sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(owner)
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query_scalar(
            "INSERT INTO vehicles (owner_id, vehicle_type, license_plate, capacity, photo_url, \
             make, model, year, color, amenities, created_at, updated_at)
             VALUES ($1, 'minibus', $2, 18, 'https://e.com/b.jpg', 'Toyota', 'Hiace', 2018, \
             'white', '{AC}', now() - interval '1 hour', now() - interval '1 hour')
             RETURNING id::text",
        )
        .bind(owner)
        .bind(plate)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    /// The stored row, as the API would show it.
    async fn stored(app: &TestApp, id: &str) -> Value {
        sqlx::query_scalar("SELECT to_jsonb(v) FROM vehicles v WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    }

    async fn patch(app: &TestApp, uid: &str, id: &str, body: Value) -> (u16, Value) {
        let request = app
            .client
            .patch(app.url(&format!("/api/vehicles/{id}")))
            .json(&body)
            .bearer_auth(app.token(uid));
        send(request).await
    }

    #[tokio::test]
    async fn changes_only_the_given_fields_and_bumps_updated_at() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = give(&app, "alice", "LT 123 AB").await;
        let before = stored(&app, &id).await;

        let (status, body) = patch(
            &app,
            "alice",
            &id,
            json!({"color": " blue ", "capacity": 20}),
        )
        .await;
        assert_eq!(status, 200);
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 14);
        assert_eq!(
            (&body["color"], &body["capacity"]),
            (&json!("blue"), &json!(20))
        );
        for kept in [
            "vehicle_type",
            "license_plate",
            "photo_url",
            "make",
            "model",
            "year",
            "amenities",
            "is_active",
            "owner_id",
        ] {
            assert_eq!(body[kept], before[kept], "{kept}");
        }
        let after = stored(&app, &id).await;
        assert!(
            after["updated_at"].as_str() > before["updated_at"].as_str(),
            "updated_at bumped"
        );
        assert_eq!(after["created_at"], before["created_at"]);
        assert_eq!(after["color"], "blue");
    }

    #[tokio::test]
    async fn null_clears_optional_fields_and_is_active_toggles() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = give(&app, "alice", "LT 123 AB").await;
        let (status, body) = patch(
            &app,
            "alice",
            &id,
            json!({"make": null, "year": null, "photo_url": null, "vehicle_type": null,
                   "license_plate": " lt 999  zz", "amenities": ["wifi", " wifi "], "is_active": false}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["make"], json!(null));
        assert_eq!(body["year"], json!(null));
        assert_eq!(body["photo_url"], json!(null));
        assert_eq!(body["model"], "Hiace", "absent stays");
        assert_eq!(
            body["vehicle_type"], "minibus",
            "null on a required field leaves it"
        );
        assert_eq!(body["license_plate"], "LT 999 ZZ");
        assert_eq!(body["amenities"], json!(["wifi"]));
        assert_eq!(body["is_active"], false);

        let (_, body) = patch(&app, "alice", &id, json!({"is_active": true})).await;
        assert_eq!(body["is_active"], true);
        assert_eq!(stored(&app, &id).await["is_active"], true);
    }

    #[tokio::test]
    async fn a_plate_clash_is_409_and_changes_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = give(&app, "alice", "LT 123 AB").await;
        give(&app, "bob", "CE 777 XY").await;
        let before = stored(&app, &id).await;
        let (status, body) = patch(
            &app,
            "alice",
            &id,
            json!({"license_plate": "ce  777 xy", "color": "red"}),
        )
        .await;
        assert_eq!(status, 409);
        assert_eq!(
            body["message"],
            "A vehicle with this license plate already exists"
        );
        assert_eq!(stored(&app, &id).await, before);
    }

    #[tokio::test]
    async fn bad_input_is_422_and_changes_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = give(&app, "alice", "LT 123 AB").await;
        let before = stored(&app, &id).await;
        for (field, value) in [
            ("capacity", json!(0)),
            ("capacity", json!(101)),
            ("year", json!(1850)),
            ("photo_url", json!("ftp://x")),
            ("photo_url", json!("javascript:alert(1)")),
            ("vehicle_type", json!("")),
            ("license_plate", json!("  ")),
            ("model", json!("m".repeat(61))),
            ("is_active", json!("yes")),
        ] {
            let mut change = json!({});
            change[field] = value.clone();
            let (status, body) = patch(&app, "alice", &id, change).await;
            assert_eq!(status, 422, "{field} = {value}");
            assert_eq!(body["detail"][0]["loc"], json!(["body", field]));
        }
        let (status, _) = send(
            app.client
                .patch(app.url(&format!("/api/vehicles/{id}")))
                .header("content-type", "application/json")
                .body(r#"{"color":"re\u0000d"}"#)
                .bearer_auth(app.token("alice")),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(stored(&app, &id).await, before);
    }

    #[tokio::test]
    async fn another_users_vehicle_is_403_and_unchanged_unknown_is_404() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = give(&app, "alice", "LT 123 AB").await;
        let before = stored(&app, &id).await;
        let (status, _) = patch(
            &app,
            "bob",
            &id,
            json!({"color": "stolen", "is_active": false}),
        )
        .await;
        assert_eq!(status, 403);
        assert_eq!(stored(&app, &id).await, before);

        for unknown in ["00000000-0000-0000-0000-000000000000", "nope"] {
            let (status, body) = patch(&app, "alice", unknown, json!({"color": "red"})).await;
            assert_eq!(status, 404);
            assert_eq!(body["message"], "Vehicle not found");
        }
    }

    #[tokio::test]
    async fn needs_a_token() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = give(&app, "alice", "LT 123 AB").await;
        let request = app
            .client
            .patch(app.url(&format!("/api/vehicles/{id}")))
            .json(&json!({"color": "red"}));
        assert_eq!(send(request).await.0, 401);
    }
}
