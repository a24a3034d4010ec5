//! `GET /tickets/{token}`: the e-ticket a signed link opens, as a small HTML
//! page for phones: who travels, where, when (West Africa Time), how many
//! seats, what it cost, whether it is still valid, and a QR code a conductor
//! can check offline. No script and no external resource; every value from
//! the database is HTML-escaped.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::bookings::{BookingRecord, SELECT_BOOKINGS, local_time, ticket_key, wat};
use domain::tickets;
use qrcode::QrCode;
use qrcode::render::svg;
use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(view)))
}

/// The page's own policy: inline styles and the inline SVG, nothing else.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The e-ticket; a wrong, altered or expired link is a 404 page.
#[utoipa::path(get, path = "/tickets/{token}", tag = "Travel",
    params(("token" = String, Path, description = "From GET /api/bookings/{booking_id}/ticket")),
    responses((status = 200, description = "The e-ticket", content_type = "text/html"),
        (status = 404, description = "Ticket not found", content_type = "text/html"),
        (status = 503, body = ErrorBody)))]
async fn view(State(state): State<AppState>, Path(token): Path<String>) -> ApiResult<Response> {
    let key = ticket_key(&state.config)?;
    let Some(id) = tickets::verify(key, &token, Utc::now()) else {
        return Ok(page(StatusCode::NOT_FOUND, NOT_FOUND.into()));
    };
    let sql = format!("{SELECT_BOOKINGS} WHERE b.id = $1");
    let booking: Option<BookingRecord> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&state.db)
        .await?;
    Ok(match booking {
        Some(b) => page(StatusCode::OK, render(&b, &tickets::code(key, b.id))),
        None => page(StatusCode::NOT_FOUND, NOT_FOUND.into()),
    })
}

fn page(status: StatusCode, html: String) -> Response {
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    (status, headers, html).into_response()
}

/// Whether the ticket can be used, in words and as a CSS class.
fn standing(b: &BookingRecord) -> (&'static str, &'static str) {
    match b.status.as_str() {
        "cancelled" => ("Cancelled — not valid for travel", "void"),
        "completed" => ("Completed — this trip is over", "past"),
        _ if b.departure_time <= Utc::now() => ("Departed — this trip has already left", "past"),
        "pending" => ("Pending — payment not yet received", "pending"),
        _ => ("Confirmed — valid for travel", "valid"),
    }
}

fn render(b: &BookingRecord, code: &str) -> String {
    let (standing, class) = standing(b);
    let route = format!("{} → {}", b.origin, b.destination);
    let (departure, arrival) = (wat(b.departure_time), wat(b.estimated_arrival));
    let arrival = if arrival.date_naive() == departure.date_naive() {
        arrival.format("%H:%M WAT").to_string()
    } else {
        local_time(b.estimated_arrival)
    };
    let passenger = b.passenger_name.as_deref().unwrap_or("Traveller");
    let payment = format!(
        "{} · {}",
        b.payment_method.replace('_', " "),
        b.payment_status
    );
    let rows = [
        ("Passenger", passenger.to_owned()),
        ("Date", departure.format("%a %-d %b %Y").to_string()),
        ("Departure", departure.format("%H:%M WAT").to_string()),
        ("Arrival", arrival),
        ("Seats", b.passengers.to_string()),
        ("Price", xaf(b.total_price)),
        ("Payment", payment),
        ("Vehicle", vehicle(b)),
        ("Booking", b.id.simple().to_string()[..8].to_uppercase()),
    ];
    let rows: String = rows
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(label, value)| format!("<dt>{label}</dt><dd>{}</dd>", escape(value)))
        .collect();
    let hint = if class == "void" {
        "This booking was cancelled: the code will be refused at boarding."
    } else {
        "Show this code to the conductor when boarding."
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>E-ticket · {title}</title><style>{STYLE}</style></head>
<body><main class="ticket {class}">
<header><p class="brand">AI-IMUTIS e-ticket</p><h1>{route}</h1><p class="standing">{standing}</p></header>
<dl>{rows}</dl>
<section class="qr">{qr}<p class="code">{code}</p><p class="hint">{hint}</p></section>
</main></body></html>"#,
        title = escape(&route),
        route = escape(&route),
        qr = qr_svg(code),
        code = escape(code),
    )
}

fn vehicle(b: &BookingRecord) -> String {
    let parts: Vec<&str> = [&b.vehicle_type, &b.vehicle_registration, &b.driver_name]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect();
    parts.join(" · ")
}

/// `11000.0` → `11,000 XAF`.
fn xaf(amount: f64) -> String {
    let digits = format!("{:.0}", amount.abs());
    let mut grouped = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(d);
    }
    format!("{grouped} XAF")
}

/// The code as an inline SVG QR (without the XML prolog, which HTML does not take).
fn qr_svg(code: &str) -> String {
    let Ok(qr) = QrCode::new(code.as_bytes()) else {
        return String::new();
    };
    let image = qr
        .render::<svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    let start = image.find("<svg").unwrap_or(0);
    image[start..].replacen("<svg", r#"<svg role="img" aria-label="Ticket QR code""#, 1)
}

/// Escapes text for HTML element content and quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const NOT_FOUND: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ticket not found</title><style>body{margin:0;padding:32px 20px;font:17px/1.5 system-ui,sans-serif;color:#1c2530;background:#eef2f5;text-align:center}h1{font-size:24px}</style></head>
<body><h1>Ticket not found</h1><p>This link is wrong or has expired. Open the ticket again from your bookings in the app.</p></body></html>"#;

const STYLE: &str = "*{box-sizing:border-box}
body{margin:0;background:#eef2f5;color:#1c2530;font:16px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
.ticket{max-width:440px;margin:16px auto;background:#fff;border-radius:16px;overflow:hidden;box-shadow:0 2px 14px rgba(0,0,0,.1)}
@media (max-width:472px){.ticket{margin:12px}}
header{background:#0b6e4f;color:#fff;padding:18px 20px}
.void header{background:#a4161a}.past header{background:#495057}.pending header{background:#b26b00}
.brand{margin:0;font-size:13px;letter-spacing:.08em;text-transform:uppercase;opacity:.85}
h1{margin:6px 0 10px;font-size:26px;line-height:1.2}
.standing{display:inline-block;margin:0;padding:5px 12px;border-radius:999px;background:rgba(255,255,255,.2);font-weight:600;font-size:15px}
dl{margin:0;padding:14px 20px;display:grid;grid-template-columns:auto 1fr;gap:10px 16px}
dt{color:#5c6b7a}dd{margin:0;font-weight:600;text-align:right;overflow-wrap:anywhere}
.qr{border-top:2px dashed #cfd8e1;padding:18px 20px 20px;text-align:center}
.qr svg{width:220px;max-width:100%;height:auto}
.void .qr svg{opacity:.2}
.code{margin:8px 0 4px;font:600 13px/1.4 ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.hint{margin:0;font-size:13px;color:#5c6b7a}";

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use domain::tickets;
    use shared::testing::{TestApp, insert_booking, insert_departure, insert_vehicle};
    use uuid::Uuid;

    /// A 2-seat booking by a user with an awkward name, on the seeded 06:00
    /// Yaounde → Douala departure furthest ahead (or, with `past`, on such a
    /// departure that left a minute ago).
    async fn booking(app: &TestApp, past: bool) -> Uuid {
        let db = &app.state.db;
        sqlx::query(
            "INSERT INTO users (uid, email, display_name) VALUES ('ada', 'ada.lovelace@example.test', '<b>Ada</b> & Lovelace') ON CONFLICT DO NOTHING",
        )
        .execute(db)
        .await
        .unwrap();
        let route: String = if past {
            insert_departure(db, Duration::minutes(-1), 10).await
        } else {
            sqlx::query_scalar(
                "SELECT id FROM travel_routes WHERE schedule_id = 'route-yaounde-douala-morning'
                 ORDER BY departure_time DESC LIMIT 1",
            )
            .fetch_one(db)
            .await
            .unwrap()
        };
        insert_booking(db, "ada", &route, 2).await
    }

    fn link(app: &TestApp, id: Uuid, expires: chrono::DateTime<Utc>) -> String {
        let key = app.state.config.ticket_key.as_deref().unwrap();
        tickets::path(&tickets::sign(key, id, expires))
    }

    /// Status, content type, CSP and body of `path`.
    async fn fetch(app: &TestApp, path: &str) -> (u16, String, String, String) {
        let response = app.get(path).send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let (content_type, csp) = (header("content-type"), header("content-security-policy"));
        (
            response.status().as_u16(),
            content_type,
            csp,
            response.text().await.unwrap(),
        )
    }

    #[tokio::test]
    async fn shows_a_valid_ticket_for_phones() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = booking(&app, false).await;
        let (status, content_type, csp, html) =
            fetch(&app, &link(&app, id, Utc::now() + Duration::hours(1))).await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert_eq!(csp, super::CSP);
        assert!(
            html.contains(
                r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
            )
        );
        for shown in [
            "&lt;b&gt;Ada&lt;/b&gt; L.",
            "Yaounde → Douala",
            "<dt>Seats</dt><dd>2</dd>",
            "11,000 XAF",
            "06:00 WAT",
            "09:45 WAT",
            "Confirmed — valid for travel",
            "<svg",
        ] {
            assert!(html.contains(shown), "{shown} missing from\n{html}");
        }
        let key = app.state.config.ticket_key.as_deref().unwrap();
        assert!(html.contains(&format!(
            r#"<p class="code">{}</p>"#,
            tickets::code(key, id)
        )));
        assert!(!html.contains("<b>Ada"), "names are escaped");
        assert!(
            !html.contains("ada.lovelace") && !html.contains("@example"),
            "no e-mail, nor its local part, for whoever holds the link"
        );
        for external in ["<script", "src=", "href=", "url(", "@import"] {
            assert!(
                !html.contains(external),
                "{external}: nothing comes from elsewhere"
            );
        }
    }

    #[tokio::test]
    async fn cancelled_and_departed_tickets_say_so() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = booking(&app, false).await;
        sqlx::query("UPDATE bookings SET status = 'cancelled', cancelled_at = now() WHERE id = $1")
            .bind(id)
            .execute(&app.state.db)
            .await
            .unwrap();
        let (status, _, _, html) =
            fetch(&app, &link(&app, id, Utc::now() + Duration::hours(1))).await;
        assert_eq!(status, 200);
        assert!(html.contains("Cancelled — not valid for travel"), "{html}");
        assert!(!html.contains("Confirmed"));

        sqlx::query("DELETE FROM users WHERE uid = 'ada'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let gone = fetch(&app, &link(&app, id, Utc::now() + Duration::hours(1))).await;
        assert_eq!(gone.0, 404, "a deleted booking has no ticket");

        let departed = booking(&app, true).await;
        let (status, _, _, html) =
            fetch(&app, &link(&app, departed, Utc::now() + Duration::hours(1))).await;
        assert_eq!(status, 200);
        assert!(
            html.contains("Departed — this trip has already left"),
            "{html}"
        );
    }

    #[tokio::test]
    async fn a_ride_ticket_names_the_driver_but_never_their_email() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let db = &app.state.db;
        let vehicle = insert_vehicle(db, "jean", 8, true).await;
        sqlx::query(
            "UPDATE users SET email = 'jean.mbarga@example.test', first_name = 'Jean', last_name = 'mbarga'
             WHERE uid = 'jean'",
        )
        .execute(db)
        .await
        .unwrap();
        let ride = insert_departure(db, Duration::days(1), 8).await;
        sqlx::query("UPDATE travel_routes SET vehicle_id = $2, owner_id = 'jean' WHERE id = $1")
            .bind(&ride)
            .bind(vehicle)
            .execute(db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO users (uid, email) VALUES ('amina', 'amina.kemajou@example.test')",
        )
        .execute(db)
        .await
        .unwrap();
        let id = insert_booking(db, "amina", &ride, 1).await;
        let (status, _, _, html) =
            fetch(&app, &link(&app, id, Utc::now() + Duration::hours(1))).await;
        assert_eq!(status, 200);
        assert!(html.contains("Jean M."), "{html}");
        assert!(
            html.contains("<dt>Passenger</dt><dd>Traveller</dd>"),
            "{html}"
        );
        for private in ["jean.mbarga", "amina.kemajou", "@example"] {
            assert!(
                !html.contains(private),
                "{private} shown to the link holder"
            );
        }
    }

    #[tokio::test]
    async fn wrong_altered_or_expired_links_are_404() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = booking(&app, false).await;
        let good = link(&app, id, Utc::now() + Duration::hours(1));
        let expired = link(&app, id, Utc::now() - Duration::seconds(1));
        let altered = good.replacen(
            &id.simple().to_string(),
            &Uuid::new_v4().simple().to_string(),
            1,
        );
        let other_key = tickets::path(&tickets::sign(
            b"another key, also thirty-two bytes",
            id,
            Utc::now() + Duration::hours(1),
        ));
        for path in [
            expired,
            altered,
            other_key,
            "/tickets/nonsense".into(),
            format!("/tickets/{}", "a.".repeat(100)),
        ] {
            let (status, content_type, csp, html) = fetch(&app, &path).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(
                (content_type.as_str(), csp.as_str()),
                ("text/html; charset=utf-8", super::CSP)
            );
            assert!(html.contains("Ticket not found"));
        }
    }

    #[test]
    fn prices_group_thousands() {
        assert_eq!(super::xaf(11000.0), "11,000 XAF");
        assert_eq!(super::xaf(500.0), "500 XAF");
        assert_eq!(super::xaf(1234567.0), "1,234,567 XAF");
    }

    /// For looking at the page in a browser: `cargo test -p tickets-view -- --ignored --nocapture`.
    #[tokio::test]
    #[ignore]
    async fn serve_a_ticket_for_a_look() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = booking(&app, false).await;
        sqlx::query("UPDATE users SET display_name = 'Amina Ndongo'")
            .execute(&app.state.db)
            .await
            .unwrap();
        println!(
            "TICKET {}",
            app.url(&link(&app, id, Utc::now() + Duration::hours(1)))
        );
        let departed = booking(&app, true).await;
        sqlx::query("UPDATE bookings SET status = 'cancelled' WHERE id = $1")
            .bind(departed)
            .execute(&app.state.db)
            .await
            .unwrap();
        println!(
            "CANCELLED {}",
            app.url(&link(&app, departed, Utc::now() + Duration::hours(1)))
        );
        println!("MISSING {}", app.url("/tickets/nonsense"));
        tokio::time::sleep(std::time::Duration::from_secs(300)).await;
    }
}
