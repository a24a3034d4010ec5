//! The database schema this build expects: the migrations in `migrations/`,
//! embedded. `migrate` applies them; `/readyz` reports an instance unready
//! until they are applied, so a new revision never serves an older schema.

use sqlx::PgPool;
use sqlx::migrate::Migrator;

/// Every migration of this build.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The newest migration version this build knows.
pub fn expected_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Whether the database has every migration this build expects.
pub async fn is_current(db: &PgPool) -> Result<bool, sqlx::Error> {
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(db)
            .await?;
    Ok(applied.unwrap_or(0) >= expected_version())
}
