//! A user's own record as the user functions answer it: the profile (the
//! original backend's fields beside the app's, see `functions/docs/openapi.json`), the languages the
//! app speaks, and reading the caller's row, which exists from their first
//! authenticated request (the platform writes it; [`load`] writes it too
//! should that write have failed).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use shared::auth::AuthUser;
use shared::error::ApiResult;

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

/// A person's name as other people see it (fellow travellers, drivers,
/// holders of a ticket link, readers of reviews): the first name and the
/// initial of the last, "Amina K.", from the first and last names they gave,
/// else from their display name. Never an e-mail nor an e-mail's local part:
/// a display name that looks like one (or equals the local part of `email`)
/// is not used. `None` when no usable name is left.
pub fn public_name<'a>(
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    display_name: Option<&'a str>,
    email: Option<&str>,
) -> Option<String> {
    let local = email.and_then(|e| e.split('@').next()).map(str::trim);
    let usable = |s: Option<&'a str>| -> Option<&'a str> {
        let s = s?.trim();
        let email_like = s.contains('@') || local.is_some_and(|l| l.eq_ignore_ascii_case(s));
        (!s.is_empty() && !email_like).then_some(s)
    };
    let words: Vec<&str> = match usable(first_name) {
        Some(first) => first
            .split_whitespace()
            .chain(
                usable(last_name)
                    .into_iter()
                    .flat_map(str::split_whitespace),
            )
            .collect(),
        None => usable(display_name)?.split_whitespace().collect(),
    };
    let first = *words.first()?;
    match words.last().and_then(|w| w.chars().next()) {
        Some(initial) if words.len() > 1 => Some(format!("{first} {}.", initial.to_uppercase())),
        _ => Some(first.to_owned()),
    }
}

/// SQL for the [`NameParts`] of the `users` row aliased `$u`, with
/// `$fallback` to show when they gave no usable name:
/// `ARRAY[first_name, last_name, display_name, email, fallback]`.
#[macro_export]
macro_rules! name_parts_sql {
    ($u:literal, $fallback:literal) => {
        concat!(
            "ARRAY[",
            $u,
            ".first_name, ",
            $u,
            ".last_name, ",
            $u,
            ".display_name, ",
            $u,
            ".email, '",
            $fallback,
            "'::text]"
        )
    };
}

/// What [`public_name`] reads, as [`name_parts_sql!`] selects it; an empty
/// array is nobody (e.g. no driver). Decoded straight into the name shown:
/// `#[sqlx(try_from = "NameParts")]` on a `String` or `Option<String>`.
#[derive(Debug, Clone, Default)]
pub struct NameParts(pub Vec<Option<String>>);

impl sqlx::Type<sqlx::Postgres> for NameParts {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Vec<Option<String>> as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for NameParts {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Self(<Vec<Option<String>> as sqlx::Decode<
            sqlx::Postgres,
        >>::decode(value)?))
    }
}

impl NameParts {
    /// The name shown, else the fallback; `None` for nobody.
    pub fn shown(&self) -> Option<String> {
        let part = |i: usize| self.0.get(i).and_then(Option::as_deref);
        if self.0.is_empty() {
            return None;
        }
        public_name(part(0), part(1), part(2), part(3)).or_else(|| part(4).map(str::to_owned))
    }
}

impl From<NameParts> for Option<String> {
    fn from(parts: NameParts) -> Self {
        parts.shown()
    }
}

impl From<NameParts> for String {
    fn from(parts: NameParts) -> Self {
        parts.shown().unwrap_or_default()
    }
}

/// Holds `uid`'s row against deletion until the transaction ends; false
/// when the account is gone. Every write that takes or gives back seats
/// locks in one order: the user, then the departures, then the bookings, as
/// the account deletion does; so they never deadlock, and a deletion never
/// misses (nor cascades away unreturned) a booking being made beside it.
pub async fn hold(conn: &mut PgConnection, uid: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM users WHERE uid = $1 FOR KEY SHARE")
        .bind(uid)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

pub use shared::users::account_deleted;

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

#[cfg(test)]
mod public_name_tests {
    use super::public_name;

    #[test]
    fn first_name_and_initial_never_an_email() {
        let name = |f, l, d, e| public_name(f, l, d, e);
        let amina = Some("amina.kemajou@example.test");
        assert_eq!(
            name(Some("Amina"), Some("Kemajou"), None, amina).as_deref(),
            Some("Amina K.")
        );
        assert_eq!(
            name(None, None, Some("Amina  kemajou "), amina).as_deref(),
            Some("Amina K.")
        );
        assert_eq!(
            name(Some(" Jean Paul"), Some("Éto'o"), None, None).as_deref(),
            Some("Jean É.")
        );
        assert_eq!(
            name(Some("Amina"), None, Some("Amina Kemajou"), None).as_deref(),
            Some("Amina")
        );
        assert_eq!(name(None, None, Some("Ada"), None).as_deref(), Some("Ada"));
        assert_eq!(
            name(None, None, Some("amina.kemajou@example.test"), amina),
            None
        );
        assert_eq!(
            name(None, None, Some("amina.kemajou"), amina),
            None,
            "the local part"
        );
        assert_eq!(name(Some(" "), Some("Kemajou"), Some(""), amina), None);
        assert_eq!(name(None, None, None, amina), None);
    }
}
