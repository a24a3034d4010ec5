//! Caching. [`Memo`]: answers of hot public reads kept in memory for a moment
//! (`READ_CACHE_MS`, 1000), so a burst of identical list requests costs one
//! query per instance per moment instead of one each.
//!
//! Redis as every function uses it: a soft dependency (rate limits, session
//! throttles, pub/sub), so each command has a deadline, failures are counted
//! and traced, and a circuit breaker stops waiting on a Redis that is down or
//! hangs: after [`TRIP_AFTER`] failures in a row, commands fail at once for
//! [`OPEN_FOR`], then one probe decides whether to close again.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::config::{Config, ConfigError};
use crate::metrics::{Metrics, PROCESS_START};
use crate::redis_pool::{RedisConnection, RedisPool};

/// Consecutive failures that open the breaker.
pub const TRIP_AFTER: u32 = 3;
/// How long an open breaker fails commands without trying.
pub const OPEN_FOR: Duration = Duration::from_secs(5);

/// Why a Redis command did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    #[error("redis breaker open; not tried")]
    Open,
    #[error("redis did not answer within the deadline")]
    Timeout,
    #[error("redis error: {0}")]
    Failed(String),
}

/// The breaker: consecutive failures, and until when it stays open.
#[derive(Debug, Default)]
pub struct Breaker {
    failures: AtomicU32,
    /// Milliseconds since process start; 0 when closed.
    open_until: AtomicU64,
}

fn now_ms() -> u64 {
    Instant::now().duration_since(*PROCESS_START).as_millis() as u64 + 1
}

impl Breaker {
    /// Whether to try now: closed, or open long enough for one probe.
    fn allow(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = now_ms();
        // Past the open period: let exactly one caller probe (and re-arm).
        now >= until
            && self
                .open_until
                .compare_exchange(
                    until,
                    now + OPEN_FOR.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    fn record(&self, ok: bool) {
        if ok {
            self.failures.store(0, Ordering::Release);
            self.open_until.store(0, Ordering::Release);
        } else if self.failures.fetch_add(1, Ordering::AcqRel) + 1 >= TRIP_AFTER {
            self.open_until
                .store(now_ms() + OPEN_FOR.as_millis() as u64, Ordering::Release);
        }
    }

    /// Whether commands are currently failing fast.
    pub fn is_open(&self) -> bool {
        self.open_until.load(Ordering::Acquire) > now_ms()
    }
}

/// The one way to Redis: every command runs through [`Redis::run`], with the
/// configured deadline (`REDIS_TIMEOUT_MS`), through the breaker, counted and
/// traced. The pool itself stays inside the platform (the WebSocket
/// subscriber's dedicated connection and the pool gauges).
#[derive(Clone)]
pub struct Redis(std::sync::Arc<RedisInner>);

struct RedisInner {
    pool: RedisPool,
    breaker: Breaker,
    timeout: Duration,
    metrics: std::sync::Arc<Metrics>,
}

impl Redis {
    /// The handle over a pool that connects on first use.
    pub fn new(config: &Config, metrics: std::sync::Arc<Metrics>) -> Result<Self, ConfigError> {
        Ok(Self(std::sync::Arc::new(RedisInner {
            pool: RedisPool::new(config)?,
            breaker: Breaker::default(),
            timeout: config.redis_timeout,
            metrics,
        })))
    }

    /// Whether commands are failing fast because the breaker is open.
    pub fn breaker_open(&self) -> bool {
        self.0.breaker.is_open()
    }

    /// The pool, for the platform's own plumbing only.
    pub(crate) fn pool(&self) -> &RedisPool {
        &self.0.pool
    }

    /// A pooled connection outside the deadline and breaker, for tests that
    /// inspect or seed Redis directly.
    #[cfg(feature = "testing")]
    pub async fn connection_for_tests(&self) -> RedisConnection {
        self.0.pool.get().await.expect("test Redis reachable")
    }
}

impl Redis {
    /// Runs `op` (named `command` in metrics and traces) on a pooled Redis
    /// connection, within the configured deadline, through the breaker.
    pub async fn run<T>(
        &self,
        command: &'static str,
        op: impl AsyncFnOnce(&mut RedisConnection) -> redis::RedisResult<T>,
    ) -> Result<T, CacheError> {
        let m = &self.0.metrics;
        if !self.0.breaker.allow() {
            m.redis_commands
                .with_label_values(&[command, "skipped"])
                .inc();
            return Err(CacheError::Open);
        }
        let started = Instant::now();
        let span = tracing::info_span!(
            "redis",
            otel.name = command,
            otel.kind = "client",
            db.system = "redis"
        );
        let run = async {
            let mut conn = self
                .0
                .pool
                .get()
                .await
                .map_err(|e| CacheError::Failed(e.to_string()))?;
            op(&mut conn)
                .await
                .map_err(|e| CacheError::Failed(e.to_string()))
        };
        let result = match tokio::time::timeout(self.0.timeout, run.instrument(span)).await {
            Ok(r) => r,
            Err(_) => Err(CacheError::Timeout),
        };
        self.0.breaker.record(result.is_ok());
        let outcome = match &result {
            Ok(_) => "ok",
            Err(CacheError::Timeout) => "timeout",
            Err(_) => "error",
        };
        m.redis_commands
            .with_label_values(&[command, outcome])
            .inc();
        m.redis_duration
            .with_label_values(&[command])
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

/// Short-lived values per instance: `key` to a value and when it was
/// stored, trusted for a caller-given time. Public reads keep response bodies
/// for `READ_CACHE_MS` (bookings stay exact: they never read through it; a
/// list may show a seat count up to that old); device sessions keep the
/// account generation Redis vouched for, for `SESSION_CHECK_MS`.
pub struct Memo<V = axum::body::Bytes> {
    entries: std::sync::Mutex<std::collections::HashMap<String, (Instant, V)>>,
    /// Beyond this many keys the memo starts over.
    capacity: usize,
}

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Self::with_capacity(1024)
    }
}

impl<V> Memo<V> {
    /// An empty memo that starts over beyond `capacity` keys.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: std::sync::Mutex::default(),
            capacity,
        }
    }
}

impl<V: Clone> Memo<V> {
    /// The value under `key` if it was stored within `ttl`.
    pub fn fresh(&self, key: &str, ttl: Duration) -> Option<V> {
        let entries = self.entries.lock().expect("not poisoned");
        let (at, value) = entries.get(key)?;
        (at.elapsed() < ttl).then(|| value.clone())
    }

    /// Stores `value` under `key`, as of `at`.
    pub fn insert(&self, key: String, at: Instant, value: V) {
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, (at, value));
    }

    /// Forgets every key starting with `prefix`.
    pub fn forget_prefix(&self, prefix: &str) {
        self.entries
            .lock()
            .expect("not poisoned")
            .retain(|k, _| !k.starts_with(prefix));
    }

    /// The value cached under `key` within `ttl`, else `fill`'s (then cached).
    pub async fn get_or_fill<E>(
        &self,
        key: &str,
        ttl: Duration,
        fill: impl AsyncFnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if ttl.is_zero() {
            return fill().await;
        }
        let now = Instant::now();
        if let Some(value) = self.fresh(key, ttl) {
            return Ok(value);
        }
        let value = fill().await?;
        self.insert(key.to_owned(), now, value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_consecutive_failures_and_probes_once() {
        let b = Breaker::default();
        assert!(b.allow());
        b.record(false);
        b.record(true);
        b.record(false);
        b.record(false);
        assert!(b.allow(), "two failures in a row are not enough");
        b.record(false);
        assert!(b.is_open());
        assert!(!b.allow());
        // Pretend the open period passed: one probe goes through, the next waits.
        b.open_until.store(1, Ordering::Release);
        assert!(b.allow());
        assert!(!b.allow());
        b.record(true);
        assert!(!b.is_open());
        assert!(b.allow());
    }
}
