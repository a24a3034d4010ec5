//! `GET /api/notifications`: the caller's notifications, newest first, a page
//! at a time, each in the original's fields and the app's (see `functions/docs/openapi.json`),
//! written in the caller's language: changing one's language rewrites the history too.

use shared::notifications::{Notification, NotificationRow, SELECT_NOTIFICATIONS};
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(list_notifications)))
        .messages(&domain::MESSAGES)
}

/// Which page: `?page=1&pageSize=20`, at most 100.
pub type Page = PageQuery<20, 100>;

/// One page of the caller's notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub notifications: Vec<Notification>,
    pub page: i64,
    #[serde(rename = "pageSize")]
    pub page_size: i64,
    /// Whether a next page exists.
    #[serde(rename = "hasMore")]
    pub has_more: bool,
}

/// The caller's notifications, newest first (`pageSize` 20 by default, at
/// most 100), in the language `Accept-Language` names, else the user's own.
#[utoipa::path(get, path = "/api/notifications", tag = "Notifications",
    security(("FirebaseAuth" = [])), params(Page, ("Accept-Language" = Option<String>, Header,
        description = "`fr` or `en` (q-values honoured); without it, the user's stored language")),
    responses((status = 200, body = NotificationPage), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_notifications(
    State(Db(db)): State<Db>,
    user: AuthUser,
    lang: Lang,
    Query(page): Query<Page>,
) -> ApiResult<Json<NotificationPage>> {
    let sql = format!(
        "{SELECT_NOTIFICATIONS} WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    let mut rows: Vec<NotificationRow> = sqlx::query_as(&sql)
        .bind(&user.uid)
        .bind(page.size() + 1)
        .bind(page.offset())
        .fetch_all(&db)
        .await?;
    let has_more = rows.len() as i64 > page.size();
    rows.truncate(page.size() as usize);
    Ok(Json(NotificationPage {
        notifications: rows.into_iter().map(|row| row.render(lang)).collect(),
        page: page.page(),
        page_size: page.size(),
        has_more,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use shared::notifications::{self, Kind, NewNotification};
    use shared::testing::{TestApp, pluck, send};
    use uuid::Uuid;

    /// Writes a notification for `uid`, `minutes_ago` in the past; its id.
    async fn notify(app: &TestApp, uid: &str, title: &str, minutes_ago: i32) -> Uuid {
        let db = &app.state.db;
        sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(uid)
            .execute(db)
            .await
            .unwrap();
        // A row as written before notifications kept their message: its text as stored.
        let id: Uuid = sqlx::query_scalar(
            "INSERT INTO notifications (user_id, title, body, category, data)
             VALUES ($1, $2, $3, 'booking_confirmation', $4) RETURNING id",
        )
        .bind(uid)
        .bind(title)
        .bind(format!("{title} body"))
        .bind(json!({"bookingId": "b-1", "actionUrl": "https://app.test/t/1"}))
        .fetch_one(db)
        .await
        .unwrap();
        sqlx::query(
            "UPDATE notifications SET created_at = now() - make_interval(mins => $2) WHERE id = $1",
        )
        .bind(id)
        .bind(minutes_ago)
        .execute(db)
        .await
        .unwrap();
        id
    }

    async fn list(app: &TestApp, uid: &str, query: &str) -> (u16, Value) {
        send(
            app.get(&format!("/api/notifications{query}"))
                .bearer_auth(app.token(uid)),
        )
        .await
    }

    #[tokio::test]
    async fn answers_both_field_sets_newest_first() {
        let app = TestApp::spawn(vec![super::function()]).await;
        notify(&app, "ada", "Older", 10).await;
        let newest = notify(&app, "ada", "Newer", 1).await;
        sqlx::query(
            "INSERT INTO notifications (user_id, title, body, category) VALUES ('ada', 'Old', 'x', 'general')
             RETURNING id",
        )
        .execute(&app.state.db)
        .await
        .unwrap();
        sqlx::query("UPDATE notifications SET created_at = now() - interval '1 day' WHERE category = 'general'")
            .execute(&app.state.db)
            .await
            .unwrap();

        let (status, body) = list(&app, "ada", "").await;
        assert_eq!(status, 200, "{body}");
        let items = &body["notifications"];
        assert_eq!(pluck(items, "title"), ["Newer", "Older", "Old"]);
        let first = &items[0];
        let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "actionUrl",
                "body",
                "category",
                "created_at",
                "data",
                "id",
                "isRead",
                "message",
                "read",
                "timestamp",
                "title",
                "type",
                "userId"
            ]
        );
        assert_eq!(first["id"], json!(newest.to_string()));
        assert_eq!(first["body"], "Newer body");
        assert_eq!(first["message"], first["body"]);
        assert_eq!(first["read"], false);
        assert_eq!(first["isRead"], false);
        assert_eq!(first["timestamp"], first["created_at"]);
        assert_eq!(first["category"], "booking_confirmation");
        assert_eq!(first["type"], "booking_confirmation");
        assert_eq!(first["userId"], "ada");
        assert_eq!(first["actionUrl"], "https://app.test/t/1");
        assert_eq!(first["data"]["bookingId"], "b-1");
        // A category outside the app's types reads as `system`; no data, no actionUrl.
        let old = &items[2];
        assert_eq!(
            (old["category"].as_str(), old["type"].as_str()),
            (Some("general"), Some("system"))
        );
        assert!(
            old.get("actionUrl").is_none() && old.get("data").is_none(),
            "{old}"
        );
        assert_eq!(body["hasMore"], false);
    }

    #[tokio::test]
    async fn pages_through_the_list() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for i in 0..25 {
            notify(&app, "ada", &format!("n{i:02}"), i).await;
        }
        let (_, first) = list(&app, "ada", "").await;
        assert_eq!(first["notifications"].as_array().unwrap().len(), 20);
        assert_eq!(first["notifications"][0]["title"], "n00");
        assert_eq!(first["hasMore"], true);
        let (_, second) = list(&app, "ada", "?page=2&pageSize=20").await;
        assert_eq!(
            pluck(&second["notifications"], "title"),
            ["n20", "n21", "n22", "n23", "n24"]
        );
        assert_eq!(second["hasMore"], false);
        let (_, small) = list(&app, "ada", "?page=3&pageSize=4").await;
        assert_eq!(
            pluck(&small["notifications"], "title"),
            ["n08", "n09", "n10", "n11"]
        );
        assert_eq!(
            (small["page"].clone(), small["pageSize"].clone()),
            (json!(3), json!(4))
        );
    }

    #[tokio::test]
    async fn shows_only_the_callers_own() {
        let app = TestApp::spawn(vec![super::function()]).await;
        notify(&app, "ada", "For Ada", 1).await;
        notify(&app, "bob", "For Bob", 1).await;
        let (_, bob) = list(&app, "bob", "").await;
        assert_eq!(pluck(&bob["notifications"], "title"), ["For Bob"]);
        let (_, eve) = list(&app, "eve", "").await;
        assert_eq!(eve["notifications"], json!([]));
    }

    #[tokio::test]
    async fn refuses_bad_paging_and_anonymous_callers() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for query in [
            "?pageSize=0",
            "?pageSize=101",
            "?page=0",
            "?pageSize=x",
            "?page=%00",
        ] {
            let (status, body) = list(&app, "ada", query).await;
            assert_eq!(status, 422, "{query}: {body}");
            assert!(
                body["message"].is_string() && body["detail"].is_array(),
                "{body}"
            );
        }
        let (status, body) = send(app.get("/api/notifications")).await;
        assert_eq!(status, 401);
        assert_eq!(body["message"], "Not authenticated");
    }

    /// A booking notice as travels-book writes it: 2 seats, 7,600 XAF, leaving
    /// at 06:00 WAT on Saturday 5 December 2026.
    async fn booking_notice(app: &TestApp, uid: &str) {
        notify(app, uid, "placeholder", 0).await;
        let departure = chrono::DateTime::parse_from_rfc3339("2026-12-05T05:00:00Z").unwrap();
        let text = domain::MESSAGES
            .text("booking-confirmed")
            .arg("origin", "Yaoundé")
            .arg("destination", "Douala")
            .arg("seats", domain::MESSAGES.text("seats").arg("count", 2))
            .arg("departure", departure.to_utc())
            .xaf("total", 7600.0);
        let mut conn = app.state.db.acquire().await.unwrap();
        sqlx::query("DELETE FROM notifications WHERE user_id = $1")
            .bind(uid)
            .execute(&mut *conn)
            .await
            .unwrap();
        let n = NewNotification {
            user_id: uid,
            kind: Kind::BookingConfirmation,
            text,
            data: json!({}),
        };
        notifications::insert(&mut conn, &n).await.unwrap();
    }

    async fn first(app: &TestApp, uid: &str, accept_language: Option<&str>) -> (String, String) {
        let mut request = app.get("/api/notifications").bearer_auth(app.token(uid));
        if let Some(value) = accept_language {
            request = request.header("accept-language", value);
        }
        let (status, body) = send(request).await;
        assert_eq!(status, 200, "{body}");
        let n = &body["notifications"][0];
        assert_eq!(n["message"], n["body"]);
        (
            n["title"].as_str().unwrap().into(),
            n["body"].as_str().unwrap().into(),
        )
    }

    #[tokio::test]
    async fn a_notice_reads_in_the_readers_language_and_follows_a_change_of_language() {
        let app = TestApp::spawn(vec![super::function()]).await;
        booking_notice(&app, "ada").await;

        let english = first(&app, "ada", None).await;
        assert_eq!(english.0, "Booking confirmed: Yaoundé → Douala");
        assert_eq!(
            english.1,
            "2 seats on Yaoundé → Douala, departing Sat 5 Dec 2026, 06:00 WAT. Total 7,600 XAF."
        );
        let french = first(&app, "ada", Some("fr-CM, fr;q=0.9, en;q=0.5")).await;
        assert_eq!(french.0, "Réservation confirmée : Yaoundé → Douala");
        assert_eq!(
            french.1,
            "2 places sur Yaoundé → Douala, départ le sam. 5 déc. 2026 à 06:00 WAT. \
             Total 7\u{202F}600\u{202F}XAF."
        );

        // The profile says French: the same history now reads in French...
        sqlx::query("UPDATE users SET language = 'fr' WHERE uid = 'ada'")
            .execute(&app.state.db)
            .await
            .unwrap();
        assert_eq!(first(&app, "ada", None).await, french);
        // ...unless the request itself asks for English.
        assert_eq!(first(&app, "ada", Some("en")).await, english);
    }

    #[tokio::test]
    async fn errors_speak_the_callers_language_and_keep_their_detail() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let ask = |lang: &'static str| {
            app.get("/api/notifications?pageSize=0")
                .bearer_auth(app.token("ada"))
                .header("accept-language", lang)
        };
        let (status, english) = send(ask("en")).await;
        assert_eq!(status, 422);
        assert_eq!(english["message"], "pageSize: must be between 1 and 100");
        let (status, french) = send(ask("fr")).await;
        assert_eq!(status, 422);
        assert_eq!(
            french["message"],
            "pageSize : doit être compris entre 1 et 100"
        );
        assert_eq!(
            french["detail"], english["detail"],
            "detail is for machines"
        );

        let (status, body) = send(
            app.get("/api/notifications")
                .header("accept-language", "fr"),
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(body["message"], "Non authentifié");
        assert_eq!(body["detail"], "Not authenticated");
    }
}
