//! The platform as a client sees it, over real HTTP against real Postgres and
//! Redis: Firebase token checks, rate limits, error shapes, CORS and metrics.

use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::function::Function;
use shared::prelude::*;
use shared::testing::{
    PROJECT_ID, TestApp, TestKeys, claims, probe_function, send, unsigned_token,
};

#[derive(Serialize)]
struct WhoAmI {
    uid: String,
    role: Role,
    email: Option<String>,
}

async fn whoami(user: AuthUser) -> Json<WhoAmI> {
    Json(WhoAmI {
        uid: user.uid,
        role: user.role,
        email: user.email,
    })
}

async fn echo(Json(body): Json<Value>) -> Json<Value> {
    Json(body)
}

async fn public(MaybeUser(user): MaybeUser) -> Json<Value> {
    Json(json!({ "uid": user.map(|u| u.uid) }))
}

/// A function that requires auth and one that does not, as a real crate would declare them.
fn probes() -> Vec<Function> {
    vec![
        probe_function(
            "private",
            &["GET /whoami"],
            "required",
            "default",
            OpenApiRouter::new().route("/whoami", get(whoami)),
        ),
        probe_function(
            "public",
            &["GET /public", "POST /echo"],
            "none",
            "default",
            OpenApiRouter::new()
                .route("/public", get(public))
                .route("/echo", post(echo)),
        ),
    ]
}

/// Generous limits, for tests about something other than limits.
const RELAXED: [(&str, &str); 4] = [
    ("RATE_LIMIT_ANONYMOUS", "1000"),
    ("RATE_LIMIT_AUTHENTICATED", "1000"),
    ("AUTH_FAILURE_LIMIT", "1000"),
    ("FLOOD_LIMIT", "100000"),
];

async fn spawn() -> TestApp {
    TestApp::spawn_with(probes(), &RELAXED).await
}

async fn whoami_with(app: &TestApp, token: &str) -> (u16, Value) {
    send(app.get("/whoami").bearer_auth(token)).await
}

#[tokio::test]
async fn a_valid_firebase_token_is_accepted() {
    let app = spawn().await;
    let (status, body) = whoami_with(&app, &app.token("user-1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"uid": "user-1", "role": "standard", "email": "user-1@example.test"})
    );

    let mut premium = claims("user-2");
    premium["role"] = json!("premium");
    let (_, body) = whoami_with(&app, &TestKeys::get().sign(&premium)).await;
    assert_eq!(body["role"], "premium");
    assert_eq!(app.jwks.hits(), 1, "keys are cached after the first fetch");
}

#[tokio::test]
async fn the_first_authenticated_request_records_the_user() {
    let app = spawn().await;
    let row = || {
        sqlx::query_as::<_, (String, Option<String>, String)>(
            "SELECT uid, email, role FROM users WHERE uid = 'newcomer'",
        )
        .fetch_optional(&app.state.db)
    };
    assert!(row().await.unwrap().is_none());
    assert_eq!(
        send(app.get("/public").bearer_auth(app.token("newcomer")))
            .await
            .0,
        200
    );
    assert_eq!(
        row().await.unwrap(),
        Some((
            "newcomer".into(),
            Some("newcomer@example.test".into()),
            "standard".into()
        ))
    );
    let mut upgraded = claims("newcomer");
    upgraded["role"] = json!("premium");
    let token = TestKeys::get().sign(&upgraded);
    assert_eq!(whoami_with(&app, &token).await.0, 200);
    assert_eq!(
        row().await.unwrap().unwrap().2,
        "premium",
        "the token's role wins"
    );
}

#[tokio::test]
async fn tokens_failing_any_firebase_check_are_401() {
    let app = spawn().await;
    let keys = TestKeys::get();
    let now = chrono::Utc::now().timestamp();
    let with = |key: &str, value: Value| {
        let mut c = claims("user-1");
        c[key] = value;
        keys.sign(&c)
    };
    let cases = [
        ("expired", with("exp", json!(now - 120))),
        ("wrong aud", with("aud", json!("someone-else"))),
        ("aud as a list", with("aud", json!([PROJECT_ID]))),
        (
            "wrong iss",
            with("iss", json!("https://securetoken.google.com/someone-else")),
        ),
        ("issued in the future", with("iat", json!(now + 600))),
        (
            "auth_time in the future",
            with("auth_time", json!(now + 600)),
        ),
        ("empty sub", with("sub", json!(""))),
        ("sub too long", with("sub", json!("x".repeat(129)))),
        ("no exp", {
            let mut c = claims("user-1");
            c.as_object_mut().unwrap().remove("exp");
            keys.sign(&c)
        }),
        (
            "unknown kid",
            keys.sign_with_kid(&claims("user-1"), "not-a-google-key"),
        ),
        ("HS256 with the public key as secret", {
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some(keys.kid.clone());
            jsonwebtoken::encode(
                &h,
                &claims("user-1"),
                &EncodingKey::from_secret(keys.public_pem.as_bytes()),
            )
            .unwrap()
        }),
        (
            "alg none outside emulator mode",
            unsigned_token(&claims("user-1")),
        ),
        ("tampered payload", {
            let token = app.token("user-1");
            let parts: Vec<&str> = token.split('.').collect();
            let mut c = claims("user-1");
            c["sub"] = json!("admin-user");
            c["role"] = json!("admin");
            let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
            format!("{}.{}.{}", parts[0], forged, parts[2])
        }),
    ];
    for (case, token) in cases {
        let (status, body) = whoami_with(&app, &token).await;
        assert_eq!(status, 401, "{case}: {body}");
        assert_eq!(body["detail"], "Invalid authentication token", "{case}");
        assert_eq!(body["message"], body["detail"], "{case}");
    }
    let (status, body) = send(app.get("/whoami")).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Not authenticated"))
    );
}

#[tokio::test]
async fn unknown_kids_refetch_keys_at_most_once_per_interval() {
    let app = spawn().await;
    let stranger = TestKeys::get().sign_with_kid(&claims("u"), "rotated-key");
    for _ in 0..3 {
        assert_eq!(whoami_with(&app, &stranger).await.0, 401);
    }
    assert_eq!(app.jwks.hits(), 1, "one fetch for three unknown-kid tokens");
    assert_eq!(whoami_with(&app, &app.token("u")).await.0, 200);
    assert_eq!(app.jwks.hits(), 1);
}

#[tokio::test]
async fn unreachable_google_keys_are_503_not_401() {
    let app = TestApp::spawn_with(
        probes(),
        &[("FIREBASE_JWKS_URL", "http://127.0.0.1:9/jwks")],
    )
    .await;
    let (status, body) = whoami_with(&app, &app.token("u")).await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test]
async fn emulator_mode_accepts_unsigned_tokens_but_still_checks_claims() {
    let app = TestApp::spawn_with(
        probes(),
        &[("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")],
    )
    .await;
    let (status, body) = whoami_with(&app, &unsigned_token(&claims("emu-user"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["uid"], "emu-user");

    let mut wrong_aud = claims("emu-user");
    wrong_aud["aud"] = json!("other-project");
    assert_eq!(whoami_with(&app, &unsigned_token(&wrong_aud)).await.0, 401);
    let mut expired = claims("emu-user");
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    assert_eq!(whoami_with(&app, &unsigned_token(&expired)).await.0, 401);
    let with_signature = format!("{}abc", unsigned_token(&claims("emu-user")));
    assert_eq!(
        whoami_with(&app, &with_signature).await.0,
        401,
        "alg none must carry no signature"
    );
}

#[tokio::test]
async fn malformed_tokens_are_401_and_never_crash_the_server() {
    let mut overrides = RELAXED.to_vec();
    overrides.push(("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"));
    let app = TestApp::spawn_with(probes(), &overrides).await;
    let valid = unsigned_token(&claims("u"));
    let segments: Vec<&str> = valid.split('.').collect();
    let huge = format!("{}.{}.", segments[0], "A".repeat(100_000));
    let cases = [
        "not-a-jwt".to_owned(),
        "a.b".to_owned(),
        "a.b.c.d".to_owned(),
        format!("{}.{}", segments[0], segments[1]),
        format!("{valid}extra.segment"),
        format!("!!!.{}.", segments[1]),
        format!("{}.%%%%.", segments[0]),
        format!("{}.{}.", URL_SAFE_NO_PAD.encode("[1,2]"), segments[1]),
        format!(
            "{}.{}.",
            segments[0],
            URL_SAFE_NO_PAD.encode("\"just a string\"")
        ),
        format!(
            "{}.{}.",
            segments[0],
            URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00])
        ),
        huge,
        "é.é.é".to_owned(),
    ];
    for token in cases {
        let (status, _) = whoami_with(&app, &token).await;
        assert_eq!(status, 401, "{}", &token[..token.len().min(60)]);
    }
    assert_eq!(
        whoami_with(&app, &valid).await.0,
        200,
        "server still serving"
    );
}

#[tokio::test]
async fn the_eleventh_anonymous_request_in_a_minute_is_429() {
    let app = TestApp::spawn(probes()).await;
    for i in 1..=10 {
        let (status, _) = send(app.get("/public")).await;
        assert_eq!(status, 200, "request {i}");
    }
    let response = app.get("/public").send().await.unwrap();
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Rate limit exceeded");

    let (status, _) = send(
        app.get("/public")
            .header("x-forwarded-for", "203.0.113.9, 10.0.0.1"),
    )
    .await;
    assert_eq!(status, 200, "another client IP has its own budget");
    let (status, _) = send(app.get("/healthz")).await;
    assert_eq!(status, 200, "probes are never limited");
}

#[tokio::test]
async fn five_bad_tokens_in_a_row_lock_the_ip_out() {
    let app = TestApp::spawn_with(probes(), &[("RATE_LIMIT_ANONYMOUS", "1000")]).await;
    let from = |ip: &'static str, token: &str| {
        send(
            app.get("/whoami")
                .bearer_auth(token)
                .header("x-forwarded-for", ip),
        )
    };
    let bad = TestKeys::get().sign_with_kid(&claims("mallory"), "guessed-kid");
    let good = app.token("alice");
    for _ in 0..4 {
        assert_eq!(from("203.0.113.50", &bad).await.0, 401);
    }
    assert_eq!(
        from("203.0.113.50", &good).await.0,
        200,
        "a success ends the streak"
    );
    for _ in 0..5 {
        assert_eq!(from("203.0.113.50", &bad).await.0, 401);
    }
    let response = app
        .get("/whoami")
        .bearer_auth(&bad)
        .header("x-forwarded-for", "203.0.113.50")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429, "locked out for bad tokens");
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1700..=1800).contains(&retry), "30 minutes: {retry}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Too many failed sign-in attempts; try again later"
    );
    let anonymous = send(app.get("/public").header("x-forwarded-for", "203.0.113.50")).await;
    assert_eq!(anonymous.0, 429, "and for anonymous callers");
    assert_eq!(
        from("203.0.113.50", &good).await.0,
        200,
        "a valid token still passes: others behind the same NAT keep working"
    );
    assert_eq!(
        from("198.51.100.20", &bad).await.0,
        401,
        "other addresses are unaffected"
    );
}

#[tokio::test]
async fn forged_forwarded_for_headers_change_nothing() {
    // Nothing trusted: the TCP peer (this test) is the client whatever it writes.
    let app = TestApp::spawn_with(probes(), &[("TRUSTED_PROXIES", "none")]).await;
    for i in 1..=15 {
        let forged = format!("203.0.113.{i}");
        let (status, _) = send(app.get("/public").header("x-forwarded-for", forged)).await;
        let expected = if i <= 10 { 200 } else { 429 };
        assert_eq!(status, expected, "request {i}");
    }
    // Behind a trusted gateway, only the entry it appended counts.
    let app = TestApp::spawn(probes()).await;
    for i in 1..=15 {
        let forged = format!("203.0.113.{i}, 198.51.100.1");
        let (status, _) = send(app.get("/public").header("x-forwarded-for", forged)).await;
        let expected = if i <= 10 { 200 } else { 429 };
        assert_eq!(status, expected, "request {i}");
    }
}

#[tokio::test]
async fn nobody_can_lock_out_someone_elses_address() {
    let app = TestApp::spawn_with(probes(), &[("RATE_LIMIT_ANONYMOUS", "1000")]).await;
    let bad = TestKeys::get().sign_with_kid(&claims("mallory"), "guessed-kid");
    for _ in 0..6 {
        // The attacker names the victim's address; the gateway appends the attacker's.
        let forged = app
            .get("/whoami")
            .bearer_auth(&bad)
            .header("x-forwarded-for", "192.0.2.10, 198.51.100.66");
        assert!([401, 429].contains(&send(forged).await.0));
    }
    let victim = send(app.get("/public").header("x-forwarded-for", "192.0.2.10")).await;
    assert_eq!(victim.0, 200, "the victim is not locked out");
    let attacker = send(
        app.get("/public")
            .header("x-forwarded-for", "198.51.100.66"),
    )
    .await;
    assert_eq!(attacker.0, 429, "the attacker is");
}

#[tokio::test]
async fn expired_tokens_are_401_where_required_and_never_lock_anyone_out() {
    let app = TestApp::spawn_with(probes(), &[("RATE_LIMIT_ANONYMOUS", "1000")]).await;
    let mut stale = claims("resuming-app");
    stale["iat"] = serde_json::json!(chrono::Utc::now().timestamp() - 7200);
    stale["exp"] = serde_json::json!(chrono::Utc::now().timestamp() - 3600);
    let stale = TestKeys::get().sign(&stale);
    let from = |path: &'static str| {
        send(
            app.get(path)
                .bearer_auth(&stale)
                .header("x-forwarded-for", "203.0.113.77"),
        )
    };
    for _ in 0..8 {
        assert_eq!(
            from("/public").await.0,
            200,
            "a public endpoint serves it anonymously"
        );
        assert_eq!(from("/whoami").await.0, 401);
    }
    let anonymous = send(app.get("/public").header("x-forwarded-for", "203.0.113.77")).await;
    assert_eq!(anonymous.0, 200, "sixteen expired tokens locked nothing");
}

#[tokio::test]
async fn an_anonymous_flood_blocks_the_ip_but_not_signed_in_users() {
    let app = TestApp::spawn_with(
        probes(),
        &[("RATE_LIMIT_ANONYMOUS", "1000"), ("FLOOD_LIMIT", "15")],
    )
    .await;
    let anonymous = || send(app.get("/public").header("x-forwarded-for", "192.0.2.77"));
    // Flood counts reach Redis in batches: the block lands within one batch.
    let mut admitted = 0;
    let (status, body) = loop {
        let (status, body) = anonymous().await;
        if status != 200 {
            break (status, body);
        }
        admitted += 1;
        assert!(
            admitted <= 15 + shared::local_limit::SYNC_BATCH,
            "never blocked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(admitted >= 15, "blocked after {admitted}");
    assert_eq!(status, 429);
    assert_eq!(
        body["message"],
        "Too many requests from this address; try again later"
    );
    assert_eq!(anonymous().await.0, 429, "still blocked");
    let signed_in = app
        .get("/public")
        .bearer_auth(app.token("bob"))
        .header("x-forwarded-for", "192.0.2.77");
    assert_eq!(send(signed_in).await.0, 200);
    assert_eq!(
        send(app.get("/public")).await.0,
        200,
        "other addresses are unaffected"
    );
    let metrics = app.text("/metrics").await;
    assert!(
        metrics
            .contains(r#"rate_limit_rejections_total{tier="flood",function="private+public"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_instance_is_not_ready_until_its_migrations_are_applied() {
    let app = spawn().await;
    assert_eq!(send(app.get("/readyz")).await.0, 200);
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(shared::schema::expected_version())
        .execute(&app.state.db)
        .await
        .unwrap();
    let (status, body) = send(app.get("/readyz")).await;
    assert_eq!(status, 503);
    assert_eq!(body["postgres"], "migrations pending");
    assert_eq!(send(app.get("/healthz")).await.0, 200, "alive all the same");
}

#[tokio::test]
async fn a_redis_outage_lets_requests_through_rather_than_failing_them() {
    let app = TestApp::spawn_with(probes(), &[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    for i in 1..=10 {
        assert_eq!(send(app.get("/public")).await.0, 200, "request {i}");
    }
    assert_eq!(
        send(app.get("/public")).await.0,
        429,
        "each instance still limits on its own counts"
    );
    let (status, body) = send(app.get("/readyz")).await;
    assert_eq!(
        status, 200,
        "a soft dependency never takes the instance out of rotation"
    );
    assert_ne!(body["redis"], "ok");
}

#[tokio::test]
async fn a_redis_that_never_answers_costs_little_and_then_nothing() {
    // Accepts connections, never answers: the worst kind of outage.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let url = format!("redis://{addr}");
    let mut settings = RELAXED.to_vec();
    settings.extend([("REDIS_URL", url.as_str()), ("REDIS_TIMEOUT_MS", "150")]);
    let app = TestApp::spawn_with(probes(), &settings).await;
    let token = app.token("ada");
    let started = std::time::Instant::now();
    // Signed-in requests check their device session in Redis on the way in.
    for _ in 0..20 {
        assert_eq!(whoami_with(&app, &token).await.0, 200);
    }
    let spent = started.elapsed();
    // Three timed-out commands open the breaker; the other requests skip Redis.
    assert!(
        spent < std::time::Duration::from_secs(3),
        "20 requests took {spent:?}"
    );
    let metrics = app.text("/metrics").await;
    assert!(
        metrics.contains(r#"redis_commands_total{command="session_check",outcome="timeout""#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"redis_commands_total{command="session_check",outcome="skipped""#),
        "{metrics}"
    );
    assert_eq!(send(app.get("/readyz")).await.0, 200);
}

#[tokio::test]
async fn concurrent_clients_cannot_together_exceed_the_limit() {
    let app = TestApp::spawn(probes()).await;
    let requests =
        (0..40).map(|_| send(app.get("/public").header("x-forwarded-for", "198.51.100.7")));
    let statuses: Vec<u16> = futures_join_all(requests).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 30);
}

#[tokio::test]
async fn a_caller_far_from_a_large_limit_is_synced_in_larger_batches() {
    let app = TestApp::spawn_with(
        probes(),
        &[
            ("RATE_LIMIT_ANONYMOUS", "100000"),
            ("FLOOD_LIMIT", "100000"),
        ],
    )
    .await;
    for _ in 0..100 {
        let (status, _) = send(app.get("/public").header("x-forwarded-for", "198.51.100.9")).await;
        assert_eq!(status, 200);
    }
    // Batches of SYNC_BATCH would take 20 syncs; a twentieth of the 100,000
    // left leaves only the first request's and one per SYNC_INTERVAL.
    let syncs = app
        .metric("redis_commands_total", &[r#"command="rate_limit_sync""#])
        .await;
    assert!(
        (1.0..20.0).contains(&syncs),
        "{syncs} syncs for 100 requests"
    );
}

async fn futures_join_all<F: std::future::Future<Output = (u16, Value)> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap().0);
    }
    out
}

#[tokio::test]
async fn authenticated_callers_are_limited_per_uid_with_their_tier() {
    let app = TestApp::spawn_with(
        probes(),
        &[
            ("RATE_LIMIT_AUTHENTICATED", "3"),
            ("RATE_LIMIT_PREMIUM", "5"),
        ],
    )
    .await;
    let token = app.token("busy-user");
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        let (status, _) = send(
            app.get("/public")
                .bearer_auth(&token)
                .header("x-forwarded-for", ip),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, _) = send(
        app.get("/public")
            .bearer_auth(&token)
            .header("x-forwarded-for", "192.0.2.4"),
    )
    .await;
    assert_eq!(status, 429, "the uid's budget follows it across IPs");

    let mut premium = claims("vip");
    premium["role"] = json!("premium");
    let vip = TestKeys::get().sign(&premium);
    let mut ok = 0;
    for _ in 0..6 {
        if send(app.get("/public").bearer_auth(&vip)).await.0 == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 5, "premium users get the premium limit");
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_big_bodies_answer_in_the_contract_shape() {
    let app = spawn().await;
    let (status, body) = send(app.get("/api/nowhere")).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"detail": "Not Found", "message": "Not Found"}));

    let (status, body) = send(app.client.delete(app.url("/public"))).await;
    assert_eq!(status, 405);
    assert_eq!(body["message"], "Method Not Allowed");

    let big = json!({ "blob": "x".repeat(1024 * 1024 + 10) });
    let (status, body) = send(app.post("/echo", &big)).await;
    assert_eq!(status, 413);
    assert_eq!(body["message"], "Request body too large");

    let small = json!({ "blob": "x".repeat(1000) });
    let (status, body) = send(app.post("/echo", &small)).await;
    assert_eq!((status, body), (200, small));

    let (status, body) = send(app.post_raw("/echo", "{oops")).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body"]));
    assert!(body["message"].as_str().unwrap().len() > 5);
}

#[tokio::test]
async fn cors_allows_only_configured_origins_with_credentials() {
    let app = spawn().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/echo"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,x-device-id",
            )
            .send()
    };
    let allowed = preflight("http://localhost:19006").await.unwrap();
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:19006");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("x-device-id")
    );

    let denied = preflight("https://evil.example").await.unwrap();
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = spawn().await;
    send(app.get("/public")).await;
    send(app.get("/public")).await;
    send(app.get("/missing")).await;
    let text = app.text("/metrics").await;
    assert!(
        text.contains(
            r#"http_requests_total{endpoint="/public",method="GET",status="200",function="private+public"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"http_requests_total{endpoint="unmatched",method="GET",status="404",function="private+public"} 1"#
    ));
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(
        text.contains(r#"db_connection_pool_size{state="max",function="private+public"} 10"#),
        "{text}"
    );
    assert!(
        text.contains(r#"redis_connection_pool_size{state="max",function="private+public"} 8"#)
    );
    for verb in ["BREW", "PROPFIND", "X-INVENTED"] {
        let method = reqwest::Method::from_bytes(verb.as_bytes()).unwrap();
        app.client
            .request(method, app.url("/public"))
            .send()
            .await
            .unwrap();
    }
    let text = app.text("/metrics").await;
    assert!(text.contains(r#"method="OTHER""#), "{text}");
    assert!(
        !text.contains("BREW") && !text.contains("X-INVENTED"),
        "invented verbs make no series"
    );
    let (status, body) = send(app.get("/readyz")).await;
    assert_eq!(
        (status, body),
        (200, json!({"postgres": "ok", "redis": "ok"}))
    );
}

// The verified-token cache: a token seen again skips the RSA check, never
// past its key's rotation, and never past a revocation.

/// (tokens served from the cache, signatures verified) so far, as `/metrics` says.
async fn token_cache(app: &TestApp) -> (u64, u64) {
    let text = app.text("/metrics").await;
    let count = |result: &str| {
        text.lines()
            .filter(|l| l.starts_with("auth_token_cache_total{"))
            .find(|l| l.contains(&format!("result=\"{result}\"")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    (count("hit"), count("miss"))
}

#[tokio::test]
async fn a_token_seen_again_is_not_verified_again() {
    let app = spawn().await;
    let token = app.token("ada");
    for _ in 0..3 {
        let (status, body) = whoami_with(&app, &token).await;
        assert_eq!((status, &body["uid"]), (200, &json!("ada")), "{body}");
    }
    assert_eq!(
        token_cache(&app).await,
        (2, 1),
        "one signature check for three requests"
    );
    let mut premium = claims("ada");
    premium["role"] = json!("premium");
    let (_, body) = whoami_with(&app, &TestKeys::get().sign(&premium)).await;
    assert_eq!(body["role"], "premium", "another token is another entry");
    assert_eq!(token_cache(&app).await, (2, 2));
}

#[tokio::test]
async fn a_cached_token_is_refused_once_its_key_has_rotated_away() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let served = Arc::new(Mutex::new(json!({ "keys": [TestKeys::get().jwk()] })));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (keys, count) = (served.clone(), fetches.clone());
    let google = axum::Router::new().route(
        "/jwks",
        get(move || {
            count.fetch_add(1, Ordering::SeqCst);
            let body = keys.lock().unwrap().clone();
            async move { ([("cache-control", "public, max-age=1")], Json(body)) }
        }),
    );
    let url = format!("http://{}/jwks", shared::testing::serve(google).await);
    let mut settings = RELAXED.to_vec();
    settings.push(("FIREBASE_JWKS_URL", &url));
    let app = TestApp::spawn_with(probes(), &settings).await;
    let token = app.token("ada");
    for _ in 0..2 {
        assert_eq!(whoami_with(&app, &token).await.0, 200);
    }
    assert_eq!(token_cache(&app).await, (1, 1));

    // The same key material now under a new kid: the token's kid is gone.
    let mut rotated = TestKeys::get().jwk().clone();
    rotated["kid"] = json!("test-key-2");
    *served.lock().unwrap() = json!({ "keys": [rotated] });
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // As a key lookup does, the stale keys serve while the refresh they start runs.
    assert_eq!(whoami_with(&app, &token).await.0, 200);
    let refused = async {
        while whoami_with(&app, &token).await.0 != 401 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), refused)
        .await
        .expect("the token of a rotated-away key is refused after the refresh");
    assert!(
        fetches.load(Ordering::SeqCst) >= 2,
        "the keys were fetched again"
    );
    let renewed = TestKeys::get().sign_with_kid(&claims("ada"), "test-key-2");
    assert_eq!(whoami_with(&app, &renewed).await.0, 200);
}

#[tokio::test]
async fn a_revoked_device_is_refused_even_though_its_token_is_cached() {
    let app = spawn().await;
    let token = app.token("ada");
    let call = || {
        send(
            app.get("/whoami")
                .bearer_auth(&token)
                .header("x-device-id", "phone-1")
                .header("x-device-type", "android"),
        )
    };
    assert_eq!(call().await.0, 200);
    assert_eq!(call().await.0, 200);
    let session: uuid::Uuid = sqlx::query_scalar(
        "SELECT id FROM device_sessions WHERE user_id = 'ada' AND device_id = 'phone-1'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(
        shared::sessions::revoke(&app.state, "ada", session)
            .await
            .unwrap()
    );
    let (status, body) = call().await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        token_cache(&app).await,
        (2, 1),
        "refused with the token from the cache"
    );
}
