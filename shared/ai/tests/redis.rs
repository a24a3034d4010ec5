//! The models' Redis paths (traffic's ping news, the guide's probe and
//! cache) against a Redis that hangs: each call keeps the platform's deadline
//! and, once the breaker opens, returns at once.

use std::time::Duration;

use shared::testing::{keeps_the_deadline_and_the_breaker, over_a_hung_redis};

#[tokio::test]
async fn traffic_ping_news_is_published_within_the_deadline_when_redis_hangs() {
    let app = over_a_hung_redis(Vec::new()).await;
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
    let app = over_a_hung_redis(Vec::new()).await;
    keeps_the_deadline_and_the_breaker("guide::probe", async || {
        assert_eq!(ai::guide::probe(&app.state).await, "unreachable");
    })
    .await;
}

#[tokio::test]
async fn the_guide_cache_reads_and_writes_within_the_deadline_when_redis_hangs() {
    use ai::guide::{self, Cached};
    let app = over_a_hung_redis(Vec::new()).await;
    let cached = Cached {
        guide: "g".into(),
        source: "fallback".into(),
        generated_at: chrono::Utc::now(),
    };
    keeps_the_deadline_and_the_breaker("guide::cached", async || {
        assert_eq!(guide::cached(&app.state, "k").await, None);
    })
    .await;
    let app = over_a_hung_redis(Vec::new()).await;
    keeps_the_deadline_and_the_breaker("guide::store", async || {
        guide::store(&app.state, "k", &cached, Duration::from_secs(60)).await;
    })
    .await;
}
