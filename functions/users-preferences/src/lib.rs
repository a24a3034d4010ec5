//! `GET` and `POST /api/users/preferences`: the caller's settings, in the
//! app's shape (see `functions/docs/openapi.json`) beside the original backend's three switches.
//!
//! Where each field lives:
//!
//! | field | `users` column |
//! |---|---|
//! | `language` | `language` (`en` default, or `fr`) |
//! | `currency` | `currency` (`XAF` default, `USD`, `EUR`) |
//! | `notificationSettings.pushEnabled` | `notification_enabled` (the profile's switch, default on) |
//! | `notificationSettings.departureAlerts` = `travel_notifications` | `travel_notifications` (default on) |
//! | `notificationSettings.promotions` = `marketing_opt_in` | `marketing_opt_in` (default off) |
//! | `security_alerts` | `security_alerts` (default on) |
//! | `notificationSettings.emailEnabled` (on), `.smsEnabled` (off), `privacySettings.*` (all off), `accessibility.*` (`fontSize` `medium`, switches off) | `settings` JSONB, under the same names |
//!
//! `POST` changes only the fields it carries (nested objects merge); both
//! spellings of one switch with different values, an unknown language,
//! currency or font size, or any key outside this shape, are a 422 and
//! change nothing: what is stored is bounded by the shape.

use domain::MESSAGES;
use domain::users::{self, Language};
use serde_json::{Map, Value};
use shared::prelude::*;

/// This function: its routes and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(get_preferences, update_preferences)))
}

/// The currencies prices can be shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
enum Currency {
    #[serde(rename = "XAF")]
    Xaf,
    #[serde(rename = "USD")]
    Usd,
    #[serde(rename = "EUR")]
    Eur,
}

impl Currency {
    fn as_str(self) -> &'static str {
        match self {
            Currency::Xaf => "XAF",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
        }
    }
}

/// Text sizes of the app's accessibility settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum FontSize {
    Small,
    Medium,
    Large,
}

/// `notificationSettings`, each switch optional in a request.
#[derive(Debug, Default, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
struct NotificationSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    push_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sms_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    departure_alerts: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    promotions: Option<bool>,
}

/// `privacySettings`, each switch optional in a request.
#[derive(Debug, Default, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
struct PrivacySettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    share_location: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    share_activity: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_collection: Option<bool>,
}

/// `accessibility`, each field optional in a request.
#[derive(Debug, Default, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
struct Accessibility {
    /// `small` | `medium` | `large`.
    #[serde(skip_serializing_if = "Option::is_none")]
    font_size: Option<FontSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    high_contrast: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    voice_over_enabled: Option<bool>,
}

/// A change of preferences: the original's fields and the app's, all optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PreferencesUpdate {
    /// `en` or `fr`.
    language: Option<Language>,
    /// `XAF`, `USD` or `EUR`.
    currency: Option<Currency>,
    /// As `notificationSettings.promotions`.
    marketing_opt_in: Option<bool>,
    /// As `notificationSettings.departureAlerts`.
    travel_notifications: Option<bool>,
    security_alerts: Option<bool>,
    #[serde(rename = "notificationSettings")]
    notification_settings: Option<NotificationSettings>,
    #[serde(rename = "privacySettings")]
    privacy_settings: Option<PrivacySettings>,
    accessibility: Option<Accessibility>,
}

impl Validate for PreferencesUpdate {
    fn validate(&self) -> Vec<FieldError> {
        let n = self.notification_settings.clone().unwrap_or_default();
        let agree = |a: Option<bool>, b: Option<bool>| a.is_none() || b.is_none() || a == b;
        Validator::body()
            .check(
                agree(self.marketing_opt_in, n.promotions),
                "notificationSettings.promotions",
                MESSAGES
                    .text("differs-from")
                    .arg("other", "marketing_opt_in"),
            )
            .check(
                agree(self.travel_notifications, n.departure_alerts),
                "notificationSettings.departureAlerts",
                MESSAGES
                    .text("differs-from")
                    .arg("other", "travel_notifications"),
            )
            .finish()
    }
}

/// What `settings` JSONB holds: the app's switches no column backs.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
struct Settings {
    notification_settings: NotificationSettings,
    privacy_settings: PrivacySettings,
    accessibility: Accessibility,
}

impl PreferencesUpdate {
    /// The `settings` fields this update carries, as JSON objects to merge
    /// into the stored ones (column-backed switches left out).
    fn settings_patch(&self) -> [Value; 3] {
        let given = self.notification_settings.clone().unwrap_or_default();
        let unbacked = NotificationSettings {
            email_enabled: given.email_enabled,
            sms_enabled: given.sms_enabled,
            ..NotificationSettings::default()
        };
        [
            object(&unbacked),
            object(&self.privacy_settings.clone().unwrap_or_default()),
            object(&self.accessibility.clone().unwrap_or_default()),
        ]
    }
}

/// `value` as JSON; these structs always serialize to an object.
fn object<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// The caller's preferences, every field filled in.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Preferences {
    #[schema(example = "en")]
    language: String,
    #[schema(example = "XAF")]
    currency: String,
    notification_settings: NotificationSettingsView,
    privacy_settings: PrivacySettingsView,
    accessibility: AccessibilityView,
    /// The original's name of `notificationSettings.promotions`.
    #[serde(rename = "marketing_opt_in")]
    marketing_opt_in: bool,
    /// The original's name of `notificationSettings.departureAlerts`.
    #[serde(rename = "travel_notifications")]
    travel_notifications: bool,
    #[serde(rename = "security_alerts")]
    security_alerts: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NotificationSettingsView {
    push_enabled: bool,
    email_enabled: bool,
    sms_enabled: bool,
    departure_alerts: bool,
    promotions: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PrivacySettingsView {
    share_location: bool,
    share_activity: bool,
    data_collection: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AccessibilityView {
    font_size: FontSize,
    high_contrast: bool,
    voice_over_enabled: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    language: String,
    currency: String,
    notification_enabled: bool,
    travel_notifications: bool,
    marketing_opt_in: bool,
    security_alerts: bool,
    settings: sqlx::types::Json<Value>,
}

impl From<Row> for Preferences {
    fn from(r: Row) -> Self {
        // A malformed stored object reads as the defaults rather than failing.
        let s: Settings = serde_json::from_value(r.settings.0).unwrap_or_default();
        Preferences {
            language: r.language,
            currency: r.currency,
            notification_settings: NotificationSettingsView {
                push_enabled: r.notification_enabled,
                email_enabled: s.notification_settings.email_enabled.unwrap_or(true),
                sms_enabled: s.notification_settings.sms_enabled.unwrap_or(false),
                departure_alerts: r.travel_notifications,
                promotions: r.marketing_opt_in,
            },
            privacy_settings: PrivacySettingsView {
                share_location: s.privacy_settings.share_location.unwrap_or(false),
                share_activity: s.privacy_settings.share_activity.unwrap_or(false),
                data_collection: s.privacy_settings.data_collection.unwrap_or(false),
            },
            accessibility: AccessibilityView {
                font_size: s.accessibility.font_size.unwrap_or(FontSize::Medium),
                high_contrast: s.accessibility.high_contrast.unwrap_or(false),
                voice_over_enabled: s.accessibility.voice_over_enabled.unwrap_or(false),
            },
            marketing_opt_in: r.marketing_opt_in,
            travel_notifications: r.travel_notifications,
            security_alerts: r.security_alerts,
        }
    }
}

/// The caller's preferences with defaults filled in.
#[utoipa::path(get, path = "/api/users/preferences", tag = "User",
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = Preferences), (status = 401, body = ErrorBody)))]
async fn get_preferences(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<Preferences>> {
    let mut conn = state.db.acquire().await?;
    users::ensure(&mut conn, &user).await?;
    let row: Row = sqlx::query_as(
        "SELECT language, currency, notification_enabled, travel_notifications,
                marketing_opt_in, security_alerts, settings
         FROM users WHERE uid = $1",
    )
    .bind(&user.uid)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Json(row.into()))
}

/// Changes the fields the request carries, in one statement (nested objects
/// merge into what is stored, so concurrent partial updates both land).
const UPDATE: &str = "
    UPDATE users SET
        language = COALESCE($2, language),
        currency = COALESCE($3, currency),
        notification_enabled = COALESCE($4, notification_enabled),
        travel_notifications = COALESCE($5, travel_notifications),
        marketing_opt_in = COALESCE($6, marketing_opt_in),
        security_alerts = COALESCE($7, security_alerts),
        settings = settings || jsonb_build_object(
            'notificationSettings', COALESCE(settings -> 'notificationSettings', '{}') || $8::jsonb,
            'privacySettings', COALESCE(settings -> 'privacySettings', '{}') || $9::jsonb,
            'accessibility', COALESCE(settings -> 'accessibility', '{}') || $10::jsonb),
        updated_at = now()
    WHERE uid = $1";

/// Changes some of the caller's preferences.
#[utoipa::path(post, path = "/api/users/preferences", tag = "User",
    security(("FirebaseAuth" = [])), request_body = PreferencesUpdate,
    responses((status = 200, body = Acknowledged), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_preferences(
    State(state): State<AppState>,
    user: AuthUser,
    lang: Lang,
    Json(update): Json<PreferencesUpdate>,
) -> ApiResult<Json<Acknowledged>> {
    let n = update.notification_settings.clone().unwrap_or_default();
    let [notifications, privacy, accessibility] = update.settings_patch();
    let mut conn = state.db.acquire().await?;
    users::ensure(&mut conn, &user).await?;
    sqlx::query(UPDATE)
        .bind(&user.uid)
        .bind(update.language.map(Language::as_str))
        .bind(update.currency.map(Currency::as_str))
        .bind(n.push_enabled)
        .bind(n.departure_alerts.or(update.travel_notifications))
        .bind(n.promotions.or(update.marketing_opt_in))
        .bind(update.security_alerts)
        .bind(notifications)
        .bind(privacy)
        .bind(accessibility)
        .execute(&mut *conn)
        .await?;
    let said = domain::MESSAGES.text("ack-preferences-updated");
    Ok(Json(Acknowledged::said(said, lang)))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    async fn get(app: &TestApp) -> Value {
        let request = app
            .get("/api/users/preferences")
            .bearer_auth(app.token("ada"));
        let (status, body) = send(request).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn post(app: &TestApp, body: &Value) -> (u16, Value) {
        send(
            app.post("/api/users/preferences", body)
                .bearer_auth(app.token("ada")),
        )
        .await
    }

    /// Every preference column of ada's row.
    async fn stored(app: &TestApp) -> Value {
        sqlx::query_scalar(
            "SELECT jsonb_build_object('language', language, 'currency', currency,
                 'n', notification_enabled, 't', travel_notifications, 'm', marketing_opt_in,
                 's', security_alerts, 'settings', settings)
             FROM users WHERE uid = 'ada'",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_new_user_reads_the_whole_shape_with_defaults() {
        let app = TestApp::spawn(vec![super::function()]).await;
        assert_eq!(
            get(&app).await,
            json!({
                "language": "en",
                "currency": "XAF",
                "notificationSettings": {"pushEnabled": true, "emailEnabled": true,
                    "smsEnabled": false, "departureAlerts": true, "promotions": false},
                "privacySettings": {"shareLocation": false, "shareActivity": false,
                    "dataCollection": false},
                "accessibility": {"fontSize": "medium", "highContrast": false,
                    "voiceOverEnabled": false},
                "marketing_opt_in": false,
                "travel_notifications": true,
                "security_alerts": true,
            })
        );
    }

    #[tokio::test]
    async fn the_originals_body_updates_and_is_read_back_under_both_names() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let body = json!({"language": "fr", "marketing_opt_in": true,
                          "travel_notifications": false, "security_alerts": false});
        let (status, answer) = post(&app, &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer,
            json!({"message": "Preferences updated", "success": true}),
            "in the language ada had when she asked"
        );
        let prefs = get(&app).await;
        assert_eq!(prefs["language"], "fr");
        let (_, answer) = post(&app, &json!({"security_alerts": false})).await;
        assert_eq!(
            answer,
            json!({"message": "Préférences mises à jour", "success": true}),
            "now in her stored language"
        );
        assert_eq!(prefs["notificationSettings"]["promotions"], true);
        assert_eq!(prefs["marketing_opt_in"], true);
        assert_eq!(prefs["notificationSettings"]["departureAlerts"], false);
        assert_eq!(prefs["travel_notifications"], false);
        assert_eq!(prefs["security_alerts"], false);
        assert_eq!(prefs["currency"], "XAF", "untouched");
    }

    #[tokio::test]
    async fn the_apps_partial_updates_merge() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let first = json!({
            "currency": "EUR",
            "notificationSettings": {"pushEnabled": false, "smsEnabled": true, "promotions": true},
            "privacySettings": {"shareLocation": true},
            "accessibility": {"fontSize": "large"},
        });
        assert_eq!(post(&app, &first).await.0, 200);
        let second = json!({
            "notificationSettings": {"emailEnabled": false},
            "privacySettings": {"dataCollection": true},
            "accessibility": {"highContrast": true},
        });
        assert_eq!(post(&app, &second).await.0, 200);
        assert_eq!(post(&app, &json!({})).await.0, 200, "nothing to change");
        let prefs = get(&app).await;
        assert_eq!(prefs["currency"], "EUR");
        assert_eq!(
            prefs["notificationSettings"],
            json!({"pushEnabled": false, "emailEnabled": false, "smsEnabled": true,
                   "departureAlerts": true, "promotions": true})
        );
        assert_eq!(
            prefs["privacySettings"],
            json!({"shareLocation": true, "shareActivity": false, "dataCollection": true})
        );
        assert_eq!(
            prefs["accessibility"],
            json!({"fontSize": "large", "highContrast": true, "voiceOverEnabled": false})
        );
        let (push, stored_settings): (bool, Value) =
            sqlx::query_as("SELECT notification_enabled, settings FROM users WHERE uid = 'ada'")
                .fetch_one(&app.state.db)
                .await
                .unwrap();
        assert!(!push, "pushEnabled is the profile's notification switch");
        assert_eq!(
            stored_settings["notificationSettings"],
            json!({"emailEnabled": false, "smsEnabled": true}),
            "column-backed switches are not duplicated in settings"
        );
    }

    #[tokio::test]
    async fn bad_input_is_422_and_changes_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        assert_eq!(post(&app, &json!({"currency": "USD"})).await.0, 200);
        let before = stored(&app).await;
        for case in [
            json!({"language": "klingon"}),
            json!({"currency": "GBP", "language": "fr"}),
            json!({"accessibility": {"fontSize": "huge"}}),
            json!({"notificationSettings": {"pushEnabled": "yes"}}),
            json!({"marketing_opt_in": true, "notificationSettings": {"promotions": false}}),
            json!({"travel_notifications": true, "notificationSettings": {"departureAlerts": false}}),
            json!({"privacySettings": [true]}),
            // Unknown keys, at any depth, and oversized bodies of them.
            json!({"language": "fr", "theme": "dark"}),
            json!({"notificationSettings": {"pushEnabled": true, "x": "y".repeat(100_000)}}),
            json!({"accessibility": {"fontSize": "large", "extra": {"a": [1, 2, 3]}}}),
        ] {
            let (status, body) = post(&app, &case).await;
            assert_eq!(status, 422, "{case}: {body}");
            assert!(body["message"].is_string() && body["detail"].is_array());
        }
        let raw = app
            .post_raw("/api/users/preferences", r#"{"language": "f\u0000r"}"#)
            .bearer_auth(app.token("ada"));
        assert_eq!(send(raw).await.0, 422);
        assert_eq!(stored(&app).await, before, "nothing changed");
    }

    #[tokio::test]
    async fn without_a_token_it_is_401() {
        let app = TestApp::spawn(vec![super::function()]).await;
        assert_eq!(send(app.get("/api/users/preferences")).await.0, 401);
        let (status, _) =
            send(app.post("/api/users/preferences", &json!({"language": "fr"}))).await;
        assert_eq!(status, 401);
    }
}
