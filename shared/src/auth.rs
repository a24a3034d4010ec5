//! Firebase ID-token verification, following the checks Firebase's Admin SDKs
//! make: RS256 signed by one of Google's `securetoken` keys (or, in emulator
//! mode only, unsigned), issued for this project, in date, with a real subject.
//!
//! A verified RS256 token is remembered ([`token_cache`]), so the same token
//! on the next request costs a hash and a lookup, not an RSA verification:
//! until its `exp`, never later, and only while the key set still holds the
//! key that signed it. Unsigned emulator tokens are cheap to check and are
//! never cached. Revocation is not the verifier's: the session check after it
//! runs on every request, cached token or not.

mod token_cache;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prometheus::{IntCounter, IntCounterVec, Opts};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

use crate::config::Config;
use crate::error::ApiError;
use crate::i18n::MESSAGES;
use token_cache::TokenCache;

/// Firebase tokens are about 1 kB; anything far larger is refused unread.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Tolerated clock difference with Google's servers.
const LEEWAY_SECS: f64 = 30.0;
/// An unknown `kid` triggers at most one key refetch per this interval.
const MIN_REFETCH: Duration = Duration::from_secs(30);
/// Used when Google's answer carries no `max-age`.
const DEFAULT_KEY_TTL: Duration = Duration::from_secs(3600);

/// The caller's role, from the token's top-level `role` custom claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Standard,
    Premium,
    Admin,
}

impl Role {
    /// The lowercase name stored in the database and sent to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Standard => "standard",
            Role::Premium => "premium",
            Role::Admin => "admin",
        }
    }
}

/// The authenticated caller. As an extractor it answers 401 when the request
/// carries no valid token.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthUser {
    pub uid: String,
    pub email: Option<String>,
    pub role: Role,
    /// When the user last actually signed in (seconds since the epoch); token
    /// refreshes keep it, so a revoked device stays out until a new sign-in.
    pub auth_time: i64,
}

/// Why a token was refused; logged and counted, never sent to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("unsupported algorithm")]
    Algorithm,
    #[error("unknown key id")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
    #[error("wrong audience")]
    Audience,
    #[error("wrong issuer")]
    Issuer,
    #[error("expired")]
    Expired,
    #[error("issued in the future")]
    NotYetValid,
    #[error("bad subject")]
    Subject,
    #[error("signing keys unavailable")]
    KeysUnavailable,
}

impl AuthError {
    /// A short label for metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::UnknownKey => "unknown_kid",
            Self::Signature => "signature",
            Self::Audience => "audience",
            Self::Issuer => "issuer",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Subject => "subject",
            Self::KeysUnavailable => "keys_unavailable",
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => ApiError::Unauthorized(MESSAGES.text("not-authenticated")),
            AuthError::KeysUnavailable => ApiError::Unavailable(MESSAGES.text("auth-unavailable")),
            _ => ApiError::Unauthorized(MESSAGES.text("invalid-token")),
        }
    }
}

/// What the auth middleware found on a request; read by the extractors.
#[derive(Debug, Clone)]
pub enum Authentication {
    Anonymous,
    User(AuthUser),
    Failed(AuthError),
}

impl Authentication {
    /// The verified user, if any.
    pub fn user(&self) -> Option<&AuthUser> {
        match self {
            Authentication::User(user) => Some(user),
            _ => None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authentication>() {
            Some(Authentication::User(user)) => Ok(user.clone()),
            Some(Authentication::Failed(e)) => Err((*e).into()),
            _ => Err(AuthError::Missing.into()),
        }
    }
}

/// The caller if a valid token came with the request; `None` for anonymous calls.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<AuthUser>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeUser(
            parts
                .extensions
                .get::<Authentication>()
                .and_then(Authentication::user)
                .cloned(),
        ))
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// The claims we check; numbers may be integers or floats (JWT NumericDate).
#[derive(Deserialize)]
struct Claims {
    aud: Option<serde_json::Value>,
    iss: Option<String>,
    sub: Option<String>,
    exp: Option<f64>,
    iat: Option<f64>,
    auth_time: Option<f64>,
    email: Option<String>,
    role: Option<String>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    n: Option<String>,
    e: Option<String>,
}

/// An RSA public key: modulus and exponent, big-endian.
type PublicKey = Arc<RsaPublicKeyComponents<Vec<u8>>>;

/// One of Google's keys, with the JWK components it was built from (to tell
/// a key replaced under the same `kid`).
struct Key {
    public: PublicKey,
    components: (String, String),
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Key>,
    /// Bumped when a fetch drops or replaces a key: cached tokens verified
    /// under an earlier generation are verified again.
    generation: u64,
    expires_at: Option<Instant>,
    fetched_at: Option<Instant>,
    /// Consecutive failed fetches, and when the next one may start.
    failures: u32,
    retry_at: Option<Instant>,
}

impl KeyCache {
    fn fresh(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|t| t > now)
    }

    /// Not backing off after failures.
    fn may_fetch(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|t| now >= t)
    }

    fn missing(&self) -> AuthError {
        if self.keys.is_empty() {
            AuthError::KeysUnavailable
        } else {
            AuthError::UnknownKey
        }
    }
}

/// After a failed fetch, wait 1 s, 2 s, 4 s ... up to this before the next.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Google's keys rotate daily; a longer `max-age` is capped to this.
const MAX_KEY_TTL: Duration = Duration::from_secs(24 * 3600);
/// A fetch that takes longer than this fails (and backs off).
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Verifies Firebase ID tokens; Google's keys are fetched on first need, never
/// at start-up. At most one fetch runs at a time; requests whose key is held
/// never wait for one, even after the keys expire (stale keys serve while a
/// background refresh runs); failed fetches back off exponentially.
pub struct FirebaseVerifier {
    project_id: String,
    issuer: String,
    jwks_url: String,
    emulator: bool,
    cache: RwLock<KeyCache>,
    fetch: Mutex<()>,
    /// Verified tokens (`AUTH_TOKEN_CACHE_ENTRIES`; `None` when 0).
    tokens: Option<TokenCache>,
    /// [`KeyCache::generation`], read without the key cache's lock.
    generation: AtomicU64,
    /// When the keys next need a fetch (ms since `started`), so a cache hit
    /// can start the refresh that a key lookup would have started.
    refresh_due: AtomicU64,
    started: Instant,
    cache_metric: IntCounterVec,
    cache_hits: IntCounter,
    cache_misses: IntCounter,
}

impl FirebaseVerifier {
    /// A verifier for `config`'s project; no network until the first token.
    pub fn new(config: &Config) -> Arc<Self> {
        let cache_metric = IntCounterVec::new(
            Opts::new(
                "auth_token_cache_total",
                "RS256 bearer tokens by verified-token cache outcome (a miss verifies the signature)",
            ),
            &["result"],
        )
        .expect("static metric");
        Arc::new(Self {
            project_id: config.firebase_project_id.clone(),
            issuer: format!(
                "https://securetoken.google.com/{}",
                config.firebase_project_id
            ),
            jwks_url: config.firebase_jwks_url.clone(),
            emulator: config.emulator_mode(),
            cache: RwLock::default(),
            fetch: Mutex::new(()),
            tokens: TokenCache::new(config.auth_token_cache),
            generation: AtomicU64::new(0),
            refresh_due: AtomicU64::new(0),
            started: Instant::now(),
            cache_hits: cache_metric.with_label_values(&["hit"]),
            cache_misses: cache_metric.with_label_values(&["miss"]),
            cache_metric,
        })
    }

    /// `auth_token_cache_total{result="hit"|"miss"}`, for the metrics registry.
    pub fn token_cache_metric(&self) -> &IntCounterVec {
        &self.cache_metric
    }

    /// How many verified tokens are held.
    pub fn cached_tokens(&self) -> usize {
        self.tokens.as_ref().map_or(0, TokenCache::len)
    }

    /// Verifies `token` and returns its user.
    pub async fn verify(self: &Arc<Self>, token: &str) -> Result<AuthUser, AuthError> {
        self.verify_at(token, now_secs()).await
    }

    /// [`Self::verify`] at `now` (seconds since the epoch).
    async fn verify_at(self: &Arc<Self>, token: &str, now: f64) -> Result<AuthUser, AuthError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed);
        }
        let hash = self.tokens.as_ref().map(|_| token_cache::hash(token));
        if let (Some(tokens), Some(hash)) = (&self.tokens, &hash)
            && let Some(user) = tokens.get(hash, now, self.generation.load(Ordering::Acquire))
        {
            self.cache_hits.inc();
            self.refresh_if_due();
            return Ok(user);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        let header_and_payload = header.len() + 1 + payload.len();
        let header: Header = decode_segment(header)?;
        match header.alg.as_str() {
            "none" if self.emulator && signature.is_empty() => {
                self.check(decode_segment(payload)?, now)
            }
            "RS256" if !signature.is_empty() => {
                self.cache_misses.inc();
                let kid = header.kid.ok_or(AuthError::UnknownKey)?;
                let (key, generation) = self.key(&kid).await?;
                // ring's RS256 (constant-time, already linked for TLS): the
                // signature over `header.payload`, then the claims.
                let signature = URL_SAFE_NO_PAD
                    .decode(signature)
                    .map_err(|_| AuthError::Malformed)?;
                let signed = &token[..header_and_payload];
                key.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
                    .map_err(|_| AuthError::Signature)?;
                let claims: Claims = decode_segment(payload)?;
                let exp = claims.exp;
                let user = self.check(claims, now)?;
                // Only while it is in date without the leeway: past `exp`, each
                // request verifies it again (and the leeway runs out).
                if let (Some(tokens), Some(hash), Some(exp)) = (&self.tokens, hash, exp)
                    && now < exp
                {
                    tokens.insert(hash, user.clone(), exp, generation);
                }
                Ok(user)
            }
            _ => Err(AuthError::Algorithm),
        }
    }

    fn check(&self, claims: Claims, now: f64) -> Result<AuthUser, AuthError> {
        let aud_ok = match &claims.aud {
            Some(serde_json::Value::String(a)) => *a == self.project_id,
            _ => false,
        };
        if !aud_ok {
            return Err(AuthError::Audience);
        }
        if claims.iss.as_deref() != Some(self.issuer.as_str()) {
            return Err(AuthError::Issuer);
        }
        match claims.exp {
            Some(exp) if exp + LEEWAY_SECS > now => {}
            _ => return Err(AuthError::Expired),
        }
        for t in [claims.iat, claims.auth_time] {
            match t {
                Some(t) if t - LEEWAY_SECS <= now => {}
                _ => return Err(AuthError::NotYetValid),
            }
        }
        let uid = claims.sub.filter(|s| !s.is_empty() && s.len() <= 128);
        let uid = uid.ok_or(AuthError::Subject)?;
        let role = match claims.role.as_deref() {
            Some("premium") => Role::Premium,
            Some("admin") => Role::Admin,
            _ => Role::Standard,
        };
        Ok(AuthUser {
            uid,
            email: claims.email,
            role,
            auth_time: claims.auth_time.or(claims.iat).unwrap_or(now) as i64,
        })
    }

    /// The key `kid` and the key-set generation it belongs to.
    async fn key(self: &Arc<Self>, kid: &str) -> Result<(PublicKey, u64), AuthError> {
        let now = Instant::now();
        {
            let cache = self.cache.read().await;
            if let Some(key) = cache.keys.get(kid) {
                if !cache.fresh(now) && cache.may_fetch(now) {
                    self.refresh_in_background();
                }
                return Ok((key.public.clone(), cache.generation));
            }
            let fetched_recently = cache.fetched_at.is_some_and(|t| t.elapsed() < MIN_REFETCH);
            if !cache.may_fetch(now) || (cache.fresh(now) && fetched_recently) {
                return Err(cache.missing());
            }
        }
        self.refresh(now).await;
        let cache = self.cache.read().await;
        let key = cache.keys.get(kid).ok_or_else(|| cache.missing())?;
        Ok((key.public.clone(), cache.generation))
    }

    /// On a cache hit, no key is looked up: starts the background refresh a
    /// lookup would have started once the keys are due (expired, and not
    /// backing off), so a rotation is still seen. One hit starts it.
    fn refresh_if_due(self: &Arc<Self>) {
        let now = self.millis(Instant::now());
        let due = self.refresh_due.load(Ordering::Relaxed);
        let next_try = now.saturating_add(FETCH_TIMEOUT.as_millis() as u64);
        if now >= due
            && self
                .refresh_due
                .compare_exchange(due, next_try, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.refresh_in_background();
        }
    }

    fn millis(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.started).as_millis() as u64
    }

    fn refresh_in_background(self: &Arc<Self>) {
        if self.fetch.try_lock().is_err() {
            return;
        }
        let me = Arc::clone(self);
        tokio::spawn(async move { me.refresh(Instant::now()).await });
    }

    /// Fetches the keys unless another fetch finished since `asked`: one at a
    /// time, and without holding the cache, so verifications go on meanwhile.
    async fn refresh(&self, asked: Instant) {
        let _one_fetch_at_a_time = self.fetch.lock().await;
        if self
            .cache
            .read()
            .await
            .fetched_at
            .is_some_and(|t| t >= asked)
        {
            return;
        }
        let result = match tokio::time::timeout(FETCH_TIMEOUT, self.fetch_keys()).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {FETCH_TIMEOUT:?}")),
        };
        let now = Instant::now();
        let mut cache = self.cache.write().await;
        cache.fetched_at = Some(now);
        match result {
            Ok((keys, ttl)) => {
                let replaced = cache.keys.iter().any(|(kid, old)| {
                    keys.get(kid)
                        .is_none_or(|new: &Key| new.components != old.components)
                });
                if replaced {
                    cache.generation += 1;
                    self.generation.store(cache.generation, Ordering::Release);
                }
                cache.keys = keys;
                cache.expires_at = now.checked_add(ttl);
                cache.failures = 0;
                cache.retry_at = None;
            }
            Err(e) => {
                cache.failures = cache.failures.saturating_add(1);
                let backoff = Duration::from_secs(1 << cache.failures.min(6)).min(MAX_BACKOFF);
                cache.retry_at = now.checked_add(backoff);
                tracing::warn!(error = %e, url = %self.jwks_url, retry_in = ?backoff,
                    "fetching Firebase public keys failed; serving the keys held");
            }
        }
        let due = [cache.expires_at, cache.retry_at]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(now);
        self.refresh_due.store(self.millis(due), Ordering::Relaxed);
    }

    async fn fetch_keys(&self) -> Result<(HashMap<String, Key>, Duration), String> {
        let response = crate::outbound::client()
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status.is_success() {
            return Err(format!("HTTP {}", response.status));
        }
        let ttl = response
            .header(http::header::CACHE_CONTROL)
            .and_then(max_age)
            .unwrap_or(DEFAULT_KEY_TTL);
        let set: JwkSet = response.json().map_err(|e| e.to_string())?;
        let keys = set
            .keys
            .into_iter()
            .filter(|k| k.kty == "RSA")
            .filter_map(|k| {
                let (n, e) = (k.n?, k.e?);
                let public = Arc::new(RsaPublicKeyComponents {
                    n: URL_SAFE_NO_PAD.decode(n.trim_end_matches('=')).ok()?,
                    e: URL_SAFE_NO_PAD.decode(e.trim_end_matches('=')).ok()?,
                });
                let components = (n, e);
                Some((k.kid?, Key { public, components }))
            })
            .collect();
        Ok((keys, ttl))
    }
}

fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|d| {
        let secs: u64 = d.trim().strip_prefix("max-age=")?.trim().parse().ok()?;
        Some(Duration::from_secs(secs).min(MAX_KEY_TTL))
    })
}

fn decode_segment<T: serde::de::DeserializeOwned>(segment: &str) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The bearer token of a request, if any.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{JwksServer, TestKeys, claims};

    #[test]
    fn max_age_is_read_from_googles_cache_control() {
        assert_eq!(
            max_age("public, max-age=19759, must-revalidate, no-transform"),
            Some(Duration::from_secs(19759))
        );
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(
            max_age(&format!("max-age={}", u64::MAX)),
            Some(MAX_KEY_TTL),
            "a huge max-age must not overflow Instant"
        );
    }

    /// Random mutations of tokens must only ever be refused, never panic.
    #[tokio::test]
    async fn arbitrary_tokens_never_panic() {
        let vars = |k: &str| match k {
            "DATABASE_URL" => Some("postgres://h/db".to_owned()),
            "REDIS_URL" => Some("redis://h".to_owned()),
            "FIREBASE_PROJECT_ID" => Some("p".to_owned()),
            "FIREBASE_AUTH_EMULATOR_HOST" => Some("127.0.0.1:9099".to_owned()),
            "FIREBASE_JWKS_URL" => Some("http://127.0.0.1:9/jwks".to_owned()),
            _ => None,
        };
        let verifier = FirebaseVerifier::new(&Config::from_lookup(vars).unwrap());
        let seeds = [
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiYXVkIjoicCJ9.",
            "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ4In0.c2ln",
        ];
        let alphabet = b"AZaz09-_.=+/ \x00\xc3\xa9{}\"";
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as usize
        };
        for i in 0..4000 {
            let mut bytes = seeds[i % 2].as_bytes().to_vec();
            for _ in 0..(1 + next() % 4) {
                let pos = next() % (bytes.len() + 1);
                let b = alphabet[next() % alphabet.len()];
                match next() % 3 {
                    0 if pos < bytes.len() => bytes[pos] = b,
                    1 if pos < bytes.len() => {
                        bytes.remove(pos);
                    }
                    _ => bytes.insert(pos, b),
                }
            }
            let token = String::from_utf8_lossy(&bytes);
            assert!(
                verifier.verify(&token).await.is_err() || token.starts_with("eyJhbGciOiJub25l")
            );
        }
    }

    /// A verifier of the test project, with its own JWKS server.
    async fn spawn_verifier(settings: &[(&str, &str)]) -> (Arc<FirebaseVerifier>, JwksServer) {
        let jwks = JwksServer::start().await;
        let verifier = FirebaseVerifier::new(&crate::testing::config(&jwks.url, settings));
        (verifier, jwks)
    }

    /// (cache hits, signature verifications).
    fn counts(verifier: &FirebaseVerifier) -> (u64, u64) {
        (verifier.cache_hits.get(), verifier.cache_misses.get())
    }

    #[tokio::test]
    async fn a_cached_token_serves_until_its_exp_then_the_leeway_runs_out_as_usual() {
        let (verifier, _jwks) = spawn_verifier(&[]).await;
        let now = now_secs().floor();
        let exp = now + 120.0;
        let mut claims = claims("ada");
        claims["exp"] = serde_json::json!(exp);
        let token = TestKeys::get().sign(&claims);

        assert_eq!(verifier.verify_at(&token, now).await.unwrap().uid, "ada");
        assert_eq!(counts(&verifier), (0, 1));
        assert_eq!(
            verifier.verify_at(&token, exp - 1.0).await.unwrap().uid,
            "ada"
        );
        assert_eq!(counts(&verifier), (1, 1), "the second time from the cache");
        assert!(verifier.verify_at(&token, exp + 1.0).await.is_ok());
        assert_eq!(counts(&verifier), (1, 2), "past exp, verified again");
        assert_eq!(
            verifier.verify_at(&token, exp + LEEWAY_SECS + 1.0).await,
            Err(AuthError::Expired),
            "cached before, refused once expired"
        );
    }

    #[tokio::test]
    async fn the_cache_holds_at_most_its_size_and_can_be_turned_off() {
        let (verifier, _jwks) = spawn_verifier(&[("AUTH_TOKEN_CACHE_ENTRIES", "4")]).await;
        let tokens: Vec<String> = (0..10)
            .map(|i| TestKeys::get().sign(&claims(&format!("user-{i}"))))
            .collect();
        for token in &tokens {
            verifier.verify(token).await.unwrap();
        }
        assert_eq!(verifier.cached_tokens(), 4);
        verifier.verify(&tokens[9]).await.unwrap();
        verifier.verify(&tokens[0]).await.unwrap();
        assert_eq!(
            counts(&verifier),
            (1, 11),
            "the newest held, the oldest gone"
        );

        let (off, _jwks) = spawn_verifier(&[("AUTH_TOKEN_CACHE_ENTRIES", "0")]).await;
        for _ in 0..2 {
            off.verify(&tokens[0]).await.unwrap();
        }
        assert_eq!((counts(&off), off.cached_tokens()), ((0, 2), 0));
    }

    #[tokio::test]
    async fn unsigned_emulator_tokens_are_never_cached() {
        let (verifier, _jwks) =
            spawn_verifier(&[("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")]).await;
        let token = crate::testing::unsigned_token(&claims("emu"));
        for _ in 0..2 {
            assert_eq!(verifier.verify(&token).await.unwrap().uid, "emu");
        }
        assert_eq!((counts(&verifier), verifier.cached_tokens()), ((0, 0), 0));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }
}
