//! `GET /api/travels`: upcoming departures, soonest first, a page at a time.

use domain::travel::{Page, TravelSummary};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(list_travels)))
}

/// One indexed range scan on `travel_routes_departure_idx`.
const LIST: &str = concat!(
    "SELECT t.id, t.origin, t.destination, t.departure_time, t.estimated_arrival, ",
    "t.available_seats, t.price_per_seat::float8 AS price_per_seat, t.confidence ",
    "FROM travel_routes t WHERE t.departure_time > now() AND t.cancelled_at IS NULL ",
    "ORDER BY t.departure_time, t.id LIMIT $1 OFFSET $2"
);

/// Departures still to leave, soonest first (`limit` default 50, at most 100).
///
/// The app's busiest read: each page is reused for `READ_CACHE_MS` (seat
/// counts may lag that long; booking itself is exact).
#[utoipa::path(get, path = "/api/travels", tag = "Travel", params(Page),
    responses((status = 200, body = [TravelSummary]), (status = 422, body = ErrorBody)))]
async fn list_travels(
    State(state): State<AppState>,
    Query(page): Query<Page>,
) -> ApiResult<RawJson> {
    let key = format!("travels:{}:{}", page.limit, page.offset);
    let body = state
        .memo
        .get_or_fill(&key, state.config.read_cache, async || {
            let travels: Vec<TravelSummary> = sqlx::query_as(LIST)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(&state.db_read)
                .await?;
            to_json_bytes(&travels)
        })
        .await?;
    Ok(RawJson(body))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use shared::testing::{TestApp, pluck, send};

    fn times(body: &Value) -> Vec<&str> {
        pluck(body, "departure_time")
    }

    #[tokio::test]
    async fn lists_upcoming_departures_soonest_first_in_the_contract_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.get("/api/travels")).await;
        assert_eq!(status, 200);
        let list = body.as_array().unwrap();
        assert_eq!(list.len(), 50, "default page size");
        let first = &list[0];
        let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "available_seats",
                "confidence",
                "departure_time",
                "destination",
                "estimated_arrival",
                "id",
                "origin",
                "price_per_seat"
            ]
        );
        assert!(first["price_per_seat"].is_number());
        assert!(first["available_seats"].is_i64());
        let t = times(&body);
        let parsed: Vec<chrono::DateTime<chrono::Utc>> =
            t.iter().map(|s| s.parse().unwrap()).collect();
        assert!(parsed.windows(2).all(|w| w[0] <= w[1]), "sorted: {t:?}");
        assert!(parsed[0] > chrono::Utc::now());
        // Every listed id is a dated departure the app can book.
        for id in pluck(&body, "id") {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM travel_routes WHERE id = $1")
                .bind(id)
                .fetch_one(&app.state.db)
                .await
                .unwrap();
            assert_eq!(n, 1, "{id}");
        }
    }

    #[tokio::test]
    async fn pages_and_caps() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (_, all) = send(app.get("/api/travels?limit=100")).await;
        assert_eq!(all.as_array().unwrap().len(), 100);
        let (_, second) = send(app.get("/api/travels?limit=10&offset=10")).await;
        assert_eq!(pluck(&second, "id"), pluck(&all, "id")[10..20]);
        for query in ["limit=0", "limit=101", "offset=-1", "limit=abc"] {
            let (status, body) = send(app.get(&format!("/api/travels?{query}"))).await;
            assert_eq!(status, 422, "{query}");
            assert_eq!(body["detail"][0]["loc"][0], "query");
        }
    }

    #[tokio::test]
    async fn past_departures_are_hidden() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (_, before) = send(app.get("/api/travels?limit=1")).await;
        let soonest = before[0]["id"].as_str().unwrap().to_owned();
        sqlx::query(
            "UPDATE travel_routes SET departure_time = now() - interval '1 hour',
                 estimated_arrival = now() + interval '1 hour' WHERE id = $1",
        )
        .bind(&soonest)
        .execute(&app.state.db)
        .await
        .unwrap();
        let (_, after) = send(app.get("/api/travels?limit=100")).await;
        assert!(!pluck(&after, "id").contains(&soonest.as_str()));
    }

    #[tokio::test]
    async fn a_page_is_reused_for_the_read_cache_period_then_refreshed() {
        let app = TestApp::spawn_with(vec![super::function()], &[("READ_CACHE_MS", "400")]).await;
        let (_, before) = send(app.get("/api/travels?limit=1")).await;
        let first = before[0]["id"].as_str().unwrap().to_owned();
        sqlx::query("UPDATE travel_routes SET available_seats = 0 WHERE id = $1")
            .bind(&first)
            .execute(&app.state.db)
            .await
            .unwrap();
        let (_, cached) = send(app.get("/api/travels?limit=1")).await;
        assert_eq!(cached, before, "within the period the page is reused");
        tokio::time::sleep(std::time::Duration::from_millis(450)).await;
        let (_, fresh) = send(app.get("/api/travels?limit=1")).await;
        assert_eq!(fresh[0]["available_seats"], 0, "then read again");
        let (_, other) = send(app.get("/api/travels?limit=2")).await;
        assert_eq!(other.as_array().unwrap().len(), 2, "pages are cached apart");
    }
}
