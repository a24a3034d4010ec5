//! Fixed-window rate limiting in Redis. One Lua script increments and reads the
//! window atomically, so concurrent requests can never together exceed a limit.

use std::sync::LazyLock;

use serde::Deserialize;

use crate::auth::{AuthUser, Role};
use crate::config::RateLimits;
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

/// What one check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed { remaining: u32 },
    Limited { retry_after: u64 },
}

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
",
    )
});

/// Counts one request of `identity` in the `bucket` window and decides.
pub async fn check(
    state: &AppState,
    bucket: &str,
    identity: &str,
    limit: u32,
) -> Result<Decision, String> {
    let window_ms = state.config.rate_limits.window.as_millis() as u64;
    let key = state.redis_key(&["rl", bucket, identity]);
    let mut conn = state.redis.get().await.map_err(|e| e.to_string())?;
    let (count, ttl_ms): (u64, i64) = SCRIPT
        .key(key)
        .arg(window_ms)
        .invoke_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(if count > u64::from(limit) {
        Decision::Limited {
            retry_after: (ttl_ms.max(1) as u64).div_ceil(1000),
        }
    } else {
        Decision::Allowed {
            remaining: limit - count as u32,
        }
    })
}
