//! Push through Firebase Cloud Messaging (HTTP v1). A service-account JWT
//! (RS256) is exchanged for an OAuth access token, cached until shortly before
//! it expires; each of the user's subscribed tokens then gets one message,
//! retried with exponential backoff on 429 and 5xx. Tokens FCM no longer
//! knows are unsubscribed. Users who turned notifications off get nothing.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::config::FcmConfig;
use crate::state::AppState;

/// The OAuth scope FCM sends require.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Attempts per message (the first and two retries).
const ATTEMPTS: u32 = 3;
/// The first retry waits this long, each further one twice as long.
const BACKOFF: Duration = Duration::from_millis(200);
/// A `Retry-After` beyond this is cut short: the push runs in the background,
/// but should not hold a task for long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// An access token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// What one delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Messages FCM accepted.
    pub sent: usize,
    /// Subscriptions removed because FCM no longer knows their token.
    pub removed: usize,
    /// Messages that could not be sent (after retries).
    pub failed: usize,
}

/// What a push carries of a stored notification. The outbox's
/// [`crate::notifications::Notification`] implements it; push itself names no
/// notification type, so the two modules do not depend on each other.
pub trait Pushable: Sync {
    fn id(&self) -> uuid::Uuid;
    fn user_id(&self) -> &str;
    fn title(&self) -> &str;
    fn body(&self) -> &str;
    /// The app's type (`booking_confirmation`, ...).
    fn kind(&self) -> &str;
    fn category(&self) -> &str;
    /// The extra fields written with it, if any.
    fn data(&self) -> Option<&Value>;
}

/// Pushes `n` to every device its user subscribed, unless FCM is not
/// configured or the user turned notifications off. Never fails: problems are
/// logged and counted in the report.
pub async fn deliver(state: &AppState, n: &impl Pushable) -> PushReport {
    let mut report = PushReport::default();
    let Some(fcm) = &state.config.fcm else {
        return report;
    };
    let tokens: Vec<String> = match sqlx::query_scalar(
        "SELECT s.token FROM notification_subscriptions s JOIN users u ON u.uid = s.user_id
         WHERE s.user_id = $1 AND u.notification_enabled ORDER BY s.created_at",
    )
    .bind(n.user_id())
    .fetch_all(&state.db)
    .await
    {
        Ok(tokens) => tokens,
        Err(e) => {
            tracing::warn!(notification_id = %n.id(), error = %e, "push: could not read subscriptions");
            return report;
        }
    };
    if tokens.is_empty() {
        return report;
    }
    let access = match access_token(fcm).await {
        Ok(access) => access,
        Err(e) => {
            tracing::warn!(notification_id = %n.id(), error = %e, "push: no FCM access token");
            report.failed = tokens.len();
            return report;
        }
    };
    let url = format!(
        "{}/v1/projects/{}/messages:send",
        fcm.api_url, fcm.project_id
    );
    for token in tokens {
        match send(&url, &access, &message(n, &token)).await {
            Outcome::Sent => report.sent += 1,
            Outcome::Unregistered => {
                report.removed += 1;
                let removed = sqlx::query(
                    "DELETE FROM notification_subscriptions WHERE token = $1 AND user_id = $2",
                )
                .bind(&token)
                .bind(n.user_id())
                .execute(&state.db)
                .await;
                if let Err(e) = removed {
                    tracing::warn!(error = %e, "push: could not remove an unregistered token");
                }
            }
            Outcome::Unauthorized(why) => {
                report.failed += 1;
                // The cached access token was revoked or expired early: fetch anew next time.
                forget_access_token(fcm).await;
                tracing::warn!(notification_id = %n.id(), error = %why, "push: access token refused");
            }
            Outcome::Failed(why) => {
                report.failed += 1;
                tracing::warn!(notification_id = %n.id(), error = %why, "push: message not sent");
            }
        }
    }
    tracing::info!(notification_id = %n.id(), sent = report.sent, removed = report.removed,
        failed = report.failed, "push delivered");
    report
}

/// The FCM v1 request body for `n` to one device; `data` values are strings,
/// as FCM requires.
pub fn message(n: &impl Pushable, token: &str) -> Value {
    let mut data = Map::new();
    if let Some(Value::Object(extra)) = n.data() {
        for (k, v) in extra {
            match v {
                Value::Null => {}
                Value::String(s) => {
                    data.insert(k.clone(), json!(s));
                }
                other => {
                    data.insert(k.clone(), json!(other.to_string()));
                }
            }
        }
    }
    data.insert("notificationId".into(), json!(n.id().to_string()));
    data.insert("type".into(), json!(n.kind()));
    data.insert("category".into(), json!(n.category()));
    json!({"message": {
        "token": token,
        "notification": {"title": n.title(), "body": n.body()},
        "data": data,
    }})
}

enum Outcome {
    Sent,
    /// FCM no longer knows the token: unsubscribe it.
    Unregistered,
    /// FCM refused our access token.
    Unauthorized(String),
    Failed(String),
}

/// Sends one message, retrying transient failures.
async fn send(url: &str, access: &str, body: &Value) -> Outcome {
    let mut wait = BACKOFF;
    let mut attempt = 1;
    loop {
        let Transient { why, retry_after } = match try_once(url, access, body).await {
            Ok(outcome) => return outcome,
            Err(transient) => transient,
        };
        if attempt == ATTEMPTS {
            return Outcome::Failed(why);
        }
        tokio::time::sleep(retry_after.unwrap_or(wait)).await;
        wait *= 2;
        attempt += 1;
    }
}

/// A failure worth retrying: a network error, 429 or 5xx.
struct Transient {
    why: String,
    retry_after: Option<Duration>,
}

async fn try_once(url: &str, access: &str, body: &Value) -> Result<Outcome, Transient> {
    let response = crate::outbound::client()
        .post(url)
        .bearer_auth(access)
        .json(body)
        .send()
        .await
        .map_err(|e| Transient {
            why: format!("request failed: {e}"),
            retry_after: None,
        })?;
    let status = response.status;
    let retry_after = response
        .header(http::header::RETRY_AFTER)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
    let text = response.text();
    let why = format!("{} {text}", status.as_u16());
    if status.is_success() {
        Ok(Outcome::Sent)
    } else if status == StatusCode::NOT_FOUND
        || (status == StatusCode::BAD_REQUEST && names_a_bad_token(&text))
    {
        Ok(Outcome::Unregistered)
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(Transient { why, retry_after })
    } else if status == StatusCode::UNAUTHORIZED {
        Ok(Outcome::Unauthorized(why))
    } else {
        Ok(Outcome::Failed(why))
    }
}

/// Whether an FCM 400 answer is about the registration token itself
/// (`UNREGISTERED`, or `INVALID_ARGUMENT` on `message.token`), not the payload.
fn names_a_bad_token(body: &str) -> bool {
    let Ok(answer) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    let error = &answer["error"];
    let details = error["details"].as_array().cloned().unwrap_or_default();
    let unregistered = error["status"] == "UNREGISTERED"
        || details.iter().any(|d| d["errorCode"] == "UNREGISTERED");
    let token_field = details.iter().any(|d| {
        d["fieldViolations"]
            .as_array()
            .is_some_and(|v| v.iter().any(|f| f["field"] == "message.token"))
    });
    let invalid_token = error["status"] == "INVALID_ARGUMENT"
        && (token_field
            || error["message"]
                .as_str()
                .is_some_and(|m| m.contains("registration token")));
    unregistered || invalid_token
}

struct CachedToken {
    value: String,
    renew_at: Instant,
}

/// Access tokens by service account and token endpoint.
static TOKENS: LazyLock<Mutex<HashMap<String, CachedToken>>> = LazyLock::new(Mutex::default);

fn cache_key(fcm: &FcmConfig) -> String {
    format!("{} {}", fcm.token_url, fcm.client_email)
}

/// Why no FCM access token was had.
#[derive(Debug, thiserror::Error)]
enum TokenError {
    #[error("FCM_PRIVATE_KEY: {0}")]
    Key(String),
    #[error("signing the assertion failed")]
    Signing,
    #[error("token endpoint: {0}")]
    Unreachable(#[from] crate::outbound::Error),
    #[error("token endpoint answered {status}: {text}")]
    Refused { status: StatusCode, text: String },
}

/// A valid OAuth access token for FCM: the cached one, else a fresh exchange.
async fn access_token(fcm: &FcmConfig) -> Result<String, TokenError> {
    // Held across the exchange, so concurrent pushes fetch one token, not many.
    let mut tokens = TOKENS.lock().await;
    let key = cache_key(fcm);
    if let Some(cached) = tokens.get(&key)
        && Instant::now() < cached.renew_at
    {
        return Ok(cached.value.clone());
    }
    let (value, lifetime) = exchange(fcm).await?;
    tokens.insert(
        key,
        CachedToken {
            value: value.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(RENEW_BEFORE),
        },
    );
    Ok(value)
}

async fn forget_access_token(fcm: &FcmConfig) {
    TOKENS.lock().await.remove(&cache_key(fcm));
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default = "an_hour")]
    expires_in: u64,
}

fn an_hour() -> u64 {
    3600
}

/// Exchanges a signed service-account assertion for an access token and its lifetime.
async fn exchange(fcm: &FcmConfig) -> Result<(String, Duration), TokenError> {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": fcm.client_email,
        "scope": SCOPE,
        "aud": fcm.token_url,
        "iat": now,
        "exp": now + 3600,
    });
    let assertion = sign_rs256(&fcm.private_key_pem, &claims)?;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
        .append_pair("assertion", &assertion)
        .finish();
    let response = crate::outbound::client()
        .post(&fcm.token_url)
        .body(form, "application/x-www-form-urlencoded")
        .send()
        .await?;
    let status = response.status;
    if !status.is_success() {
        let text = response.text();
        return Err(TokenError::Refused { status, text });
    }
    let answer: TokenAnswer = response.json()?;
    Ok((answer.access_token, Duration::from_secs(answer.expires_in)))
}

/// A compact RS256 JWT of `claims`, signed with the service account's PEM key
/// (PKCS#8, as Google issues them, or PKCS#1). Signed with ring, whose RSA
/// private-key operations are constant-time (the `rsa` crate's are not:
/// RUSTSEC-2023-0071, see deny.toml).
fn sign_rs256(pem: &str, claims: &Value) -> Result<String, TokenError> {
    use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    let der = STANDARD
        .decode(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>()
                .trim(),
        )
        .map_err(|e| TokenError::Key(format!("not PEM: {e}")))?;
    let key = if pem.contains("BEGIN RSA PRIVATE KEY") {
        RsaKeyPair::from_der(&der)
    } else {
        RsaKeyPair::from_pkcs8(&der)
    }
    .map_err(|e| TokenError::Key(e.to_string()))?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| TokenError::Signing)?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

#[cfg(test)]
mod tests {
    use super::names_a_bad_token;

    #[test]
    fn tells_token_errors_from_payload_errors() {
        assert!(names_a_bad_token(
            r#"{"error":{"code":404,"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#
        ));
        assert!(names_a_bad_token(
            r#"{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT"}}"#
        ));
        assert!(names_a_bad_token(
            r#"{"error":{"status":"INVALID_ARGUMENT","details":[{"fieldViolations":[{"field":"message.token"}]}]}}"#
        ));
        assert!(!names_a_bad_token(
            r#"{"error":{"status":"INVALID_ARGUMENT","message":"Invalid value at 'message.data[0].value'"}}"#
        ));
        assert!(!names_a_bad_token("not json"));
    }
}
