//! Fixed-window rate limiting in Redis, with the contract's abuse protections:
//! an IP that sends a streak of bad tokens is locked out, and an anonymous IP
//! that floods is blocked for a while. Both spare callers with a valid token:
//! carrier-grade NAT puts thousands of phones behind one address, and one
//! person's bad tokens must not lock the others out. For the booking tier, where
//! exactness matters, one Lua script per request checks and
//! counts atomically, so concurrent requests can never together exceed a limit.
//! An IPv6 client is counted, locked out and blocked by its network
//! (`RATE_LIMIT_IPV6_PREFIX`, /64), not by the address it picked in it.

use std::sync::LazyLock;

use serde::Deserialize;

use crate::auth::{AuthUser, Role};
use crate::cache::CacheError;
use crate::client_ip::limit_key;
use crate::config::RateLimits;
use crate::i18n::{MESSAGES, Text};
pub use crate::local_limit::{Caller, Decision};
use crate::state::AppState;

/// The limit family a function declares in its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RateTier {
    /// Anonymous, authenticated or premium limit, by who calls.
    #[default]
    Default,
    /// AI endpoints.
    Ai,
    /// Booking endpoints.
    Booking,
    /// Not limited (health probes).
    None,
}

impl RateTier {
    /// The limit for this caller, and the label of the bucket.
    pub fn limit(
        self,
        limits: &RateLimits,
        user: Option<&AuthUser>,
    ) -> Option<(u32, &'static str)> {
        match (self, user.map(|u| u.role)) {
            (RateTier::None, _) => None,
            (RateTier::Ai, _) => Some((limits.ai, "ai")),
            (RateTier::Booking, _) => Some((limits.booking, "booking")),
            (RateTier::Default, None) => Some((limits.anonymous, "anonymous")),
            (RateTier::Default, Some(Role::Standard)) => {
                Some((limits.authenticated, "authenticated"))
            }
            (RateTier::Default, Some(Role::Premium | Role::Admin)) => {
                Some((limits.premium, "premium"))
            }
        }
    }
}

impl Decision {
    /// The answer to send instead of serving the request, if any.
    pub fn refusal(self) -> Option<(u64, Text)> {
        match self {
            Decision::Allowed => None,
            Decision::Limited { retry_after } => Some((retry_after, MESSAGES.text("rate-limited"))),
            Decision::Blocked { retry_after } => {
                Some((retry_after, MESSAGES.text("flood-blocked")))
            }
            Decision::Locked { retry_after } => {
                Some((retry_after, MESSAGES.text("sign-in-locked")))
            }
        }
    }
}

/// KEYS: tier counter, IP lockout, anonymous flood counter, flood block,
/// bad-token streak. ARGV: window ms, flood limit, flood window ms, flood
/// block ms, authenticated (1/0), tier limit. Returns {verdict, ttl ms} with
/// verdict 0 allowed, 1 limited, 2 blocked, 3 locked.
static CHECK: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
if ARGV[5] == '1' then
  redis.call('DEL', KEYS[5])
else
  local locked = redis.call('PTTL', KEYS[2])
  if locked > 0 then return {3, locked} end
  local blocked = redis.call('PTTL', KEYS[4])
  if blocked > 0 then return {2, blocked} end
  local n = redis.call('INCR', KEYS[3])
  if n == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[3]) end
  if n > tonumber(ARGV[2]) then
    redis.call('SET', KEYS[4], '1', 'PX', ARGV[4])
    redis.call('DEL', KEYS[3])
    return {2, tonumber(ARGV[4])}
  end
end
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
if count > tonumber(ARGV[6]) then return {1, ttl} end
return {0, ttl}
",
    )
});

/// KEYS: bad-token streak, IP lockout. ARGV: streak limit, lockout ms.
static BAD_TOKEN: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  redis.call('DEL', KEYS[1])
end
return n
",
    )
});

/// Counts one request against the `bucket` budget of `limit` (per uid, else
/// per IP), after the IP-wide lockout and anonymous flood checks.
pub async fn check(
    state: &AppState,
    bucket: &str,
    limit: u32,
    caller: &Caller<'_>,
) -> Result<Decision, CacheError> {
    let limits = &state.config.rate_limits;
    let abuse = &state.config.abuse;
    let ip = &*limit_key(caller.ip, state.config.ipv6_prefix);
    let identity = match caller.uid {
        Some(uid) => format!("uid:{uid}"),
        None => format!("ip:{ip}"),
    };
    let mut invocation = CHECK.prepare_invoke();
    invocation
        .key(state.redis_key(&["rl", bucket, &identity]))
        .key(state.redis_key(&["lockout", ip]))
        .key(state.redis_key(&["flood", ip]))
        .key(state.redis_key(&["flood-block", ip]))
        .key(state.redis_key(&["bad-tokens", ip]))
        .arg(limits.window.as_millis() as u64)
        .arg(abuse.flood_limit)
        .arg(abuse.flood_window.as_millis() as u64)
        .arg(abuse.flood_block.as_millis() as u64)
        .arg(u8::from(caller.uid.is_some()))
        .arg(limit);
    let (verdict, ttl_ms): (u8, i64) = state
        .with_redis("rate_limit", async |conn| {
            invocation.invoke_async(conn).await
        })
        .await?;
    let retry_after = (ttl_ms.max(1) as u64).div_ceil(1000);
    Ok(match verdict {
        0 => Decision::Allowed,
        1 => Decision::Limited { retry_after },
        2 => Decision::Blocked { retry_after },
        _ => Decision::Locked { retry_after },
    })
}

/// Records a refused token from `ip`; the configured streak locks the IP out
/// (in Redis for every instance, and at once on this one for `bucket`).
pub async fn record_bad_token(state: &AppState, bucket: &str, ip: &str) -> Result<(), CacheError> {
    let ip = &*limit_key(ip, state.config.ipv6_prefix);
    let abuse = &state.config.abuse;
    state.limiter.saw_bad_token(ip);
    let mut invocation = BAD_TOKEN.prepare_invoke();
    invocation
        .key(state.redis_key(&["bad-tokens", ip]))
        .key(state.redis_key(&["lockout", ip]))
        .arg(abuse.bad_token_limit)
        .arg(abuse.lockout.as_millis() as u64);
    let streak: u64 = state
        .with_redis("bad_token", async |conn| {
            invocation.invoke_async(conn).await
        })
        .await?;
    if streak >= u64::from(abuse.bad_token_limit) {
        state.limiter.lock_out(bucket, ip, abuse.lockout);
    }
    Ok(())
}

/// A valid token from `ip` ends its bad-token streak ("in a row"). Only an
/// address this instance saw a bad token from costs a Redis command.
pub async fn end_bad_streak(state: &AppState, ip: &str) {
    let ip = &*limit_key(ip, state.config.ipv6_prefix);
    if !state.limiter.forget_bad_token(ip) {
        return;
    }
    let key = state.redis_key(&["bad-tokens", ip]);
    let _ = state
        .with_redis("DEL", async |conn| {
            redis::cmd("DEL").arg(&key).query_async::<()>(conn).await
        })
        .await;
}
