//! Device sessions as every authenticated function keeps them: throttled
//! writes, IP rotation, revocation, new-device notices, and a user record that
//! survives account deletion and changed claims.

use axum::routing::get;
use serde_json::{Value, json};
use shared::prelude::*;
use shared::state::AppState;
use shared::testing::{
    FaultProxy, TestApp, TestKeys, claims, probe_function, redis_url, send, via,
};

async fn whoami(user: AuthUser) -> Json<Value> {
    Json(json!({ "uid": user.uid }))
}

/// `GET /whoami`, signed-in users only.
fn probe() -> Function {
    probe_function(
        "private",
        &["GET /whoami"],
        "required",
        "default",
        OpenApiRouter::new().route("/whoami", get(whoami)),
    )
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(vec![probe()], &[("RATE_LIMIT_AUTHENTICATED", "1000")]).await
}

/// A request from `device` at client address `ip` with `token`.
async fn call(app: &TestApp, token: &str, device: &str, ip: &str) -> u16 {
    let request = app
        .get("/whoami")
        .bearer_auth(token)
        .header("x-device-id", device)
        .header("x-device-type", "android")
        .header("x-device-os", "Android 14")
        .header("x-forwarded-for", ip);
    send(request).await.0
}

/// The session row's (id, transaction id of its last write, ip, rotation flag, active).
async fn session(
    state: &AppState,
    uid: &str,
    device: &str,
) -> Option<(uuid::Uuid, String, String, bool, bool)> {
    sqlx::query_as(
        "SELECT id, xmin::text, host(device_ip), ip_rotation_detected, is_active
         FROM device_sessions WHERE user_id = $1 AND device_id = $2",
    )
    .bind(uid)
    .bind(device)
    .fetch_optional(&state.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn many_requests_from_one_device_write_its_session_once() {
    let app = spawn().await;
    let token = app.token("ada");
    assert_eq!(call(&app, &token, "phone-1", "203.0.113.5").await, 200);
    let first = session(&app.state, "ada", "phone-1")
        .await
        .expect("session created");
    assert_eq!(first.2, "203.0.113.5");
    for _ in 0..20 {
        assert_eq!(call(&app, &token, "phone-1", "203.0.113.5").await, 200);
    }
    let after = session(&app.state, "ada", "phone-1").await.unwrap();
    assert_eq!(first.1, after.1, "no further write within the minute");
    assert!(!after.3, "same address: no rotation");
}

#[tokio::test]
async fn a_changed_address_for_the_same_device_is_flagged_at_once() {
    let app = spawn().await;
    let token = app.token("ada");
    assert_eq!(call(&app, &token, "phone-1", "203.0.113.5").await, 200);
    assert_eq!(call(&app, &token, "phone-1", "198.51.100.77").await, 200);
    let (_, _, ip, rotated, _) = session(&app.state, "ada", "phone-1").await.unwrap();
    assert_eq!(ip, "198.51.100.77");
    assert!(rotated);
}

#[tokio::test]
async fn a_revoked_device_is_refused_until_the_user_signs_in_again() {
    let app = spawn().await;
    let token = app.token("ada");
    // The tablet signed in on its own (another sign-in time): revoking the
    // phone revokes the phone's sign-in, not the tablet's.
    let tablet = signed_in_at("ada", chrono::Utc::now().timestamp() - 3600);
    assert_eq!(call(&app, &token, "phone-1", "203.0.113.5").await, 200);
    assert_eq!(call(&app, &tablet, "tablet", "203.0.113.5").await, 200);
    let (id, ..) = session(&app.state, "ada", "phone-1").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(
        shared::sessions::revoke(&app.state, "ada", id)
            .await
            .unwrap()
    );
    assert!(
        !shared::sessions::revoke(&app.state, "bob", id)
            .await
            .unwrap(),
        "not bob's"
    );

    assert_eq!(call(&app, &token, "phone-1", "203.0.113.5").await, 401);
    let refreshed = {
        // A refreshed ID token: new iat, the same sign-in time.
        let mut c = claims("ada");
        c["iat"] = json!(chrono::Utc::now().timestamp());
        TestKeys::get().sign(&c)
    };
    assert_eq!(call(&app, &refreshed, "phone-1", "203.0.113.5").await, 401);
    assert_eq!(
        call(&app, &tablet, "tablet", "203.0.113.5").await,
        200,
        "other devices keep working"
    );
    assert!(!session(&app.state, "ada", "phone-1").await.unwrap().4);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let signed_in_again = {
        let mut c = claims("ada");
        let now = chrono::Utc::now().timestamp();
        c["iat"] = json!(now);
        c["auth_time"] = json!(now);
        TestKeys::get().sign(&c)
    };
    assert_eq!(
        call(&app, &signed_in_again, "phone-1", "203.0.113.5").await,
        200
    );
    assert!(
        session(&app.state, "ada", "phone-1").await.unwrap().4,
        "active again"
    );
    assert_eq!(
        call(&app, &signed_in_again, "phone-1", "203.0.113.5").await,
        200
    );
}

#[tokio::test]
async fn a_sign_in_from_a_new_device_notifies_the_user() {
    let app = spawn().await;
    let token = app.token("ada");
    let notices = || async {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT title, body FROM notifications WHERE user_id = 'ada' ORDER BY created_at",
        )
        .fetch_all(&app.state.db)
        .await
        .unwrap();
        rows
    };
    assert_eq!(call(&app, &token, "phone-1", "203.0.113.5").await, 200);
    assert!(notices().await.is_empty(), "the first device is not news");
    assert_eq!(call(&app, &token, "phone-1", "203.0.113.5").await, 200);
    assert_eq!(call(&app, &token, "laptop", "203.0.113.5").await, 200);
    let rows = notices().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "New sign-in from android (Android 14)");
}

#[tokio::test]
async fn a_deleted_user_is_recorded_again_and_changed_claims_are_stored() {
    let app = spawn().await;
    assert_eq!(
        call(&app, &app.token("ada"), "phone-1", "203.0.113.5").await,
        200
    );
    let email = || async {
        sqlx::query_scalar::<_, Option<String>>("SELECT email FROM users WHERE uid = 'ada'")
            .fetch_optional(&app.state.db)
            .await
            .unwrap()
    };
    assert_eq!(email().await, Some(Some("ada@example.test".into())));

    let mut changed = claims("ada");
    changed["email"] = json!("ada@new.example");
    assert_eq!(
        call(
            &app,
            &TestKeys::get().sign(&changed),
            "phone-1",
            "203.0.113.5"
        )
        .await,
        200
    );
    assert_eq!(email().await, Some(Some("ada@new.example".into())));

    // Another instance deletes the account: this one must not trust its memory.
    sqlx::query("DELETE FROM users WHERE uid = 'ada'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let other = AppState::with_pool((*app.state.config).clone(), app.state.db.clone()).unwrap();
    shared::sessions::forget_user(&other, "ada").await.unwrap();
    assert_eq!(
        call(&app, &app.token("ada"), "phone-1", "203.0.113.5").await,
        200
    );
    assert_eq!(
        email().await,
        Some(Some("ada@example.test".into())),
        "recorded afresh"
    );
    assert!(
        session(&app.state, "ada", "phone-1").await.is_some(),
        "and its session too"
    );
}

/// Session scripts `app` sent to Redis and got answered.
async fn session_checks(app: &TestApp) -> f64 {
    app.metric(
        "redis_commands_total",
        &[r#"command="session_check""#, r#"outcome="ok""#],
    )
    .await
}

#[tokio::test]
async fn instances_trust_a_checked_session_briefly_and_learn_of_a_revocation_within_that_time() {
    let trust = std::time::Duration::from_millis(1500);
    let prefix = format!("test:{}", uuid::Uuid::new_v4().simple());
    let overrides = [
        ("RATE_LIMIT_AUTHENTICATED", "1000"),
        ("SESSION_CHECK_MS", "1500"),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let a = TestApp::spawn_with(vec![probe()], &overrides).await;
    let b = TestApp::spawn_on(vec![probe()], &a.state.config.database_url, &overrides).await;
    let token = a.token("ada");

    let checked = std::time::Instant::now();
    assert_eq!(call(&b, &token, "phone-1", "203.0.113.5").await, 200);
    for _ in 0..10 {
        assert_eq!(call(&b, &token, "phone-1", "203.0.113.5").await, 200);
    }
    assert_eq!(
        session_checks(&b).await,
        1.0,
        "one Redis check for 11 requests"
    );
    assert_eq!(
        call(&b, &token, "phone-1", "198.51.100.77").await,
        200,
        "a new address is checked afresh"
    );
    assert_eq!(session_checks(&b).await, 2.0);

    assert_eq!(call(&a, &token, "phone-1", "203.0.113.5").await, 200);
    let (id, ..) = session(&a.state, "ada", "phone-1").await.unwrap();
    assert!(shared::sessions::revoke(&a.state, "ada", id).await.unwrap());
    assert_eq!(
        call(&a, &token, "phone-1", "203.0.113.5").await,
        401,
        "the revoking instance refuses at once"
    );
    // The trust runs from the check's answer, a little after `checked`.
    let margin = std::time::Duration::from_millis(200);
    tokio::time::sleep((trust + margin).saturating_sub(checked.elapsed())).await;
    assert_eq!(
        call(&b, &token, "phone-1", "203.0.113.5").await,
        401,
        "the other instance refuses once its trust has run out"
    );
}

/// A token of `uid` from a sign-in at `auth_time` (seconds).
fn signed_in_at(uid: &str, auth_time: i64) -> String {
    let mut c = claims(uid);
    c["auth_time"] = json!(auth_time);
    c["iat"] = json!(auth_time.min(chrono::Utc::now().timestamp()));
    TestKeys::get().sign(&c)
}

#[tokio::test]
async fn revocations_hold_while_redis_is_unreachable() {
    let authority = redis_url()
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap().to_owned())
        .unwrap();
    let proxy = FaultProxy::start(&authority).await;
    let redis = via(&redis_url(), proxy.addr);
    let settings = [
        ("RATE_LIMIT_AUTHENTICATED", "1000"),
        ("REDIS_URL", redis.as_str()),
        ("REDIS_TIMEOUT_MS", "150"),
    ];
    let app = TestApp::spawn_with(vec![probe()], &settings).await;
    let now = chrono::Utc::now().timestamp();
    let phone = signed_in_at("ada", now - 600);
    let laptop = signed_in_at("ada", now - 300);
    let ip = "203.0.113.5";
    assert_eq!(call(&app, &phone, "phone-1", ip).await, 200);
    assert_eq!(call(&app, &laptop, "laptop", ip).await, 200);
    let (phone_session, ..) = session(&app.state, "ada", "phone-1").await.unwrap();
    assert!(
        shared::sessions::revoke(&app.state, "ada", phone_session)
            .await
            .unwrap()
    );

    proxy.down();
    assert_eq!(
        call(&app, &phone, "phone-1", ip).await,
        401,
        "the revoked device"
    );
    assert_eq!(
        call(&app, &phone, "thief", ip).await,
        401,
        "its sign-in under another device id"
    );
    assert_eq!(
        call(&app, &laptop, "laptop", ip).await,
        200,
        "the rest works"
    );
    assert!(
        app.state.redis.breaker_open(),
        "Redis was skipped, not waited on"
    );

    shared::sessions::revoke_all(&app.state, "ada")
        .await
        .unwrap();
    assert_eq!(
        call(&app, &laptop, "laptop", ip).await,
        401,
        "signed out everywhere while Redis is down"
    );
    let again = signed_in_at("ada", chrono::Utc::now().timestamp() + 2);
    assert_eq!(call(&app, &again, "laptop", ip).await, 200, "a new sign-in");

    proxy.up();
    tokio::time::sleep(shared::cache::OPEN_FOR + std::time::Duration::from_millis(1500)).await;
    for _ in 0..3 {
        assert_eq!(
            call(&app, &laptop, "laptop", ip).await,
            401,
            "still refused once Redis is back"
        );
    }
    let other = AppState::with_pool((*app.state.config).clone(), app.state.db.clone()).unwrap();
    let valid_after: Option<i64> = redis::cmd("GET")
        .arg(other.redis_key(&["tokens-valid-after", "ada"]))
        .query_async(&mut other.redis.connection_for_tests().await)
        .await
        .unwrap();
    assert!(
        valid_after.is_some(),
        "the revocation reached Redis once it was back"
    );
    assert_eq!(call(&app, &again, "laptop", ip).await, 200);
}

#[tokio::test]
async fn a_revocation_redis_lost_is_enforced_from_the_database_and_restored() {
    let app = spawn().await;
    let phone = signed_in_at("ada", chrono::Utc::now().timestamp() - 600);
    let ip = "203.0.113.5";
    assert_eq!(call(&app, &phone, "phone-1", ip).await, 200);
    shared::sessions::revoke_all(&app.state, "ada")
        .await
        .unwrap();
    // Redis restarts empty of it.
    let key = app.state.redis_key(&["tokens-valid-after", "ada"]);
    let mut redis = app.state.redis.connection_for_tests().await;
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();

    assert_eq!(
        call(&app, &phone, "a-new-device", ip).await,
        401,
        "the row write finds the revocation in Postgres"
    );
    let restored: Option<i64> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(restored.is_some(), "and gives Redis its copy back");
    assert_eq!(
        call(&app, &phone, "phone-1", ip).await,
        401,
        "so every device is refused again at once"
    );
}
