//! Travel: routes (daily schedules or published rides) and their dated
//! departures, in the shapes the travel functions answer with, plus what
//! several of them do alike: paging, reading a departure, the Africa/Douala
//! day of a requested date, and publishing a driver's ride.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Row};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use shared::error::{ApiError, ApiResult, FieldError, bad_request, forbidden, not_found};
use shared::extract::{Validate, Validator};

use crate::MESSAGES;

/// One dated departure, as `GET /api/travels` lists it. `id` is the
/// departure's id (`travel_routes.id`): what the app books.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow, ToSchema)]
pub struct TravelSummary {
    #[schema(example = "route-yaounde-douala-morning-20261127")]
    pub id: String,
    #[schema(example = "Yaounde")]
    pub origin: String,
    #[schema(example = "Douala")]
    pub destination: String,
    pub departure_time: DateTime<Utc>,
    pub estimated_arrival: DateTime<Utc>,
    pub available_seats: i32,
    /// XAF.
    #[schema(example = 5500.0)]
    pub price_per_seat: f64,
    /// 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    pub confidence: f64,
}

/// A departure with its road: [`TravelSummary`] plus geometry, distance,
/// duration and amenities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TravelDetail {
    #[serde(flatten)]
    pub summary: TravelSummary,
    /// GeoJSON text of the road's LineString, or null.
    pub route_geometry: Option<String>,
    /// The stored distance, else the road's geodesic length.
    pub distance_km: Option<f64>,
    pub duration_minutes: Option<i32>,
    pub amenities: Vec<String>,
}

macro_rules! summary_columns {
    () => {
        "t.id, t.origin, t.destination, t.departure_time, t.estimated_arrival, \
         t.available_seats, t.price_per_seat::float8 AS price_per_seat, t.confidence"
    };
}

/// `SELECT` of every [`TravelSummary`] column from `travel_routes t`; add `WHERE`/`ORDER BY`.
pub const SELECT_SUMMARIES: &str = concat!("SELECT ", summary_columns!(), " FROM travel_routes t");

/// `SELECT` of every [`TravelDetail`] column from `travel_routes t`.
pub const SELECT_DETAILS: &str = concat!(
    "SELECT ",
    summary_columns!(),
    ", ST_AsEWKB(t.geometry) AS geometry_ewkb, \
     COALESCE(t.distance_km, ST_Length(t.geometry::geography) / 1000.0) AS distance_km, \
     t.duration_minutes, t.amenities FROM travel_routes t"
);

impl<'r> FromRow<'r, PgRow> for TravelDetail {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            summary: TravelSummary::from_row(row)?,
            route_geometry: super::geo::geojson(row.try_get("geometry_ewkb")?),
            distance_km: row.try_get("distance_km")?,
            duration_minutes: row.try_get("duration_minutes")?,
            amenities: row.try_get("amenities")?,
        })
    }
}

/// The condition (on `travel_routes t`, id at `$1`) that finds a departure
/// by its own id, or a schedule's next upcoming departure by the schedule id.
/// Order by [`RESOLVE_ORDER`] and take one row.
pub const RESOLVE_WHERE: &str =
    "(t.id = $1 OR (t.schedule_id = $1 AND t.departure_time > now() AND t.cancelled_at IS NULL))";

/// Puts the exact departure first, then the soonest one.
pub const RESOLVE_ORDER: &str = "ORDER BY (t.id = $1) DESC, t.departure_time LIMIT 1";

/// The detail of a departure, or of a schedule's next departure (see [`RESOLVE_WHERE`]).
pub async fn find_detail(
    conn: &mut PgConnection,
    route_id: &str,
) -> Result<Option<TravelDetail>, sqlx::Error> {
    let sql = format!("{SELECT_DETAILS} WHERE {RESOLVE_WHERE} {RESOLVE_ORDER}");
    sqlx::query_as(&sql)
        .bind(route_id)
        .fetch_optional(conn)
        .await
}

/// `404 "Route not found"`.
pub fn route_not_found() -> ApiError {
    not_found(MESSAGES.text("thing-route"))
}

/// `?limit=` (1 to 100, default 50) and `?offset=` (0 to 100 000, default 0).
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// At most this many items, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    #[serde(default = "default_limit")]
    pub limit: i64,
    /// Skip this many items (default 0).
    #[serde(default)]
    pub offset: i64,
}

fn default_limit() -> i64 {
    50
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: default_limit(),
            offset: 0,
        }
    }
}

impl Validate for Page {
    fn validate(&self) -> Vec<FieldError> {
        Validator::query()
            .range("limit", self.limit, 1, 100)
            .range("offset", self.offset, 0, 100_000)
            .finish()
    }
}

/// Whether `s` is a `departure_date` the API takes: a full ISO 8601 instant
/// with its offset (`2026-11-27T11:00:00.000Z`, from JS `toISOString()`) or a
/// plain `YYYY-MM-DD`.
pub fn is_departure_date(s: &str) -> bool {
    if s.len() == 10 {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
    } else {
        s.len() <= 40 && DateTime::parse_from_rfc3339(s).is_ok()
    }
}

/// SQL for the Africa/Douala calendar day of a validated `departure_date`
/// bound as text at `$n` (see [`is_departure_date`]): a plain date is that
/// day, an instant is converted with the zone's rules by Postgres.
pub fn douala_day_sql(n: u8) -> String {
    format!(
        "(CASE WHEN length(${n}::text) = 10 THEN ${n}::text::date \
         ELSE (${n}::text::timestamptz AT TIME ZONE 'Africa/Douala')::date END)"
    )
}

/// A ride a vehicle owner publishes, as both publishing endpoints take it.
#[derive(Debug, Clone)]
pub struct NewRide {
    pub vehicle_id: Uuid,
    pub origin: String,
    pub destination: String,
    pub departure_time: DateTime<Utc>,
    /// When absent: the corridor's usual duration, else its distance at 60 km/h, else 3 hours.
    pub estimated_arrival: Option<DateTime<Utc>>,
    pub seats: i32,
    pub price_per_seat: f64,
    pub amenities: Vec<String>,
    /// When absent: the length of the corridor's road.
    pub distance_km: Option<f64>,
    pub duration_minutes: Option<i32>,
    pub notes: Option<String>,
}

/// What publishing wrote.
#[derive(Debug, Clone)]
pub struct Published {
    /// The ride's `route_schedules` id.
    pub schedule_id: String,
    /// Its departure's `travel_routes` id (what the app books).
    pub route_id: String,
    /// False when the vehicle already had a ride at that instant, now updated.
    pub created: bool,
}

/// Publishes `ride` for `owner` on `conn` (the caller's transaction): one
/// `route_schedules` row (not daily, confidence 0.95) and its one departure.
/// The same vehicle and departure instant again updates that ride, keeping
/// the seats already booked; once the ride has live bookings, its route,
/// times and price no longer change (409): passengers keep what they booked. The vehicle row is locked, so two publishes of
/// one vehicle run one after the other.
pub async fn publish(conn: &mut PgConnection, owner: &str, ride: &NewRide) -> ApiResult<Published> {
    if !super::users::hold(conn, owner).await? {
        return Err(super::users::account_deleted());
    }
    let vehicle: Option<(String, i32, bool)> = sqlx::query_as(
        "SELECT owner_id, capacity, is_active FROM vehicles WHERE id = $1 FOR NO KEY UPDATE",
    )
    .bind(ride.vehicle_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (vehicle_owner, capacity, active) =
        vehicle.ok_or_else(|| not_found(MESSAGES.text("thing-vehicle")))?;
    if vehicle_owner != owner {
        return Err(forbidden(MESSAGES.text("vehicle-not-yours")));
    }
    if !active {
        return Err(bad_request(MESSAGES.text("vehicle-inactive")));
    }
    if ride.seats > capacity {
        return Err(bad_request(
            MESSAGES
                .text("seats-over-capacity")
                .arg("capacity", capacity),
        ));
    }
    if ride.departure_time <= Utc::now() {
        return Err(bad_request(MESSAGES.text("departure-in-past")));
    }
    if ride
        .estimated_arrival
        .is_some_and(|arrival| arrival <= ride.departure_time)
    {
        return Err(bad_request(MESSAGES.text("arrival-before-departure")));
    }
    let duration = ride.duration_minutes.or_else(|| {
        let arrival = ride.estimated_arrival?;
        let minutes = ((arrival - ride.departure_time).num_seconds() + 59) / 60;
        i32::try_from(minutes).ok()
    });

    let existing: Option<(Option<String>, i64, bool)> = sqlx::query_as(EXISTING)
        .bind(ride.vehicle_id)
        .bind(ride.departure_time)
        .bind(&ride.origin)
        .bind(&ride.destination)
        .bind(ride.price_per_seat)
        .bind(ride.estimated_arrival)
        .bind(ride.duration_minutes)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some((_, booked, false)) = existing
        && booked > 0
    {
        return Err(ApiError::Conflict(
            MESSAGES.text("ride-has-bookings").arg("booked", booked),
        ));
    }
    let schedule_id = existing.and_then(|e| e.0).unwrap_or_else(new_ride_id);

    sqlx::query(UPSERT_SCHEDULE)
        .bind(&schedule_id)
        .bind(&ride.origin)
        .bind(&ride.destination)
        .bind(ride.departure_time)
        .bind(duration)
        .bind(ride.seats)
        .bind(ride.price_per_seat)
        .bind(ride.distance_km)
        .bind(&ride.amenities)
        .bind(ride.vehicle_id)
        .bind(owner)
        .bind(&ride.notes)
        .execute(&mut *conn)
        .await?;
    let departure: Option<(String, bool)> = sqlx::query_as(UPSERT_DEPARTURE)
        .bind(&schedule_id)
        .bind(new_ride_id())
        .bind(ride.departure_time)
        .bind(ride.estimated_arrival)
        .fetch_optional(&mut *conn)
        .await?;
    let (route_id, created) =
        departure.ok_or_else(|| bad_request(MESSAGES.text("seats-below-booked")))?;
    Ok(Published {
        schedule_id,
        route_id,
        created,
    })
}

/// The vehicle's ride leaving at that instant (`$1` vehicle, `$2` departure),
/// locked until the transaction ends so no booking lands between this check
/// and the update: its schedule, the seats its live bookings hold, and
/// whether what passengers booked would stay as it is (`$3` origin, `$4`
/// destination, `$5` price, `$6` arrival?, `$7` duration?). Seats may change
/// (never below those booked), and so may notes and amenities.
const EXISTING: &str = "
    SELECT t.schedule_id,
        (SELECT COALESCE(sum(b.passengers), 0) FROM bookings b
         WHERE b.route_id = t.id AND b.status IN ('confirmed', 'pending'))::int8 AS booked,
        fold(t.origin) = fold($3) AND fold(t.destination) = fold($4)
            AND t.price_per_seat = round($5::numeric, 2)
            AND ($6::timestamptz IS NULL OR t.estimated_arrival = $6)
            AND ($7::int IS NULL OR t.duration_minutes = $7) AS unchanged
    FROM travel_routes t WHERE t.vehicle_id = $1 AND t.departure_time = $2
    FOR NO KEY UPDATE OF t";

fn new_ride_id() -> String {
    format!("ride-{}", Uuid::new_v4().simple())
}

/// The ride's schedule row, its road copied from the corridor's daily route
/// when there is one: $1 id, $2 origin, $3 destination, $4 departure, $5
/// duration?, $6 seats, $7 price, $8 distance?, $9 amenities, $10 vehicle,
/// $11 owner, $12 notes.
const UPSERT_SCHEDULE: &str = "
    WITH corridor AS (
        SELECT geometry, duration_minutes, distance_km FROM route_schedules
        WHERE is_daily AND fold(origin) = fold($2) AND fold(destination) = fold($3)
        ORDER BY geometry IS NULL, id LIMIT 1
    ), ride AS (
        SELECT c.geometry,
               COALESCE($8::float8, ST_Length(c.geometry::geography) / 1000.0, c.distance_km) AS distance_km,
               c.duration_minutes AS corridor_minutes
        FROM (SELECT 1) one LEFT JOIN corridor c ON true
    )
    INSERT INTO route_schedules (id, origin, destination, origin_city_id, destination_city_id,
        departure_time_of_day, duration_minutes, total_seats, price_per_seat, confidence,
        distance_km, amenities, geometry, vehicle_id, owner_id, notes, is_daily)
    SELECT $1, $2, $3,
        (SELECT id FROM cities WHERE fold(name) = fold($2) LIMIT 1),
        (SELECT id FROM cities WHERE fold(name) = fold($3) LIMIT 1),
        ($4::timestamptz AT TIME ZONE 'Africa/Douala')::time,
        GREATEST(1, COALESCE($5::int, ride.corridor_minutes, ceil(ride.distance_km)::int, 180)),
        $6, $7, 0.95, ride.distance_km, $9, ride.geometry, $10, $11, $12, false
    FROM ride
    ON CONFLICT (id) DO UPDATE SET origin = EXCLUDED.origin, destination = EXCLUDED.destination,
        origin_city_id = EXCLUDED.origin_city_id, destination_city_id = EXCLUDED.destination_city_id,
        departure_time_of_day = EXCLUDED.departure_time_of_day,
        duration_minutes = EXCLUDED.duration_minutes, total_seats = EXCLUDED.total_seats,
        price_per_seat = EXCLUDED.price_per_seat, distance_km = EXCLUDED.distance_km,
        amenities = EXCLUDED.amenities, geometry = EXCLUDED.geometry, notes = EXCLUDED.notes,
        is_active = true, updated_at = now()";

/// The ride's one departure, from its schedule row ($1) with id $2 when new,
/// leaving at $3 and arriving at $4 (else after the schedule's duration). An
/// update keeps the seats already booked and writes nothing when fewer seats
/// would remain than are booked.
const UPSERT_DEPARTURE: &str = "
    INSERT INTO travel_routes (id, schedule_id, origin, destination, origin_city_id,
        destination_city_id, departure_time, estimated_arrival, total_seats, available_seats,
        price_per_seat, confidence, distance_km, duration_minutes, amenities, geometry,
        vehicle_id, owner_id)
    SELECT $2, s.id, s.origin, s.destination, s.origin_city_id, s.destination_city_id, $3,
        COALESCE($4::timestamptz, $3 + make_interval(mins => s.duration_minutes)),
        s.total_seats, s.total_seats, s.price_per_seat, s.confidence, s.distance_km,
        s.duration_minutes, s.amenities, s.geometry, s.vehicle_id, s.owner_id
    FROM route_schedules s WHERE s.id = $1
    ON CONFLICT (vehicle_id, departure_time) WHERE vehicle_id IS NOT NULL DO UPDATE SET
        schedule_id = EXCLUDED.schedule_id, origin = EXCLUDED.origin,
        destination = EXCLUDED.destination, origin_city_id = EXCLUDED.origin_city_id,
        destination_city_id = EXCLUDED.destination_city_id,
        estimated_arrival = EXCLUDED.estimated_arrival, total_seats = EXCLUDED.total_seats,
        available_seats = EXCLUDED.total_seats - (travel_routes.total_seats - travel_routes.available_seats),
        price_per_seat = EXCLUDED.price_per_seat, confidence = EXCLUDED.confidence,
        distance_km = EXCLUDED.distance_km, duration_minutes = EXCLUDED.duration_minutes,
        amenities = EXCLUDED.amenities, geometry = EXCLUDED.geometry, owner_id = EXCLUDED.owner_id
    WHERE travel_routes.total_seats - travel_routes.available_seats <= EXCLUDED.total_seats
    RETURNING id, (xmax = 0) AS created";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departure_dates_are_iso_instants_or_plain_days() {
        assert!(is_departure_date("2026-11-27T11:00:00.000Z"));
        assert!(is_departure_date("2026-11-27T11:00:00+01:00"));
        assert!(is_departure_date("2026-11-27"));
        assert!(!is_departure_date("2026-11-27T11:00:00"));
        assert!(!is_departure_date("27/11/2026"));
        assert!(!is_departure_date("2026-02-30"));
        assert!(!is_departure_date(""));
    }
}
