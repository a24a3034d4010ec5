//! The contract's rule that a user row exists from the first authenticated
//! request (uid, email, role). Each instance remembers whom it has recorded,
//! with the email, role and account generation it wrote, so a user costs one
//! upsert per instance, not one per request; a changed claim or a deleted
//! account (its generation bumped in Redis by [`crate::sessions::forget_user`])
//! is written again.

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::PgPool;

use crate::auth::{AuthUser, Role};

/// Beyond this many users an instance forgets and starts over.
const CAPACITY: usize = 10_000;

struct Recorded {
    email: Option<String>,
    role: Role,
    generation: i64,
}

/// Users this instance has already written.
#[derive(Default)]
pub struct KnownUsers(Mutex<HashMap<String, Recorded>>);

impl KnownUsers {
    /// Creates the user's row, or brings its email and role up to date with
    /// the token, unless this instance already wrote exactly that for this
    /// account `generation` (`None` when Redis could not say).
    pub async fn record(
        &self,
        db: &PgPool,
        user: &AuthUser,
        generation: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        {
            let known = self.0.lock().expect("not poisoned");
            // Without Redis the generation is unknown: trust what we wrote.
            let same = known.get(&user.uid).is_some_and(|r| {
                r.email == user.email
                    && r.role == user.role
                    && generation.is_none_or(|g| g == r.generation)
            });
            if same {
                return Ok(());
            }
        }
        let recorded = Recorded {
            email: user.email.clone(),
            role: user.role,
            generation: generation.unwrap_or(0),
        };
        sqlx::query(
            "INSERT INTO users (uid, email, role, last_login) VALUES ($1, $2, $3, to_timestamp($4))
             ON CONFLICT (uid) DO UPDATE
             SET email = COALESCE(EXCLUDED.email, users.email), role = EXCLUDED.role,
                 last_login = GREATEST(users.last_login, EXCLUDED.last_login), updated_at = now()
             WHERE users.role <> EXCLUDED.role
                OR users.email IS DISTINCT FROM COALESCE(EXCLUDED.email, users.email)
                OR users.last_login IS DISTINCT FROM GREATEST(users.last_login, EXCLUDED.last_login)",
        )
        .bind(&user.uid)
        .bind(&user.email)
        .bind(user.role.as_str())
        .bind(user.auth_time as f64)
        .execute(db)
        .await?;
        let mut known = self.0.lock().expect("not poisoned");
        if known.len() >= CAPACITY {
            known.clear();
        }
        known.insert(user.uid.clone(), recorded);
        Ok(())
    }

    /// Forgets `uid` on this instance (its account was deleted here).
    pub fn forget(&self, uid: &str) {
        self.0.lock().expect("not poisoned").remove(uid);
    }
}

/// The answer to a write whose account was deleted while it ran (409).
pub fn account_deleted() -> crate::error::ApiError {
    crate::error::ApiError::Conflict(crate::i18n::MESSAGES.text("account-deleted"))
}
