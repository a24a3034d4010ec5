//! `GET /api/bookings/{booking_id}/ticket`: a signed link to the e-ticket of
//! one of the caller's bookings, which the app opens in a browser view.

use domain::bookings::ticket_url;
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(ticket)))
}

/// Where the e-ticket is.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketLink {
    /// Signed; valid for `TICKET_TTL_SECONDS` (30 days by default).
    #[schema(example = "https://api.example/tickets/0f1e...c9.1798675200.Qk3...")]
    pub url: String,
}

/// The caller's e-ticket link; 404 for anyone else's booking, 503 when
/// e-tickets are not configured.
#[utoipa::path(get, path = "/api/bookings/{booking_id}/ticket", tag = "Travel",
    security(("FirebaseAuth" = [])),
    params(("booking_id" = String, Path)),
    responses((status = 200, body = TicketLink), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn ticket(
    State(state): State<AppState>,
    user: AuthUser,
    Path(booking_id): Path<String>,
) -> ApiResult<Json<TicketLink>> {
    let id = Uuid::try_parse(&booking_id)
        .map_err(|_| not_found(domain::MESSAGES.text("thing-booking")))?;
    let mine: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM bookings WHERE id = $1 AND user_id = $2)")
            .bind(id)
            .bind(&user.uid)
            .fetch_one(&state.db)
            .await?;
    if !mine {
        return Err(not_found(domain::MESSAGES.text("thing-booking")));
    }
    Ok(Json(TicketLink {
        url: ticket_url(&state.config, id)?,
    }))
}

#[cfg(test)]
mod tests {
    use domain::bookings::ticket_url;
    use domain::tickets;
    use shared::testing::{TestApp, assert_seats_add_up, insert_booking, insert_departure, send};
    use uuid::Uuid;

    /// A one-seat booking of `uid` on a departure of its own, leaving tomorrow.
    async fn booking(app: &TestApp, uid: &str) -> Uuid {
        let route = insert_departure(&app.state.db, chrono::Duration::days(1), 10).await;
        insert_booking(&app.state.db, uid, &route, 1).await
    }

    #[tokio::test]
    async fn answers_a_signed_link_to_the_callers_ticket() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = booking(&app, "ada").await;
        let (status, body) = send(
            app.get(&format!("/api/bookings/{id}/ticket"))
                .bearer_auth(app.token("ada")),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body.as_object().unwrap().len(), 1);
        let token = body["url"]
            .as_str()
            .unwrap()
            .strip_prefix("http://127.0.0.1:8080/tickets/")
            .unwrap();
        let key = app.state.config.ticket_key.as_deref().unwrap();
        assert_eq!(tickets::verify(key, token, chrono::Utc::now()), Some(id));
        let later = chrono::Utc::now() + chrono::Duration::days(29);
        assert_eq!(
            tickets::verify(key, token, later),
            Some(id),
            "valid for 30 days"
        );
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn nobody_gets_anyone_elses_ticket() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = booking(&app, "ada").await;
        for (uid, target) in [
            ("bob", id.to_string()),
            ("ada", Uuid::new_v4().to_string()),
            ("ada", "nope".into()),
        ] {
            let path = format!("/api/bookings/{target}/ticket");
            let (status, body) = send(app.get(&path).bearer_auth(app.token(uid))).await;
            assert_eq!(
                (status, body["message"].as_str()),
                (404, Some("Booking not found"))
            );
        }
        let (status, _) = send(app.get(&format!("/api/bookings/{id}/ticket"))).await;
        assert_eq!(status, 401);
        assert_seats_add_up(&app.state.db).await;
    }

    #[test]
    fn without_a_signing_key_tickets_are_unavailable() {
        let mut config = shared::testing::config("http://127.0.0.1:9/jwks", &[]);
        config.ticket_key = None;
        let err = ticket_url(&config, Uuid::new_v4()).unwrap_err();
        assert_eq!(err.status(), 503);
    }
}
