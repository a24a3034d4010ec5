//! `POST /api/travels/search`: upcoming departures whose origin and
//! destination start with what the app sends (ignoring case and accents), on
//! an Africa/Douala calendar day, with enough free seats.

use domain::travel::{SELECT_SUMMARIES, TravelSummary};
use shared::prelude::*;
use std::sync::LazyLock;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(search_travels)))
}

/// A search request, as the app sends it.
#[derive(Deserialize, ToSchema)]
struct SearchRequest {
    /// A prefix of the origin's name, any case, accents optional.
    #[schema(example = "yaoundé")]
    origin: String,
    #[schema(example = "douala")]
    destination: String,
    /// The day to search (its Africa/Douala day); any day when absent.
    departure_date: Option<DepartureDate>,
    /// 1 to 20 (default 1): departures with fewer free seats are left out.
    #[schema(minimum = 1, maximum = 20)]
    #[serde(default = "one")]
    passengers: i32,
    /// 1 to 100 (default 50).
    #[schema(minimum = 1, maximum = 100)]
    #[serde(default = "fifty")]
    limit: i64,
    /// Default 0.
    #[serde(default)]
    offset: i64,
}

fn one() -> i32 {
    1
}

fn fifty() -> i64 {
    50
}

impl Validate for SearchRequest {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .not_empty("origin", self.origin.trim())
            .max_len("origin", Some(&self.origin), 100)
            .not_empty("destination", self.destination.trim())
            .max_len("destination", Some(&self.destination), 100)
            .range("passengers", self.passengers, 1, 20)
            .range("limit", self.limit, 1, 100)
            .range("offset", self.offset, 0, 100_000)
            .finish()
    }
}

/// Matching departures, soonest first.
#[derive(Serialize, ToSchema)]
struct SearchResults {
    results: Vec<TravelSummary>,
}

static SEARCH: LazyLock<String> = LazyLock::new(|| {
    format!(
        r"{SELECT_SUMMARIES}
         WHERE fold(t.origin) LIKE fold($1) || '%' ESCAPE '\'
           AND fold(t.destination) LIKE fold($2) || '%' ESCAPE '\'
           AND t.departure_time > now()
           AND t.cancelled_at IS NULL
           AND ($3::date IS NULL OR (t.departure_time AT TIME ZONE 'Africa/Douala')::date = $3)
           AND t.available_seats >= $4
         ORDER BY t.departure_time, t.id LIMIT $5 OFFSET $6"
    )
});

/// Upcoming departures matching the request, soonest first.
#[utoipa::path(post, path = "/api/travels/search", tag = "Travel",
    request_body = SearchRequest,
    responses((status = 200, body = SearchResults), (status = 422, body = ErrorBody)))]
async fn search_travels(
    State(Db(db)): State<Db>,
    Json(req): Json<SearchRequest>,
) -> ApiResult<Json<SearchResults>> {
    let results = sqlx::query_as(SEARCH.as_str())
        .bind(prefix(&req.origin))
        .bind(prefix(&req.destination))
        .bind(req.departure_date.map(DepartureDate::douala_day))
        .bind(req.passengers)
        .bind(req.limit)
        .bind(req.offset)
        .fetch_all(&db)
        .await?;
    Ok(Json(SearchResults { results }))
}

/// `text` trimmed with its `LIKE` wildcards escaped; the SQL adds the `%`.
fn prefix(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, pluck, send};

    async fn search(app: &TestApp, body: Value) -> (u16, Value) {
        send(app.post("/api/travels/search", &body)).await
    }

    #[tokio::test]
    async fn matches_by_prefix_ignoring_case_and_accents() {
        let app =
            TestApp::spawn_with(vec![super::function()], &[("RATE_LIMIT_ANONYMOUS", "1000")]).await;
        let (status, body) =
            search(&app, json!({"origin": "yaoundé", "destination": "douala"})).await;
        assert_eq!(status, 200);
        let results = body["results"].as_array().unwrap();
        assert!(!results.is_empty());
        let keys: Vec<&String> = results[0].as_object().unwrap().keys().collect();
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
        let ids = pluck(&body["results"], "id");
        for r in results {
            assert_eq!(
                (&r["origin"], &r["destination"]),
                (&json!("Yaounde"), &json!("Douala"))
            );
        }
        let times = pluck(&body["results"], "departure_time");
        let mut sorted = times.clone();
        sorted.sort_by_key(|t| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
        assert_eq!(times, sorted);
        for (origin, destination) in [
            ("yaounde", "douala"),
            ("Yaou", "DOUALA"),
            ("  YAOUNDÉ ", "Doua"),
        ] {
            let (_, other) =
                search(&app, json!({"origin": origin, "destination": destination})).await;
            assert_eq!(
                pluck(&other["results"], "id"),
                ids,
                "{origin} {destination}"
            );
        }
        let (_, none) = search(&app, json!({"origin": "douala", "destination": "yaou%"})).await;
        assert_eq!(none["results"], json!([]), "wildcards are literal");
        let (_, none) = search(&app, json!({"origin": "ounde", "destination": "douala"})).await;
        assert_eq!(none["results"], json!([]), "prefix, not substring");
    }

    #[tokio::test]
    async fn takes_the_douala_day_of_an_iso_instant() {
        let app = TestApp::spawn(vec![super::function()]).await;
        // A day a week ahead, in Douala, as a date and as instants around its midnight.
        let day: chrono::NaiveDate =
            sqlx::query_scalar("SELECT (now() AT TIME ZONE 'Africa/Douala')::date + 7")
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        let before = day.pred_opt().unwrap();
        let want: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM travel_routes WHERE fold(origin) = 'douala' AND fold(destination) = 'buea'
             AND (departure_time AT TIME ZONE 'Africa/Douala')::date = $1 ORDER BY departure_time",
        )
        .bind(day)
        .fetch_all(&app.state.db)
        .await
        .unwrap();
        assert_eq!(want.len(), 3);
        let mut got = Vec::new();
        for date in [
            day.to_string(),
            // 23:30 UTC the evening before is 00:30 on `day` in Douala.
            format!("{before}T23:30:00.000Z"),
            format!("{day}T11:00:00.000Z"),
            format!("{day}T22:59:00.000Z"),
            // Python's utcnow().isoformat(), as the original's clients send: UTC.
            format!("{before}T23:30:00.123456"),
            format!("{day}T11:00:00"),
        ] {
            let (status, body) = search(
                &app,
                json!({"origin": "douala", "destination": "buea", "departure_date": date}),
            )
            .await;
            assert_eq!(status, 200, "{date}");
            got.push(
                pluck(&body["results"], "id")
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            );
        }
        for g in &got {
            assert_eq!(g, &want);
        }
        // 23:00 UTC is already the next day in Douala.
        let (_, next) = search(
            &app,
            json!({"origin": "douala", "destination": "buea", "departure_date": format!("{day}T23:00:00.000Z")}),
        )
        .await;
        let next_ids = pluck(&next["results"], "id");
        assert_eq!(next_ids.len(), 3);
        assert!(next_ids.iter().all(|id| !want.contains(&id.to_string())));
    }

    #[tokio::test]
    async fn leaves_out_full_and_past_departures() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let req = json!({"origin": "buea", "destination": "yaounde", "passengers": 3});
        let (_, before) = search(&app, req.clone()).await;
        let ids: Vec<String> = pluck(&before["results"], "id")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(ids.len() >= 3);
        sqlx::query("UPDATE travel_routes SET available_seats = 2 WHERE id = $1")
            .bind(&ids[0])
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query(
            "UPDATE travel_routes SET departure_time = now() - interval '10 minutes' WHERE id = $1",
        )
        .bind(&ids[1])
        .execute(&app.state.db)
        .await
        .unwrap();
        let (_, after) = search(&app, req).await;
        let after_ids = pluck(&after["results"], "id");
        assert!(!after_ids.contains(&ids[0].as_str()), "only 2 seats left");
        assert!(!after_ids.contains(&ids[1].as_str()), "already left");
        assert!(after_ids.contains(&ids[2].as_str()));
        let (_, two) = search(
            &app,
            json!({"origin": "buea", "destination": "yaounde", "passengers": 2}),
        )
        .await;
        assert!(pluck(&two["results"], "id").contains(&ids[0].as_str()));
    }

    #[tokio::test]
    async fn is_capped_and_paged() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (_, all) = search(
            &app,
            json!({"origin": "d", "destination": "b", "limit": 100}),
        )
        .await;
        let all_ids = pluck(&all["results"], "id");
        assert!(all_ids.len() > 20 && all_ids.len() <= 100);
        let (_, page) = search(
            &app,
            json!({"origin": "d", "destination": "b", "limit": 5, "offset": 5}),
        )
        .await;
        assert_eq!(pluck(&page["results"], "id"), all_ids[5..10]);
    }

    #[tokio::test]
    async fn bad_requests_are_422_naming_the_field() {
        let app =
            TestApp::spawn_with(vec![super::function()], &[("RATE_LIMIT_ANONYMOUS", "1000")]).await;
        let long = "y".repeat(101);
        for (body, field) in [
            (
                json!({"origin": "douala", "destination": "buea", "passengers": 0}),
                "passengers",
            ),
            (
                json!({"origin": "douala", "destination": "buea", "passengers": 21}),
                "passengers",
            ),
            (json!({"origin": "", "destination": "buea"}), "origin"),
            (
                json!({"origin": "douala", "destination": "  "}),
                "destination",
            ),
            (json!({"origin": long, "destination": "buea"}), "origin"),
            (json!({"origin": "douala"}), "destination"),
            (
                json!({"origin": "douala", "destination": "buea", "departure_date": "tomorrow"}),
                "departure_date",
            ),
            (
                json!({"origin": "douala", "destination": "buea", "departure_date": "2026-13-01"}),
                "departure_date",
            ),
            (
                json!({"origin": "douala", "destination": "buea", "departure_date": "0000-01-01"}),
                "departure_date",
            ),
            (
                json!({"origin": "douala", "destination": "buea", "departure_date": "0000-12-31T23:00:00"}),
                "departure_date",
            ),
            (
                json!({"origin": "douala", "destination": "buea", "limit": 101}),
                "limit",
            ),
        ] {
            let (status, answer) = search(&app, body.clone()).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(answer["detail"][0]["loc"], json!(["body", field]), "{body}");
            assert!(answer["message"].is_string());
        }
        let (status, _) = send(app.post_raw(
            "/api/travels/search",
            r#"{"origin": "dou\u0000ala", "destination": "buea"}"#,
        ))
        .await;
        assert_eq!(status, 422, "NUL in a string");
    }

    #[tokio::test]
    async fn mangled_bodies_are_refused_and_never_a_server_error() {
        let app = TestApp::spawn_with(
            vec![super::function()],
            &[
                ("RATE_LIMIT_ANONYMOUS", "100000"),
                ("FLOOD_LIMIT", "100000"),
            ],
        )
        .await;
        let seed = json!({"origin": "yaoundé", "destination": "douala",
            "departure_date": "2026-11-27T11:00:00.000Z", "passengers": 2});
        let statuses =
            shared::testing::fuzz_json(&app, "/api/travels/search", &seed, None, 400).await;
        assert!(
            statuses.get(&422).copied().unwrap_or(0) > 100,
            "{statuses:?}"
        );
        assert!(statuses.contains_key(&200), "{statuses:?}");
    }
}
