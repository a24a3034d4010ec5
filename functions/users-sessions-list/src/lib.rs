//! `GET /api/users/sessions`: the caller's device sessions (the platform keeps
//! them on every authenticated request), most recent activity first, revoked
//! ones included as inactive. Each in the original's fields and the app's.

use chrono::{DateTime, Utc};
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(list_sessions)))
}

/// At most this many sessions are listed.
const MAX_SESSIONS: i64 = 50;

/// One device session.
#[derive(Debug, Serialize, ToSchema)]
struct DeviceSession {
    #[schema(value_type = String, example = "0f8fad5b-d9cb-469f-a165-70867728950e")]
    session_id: Uuid,
    /// The client IP of its latest recorded request.
    #[schema(example = "203.0.113.5")]
    device_ip: Option<String>,
    #[schema(example = "android")]
    device_type: Option<String>,
    #[schema(example = "Android 14")]
    device_os: Option<String>,
    session_start: DateTime<Utc>,
    last_activity: DateTime<Utc>,
    /// False once revoked (until the user signs in again on that device).
    is_active: bool,
    /// The device has been seen at more than one address.
    ip_rotation_detected: bool,
    #[serde(rename = "sessionId")]
    #[schema(value_type = String)]
    session_id_app: Uuid,
    #[serde(rename = "deviceType")]
    device_type_app: Option<String>,
    #[serde(rename = "deviceOS")]
    device_os_app: Option<String>,
    #[serde(rename = "deviceIP")]
    device_ip_app: Option<String>,
    #[serde(rename = "lastActivity")]
    last_activity_app: DateTime<Utc>,
    #[serde(rename = "isActive")]
    is_active_app: bool,
    #[serde(rename = "ipRotationDetected")]
    ip_rotation_detected_app: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    device_ip: Option<String>,
    device_type: Option<String>,
    device_os: Option<String>,
    session_start: DateTime<Utc>,
    last_activity: DateTime<Utc>,
    is_active: bool,
    ip_rotation_detected: bool,
}

impl From<Row> for DeviceSession {
    fn from(r: Row) -> Self {
        DeviceSession {
            session_id_app: r.id,
            device_type_app: r.device_type.clone(),
            device_os_app: r.device_os.clone(),
            device_ip_app: r.device_ip.clone(),
            last_activity_app: r.last_activity,
            is_active_app: r.is_active,
            ip_rotation_detected_app: r.ip_rotation_detected,
            session_id: r.id,
            device_ip: r.device_ip,
            device_type: r.device_type,
            device_os: r.device_os,
            session_start: r.session_start,
            last_activity: r.last_activity,
            is_active: r.is_active,
            ip_rotation_detected: r.ip_rotation_detected,
        }
    }
}

/// The caller's sessions.
#[derive(Debug, Serialize, ToSchema)]
struct DeviceSessions {
    sessions: Vec<DeviceSession>,
}

/// The caller's device sessions, most recent activity first (at most 50).
#[utoipa::path(get, path = "/api/users/sessions", tag = "User",
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = DeviceSessions), (status = 401, body = ErrorBody)))]
async fn list_sessions(
    State(Db(db)): State<Db>,
    user: AuthUser,
) -> ApiResult<Json<DeviceSessions>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, host(device_ip) AS device_ip, device_type, device_os, session_start,
                last_activity, is_active, ip_rotation_detected
         FROM device_sessions WHERE user_id = $1
         ORDER BY last_activity DESC, id LIMIT $2",
    )
    .bind(&user.uid)
    .bind(MAX_SESSIONS)
    .fetch_all(&db)
    .await?;
    Ok(Json(DeviceSessions {
        sessions: rows.into_iter().map(DeviceSession::from).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    async fn list(app: &TestApp, uid: &str, device: &str, ip: &str) -> Value {
        let request = app
            .get("/api/users/sessions")
            .bearer_auth(app.token(uid))
            .header("x-device-id", device)
            .header("x-device-type", "android")
            .header("x-device-os", "Android 14")
            .header("x-forwarded-for", ip);
        let (status, body) = send(request).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    #[tokio::test]
    async fn lists_the_callers_sessions_newest_activity_first_in_both_shapes() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::raw_sql(
            "INSERT INTO users (uid) VALUES ('ada');
             INSERT INTO device_sessions (user_id, device_id, device_type, device_os, device_ip,
                 session_start, last_activity, ip_rotation_detected)
             VALUES ('ada', 'old-laptop', 'web', 'Linux', '198.51.100.7',
                     now() - interval '3 days', now() - interval '2 days', true);",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        let body = list(&app, "ada", "phone-1", "203.0.113.5").await;
        let sessions = body["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 2, "{body}");
        let current = &sessions[0];
        let mut keys: Vec<&str> = current
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = [
            "device_ip",
            "device_os",
            "device_type",
            "deviceIP",
            "deviceOS",
            "deviceType",
            "ipRotationDetected",
            "ip_rotation_detected",
            "isActive",
            "is_active",
            "lastActivity",
            "last_activity",
            "sessionId",
            "session_id",
            "session_start",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(current["device_ip"], "203.0.113.5");
        assert_eq!(current["deviceIP"], "203.0.113.5");
        assert_eq!(current["device_type"], "android");
        assert_eq!(current["deviceOS"], "Android 14");
        assert_eq!(current["is_active"], true);
        assert_eq!(current["ipRotationDetected"], false);
        assert_eq!(current["session_id"], current["sessionId"]);
        assert_eq!(current["last_activity"], current["lastActivity"]);
        let old = &sessions[1];
        assert_eq!(old["deviceType"], "web");
        assert_eq!(old["device_ip"], "198.51.100.7");
        assert_eq!(old["ip_rotation_detected"], json!(true));
    }

    #[tokio::test]
    async fn another_user_sees_only_their_own() {
        let app = TestApp::spawn(vec![super::function()]).await;
        list(&app, "ada", "phone-1", "203.0.113.5").await;
        let bob = list(&app, "bob", "bobs-phone", "198.51.100.9").await;
        let sessions = bob["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 1, "{bob}");
        assert_eq!(sessions[0]["device_ip"], "198.51.100.9");
    }

    #[tokio::test]
    async fn without_a_token_it_is_401() {
        let app = TestApp::spawn(vec![super::function()]).await;
        assert_eq!(send(app.get("/api/users/sessions")).await.0, 401);
    }
}
