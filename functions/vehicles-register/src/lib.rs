//! `POST /api/vehicles/register`: the app's create-or-update of a vehicle by
//! plate, in the app's field names. A new plate is `created`; the caller's own
//! plate is `exists` when nothing differs and `updated` (and active again)
//! otherwise; someone else's plate is 409. Absent `make`/`model`/`color` mean
//! none: a registration describes the whole vehicle.

use domain::vehicles::{VehicleRules, clean_label, normalize_plate, plate_taken};
use shared::prelude::*;
use sqlx::PgConnection;
use sqlx::types::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(register_vehicle)))
}

/// The kinds of vehicle the app offers.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum VehicleKind {
    Minibus,
    Bus,
    Taxi,
}

impl VehicleKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Minibus => "minibus",
            Self::Bus => "bus",
            Self::Taxi => "taxi",
        }
    }
}

/// A vehicle as the app's registration form sends it.
#[derive(Deserialize, ToSchema)]
struct Registration {
    #[serde(rename = "type")]
    kind: VehicleKind,
    #[schema(example = "LT 123 AB")]
    plate_number: String,
    /// 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    #[schema(example = 18)]
    seats: i32,
    make: Option<String>,
    model: Option<String>,
    color: Option<String>,
}

impl Validate for Registration {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .plate("plate_number", Some(&self.plate_number))
            .seats("seats", Some(self.seats))
            .optional_label("make", self.make.as_deref())
            .optional_label("model", self.model.as_deref())
            .optional_label("color", self.color.as_deref())
            .finish()
    }
}

/// What the registration did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Created,
    Exists,
    Updated,
}

/// The registered vehicle and what happened to it.
#[derive(Serialize, ToSchema)]
struct Registered {
    #[schema(value_type = String)]
    vehicle_id: Uuid,
    status: Outcome,
}

/// Registers the caller's vehicle by plate, or brings it up to date.
#[utoipa::path(post, path = "/api/vehicles/register", tag = "Vehicles",
    request_body = Registration, security(("FirebaseAuth" = [])),
    responses((status = 200, body = Registered), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn register_vehicle(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Json(form): Json<Registration>,
) -> ApiResult<Json<Registered>> {
    let mut tx = db.begin().await?;
    let (vehicle_id, status) = register(&mut tx, &user.uid, &form).await?;
    tx.commit().await?;
    Ok(Json(Registered { vehicle_id, status }))
}

/// One upsert that only touches the caller's own plate, and only when
/// something differs. It locks a clashing row even when it leaves it alone,
/// so the follow-up read sees that row as the upsert did.
async fn register(
    conn: &mut PgConnection,
    uid: &str,
    form: &Registration,
) -> ApiResult<(Uuid, Outcome)> {
    let plate = normalize_plate(&form.plate_number);
    let written: Option<(Uuid, bool)> = sqlx::query_as(
        "INSERT INTO vehicles (owner_id, vehicle_type, license_plate, capacity, make, model, color)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (license_plate) DO UPDATE
         SET vehicle_type = EXCLUDED.vehicle_type, capacity = EXCLUDED.capacity,
             make = EXCLUDED.make, model = EXCLUDED.model, color = EXCLUDED.color,
             is_active = true, updated_at = now()
         WHERE vehicles.owner_id = EXCLUDED.owner_id
           AND (vehicles.vehicle_type, vehicles.capacity, vehicles.make, vehicles.model,
                vehicles.color, vehicles.is_active)
               IS DISTINCT FROM (EXCLUDED.vehicle_type, EXCLUDED.capacity, EXCLUDED.make,
                EXCLUDED.model, EXCLUDED.color, true)
         RETURNING id, (xmax = 0) AS inserted",
    )
    .bind(uid)
    .bind(form.kind.as_str())
    .bind(&plate)
    .bind(form.seats)
    .bind(clean_label(form.make.as_deref()))
    .bind(clean_label(form.model.as_deref()))
    .bind(clean_label(form.color.as_deref()))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((id, inserted)) = written {
        let outcome = if inserted {
            Outcome::Created
        } else {
            Outcome::Updated
        };
        return Ok((id, outcome));
    }
    let (id, owner): (Uuid, String) =
        sqlx::query_as("SELECT id, owner_id FROM vehicles WHERE license_plate = $1")
            .bind(&plate)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(plate_taken)?;
    if owner == uid {
        Ok((id, Outcome::Exists))
    } else {
        Err(plate_taken())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    fn form() -> Value {
        json!({"type": "minibus", "plate_number": "lt 123 ab", "seats": 18,
               "make": "Toyota", "model": "Hiace", "color": "white"})
    }

    async fn register(app: &TestApp, uid: &str, body: &Value) -> (u16, Value) {
        send(
            app.post("/api/vehicles/register", body)
                .bearer_auth(app.token(uid)),
        )
        .await
    }

    async fn rows(app: &TestApp) -> Vec<Value> {
        sqlx::query_scalar(
            "SELECT to_jsonb(v) - 'created_at' - 'updated_at' FROM vehicles v ORDER BY license_plate",
        )
        .fetch_all(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn created_then_exists_then_updated() {
        let app = TestApp::spawn(vec![super::function()]).await;

        let (status, body) = register(&app, "alice", &form()).await;
        assert_eq!(status, 200);
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["status", "vehicle_id"]);
        assert_eq!(body["status"], "created");
        let id = body["vehicle_id"].as_str().unwrap().to_owned();
        let stored = rows(&app).await;
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0]["id"], id.as_str());
        assert_eq!(stored[0]["owner_id"], "alice");
        assert_eq!(stored[0]["vehicle_type"], "minibus");
        assert_eq!(stored[0]["license_plate"], "LT 123 AB");
        assert_eq!(stored[0]["capacity"], 18);
        assert_eq!(stored[0]["photo_url"], Value::Null);

        let mut same = form();
        same["plate_number"] = json!("  LT 123   AB ");
        let (status, body) = register(&app, "alice", &same).await;
        assert_eq!((status, &body["status"]), (200, &json!("exists")));
        assert_eq!(body["vehicle_id"], id.as_str());

        let mut changed = form();
        changed["seats"] = json!(22);
        changed["type"] = json!("bus");
        let (status, body) = register(&app, "alice", &changed).await;
        assert_eq!((status, &body["status"]), (200, &json!("updated")));
        assert_eq!(body["vehicle_id"], id.as_str());
        let stored = rows(&app).await;
        assert_eq!(stored.len(), 1);
        assert_eq!(
            (&stored[0]["capacity"], &stored[0]["vehicle_type"]),
            (&json!(22), &json!("bus"))
        );

        let (_, body) = register(&app, "alice", &changed).await;
        assert_eq!(body["status"], "exists");
    }

    #[tokio::test]
    async fn registering_a_retired_vehicle_brings_it_back() {
        let app = TestApp::spawn(vec![super::function()]).await;
        register(&app, "alice", &form()).await;
        sqlx::query("UPDATE vehicles SET is_active = false")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (_, body) = register(&app, "alice", &form()).await;
        assert_eq!(body["status"], "updated");
        assert_eq!(rows(&app).await[0]["is_active"], true);
    }

    #[tokio::test]
    async fn someone_elses_plate_is_409_and_stays_theirs() {
        let app = TestApp::spawn(vec![super::function()]).await;
        register(&app, "alice", &form()).await;
        let before = rows(&app).await;
        let mut theirs = form();
        theirs["plate_number"] = json!("LT 123 AB");
        for body in [form(), theirs] {
            let (status, err) = register(&app, "bob", &body).await;
            assert_eq!(status, 409);
            assert_eq!(
                err["message"],
                "A vehicle with this license plate already exists"
            );
        }
        assert_eq!(rows(&app).await, before);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_registrations_of_one_plate_make_one_vehicle() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let uids = ["alice", "bob", "carol", "alice", "bob", "carol"];
        let tasks: Vec<_> = uids
            .iter()
            .map(|uid| {
                let request = app
                    .post("/api/vehicles/register", &form())
                    .bearer_auth(app.token(uid));
                tokio::spawn(send(request))
            })
            .collect();
        let mut answers = Vec::new();
        for (uid, task) in uids.iter().zip(tasks) {
            let (status, body) = task.await.unwrap();
            answers.push((
                *uid,
                status,
                body["status"].as_str().unwrap_or("").to_owned(),
            ));
        }
        let stored = rows(&app).await;
        assert_eq!(stored.len(), 1);
        let owner = stored[0]["owner_id"].as_str().unwrap();
        for (uid, status, outcome) in &answers {
            if uid == &owner {
                assert_eq!(*status, 200);
            } else {
                assert_eq!((*status, outcome.as_str()), (409, ""), "{uid}");
            }
        }
        let mut outcomes: Vec<&str> = answers
            .iter()
            .filter(|a| a.1 == 200)
            .map(|a| a.2.as_str())
            .collect();
        outcomes.sort_unstable();
        assert_eq!(outcomes, ["created", "exists"]);
    }

    #[tokio::test]
    async fn bad_input_is_422_and_writes_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for (field, value) in [
            ("type", json!("van")),
            ("type", json!("")),
            ("seats", json!(0)),
            ("seats", json!(101)),
            ("plate_number", json!("")),
            ("plate_number", json!("<script>")),
            ("make", json!("m".repeat(61))),
        ] {
            let mut body = form();
            body[field] = value.clone();
            let (status, err) = register(&app, "alice", &body).await;
            assert_eq!(status, 422, "{field} = {value}");
            assert_eq!(err["detail"][0]["loc"], json!(["body", field]));
        }
        let mut missing = form();
        missing.as_object_mut().unwrap().remove("type");
        assert_eq!(register(&app, "alice", &missing).await.0, 422);
        assert!(rows(&app).await.is_empty());
    }

    #[tokio::test]
    async fn needs_a_token() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, _) = send(app.post("/api/vehicles/register", &form())).await;
        assert_eq!(status, 401);
        assert!(rows(&app).await.is_empty());
    }
}
