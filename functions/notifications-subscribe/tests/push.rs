//! Push to subscribed devices through FCM HTTP v1, against a local server on
//! 127.0.0.1 that plays both Google's OAuth token endpoint and FCM.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use shared::i18n::Lang;
use shared::notifications::{self, Kind, NewNotification, Notification};
use shared::push::{PushReport, deliver};
use shared::testing::{TestApp, send, serve};
use uuid::Uuid;

const CLIENT_EMAIL: &str = "push@imutis-fcm.iam.gserviceaccount.com";
const FCM_PROJECT: &str = "imutis-fcm";

/// A service-account key: the private PEM for the configuration, the public
/// one to check the assertions it signs.
fn service_key() -> &'static (String, String) {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let private_pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        (private_pem, public_pem)
    })
}

/// One message FCM received.
#[derive(Debug, Clone)]
struct Sent {
    project: String,
    authorization: String,
    body: Value,
}

/// A scripted FCM answer: status, `Retry-After` seconds, body.
type Answer = (u16, Option<u64>, Value);

/// What the fake Google saw, and how it answers each device token.
#[derive(Clone, Default)]
struct Google {
    token_requests: Arc<Mutex<Vec<String>>>,
    sent: Arc<Mutex<Vec<Sent>>>,
    /// Answers to give per device token, in order; 200 once they run out.
    script: Arc<Mutex<HashMap<String, VecDeque<Answer>>>>,
}

impl Google {
    fn answer(&self, device: &str, status: u16, retry_after: Option<u64>, body: Value) {
        self.script
            .lock()
            .unwrap()
            .entry(device.into())
            .or_default()
            .push_back((status, retry_after, body));
    }

    fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    fn sent_to(&self, device: &str) -> usize {
        self.sent()
            .iter()
            .filter(|s| s.body["message"]["token"] == device)
            .count()
    }

    fn token_requests(&self) -> Vec<String> {
        self.token_requests.lock().unwrap().clone()
    }
}

async fn token_endpoint(State(google): State<Google>, body: String) -> axum::Json<Value> {
    google.token_requests.lock().unwrap().push(body);
    axum::Json(json!({"access_token": "fake-access-1", "expires_in": 3599, "token_type": "Bearer"}))
}

async fn send_endpoint(
    State(google): State<Google>,
    axum::extract::Path(project): axum::extract::Path<String>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> (StatusCode, HeaderMap, axum::Json<Value>) {
    let device = body["message"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    google.sent.lock().unwrap().push(Sent {
        project: project.clone(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .into(),
        body,
    });
    let scripted = google
        .script
        .lock()
        .unwrap()
        .get_mut(&device)
        .and_then(VecDeque::pop_front);
    let (status, retry_after, answer) = scripted.unwrap_or_else(|| {
        (
            200,
            None,
            json!({"name": format!("projects/{project}/messages/1")}),
        )
    });
    let mut out = HeaderMap::new();
    if let Some(secs) = retry_after {
        out.insert("retry-after", secs.to_string().parse().unwrap());
    }
    (
        StatusCode::from_u16(status).unwrap(),
        out,
        axum::Json(answer),
    )
}

/// The subscribe function with FCM pointed at a fresh fake Google.
async fn spawn() -> (TestApp, Google, String) {
    let google = Google::default();
    let fake = Router::new()
        .route("/token", post(token_endpoint))
        .route("/v1/projects/{project}/messages:send", post(send_endpoint))
        .with_state(google.clone());
    let addr = serve(fake).await;
    let token_url = format!("http://{addr}/token");
    let api_url = format!("http://{addr}");
    let app = TestApp::spawn_with(
        vec![notifications_subscribe::function()],
        &[
            ("FCM_PROJECT_ID", FCM_PROJECT),
            ("FCM_CLIENT_EMAIL", CLIENT_EMAIL),
            ("FCM_PRIVATE_KEY", &service_key().0),
            ("FCM_TOKEN_URL", &token_url),
            ("FCM_API_URL", &api_url),
        ],
    )
    .await;
    (app, google, token_url)
}

async fn subscribe(app: &TestApp, uid: &str, device: &str) {
    let (status, body) = send(
        app.post(
            "/api/notifications/subscribe",
            &json!({"token": device, "channels": ["booking_confirmation"]}),
        )
        .bearer_auth(app.token(uid)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Writes a sign-in notice for `uid`; the stored notification, in English.
async fn notification(app: &TestApp, uid: &str) -> Notification {
    sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(uid)
        .execute(&app.state.db)
        .await
        .unwrap();
    let mut conn = app.state.db.acquire().await.unwrap();
    let id = notifications::insert(
        &mut conn,
        &NewNotification {
            user_id: uid,
            kind: Kind::BookingConfirmation,
            text: shared::i18n::MESSAGES
                .text("new-sign-in")
                .arg("device", "Pixel 8 (android)"),
            data: json!({"bookingId": "b-1", "seats": 2, "actionUrl": null}),
        },
    )
    .await
    .unwrap();
    notifications::find(&app.state.db, uid, id)
        .await
        .unwrap()
        .unwrap()
        .render(Lang::En)
}

async fn devices(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT token FROM notification_subscriptions ORDER BY token")
        .fetch_all(&app.state.db)
        .await
        .unwrap()
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
fn form_value(body: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(&format!("http://form.test/?{body}")).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Waits (up to 5 s) for the push the background delivery sends.
async fn first_push(google: &Google) {
    for _ in 0..250 {
        if !google.sent().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_published_notification_reaches_subscribed_devices_as_an_fcm_v1_message() {
    let (app, google, token_url) = spawn().await;
    subscribe(&app, "ada", "device-1").await;
    let n = notification(&app, "ada").await;
    notifications::publish(&app.state, "ada", n.id).await;
    first_push(&google).await;

    let requests = google.token_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        form_value(&requests[0], "grant_type").as_deref(),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    let assertion = form_value(&requests[0], "assertion").unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&assertion).unwrap().alg,
        Algorithm::RS256
    );
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&token_url]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    let key = DecodingKey::from_rsa_pem(service_key().1.as_bytes()).unwrap();
    let claims = jsonwebtoken::decode::<Value>(&assertion, &key, &validation)
        .expect("signed with the service account's key, for the token endpoint")
        .claims;
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 3600);
    assert!((chrono::Utc::now().timestamp() - iat).abs() < 60);

    let sent = google.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].project, FCM_PROJECT);
    assert_eq!(sent[0].authorization, "Bearer fake-access-1");
    assert_eq!(
        sent[0].body,
        json!({"message": {
            "token": "device-1",
            "notification": {"title": "New sign-in", "body": "New sign-in from Pixel 8 (android)"},
            "data": {
                "notificationId": n.id.to_string(),
                "type": "booking_confirmation",
                "category": "booking_confirmation",
                "bookingId": "b-1",
                "seats": "2",
            },
        }})
    );
}

#[tokio::test]
async fn a_push_is_written_in_the_recipients_stored_language() {
    let (app, google, _) = spawn().await;
    subscribe(&app, "ada", "device-1").await;
    sqlx::query("UPDATE users SET language = 'fr' WHERE uid = 'ada'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let n = notification(&app, "ada").await;
    notifications::publish(&app.state, "ada", n.id).await;
    first_push(&google).await;
    let sent = google.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body["message"]["notification"],
        json!({"title": "Nouvelle connexion", "body": "Nouvelle connexion depuis Pixel 8 (android)"})
    );
    let stored: (String, String) =
        sqlx::query_as("SELECT title, body FROM notifications WHERE id = $1")
            .bind(n.id)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        stored,
        (
            "New sign-in".into(),
            "New sign-in from Pixel 8 (android)".into()
        ),
        "the row keeps the English"
    );
}

#[tokio::test]
async fn a_503_is_retried_once_after_a_backoff() {
    let (app, google, _) = spawn().await;
    subscribe(&app, "ada", "device-1").await;
    google.answer(
        "device-1",
        503,
        None,
        json!({"error": {"status": "UNAVAILABLE"}}),
    );
    let n = notification(&app, "ada").await;
    let started = Instant::now();
    let report = deliver(&app.state, &n).await;
    assert_eq!(
        report,
        PushReport {
            sent: 1,
            removed: 0,
            failed: 0
        }
    );
    assert_eq!(google.sent_to("device-1"), 2, "one retry");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(devices(&app).await, ["device-1"]);
}

#[tokio::test]
async fn a_429_honours_retry_after_and_gives_up_after_three_tries() {
    let (app, google, _) = spawn().await;
    subscribe(&app, "ada", "device-1").await;
    google.answer(
        "device-1",
        429,
        Some(1),
        json!({"error": {"status": "RESOURCE_EXHAUSTED"}}),
    );
    let n = notification(&app, "ada").await;
    let started = Instant::now();
    assert_eq!(deliver(&app.state, &n).await.sent, 1);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );

    for _ in 0..3 {
        google.answer(
            "device-1",
            500,
            None,
            json!({"error": {"status": "INTERNAL"}}),
        );
    }
    let report = deliver(&app.state, &n).await;
    assert_eq!((report.sent, report.failed), (0, 1));
    assert_eq!(
        google.sent_to("device-1"),
        2 + 3,
        "three tries, then given up"
    );
    assert_eq!(
        devices(&app).await,
        ["device-1"],
        "a server error keeps the device"
    );
}

#[tokio::test]
async fn tokens_fcm_no_longer_knows_are_unsubscribed() {
    let (app, google, _) = spawn().await;
    for device in [
        "device-gone",
        "device-invalid",
        "device-ok",
        "device-payload",
    ] {
        subscribe(&app, "ada", device).await;
    }
    google.answer(
        "device-gone",
        404,
        None,
        json!({"error": {"code": 404, "status": "NOT_FOUND",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}}),
    );
    google.answer(
        "device-invalid",
        400,
        None,
        json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "The registration token is not a valid FCM registration token"}}),
    );
    google.answer(
        "device-payload",
        400,
        None,
        json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "Invalid value at 'message.data[0].value'"}}),
    );
    let n = notification(&app, "ada").await;
    let report = deliver(&app.state, &n).await;
    assert_eq!(
        report,
        PushReport {
            sent: 1,
            removed: 2,
            failed: 1
        }
    );
    assert_eq!(
        devices(&app).await,
        ["device-ok", "device-payload"],
        "a payload error is not the device's fault"
    );
    assert_eq!(google.sent_to("device-payload"), 1, "not retried");
}

#[tokio::test]
async fn users_who_turned_notifications_off_get_no_push() {
    let (app, google, _) = spawn().await;
    subscribe(&app, "ada", "device-1").await;
    sqlx::query("UPDATE users SET notification_enabled = false WHERE uid = 'ada'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let n = notification(&app, "ada").await;
    assert_eq!(deliver(&app.state, &n).await, PushReport::default());
    notifications::publish(&app.state, "ada", n.id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(google.sent().is_empty() && google.token_requests().is_empty());
}

#[tokio::test]
async fn the_access_token_is_fetched_once_and_reused() {
    let (app, google, _) = spawn().await;
    subscribe(&app, "ada", "device-1").await;
    subscribe(&app, "bob", "device-2").await;
    let first = notification(&app, "ada").await;
    let second = notification(&app, "bob").await;
    assert_eq!(deliver(&app.state, &first).await.sent, 1);
    assert_eq!(deliver(&app.state, &second).await.sent, 1);
    assert_eq!(google.token_requests().len(), 1);
    assert!(
        google
            .sent()
            .iter()
            .all(|s| s.authorization == "Bearer fake-access-1")
    );
}

#[tokio::test]
async fn without_fcm_configured_nothing_is_pushed() {
    let app = TestApp::spawn(vec![notifications_subscribe::function()]).await;
    subscribe(&app, "ada", "device-1").await;
    let n = notification(&app, "ada").await;
    assert_eq!(deliver(&app.state, &n).await, PushReport::default());
    let unknown = Uuid::new_v4();
    // Publishing an unknown id is logged, not an error.
    notifications::publish(&app.state, "ada", unknown).await;
}

#[tokio::test]
async fn a_refused_access_token_is_fetched_anew_next_time() {
    let (app, google, _) = spawn().await;
    subscribe(&app, "ada", "device-1").await;
    google.answer(
        "device-1",
        401,
        None,
        json!({"error": {"status": "UNAUTHENTICATED"}}),
    );
    let n = notification(&app, "ada").await;
    assert_eq!(deliver(&app.state, &n).await.failed, 1);
    assert_eq!(google.sent_to("device-1"), 1, "not retried");
    assert_eq!(deliver(&app.state, &n).await.sent, 1);
    assert_eq!(google.token_requests().len(), 2);
    assert_eq!(devices(&app).await, ["device-1"]);
}
