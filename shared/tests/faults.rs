//! The parts around a function fail, and it copes: Postgres going away and
//! coming back, a statement running past its timeout, Google's key endpoint
//! failing slowly after the keys expire, Redis restarting. Outages are made by
//! a TCP proxy in front of the real servers (other tests keep using them).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use shared::prelude::*;
use shared::testing::{
    FaultProxy, TestApp, TestKeys, admin_url, claims, fresh_db_url,
    keeps_the_deadline_and_the_breaker, over_a_hung_redis, probe_function, redis_url, send, serve,
    via,
};

async fn cities(State(state): State<AppState>) -> ApiResult<Json<i64>> {
    let n = sqlx::query_scalar("SELECT count(*) FROM cities")
        .fetch_one(&state.db)
        .await?;
    Ok(Json(n))
}

async fn slow(State(state): State<AppState>) -> ApiResult<Json<()>> {
    sqlx::query("SELECT pg_sleep(5)").execute(&state.db).await?;
    Ok(Json(()))
}

async fn whoami(user: AuthUser) -> Json<Value> {
    Json(json!({ "uid": user.uid }))
}

fn probes() -> Vec<shared::function::Function> {
    let router = OpenApiRouter::new()
        .route("/cities", get(cities))
        .route("/slow", get(slow))
        .route("/whoami", get(whoami));
    let routes = ["GET /cities", "GET /slow", "GET /whoami"];
    vec![probe_function("probe", &routes, "none", "default", router)]
}

/// `host:port` of a server URL.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    authority.rsplit('@').next().unwrap().to_owned()
}

const RELAXED: [(&str, &str); 2] = [("RATE_LIMIT_ANONYMOUS", "10000"), ("FLOOD_LIMIT", "100000")];

#[tokio::test]
async fn a_postgres_outage_is_a_clean_503_and_service_resumes_by_itself() {
    let proxy = FaultProxy::start(&authority(&admin_url())).await;
    let url = via(&fresh_db_url().await, proxy.addr);
    let mut settings = RELAXED.to_vec();
    settings.push(("DB_ACQUIRE_TIMEOUT_MS", "500"));
    let app = TestApp::spawn_on(probes(), &url, &settings).await;
    assert_eq!(send(app.get("/cities")).await, (200, json!(3)));

    proxy.down();
    for _ in 0..5 {
        let (status, body) = send(app.get("/cities")).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["message"], "Service temporarily unavailable");
        assert_eq!(body["detail"], "Service temporarily unavailable");
    }
    assert_eq!(
        send(app.get("/readyz")).await.0,
        503,
        "out of rotation while the database is away"
    );
    assert_eq!(
        send(app.get("/healthz")).await.0,
        200,
        "but alive: no restart"
    );

    proxy.up();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    while Instant::now() < deadline && status != 200 {
        status = send(app.get("/cities")).await.0;
    }
    assert_eq!(status, 200, "service resumed without a restart");
    assert_eq!(send(app.get("/readyz")).await.0, 200);
}

#[tokio::test]
async fn a_statement_past_its_timeout_answers_503_instead_of_hanging() {
    let mut settings = RELAXED.to_vec();
    settings.push(("DB_STATEMENT_TIMEOUT_MS", "300"));
    let app = TestApp::spawn_with(probes(), &settings).await;
    let started = Instant::now();
    let (status, body) = send(app.get("/slow")).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        send(app.get("/cities")).await.0,
        200,
        "the connection is usable again"
    );
}

/// A key server that can turn slow and failing, counting its hits.
struct Keys {
    url: String,
    hits: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
}

async fn key_server() -> Keys {
    let hits = Arc::new(AtomicUsize::new(0));
    let failing = Arc::new(AtomicBool::new(false));
    let jwk = TestKeys::get().jwk().clone();
    let (h, f) = (hits.clone(), failing.clone());
    let app = Router::new().route(
        "/jwks",
        get(move || {
            let (h, f, jwk) = (h.clone(), f.clone(), jwk.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                if f.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    return (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        [("cache-control", "no-store")],
                        String::new(),
                    );
                }
                let body = json!({ "keys": [jwk] }).to_string();
                (
                    axum::http::StatusCode::OK,
                    [("cache-control", "public, max-age=1")],
                    body,
                )
            }
        }),
    );
    let addr = serve(app).await;
    Keys {
        url: format!("http://{addr}/jwks"),
        hits,
        failing,
    }
}

#[tokio::test]
async fn a_failing_key_server_never_stalls_requests_whose_key_is_held() {
    let keys = key_server().await;
    let mut settings = RELAXED.to_vec();
    settings.push(("FIREBASE_JWKS_URL", keys.url.as_str()));
    settings.push(("AUTH_FAILURE_LIMIT", "1000"));
    let app = TestApp::spawn_with(probes(), &settings).await;
    let token = app.token("ada");
    assert_eq!(send(app.get("/whoami").bearer_auth(&token)).await.0, 200);
    assert_eq!(keys.hits.load(Ordering::SeqCst), 1);

    keys.failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1200)).await; // the keys' max-age passes
    let started = Instant::now();
    let held = (0..10).map(|_| app.get("/whoami").bearer_auth(&token));
    for status in all(held).await {
        assert_eq!(status, 200, "stale keys keep serving");
    }
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "took {:?}",
        started.elapsed()
    );

    // Unknown keys cannot be served from the cache: one fetch at a time, then back-off.
    let forged = TestKeys::get().sign_with_kid(&claims("mallory"), "rotated-kid");
    let started = Instant::now();
    let unknown = (0..10).map(|_| app.get("/whoami").bearer_auth(&forged));
    for status in all(unknown).await {
        assert!([401, 503].contains(&status), "{status}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        keys.hits.load(Ordering::SeqCst) <= 3,
        "{} fetches",
        keys.hits.load(Ordering::SeqCst)
    );
}

/// Sends every request at once; their statuses.
async fn all(requests: impl Iterator<Item = reqwest::RequestBuilder>) -> Vec<u16> {
    let mut set = tokio::task::JoinSet::new();
    for r in requests {
        set.spawn(send(r));
    }
    set.join_all().await.into_iter().map(|(s, _)| s).collect()
}

#[tokio::test]
async fn limits_are_shared_again_by_themselves_after_a_redis_restart() {
    let proxy = FaultProxy::start(&authority(&redis_url())).await;
    let redis = via(&redis_url(), proxy.addr);
    let prefix = format!("faults:{}", uuid::Uuid::new_v4().simple());
    let settings = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_TIMEOUT_MS", "150"),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("RATE_LIMIT_ANONYMOUS", "20"),
        ("RATE_LIMIT_WINDOW_SECONDS", "3600"),
    ];
    let a = TestApp::spawn_with(probes(), &settings).await;
    proxy.down();
    for _ in 0..5 {
        assert_eq!(
            send(a.get("/cities")).await.0,
            200,
            "reads answer while Redis is away"
        );
    }
    proxy.up();
    tokio::time::sleep(shared::cache::OPEN_FOR + Duration::from_millis(200)).await;
    for _ in 0..10 {
        assert_eq!(send(a.get("/cities")).await.0, 200);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    tokio::time::sleep(shared::local_limit::SYNC_INTERVAL * 2).await;
    // Another instance on the same Redis sees what the first admitted since.
    let direct = [
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("RATE_LIMIT_ANONYMOUS", "20"),
        ("RATE_LIMIT_WINDOW_SECONDS", "3600"),
    ];
    let b = TestApp::spawn_with(probes(), &direct).await;
    let mut admitted = 0;
    for _ in 0..20 {
        if send(b.get("/cities")).await.0 == 200 {
            admitted += 1;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let bound = 20 - 10 + shared::local_limit::SYNC_BATCH as usize;
    assert!(
        admitted <= bound,
        "the second instance admitted {admitted} of the shared 20 (bound {bound})"
    );
    assert!(admitted >= 5, "{admitted}");
}

#[tokio::test]
async fn a_notification_is_published_within_the_deadline_when_redis_hangs() {
    use shared::notifications::{self, Kind, NewNotification};
    let app = over_a_hung_redis(probes()).await;
    sqlx::query("INSERT INTO users (uid, email) VALUES ('ada', 'ada@example.test')")
        .execute(&app.state.db)
        .await
        .unwrap();
    let mut conn = app.state.db.acquire().await.unwrap();
    let n = NewNotification {
        user_id: "ada",
        kind: Kind::System,
        text: shared::i18n::MESSAGES
            .text("new-sign-in")
            .arg("device", "test"),
        data: json!({}),
    };
    let id = notifications::insert(&mut conn, &n).await.unwrap();
    keeps_the_deadline_and_the_breaker("notifications::publish", async || {
        notifications::publish(&app.state, "ada", id).await;
    })
    .await;
}
