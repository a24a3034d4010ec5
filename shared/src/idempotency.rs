//! `Idempotency-Key` for writes the app retries (booking, cancelling,
//! publishing a ride): the same key and body answer the first result and act
//! once; the same key with another body is a 422. Keys live 24 hours.
//!
//! The key row is written in the same transaction as the work it guards, so a
//! key never outlives a rolled-back write, and a concurrent retry with the same
//! key waits on the row lock and then answers the committed result.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::error::{ApiError, ApiResult, ConstraintExt, FieldError};
use crate::i18n::MESSAGES;

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// The caller's `Idempotency-Key`, if sent: 1 to 255 printable ASCII
/// characters, else the request is refused with 422.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(raw) = parts.headers.get(HEADER) else {
            return Ok(Self(None));
        };
        let valid =
            (1..=255).contains(&raw.len()) && raw.as_bytes().iter().all(u8::is_ascii_graphic);
        if !valid {
            return Err(ApiError::Validation(vec![FieldError::new(
                &["header", "Idempotency-Key"],
                "must be 1 to 255 printable ASCII characters",
                "value_error",
            )]));
        }
        let key = raw.to_str().expect("checked ASCII").to_owned();
        Ok(Self(Some(key)))
    }
}

fn fingerprint(request: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(request).expect("a request serializes");
    let digest = Sha256::digest(&bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `work` in one transaction, at most once per `(uid, scope, key)` within
/// 24 hours. Without a key it simply runs `work` in a transaction. `request`
/// is what makes two calls "the same": the parsed body plus any path values.
pub async fn once<T, R, F>(
    db: &PgPool,
    uid: &str,
    scope: &str,
    key: &IdempotencyKey,
    request: &R,
    work: F,
) -> ApiResult<T>
where
    T: Serialize + DeserializeOwned,
    R: Serialize,
    F: AsyncFnOnce(&mut PgConnection) -> ApiResult<T>,
{
    let mut tx = db.begin().await?;
    let Some(key) = &key.0 else {
        let out = work(&mut tx).await?;
        tx.commit().await?;
        return Ok(out);
    };
    let hash = fingerprint(request);
    // An expired key is taken over as if it were new; a live one conflicts.
    let fresh: Option<bool> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (user_id, scope, key, request_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, scope, key) DO UPDATE
             SET request_hash = EXCLUDED.request_hash, response = NULL, created_at = now()
             WHERE idempotency_keys.created_at < now() - interval '24 hours'
         RETURNING true",
    )
    .bind(uid)
    .bind(scope)
    .bind(key)
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await
    // The account was deleted while this request ran.
    .on_constraint(
        "idempotency_keys_user_id_fkey",
        crate::users::account_deleted,
    )?;
    if fresh.is_none() {
        let (stored_hash, response): (String, Option<serde_json::Value>) = sqlx::query_as(
            "SELECT request_hash, response FROM idempotency_keys
             WHERE user_id = $1 AND scope = $2 AND key = $3",
        )
        .bind(uid)
        .bind(scope)
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        if stored_hash != hash {
            return Err(ApiError::Validation(vec![FieldError::text(
                &["header", "Idempotency-Key"],
                MESSAGES.text("idempotency-key-reused"),
                "value_error.idempotency_key_reused",
            )]));
        }
        let response =
            response.ok_or_else(|| ApiError::Conflict(MESSAGES.text("idempotency-in-progress")))?;
        return serde_json::from_value(response).map_err(ApiError::internal);
    }
    let out = work(&mut tx).await?;
    let stored = serde_json::to_value(&out).map_err(ApiError::internal)?;
    sqlx::query(
        "UPDATE idempotency_keys SET response = $4 WHERE user_id = $1 AND scope = $2 AND key = $3",
    )
    .bind(uid)
    .bind(scope)
    .bind(key)
    .bind(stored)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(out)
}
