//! Assembles served routers: one function (the runtime) or all of them (the
//! dev server), each behind its own guard, plus the operational endpoints.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use tower::ServiceBuilder;

use crate::error::ApiError;
use crate::extract::Json;
use crate::function::Function;
use crate::middleware::{AroundLayer, Guard, Platform, RouteLabels, cors};
use crate::state::AppState;

/// Request bodies above this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The routes every function answers besides its own.
pub const OPERATIONAL_ROUTES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The whole application for `functions` over `state`.
pub fn build(functions: Vec<Function>, state: AppState) -> Router {
    let operational = OPERATIONAL_ROUTES.map(|path| ("GET", path));
    let declared = functions
        .iter()
        .flat_map(|f| &f.manifest.routes)
        .map(|r| (r.method.as_str(), r.path.as_str()));
    let routes = Arc::new(state.metrics.route_table(declared.chain(operational)));
    // One route layer per route (each is a boxed service axum clones per
    // request): the guard labels its routes' responses itself.
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route_layer(AroundLayer(RouteLabels(routes.clone())));
    for function in functions {
        function
            .catalogs
            .iter()
            .copied()
            .for_each(crate::i18n::register);
        let g = Guard {
            state: state.clone(),
            auth: function.manifest.auth,
            tier: function.manifest.rate_limit,
            routes: routes.clone(),
        };
        app = app.merge(function.router.route_layer(AroundLayer(g)));
    }
    // One `layer` call: each call boxes every route's service once more.
    let platform = ServiceBuilder::new()
        .layer(AroundLayer(Platform(state.clone())))
        .layer(cors(&state.config.allowed_origins))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    app.fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(platform)
        .with_state(state)
}

async fn fallback() -> ApiError {
    ApiError::NotFound(crate::i18n::MESSAGES.text("route-not-found"))
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn healthz() -> &'static str {
    "ok"
}

/// What `/readyz` found: Postgres (with this build's migrations) decides
/// readiness; Redis is reported but soft, since every use of it fails open.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Dependencies {
    /// `ok`, `unavailable`, or `migrations pending`.
    pub postgres: &'static str,
    /// `ok`, `unavailable` or `degraded` (breaker open): never makes the instance unready.
    pub redis: &'static str,
}

impl Dependencies {
    /// This instance can serve: its database answers with the expected schema.
    pub fn healthy(&self) -> bool {
        self.postgres == "ok"
    }

    /// Every dependency answers, the soft ones too.
    pub fn all_ok(&self) -> bool {
        self.postgres == "ok" && self.redis == "ok"
    }
}

/// Checks Postgres (and its schema) and Redis, each with a short timeout.
pub async fn check_dependencies(state: &AppState) -> Dependencies {
    let timeout = std::time::Duration::from_secs(2);
    let pg = tokio::time::timeout(timeout, crate::schema::is_current(&state.db));
    let redis = state.with_redis("PING", async |conn| {
        redis::cmd("PING").query_async::<String>(conn).await
    });
    let (pg, redis) = tokio::join!(pg, redis);
    Dependencies {
        postgres: match pg {
            Ok(Ok(true)) => "ok",
            Ok(Ok(false)) => "migrations pending",
            _ => "unavailable",
        },
        redis: match redis {
            Ok(_) => "ok",
            Err(crate::cache::CacheError::Open) => "degraded",
            Err(_) => "unavailable",
        },
    }
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let deps = check_dependencies(&state).await;
    let code = if deps.healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(deps))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let db = &state.db;
    let idle = db.num_idle() as i64;
    m.db_pool.with_label_values(&["idle"]).set(idle);
    m.db_pool
        .with_label_values(&["in_use"])
        .set(i64::from(db.size()) - idle);
    m.db_pool
        .with_label_values(&["max"])
        .set(i64::from(db.options().get_max_connections()));
    let redis = state.redis.pool().status();
    m.redis_pool
        .with_label_values(&["idle"])
        .set(redis.available as i64);
    m.redis_pool
        .with_label_values(&["in_use"])
        .set(redis.size as i64 - redis.available as i64);
    m.redis_pool
        .with_label_values(&["max"])
        .set(redis.max_size as i64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        m.render(),
    )
}
