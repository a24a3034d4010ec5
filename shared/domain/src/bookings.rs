//! Bookings: seats taken on a dated departure, in the shapes the booking
//! functions answer with. What several of them share lives here: the booking
//! read together with its departure, vehicle and people; the e-ticket link;
//! and departure times as travellers read them (West Africa Time).

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::tickets;
use crate::users::NameParts;
use shared::config::Config;
use shared::error::ApiError;

/// A booking with its departure, the departure's vehicle and driver, and the
/// passenger who booked it: what the history and the e-ticket show.
#[derive(Debug, Clone, FromRow)]
pub struct BookingRecord {
    pub id: Uuid,
    pub user_id: String,
    /// The booker's public name (`users::public_name`), else "Traveller".
    #[sqlx(try_from = "NameParts")]
    pub passenger_name: Option<String>,
    pub passengers: i32,
    /// Names stored with the booking (a JSON array; usually empty).
    pub passenger_names: serde_json::Value,
    pub total_price: f64,
    pub payment_method: String,
    pub payment_status: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The dated departure (`travel_routes.id`).
    pub trip_id: String,
    /// The service it belongs to (`route_schedules.id`), else the departure's id.
    pub route_id: String,
    /// City names.
    pub origin: String,
    pub destination: String,
    pub distance_km: Option<f64>,
    pub duration_minutes: Option<i32>,
    /// `ST_AsEWKB` of the route's line, for [`crate::geo::geojson`].
    pub geometry: Option<Vec<u8>>,
    pub departure_time: DateTime<Utc>,
    pub estimated_arrival: DateTime<Utc>,
    pub total_seats: i32,
    pub available_seats: i32,
    pub price_per_seat: f64,
    /// Null for company departures (no vehicle).
    pub vehicle_type: Option<String>,
    pub vehicle_registration: Option<String>,
    /// The driver's public name (`users::public_name`), else "Driver"; null for
    /// company departures.
    #[sqlx(try_from = "NameParts")]
    pub driver_name: Option<String>,
}

/// `SELECT` of every [`BookingRecord`] column from `bookings b` joined with its
/// departure `t`; add `WHERE`/`ORDER BY` on `b.` columns.
pub const SELECT_BOOKINGS: &str = concat!(
    "SELECT b.id, b.user_id, ",
    crate::name_parts_sql!("u", "Traveller"),
    " AS passenger_name,
        b.passengers, b.passenger_names, b.total_price::float8 AS total_price,
        b.payment_method, b.payment_status, b.status, b.created_at, b.cancelled_at,
        t.id AS trip_id, COALESCE(t.schedule_id, t.id) AS route_id,
        COALESCE(oc.name, t.origin) AS origin, COALESCE(dc.name, t.destination) AS destination,
        t.distance_km, t.duration_minutes, ST_AsEWKB(t.geometry) AS geometry,
        t.departure_time, t.estimated_arrival, t.total_seats, t.available_seats,
        t.price_per_seat::float8 AS price_per_seat,
        v.vehicle_type, v.license_plate AS vehicle_registration,
        CASE WHEN t.vehicle_id IS NOT NULL THEN ",
    crate::name_parts_sql!("o", "Driver"),
    " ELSE '{}'::text[] END AS driver_name
    FROM bookings b
    JOIN travel_routes t ON t.id = b.route_id
    JOIN users u ON u.uid = b.user_id
    LEFT JOIN cities oc ON oc.id = t.origin_city_id
    LEFT JOIN cities dc ON dc.id = t.destination_city_id
    LEFT JOIN vehicles v ON v.id = t.vehicle_id
    LEFT JOIN users o ON o.uid = t.owner_id"
);

/// The e-ticket signing key, or 503 when `TICKET_SIGNING_KEY` is not configured.
pub fn ticket_key(config: &Config) -> Result<&[u8], ApiError> {
    config
        .ticket_key
        .as_deref()
        .ok_or_else(|| ApiError::Unavailable(crate::MESSAGES.text("tickets-unavailable")))
}

/// The public e-ticket link of `booking`, valid for `TICKET_TTL_SECONDS` from
/// now; 503 when no signing key is configured.
pub fn ticket_url(config: &Config, booking: Uuid) -> Result<String, ApiError> {
    let key = ticket_key(config)?;
    let ttl = chrono::Duration::from_std(config.ticket_ttl).map_err(ApiError::internal)?;
    let token = tickets::sign(key, booking, Utc::now() + ttl);
    let base = config.public_base_url.trim_end_matches('/');
    Ok(format!("{base}{}", tickets::path(&token)))
}
