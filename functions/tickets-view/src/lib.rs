//! `GET /tickets/{token}`: the e-ticket a signed link opens, as a small HTML
//! page for phones: who travels, where, when (West Africa Time), how many
//! seats, what it cost, whether it is still valid, and a QR code a conductor
//! can check offline. No script and no external resource; every value from
//! the database is HTML-escaped.
//!
//! The page is in the passenger's language (their stored `language`), or in
//! the one `?lang=fr|en` asks for, and links to itself in the other: the same
//! signed token serves both. Dates and amounts are written each language's
//! way (`Sat 5 Dec 2026`, `7,600 XAF`; `sam. 5 déc. 2026`, `7 600 XAF`).

use axum::extract::RawQuery;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::bookings::{BookingRecord, SELECT_BOOKINGS, ticket_key};
use domain::tickets;
use qrcode::QrCode;
use qrcode::render::svg;
use shared::i18n::{date, datetime, time, wat, xaf};
use shared::prelude::*;
use sqlx::FromRow;

/// The page's words in English and French (`locales/`).
pub static MESSAGES: Catalog = shared::catalog!("tickets-view");

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(view)))
}

/// The page's own policy: inline styles and the inline SVG, nothing else.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// A booking with its passenger's stored language.
#[derive(FromRow)]
struct Ticket {
    #[sqlx(flatten)]
    booking: BookingRecord,
    language: String,
}

/// The e-ticket; a wrong, altered or expired link is a 404 page (in the
/// `?lang` asked for, else the browser's language).
#[utoipa::path(get, path = "/tickets/{token}", tag = "Travel",
    params(("token" = String, Path, description = "From GET /api/bookings/{booking_id}/ticket"),
        ("lang" = Option<String>, Query, description = "`fr` or `en`; by default the passenger's language")),
    responses((status = 200, description = "The e-ticket", content_type = "text/html"),
        (status = 404, description = "Ticket not found", content_type = "text/html"),
        (status = 503, body = ErrorBody)))]
async fn view(
    State(state): State<AppState>,
    browser: Lang,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let asked = query.as_deref().and_then(asked_lang);
    let key = ticket_key(&state.config)?;
    let Some(id) = tickets::verify(key, &token, Utc::now()) else {
        return Ok(not_found(asked.unwrap_or(browser)));
    };
    let sql = format!(
        "SELECT s.*, u.language FROM ({SELECT_BOOKINGS} WHERE b.id = $1) s
         JOIN users u ON u.uid = s.user_id"
    );
    let ticket: Option<Ticket> = sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&state.db)
        .await?;
    Ok(match ticket {
        Some(Ticket { booking, language }) => {
            let lang = asked.or_else(|| Lang::parse(&language)).unwrap_or_default();
            let code = tickets::code(key, booking.id);
            page(
                StatusCode::OK,
                lang,
                render(lang, &booking, &code, Utc::now()),
            )
        }
        None => not_found(asked.unwrap_or(browser)),
    })
}

/// The language `?lang=` names, if it names one the page speaks.
fn asked_lang(query: &str) -> Option<Lang> {
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("lang="))
        .find_map(Lang::parse)
}

fn page(status: StatusCode, lang: Lang, html: String) -> Response {
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
        (
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(lang.code()),
        ),
    ];
    (status, headers, html).into_response()
}

/// Whether the ticket can be used, in words and as a CSS class.
fn standing(b: &BookingRecord, now: DateTime<Utc>) -> (&'static str, &'static str) {
    match b.status.as_str() {
        "cancelled" => ("ticket-cancelled", "void"),
        "completed" => ("ticket-completed", "past"),
        _ if b.departure_time <= now => ("ticket-departed", "past"),
        "pending" => ("ticket-pending", "pending"),
        _ => ("ticket-confirmed", "valid"),
    }
}

fn render(lang: Lang, b: &BookingRecord, code: &str, now: DateTime<Utc>) -> String {
    let say = |id: &'static str| MESSAGES.text(id).render(lang);
    let (standing, class) = standing(b, now);
    let route = format!("{} → {}", b.origin, b.destination);
    let arrival = if wat(b.estimated_arrival).date_naive() == wat(b.departure_time).date_naive() {
        time(b.estimated_arrival)
    } else {
        datetime(lang, b.estimated_arrival)
    };
    // The query fills in this English word for a passenger without a name.
    let passenger = match b.passenger_name.as_deref() {
        None | Some("Traveller") => say("ticket-traveller"),
        Some(name) => name.to_owned(),
    };
    let payment = MESSAGES
        .text("ticket-payment-line")
        .arg(
            "method",
            MESSAGES
                .text("ticket-payment-method")
                .arg("method", &b.payment_method),
        )
        .arg(
            "status",
            MESSAGES
                .text("ticket-payment-status")
                .arg("status", &b.payment_status),
        )
        .render(lang);
    let rows = [
        ("ticket-passenger", passenger),
        ("ticket-date", date(lang, b.departure_time)),
        ("ticket-departure", time(b.departure_time)),
        ("ticket-arrival", arrival),
        ("ticket-seats", b.passengers.to_string()),
        ("ticket-price", xaf(lang, b.total_price)),
        ("ticket-payment", payment),
        ("ticket-vehicle", vehicle(lang, b)),
        (
            "ticket-booking",
            b.id.simple().to_string()[..8].to_uppercase(),
        ),
    ];
    let rows: String = rows
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(label, value)| format!("<dt>{}</dt><dd>{}</dd>", escape(&say(label)), escape(value)))
        .collect();
    let hint = say(if class == "void" {
        "ticket-hint-cancelled"
    } else {
        "ticket-hint"
    });
    let other = lang.other();
    format!(
        r#"<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{STYLE}</style></head>
<body><main class="ticket {class}">
<header><div class="top"><p class="brand">{brand}</p><a class="lang" href="?lang={other}" hreflang="{other}" lang="{other}">{switch}</a></div><h1>{route}</h1><p class="standing">{standing}</p></header>
<dl>{rows}</dl>
<section class="qr">{qr}<p class="code">{code}</p><p class="hint">{hint}</p></section>
</main></body></html>"#,
        title = escape(
            &MESSAGES
                .text("ticket-title")
                .arg("route", &route)
                .render(lang)
        ),
        brand = escape(&say("ticket-brand")),
        switch = escape(&say("ticket-other-language")),
        route = escape(&route),
        standing = escape(&say(standing)),
        qr = qr_svg(code, &say("ticket-qr-label")),
        code = escape(code),
        hint = escape(&hint),
    )
}

fn vehicle(lang: Lang, b: &BookingRecord) -> String {
    let kind = b.vehicle_type.as_ref().map(|kind| {
        MESSAGES
            .text("ticket-vehicle-type")
            .arg("type", kind)
            .render(lang)
    });
    // As for the passenger: the query's English word for a driver without a name.
    let driver = b.driver_name.as_deref().map(|name| match name {
        "Driver" => MESSAGES.text("ticket-driver").render(lang),
        name => name.to_owned(),
    });
    let parts: Vec<String> = [kind, b.vehicle_registration.clone(), driver]
        .into_iter()
        .flatten()
        .collect();
    parts.join(" · ")
}

/// The code as an inline SVG QR (without the XML prolog, which HTML does not take).
fn qr_svg(code: &str, label: &str) -> String {
    let Ok(qr) = QrCode::new(code.as_bytes()) else {
        return String::new();
    };
    let image = qr
        .render::<svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    let start = image.find("<svg").unwrap_or(0);
    image[start..].replacen(
        "<svg",
        &format!(r#"<svg role="img" aria-label="{}""#, escape(label)),
        1,
    )
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

/// The page a wrong, altered or expired link opens.
fn not_found(lang: Lang) -> Response {
    let say = |id: &'static str| escape(&MESSAGES.text(id).render(lang));
    let html = format!(
        r#"<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>body{{margin:0;padding:32px 20px;font:17px/1.5 system-ui,sans-serif;color:#1c2530;background:#eef2f5;text-align:center}}h1{{font-size:24px}}</style></head>
<body><h1>{title}</h1><p>{help}</p></body></html>"#,
        title = say("ticket-not-found"),
        help = say("ticket-not-found-help"),
    );
    page(StatusCode::NOT_FOUND, lang, html)
}

const STYLE: &str = "*{box-sizing:border-box}
body{margin:0;background:#eef2f5;color:#1c2530;font:16px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
.ticket{max-width:440px;margin:16px auto;background:#fff;border-radius:16px;overflow:hidden;box-shadow:0 2px 14px rgba(0,0,0,.1)}
@media (max-width:472px){.ticket{margin:12px}}
header{background:#0b6e4f;color:#fff;padding:18px 20px}
.void header{background:#a4161a}.past header{background:#495057}.pending header{background:#b26b00}
.top{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:8px 12px}
.brand{margin:0;font-size:13px;letter-spacing:.08em;text-transform:uppercase;opacity:.85}
.lang{margin-left:auto;color:#fff;font-size:15px;font-weight:600;padding:6px 12px;border:1px solid rgba(255,255,255,.7);border-radius:999px;text-decoration:underline;text-underline-offset:2px}
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
    use shared::i18n::{Lang, date, time};
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
        for external in ["<script", "src=", "url(", "@import"] {
            assert!(
                !html.contains(external),
                "{external}: nothing comes from elsewhere"
            );
        }
        assert_eq!(
            html.matches("href=").count(),
            1,
            "the only link is to this ticket in French"
        );
        assert!(html.contains(r#"<html lang="en">"#));
        assert!(html.contains(r#"href="?lang=fr" hreflang="fr" lang="fr">Français</a>"#));
    }

    /// Ada's (`booking`) departure time.
    async fn departure(app: &TestApp, id: Uuid) -> chrono::DateTime<Utc> {
        sqlx::query_scalar(
            "SELECT t.departure_time FROM bookings b JOIN travel_routes t ON t.id = b.route_id
             WHERE b.id = $1",
        )
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_french_passenger_reads_french_and_can_switch_to_english() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let db = &app.state.db;
        sqlx::query(
            "INSERT INTO users (uid, email, display_name, language)
             VALUES ('amina', 'amina@example.test', 'Amina Ndongo', 'fr')",
        )
        .execute(db)
        .await
        .unwrap();
        let route = insert_departure(db, Duration::days(1), 10).await;
        let id = insert_booking(db, "amina", &route, 2).await;
        let when = departure(&app, id).await;
        let path = link(&app, id, Utc::now() + Duration::hours(1));

        let (status, _, csp, html) = fetch(&app, &path).await;
        assert_eq!((status, csp.as_str()), (200, super::CSP), "{html}");
        let day = date(Lang::Fr, when);
        let weekday = day.split(' ').next().unwrap();
        assert!(
            ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."].contains(&weekday),
            "{day}"
        );
        for shown in [
            r#"<html lang="fr">"#.to_owned(),
            format!("<dt>Date</dt><dd>{day}</dd>"),
            format!("<dt>Départ</dt><dd>{}</dd>", time(when)),
            "<dt>Prix</dt><dd>11\u{202F}000\u{202F}XAF</dd>".into(),
            "<dt>Passager</dt><dd>Amina N.</dd>".into(),
            "<dt>Places</dt><dd>2</dd>".into(),
            "<dt>Paiement</dt><dd>Carte bancaire · payé</dd>".into(),
            "Confirmé — valable pour le voyage".into(),
            "Présentez ce code au contrôleur".into(),
            "Billet électronique AI-IMUTIS".into(),
            r#"href="?lang=en" hreflang="en" lang="en">English</a>"#.into(),
        ] {
            assert!(html.contains(&shown), "{shown} missing from\n{html}");
        }
        for english in ["Passenger", "Confirmed", "11,000", "Show this code"] {
            assert!(!html.contains(english), "{english} on the French ticket");
        }

        let (status, _, _, html) = fetch(&app, &format!("{path}?lang=en")).await;
        assert_eq!(status, 200, "{html}");
        for shown in [
            r#"<html lang="en">"#.to_owned(),
            format!("<dt>Date</dt><dd>{}</dd>", date(Lang::En, when)),
            "<dt>Price</dt><dd>11,000 XAF</dd>".into(),
            "<dt>Passenger</dt><dd>Amina N.</dd>".into(),
            "<dt>Payment</dt><dd>Card · paid</dd>".into(),
            "Confirmed — valid for travel".into(),
            r#"href="?lang=fr" hreflang="fr" lang="fr">Français</a>"#.into(),
        ] {
            assert!(html.contains(&shown), "{shown} missing from\n{html}");
        }
        assert!(!html.contains("Passager") && !html.contains('\u{202F}'));

        let (_, _, _, html) = fetch(&app, &format!("{path}?lang=de")).await;
        assert!(
            html.contains(r#"<html lang="fr">"#),
            "a language the page lacks leaves the passenger's"
        );
    }

    #[tokio::test]
    async fn an_english_passenger_can_ask_for_french() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let id = booking(&app, false).await;
        let when = departure(&app, id).await;
        let path = link(&app, id, Utc::now() + Duration::hours(1));
        let (_, _, _, html) = fetch(&app, &path).await;
        assert!(html.contains(&format!("<dt>Date</dt><dd>{}</dd>", date(Lang::En, when))));
        assert!(html.contains(r#"href="?lang=fr""#), "{html}");

        let (status, _, _, html) = fetch(&app, &format!("{path}?lang=fr")).await;
        assert_eq!(status, 200);
        for shown in [
            r#"<html lang="fr">"#.to_owned(),
            format!("<dt>Date</dt><dd>{}</dd>", date(Lang::Fr, when)),
            "11\u{202F}000\u{202F}XAF".into(),
            r#"href="?lang=en""#.into(),
        ] {
            assert!(html.contains(&shown), "{shown} missing from\n{html}");
        }
        sqlx::query("UPDATE bookings SET status = 'cancelled', cancelled_at = now() WHERE id = $1")
            .bind(id)
            .execute(&app.state.db)
            .await
            .unwrap();
        let (_, _, _, html) = fetch(&app, &format!("{path}?lang=fr")).await;
        assert!(
            html.contains("Annulé — non valable pour le voyage"),
            "{html}"
        );
        assert!(html.contains("le code sera refusé à l’embarquement"));
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
        let (status, _, _, html) = fetch(&app, "/tickets/nonsense?lang=fr").await;
        assert_eq!(status, 404);
        assert!(html.contains(r#"<html lang="fr">"#) && html.contains("Billet introuvable"));
        let response = app
            .get("/tickets/nonsense")
            .header("accept-language", "fr-CM,fr;q=0.9")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Billet introuvable"),
            "without ?lang, the browser's language"
        );
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
        let ticket = app.url(&link(&app, id, Utc::now() + Duration::hours(1)));
        println!("TICKET {ticket}\nFRENCH {ticket}?lang=fr");
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
