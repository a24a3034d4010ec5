//! Configuration from the environment, validated once at start-up. A bad value
//! stops the process with a message naming the variable.

use std::time::Duration;

use crate::client_ip::TrustedProxies;

/// Requests per window for each rate-limit tier.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    pub anonymous: u32,
    pub authenticated: u32,
    pub premium: u32,
    pub ai: u32,
    pub booking: u32,
    pub window: Duration,
}

/// The contract's protections against brute force and floods, per client IP.
#[derive(Debug, Clone, PartialEq)]
pub struct AbuseLimits {
    /// Bad tokens in a row that lock an IP out (`AUTH_FAILURE_LIMIT`, 5).
    pub bad_token_limit: u32,
    /// How long the lockout lasts (`AUTH_LOCKOUT_SECONDS`, 1800).
    pub lockout: Duration,
    /// Anonymous requests per flood window before the IP is blocked (`FLOOD_LIMIT`, 100).
    pub flood_limit: u32,
    /// `FLOOD_WINDOW_SECONDS`, 300.
    pub flood_window: Duration,
    /// `FLOOD_BLOCK_SECONDS`, 900.
    pub flood_block: Duration,
}

/// Everything a function reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// The function(s) this process serves: metrics label, trace service name
    /// (`OTEL_SERVICE_NAME`, else Knative's `K_SERVICE`; the runtime sets it).
    pub function: String,
    pub port: u16,
    pub database_url: String,
    /// A read-only DSN (the replicas' Service, `DATABASE_READ_URL`): the
    /// pool of functions whose manifest says `read_only = true`; unset, they
    /// read from the primary. Read-after-write never goes through it.
    pub database_read_url: Option<String>,
    pub db_max_connections: u32,
    /// Prepared statements cached per connection (`DB_STATEMENT_CACHE_CAPACITY`,
    /// 100). Set 0 behind a transaction-mode pooler that cannot track them
    /// (PgBouncer before 1.21, or without `max_prepared_statements`).
    pub db_statement_cache: usize,
    /// Postgres cancels a statement running longer (`DB_STATEMENT_TIMEOUT_MS`,
    /// 5000; 0 = none), and the request answers 503. Sent as a startup
    /// parameter, which a pooler may drop: behind PgBouncer set it on the role.
    pub db_statement_timeout: Duration,
    /// How long a request waits for a pooled connection before answering 503
    /// (`DB_ACQUIRE_TIMEOUT_MS`, 5000).
    pub db_acquire_timeout: Duration,
    /// `REDIS_URL` as given (a `redis+sentinel://` one under Sentinel).
    pub redis_url: String,
    /// Set when the master is found through Sentinel ([`crate::redis_pool`]).
    pub redis_sentinel: Option<RedisSentinel>,
    pub redis_max_connections: usize,
    /// Prefix of every Redis key this deployment writes.
    pub redis_prefix: String,
    /// Deadline of one Redis command (`REDIS_TIMEOUT_MS`, 200): a Redis that
    /// accepts but never answers costs at most this, then the breaker opens.
    pub redis_timeout: Duration,
    /// How long a hot public list answer is reused (`READ_CACHE_MS`, 1000; 0 = never).
    pub read_cache: Duration,
    /// How long an instance trusts a device session Redis found in good
    /// standing (`SESSION_CHECK_MS`, 1000; 0 = ask Redis on every request).
    /// A revocation made elsewhere reaches this instance within it.
    pub session_check: Duration,
    pub firebase_project_id: String,
    /// Set in emulator mode only; unsigned emulator tokens are accepted then.
    pub firebase_auth_emulator_host: Option<String>,
    pub firebase_jwks_url: String,
    /// Verified RS256 tokens an instance remembers, so a token seen again
    /// skips the signature check until its `exp` (`AUTH_TOKEN_CACHE_ENTRIES`,
    /// 10000, a few hundred bytes each; 0 = verify every request).
    pub auth_token_cache: usize,
    pub allowed_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` entries are believed (`TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// IPv6 clients are counted per network of this many bits in every limit,
    /// lockout and socket cap (`RATE_LIMIT_IPV6_PREFIX`, 64).
    pub ipv6_prefix: u8,
    /// Open WebSockets one user may hold on an instance (`WS_MAX_PER_USER`, 5).
    pub ws_max_per_user: u32,
    /// Open WebSockets one client address may hold on an instance
    /// (`WS_MAX_PER_ADDRESS`, 200; IPv6 per `RATE_LIMIT_IPV6_PREFIX`).
    pub ws_max_per_address: u32,
    /// How long a WebSocket lives before it closes with 1001 so the client
    /// reconnects (`WS_MAX_LIFETIME_SECONDS`, 570: under the generated
    /// `timeoutSeconds` of 600, at which the queue-proxy would cut it).
    pub ws_max_lifetime: Duration,
    pub rate_limits: RateLimits,
    pub abuse: AbuseLimits,
    /// `RUST_LOG` syntax; from `RUST_LOG`, else `LOG_LEVEL`, else `info`.
    pub log_filter: String,
    /// Base URL the e-ticket and other links are built on.
    pub public_base_url: String,
    /// Errors go to Sentry when set.
    pub sentry_dsn: Option<String>,
    /// Where traces go, when they are on: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
    /// else `OTEL_EXPORTER_OTLP_ENDPOINT`; off when neither is set, or
    /// `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. The OpenTelemetry
    /// SDK reads these variables itself (with `OTEL_EXPORTER_OTLP_HEADERS`,
    /// `_TIMEOUT` and `_COMPRESSION`); this only says whether to start it.
    pub otlp_endpoint: Option<String>,
    /// `SENTRY_ENVIRONMENT`, default `production`.
    pub environment: String,
    /// HMAC key of e-ticket links (`TICKET_SIGNING_KEY`, at least 32 bytes);
    /// without it the ticket functions answer 503.
    pub ticket_key: Option<Vec<u8>>,
    /// How long an e-ticket link stays valid (`TICKET_TTL_SECONDS`, 30 days).
    pub ticket_ttl: Duration,
    /// Push through Firebase Cloud Messaging; off when unset.
    pub fcm: Option<FcmConfig>,
    /// The tourist guide's LLM (Gemini `generateContent`); the written
    /// fallback answers when unset.
    pub gemini: Option<GeminiConfig>,
    /// Fewest observations a fitted model needs before it is trusted over the
    /// heuristic (`AI_MIN_SAMPLES`, 30).
    pub ai_min_samples: u32,
}

/// Redis behind Sentinel: `REDIS_URL=redis+sentinel://[[user]:password@]host:port[,host:port...]/master[/db]`,
/// or `REDIS_SENTINELS=host:port,...` with `REDIS_SENTINEL_MASTER` (`mymaster`).
/// The URL's password is the data nodes'; `REDIS_SENTINEL_PASSWORD` is the
/// Sentinels' own, when they require one.
#[derive(Clone, PartialEq)]
pub struct RedisSentinel {
    /// `host:port` of each Sentinel.
    pub sentinels: Vec<String>,
    /// The monitored master's name.
    pub master: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub sentinel_password: Option<String>,
    pub db: i64,
}

impl std::fmt::Debug for RedisSentinel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSentinel")
            .field("sentinels", &self.sentinels)
            .field("master", &self.master)
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl RedisSentinel {
    /// Parses `REDIS_URL`'s `redis+sentinel://` form.
    fn from_url(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("redis+sentinel://")
            .ok_or("must start with redis+sentinel://")?;
        let (hosts, path) = rest.split_once('/').ok_or("names no master (…/master)")?;
        let (auth, hosts) = match hosts.rsplit_once('@') {
            Some((auth, hosts)) => (Some(auth), hosts),
            None => (None, hosts),
        };
        let decode = |s: &str| -> Option<String> {
            let s: String = form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())?;
            (!s.is_empty()).then_some(s)
        };
        let (username, password) = match auth.map(|a| a.split_once(':').unwrap_or((a, ""))) {
            Some((user, password)) => (decode(user), decode(password)),
            None => (None, None),
        };
        let (master, db) = match path.split_once('/') {
            Some((master, db)) => (
                master,
                db.trim_end_matches('/')
                    .parse()
                    .map_err(|_| format!("{db:?} is not a database number"))?,
            ),
            None => (path, 0),
        };
        if master.is_empty() {
            return Err("names no master (…/master)".into());
        }
        Ok(Self {
            sentinels: sentinel_hosts(hosts)?,
            master: master.to_owned(),
            username,
            password,
            sentinel_password: None,
            db,
        })
    }
}

/// `host:port,host:port`, each with its port.
fn sentinel_hosts(list: &str) -> Result<Vec<String>, String> {
    let hosts: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    if hosts.is_empty() {
        return Err("lists no Sentinel".into());
    }
    if let Some(bad) = hosts.iter().find(|h| {
        h.rsplit_once(':')
            .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
    }) {
        return Err(format!("{bad:?} is not host:port"));
    }
    Ok(hosts)
}

/// `GEMINI_API_KEY` (enables it), `GEMINI_API_URL` (default Google's
/// `https://generativelanguage.googleapis.com`), `GEMINI_MODEL`
/// (`gemini-2.5-flash`), `GEMINI_TIMEOUT_MS` (2000).
#[derive(Clone, PartialEq)]
pub struct GeminiConfig {
    pub api_key: String,
    pub api_url: String,
    pub model: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for GeminiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("api_url", &self.api_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A Firebase service account for FCM HTTP v1: `FCM_PROJECT_ID`,
/// `FCM_CLIENT_EMAIL`, `FCM_PRIVATE_KEY` (PEM), and the two endpoints, which
/// tests point at local servers.
#[derive(Clone, PartialEq)]
pub struct FcmConfig {
    pub project_id: String,
    pub client_email: String,
    pub private_key_pem: String,
    /// `FCM_TOKEN_URL`, default Google's OAuth 2.0 token endpoint.
    pub token_url: String,
    /// `FCM_API_URL`, default `https://fcm.googleapis.com`.
    pub api_url: String,
}

impl std::fmt::Debug for FcmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmConfig")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("token_url", &self.token_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// Whether (and where) traces are exported; see [`Config::otlp_endpoint`].
/// Only OTLP over HTTP with protobuf is built in: another protocol is a
/// configuration error rather than traces that silently go nowhere.
fn otlp_traces(get: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    let off = |k: &str, v: &str| get(k).is_some_and(|s| s.trim().eq_ignore_ascii_case(v));
    if off("OTEL_SDK_DISABLED", "true") || off("OTEL_TRACES_EXPORTER", "none") {
        return Ok(None);
    }
    for variable in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some(protocol) = get(variable) {
            if protocol.trim() != "http/protobuf" {
                return Err(ConfigError {
                    variable,
                    problem: format!(
                        "{protocol:?}: these binaries export traces over http/protobuf only"
                    ),
                });
            }
            break;
        }
    }
    Ok(get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| get("OTEL_EXPORTER_OTLP_ENDPOINT")))
}

/// A variable that is missing or does not parse.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// Google's public keys for Firebase ID tokens, as a JWK set.
pub const DEFAULT_JWKS_URL: &str =
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com";

impl Config {
    /// A Redis key under this deployment's prefix (`REDIS_KEY_PREFIX`).
    pub fn redis_key(&self, parts: &[&str]) -> String {
        let mut key = self.redis_prefix.clone();
        for p in parts {
            key.push(':');
            key.push_str(p);
        }
        key
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `lookup`, so tests can pass their own variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let required = |k: &'static str| {
            get(k).ok_or(ConfigError {
                variable: k,
                problem: "is required".into(),
            })
        };
        let window = seconds(&get, "RATE_LIMIT_WINDOW_SECONDS", 60)?;
        let database_url = required("DATABASE_URL")?;
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            return Err(ConfigError {
                variable: "DATABASE_URL",
                problem: "must be a postgres:// URL".into(),
            });
        }
        let database_read_url = get("DATABASE_READ_URL");
        if let Some(url) = &database_read_url
            && !url.starts_with("postgres://")
            && !url.starts_with("postgresql://")
        {
            return Err(ConfigError {
                variable: "DATABASE_READ_URL",
                problem: "must be a postgres:// URL".into(),
            });
        }
        let (redis_url, redis_sentinel) = redis_target(&get)?;
        let project_id = required("FIREBASE_PROJECT_ID")?;
        let log_filter = get("RUST_LOG")
            .or_else(|| get("LOG_LEVEL").map(|l| l.to_lowercase()))
            .unwrap_or_else(|| "info".into());
        Ok(Self {
            function: get("OTEL_SERVICE_NAME")
                .or_else(|| get("K_SERVICE"))
                .unwrap_or_else(|| "unknown".into()),
            port: parse(&get, "PORT", 8080u16)?,
            database_url,
            database_read_url,
            db_max_connections: parse(&get, "DB_MAX_CONNECTIONS", 5u32)?,
            db_statement_cache: parse(&get, "DB_STATEMENT_CACHE_CAPACITY", 100usize)?,
            db_statement_timeout: Duration::from_millis(parse(
                &get,
                "DB_STATEMENT_TIMEOUT_MS",
                5000u64,
            )?),
            db_acquire_timeout: Duration::from_millis(
                parse(&get, "DB_ACQUIRE_TIMEOUT_MS", 5000u64)?.max(1),
            ),
            redis_url,
            redis_sentinel,
            redis_max_connections: parse(&get, "REDIS_MAX_CONNECTIONS", 8usize)?,
            redis_prefix: get("REDIS_KEY_PREFIX").unwrap_or_else(|| "imutis".into()),
            read_cache: Duration::from_millis(parse(&get, "READ_CACHE_MS", 1000u64)?),
            session_check: Duration::from_millis(parse(&get, "SESSION_CHECK_MS", 1000u64)?),
            redis_timeout: Duration::from_millis(parse(&get, "REDIS_TIMEOUT_MS", 200u64)?.max(1)),
            firebase_project_id: project_id,
            firebase_auth_emulator_host: get("FIREBASE_AUTH_EMULATOR_HOST"),
            firebase_jwks_url: get("FIREBASE_JWKS_URL").unwrap_or_else(|| DEFAULT_JWKS_URL.into()),
            auth_token_cache: parse(&get, "AUTH_TOKEN_CACHE_ENTRIES", 10_000usize)?,
            allowed_origins: get("ALLOWED_ORIGINS")
                .unwrap_or_else(|| "http://localhost:3000,http://localhost:19006".into())
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            trusted_proxies: match get("TRUSTED_PROXIES") {
                Some(v) => v.parse().map_err(|problem| ConfigError {
                    variable: "TRUSTED_PROXIES",
                    problem,
                })?,
                None => TrustedProxies::default(),
            },
            ipv6_prefix: match parse(&get, "RATE_LIMIT_IPV6_PREFIX", 64u8)? {
                p @ 1..=128 => p,
                _ => {
                    return Err(ConfigError {
                        variable: "RATE_LIMIT_IPV6_PREFIX",
                        problem: "must be between 1 and 128".into(),
                    });
                }
            },
            ws_max_per_user: parse(&get, "WS_MAX_PER_USER", 5)?,
            ws_max_per_address: parse(&get, "WS_MAX_PER_ADDRESS", 200)?,
            ws_max_lifetime: seconds(&get, "WS_MAX_LIFETIME_SECONDS", 570)?,
            rate_limits: RateLimits {
                anonymous: parse(&get, "RATE_LIMIT_ANONYMOUS", 10)?,
                authenticated: parse(&get, "RATE_LIMIT_AUTHENTICATED", 100)?,
                premium: parse(&get, "RATE_LIMIT_PREMIUM", 500)?,
                ai: parse(&get, "RATE_LIMIT_AI", 20)?,
                booking: parse(&get, "RATE_LIMIT_BOOKING", 5)?,
                window,
            },
            abuse: AbuseLimits {
                bad_token_limit: parse(&get, "AUTH_FAILURE_LIMIT", 5)?,
                lockout: seconds(&get, "AUTH_LOCKOUT_SECONDS", 1800)?,
                flood_limit: parse(&get, "FLOOD_LIMIT", 100)?,
                flood_window: seconds(&get, "FLOOD_WINDOW_SECONDS", 300)?,
                flood_block: seconds(&get, "FLOOD_BLOCK_SECONDS", 900)?,
            },
            log_filter,
            public_base_url: get("PUBLIC_BASE_URL")
                .unwrap_or_else(|| "http://127.0.0.1:8080".into())
                .trim_end_matches('/')
                .to_owned(),
            sentry_dsn: get("SENTRY_DSN"),
            otlp_endpoint: otlp_traces(&get)?,
            environment: get("SENTRY_ENVIRONMENT").unwrap_or_else(|| "production".into()),
            ticket_key: match get("TICKET_SIGNING_KEY") {
                Some(k) if k.len() < 32 => {
                    return Err(ConfigError {
                        variable: "TICKET_SIGNING_KEY",
                        problem: "must be at least 32 bytes".into(),
                    });
                }
                k => k.map(String::into_bytes),
            },
            ticket_ttl: seconds(&get, "TICKET_TTL_SECONDS", 30 * 24 * 3600)?,
            fcm: match (
                get("FCM_PROJECT_ID"),
                get("FCM_CLIENT_EMAIL"),
                get("FCM_PRIVATE_KEY"),
            ) {
                (Some(project_id), Some(client_email), Some(key)) => Some(FcmConfig {
                    project_id,
                    client_email,
                    // Secrets managers often store the PEM with escaped newlines.
                    private_key_pem: key.replace("\\n", "\n"),
                    token_url: get("FCM_TOKEN_URL")
                        .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into()),
                    api_url: get("FCM_API_URL")
                        .unwrap_or_else(|| "https://fcm.googleapis.com".into())
                        .trim_end_matches('/')
                        .to_owned(),
                }),
                (None, None, None) => None,
                _ => {
                    return Err(ConfigError {
                        variable: "FCM_PROJECT_ID",
                        problem: "FCM_PROJECT_ID, FCM_CLIENT_EMAIL and FCM_PRIVATE_KEY go together"
                            .into(),
                    });
                }
            },
            gemini: match get("GEMINI_API_KEY") {
                Some(api_key) => Some(GeminiConfig {
                    api_key,
                    api_url: get("GEMINI_API_URL")
                        .unwrap_or_else(|| "https://generativelanguage.googleapis.com".into())
                        .trim_end_matches('/')
                        .to_owned(),
                    model: get("GEMINI_MODEL").unwrap_or_else(|| "gemini-2.5-flash".into()),
                    timeout: Duration::from_millis(parse(&get, "GEMINI_TIMEOUT_MS", 2000u64)?),
                }),
                None => None,
            },
            ai_min_samples: parse(&get, "AI_MIN_SAMPLES", 30u32)?,
        })
    }

    /// True when unsigned Firebase Auth emulator tokens are accepted.
    pub fn emulator_mode(&self) -> bool {
        self.firebase_auth_emulator_host.is_some()
    }
}

/// `REDIS_URL` (`redis://`, `rediss://` or `redis+sentinel://`), or
/// `REDIS_SENTINELS` with `REDIS_SENTINEL_MASTER` in its place.
fn redis_target(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(String, Option<RedisSentinel>), ConfigError> {
    let bad = |variable, problem| ConfigError { variable, problem };
    let sentinel_password = get("REDIS_SENTINEL_PASSWORD");
    if let Some(list) = get("REDIS_SENTINELS") {
        let master = get("REDIS_SENTINEL_MASTER").unwrap_or_else(|| "mymaster".into());
        let sentinels = sentinel_hosts(&list).map_err(|p| bad("REDIS_SENTINELS", p))?;
        let url = format!("redis+sentinel://{}/{master}", sentinels.join(","));
        let sentinel = RedisSentinel {
            sentinels,
            master,
            username: None,
            password: None,
            sentinel_password,
            db: 0,
        };
        return Ok((url, Some(sentinel)));
    }
    let url = get("REDIS_URL").ok_or(bad("REDIS_URL", "is required".into()))?;
    if url.starts_with("redis+sentinel://") {
        let mut sentinel = RedisSentinel::from_url(&url).map_err(|p| bad("REDIS_URL", p))?;
        sentinel.sentinel_password = sentinel_password;
        return Ok((url, Some(sentinel)));
    }
    if !url.starts_with("redis://") && !url.starts_with("rediss://") {
        return Err(bad(
            "REDIS_URL",
            "must be a redis://, rediss:// or redis+sentinel:// URL".into(),
        ));
    }
    Ok((url, None))
}

/// A duration in whole seconds, at least 1.
fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    match parse(get, variable, default)? {
        0 => Err(ConfigError {
            variable,
            problem: "must be at least 1".into(),
        }),
        s => Ok(Duration::from_secs(s)),
    }
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(variable) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| ConfigError {
            variable,
            problem: format!("{raw:?} is not a valid number"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = [
            ("DATABASE_URL", "postgres://localhost/db"),
            ("REDIS_URL", "redis://localhost"),
            ("FIREBASE_PROJECT_ID", "p"),
        ]
        .iter()
        .chain(vars)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn traces_follow_the_standard_otel_variables() {
        let on = |vars: &[(&str, &str)]| config(vars).unwrap().otlp_endpoint;
        assert_eq!(on(&[]), None, "off unless a collector is named");
        assert_eq!(
            on(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]).as_deref(),
            Some("http://c:4318")
        );
        assert_eq!(
            on(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t/v1/traces"),
            ])
            .as_deref(),
            Some("http://t/v1/traces"),
            "the signal's own endpoint wins"
        );
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            assert_eq!(
                on(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"), off]),
                None
            );
        }
        let grpc = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ])
        .unwrap_err();
        assert_eq!(grpc.variable, "OTEL_EXPORTER_OTLP_PROTOCOL");
        assert!(config(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).is_ok());
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(
            (
                c.rate_limits.anonymous,
                c.rate_limits.authenticated,
                c.rate_limits.premium
            ),
            (10, 100, 500)
        );
        assert_eq!((c.rate_limits.ai, c.rate_limits.booking), (20, 5));
        assert_eq!(
            (c.abuse.bad_token_limit, c.abuse.lockout.as_secs()),
            (5, 1800)
        );
        assert_eq!(
            (c.abuse.flood_limit, c.abuse.flood_window.as_secs()),
            (100, 300)
        );
        assert_eq!(
            c.allowed_origins,
            ["http://localhost:3000", "http://localhost:19006"]
        );
        assert!(!c.emulator_mode());
        assert_eq!(c.ipv6_prefix, 64);
        assert_eq!((c.ws_max_per_user, c.ws_max_per_address), (5, 200));
        assert_eq!(c.ws_max_lifetime, Duration::from_secs(570));
    }

    #[test]
    fn redis_through_sentinel() {
        let c = config(&[(
            "REDIS_URL",
            "redis+sentinel://:p%40ss@s1:26379,s2:26380/imutis/2",
        )])
        .unwrap();
        let s = c.redis_sentinel.unwrap();
        assert_eq!(s.sentinels, ["s1:26379", "s2:26380"]);
        assert_eq!((s.master.as_str(), s.db), ("imutis", 2));
        assert_eq!((s.username, s.password.as_deref()), (None, Some("p@ss")));
        let c = config(&[
            ("REDIS_SENTINELS", "a:26379, b:26379"),
            ("REDIS_SENTINEL_PASSWORD", "x"),
        ])
        .unwrap();
        let s = c.redis_sentinel.unwrap();
        assert_eq!(
            (s.sentinels.len(), s.master.as_str(), s.sentinel_password),
            (2, "mymaster", Some("x".into()))
        );
        assert!(config(&[]).unwrap().redis_sentinel.is_none());
        for bad in [
            "redis+sentinel://s1:26379",
            "redis+sentinel://s1/m",
            "redis+sentinel://s1:26379/m/x",
            "redis+sentinel:///m",
        ] {
            assert_eq!(
                config(&[("REDIS_URL", bad)]).unwrap_err().variable,
                "REDIS_URL",
                "{bad}"
            );
        }
        assert_eq!(
            config(&[("REDIS_SENTINELS", "a")]).unwrap_err().variable,
            "REDIS_SENTINELS"
        );
    }

    #[test]
    fn a_read_only_dsn_is_optional() {
        assert_eq!(config(&[]).unwrap().database_read_url, None);
        let c = config(&[("DATABASE_READ_URL", "postgres://replicas/db")]).unwrap();
        assert_eq!(
            c.database_read_url.as_deref(),
            Some("postgres://replicas/db")
        );
        assert_eq!(
            config(&[("DATABASE_READ_URL", "mysql://x")])
                .unwrap_err()
                .variable,
            "DATABASE_READ_URL"
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert_eq!(config(&[("PORT", "eighty")]).unwrap_err().variable, "PORT");
        assert_eq!(
            config(&[("RATE_LIMIT_BOOKING", "-1")])
                .unwrap_err()
                .variable,
            "RATE_LIMIT_BOOKING"
        );
        assert_eq!(
            config(&[("DATABASE_URL", "mysql://x")])
                .unwrap_err()
                .variable,
            "DATABASE_URL"
        );
        assert_eq!(
            config(&[("FIREBASE_PROJECT_ID", " ")])
                .unwrap_err()
                .variable,
            "FIREBASE_PROJECT_ID"
        );
        assert_eq!(
            config(&[("TRUSTED_PROXIES", "10.0.0.0/40")])
                .unwrap_err()
                .variable,
            "TRUSTED_PROXIES"
        );
        assert_eq!(
            config(&[("RATE_LIMIT_IPV6_PREFIX", "129")])
                .unwrap_err()
                .variable,
            "RATE_LIMIT_IPV6_PREFIX"
        );
        assert_eq!(
            config(&[("TICKET_SIGNING_KEY", "short")])
                .unwrap_err()
                .variable,
            "TICKET_SIGNING_KEY"
        );
    }
}
