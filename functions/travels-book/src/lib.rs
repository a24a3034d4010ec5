//! `POST /api/travels/book`: takes seats on a dated departure. The seats, the
//! booking and its confirmation notification are written in one transaction,
//! by one conditional `UPDATE` that never oversells; an `Idempotency-Key`
//! makes a retried request answer the first booking instead of booking twice.

use std::time::Instant;

use chrono::{DateTime, Utc};
use domain::bookings::ticket_url;
use domain::{MESSAGES, users};
use serde_json::json;
use shared::idempotency::{self, IdempotencyKey};
use shared::notifications::{self, Kind, NewNotification};
use shared::prelude::*;
use sqlx::PgConnection;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(book))).messages(&MESSAGES)
}

/// Why no seat was taken on a departure that exists.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("This departure has already left")]
    Departed,
    #[error("This departure was cancelled")]
    Cancelled,
    /// The departure has fewer free seats than asked for.
    #[error("Not enough seats available")]
    SoldOut,
}

impl Refusal for Refused {
    fn text(&self) -> Text {
        MESSAGES.text(match self {
            Self::Departed => "departure-left",
            Self::Cancelled => "departure-cancelled",
            Self::SoldOut => "seats-sold-out",
        })
    }
}

/// How the traveller pays.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Card,
    Momo,
    OrangeMoney,
    Cash,
}

impl PaymentMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::Momo => "momo",
            Self::OrangeMoney => "orange_money",
            Self::Cash => "cash",
        }
    }
}

/// A booking request.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct BookRequest {
    /// A dated departure's id, as `GET /api/travels` lists them.
    #[schema(example = "route-yaounde-douala-morning-20261127")]
    pub route_id: String,
    /// 1 to 20.
    #[schema(minimum = 1, maximum = 20)]
    #[schema(example = 2)]
    pub passengers: i32,
    pub payment_method: PaymentMethod,
    /// At most 280 characters.
    #[schema(max_length = 280)]
    pub special_requests: Option<String>,
}

impl Validate for BookRequest {
    fn validate(&self) -> Vec<FieldError> {
        Validator::body()
            .length("route_id", &self.route_id, 1, 128)
            .range("passengers", self.passengers, 1, 20)
            .max_len("special_requests", self.special_requests.as_deref(), 280)
            .finish()
    }
}

/// A confirmed booking.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct BookingConfirmation {
    #[schema(value_type = String, example = "0f8fad5b-d9cb-469f-a165-70867728950e")]
    pub booking_id: Uuid,
    #[schema(example = "confirmed")]
    pub status: String,
    pub departure_time: DateTime<Utc>,
    pub estimated_arrival: DateTime<Utc>,
    /// Passengers times the seat price, in XAF.
    #[schema(example = 11000.0)]
    pub total_price: f64,
    /// The signed e-ticket link (null when e-tickets are not configured).
    #[serde(rename = "eTicketUrl")]
    pub e_ticket_url: Option<String>,
}

/// Books seats on a departure: 404 for an unknown departure, 400 for one that
/// has left or has too few free seats. The 6th booking a minute is a 429.
#[utoipa::path(post, path = "/api/travels/book", tag = "Travel",
    security(("FirebaseAuth" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key answer the first booking")),
    request_body = BookRequest,
    responses((status = 200, body = BookingConfirmation), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn book(
    State(state): State<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    Json(body): Json<BookRequest>,
) -> ApiResult<Json<BookingConfirmation>> {
    let started = Instant::now();
    let mut notified = None;
    let result = idempotency::once(
        &state.db,
        &user.uid,
        "bookings.book",
        &key,
        &body,
        async |conn| take_seats(conn, &state, &user.uid, &body, &mut notified).await,
    )
    .await;
    record(&state, &result, started);
    // After the commit, and only when this call booked (not on a replay).
    if let (Ok(_), Some(id)) = (&result, notified) {
        notifications::publish(&state, &user.uid, id).await;
    }
    result.map(Json)
}

#[derive(sqlx::FromRow)]
struct Taken {
    id: Uuid,
    total_price: f64,
    origin: String,
    destination: String,
    departure_time: DateTime<Utc>,
    estimated_arrival: DateTime<Utc>,
}

/// The seats and the booking in one statement: no row means nothing was taken.
const TAKE_SEATS: &str = "
    WITH taken AS (
        UPDATE travel_routes SET available_seats = available_seats - $2
        WHERE id = $1 AND available_seats >= $2 AND departure_time > now() AND cancelled_at IS NULL
        RETURNING id, origin, destination, departure_time, estimated_arrival, price_per_seat
    ), booked AS (
        INSERT INTO bookings (user_id, route_id, passengers, total_price, payment_method, special_requests)
        SELECT $3, id, $2, price_per_seat * $2, $4, $5 FROM taken
        RETURNING id, total_price
    )
    SELECT b.id, b.total_price::float8 AS total_price, t.origin, t.destination,
        t.departure_time, t.estimated_arrival
    FROM booked b CROSS JOIN taken t";

async fn take_seats(
    conn: &mut PgConnection,
    state: &AppState,
    uid: &str,
    body: &BookRequest,
    notified: &mut Option<Uuid>,
) -> ApiResult<BookingConfirmation> {
    // The user before the departure: the order every seat write locks in, so
    // an account deletion beside this either waits or is waited for.
    if !users::hold(conn, uid).await? {
        return Err(users::account_deleted());
    }
    let taken: Option<Taken> = sqlx::query_as(TAKE_SEATS)
        .bind(&body.route_id)
        .bind(body.passengers)
        .bind(uid)
        .bind(body.payment_method.as_str())
        .bind(&body.special_requests)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(taken) = taken else {
        return Err(why_not(conn, &body.route_id).await);
    };
    let e_ticket_url = ticket_url(&state.config, taken.id).ok();
    let text = MESSAGES
        .text("booking-confirmed")
        .arg("origin", &taken.origin)
        .arg("destination", &taken.destination)
        .arg(
            "seats",
            MESSAGES.text("seats").arg("count", body.passengers),
        )
        .arg("departure", taken.departure_time)
        .xaf("total", taken.total_price);
    *notified = Some(notifications::insert(conn, &NewNotification {
        user_id: uid,
        kind: Kind::BookingConfirmation,
        text,
        data: json!({"bookingId": taken.id, "routeId": body.route_id, "actionUrl": e_ticket_url}),
    })
    .await?);
    Ok(BookingConfirmation {
        booking_id: taken.id,
        status: "confirmed".into(),
        departure_time: taken.departure_time,
        estimated_arrival: taken.estimated_arrival,
        total_price: taken.total_price,
        e_ticket_url,
    })
}

/// Why no seat was taken: the departure is unknown, has left, was cancelled
/// or is too full.
async fn why_not(conn: &mut PgConnection, route_id: &str) -> ApiError {
    let found: Result<Option<(bool, bool)>, _> = sqlx::query_as(
        "SELECT departure_time > now(), cancelled_at IS NOT NULL FROM travel_routes WHERE id = $1",
    )
    .bind(route_id)
    .fetch_optional(conn)
    .await;
    match found {
        Ok(None) => not_found(MESSAGES.text("thing-route")),
        Ok(Some((false, _))) => ApiError::refused(Refused::Departed),
        Ok(Some((true, true))) => ApiError::refused(Refused::Cancelled),
        Ok(Some((true, false))) => ApiError::refused(Refused::SoldOut),
        Err(e) => e.into(),
    }
}

fn record(state: &AppState, result: &ApiResult<BookingConfirmation>, started: Instant) {
    let outcome = match result {
        Ok(_) => "confirmed",
        Err(e) if e.refusal() == Some(&Refused::SoldOut) => "sold_out",
        Err(e) if e.status().is_client_error() => "rejected",
        Err(_) => "error",
    };
    let m = &state.metrics;
    m.bookings.with_label_values(&[outcome]).inc();
    m.booking_duration
        .with_label_values(&[outcome])
        .observe(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use chrono::{DateTime, Duration, Utc};
    use serde_json::{Value, json};
    use shared::i18n::Lang;
    use shared::testing::{TestApp, assert_seats_add_up, insert_departure, send};

    const MANY: &[(&str, &str)] = &[("RATE_LIMIT_BOOKING", "1000")];

    /// A coming 06:00 Yaounde → Douala departure (5500 XAF a seat).
    async fn departure(app: &TestApp) -> String {
        sqlx::query_scalar(
            "SELECT id FROM travel_routes WHERE schedule_id = 'route-yaounde-douala-morning'
               AND departure_time > now() + interval '1 day' ORDER BY departure_time LIMIT 1",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    fn request(route: &str, passengers: i64) -> Value {
        json!({"route_id": route, "passengers": passengers, "payment_method": "momo"})
    }

    /// Free seats on `route`, booking rows and notification rows.
    async fn footprint(app: &TestApp, route: &str) -> (i32, i64, i64) {
        sqlx::query_as(
            "SELECT (SELECT available_seats FROM travel_routes WHERE id = $1),
                    (SELECT count(*) FROM bookings), (SELECT count(*) FROM notifications)",
        )
        .bind(route)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    async fn set_seats(app: &TestApp, route: &str, seats: i32) {
        sqlx::query(
            "UPDATE travel_routes SET available_seats = $2, total_seats = $2 WHERE id = $1",
        )
        .bind(route)
        .bind(seats)
        .execute(&app.state.db)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn books_seats_and_confirms_in_the_contract_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let route = departure(&app).await;
        let (seats, _, _) = footprint(&app, &route).await;
        let body = json!({"route_id": route, "passengers": 2, "payment_method": "orange_money",
            "special_requests": "Window seats please"});
        let (status, answer) = send(
            app.post("/api/travels/book", &body)
                .bearer_auth(app.token("ada")),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let mut keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "booking_id",
                "departure_time",
                "eTicketUrl",
                "estimated_arrival",
                "status",
                "total_price"
            ]
        );
        assert_eq!(answer["status"], "confirmed");
        assert_eq!(answer["total_price"], 11000.0, "2 seats at 5500 XAF");
        let url = answer["eTicketUrl"].as_str().unwrap();
        assert!(url.starts_with("http://127.0.0.1:8080/tickets/"), "{url}");

        let (left, bookings, notes) = footprint(&app, &route).await;
        assert_eq!((left, bookings, notes), (seats - 2, 1, 1));
        let row: (String, String, i32, String, Option<String>, f64, String) = sqlx::query_as(
            "SELECT id::text, user_id, passengers, payment_method, special_requests, total_price::float8, status
             FROM bookings",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(row.0, answer["booking_id"].as_str().unwrap());
        assert_eq!(
            (row.1.as_str(), row.2, row.3.as_str()),
            ("ada", 2, "orange_money")
        );
        assert_eq!(row.4.as_deref(), Some("Window seats please"));
        assert_eq!((row.5, row.6.as_str()), (11000.0, "confirmed"));
        let (category, title, text, key): (String, String, String, Option<String>) =
            sqlx::query_as(
                "SELECT category, title, body, message_key FROM notifications WHERE user_id = 'ada'",
            )
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(category, "booking_confirmation");
        assert_eq!(key.as_deref(), Some("booking-confirmed"));
        assert_eq!(title, "Booking confirmed: Yaounde → Douala");
        let departs: DateTime<Utc> = answer["departure_time"].as_str().unwrap().parse().unwrap();
        let departing = shared::i18n::datetime(Lang::En, departs);
        assert!(departing.ends_with(", 06:00 WAT"), "{departing}");
        assert_eq!(
            text,
            format!("2 seats on Yaounde → Douala, departing {departing}. Total 11,000 XAF.")
        );
        assert!(
            app.text("/metrics")
                .await
                .contains(r#"bookings_total{status="confirmed",function="travels-book"} 1"#)
        );
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn unknown_departed_and_full_departures_are_refused_and_take_nothing() {
        let app = TestApp::spawn_with(vec![super::function()], MANY).await;
        let token = app.token("ada");
        let route = departure(&app).await;
        set_seats(&app, &route, 3).await;
        let before = footprint(&app, &route).await;

        let (status, body) = send(
            app.post("/api/travels/book", &request("route-nowhere-20261127", 1))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Route not found"))
        );
        assert_eq!(body["detail"], "Route not found");

        let (status, body) = send(
            app.post("/api/travels/book", &request(&route, 4))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some("Not enough seats available"))
        );

        let past = insert_departure(&app.state.db, Duration::minutes(-1), 10).await;
        let past_seats = footprint(&app, &past).await.0;
        let (status, body) = send(
            app.post("/api/travels/book", &request(&past, 1))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some("This departure has already left"))
        );

        assert_eq!(footprint(&app, &route).await, before);
        assert_eq!(footprint(&app, &past).await.0, past_seats);
        let metrics = app.text("/metrics").await;
        assert!(
            metrics.contains(r#"bookings_total{status="sold_out",function="travels-book"} 1"#),
            "{metrics}"
        );
        assert!(
            metrics.contains(r#"bookings_total{status="rejected",function="travels-book"} 2"#),
            "{metrics}"
        );
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn a_refusal_is_told_in_the_callers_language_and_detail_stays_english() {
        let app = TestApp::spawn_with(vec![super::function()], MANY).await;
        let token = app.token("ada");
        let route = departure(&app).await;
        set_seats(&app, &route, 1).await;

        let response = app
            .post("/api/travels/book", &request(&route, 2))
            .bearer_auth(&token)
            .header("Accept-Language", "fr-CM,fr;q=0.9,en;q=0.5")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-language"], "fr");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"detail": "Not enough seats available",
                "message": "Il n’y a pas assez de places disponibles"})
        );

        let past = insert_departure(&app.state.db, Duration::minutes(-1), 10).await;
        let (status, body) = send(
            app.post("/api/travels/book", &request(&past, 1))
                .bearer_auth(&token)
                .header("Accept-Language", "fr"),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some("Ce départ a déjà eu lieu"))
        );
        assert_eq!(body["detail"], "This departure has already left");

        let (status, body) = send(
            app.post("/api/travels/book", &request("route-nowhere-20261127", 1))
                .bearer_auth(&token)
                .header("Accept-Language", "fr"),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Trajet introuvable"))
        );
        assert_eq!(body["detail"], "Route not found");
    }

    #[tokio::test]
    async fn a_signed_in_users_stored_language_applies_unless_the_request_names_one() {
        let app = TestApp::spawn_with(vec![super::function()], MANY).await;
        sqlx::query("INSERT INTO users (uid, language) VALUES ('amina', 'fr')")
            .execute(&app.state.db)
            .await
            .unwrap();
        let token = app.token("amina");
        let route = departure(&app).await;
        set_seats(&app, &route, 1).await;

        let (status, body) = send(
            app.post("/api/travels/book", &request(&route, 3))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some("Il n’y a pas assez de places disponibles"))
        );

        let (status, body) = send(
            app.post("/api/travels/book", &request(&route, 3))
                .bearer_auth(&token)
                .header("Accept-Language", "en"),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some("Not enough seats available")),
            "the request's language beats the stored one"
        );

        let (status, body) = send(
            app.post("/api/travels/book", &request(&route, 3))
                .bearer_auth(app.token("bob")),
        )
        .await;
        assert_eq!(
            (status, body["message"].as_str()),
            (400, Some("Not enough seats available")),
            "English for a user who chose nothing"
        );
    }

    #[tokio::test]
    async fn invalid_fields_are_explained_in_french_and_detail_is_unchanged() {
        let app = TestApp::spawn_with(vec![super::function()], MANY).await;
        let body = json!({"route_id": "", "passengers": 0, "payment_method": "momo"});
        let english = send(
            app.post("/api/travels/book", &body)
                .bearer_auth(app.token("ada")),
        )
        .await;
        let (status, french) = send(
            app.post("/api/travels/book", &body)
                .bearer_auth(app.token("ada"))
                .header("Accept-Language", "fr"),
        )
        .await;
        assert_eq!((english.0, status), (422, 422));
        assert_eq!(
            english.1["message"],
            "route_id: must be 1 to 128 characters; passengers: must be between 1 and 20"
        );
        let parts: Vec<&str> = french["message"]
            .as_str()
            .unwrap()
            .split(';')
            .map(str::trim)
            .collect();
        assert_eq!(
            parts,
            [
                "route_id : doit contenir de 1 à 128 caractères",
                "passengers : doit être compris entre 1 et 20"
            ]
        );
        assert_eq!(french["detail"], english.1["detail"]);
        assert_eq!(
            french["detail"][1],
            json!({"loc": ["body", "passengers"], "msg": "must be between 1 and 20",
                "type": "value_error.range"})
        );
    }

    /// Books `sizes` at once, one user each, on a departure with `seats` free:
    /// returns each answer's status, message and party size.
    async fn rush(app: &TestApp, route: &str, sizes: Vec<i64>) -> Vec<(u16, Value, i64)> {
        let tasks: Vec<_> = sizes
            .into_iter()
            .enumerate()
            .map(|(i, n)| {
                let req = app
                    .post("/api/travels/book", &request(route, n))
                    .bearer_auth(app.token(&format!("rush-{i}")));
                tokio::spawn(async move {
                    let (status, body) = send(req).await;
                    (status, body["message"].clone(), n)
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    async fn booked_passengers(app: &TestApp) -> i64 {
        sqlx::query_scalar(
            "SELECT COALESCE(sum(passengers), 0)::int8 FROM bookings WHERE status = 'confirmed'",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_hundred_concurrent_bookings_never_oversell_eight_seats() {
        let app = TestApp::spawn_with(vec![super::function()], MANY).await;
        let route = departure(&app).await;
        set_seats(&app, &route, 8).await;
        let started = Instant::now();
        let answers = rush(&app, &route, vec![1; 100]).await;
        eprintln!(
            "100 concurrent bookings answered in {:?}",
            started.elapsed()
        );
        let confirmed = answers.iter().filter(|(s, _, _)| *s == 200).count();
        assert_eq!(confirmed, 8);
        for (status, message, _) in answers.iter().filter(|(s, _, _)| *s != 200) {
            assert_eq!(
                (*status, message.as_str()),
                (400, Some("Not enough seats available"))
            );
        }
        assert_eq!(footprint(&app, &route).await, (0, 8, 8));
        assert_eq!(booked_passengers(&app).await, 8);
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn concurrent_parties_of_mixed_sizes_never_oversell() {
        let app = TestApp::spawn_with(vec![super::function()], MANY).await;
        let route = departure(&app).await;
        set_seats(&app, &route, 10).await;
        let sizes: Vec<i64> = (0..40).map(|i| [1, 2, 3, 1, 4][i % 5]).collect();
        let answers = rush(&app, &route, sizes).await;
        let taken: i64 = answers
            .iter()
            .filter(|(s, _, _)| *s == 200)
            .map(|(_, _, n)| n)
            .sum();
        assert!(
            answers
                .iter()
                .all(|(s, m, _)| *s == 200 || m == "Not enough seats available")
        );
        let left = footprint(&app, &route).await.0;
        assert_eq!(i64::from(left) + taken, 10);
        assert_eq!(booked_passengers(&app).await, taken);
        assert!(
            left < 1
                || answers
                    .iter()
                    .all(|(s, _, n)| *s == 200 || *n > i64::from(left)),
            "a party that fitted was refused"
        );
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn the_sixth_booking_in_a_minute_is_429() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let route = departure(&app).await;
        let token = app.token("eager");
        for _ in 0..5 {
            let (status, _) = send(
                app.post("/api/travels/book", &request(&route, 1))
                    .bearer_auth(&token),
            )
            .await;
            assert_eq!(status, 200);
        }
        let response = app
            .post("/api/travels/book", &request(&route, 1))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
        let (_, bookings, _) = footprint(&app, &route).await;
        assert_eq!(bookings, 5);
        let (status, _) = send(
            app.post("/api/travels/book", &request(&route, 1))
                .bearer_auth(app.token("other")),
        )
        .await;
        assert_eq!(status, 200, "the limit is per user");
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn a_retry_with_the_same_key_books_once() {
        let app = TestApp::spawn_with(vec![super::function()], MANY).await;
        let route = departure(&app).await;
        let (seats, _, _) = footprint(&app, &route).await;
        let token = app.token("ada");
        let once = || {
            app.post("/api/travels/book", &request(&route, 3))
                .bearer_auth(&token)
                .header("Idempotency-Key", "k-1")
        };
        let (s1, first) = send(once()).await;
        let (s2, second) = send(once()).await;
        assert_eq!((s1, s2), (200, 200));
        assert_eq!(first, second);
        assert_eq!(footprint(&app, &route).await, (seats - 3, 1, 1));

        let (status, body) = send(
            app.post("/api/travels/book", &request(&route, 2))
                .bearer_auth(&token)
                .header("Idempotency-Key", "k-1"),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["header", "Idempotency-Key"])
        );
        let (status, _) = send(
            app.post("/api/travels/book", &request(&route, 3))
                .bearer_auth(app.token("bob"))
                .header("Idempotency-Key", "k-1"),
        )
        .await;
        assert_eq!(status, 200, "keys are per user");
        assert_eq!(footprint(&app, &route).await, (seats - 6, 2, 2));

        for bad in ["x".repeat(300), "has space".into()] {
            let (status, _) = send(
                app.post("/api/travels/book", &request(&route, 1))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", bad),
            )
            .await;
            assert_eq!(status, 422);
        }
        assert_eq!(footprint(&app, &route).await, (seats - 6, 2, 2));
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn bad_input_is_refused_and_changes_nothing() {
        let app = TestApp::spawn_with(vec![super::function()], MANY).await;
        let route = departure(&app).await;
        let before = footprint(&app, &route).await;
        let token = app.token("ada");
        let long = "x".repeat(281);
        let bodies = [
            request(&route, 0),
            request(&route, 21),
            json!({"route_id": route, "passengers": 1, "payment_method": "bitcoin"}),
            json!({"route_id": route, "passengers": 1, "payment_method": "cash", "special_requests": long}),
            json!({"route_id": route, "passengers": 1}),
            json!({"route_id": "", "passengers": 1, "payment_method": "card"}),
            json!({"route_id": route, "passengers": "two", "payment_method": "card"}),
        ];
        for body in &bodies {
            let (status, answer) =
                send(app.post("/api/travels/book", body).bearer_auth(&token)).await;
            assert_eq!(status, 422, "{body} -> {answer}");
            assert!(answer["message"].is_string() && answer["detail"].is_array());
        }
        let raw = [
            format!(
                r#"{{"route_id":"{route}","passengers":1,"payment_method":"card","special_requests":"a\u0000b"}}"#
            ),
            format!(r#"{{"route_id":"{route}","passengers":1,"payment_method":"card"}} trailing"#),
            "{not json".to_owned(),
        ];
        for body in raw {
            let req = app
                .client
                .post(app.url("/api/travels/book"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.clone());
            let (status, _) = send(req).await;
            assert_eq!(status, 422, "{body}");
        }
        let (status, _) = send(app.post("/api/travels/book", &request(&route, 1))).await;
        assert_eq!(status, 401);
        assert_eq!(footprint(&app, &route).await, before);
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn mangled_bodies_are_refused_and_never_a_server_error() {
        let settings = [
            ("RATE_LIMIT_BOOKING", "100000"),
            ("AUTH_FAILURE_LIMIT", "100000"),
        ];
        let app = TestApp::spawn_with(vec![super::function()], &settings).await;
        let seed = json!({"route_id": departure(&app).await, "passengers": 1,
            "payment_method": "momo", "special_requests": "window"});
        let token = app.token("fuzzer");
        let statuses =
            shared::testing::fuzz_json(&app, "/api/travels/book", &seed, Some(&token), 400).await;
        assert!(
            statuses.get(&422).copied().unwrap_or(0) > 100,
            "{statuses:?}"
        );
        let (taken, booked): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT sum(total_seats - available_seats) FROM travel_routes),
                    (SELECT coalesce(sum(passengers), 0) FROM bookings WHERE status = 'confirmed')",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(
            taken, booked,
            "seats taken match bookings made: {statuses:?}"
        );
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn bookings_stay_exact_while_redis_restarts() {
        let redis = shared::testing::redis_url();
        let authority = redis
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap();
        let target = authority.rsplit('@').next().unwrap().to_owned();
        let proxy = shared::testing::FaultProxy::start(&target).await;
        let via = shared::testing::via(&redis, proxy.addr);
        let settings = [
            ("RATE_LIMIT_BOOKING", "1000"),
            ("REDIS_URL", via.as_str()),
            ("REDIS_TIMEOUT_MS", "100"),
        ];
        let app = TestApp::spawn_with(vec![super::function()], &settings).await;
        let route = departure(&app).await;
        let total: i32 = sqlx::query_scalar("SELECT total_seats FROM travel_routes WHERE id = $1")
            .bind(&route)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        let flapping = tokio::spawn(async move {
            for i in 0..20 {
                if i % 2 == 0 {
                    proxy.down();
                } else {
                    proxy.up();
                }
                tokio::time::sleep(std::time::Duration::from_millis(40)).await;
            }
            proxy.up();
        });
        let mut requests = tokio::task::JoinSet::new();
        for i in 0..60 {
            let request = app
                .post(
                    "/api/travels/book",
                    &json!({"route_id": route, "passengers": 1 + i % 2, "payment_method": "momo"}),
                )
                .bearer_auth(app.token(&format!("rider-{i}")))
                .header("Idempotency-Key", format!("flap-{i}"));
            requests.spawn(send(request));
        }
        let answers = requests.join_all().await;
        flapping.await.unwrap();
        for (status, body) in &answers {
            assert!([200, 400].contains(status), "{status} {body}");
        }
        let (available, booked): (i32, i64) = sqlx::query_as(
            "SELECT t.available_seats,
                    (SELECT coalesce(sum(passengers), 0) FROM bookings WHERE route_id = t.id AND status = 'confirmed')
             FROM travel_routes t WHERE t.id = $1",
        )
        .bind(&route)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(
            i64::from(total - available),
            booked,
            "seats taken equal seats confirmed"
        );
        assert_eq!(available, 0, "60 requests sell every seat");
        let confirmed: i64 = answers.iter().filter(|(s, _)| *s == 200).count() as i64;
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM bookings WHERE route_id = $1")
            .bind(&route)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert_eq!(
            confirmed, rows,
            "one row per confirmed answer, nothing half-written"
        );
        assert_seats_add_up(&app.state.db).await;
    }
}
