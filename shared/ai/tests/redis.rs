//! The models' Redis paths (traffic's ping news, the guide's probe and
//! cache) against a Redis that hangs: each call keeps the platform's deadline
//! and, once the breaker opens, returns at once.

use std::time::{Duration, Instant};

use shared::testing::TestApp;

/// A Redis that accepts connections and never answers, as one stopped with
/// SIGSTOP: its URL.
async fn hung_redis() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("redis://{addr}")
}

/// An app whose Redis hangs (100 ms deadline); Gemini configured but away,
/// so the guide's probe gets as far as Redis.
async fn over_a_hung_redis() -> TestApp {
    let redis = hung_redis().await;
    let settings = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_TIMEOUT_MS", "100"),
        ("GEMINI_API_KEY", "test-key"),
        ("GEMINI_API_URL", "http://127.0.0.1:9"),
        ("GEMINI_TIMEOUT_MS", "50"),
    ];
    TestApp::spawn_with(Vec::new(), &settings).await
}

/// Runs `call` five times: each within the deadline (and slack), and once
/// the breaker has opened (after three failures) at once, without waiting.
async fn keeps_the_deadline_and_the_breaker(what: &str, mut call: impl AsyncFnMut()) {
    for i in 0..5 {
        let started = Instant::now();
        call().await;
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(600),
            "{what}: call {i} took {took:?}"
        );
        if i >= shared::cache::TRIP_AFTER as usize {
            assert!(
                took < Duration::from_millis(60),
                "{what}: breaker open, yet call {i} took {took:?}"
            );
        }
    }
}

#[tokio::test]
async fn traffic_ping_news_is_published_within_the_deadline_when_redis_hangs() {
    let app = over_a_hung_redis().await;
    let route: String = sqlx::query_scalar("SELECT id FROM travel_routes LIMIT 1")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    keeps_the_deadline_and_the_breaker("traffic::ping_recorded", async || {
        ai::traffic::ping_recorded(&app.state, &route).await;
    })
    .await;
}

#[tokio::test]
async fn the_guide_probe_reads_and_remembers_within_the_deadline_when_redis_hangs() {
    let app = over_a_hung_redis().await;
    keeps_the_deadline_and_the_breaker("guide::probe", async || {
        assert_eq!(ai::guide::probe(&app.state).await, "unreachable");
    })
    .await;
}

#[tokio::test]
async fn the_guide_cache_reads_and_writes_within_the_deadline_when_redis_hangs() {
    use ai::guide::{self, Cached};
    let app = over_a_hung_redis().await;
    let cached = Cached {
        guide: "g".into(),
        source: "fallback".into(),
        generated_at: chrono::Utc::now(),
    };
    keeps_the_deadline_and_the_breaker("guide::cached", async || {
        assert_eq!(guide::cached(&app.state, "k").await, None);
    })
    .await;
    let app = over_a_hung_redis().await;
    keeps_the_deadline_and_the_breaker("guide::store", async || {
        guide::store(&app.state, "k", &cached, Duration::from_secs(60)).await;
    })
    .await;
}
