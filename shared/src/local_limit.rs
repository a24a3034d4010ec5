//! Rate limits without a Redis round trip per request. Each instance counts
//! its own admissions per (tier, caller) in windows aligned on the clock, and
//! adds them to Redis in batches: at the first request of a window, then
//! every [`SYNC_BATCH`] requests or [`SYNC_INTERVAL`], whichever comes first.
//! The answer of a sync (the caller's total across instances, and for an
//! anonymous IP its lockout and flood block) steers the next decisions.
//!
//! The bound: an instance admits at most `SYNC_BATCH` requests of one caller
//! beyond what it has heard back from Redis (or a twentieth of what was left
//! of the limit at the last sync, when that is more: only limits in the
//! hundreds reach it; for anonymous callers, never more than a twentieth of
//! the flood limit), so across `n` instances a limit `L` admits at most
//! `L + n * max(SYNC_BATCH, L / 20)` requests in a window, and a lockout set
//! elsewhere reaches an instance within `SYNC_INTERVAL` or one batch. One instance alone counts exactly. Where exactness matters (the
//! booking tier) the guard keeps the per-request script of [`crate::rate_limit`].
//! Redis down: syncs fail and each instance keeps limiting on its own counts.
//!
//! Memory is bounded whoever calls: the counters (and the addresses seen
//! sending bad tokens) live in least-recently-used maps of [`CAPACITY`]
//! entries, so a new caller past capacity evicts the one idle longest in
//! constant time; nothing ever scans the map. An evicted caller starts afresh
//! here, and its first sync brings back its count, lockout and block from
//! Redis.

use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hashlink::LruCache;

use crate::cache::Redis;
use crate::client_ip::limit_key;
use crate::config::Config;

/// What one check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// The tier's budget for this window is spent.
    Limited {
        retry_after: u64,
    },
    /// This anonymous IP sent too much in the flood window and is blocked.
    Blocked {
        retry_after: u64,
    },
    /// This IP sent too many bad tokens in a row and is locked out.
    Locked {
        retry_after: u64,
    },
}

/// Who is asking: a verified uid, or else only the client IP.
pub struct Caller<'a> {
    pub uid: Option<&'a str>,
    /// The client IP; limits count an IPv6 one by its network
    /// ([`crate::client_ip::limit_key`]).
    pub ip: &'a str,
}

/// Admissions of one caller an instance may make between syncs.
pub const SYNC_BATCH: u32 = 5;
/// The longest a busy caller's count goes unsynced.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(250);
/// Callers an instance tracks; beyond it the one idle longest is forgotten.
pub const CAPACITY: usize = 50_000;

#[derive(Default)]
struct Counter {
    window: u64,
    /// The caller's total across instances, as of the last sync answer.
    global: u32,
    /// Admitted here since the last sync started, and in the sync in flight.
    unsynced: u32,
    in_flight: u32,
    syncing: bool,
    last_sync: Option<Instant>,
    /// Anonymous callers: their IP's lockout and flood block, from Redis.
    locked_until: Option<Instant>,
    blocked_until: Option<Instant>,
    flood_unsynced: u32,
}

/// One instance's counts.
pub struct LocalLimiter {
    /// Keyed by [`counter_key`], least recently used first.
    counters: Mutex<LruCache<String, Counter>>,
    /// Addresses this instance saw a bad token from, since their last success.
    bad_token_ips: Mutex<LruCache<String, ()>>,
}

impl Default for LocalLimiter {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl LocalLimiter {
    /// A limiter tracking at most `capacity` callers (and as many addresses).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            counters: Mutex::new(LruCache::new(capacity.max(1))),
            bad_token_ips: Mutex::new(LruCache::new(capacity.max(1))),
        }
    }

    /// How many callers are tracked now.
    pub fn tracked(&self) -> usize {
        self.counters.lock().expect("not poisoned").len()
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `tier NUL uid:<uid>` or `tier NUL ip:<address or IPv6 network>`.
fn counter_key(bucket: &str, caller: &Caller<'_>, v6_prefix: u8) -> String {
    match caller.uid {
        Some(uid) => format!("{bucket}\0uid:{uid}"),
        None => format!("{bucket}\0ip:{}", limit_key(caller.ip, v6_prefix)),
    }
}

/// What to send to Redis after a decision.
struct Sync {
    key: String,
    window: u64,
    delta: u32,
    flood_delta: u32,
}

/// KEYS: tier counter of this window, IP lockout, anonymous flood counter,
/// flood block. ARGV: delta, counter ttl ms, flood delta, flood window ms,
/// flood limit, flood block ms, anonymous (1/0). Returns {total, lockout ms,
/// block ms} (ms <= 0: none).
static SYNC: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local locked, blocked = -2, -2
if ARGV[7] == '1' then
  locked = redis.call('PTTL', KEYS[2])
  blocked = redis.call('PTTL', KEYS[4])
  local delta = tonumber(ARGV[3])
  if blocked <= 0 and delta > 0 then
    local n = redis.call('INCRBY', KEYS[3], delta)
    if n == delta then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
    if n > tonumber(ARGV[5]) then
      redis.call('SET', KEYS[4], '1', 'PX', ARGV[6])
      redis.call('DEL', KEYS[3])
      blocked = tonumber(ARGV[6])
    end
  end
end
return {total, locked, blocked}
",
    )
});

impl LocalLimiter {
    /// Decides at once from local counts; a sync to Redis, when due, runs in
    /// the background.
    pub fn check(
        self: &std::sync::Arc<Self>,
        config: &std::sync::Arc<Config>,
        redis: &Redis,
        bucket: &'static str,
        limit: u32,
        caller: &Caller<'_>,
    ) -> Decision {
        let window_ms = config.rate_limits.window.as_millis().max(1) as u64;
        let flood_limit = config.abuse.flood_limit;
        let now_ms = epoch_ms();
        let window = now_ms / window_ms;
        let window_left = Duration::from_millis((window + 1) * window_ms - now_ms);
        let now = Instant::now();
        let key = counter_key(bucket, caller, config.ipv6_prefix);
        let (decision, sync) = {
            let mut counters = self.counters.lock().expect("not poisoned");
            if counters.get_mut(&key).is_none() {
                // Evicts the least recently used caller when full: O(1).
                counters.insert(key.clone(), Counter::default());
            }
            let c = counters.get_mut(&key).expect("inserted above");
            if c.window != window {
                *c = Counter {
                    window,
                    locked_until: c.locked_until,
                    blocked_until: c.blocked_until,
                    ..Counter::default()
                };
            }
            let anonymous = caller.uid.is_none();
            let decision = match (c.locked_until, c.blocked_until) {
                (Some(t), _) if anonymous && t > now => Decision::Locked {
                    retry_after: secs(t - now),
                },
                (_, Some(t)) if anonymous && t > now => Decision::Blocked {
                    retry_after: secs(t - now),
                },
                _ if c.global + c.in_flight + c.unsynced >= limit => Decision::Limited {
                    retry_after: secs(window_left),
                },
                _ => {
                    c.unsynced += 1;
                    if anonymous {
                        c.flood_unsynced += 1;
                    }
                    Decision::Allowed
                }
            };
            let mut batch = SYNC_BATCH.max(limit.saturating_sub(c.global) / 20);
            if anonymous {
                batch = batch.min(SYNC_BATCH.max(flood_limit / 20));
            }
            let due = c.last_sync.is_none_or(|t| now - t >= SYNC_INTERVAL) || c.unsynced >= batch;
            let sync =
                (!c.syncing && due && (c.unsynced > 0 || c.last_sync.is_none())).then(|| {
                    c.syncing = true;
                    c.last_sync = Some(now);
                    c.in_flight = c.unsynced;
                    c.unsynced = 0;
                    Sync {
                        key,
                        window,
                        delta: c.in_flight,
                        flood_delta: std::mem::take(&mut c.flood_unsynced),
                    }
                });
            (decision, sync)
        };
        if let Some(sync) = sync {
            let (this, config, redis) = (self.clone(), config.clone(), redis.clone());
            tokio::spawn(async move { this.sync(&config, &redis, sync, window_ms).await });
        }
        decision
    }

    async fn sync(&self, config: &Config, redis: &Redis, sync: Sync, window_ms: u64) {
        let (bucket, identity) = sync.key.split_once('\0').expect("a counter key");
        let ip = identity.strip_prefix("ip:");
        let abuse = &config.abuse;
        let mut invocation = SYNC.prepare_invoke();
        invocation
            .key(config.redis_key(&["rlw", bucket, identity, &sync.window.to_string()]))
            .key(config.redis_key(&["lockout", ip.unwrap_or("-")]))
            .key(config.redis_key(&["flood", ip.unwrap_or("-")]))
            .key(config.redis_key(&["flood-block", ip.unwrap_or("-")]))
            .arg(sync.delta)
            .arg(window_ms * 2)
            .arg(sync.flood_delta)
            .arg(abuse.flood_window.as_millis() as u64)
            .arg(abuse.flood_limit)
            .arg(abuse.flood_block.as_millis() as u64)
            .arg(u8::from(ip.is_some()));
        let answer: Result<(u32, i64, i64), _> = redis
            .run("rate_limit_sync", async |conn| {
                invocation.invoke_async(conn).await
            })
            .await;
        let now = Instant::now();
        let mut counters = self.counters.lock().expect("not poisoned");
        let Some(c) = counters.peek_mut(&sync.key) else {
            return;
        };
        c.syncing = false;
        if c.window != sync.window {
            return;
        }
        match answer {
            Ok((total, locked, blocked)) => {
                c.global = total;
                c.in_flight = 0;
                c.locked_until = (locked > 0).then(|| now + Duration::from_millis(locked as u64));
                c.blocked_until =
                    (blocked > 0).then(|| now + Duration::from_millis(blocked as u64));
            }
            Err(e) => {
                // Keep counting here: the admitted requests stay in `global`.
                c.global += c.in_flight;
                c.in_flight = 0;
                tracing::debug!(error = %e, "rate-limit sync failed; limiting on local counts");
            }
        }
    }

    /// Remembers that `ip` (a [`limit_key`]) sent a bad token.
    pub fn saw_bad_token(&self, ip: &str) {
        let mut ips = self.bad_token_ips.lock().expect("not poisoned");
        ips.insert(ip.to_owned(), ());
    }

    /// Forgets `ip`'s bad tokens; whether there were any.
    pub fn forget_bad_token(&self, ip: &str) -> bool {
        let mut ips = self.bad_token_ips.lock().expect("not poisoned");
        !ips.is_empty() && ips.remove(ip).is_some()
    }

    /// This instance locked `ip` (a [`limit_key`]) out: its bad-token streak
    /// reached the limit.
    pub fn lock_out(&self, bucket: &str, ip: &str, lockout: Duration) {
        let key = counter_key(bucket, &Caller { uid: None, ip }, 128);
        let mut counters = self.counters.lock().expect("not poisoned");
        if counters.get_mut(&key).is_none() {
            counters.insert(key.clone(), Counter::default());
        }
        if let Some(c) = counters.get_mut(&key) {
            c.locked_until = Some(Instant::now() + lockout);
        }
    }
}

fn secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}
