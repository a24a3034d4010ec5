//! A bare axum + sqlx server: `GET /api/cities` and `GET /api/travels` with
//! the exact queries and JSON shapes of cities-list and travels-list, on the
//! same pool settings as the platform (lazy, `DB_MAX_CONNECTIONS` default 5,
//! 5 s acquire timeout, prepared statements cached), serving `0.0.0.0:$PORT`.
//! Errors are a bare 500: the benchmark only ever measures 200s.
//!
//! With `BASELINE_JWK` (an RSA JWK, `{"n": ..., "e": ...}`) also
//! `GET /api/verified/cities`: the cities answer behind the bare cost of a
//! Firebase token, its RS256 signature, `aud`, `iss`, `exp` and `sub` checked
//! with jsonwebtoken on every request (project `FIREBASE_PROJECT_ID`); 401
//! otherwise.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
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

/// The key and checks of `GET /api/verified/cities`.
struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

#[derive(Clone)]
struct App {
    db: PgPool,
    verifier: Arc<Verifier>,
}

#[derive(Deserialize)]
struct Jwk {
    n: String,
    e: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl Verifier {
    fn from_env() -> Option<Self> {
        let jwk: Jwk = serde_json::from_str(&std::env::var("BASELINE_JWK").ok()?)
            .expect("BASELINE_JWK is not a JWK");
        let project =
            std::env::var("FIREBASE_PROJECT_ID").expect("FIREBASE_PROJECT_ID is required");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&project]);
        validation.set_issuer(&[format!("https://securetoken.google.com/{project}")]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        validation.leeway = 30;
        Some(Self {
            key: DecodingKey::from_rsa_components(&jwk.n, &jwk.e).expect("BASELINE_JWK: bad key"),
            validation,
        })
    }
}

async fn verified_cities(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Json<Vec<City>>, StatusCode> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let claims = jsonwebtoken::decode::<Claims>(token, &app.verifier.key, &app.verifier.validation)
        .map_err(|_| StatusCode::UNAUTHORIZED)?
        .claims;
    if claims.sub.is_empty() {
        return Err(StatusCode::UNAUTHORIZED);
    }
    cities(State(app.db)).await
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
    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/cities", get(cities))
        .route("/api/travels", get(travels))
        .with_state(db.clone());
    if let Some(verifier) = Verifier::from_env() {
        let verified = Router::new()
            .route("/api/verified/cities", get(verified_cities))
            .with_state(App {
                db,
                verifier: Arc::new(verifier),
            });
        app = app.merge(verified);
    }
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
