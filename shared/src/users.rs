//! The contract's rule that a user row exists from the first authenticated
//! request (uid, email, role). Each instance remembers whom it has recorded,
//! so a user costs one upsert per instance, not one per request.

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::PgPool;

use crate::auth::{AuthUser, Role};

/// Beyond this many users an instance forgets and starts over.
const CAPACITY: usize = 10_000;

/// Users this instance has already written, with the role it wrote.
#[derive(Default)]
pub struct KnownUsers(Mutex<HashMap<String, Role>>);

impl KnownUsers {
    /// Creates the user's row, or brings its email and role up to date with the token.
    pub async fn record(&self, db: &PgPool, user: &AuthUser) -> Result<(), sqlx::Error> {
        let known = self.0.lock().expect("not poisoned").get(&user.uid) == Some(&user.role);
        if known {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO users (uid, email, role) VALUES ($1, $2, $3)
             ON CONFLICT (uid) DO UPDATE
             SET email = COALESCE(EXCLUDED.email, users.email), role = EXCLUDED.role, updated_at = now()
             WHERE users.role <> EXCLUDED.role
                OR users.email IS DISTINCT FROM COALESCE(EXCLUDED.email, users.email)",
        )
        .bind(&user.uid)
        .bind(&user.email)
        .bind(user.role.as_str())
        .execute(db)
        .await?;
        let mut known = self.0.lock().expect("not poisoned");
        if known.len() >= CAPACITY {
            known.clear();
        }
        known.insert(user.uid.clone(), user.role);
        Ok(())
    }
}
