//! `PUT /api/users/profile`: the caller changes some fields of their profile,
//! in the original backend's spelling or the app's camelCase one. Absent
//! fields stay; `null` or a blank string clears an optional one. Both
//! spellings of one field with different values are a 422, as is any invalid
//! field: then nothing changes.

use chrono::{NaiveDate, Utc};
use domain::MESSAGES;
use domain::users::{self, Language, Profile, USER_COLUMNS, UserRow};
use domain::vehicles::{is_web_url, nullable};
use shared::i18n::wat;
use shared::prelude::*;
use sqlx::PgConnection;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(update_profile)))
}

const MAX_DISPLAY_NAME: usize = 120;
const MAX_NAME: usize = 80;
const MAX_GENDER: usize = 32;
const MAX_PHONE: usize = 20;
const MAX_PHOTO_URL: usize = 2048;

/// The fields to change; every one optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
struct ProfileUpdate {
    /// At most 120 characters.
    #[schema(max_length = 120)]
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    display_name: Option<Option<String>>,
    /// `en` or `fr`.
    language: Option<Language>,
    notification_enabled: Option<bool>,
    /// At most 20 characters: an optional `+`, then digits, spaces, `-`, `.`, `(`, `)`.
    #[schema(max_length = 20)]
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
    /// At most 80 characters.
    #[schema(max_length = 80)]
    #[serde(default, rename = "firstName", deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    first_name: Option<Option<String>>,
    /// At most 80 characters.
    #[schema(max_length = 80)]
    #[serde(default, rename = "lastName", deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    last_name: Option<Option<String>>,
    /// As `phone`.
    #[serde(default, rename = "phoneNumber", deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    phone_number: Option<Option<String>>,
    /// An `http` or `https` URL.
    #[serde(default, rename = "profilePhoto", deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    profile_photo: Option<Option<String>>,
    /// A past day, `YYYY-MM-DD` (or an ISO instant: its day in Douala).
    #[serde(default, rename = "dateOfBirth", deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "1990-05-17")]
    date_of_birth: Option<Option<String>>,
    /// At most 32 characters.
    #[schema(max_length = 32)]
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    gender: Option<Option<String>>,
    /// As `display_name`.
    #[serde(default, rename = "displayName", deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    display_name_app: Option<Option<String>>,
    /// As `language`.
    #[serde(rename = "preferredLanguage")]
    preferred_language: Option<Language>,
    /// As `notification_enabled`.
    #[serde(rename = "notificationsEnabled")]
    notifications_enabled: Option<bool>,
}

/// Text given for a field, `None` when absent or null.
fn given(field: &Option<Option<String>>) -> Option<&str> {
    field.as_ref().and_then(Option::as_deref)
}

/// `a` and `b`, the two spellings of one field, do not disagree.
fn agree<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
    a.is_none() || b.is_none() || a == b
}

fn is_phone(s: &str) -> bool {
    let s = s.trim();
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let body = s.strip_prefix('+').unwrap_or(s);
    (6..=15).contains(&digits)
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
}

/// A day from `YYYY-MM-DD`, or the Douala day of an ISO instant (the app's
/// date pickers send `toISOString()` of local midnight).
fn parse_day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    }
    // A date-time without an offset is UTC, as everywhere (shared::time).
    let instant = shared::time::parse_datetime(s).ok()?;
    Some(wat(instant).date_naive())
}

fn is_birth_date(s: &str) -> bool {
    let today = wat(Utc::now()).date_naive();
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date");
    parse_day(s).is_some_and(|d| earliest <= d && d < today)
}

fn trimmed(value: Option<&str>) -> Option<&str> {
    value.map(str::trim)
}

impl Validate for ProfileUpdate {
    fn validate(&self) -> Vec<FieldError> {
        let phone = given(&self.phone_number).or(given(&self.phone));
        let photo = given(&self.profile_photo).map(str::trim);
        let dob = given(&self.date_of_birth);
        Validator::body()
            .check(
                agree(&self.display_name, &self.display_name_app),
                "displayName",
                MESSAGES.text("differs-from").arg("other", "display_name"),
            )
            .check(
                agree(&self.language, &self.preferred_language),
                "preferredLanguage",
                MESSAGES.text("differs-from").arg("other", "language"),
            )
            .check(
                agree(&self.notification_enabled, &self.notifications_enabled),
                "notificationsEnabled",
                MESSAGES
                    .text("differs-from")
                    .arg("other", "notification_enabled"),
            )
            .check(
                agree(&self.phone, &self.phone_number),
                "phoneNumber",
                MESSAGES.text("differs-from").arg("other", "phone"),
            )
            .max_len(
                "display_name",
                trimmed(given(&self.display_name)),
                MAX_DISPLAY_NAME,
            )
            .max_len(
                "displayName",
                trimmed(given(&self.display_name_app)),
                MAX_DISPLAY_NAME,
            )
            .max_len("firstName", trimmed(given(&self.first_name)), MAX_NAME)
            .max_len("lastName", trimmed(given(&self.last_name)), MAX_NAME)
            .max_len("gender", trimmed(given(&self.gender)), MAX_GENDER)
            .max_len("phoneNumber", trimmed(phone), MAX_PHONE)
            .check(
                phone.is_none_or(|p| p.trim().is_empty() || is_phone(p)),
                "phoneNumber",
                MESSAGES.text("phone-number"),
            )
            .max_len("profilePhoto", photo, MAX_PHOTO_URL)
            .check(
                photo.is_none_or(|u| u.is_empty() || is_web_url(u)),
                "profilePhoto",
                MESSAGES.text("web-url"),
            )
            .check(
                dob.is_none_or(|d| d.trim().is_empty() || is_birth_date(d)),
                "dateOfBirth",
                MESSAGES.text("past-date"),
            )
            .finish()
    }
}

/// The new value of an optional text field: unchanged when absent, cleared
/// by `null` or blank, else trimmed.
fn text(field: Option<Option<String>>, current: Option<String>) -> Option<String> {
    match field {
        None => current,
        Some(v) => v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
    }
}

impl ProfileUpdate {
    /// `row` with the given fields changed.
    fn apply(self, mut row: UserRow) -> UserRow {
        row.display_name = text(
            self.display_name_app.or(self.display_name),
            row.display_name,
        );
        if let Some(language) = self.preferred_language.or(self.language) {
            row.language = language.as_str().to_owned();
        }
        row.notification_enabled = self
            .notifications_enabled
            .or(self.notification_enabled)
            .unwrap_or(row.notification_enabled);
        row.phone = text(self.phone_number.or(self.phone), row.phone);
        row.first_name = text(self.first_name, row.first_name);
        row.last_name = text(self.last_name, row.last_name);
        row.profile_photo = text(self.profile_photo, row.profile_photo);
        row.gender = text(self.gender, row.gender);
        if let Some(dob) = self.date_of_birth {
            row.date_of_birth = dob.as_deref().and_then(parse_day);
        }
        row
    }
}

/// Changes the caller's profile; answers it as it now is.
#[utoipa::path(put, path = "/api/users/profile", tag = "User",
    security(("FirebaseAuth" = [])), request_body = ProfileUpdate,
    responses((status = 200, body = Profile), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_profile(
    State(Db(db)): State<Db>,
    user: AuthUser,
    Json(update): Json<ProfileUpdate>,
) -> ApiResult<Json<Profile>> {
    let mut tx = db.begin().await?;
    let row = users::lock(&mut tx, &user).await?;
    let row = save(&mut tx, update.apply(row)).await?;
    tx.commit().await?;
    Ok(Json(row.into()))
}

/// Writes every profile field of `row` and bumps `updated_at`.
async fn save(conn: &mut PgConnection, row: UserRow) -> ApiResult<UserRow> {
    let sql = format!(
        "UPDATE users SET display_name = $2, language = $3, notification_enabled = $4, \
         phone = $5, first_name = $6, last_name = $7, profile_photo = $8, date_of_birth = $9, \
         gender = $10, updated_at = now() WHERE uid = $1 RETURNING {USER_COLUMNS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(&row.uid)
        .bind(row.display_name)
        .bind(row.language)
        .bind(row.notification_enabled)
        .bind(row.phone)
        .bind(row.first_name)
        .bind(row.last_name)
        .bind(row.profile_photo)
        .bind(row.date_of_birth)
        .bind(row.gender)
        .fetch_one(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    async fn put(app: &TestApp, body: &Value) -> (u16, Value) {
        let request = app
            .client
            .put(app.url("/api/users/profile"))
            .bearer_auth(app.token("ada"))
            .json(body);
        send(request).await
    }

    async fn put_raw(app: &TestApp, body: &'static str) -> (u16, Value) {
        let request = app
            .client
            .put(app.url("/api/users/profile"))
            .bearer_auth(app.token("ada"))
            .header("content-type", "application/json")
            .body(body);
        send(request).await
    }

    /// Every profile column of ada's row, as text.
    async fn stored(app: &TestApp) -> Value {
        sqlx::query_scalar(
            "SELECT to_jsonb(u) - 'created_at' - 'updated_at' - 'last_login' FROM users u
             WHERE uid = 'ada'",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn the_originals_fields_change_and_the_profile_is_answered_in_both_shapes() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let body =
            json!({"display_name": "Ada L.", "language": "fr", "notification_enabled": false});
        let (status, profile) = put(&app, &body).await;
        assert_eq!(status, 200, "{profile}");
        assert_eq!(
            profile,
            json!({
                "uid": "ada", "email": "ada@example.test", "phone": null,
                "display_name": "Ada L.", "language": "fr", "notification_enabled": false,
                "role": "standard", "firstName": null, "lastName": null, "phoneNumber": null,
                "profilePhoto": null, "dateOfBirth": null, "gender": null,
                "displayName": "Ada L.", "preferredLanguage": "fr", "notificationsEnabled": false,
            })
        );
        let row = stored(&app).await;
        assert_eq!(row["display_name"], "Ada L.");
        assert_eq!(row["language"], "fr");
    }

    #[tokio::test]
    async fn the_apps_fields_change_and_absent_ones_stay() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let first = json!({
            "firstName": " Ada ", "lastName": "Lovelace", "phoneNumber": "+237 670 00 00 00",
            "profilePhoto": "https://e.com/ada.jpg", "dateOfBirth": "1990-05-17",
            "gender": "female", "displayName": "Ada", "preferredLanguage": "fr",
            "notificationsEnabled": false,
        });
        let (status, profile) = put(&app, &first).await;
        assert_eq!(status, 200, "{profile}");
        assert_eq!(profile["firstName"], "Ada", "trimmed");
        assert_eq!(profile["phone"], "+237 670 00 00 00");
        assert_eq!(profile["phoneNumber"], "+237 670 00 00 00");
        assert_eq!(profile["dateOfBirth"], "1990-05-17");
        assert_eq!(profile["display_name"], "Ada");
        assert_eq!(profile["language"], "fr");
        assert_eq!(profile["notification_enabled"], false);

        // Same value under both spellings is fine; absent fields stay; null clears.
        let second = json!({"language": "en", "preferredLanguage": "en", "gender": null,
                            "dateOfBirth": "1991-02-03T23:00:00.000Z"});
        let (status, profile) = put(&app, &second).await;
        assert_eq!(status, 200, "{profile}");
        assert_eq!(profile["preferredLanguage"], "en");
        assert_eq!(profile["gender"], json!(null));
        assert_eq!(
            profile["dateOfBirth"], "1991-02-04",
            "Douala's day of the instant"
        );
        assert_eq!(profile["lastName"], "Lovelace");
        assert_eq!(profile["profilePhoto"], "https://e.com/ada.jpg");
        assert_eq!(profile["notificationsEnabled"], false);
        assert_eq!(stored(&app).await["gender"], json!(null));
    }

    #[tokio::test]
    async fn bad_input_is_422_and_changes_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, _) = put(&app, &json!({"display_name": "Ada", "gender": "f"})).await;
        assert_eq!(status, 200);
        let before = stored(&app).await;
        let long = "x".repeat(121);
        let cases = [
            json!({"display_name": long, "gender": "m"}),
            json!({"displayName": long}),
            json!({"language": "klingon"}),
            json!({"preferredLanguage": "de"}),
            json!({"profilePhoto": "javascript:alert(1)"}),
            json!({"profilePhoto": "ftp://e.com/a.jpg"}),
            json!({"firstName": "y".repeat(81)}),
            json!({"gender": "z".repeat(33)}),
            json!({"phoneNumber": "call me maybe"}),
            json!({"phoneNumber": "+2376700000000000000000"}),
            json!({"dateOfBirth": "2999-01-01"}),
            json!({"dateOfBirth": "17/05/1990"}),
            json!({"display_name": "A", "displayName": "B"}),
            json!({"language": "en", "preferredLanguage": "fr"}),
            json!({"notification_enabled": true, "notificationsEnabled": false}),
            json!({"notificationsEnabled": "yes"}),
        ];
        for case in cases {
            let (status, body) = put(&app, &case).await;
            assert_eq!(status, 422, "{case}: {body}");
            assert!(body["message"].is_string(), "{body}");
            assert!(body["detail"].is_array(), "{body}");
        }
        let (status, body) = put_raw(&app, r#"{"display_name": "Ad\u0000a"}"#).await;
        assert_eq!(status, 422, "{body}");
        let (status, body) = put(&app, &json!({"display_name": "x".repeat(121)})).await;
        assert_eq!(body["detail"][0]["loc"], json!(["body", "display_name"]));
        assert_eq!(status, 422);
        assert_eq!(stored(&app).await, before, "nothing changed");
    }

    #[tokio::test]
    async fn once_french_is_chosen_mistakes_are_explained_in_french() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, _) = put(&app, &json!({"language": "fr"})).await;
        assert_eq!(status, 200);
        let bad = json!({"phoneNumber": "call me", "dateOfBirth": "2999-01-01"});
        let (status, body) = put(&app, &bad).await;
        assert_eq!(status, 422, "{body}");
        let parts: Vec<&str> = body["message"]
            .as_str()
            .unwrap()
            .split(';')
            .map(str::trim)
            .collect();
        assert_eq!(
            parts,
            [
                "phoneNumber : doit être un numéro de téléphone, par exemple +237 6 70 00 00 00",
                "dateOfBirth : doit être une date passée, au format AAAA-MM-JJ"
            ]
        );
        assert_eq!(
            body["detail"][0]["msg"], "must be a phone number such as +237 6 70 00 00 00",
            "detail stays English"
        );
        assert_eq!(body["detail"][1]["msg"], "must be a past date, YYYY-MM-DD");
    }

    #[tokio::test]
    async fn without_a_token_it_is_401() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let request = app
            .client
            .put(app.url("/api/users/profile"))
            .json(&json!({"language": "fr"}));
        assert_eq!(send(request).await.0, 401);
    }
}
