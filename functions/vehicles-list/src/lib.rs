//! `GET /api/vehicles`: the caller's vehicles (retired ones too, with
//! `is_active` false), newest first, a page at a time.

use domain::vehicles::{VEHICLE_COLUMNS, Vehicle};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(list_vehicles)))
}

/// Which page of the list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Page {
    /// 1 to 100, default 50.
    #[param(minimum = 1, maximum = 100)]
    #[serde(default = "default_limit")]
    limit: i64,
    /// Vehicles to skip, default 0.
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    50
}

impl Validate for Page {
    fn validate(&self) -> Vec<FieldError> {
        Validator::query()
            .range("limit", self.limit, 1, 100)
            .range("offset", self.offset, 0, 1_000_000)
            .finish()
    }
}

/// The caller's vehicles, newest first.
#[utoipa::path(get, path = "/api/vehicles", tag = "Vehicles", params(Page),
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = [Vehicle]), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_vehicles(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Query(page): Query<Page>,
) -> ApiResult<Json<Vec<Vehicle>>> {
    let sql = format!(
        "SELECT {VEHICLE_COLUMNS} FROM vehicles WHERE owner_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    let vehicles = sqlx::query_as(&sql)
        .bind(&user.uid)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&db)
        .await?;
    Ok(Json(vehicles))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::testing::{TestApp, pluck, send};

    /// Gives `owner` vehicles with these plates, the last one newest.
    async fn give(app: &TestApp, owner: &str, plates: &[&str]) {
        sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(owner)
            .execute(&app.state.db)
            .await
            .unwrap();
        for (i, plate) in plates.iter().enumerate() {
            sqlx::query(
                "INSERT INTO vehicles (owner_id, vehicle_type, license_plate, capacity, created_at)
                 VALUES ($1, 'bus', $2, 30, now() - make_interval(mins => $3))",
            )
            .bind(owner)
            .bind(plate)
            .bind(i32::try_from(plates.len() - i).unwrap())
            .execute(&app.state.db)
            .await
            .unwrap();
        }
    }

    #[tokio::test]
    async fn lists_only_the_callers_vehicles_newest_first() {
        let app = TestApp::spawn(vec![super::function()]).await;
        give(&app, "alice", &["A 1", "A 2", "A 3"]).await;
        give(&app, "bob", &["B 1"]).await;

        let (status, body) = send(app.get("/api/vehicles").bearer_auth(app.token("alice"))).await;
        assert_eq!(status, 200);
        assert_eq!(pluck(&body, "license_plate"), ["A 3", "A 2", "A 1"]);
        let keys: Vec<&String> = body[0].as_object().unwrap().keys().collect();
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
        assert_eq!(body[0]["owner_id"], "alice");
        assert_eq!(body[0]["photo_url"], json!(null));

        let (_, body) = send(app.get("/api/vehicles").bearer_auth(app.token("bob"))).await;
        assert_eq!(pluck(&body, "license_plate"), ["B 1"]);
        let (_, body) = send(app.get("/api/vehicles").bearer_auth(app.token("carol"))).await;
        assert_eq!(body, json!([]));
    }

    #[tokio::test]
    async fn pages_with_limit_and_offset() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let plates: Vec<String> = (0..55).map(|i| format!("P {i}")).collect();
        let plates: Vec<&str> = plates.iter().map(String::as_str).collect();
        give(&app, "fleet", &plates).await;
        let token = app.token("fleet");

        let (_, body) = send(app.get("/api/vehicles").bearer_auth(&token)).await;
        assert_eq!(body.as_array().unwrap().len(), 50, "default page");
        let (_, body) = send(
            app.get("/api/vehicles?limit=2&offset=1")
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(pluck(&body, "license_plate"), ["P 53", "P 52"]);

        for bad in ["limit=0", "limit=101", "offset=-1", "limit=abc"] {
            let (status, body) =
                send(app.get(&format!("/api/vehicles?{bad}")).bearer_auth(&token)).await;
            assert_eq!(status, 422, "{bad}");
            assert_eq!(body["detail"][0]["loc"][0], "query");
        }
    }

    #[tokio::test]
    async fn needs_a_token() {
        let app = TestApp::spawn(vec![super::function()]).await;
        assert_eq!(send(app.get("/api/vehicles")).await.0, 401);
    }
}
