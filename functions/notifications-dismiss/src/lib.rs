//! `DELETE /api/notifications/{notification_id}`: the caller marks one of their
//! notifications read. Dismissing twice is harmless and keeps the first
//! `read_at`; another user's notification is "not found", and stays unread.

use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(dismiss_notification)))
}

/// Marks the caller's notification read.
#[utoipa::path(delete, path = "/api/notifications/{notification_id}", tag = "Notifications",
    params(("notification_id" = String, Path, description = "The notification's UUID")),
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = Acknowledged), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn dismiss_notification(
    State(Db(db)): State<Db>,
    user: AuthUser,
    lang: Lang,
    Path(notification_id): Path<String>,
) -> ApiResult<Json<Acknowledged>> {
    let id = Uuid::parse_str(&notification_id)
        .map_err(|_| not_found(shared::i18n::MESSAGES.text("thing-notification")))?;
    let marked = sqlx::query(
        "UPDATE notifications SET read = true, read_at = COALESCE(read_at, now())
         WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(&user.uid)
    .execute(&db)
    .await?;
    if marked.rows_affected() == 0 {
        return Err(not_found(shared::i18n::MESSAGES.text("thing-notification")));
    }
    let said = shared::i18n::MESSAGES.text("ack-notification-dismissed");
    Ok(Json(Acknowledged::said(said, lang)))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::notifications::{self, Kind, NewNotification};
    use shared::testing::{TestApp, send};
    use uuid::Uuid;

    async fn notify(app: &TestApp, uid: &str) -> Uuid {
        sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(uid)
            .execute(&app.state.db)
            .await
            .unwrap();
        let mut conn = app.state.db.acquire().await.unwrap();
        notifications::insert(
            &mut conn,
            &NewNotification {
                user_id: uid,
                kind: Kind::TripUpdate,
                text: shared::i18n::MESSAGES
                    .text("new-sign-in")
                    .arg("device", "Pixel 8 (android)"),
                data: json!({}),
            },
        )
        .await
        .unwrap()
    }

    /// The row as stored.
    async fn stored(app: &TestApp, id: Uuid) -> Value {
        sqlx::query_scalar("SELECT to_jsonb(n) FROM notifications n WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    }

    async fn dismiss(app: &TestApp, uid: &str, id: &str) -> (u16, Value) {
        send(
            app.client
                .delete(app.url(&format!("/api/notifications/{id}")))
                .bearer_auth(app.token(uid)),
        )
        .await
    }

    #[tokio::test]
    async fn marks_the_notification_read() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = notify(&app, "ada").await;
        let (status, body) = dismiss(&app, "ada", &id.to_string()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({"message": "Notification dismissed", "success": true})
        );
        let row = stored(&app, id).await;
        assert_eq!(row["read"], true);
        let read_at = row["read_at"].clone();
        assert!(read_at.is_string(), "{row}");

        let (again, _) = dismiss(&app, "ada", &id.to_string()).await;
        assert_eq!(again, 200, "dismissing twice is harmless");
        assert_eq!(stored(&app, id).await["read_at"], read_at);
    }

    #[tokio::test]
    async fn another_users_notification_is_not_found_and_stays_unread() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = notify(&app, "ada").await;
        let before = stored(&app, id).await;
        let (status, body) = dismiss(&app, "bob", &id.to_string()).await;
        assert_eq!(status, 404);
        assert_eq!(body["message"], "Notification not found");
        assert_eq!(body["detail"], "Notification not found");
        assert_eq!(stored(&app, id).await, before);
        assert_eq!(before["read"], false);
    }

    #[tokio::test]
    async fn unknown_or_malformed_ids_are_not_found() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for id in [Uuid::new_v4().to_string(), "not-a-uuid".into(), "1".into()] {
            let (status, body) = dismiss(&app, "ada", &id).await;
            assert_eq!(status, 404, "{id}");
            assert_eq!(body["message"], "Notification not found");
        }
        let (status, _) = send(
            app.client
                .delete(app.url(&format!("/api/notifications/{}", Uuid::new_v4()))),
        )
        .await;
        assert_eq!(status, 401);
    }
}
