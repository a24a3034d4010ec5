//! A bare axum + sqlx server: `GET /api/cities` and `GET /api/travels` with
//! the exact queries and JSON shapes of cities-list and travels-list, on the
//! same pool settings as the platform (lazy, `DB_MAX_CONNECTIONS` default 5,
//! 5 s acquire timeout, prepared statements cached), serving `0.0.0.0:$PORT`.
//! Errors are a bare 500: the benchmark only ever measures 200s.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// functions/cities-list: `SELECT {CITY_COLUMNS} FROM cities ORDER BY name`.
const CITIES: &str = "SELECT id, name, country, description, population FROM cities ORDER BY name";

/// functions/travels-list's `LIST`.
const TRAVELS: &str = concat!(
    "SELECT t.id, t.origin, t.destination, t.departure_time, t.estimated_arrival, ",
    "t.available_seats, t.price_per_seat::float8 AS price_per_seat, t.confidence ",
    "FROM travel_routes t WHERE t.departure_time > now() AND t.cancelled_at IS NULL ",
    "ORDER BY t.departure_time, t.id LIMIT $1 OFFSET $2"
);

#[derive(Serialize, sqlx::FromRow)]
struct City {
    id: String,
    name: String,
    country: String,
    description: String,
    population: i64,
}

#[derive(Serialize, sqlx::FromRow)]
struct TravelSummary {
    id: String,
    origin: String,
    destination: String,
    departure_time: DateTime<Utc>,
    estimated_arrival: DateTime<Utc>,
    available_seats: i32,
    price_per_seat: f64,
    confidence: f64,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default = "fifty")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn fifty() -> i64 {
    50
}

async fn cities(State(db): State<PgPool>) -> Result<Json<Vec<City>>, StatusCode> {
    sqlx::query_as(CITIES)
        .fetch_all(&db)
        .await
        .map(Json)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

async fn travels(
    State(db): State<PgPool>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<TravelSummary>>, StatusCode> {
    if !(1..=100).contains(&page.limit) || page.offset < 0 {
        return Err(StatusCode::UNPROCESSABLE_ENTITY);
    }
    sqlx::query_as(TRAVELS)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&db)
        .await
        .map(Json)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL is required");
    let options: PgConnectOptions = url.parse().expect("DATABASE_URL is not a Postgres URL");
    let db = PgPoolOptions::new()
        .max_connections(env_or("DB_MAX_CONNECTIONS", 5))
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options.statement_cache_capacity(100));
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/cities", get(cities))
        .route("/api/travels", get(travels))
        .with_state(db);
    let port: u16 = env_or("PORT", 8080);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
        .await
        .expect("bind");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        })
        .await
        .expect("serve");
}
