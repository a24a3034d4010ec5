//! Idempotent seed of the reference data (cities, attractions, daily routes)
//! and the rolling window of dated departures built from the daily routes.
//! City and attraction descriptions come in English (the reference data) and
//! French (written for this project, kept apart so the reference data stays
//! an exact copy of the shared one).

use std::collections::HashMap;

use serde::Deserialize;
use sqlx::{PgPool, Postgres, Transaction};

/// The reference data this backend ships with.
pub const REFERENCE_DATA: &str = include_str!("../data/reference-data.json");

/// The French descriptions of the reference data's cities and attractions, by id.
pub const DESCRIPTIONS_FR: &str = include_str!("../data/descriptions-fr.json");

/// How many days of departures exist ahead of today (Africa/Douala).
pub const DEPARTURE_DAYS_AHEAD: i32 = 14;

#[derive(Deserialize)]
struct ReferenceData {
    cities: Vec<City>,
    attractions: Vec<Attraction>,
    routes: Vec<DailyRoute>,
    road_corridors: Corridors,
}

#[derive(Deserialize)]
struct FrenchDescriptions {
    cities: HashMap<String, String>,
    attractions: HashMap<String, String>,
}

#[derive(Deserialize)]
struct LatLon {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    accuracy_meters: Option<f64>,
}

#[derive(Deserialize)]
struct City {
    id: String,
    name: String,
    country: String,
    description: String,
    population: i64,
    center: LatLon,
    approx_radius_km: f64,
}

#[derive(Deserialize)]
struct Attraction {
    id: String,
    city_id: String,
    name: String,
    description: String,
    category: String,
    rating: f64,
    opening_hours: String,
    entry_fee: String,
    location: LatLon,
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct DailyRoute {
    id: String,
    origin: String,
    destination: String,
    available_seats: i32,
    price_per_seat: f64,
    confidence: f64,
    distance_km: f64,
    duration_minutes: i32,
    amenities: Vec<String>,
    departure_time_of_day: String,
}

#[derive(Deserialize)]
struct Corridors {
    corridors: Vec<Corridor>,
}

#[derive(Deserialize)]
struct Corridor {
    from: String,
    to: String,
    path: Vec<[f64; 2]>,
}

/// What one seed run wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub cities: u64,
    pub attractions: u64,
    pub schedules: u64,
    pub departures_added: u64,
}

/// Upserts the reference data and adds the coming days' departures, in one
/// transaction. Running it again changes nothing but new days.
pub async fn run(pool: &PgPool) -> Result<SeedReport, sqlx::Error> {
    let data: ReferenceData =
        serde_json::from_str(REFERENCE_DATA).expect("bundled reference data is valid JSON");
    let fr: FrenchDescriptions =
        serde_json::from_str(DESCRIPTIONS_FR).expect("bundled French descriptions are valid JSON");
    let mut tx = pool.begin().await?;
    let mut report = SeedReport::default();
    for c in &data.cities {
        report.cities += sqlx::query(
            "INSERT INTO cities (id, name, country, description, population, center, boundary,
                 description_fr)
             VALUES ($1, $2, $3, $4, $5, ST_SetSRID(ST_MakePoint($6, $7), 4326),
                     ST_Buffer(ST_SetSRID(ST_MakePoint($6, $7), 4326)::geography, $8 * 1000.0, 'quad_segs=16')::geometry,
                     $9)
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, country = EXCLUDED.country,
                 description = EXCLUDED.description, population = EXCLUDED.population,
                 center = EXCLUDED.center, boundary = EXCLUDED.boundary,
                 description_fr = EXCLUDED.description_fr",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.country)
        .bind(&c.description)
        .bind(c.population)
        .bind(c.center.longitude)
        .bind(c.center.latitude)
        .bind(c.approx_radius_km)
        .bind(fr.cities.get(&c.id))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    for a in &data.attractions {
        report.attractions += sqlx::query(
            "INSERT INTO attractions (id, city_id, name, description, category, rating,
                 opening_hours, entry_fee, location, accuracy_meters, tags, description_fr)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ST_SetSRID(ST_MakePoint($9, $10), 4326), $11, $12,
                     $13)
             ON CONFLICT (id) DO UPDATE SET city_id = EXCLUDED.city_id, name = EXCLUDED.name,
                 description = EXCLUDED.description, category = EXCLUDED.category,
                 rating = EXCLUDED.rating, opening_hours = EXCLUDED.opening_hours,
                 entry_fee = EXCLUDED.entry_fee, location = EXCLUDED.location,
                 accuracy_meters = EXCLUDED.accuracy_meters, tags = EXCLUDED.tags,
                 description_fr = EXCLUDED.description_fr",
        )
        .bind(&a.id)
        .bind(&a.city_id)
        .bind(&a.name)
        .bind(&a.description)
        .bind(&a.category)
        .bind(a.rating)
        .bind(&a.opening_hours)
        .bind(&a.entry_fee)
        .bind(a.location.longitude)
        .bind(a.location.latitude)
        .bind(a.location.accuracy_meters)
        .bind(&a.tags)
        .bind(fr.attractions.get(&a.id))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    for r in &data.routes {
        report.schedules += sqlx::query(
            "INSERT INTO route_schedules (id, origin, destination, origin_city_id, destination_city_id,
                 departure_time_of_day, duration_minutes, total_seats, price_per_seat, confidence,
                 distance_km, amenities, geometry)
             VALUES ($1, $2, $3, (SELECT id FROM cities WHERE fold(name) = fold($2)),
                 (SELECT id FROM cities WHERE fold(name) = fold($3)), $4::time, $5, $6, $7, $8, $9, $10,
                 ST_GeomFromText($11, 4326))
             ON CONFLICT (id) DO UPDATE SET origin = EXCLUDED.origin, destination = EXCLUDED.destination,
                 origin_city_id = EXCLUDED.origin_city_id, destination_city_id = EXCLUDED.destination_city_id,
                 departure_time_of_day = EXCLUDED.departure_time_of_day,
                 duration_minutes = EXCLUDED.duration_minutes, total_seats = EXCLUDED.total_seats,
                 price_per_seat = EXCLUDED.price_per_seat, confidence = EXCLUDED.confidence,
                 distance_km = EXCLUDED.distance_km, amenities = EXCLUDED.amenities,
                 geometry = EXCLUDED.geometry, updated_at = now()",
        )
        .bind(&r.id)
        .bind(&r.origin)
        .bind(&r.destination)
        .bind(&r.departure_time_of_day)
        .bind(r.duration_minutes)
        .bind(r.available_seats)
        .bind(r.price_per_seat)
        .bind(r.confidence)
        .bind(r.distance_km)
        .bind(&r.amenities)
        .bind(corridor_wkt(&data.road_corridors.corridors, &r.origin, &r.destination))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    report.departures_added = roll_departures(&mut tx, DEPARTURE_DAYS_AHEAD).await?;
    tx.commit().await?;
    Ok(report)
}

/// Adds any missing dated departure of every active daily route from today to
/// `days` ahead, at its local (Africa/Douala) time. Existing departures, and
/// the seats already booked on them, are left alone.
pub async fn roll_departures(
    tx: &mut Transaction<'_, Postgres>,
    days: i32,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO travel_routes (id, schedule_id, origin, destination, origin_city_id,
             destination_city_id, departure_time, estimated_arrival, total_seats, available_seats,
             price_per_seat, confidence, distance_km, duration_minutes, amenities, geometry,
             vehicle_id, owner_id)
         SELECT s.id || '-' || to_char(days.d, 'YYYYMMDD'), s.id, s.origin, s.destination,
             s.origin_city_id, s.destination_city_id,
             (days.d + s.departure_time_of_day) AT TIME ZONE 'Africa/Douala',
             (days.d + s.departure_time_of_day) AT TIME ZONE 'Africa/Douala'
                 + make_interval(mins => s.duration_minutes),
             s.total_seats, s.total_seats, s.price_per_seat, s.confidence, s.distance_km,
             s.duration_minutes, s.amenities, s.geometry, s.vehicle_id, s.owner_id
         FROM route_schedules s
         CROSS JOIN LATERAL (
             -- A date plus a time is a local timestamp; AT TIME ZONE then anchors it.
             SELECT day::date AS d
             FROM generate_series((now() AT TIME ZONE 'Africa/Douala')::date::timestamp,
                                  (now() AT TIME ZONE 'Africa/Douala')::date::timestamp + make_interval(days => $1),
                                  interval '1 day') AS day
         ) AS days
         WHERE s.is_daily AND s.is_active
         ON CONFLICT DO NOTHING",
    )
    .bind(days)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// The road corridor between two towns as WKT, reversed when travelled backwards.
fn corridor_wkt(corridors: &[Corridor], origin: &str, destination: &str) -> Option<String> {
    let path: Vec<[f64; 2]> = corridors.iter().find_map(|c| {
        if c.from == origin && c.to == destination {
            Some(c.path.clone())
        } else if c.from == destination && c.to == origin {
            Some(c.path.iter().rev().copied().collect())
        } else {
            None
        }
    })?;
    let points: Vec<String> = path
        .iter()
        .map(|[lon, lat]| format!("{lon} {lat}"))
        .collect();
    Some(format!("LINESTRING({})", points.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_daily_route_has_a_corridor() {
        let data: ReferenceData = serde_json::from_str(REFERENCE_DATA).unwrap();
        assert_eq!(data.routes.len(), 12);
        for r in &data.routes {
            let wkt = corridor_wkt(&data.road_corridors.corridors, &r.origin, &r.destination)
                .unwrap_or_else(|| panic!("no corridor for {}", r.id));
            assert!(wkt.starts_with("LINESTRING("));
        }
        let back = corridor_wkt(&data.road_corridors.corridors, "Buea", "Douala").unwrap();
        assert!(back.starts_with("LINESTRING(9.241 4.1527"), "{back}");
    }

    #[test]
    fn every_city_and_attraction_has_its_own_french_description() {
        let data: ReferenceData = serde_json::from_str(REFERENCE_DATA).unwrap();
        let fr: FrenchDescriptions = serde_json::from_str(DESCRIPTIONS_FR).unwrap();
        let cities = data
            .cities
            .iter()
            .map(|c| (&c.id, &c.description, &fr.cities));
        let attractions = data
            .attractions
            .iter()
            .map(|a| (&a.id, &a.description, &fr.attractions));
        for (id, english, french) in cities.chain(attractions) {
            let text = french
                .get(id)
                .unwrap_or_else(|| panic!("no French description for {id}"));
            assert!(!text.trim().is_empty() && text != english, "{id}: {text}");
            assert!(!text.contains('\''), "{id}: typographic apostrophes only");
        }
        assert_eq!(fr.cities.len(), data.cities.len(), "no stray city ids");
        assert_eq!(
            fr.attractions.len(),
            data.attractions.len(),
            "no stray attraction ids"
        );
    }

    #[test]
    fn bundled_data_matches_the_shared_reference_when_present() {
        let shared = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/reference-data.json"
        );
        if let Ok(text) = std::fs::read_to_string(shared) {
            assert_eq!(
                text, REFERENCE_DATA,
                "shared/data/reference-data.json drifted from ../shared"
            );
        }
    }
}
