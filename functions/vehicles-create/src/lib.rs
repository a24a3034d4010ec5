//! `POST /api/vehicles`: the caller registers a vehicle they own. The plate is
//! normalised (trimmed, upper case, single spaces) and unique: a clash is 409.

use axum::http::StatusCode;
use domain::vehicles::{
    PLATE_CONSTRAINT, VEHICLE_COLUMNS, Vehicle, VehicleRules, clean_amenities, clean_label,
    normalize_plate, plate_taken,
};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(create_vehicle)))
}

/// A new vehicle.
#[derive(Deserialize, ToSchema)]
struct NewVehicle {
    #[schema(example = "minibus")]
    vehicle_type: String,
    #[schema(example = "LT 123 AB")]
    license_plate: String,
    /// Seats, 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    #[schema(example = 18)]
    capacity: i32,
    /// An `http` or `https` URL.
    #[schema(example = "https://example.com/bus.jpg")]
    photo_url: String,
    make: Option<String>,
    model: Option<String>,
    /// 1900 to 2030.
    #[schema(minimum = 1900, maximum = 2030)]
    year: Option<i32>,
    color: Option<String>,
    #[serde(default)]
    amenities: Vec<String>,
}

impl Validate for NewVehicle {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .label("vehicle_type", Some(&self.vehicle_type))
            .plate("license_plate", Some(&self.license_plate))
            .seats("capacity", Some(self.capacity))
            .photo_url(Some(&self.photo_url))
            .optional_label("make", self.make.as_deref())
            .optional_label("model", self.model.as_deref())
            .year(self.year)
            .optional_label("color", self.color.as_deref())
            .amenities(Some(&self.amenities))
            .finish()
    }
}

/// Registers a vehicle owned by the caller.
#[utoipa::path(post, path = "/api/vehicles", tag = "Vehicles",
    request_body = NewVehicle, security(("FirebaseAuth" = [])),
    responses((status = 201, body = Vehicle), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_vehicle(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Json(new): Json<NewVehicle>,
) -> ApiResult<(StatusCode, Json<Vehicle>)> {
    let sql = format!(
        "INSERT INTO vehicles (owner_id, vehicle_type, license_plate, capacity, photo_url, make, \
         model, year, color, amenities) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         RETURNING {VEHICLE_COLUMNS}"
    );
    let vehicle = sqlx::query_as(&sql)
        .bind(&user.uid)
        .bind(new.vehicle_type.trim())
        .bind(normalize_plate(&new.license_plate))
        .bind(new.capacity)
        .bind(&new.photo_url)
        .bind(clean_label(new.make.as_deref()))
        .bind(clean_label(new.model.as_deref()))
        .bind(new.year)
        .bind(clean_label(new.color.as_deref()))
        .bind(clean_amenities(&new.amenities))
        .fetch_one(&db)
        .await
        .on_constraint(PLATE_CONSTRAINT, plate_taken)?;
    Ok((StatusCode::CREATED, Json(vehicle)))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    fn bus() -> Value {
        json!({
            "vehicle_type": "minibus",
            "license_plate": "lt 123  ab",
            "capacity": 18,
            "photo_url": "https://example.com/bus.jpg",
            "make": "Toyota",
            "model": "Hiace",
            "year": 2018,
            "color": "white",
            "amenities": ["AC", "wifi"],
        })
    }

    async fn vehicle_count(app: &TestApp) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM vehicles")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn creates_the_vehicle_in_the_contract_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let response = app
            .post("/api/vehicles", &bus())
            .bearer_auth(app.token("driver-a"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert!(response.headers().get("location").is_none());
        let body: Value = response.json().await.unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "amenities",
                "capacity",
                "color",
                "created_at",
                "id",
                "is_active",
                "license_plate",
                "make",
                "model",
                "owner_id",
                "photo_url",
                "updated_at",
                "vehicle_type",
                "year"
            ]
        );
        assert_eq!(body["owner_id"], "driver-a");
        assert_eq!(body["license_plate"], "LT 123 AB", "normalised");
        assert_eq!(body["capacity"], 18);
        assert_eq!(body["year"], 2018);
        assert_eq!(body["amenities"], json!(["AC", "wifi"]));
        assert_eq!(body["is_active"], true);
        assert_eq!(body["photo_url"], "https://example.com/bus.jpg");
        let stored: String =
            sqlx::query_scalar("SELECT owner_id FROM vehicles WHERE id = $1::uuid")
                .bind(body["id"].as_str().unwrap())
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert_eq!(stored, "driver-a");
    }

    #[tokio::test]
    async fn optional_fields_may_be_left_out() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let body = json!({"vehicle_type": "taxi", "license_plate": "CE 1 X", "capacity": 4,
            "photo_url": "http://cdn.example.com/t.png"});
        let (status, v) = send(app.post("/api/vehicles", &body).bearer_auth(app.token("d"))).await;
        assert_eq!(status, 201);
        assert_eq!(
            (&v["make"], &v["model"], &v["year"], &v["color"]),
            (&json!(null), &json!(null), &json!(null), &json!(null))
        );
        assert_eq!(v["amenities"], json!([]));
    }

    #[tokio::test]
    async fn a_plate_in_any_spelling_is_taken_once() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let create = |uid: &'static str, plate: &str| {
            let mut body = bus();
            body["license_plate"] = json!(plate);
            send(app.post("/api/vehicles", &body).bearer_auth(app.token(uid)))
        };
        assert_eq!(create("driver-a", "LT 123 AB").await.0, 201);
        for (uid, plate) in [
            ("driver-a", "LT 123 AB"),
            ("driver-b", "lt 123 ab"),
            ("driver-b", "  Lt   123 aB "),
        ] {
            let (status, body) = create(uid, plate).await;
            assert_eq!(status, 409, "{plate}");
            assert_eq!(
                body["message"],
                "A vehicle with this license plate already exists"
            );
            assert_eq!(body["detail"], body["message"]);
        }
        assert_eq!(vehicle_count(&app).await, 1);
    }

    #[tokio::test]
    async fn bad_input_is_422_per_field_and_writes_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let long = "x".repeat(61);
        let cases: Vec<(&str, Value, &str)> = vec![
            ("capacity", json!(0), "capacity"),
            ("capacity", json!(101), "capacity"),
            ("year", json!(1850), "year"),
            ("photo_url", json!("ftp://x"), "photo_url"),
            ("photo_url", json!("javascript:alert(1)"), "photo_url"),
            (
                "photo_url",
                json!(format!("https://e.com/{}", "a".repeat(2048))),
                "photo_url",
            ),
            ("vehicle_type", json!(""), "vehicle_type"),
            ("vehicle_type", json!("   "), "vehicle_type"),
            ("license_plate", json!(""), "license_plate"),
            ("license_plate", json!("AB; DROP TABLE"), "license_plate"),
            ("license_plate", json!("A".repeat(21)), "license_plate"),
            ("make", json!(long), "make"),
            ("color", json!(long), "color"),
            ("amenities", json!(vec!["a"; 21]), "amenities"),
            ("amenities", json!([long.repeat(2)]), "amenities"),
            ("capacity", json!("many"), "capacity"),
        ];
        for (field, value, loc) in cases {
            let mut body = bus();
            body[field] = value.clone();
            let (status, err) =
                send(app.post("/api/vehicles", &body).bearer_auth(app.token("d"))).await;
            assert_eq!(status, 422, "{field} = {value}");
            assert_eq!(
                err["detail"][0]["loc"],
                json!(["body", loc]),
                "{field} = {value}"
            );
            assert!(err["message"].as_str().unwrap().starts_with(loc));
        }
        let mut missing = bus();
        missing.as_object_mut().unwrap().remove("license_plate");
        let (status, err) = send(
            app.post("/api/vehicles", &missing)
                .bearer_auth(app.token("d")),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(err["detail"][0]["loc"], json!(["body", "license_plate"]));

        let nul = r#"{"vehicle_type":"bus\u0000","license_plate":"N 1","capacity":5,"photo_url":"https://e.com/x"}"#;
        let (status, _) = send(
            app.post_raw("/api/vehicles", nul)
                .bearer_auth(app.token("d")),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(vehicle_count(&app).await, 0);
    }

    #[tokio::test]
    async fn needs_a_token() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.post("/api/vehicles", &bus())).await;
        assert_eq!(status, 401);
        assert!(body["message"].is_string());
        assert_eq!(vehicle_count(&app).await, 0);
    }
}
