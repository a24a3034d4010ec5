//! A user's own record as the user functions answer it: the profile (the
//! original backend's fields beside the app's, contract E), the languages the
//! app speaks, and reading the caller's row, which exists from their first
//! authenticated request (the platform writes it; [`load`] writes it too
//! should that write have failed).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiResult;

/// The languages the app speaks; anything else is a 422.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Fr,
}

impl Language {
    /// The stored and serialized code.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
        }
    }
}

/// The `users` columns the profile and token answers read.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub uid: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub display_name: Option<String>,
    pub language: String,
    pub notification_enabled: bool,
    pub role: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub profile_photo: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

/// Every [`UserRow`] column of `users`.
pub const USER_COLUMNS: &str = "uid, email, phone, display_name, language, notification_enabled, \
     role, first_name, last_name, profile_photo, date_of_birth, gender, created_at, last_login";

/// Writes the caller's row (uid, email, role) unless it exists: the platform
/// writes it on each first request, but goes on when that write fails.
pub async fn ensure(conn: &mut PgConnection, user: &AuthUser) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO users (uid, email, role) VALUES ($1, $2, $3) ON CONFLICT (uid) DO NOTHING",
    )
    .bind(&user.uid)
    .bind(&user.email)
    .bind(user.role.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// The caller's row, written first if need be.
pub async fn load(conn: &mut PgConnection, user: &AuthUser) -> ApiResult<UserRow> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE uid = $1");
    let found = sqlx::query_as(&sql)
        .bind(&user.uid)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(row) = found {
        return Ok(row);
    }
    ensure(conn, user).await?;
    Ok(sqlx::query_as(&sql).bind(&user.uid).fetch_one(conn).await?)
}

/// The caller's row, written first if need be, locked until the caller's
/// transaction ends (so concurrent partial updates do not undo each other).
pub async fn lock(conn: &mut PgConnection, user: &AuthUser) -> ApiResult<UserRow> {
    ensure(conn, user).await?;
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE uid = $1 FOR UPDATE");
    Ok(sqlx::query_as(&sql).bind(&user.uid).fetch_one(conn).await?)
}

/// `GET`/`PUT /api/users/profile`: the original backend's fields, then the
/// app's camelCase ones with the same values.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Profile {
    pub uid: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub display_name: Option<String>,
    /// `en` (the default) or `fr`.
    #[schema(example = "en")]
    pub language: String,
    pub notification_enabled: bool,
    /// `standard` | `premium` | `admin`.
    #[schema(example = "standard")]
    pub role: String,
    #[serde(rename = "firstName")]
    pub first_name: Option<String>,
    #[serde(rename = "lastName")]
    pub last_name: Option<String>,
    /// `phone`.
    #[serde(rename = "phoneNumber")]
    pub phone_number: Option<String>,
    #[serde(rename = "profilePhoto")]
    pub profile_photo: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(rename = "dateOfBirth")]
    #[schema(value_type = Option<String>, example = "1990-05-17")]
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<String>,
    /// `display_name`.
    #[serde(rename = "displayName")]
    pub display_name_app: Option<String>,
    /// `language`.
    #[serde(rename = "preferredLanguage")]
    pub preferred_language: String,
    /// `notification_enabled`.
    #[serde(rename = "notificationsEnabled")]
    pub notifications_enabled: bool,
}

impl From<UserRow> for Profile {
    fn from(r: UserRow) -> Self {
        Profile {
            phone_number: r.phone.clone(),
            display_name_app: r.display_name.clone(),
            preferred_language: r.language.clone(),
            notifications_enabled: r.notification_enabled,
            uid: r.uid,
            email: r.email,
            phone: r.phone,
            display_name: r.display_name,
            language: r.language,
            notification_enabled: r.notification_enabled,
            role: r.role,
            first_name: r.first_name,
            last_name: r.last_name,
            profile_photo: r.profile_photo,
            date_of_birth: r.date_of_birth,
            gender: r.gender,
        }
    }
}
