//! `POST /api/notifications/subscribe`: registers a device's FCM registration
//! token for push. One row per token: the same token again replaces its
//! channels, and moves to the caller when another account had it (the device
//! changed hands or signed in anew).

use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(subscribe)))
}

/// What this function says, in English and French (`locales/`).
pub static MESSAGES: shared::i18n::Catalog = shared::catalog!("notifications-subscribe");

/// A device to push to.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushSubscription {
    /// The FCM registration token, 1 to 4096 characters.
    #[schema(min_length = 1, max_length = 4096)]
    #[schema(example = "fcm-registration-token")]
    pub token: String,
    /// Topics the device wants (at most 20, each 1 to 64 characters).
    #[schema(max_items = 20)]
    #[serde(default)]
    #[schema(example = json!(["trip_update", "booking_confirmation"]))]
    pub channels: Vec<String>,
}

impl Validate for PushSubscription {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .not_empty("token", &self.token)
            .max_len("token", Some(&self.token), 4096)
            .check(
                self.channels.len() <= 20,
                "channels",
                MESSAGES.text("push-at-most-channels").arg("max", 20),
            )
            .check(
                self.channels
                    .iter()
                    .all(|c| (1..=64).contains(&c.chars().count())),
                "channels",
                MESSAGES
                    .text("push-channel-length")
                    .arg("min", 1)
                    .arg("max", 64),
            )
            .finish()
    }
}

/// The token's one row: inserted, or taken over with the new channels.
const UPSERT: &str = "
    INSERT INTO notification_subscriptions (user_id, token, channels) VALUES ($1, $2, $3)
    ON CONFLICT ON CONSTRAINT notification_subscriptions_token_key
    DO UPDATE SET user_id = EXCLUDED.user_id, channels = EXCLUDED.channels, updated_at = now()";

/// Subscribes the caller's device to push notifications.
#[utoipa::path(post, path = "/api/notifications/subscribe", tag = "Notifications",
    security(("FirebaseAuth" = [])), request_body = PushSubscription,
    responses((status = 200, body = Acknowledged), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn subscribe(
    State(Db(db)): State<Db>,
    user: AuthUser,
    lang: Lang,
    Json(body): Json<PushSubscription>,
) -> ApiResult<Json<Acknowledged>> {
    let mut channels: Vec<String> = Vec::with_capacity(body.channels.len());
    for c in body.channels {
        if !channels.contains(&c) {
            channels.push(c);
        }
    }
    sqlx::query(UPSERT)
        .bind(&user.uid)
        .bind(&body.token)
        .bind(&channels)
        .execute(&db)
        .await?;
    Ok(Json(Acknowledged::said(
        MESSAGES.text("ack-subscribed"),
        lang,
    )))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::testing::{TestApp, send};

    async fn subscribe(app: &TestApp, uid: &str, body: &Value) -> (u16, Value) {
        send(
            app.post("/api/notifications/subscribe", body)
                .bearer_auth(app.token(uid)),
        )
        .await
    }

    /// Every subscription as `(user_id, token, channels)`.
    async fn rows(app: &TestApp) -> Vec<(String, String, Vec<String>)> {
        sqlx::query_as(
            "SELECT user_id, token, channels FROM notification_subscriptions ORDER BY token",
        )
        .fetch_all(&app.state.db)
        .await
        .unwrap()
    }

    fn row(uid: &str, token: &str, channels: &[&str]) -> (String, String, Vec<String>) {
        let channels = channels.iter().map(ToString::to_string).collect();
        (uid.into(), token.into(), channels)
    }

    #[tokio::test]
    async fn subscribes_a_device() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = subscribe(
            &app,
            "ada",
            &json!({"token": "tok-1", "channels": ["trip_update", "promotion"]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({"message": "Subscribed to notifications", "success": true})
        );
        assert_eq!(
            rows(&app).await,
            [row("ada", "tok-1", &["trip_update", "promotion"])]
        );
    }

    #[tokio::test]
    async fn the_same_token_again_keeps_one_row_with_the_new_channels() {
        let app = TestApp::spawn(vec![super::function()]).await;
        subscribe(&app, "ada", &json!({"token": "tok-1", "channels": ["a"]})).await;
        let (status, _) = subscribe(
            &app,
            "ada",
            &json!({"token": "tok-1", "channels": ["b", "c", "b"]}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(rows(&app).await, [row("ada", "tok-1", &["b", "c"])]);

        // The device signs in to another account: the token follows it.
        let (status, _) = subscribe(&app, "bob", &json!({"token": "tok-1", "channels": []})).await;
        assert_eq!(status, 200);
        assert_eq!(rows(&app).await, [row("bob", "tok-1", &[])]);
    }

    #[tokio::test]
    async fn bad_input_is_422_and_writes_nothing() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let many: Vec<String> = (0..21).map(|i| format!("c{i}")).collect();
        for body in [
            json!({"token": "", "channels": []}),
            json!({"token": "x".repeat(4097), "channels": []}),
            json!({"token": "x".repeat(5000), "channels": []}),
            json!({"token": "a\u{0}b", "channels": []}),
            json!({"token": "t", "channels": ["ok", "b\u{0}"]}),
            json!({"token": "t", "channels": many}),
            json!({"token": "t", "channels": [""]}),
            json!({"token": "t", "channels": ["x".repeat(65)]}),
            json!({"token": 42, "channels": []}),
            json!({"channels": ["a"]}),
        ] {
            let (status, answer) = subscribe(&app, "ada", &body).await;
            assert_eq!(status, 422, "{body}: {answer}");
            assert!(
                answer["detail"].is_array() && answer["message"].is_string(),
                "{answer}"
            );
        }
        assert_eq!(rows(&app).await, []);
        let (status, answer) = send(
            app.post(
                "/api/notifications/subscribe",
                &json!({"token": "t", "channels": many}),
            )
            .bearer_auth(app.token("ada"))
            .header("Accept-Language", "fr"),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(answer["message"], "channels : au plus 20 canaux");
        assert_eq!(answer["detail"][0]["msg"], "at most 20 channels");
        let (status, answer) = send(
            app.post(
                "/api/notifications/subscribe",
                &json!({"token": "x".repeat(4096)}),
            )
            .bearer_auth(app.token("ada"))
            .header("Accept-Language", "fr"),
        )
        .await;
        assert_eq!(status, 200, "4096 characters and no channels are fine");
        assert_eq!(
            answer,
            json!({"message": "Abonné aux notifications", "success": true})
        );
    }

    #[tokio::test]
    async fn anonymous_callers_are_refused() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, body) = send(app.post(
            "/api/notifications/subscribe",
            &json!({"token": "t", "channels": []}),
        ))
        .await;
        assert_eq!(status, 401);
        assert_eq!(body["message"], "Not authenticated");
        assert_eq!(rows(&app).await, []);
    }
}
