//! `GET /api/bookings/history`: the caller's bookings, newest first, a page
//! at a time, each with its trip in the app's own (camelCase) shape.

use chrono::{DateTime, Utc};
use domain::bookings::{BookingRecord, SELECT_BOOKINGS, ticket_url};
use domain::geo;
use shared::prelude::*;
use uuid::Uuid;

/// This function: its route and manifest.
pub fn function() -> Function {
    shared::function!(OpenApiRouter::new().routes(routes!(history)))
}

/// Which page: `?page=1&pageSize=20`, at most 100.
pub type Page = PageQuery<20, 100>;

/// One page of the caller's bookings.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingHistory {
    pub bookings: Vec<HistoryBooking>,
    pub page: i64,
    pub page_size: i64,
    /// Whether a next page exists.
    pub has_more: bool,
}

/// A booking as the app's history screen reads it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryBooking {
    #[schema(value_type = String, example = "0f8fad5b-d9cb-469f-a165-70867728950e")]
    pub id: Uuid,
    pub user_id: String,
    pub trip: BookedTrip,
    /// One entry per seat: the stored passenger names when the booking has
    /// them, else `Passenger 1`, `Passenger 2`, ... for the booked count.
    pub passengers: Vec<BookedPassenger>,
    pub booking_date: DateTime<Utc>,
    /// XAF.
    pub total_price: f64,
    /// `confirmed` | `pending` | `cancelled` | `completed`.
    pub status: String,
    /// `card` | `momo` | `orange_money` | `cash`.
    pub payment_method: String,
    /// `pending` | `paid` | `refunded` | `failed`.
    pub payment_status: String,
    /// The signed e-ticket link, as `GET /api/bookings/{id}/ticket` gives it.
    #[serde(rename = "eTicketUrl")]
    pub e_ticket_url: Option<String>,
}

/// A seat's traveller.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookedPassenger {
    #[schema(example = "Passenger 1")]
    pub name: String,
}

/// The dated departure a booking is on.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookedTrip {
    #[schema(example = "route-yaounde-douala-morning-20261127")]
    pub id: String,
    pub route: BookedRoute,
    pub departure_time: DateTime<Utc>,
    pub estimated_arrival_time: DateTime<Utc>,
    pub total_seats: i32,
    pub available_seats: i32,
    pub price_per_seat: f64,
    /// Null for company departures; set for rides a driver published.
    pub vehicle_type: Option<String>,
    pub driver_name: Option<String>,
    pub vehicle_registration: Option<String>,
}

/// The route a trip runs on.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookedRoute {
    #[schema(example = "route-yaounde-douala-morning")]
    pub id: String,
    /// City name.
    #[schema(example = "Yaounde")]
    pub origin: String,
    #[schema(example = "Douala")]
    pub destination: String,
    /// Kilometres.
    pub distance: Option<f64>,
    /// Minutes.
    pub estimated_duration: Option<i32>,
    /// GeoJSON LineString text.
    pub route_geometry: Option<String>,
}

/// The caller's bookings, newest first (`pageSize` 20 by default, at most 100).
#[utoipa::path(get, path = "/api/bookings/history", tag = "Travel",
    security(("FirebaseAuth" = [])), params(Page),
    responses((status = 200, body = BookingHistory), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    user: AuthUser,
    Query(page): Query<Page>,
) -> ApiResult<Json<BookingHistory>> {
    let sql = format!(
        "{SELECT_BOOKINGS} WHERE b.user_id = $1 ORDER BY b.created_at DESC, b.id DESC LIMIT $2 OFFSET $3"
    );
    let mut rows: Vec<BookingRecord> = sqlx::query_as(&sql)
        .bind(&user.uid)
        .bind(page.size() + 1)
        .bind(page.offset())
        .fetch_all(&state.db)
        .await?;
    let has_more = rows.len() as i64 > page.size();
    rows.truncate(page.size() as usize);
    let bookings = rows.into_iter().map(|r| shape(&state, r)).collect();
    Ok(Json(BookingHistory {
        bookings,
        page: page.page(),
        page_size: page.size(),
        has_more,
    }))
}

fn shape(state: &AppState, r: BookingRecord) -> HistoryBooking {
    HistoryBooking {
        e_ticket_url: ticket_url(&state.config, r.id).ok(),
        passengers: passengers(&r.passenger_names, r.passengers),
        id: r.id,
        user_id: r.user_id,
        booking_date: r.created_at,
        total_price: r.total_price,
        status: r.status,
        payment_method: r.payment_method,
        payment_status: r.payment_status,
        trip: BookedTrip {
            id: r.trip_id,
            route: BookedRoute {
                id: r.route_id,
                origin: r.origin,
                destination: r.destination,
                distance: r.distance_km,
                estimated_duration: r.duration_minutes,
                route_geometry: geo::geojson(r.geometry),
            },
            departure_time: r.departure_time,
            estimated_arrival_time: r.estimated_arrival,
            total_seats: r.total_seats,
            available_seats: r.available_seats,
            price_per_seat: r.price_per_seat,
            vehicle_type: r.vehicle_type,
            driver_name: r.driver_name,
            vehicle_registration: r.vehicle_registration,
        },
    }
}

/// The stored names when there is one per seat, else numbered placeholders.
fn passengers(stored: &serde_json::Value, count: i32) -> Vec<BookedPassenger> {
    let names: Vec<&str> = stored
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    if names.len() == count as usize {
        names
            .into_iter()
            .map(|n| BookedPassenger { name: n.to_owned() })
            .collect()
    } else {
        (1..=count)
            .map(|i| BookedPassenger {
                name: format!("Passenger {i}"),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::tickets;
    use serde_json::{Value, json};
    use shared::testing::{TestApp, assert_seats_add_up, send};
    use uuid::Uuid;

    /// A booking of `seats` on `route` by `uid`, made `age_minutes` ago.
    async fn booking(app: &TestApp, uid: &str, route: &str, seats: i32, age_minutes: i32) -> Uuid {
        sqlx::query("INSERT INTO users (uid, email) VALUES ($1, $1 || '@example.test') ON CONFLICT DO NOTHING")
            .bind(uid)
            .execute(&app.state.db)
            .await
            .unwrap();
        sqlx::query_scalar(
            "WITH t AS (UPDATE travel_routes SET available_seats = available_seats - $3
                        WHERE id = $2 RETURNING id, price_per_seat)
             INSERT INTO bookings (user_id, route_id, passengers, total_price, payment_method, created_at)
             SELECT $1, id, $3, price_per_seat * $3, 'momo', now() - make_interval(mins => $4) FROM t
             RETURNING id",
        )
        .bind(uid)
        .bind(route)
        .bind(seats)
        .bind(age_minutes)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    /// The `n`th coming departure of a daily route.
    async fn departure(app: &TestApp, schedule: &str, n: i64) -> String {
        sqlx::query_scalar(
            "SELECT id FROM travel_routes WHERE schedule_id = $1 AND departure_time > now()
             ORDER BY departure_time OFFSET $2 LIMIT 1",
        )
        .bind(schedule)
        .bind(n)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    }

    async fn history(app: &TestApp, uid: &str, query: &str) -> (u16, Value) {
        send(
            app.get(&format!("/api/bookings/history{query}"))
                .bearer_auth(app.token(uid)),
        )
        .await
    }

    #[tokio::test]
    async fn lists_the_callers_bookings_newest_first_in_the_apps_shape() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let morning = departure(&app, "route-yaounde-douala-morning", 1).await;
        let older = booking(&app, "ada", &morning, 1, 60).await;
        let newer = booking(&app, "ada", &morning, 2, 5).await;
        let (status, body) = history(&app, "ada", "").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (
                body["page"].clone(),
                body["pageSize"].clone(),
                body["hasMore"].clone()
            ),
            (json!(1), json!(20), json!(false))
        );
        let ids: Vec<&str> = body["bookings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [newer.to_string(), older.to_string()]);

        let b = &body["bookings"][0];
        let mut keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "bookingDate",
                "eTicketUrl",
                "id",
                "passengers",
                "paymentMethod",
                "paymentStatus",
                "status",
                "totalPrice",
                "trip",
                "userId"
            ]
        );
        assert_eq!(b["userId"], "ada");
        assert_eq!(
            b["passengers"],
            json!([{"name": "Passenger 1"}, {"name": "Passenger 2"}])
        );
        assert_eq!(b["totalPrice"], json!(11000.0));
        assert_eq!(
            (
                b["status"].as_str(),
                b["paymentMethod"].as_str(),
                b["paymentStatus"].as_str()
            ),
            (Some("confirmed"), Some("momo"), Some("pending"))
        );
        assert!(
            b["bookingDate"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<Utc>>()
                .is_ok()
        );

        let trip = &b["trip"];
        assert_eq!(trip["id"], morning.as_str());
        assert_eq!(
            (
                trip["totalSeats"].clone(),
                trip["availableSeats"].clone(),
                trip["pricePerSeat"].clone()
            ),
            (json!(8), json!(5), json!(5500.0))
        );
        assert_eq!(
            (
                trip["vehicleType"].clone(),
                trip["driverName"].clone(),
                trip["vehicleRegistration"].clone()
            ),
            (Value::Null, Value::Null, Value::Null)
        );
        let departure: chrono::DateTime<Utc> =
            trip["departureTime"].as_str().unwrap().parse().unwrap();
        let arrival: chrono::DateTime<Utc> = trip["estimatedArrivalTime"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!((arrival - departure).num_minutes(), 225);
        let route = &trip["route"];
        assert_eq!(
            (
                route["id"].as_str(),
                route["origin"].as_str(),
                route["destination"].as_str()
            ),
            (
                Some("route-yaounde-douala-morning"),
                Some("Yaounde"),
                Some("Douala")
            )
        );
        assert_eq!(
            (
                route["distance"].clone(),
                route["estimatedDuration"].clone()
            ),
            (json!(230.0), json!(225))
        );
        let line: Value = serde_json::from_str(route["routeGeometry"].as_str().unwrap()).unwrap();
        assert_eq!(line["type"], "LineString");

        let url = b["eTicketUrl"].as_str().unwrap();
        let token = url.strip_prefix("http://127.0.0.1:8080/tickets/").unwrap();
        let key = app.state.config.ticket_key.as_deref().unwrap();
        assert_eq!(tickets::verify(key, token, Utc::now()), Some(newer));
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn a_published_ride_names_its_vehicle_and_driver() {
        let app = TestApp::spawn(vec![super::function()]).await;
        sqlx::query("INSERT INTO users (uid, email, display_name) VALUES ('driver', 'jean.mbarga@example.test', 'Jean Mbarga')")
            .execute(&app.state.db).await.unwrap();
        sqlx::query(
            "WITH v AS (INSERT INTO vehicles (owner_id, vehicle_type, license_plate, capacity)
                        VALUES ('driver', 'minibus', 'CE-123-AB', 15) RETURNING id)
             INSERT INTO travel_routes (id, origin, destination, origin_city_id, destination_city_id,
                 departure_time, estimated_arrival, total_seats, available_seats, price_per_seat,
                 confidence, vehicle_id, owner_id)
             SELECT 'ride-1', 'Douala', 'Buea', 'douala', 'buea', now() + interval '2 days',
                 now() + interval '2 days 90 minutes', 10, 10, 3000, 0.95, v.id, 'driver' FROM v",
        )
        .execute(&app.state.db).await.unwrap();
        booking(&app, "ada", "ride-1", 1, 0).await;
        let (status, body) = history(&app, "ada", "").await;
        assert_eq!(status, 200);
        let trip = &body["bookings"][0]["trip"];
        assert_eq!(
            (
                trip["vehicleType"].as_str(),
                trip["driverName"].as_str(),
                trip["vehicleRegistration"].as_str()
            ),
            (Some("minibus"), Some("Jean M."), Some("CE-123-AB"))
        );
        // Without a name the driver is "Driver", never their e-mail or its local part.
        sqlx::query("UPDATE users SET display_name = NULL WHERE uid = 'driver'")
            .execute(&app.state.db)
            .await
            .unwrap();
        let (_, body) = history(&app, "ada", "").await;
        assert_eq!(body["bookings"][0]["trip"]["driverName"], "Driver");
        let text = body.to_string();
        assert!(
            !text.contains("jean.mbarga") && !text.contains('@'),
            "{text}"
        );
        assert_eq!(
            (
                trip["route"]["id"].as_str(),
                trip["route"]["origin"].as_str(),
                trip["route"]["destination"].as_str()
            ),
            (Some("ride-1"), Some("Douala"), Some("Buea"))
        );
        assert_eq!(trip["route"]["routeGeometry"], Value::Null);
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn pages_through_a_long_history() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for i in 0..25 {
            let route = departure(&app, "route-yaounde-douala-morning", i % 10).await;
            booking(&app, "ada", &route, 1, i as i32).await;
        }
        let (status, first) = history(&app, "ada", "").await;
        assert_eq!(
            (
                status,
                first["bookings"].as_array().unwrap().len(),
                first["hasMore"].clone()
            ),
            (200, 20, json!(true))
        );
        let (_, second) = history(&app, "ada", "?page=2&pageSize=20").await;
        assert_eq!(
            (
                second["bookings"].as_array().unwrap().len(),
                second["hasMore"].clone()
            ),
            (5, json!(false))
        );
        let (_, small) = history(&app, "ada", "?page=3&pageSize=10").await;
        assert_eq!(small["bookings"].as_array().unwrap().len(), 5);
        assert_eq!(
            small["bookings"][4]["id"], second["bookings"][4]["id"],
            "the oldest is last"
        );
        for bad in [
            "?pageSize=101",
            "?pageSize=0",
            "?page=0",
            "?page=abc",
            "?pageSize=-5",
        ] {
            let (status, body) = history(&app, "ada", bad).await;
            assert_eq!(status, 422, "{bad}: {body}");
            assert_eq!(body["detail"][0]["loc"][0], "query");
        }
        assert_seats_add_up(&app.state.db).await;
    }

    #[tokio::test]
    async fn nobody_sees_anyone_elses_bookings() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let route = departure(&app, "route-yaounde-douala-morning", 1).await;
        booking(&app, "ada", &route, 1, 0).await;
        let (status, body) = history(&app, "bob", "").await;
        assert_eq!((status, body["bookings"].clone()), (200, json!([])));
        let (status, _) = send(app.get("/api/bookings/history")).await;
        assert_eq!(status, 401);
        assert_seats_add_up(&app.state.db).await;
    }
}
