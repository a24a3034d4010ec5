//! The per-instance limiter under callers that try to get around it: IPv6
//! clients rotating addresses within their /64 (in the tier limits and in
//! the bad-token lockout), and a flood of distinct callers past the
//! limiter's capacity.

use std::time::{Duration, Instant};

use axum::routing::get;
use shared::local_limit::LocalLimiter;
use shared::prelude::*;
use shared::rate_limit::{Caller, Decision};
use shared::testing::{TestApp, probe_function, send};

async fn ok() -> Json<bool> {
    Json(true)
}

fn probe() -> Function {
    let router = OpenApiRouter::new().route("/ping", get(ok));
    probe_function("probe", &["GET /ping"], "none", "default", router)
}

/// `GET /ping` from client address `ip`, with `token` if given.
async fn ping(app: &TestApp, ip: &str, token: Option<&str>) -> u16 {
    let mut request = app.get("/ping").header("x-forwarded-for", ip);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    send(request).await.0
}

#[tokio::test]
async fn rotating_addresses_within_one_64_share_one_limit() {
    let app = TestApp::spawn_with(
        vec![probe()],
        &[("RATE_LIMIT_ANONYMOUS", "3"), ("FLOOD_LIMIT", "1000")],
    )
    .await;
    for ip in [
        "2001:db8:1:2::1",
        "2001:db8:1:2::2",
        "2001:db8:1:2:abcd:1234:5678:9abc",
    ] {
        assert_eq!(ping(&app, ip, None).await, 200);
    }
    assert_eq!(
        ping(&app, "2001:db8:1:2:ffff:ffff:ffff:fffe", None).await,
        429,
        "a fourth address of the same /64 is the same caller"
    );
    assert_eq!(
        ping(&app, "2001:db8:1:3::1", None).await,
        200,
        "the next /64 is another caller"
    );
    assert_eq!(ping(&app, "203.0.113.9", None).await, 200, "IPv4 as before");
}

#[tokio::test]
async fn the_prefix_is_configurable() {
    let app = TestApp::spawn_with(
        vec![probe()],
        &[
            ("RATE_LIMIT_ANONYMOUS", "1"),
            ("FLOOD_LIMIT", "1000"),
            ("RATE_LIMIT_IPV6_PREFIX", "48"),
        ],
    )
    .await;
    assert_eq!(ping(&app, "2001:db8:1:2::1", None).await, 200);
    assert_eq!(
        ping(&app, "2001:db8:1:77::1", None).await,
        429,
        "another /64 of the same /48"
    );
    assert_eq!(ping(&app, "2001:db8:2::1", None).await, 200);
}

#[tokio::test]
async fn the_exact_booking_tier_counts_a_64_as_one_caller_too() {
    let router = OpenApiRouter::new().route("/book", get(ok));
    let booking = probe_function("booking-probe", &["GET /book"], "none", "booking", router);
    let app = TestApp::spawn_with(
        vec![booking],
        &[("RATE_LIMIT_BOOKING", "2"), ("FLOOD_LIMIT", "1000")],
    )
    .await;
    let book = |ip: &'static str| send(app.get("/book").header("x-forwarded-for", ip));
    assert_eq!(book("2001:db8:9:1::1").await.0, 200);
    assert_eq!(book("2001:db8:9:1::2").await.0, 200);
    assert_eq!(book("2001:db8:9:1::3").await.0, 429);
    assert_eq!(book("2001:db8:9:2::1").await.0, 200);
}

#[tokio::test]
async fn bad_tokens_from_rotating_addresses_lock_out_their_whole_64() {
    let app = TestApp::spawn_with(
        vec![probe()],
        &[
            ("RATE_LIMIT_ANONYMOUS", "1000"),
            ("FLOOD_LIMIT", "1000"),
            ("AUTH_FAILURE_LIMIT", "3"),
        ],
    )
    .await;
    for host in ["a", "b", "c"] {
        let status = ping(&app, &format!("2001:db8:5:6::{host}"), Some("forged")).await;
        assert_eq!(status, 200, "an anonymous route; the token is counted");
    }
    assert_eq!(
        ping(&app, "2001:db8:5:6::d", None).await,
        429,
        "the /64 is locked out, whichever address it picks"
    );
    assert_eq!(ping(&app, "2001:db8:5:7::d", None).await, 200);
}

#[tokio::test]
async fn a_flood_of_distinct_callers_keeps_the_limiter_bounded_and_evicts_the_idle() {
    let app = TestApp::spawn_with(vec![probe()], &[("FLOOD_LIMIT", "1000000")]).await;
    let capacity = 1000;
    let limiter = std::sync::Arc::new(LocalLimiter::with_capacity(capacity));
    let (config, redis) = (&app.state.config, &app.state.redis);
    let caller = |ip: &'static str| Caller { uid: None, ip };
    assert_eq!(
        limiter.check(config, redis, "anonymous", 1, &caller("198.51.100.1")),
        Decision::Allowed
    );
    assert!(matches!(
        limiter.check(config, redis, "anonymous", 1, &caller("198.51.100.1")),
        Decision::Limited { .. }
    ));
    assert_eq!(
        limiter.check(config, redis, "anonymous", 1, &caller("198.51.100.2")),
        Decision::Allowed
    );
    assert!(matches!(
        limiter.check(config, redis, "anonymous", 1, &caller("198.51.100.2")),
        Decision::Limited { .. }
    ));

    let started = Instant::now();
    for i in 0..20 * capacity {
        let ip = format!("2001:db8:{:x}:{:x}::1", i >> 16, i & 0xffff);
        let caller = Caller { uid: None, ip: &ip };
        assert_eq!(
            limiter.check(config, redis, "anonymous", 1, &caller),
            Decision::Allowed
        );
        if i % 100 == 0 {
            // .1 keeps calling: it stays among the recently used.
            assert!(matches!(
                limiter.check(
                    config,
                    redis,
                    "anonymous",
                    1,
                    &Caller {
                        uid: None,
                        ip: "198.51.100.1"
                    }
                ),
                Decision::Limited { .. }
            ));
        }
        assert!(limiter.tracked() <= capacity);
    }
    assert_eq!(limiter.tracked(), capacity, "memory stays bounded");
    assert!(
        matches!(
            limiter.check(config, redis, "anonymous", 1, &caller("198.51.100.1")),
            Decision::Limited { .. }
        ),
        "an active caller keeps its count through the flood"
    );
    assert_eq!(
        limiter.check(config, redis, "anonymous", 1, &caller("198.51.100.2")),
        Decision::Allowed,
        "the idle caller was evicted (its next sync restores its count from Redis)"
    );
    // 20,000 admissions past capacity: constant time each, no scans.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
