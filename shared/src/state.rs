//! The state every handler receives: configuration, pools, the token verifier
//! and the metrics registry. Building it does no I/O, so cold starts stay fast.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::auth::FirebaseVerifier;
use crate::cache::{CacheError, Memo, Redis};
use crate::config::{Config, ConfigError};
use crate::local_limit::LocalLimiter;
use crate::metrics::Metrics;
use crate::users::KnownUsers;

/// Shared by every request of one instance. One `Arc`, so the clones axum
/// makes per request (extractors, layers, each route's service) cost one
/// atomic increment, not one per pool and registry.
#[derive(Clone)]
pub struct AppState(Arc<App>);

/// What [`AppState`] shares; reached through `Deref` (`state.db`).
pub struct App {
    pub config: Arc<Config>,
    /// The primary: every write, and every read that must see them.
    pub db: PgPool,
    /// Where a read-only function reads: the replicas (`DATABASE_READ_URL`)
    /// when the served functions' manifests all say `read_only = true`,
    /// else the same pool as [`App::db`].
    pub db_read: PgPool,
    /// The Redis master, directly or through Sentinel: the one way to it,
    /// every command within the deadline and through the breaker.
    pub redis: Redis,
    pub auth: Arc<FirebaseVerifier>,
    pub metrics: Arc<Metrics>,
    pub known_users: Arc<KnownUsers>,
    /// Per-instance rate-limit counts, synced to Redis in batches.
    pub limiter: Arc<LocalLimiter>,
    /// Hot public reads kept for `READ_CACHE_MS`.
    pub memo: Arc<Memo>,
    /// Device sessions Redis vouched for (account generation), kept for
    /// `SESSION_CHECK_MS`.
    pub sessions: Memo<i64>,
    /// Revocations read from Postgres while Redis is down, kept for
    /// [`crate::sessions::FALLBACK_TRUST`].
    pub revocations: Memo<bool>,
}

impl AppState {
    /// Pools that connect on first use: nothing here waits on the network.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let db = lazy_pool(&config, connect_options(&config)?);
        Self::with_pool(config, db)
    }

    /// State around an existing Postgres pool (tests, the dev server); the
    /// read pool is its own when `DATABASE_READ_URL` is set.
    pub fn with_pool(config: Config, db: PgPool) -> Result<Self, ConfigError> {
        let db_read = match &config.database_read_url {
            Some(url) => lazy_pool(&config, with_settings(&config, url, "DATABASE_READ_URL")?),
            None => db.clone(),
        };
        let metrics = Arc::new(Metrics::new(&config.function));
        let redis = Redis::new(&config, metrics.clone())?;
        let auth = FirebaseVerifier::new(&config);
        metrics.register(Box::new(auth.token_cache_metric().clone()));
        Ok(Self(Arc::new(App {
            auth,
            metrics,
            limiter: Arc::default(),
            memo: Arc::default(),
            sessions: Memo::with_capacity(SESSION_MEMO_CAPACITY),
            revocations: Memo::with_capacity(SESSION_MEMO_CAPACITY),
            known_users: Arc::default(),
            config: Arc::new(config),
            db,
            db_read,
            redis,
        })))
    }
}

impl std::ops::Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

/// The primary pool, for a handler that needs only it:
/// `State(Db(db)): State<Db>` (an axum substate of [`AppState`]).
#[derive(Clone)]
pub struct Db(pub PgPool);

/// The pool a read-only function reads through ([`App::db_read`]):
/// `State(ReadDb(db)): State<ReadDb>`.
#[derive(Clone)]
pub struct ReadDb(pub PgPool);

impl FromRef<AppState> for Db {
    fn from_ref(state: &AppState) -> Self {
        Self(state.db.clone())
    }
}

impl FromRef<AppState> for ReadDb {
    fn from_ref(state: &AppState) -> Self {
        Self(state.db_read.clone())
    }
}

impl FromRef<AppState> for Redis {
    fn from_ref(state: &AppState) -> Self {
        state.redis.clone()
    }
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(state: &AppState) -> Self {
        state.config.clone()
    }
}

impl FromRef<AppState> for Arc<FirebaseVerifier> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// Device sessions (and revocations) an instance remembers at most.
pub const SESSION_MEMO_CAPACITY: usize = 50_000;

impl App {
    /// Runs `op` (named `command` in metrics and traces) on a pooled Redis
    /// connection, within the configured deadline, through the breaker (see
    /// [`Redis::run`]).
    pub async fn with_redis<T>(
        &self,
        command: &'static str,
        op: impl AsyncFnOnce(&mut crate::redis_pool::RedisConnection) -> redis::RedisResult<T>,
    ) -> Result<T, CacheError> {
        self.redis.run(command, op).await
    }

    /// A Redis key under this deployment's prefix.
    pub fn redis_key(&self, parts: &[&str]) -> String {
        self.config.redis_key(parts)
    }
}

fn lazy_pool(config: &Config, options: PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .min_connections(0)
        .acquire_timeout(config.db_acquire_timeout)
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options)
}

/// `DATABASE_URL` with the configured statement cache.
pub fn connect_options(config: &Config) -> Result<PgConnectOptions, ConfigError> {
    with_settings(config, &config.database_url, "DATABASE_URL")
}

/// `url` with the configured statement cache and statement timeout.
fn with_settings(
    config: &Config,
    url: &str,
    variable: &'static str,
) -> Result<PgConnectOptions, ConfigError> {
    let options: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| ConfigError {
        variable,
        problem: e.to_string(),
    })?;
    let options = options.statement_cache_capacity(config.db_statement_cache);
    let timeout = config.db_statement_timeout.as_millis();
    Ok(if timeout > 0 {
        options.options([("statement_timeout", timeout.to_string())])
    } else {
        options
    })
}
