//! Firebase ID-token verification, following the checks Firebase's Admin SDKs
//! make: RS256 signed by one of Google's `securetoken` keys (or, in emulator
//! mode only, unsigned), issued for this project, in date, with a real subject.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

use crate::config::Config;
use crate::error::ApiError;
use crate::i18n::MESSAGES;

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

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, DecodingKey>,
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
    http: OnceLock<reqwest::Client>,
}

impl FirebaseVerifier {
    /// A verifier for `config`'s project; no network until the first token.
    pub fn new(config: &Config) -> Arc<Self> {
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
            http: OnceLock::new(),
        })
    }

    /// Verifies `token` and returns its user.
    pub async fn verify(self: &Arc<Self>, token: &str) -> Result<AuthUser, AuthError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        let header: Header = decode_segment(header)?;
        let claims: Claims = match header.alg.as_str() {
            "none" if self.emulator && signature.is_empty() => decode_segment(payload)?,
            "RS256" if !signature.is_empty() => {
                let kid = header.kid.ok_or(AuthError::UnknownKey)?;
                let key = self.key(&kid).await?;
                let mut validation = Validation::new(Algorithm::RS256);
                validation.validate_exp = false;
                validation.validate_nbf = false;
                validation.validate_aud = false;
                validation.required_spec_claims.clear();
                jsonwebtoken::decode::<Claims>(token, &key, &validation)
                    .map_err(|e| match e.kind() {
                        jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::Signature,
                        _ => AuthError::Malformed,
                    })?
                    .claims
            }
            _ => return Err(AuthError::Algorithm),
        };
        self.check(claims, now_secs())
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

    async fn key(self: &Arc<Self>, kid: &str) -> Result<DecodingKey, AuthError> {
        let now = Instant::now();
        {
            let cache = self.cache.read().await;
            if let Some(key) = cache.keys.get(kid) {
                if !cache.fresh(now) && cache.may_fetch(now) {
                    self.refresh_in_background();
                }
                return Ok(key.clone());
            }
            let fetched_recently = cache.fetched_at.is_some_and(|t| t.elapsed() < MIN_REFETCH);
            if !cache.may_fetch(now) || (cache.fresh(now) && fetched_recently) {
                return Err(cache.missing());
            }
        }
        self.refresh(now).await;
        let cache = self.cache.read().await;
        cache.keys.get(kid).cloned().ok_or_else(|| cache.missing())
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
    }

    async fn fetch_keys(&self) -> Result<(HashMap<String, DecodingKey>, Duration), String> {
        let http = self.http.get_or_init(http_client);
        let response = http
            .get(&self.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?;
        let ttl = response
            .headers()
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(DEFAULT_KEY_TTL);
        let set: JwkSet = response.json().await.map_err(|e| e.to_string())?;
        let keys = set
            .keys
            .into_iter()
            .filter(|k| k.kty == "RSA")
            .filter_map(|k| {
                let key = DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?);
                Some((k.kid?, key.ok()?))
            })
            .collect();
        Ok((keys, ttl))
    }
}

/// An HTTP client for outbound calls (rustls with ring, system roots), built on first use.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(3))
        .build()
        .expect("HTTP client configuration is static")
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

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }
}
