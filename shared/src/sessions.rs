//! Device sessions, kept by every authenticated request in every function: a
//! session is a Firebase uid plus a device (`X-Device-ID`, else the
//! fingerprint header, else user agent + client IP). One Redis script per
//! request answers three questions at once: is this device revoked, has the
//! user been deleted since this instance recorded them, and is the session
//! row due a write (at most once a minute, or at once when the IP changed or
//! the account was deleted and recreated).
//! So most requests cost no database write. An instance then trusts that
//! answer for `SESSION_CHECK_MS` per (user, device, IP), so a busy
//! device costs about one script a second, not one per request; a revocation
//! made on another instance reaches this one within that time.
//!
//! What a revocation binds to:
//! - revoking one session refuses that device (until the user signs in on it
//!   again) and the sign-in it was using (its `auth_time`) on any device, so a
//!   stolen token sent with an invented `X-Device-ID` is refused too;
//! - "sign out everywhere" ([`revoke_all`]) stores a `tokens_valid_after` per
//!   user, as Firebase does: every token signed in at or before it is refused.
//!
//! Postgres holds every revocation; Redis holds a copy the per-request script
//! reads. While Redis is down (deadline or open breaker) the database answers
//! instead, remembered per instance for [`FALLBACK_TRUST`]; a row write that
//! finds a revocation Redis forgot refuses the request and restores the copy.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::notifications::{self, Kind, NewNotification};
use crate::state::AppState;

/// Session rows are refreshed at most this often per device.
pub const WRITE_INTERVAL: Duration = Duration::from_secs(60);
/// A revocation is remembered in Redis this long (the database keeps it).
const REVOKED_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// While Redis is down, how long an instance trusts the database's answer.
pub const FALLBACK_TRUST: Duration = Duration::from_secs(2);

/// The device a request comes from, from the app's device headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// `X-Device-ID`, `fp:<fingerprint>` or `ua:<hash of user agent and IP>`.
    pub id: String,
    pub device_type: Option<String>,
    pub os: Option<String>,
    pub app_version: Option<String>,
    pub fingerprint: Option<String>,
    pub user_agent: Option<String>,
}

fn header(headers: &HeaderMap, name: &str, max: usize) -> Option<String> {
    let v = headers.get(name)?.to_str().ok()?.trim();
    (!v.is_empty()).then(|| v.chars().take(max).collect())
}

impl Device {
    /// Reads the device headers of a request from `client_ip`.
    pub fn from_headers(headers: &HeaderMap, client_ip: &str) -> Self {
        let fingerprint = header(headers, "x-device-fingerprint", 256);
        let user_agent = header(headers, "user-agent", 512);
        let id = header(headers, "x-device-id", 128)
            .or_else(|| fingerprint.as_ref().map(|f| format!("fp:{f}")))
            .unwrap_or_else(|| {
                let ua = user_agent.as_deref().unwrap_or("");
                format!(
                    "ua:{}",
                    &hex(&Sha256::digest(format!("{ua}\0{client_ip}")))[..24]
                )
            });
        Self {
            id,
            device_type: header(headers, "x-device-type", 32),
            os: header(headers, "x-device-os", 64),
            app_version: header(headers, "x-app-version", 32),
            fingerprint,
            user_agent,
        }
    }

    /// A short, key-safe name for this device in Redis.
    fn key(&self) -> String {
        hex(&Sha256::digest(self.id.as_bytes()))[..32].to_owned()
    }

    /// How the device is named to its owner ("Android phone", "iOS 17").
    fn label(&self) -> String {
        match (&self.device_type, &self.os) {
            (Some(t), Some(os)) => format!("{t} ({os})"),
            (Some(t), None) => t.clone(),
            (None, Some(os)) => os.clone(),
            (None, None) => "a new device".into(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Beyond this many remembered sessions an instance starts over.
pub const MEMO_CAPACITY: usize = crate::state::SESSION_MEMO_CAPACITY;

/// The key of a session in [`AppState::sessions`]: `(uid, device id, client
/// IP)`. A changed IP misses, so IP rotation is still noticed on its first
/// request.
fn memo_key(uid: &str, device: &Device, ip: &str) -> String {
    format!("{uid}\0{}\0{ip}", device.id)
}

/// Forgets every remembered session of `uid` on this instance.
fn forget_sessions(state: &AppState, uid: &str) {
    let prefix = format!("{uid}\0");
    state.sessions.forget_prefix(&prefix);
    state.revocations.forget_prefix(&prefix);
}

/// KEYS: device revoked marker, user generation, write throttle, tokens
/// valid after, revoked sign-ins. ARGV: client IP, throttle ms, auth_time.
/// Returns {revoked_at or -1, generation, write due 1/0, valid_after or -1,
/// sign-in revoked 1/0}. A new sign-in (auth_time) makes the write due.
static CHECK: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local revoked = tonumber(redis.call('GET', KEYS[1]) or '-1')
local generation = tonumber(redis.call('GET', KEYS[2]) or '0')
local valid_after = tonumber(redis.call('GET', KEYS[4]) or '-1')
local sign_in = redis.call('SISMEMBER', KEYS[5], ARGV[3])
local stamp = ARGV[1] .. '|' .. generation .. '|' .. ARGV[3]
local due = 0
if redis.call('GET', KEYS[3]) ~= stamp then
  redis.call('SET', KEYS[3], stamp, 'PX', ARGV[2])
  due = 1
end
return {revoked, generation, due, valid_after, sign_in}
",
    )
});

/// What one request's session check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Bumped each time the user's account is deleted.
    pub generation: i64,
    /// The session row should be written now.
    pub write_due: bool,
}

fn revoked_key(state: &AppState, uid: &str, device_key: &str) -> String {
    state.redis_key(&["session-revoked", uid, device_key])
}

fn generation_key(state: &AppState, uid: &str) -> String {
    state.redis_key(&["user-generation", uid])
}

fn valid_after_key(state: &AppState, uid: &str) -> String {
    state.redis_key(&["tokens-valid-after", uid])
}

fn sign_ins_key(state: &AppState, uid: &str) -> String {
    state.redis_key(&["revoked-sign-ins", uid])
}

/// The Redis half of a request's session: `Err(401)` when the token's
/// sign-in was revoked (this device's session, that sign-in on any device, or
/// all of the user's tokens). A Redis outage skips the row write and asks the
/// database about revocations instead ([`FALLBACK_TRUST`]). Answered from
/// this instance's memo ([`AppState::sessions`]) when Redis vouched for the
/// same session within `SESSION_CHECK_MS`.
pub async fn check(
    state: &AppState,
    user: &AuthUser,
    device: &Device,
    client_ip: &str,
) -> Result<Option<Check>, ApiError> {
    let ttl = state.config.session_check;
    let memo_key = (!ttl.is_zero()).then(|| memo_key(&user.uid, device, client_ip));
    if let Some(generation) = memo_key.as_ref().and_then(|k| state.sessions.fresh(k, ttl)) {
        return Ok(Some(Check {
            generation,
            write_due: false,
        }));
    }
    let device_key = device.key();
    let mut invocation = CHECK.prepare_invoke();
    invocation
        .key(revoked_key(state, &user.uid, &device_key))
        .key(generation_key(state, &user.uid))
        .key(state.redis_key(&["session-touch", &user.uid, &device_key]))
        .key(valid_after_key(state, &user.uid))
        .key(sign_ins_key(state, &user.uid))
        .arg(client_ip)
        .arg(WRITE_INTERVAL.as_millis() as u64)
        .arg(user.auth_time);
    let result: Result<(i64, i64, u8, i64, u8), _> = state
        .with_redis("session_check", async |conn| {
            invocation.invoke_async(conn).await
        })
        .await;
    match result {
        Ok((revoked_at, generation, due, valid_after, sign_in_revoked)) => {
            let before = |at: i64| at >= 0 && user.auth_time <= at;
            if before(revoked_at) || before(valid_after) || sign_in_revoked == 1 {
                return Err(session_revoked());
            }
            if let Some(key) = memo_key {
                state.sessions.insert(key, Instant::now(), generation);
            }
            Ok(Some(Check {
                generation,
                // A sign-in after a revocation reactivates the row at once.
                write_due: due == 1 || revoked_at >= 0,
            }))
        }
        Err(e) => {
            tracing::warn!(error = %e, "session store unavailable; revocations read from the database");
            if revoked_per_database(state, user, device).await {
                return Err(session_revoked());
            }
            Ok(None)
        }
    }
}

/// Whether Postgres holds a revocation of this token's sign-in for
/// `device`, as this instance learnt it within [`FALLBACK_TRUST`]. A database
/// that does not answer either lets the request through (logged).
async fn revoked_per_database(state: &AppState, user: &AuthUser, device: &Device) -> bool {
    let key = format!("{}\0{}\0{}", user.uid, device.id, user.auth_time);
    let answer = state
        .revocations
        .get_or_fill(&key, FALLBACK_TRUST, async || {
            let mut conn = state.db.acquire().await?;
            revoked_in(&mut conn, &user.uid, &device.id, user.auth_time).await
        })
        .await;
    answer.unwrap_or_else(|e: sqlx::Error| {
        tracing::warn!(error = %e, "revocations unreadable; request allowed");
        false
    })
}

/// Whether a token of `uid` signed in at `auth_time` is revoked: all of the
/// user's tokens up to then, that sign-in, or `device_id`'s session.
async fn revoked_in(
    conn: &mut PgConnection,
    uid: &str,
    device_id: &str,
    auth_time: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM token_revocations
                        WHERE user_id = $1 AND $3 <= floor(extract(epoch FROM valid_after)))
             OR EXISTS (SELECT 1 FROM revoked_sign_ins WHERE user_id = $1 AND auth_time = $3)
             OR EXISTS (SELECT 1 FROM device_sessions
                        WHERE user_id = $1 AND device_id = $2 AND NOT is_active
                          AND $3 <= floor(extract(epoch FROM revoked_at)))",
    )
    .bind(uid)
    .bind(device_id)
    .bind(auth_time)
    .fetch_one(conn)
    .await
}

/// `uid`'s revocations as stored: tokens valid after, revoked sign-ins, and
/// the device's revocation.
type Stored = (Option<i64>, Vec<i64>, Option<i64>);

/// Writes `uid`'s revocations from the database back to Redis (after Redis
/// lost them, e.g. restarted empty): all tokens up to `valid_after`, the
/// revoked sign-ins, and `device`'s own revocation.
async fn restore_revocations(state: &AppState, uid: &str, device: &Device) {
    let stored: Result<Stored, sqlx::Error> = sqlx::query_as(
        "SELECT (SELECT floor(extract(epoch FROM valid_after))::bigint
                 FROM token_revocations WHERE user_id = $1),
                ARRAY(SELECT auth_time FROM revoked_sign_ins WHERE user_id = $1),
                (SELECT floor(extract(epoch FROM revoked_at))::bigint FROM device_sessions
                 WHERE user_id = $1 AND device_id = $2 AND NOT is_active)",
    )
    .bind(uid)
    .bind(&device.id)
    .fetch_one(&state.db)
    .await;
    let Ok((valid_after, sign_ins, device_revoked)) = stored else {
        return;
    };
    let mut pipe = redis::pipe();
    if let Some(at) = valid_after {
        pipe.cmd("SET")
            .arg(valid_after_key(state, uid))
            .arg(at)
            .arg("PX")
            .arg(REVOKED_TTL.as_millis() as u64);
    }
    if !sign_ins.is_empty() {
        let key = sign_ins_key(state, uid);
        pipe.cmd("SADD").arg(&key).arg(&sign_ins);
        pipe.cmd("PEXPIRE")
            .arg(&key)
            .arg(REVOKED_TTL.as_millis() as u64);
    }
    if let Some(at) = device_revoked {
        pipe.cmd("SET")
            .arg(revoked_key(state, uid, &device.key()))
            .arg(at)
            .arg("PX")
            .arg(REVOKED_TTL.as_millis() as u64);
    }
    let _ = state
        .with_redis("restore_revocations", async |conn| {
            pipe.query_async::<()>(conn).await
        })
        .await;
}

fn session_revoked() -> ApiError {
    ApiError::Unauthorized(crate::i18n::MESSAGES.text("session-revoked"))
}

/// Creates or refreshes the session row for `device`; flags an IP change;
/// notifies the user of a sign-in from a new device; refuses (401) a device
/// whose revocation Redis forgot but the row remembers.
pub async fn write(
    state: &AppState,
    user: &AuthUser,
    device: &Device,
    client_ip: &str,
) -> Result<(), ApiError> {
    let ip: Option<std::net::IpAddr> = client_ip.parse().ok();
    let mut tx = state.db.begin().await?;
    if revoked_in(&mut tx, &user.uid, &device.id, user.auth_time).await? {
        drop(tx);
        restore_revocations(state, &user.uid, device).await;
        return Err(session_revoked());
    }
    let row: (bool, Option<String>, Option<i64>, bool) = sqlx::query_as(
        "WITH before AS (
             SELECT host(device_ip) AS ip, floor(extract(epoch FROM revoked_at))::bigint AS revoked_at
             FROM device_sessions WHERE user_id = $1 AND device_id = $2
         )
         INSERT INTO device_sessions AS s (user_id, device_id, device_type, device_os, app_version,
             fingerprint, device_ip, user_agent, auth_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7::inet, $8, $10)
         ON CONFLICT (user_id, device_id) DO UPDATE SET
             last_activity = now(),
             auth_time = GREATEST(s.auth_time, EXCLUDED.auth_time),
             device_type = COALESCE(EXCLUDED.device_type, s.device_type),
             device_os = COALESCE(EXCLUDED.device_os, s.device_os),
             app_version = COALESCE(EXCLUDED.app_version, s.app_version),
             fingerprint = COALESCE(EXCLUDED.fingerprint, s.fingerprint),
             user_agent = COALESCE(EXCLUDED.user_agent, s.user_agent),
             ip_rotation_detected = s.ip_rotation_detected
                 OR (s.device_ip IS NOT NULL AND s.device_ip IS DISTINCT FROM EXCLUDED.device_ip),
             device_ip = EXCLUDED.device_ip,
             is_active = CASE WHEN s.revoked_at IS NULL OR extract(epoch FROM s.revoked_at) < $9
                              THEN TRUE ELSE s.is_active END,
             revoked_at = CASE WHEN extract(epoch FROM s.revoked_at) < $9 THEN NULL ELSE s.revoked_at END
         RETURNING (xmax = 0), (SELECT ip FROM before), (SELECT revoked_at FROM before), s.is_active",
    )
    .bind(&user.uid)
    .bind(&device.id)
    .bind(&device.device_type)
    .bind(&device.os)
    .bind(&device.app_version)
    .bind(&device.fingerprint)
    .bind(ip.map(|i| i.to_string()))
    .bind(&device.user_agent)
    .bind(user.auth_time as f64)
    .bind(user.auth_time)
    .fetch_one(&mut *tx)
    .await?;
    let (created, previous_ip, revoked_at, active) = row;
    if !active && revoked_at.is_some_and(|r| user.auth_time <= r) {
        return Err(session_revoked());
    }
    if let Some(previous) =
        previous_ip.filter(|p| Some(p.as_str()) != ip.map(|i| i.to_string()).as_deref())
    {
        tracing::warn!(uid = %user.uid, device = %device.id, from = %previous, to = %client_ip, "IP rotation on a device session");
    }
    let notification = if created && has_other_sessions(&mut tx, &user.uid, &device.id).await? {
        let n = NewNotification {
            user_id: &user.uid,
            kind: Kind::System,
            text: crate::i18n::MESSAGES
                .text("new-sign-in")
                .arg("device", device.label()),
            data: serde_json::json!({ "deviceId": device.id, "deviceIp": client_ip }),
        };
        Some(notifications::insert(&mut tx, &n).await?)
    } else {
        None
    };
    tx.commit().await?;
    if revoked_at.is_some() {
        clear_revocation(state, &user.uid, device).await;
    }
    if let Some(id) = notification {
        tracing::info!(uid = %user.uid, notification = %id, "new device sign-in notified");
        notifications::publish(state, &user.uid, id).await;
    }
    Ok(())
}

async fn has_other_sessions(
    conn: &mut PgConnection,
    uid: &str,
    device_id: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM device_sessions WHERE user_id = $1 AND device_id <> $2)",
    )
    .bind(uid)
    .bind(device_id)
    .fetch_one(conn)
    .await
}

async fn clear_revocation(state: &AppState, uid: &str, device: &Device) {
    let key = revoked_key(state, uid, &device.key());
    let _ = state
        .with_redis("DEL", async |conn| {
            redis::cmd("DEL").arg(&key).query_async::<()>(conn).await
        })
        .await;
}

/// Revokes one of `uid`'s sessions: the device is refused (401) everywhere
/// until the user signs in on it again, and so is the sign-in it was using,
/// whatever device claims it. `Ok(false)` when no such session is theirs.
/// Postgres is the record: when Redis cannot take its copy the revocation
/// still holds (see the module doc).
pub async fn revoke(state: &AppState, uid: &str, session_id: Uuid) -> Result<bool, ApiError> {
    let mut tx = state.db.begin().await?;
    let revoked: Option<(String, i64, Option<i64>)> = sqlx::query_as(
        "UPDATE device_sessions SET is_active = FALSE, revoked_at = now()
         WHERE id = $1 AND user_id = $2
         RETURNING device_id, floor(extract(epoch FROM revoked_at))::bigint, auth_time",
    )
    .bind(session_id)
    .bind(uid)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((device_id, at, sign_in)) = revoked else {
        return Ok(false);
    };
    if let Some(auth_time) = sign_in {
        sqlx::query(
            "INSERT INTO revoked_sign_ins (user_id, auth_time) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(uid)
        .bind(auth_time)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    forget_sessions(state, uid);
    let device_key = hex(&Sha256::digest(device_id.as_bytes()))[..32].to_owned();
    let mut pipe = redis::pipe();
    pipe.cmd("SET")
        .arg(revoked_key(state, uid, &device_key))
        .arg(at)
        .arg("PX")
        .arg(REVOKED_TTL.as_millis() as u64);
    if let Some(auth_time) = sign_in {
        let key = sign_ins_key(state, uid);
        pipe.cmd("SADD").arg(&key).arg(auth_time);
        pipe.cmd("PEXPIRE")
            .arg(&key)
            .arg(REVOKED_TTL.as_millis() as u64);
    }
    copy_to_redis(state, "revoke_session", pipe).await;
    Ok(true)
}

/// Signs `uid` out everywhere: every session revoked, and every token signed
/// in up to now refused on every device (`tokens_valid_after`), until the
/// user signs in again.
pub async fn revoke_all(state: &AppState, uid: &str) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    let valid_after: i64 = sqlx::query_scalar(
        "INSERT INTO token_revocations (user_id, valid_after) VALUES ($1, now())
         ON CONFLICT (user_id) DO UPDATE SET valid_after = EXCLUDED.valid_after
         RETURNING floor(extract(epoch FROM valid_after))::bigint",
    )
    .bind(uid)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE device_sessions SET is_active = FALSE, revoked_at = now()
         WHERE user_id = $1 AND is_active",
    )
    .bind(uid)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    forget_sessions(state, uid);
    let mut pipe = redis::pipe();
    pipe.cmd("SET")
        .arg(valid_after_key(state, uid))
        .arg(valid_after)
        .arg("PX")
        .arg(REVOKED_TTL.as_millis() as u64);
    copy_to_redis(state, "revoke_all", pipe).await;
    Ok(())
}

/// Sends a committed revocation's copy to Redis. Failing that, the database
/// fallback enforces it while Redis is down, and the copy is retried in the
/// background every second for [`COPY_RETRY_FOR`] so it holds once Redis is
/// back (else each device's next row write, within [`WRITE_INTERVAL`],
/// restores it).
async fn copy_to_redis(state: &AppState, command: &'static str, pipe: redis::Pipeline) {
    let Err(e) = copy(state, command, &pipe).await else {
        return;
    };
    tracing::warn!(error = %e, "revocation not copied to Redis yet; the database enforces it");
    let state = state.clone();
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + COPY_RETRY_FOR;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if copy(&state, command, &pipe).await.is_ok() {
                return;
            }
        }
    });
}

async fn copy(
    state: &AppState,
    command: &'static str,
    pipe: &redis::Pipeline,
) -> Result<(), crate::cache::CacheError> {
    state
        .with_redis(command, async |conn| pipe.query_async::<()>(conn).await)
        .await
}

/// How long a revocation Redis could not take is retried.
const COPY_RETRY_FOR: Duration = Duration::from_secs(600);

/// The session bookkeeping of a request authenticated outside the
/// middleware (a WebSocket's `?token=`): the same check, the user's row, and
/// the session row when due; `Err(401)` for a revoked session.
pub async fn keep(
    state: &AppState,
    user: &AuthUser,
    headers: &HeaderMap,
    client_ip: &str,
) -> Result<(), ApiError> {
    let device = Device::from_headers(headers, client_ip);
    let checked = check(state, user, &device, client_ip).await?;
    if let Err(e) = state
        .known_users
        .record(&state.db, user, checked.map(|c| c.generation))
        .await
    {
        tracing::warn!(error = %e, "could not record the user");
    }
    if checked.is_some_and(|c| c.write_due) {
        match write(state, user, &device, client_ip).await {
            Err(e @ ApiError::Unauthorized(_)) => return Err(e),
            Err(e) => tracing::warn!(error = %e, "could not record the session"),
            Ok(()) => {}
        }
    }
    Ok(())
}

/// Marks `uid` deleted for every instance: their next request records them
/// afresh instead of trusting an instance's memory of the old row.
pub async fn forget_user(state: &AppState, uid: &str) -> Result<(), ApiError> {
    state.known_users.forget(uid);
    forget_sessions(state, uid);
    let key = generation_key(state, uid);
    state
        .with_redis("INCR", async |conn| {
            redis::cmd("INCR").arg(&key).query_async::<i64>(conn).await
        })
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "session store unavailable");
            ApiError::Unavailable(crate::i18n::MESSAGES.text("unavailable"))
        })?;
    Ok(())
}
