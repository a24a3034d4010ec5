//! The Redis pool: one server (`REDIS_URL=redis://…`), or whichever server a
//! set of Sentinels names master (`REDIS_URL=redis+sentinel://…`, or
//! `REDIS_SENTINELS` with `REDIS_SENTINEL_MASTER`).
//!
//! Under Sentinel every new connection first asks the Sentinels for the
//! master's address (and checks that server's `ROLE`), so a failover needs no
//! restart: connections to the old master fail, the pool drops them when it
//! next recycles them (a `PING` on every checkout), and their replacements
//! reach the new master. Sentinel also disconnects the clients of a master it
//! demotes, so none keep writing to a replica.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::{PoolConfig, PoolError, Runtime, Status, Timeouts};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::config::{Config, ConfigError, RedisSentinel};

/// Pooled connections to the Redis master, found directly or through Sentinel.
#[derive(Clone)]
pub enum RedisPool {
    /// `REDIS_URL=redis://…`.
    Single {
        pool: deadpool_redis::Pool,
        url: String,
    },
    /// The master the Sentinels name.
    Sentinel {
        pool: deadpool_redis::sentinel::Pool,
        /// Asks the Sentinels for the master outside the pool (pub/sub).
        client: Arc<tokio::sync::Mutex<SentinelClient>>,
    },
}

/// A pooled connection of either kind; use it as any [`ConnectionLike`].
pub enum RedisConnection {
    Single(deadpool_redis::Connection),
    Sentinel(deadpool_redis::sentinel::Connection),
}

impl RedisPool {
    /// A pool that connects on first use.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let pool = PoolConfig {
            max_size: config.redis_max_connections,
            timeouts: Timeouts {
                wait: Some(Duration::from_secs(2)),
                create: Some(Duration::from_secs(2)),
                recycle: Some(Duration::from_secs(1)),
            },
            ..Default::default()
        };
        let Some(sentinel) = &config.redis_sentinel else {
            let mut cfg = deadpool_redis::Config::from_url(config.redis_url.clone());
            cfg.pool = Some(pool);
            return Ok(Self::Single {
                pool: cfg
                    .create_pool(Some(Runtime::Tokio1))
                    .map_err(redis_url_error)?,
                url: config.redis_url.clone(),
            });
        };
        let nodes = deadpool_redis::sentinel::SentinelNodeConnectionInfo {
            tls_mode: None,
            redis_connection_info: Some(deadpool_redis::RedisConnectionInfo {
                db: sentinel.db,
                username: sentinel.username.clone(),
                password: sentinel.password.clone(),
                ..Default::default()
            }),
        };
        let urls = sentinel.sentinel_urls();
        let mut cfg = deadpool_redis::sentinel::Config::from_urls(
            urls.clone(),
            sentinel.master.clone(),
            deadpool_redis::sentinel::SentinelServerType::Master,
        )
        .with_node_connection_info(Some(nodes.clone()));
        cfg.pool = Some(pool);
        let client = SentinelClient::build(
            urls,
            sentinel.master.clone(),
            Some(SentinelNodeConnectionInfo::from(nodes)),
            SentinelServerType::Master,
        )
        .map_err(redis_url_error)?;
        Ok(Self::Sentinel {
            pool: cfg
                .create_pool(Some(Runtime::Tokio1))
                .map_err(redis_url_error)?,
            client: Arc::new(tokio::sync::Mutex::new(client)),
        })
    }

    /// A connection to the current master, from the pool.
    pub async fn get(&self) -> Result<RedisConnection, PoolError> {
        Ok(match self {
            Self::Single { pool, .. } => RedisConnection::Single(pool.get().await?),
            Self::Sentinel { pool, .. } => RedisConnection::Sentinel(pool.get().await?),
        })
    }

    /// A client for the current master, for connections the pool does not
    /// keep (pub/sub). Ask again after such a connection drops.
    pub async fn client(&self) -> redis::RedisResult<redis::Client> {
        match self {
            Self::Single { url, .. } => redis::Client::open(url.as_str()),
            Self::Sentinel { client, .. } => client.lock().await.async_get_client().await,
        }
    }

    /// The pool's size and idle connections (for `/metrics`).
    pub fn status(&self) -> Status {
        match self {
            Self::Single { pool, .. } => pool.status(),
            Self::Sentinel { pool, .. } => pool.status(),
        }
    }
}

impl RedisConnection {
    fn inner(&mut self) -> &mut MultiplexedConnection {
        match self {
            Self::Single(c) => c,
            Self::Sentinel(c) => c,
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.inner().req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.inner().req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Sentinel(c) => c.get_db(),
        }
    }
}

impl RedisSentinel {
    /// `redis://[:password@]host:port` for each Sentinel
    /// (`REDIS_SENTINEL_PASSWORD`, when the Sentinels require one).
    fn sentinel_urls(&self) -> Vec<String> {
        let auth = self
            .sentinel_password
            .as_deref()
            .map(|p| format!(":{}@", encode(p)))
            .unwrap_or_default();
        self.sentinels
            .iter()
            .map(|host| format!("redis://{auth}{host}"))
            .collect()
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `REDIS_URL` that the pool refuses.
fn redis_url_error(e: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        variable: "REDIS_URL",
        problem: e.to_string(),
    }
}
