//! A deterministic synthetic history for a fresh install (`migrate
//! --synthetic`, run by `scripts/dev`; never in production): for every daily
//! route, one observed trip per day over the last `days` days, with a
//! route-specific usual delay, an hour effect (morning and afternoon rushes),
//! a weekday effect (busy Mondays and Fridays, quiet weekends), everyday
//! noise, and now and then a long wait (a bus leaving only once full). Rows
//! carry `synthetic = true` and source `synthetic`, and the models say how
//! many of their samples are synthetic.
//!
//! Each observed trip is a departure that left (`travel_routes`, the seed's
//! `{route}-{YYYYMMDD}` ids) with its bookings, made by synthetic travellers
//! (`synthetic-traveller-NN`): occupancy follows a route-specific level and
//! trend, busy Fridays and weekends, and noise, so demand trends have
//! something to find. Today's seeded departures that have already left get
//! bookings too. A rerun replaces all of it (seats given back first) and
//! leaves departures with anyone else's bookings alone.

use chrono::{Datelike, NaiveDate, NaiveTime};
use sqlx::{PgConnection, PgPool};

use super::stats::{SplitMix64, fnv1a};

/// The seed `migrate --synthetic` uses.
pub const DEFAULT_SEED: u64 = 20_261_126;
/// Days of history `migrate --synthetic` writes.
pub const DEFAULT_DAYS: i64 = 90;

/// Minutes added to the usual delay on each weekday (Monday first).
pub const WEEKDAY_DELAY: [f64; 7] = [5.0, 0.0, 1.0, 2.0, 9.0, -2.0, -5.0];
/// Extra travel time share on each weekday.
const WEEKDAY_SLOWDOWN: [f64; 7] = [0.06, 0.02, 0.02, 0.03, 0.10, -0.02, -0.06];

/// Minutes of usual delay added by the scheduled hour.
pub fn hour_delay(hour: u32) -> f64 {
    match hour {
        6..=8 => 6.0,
        13..=16 => 3.0,
        _ => 0.0,
    }
}

fn hour_slowdown(hour: u32) -> f64 {
    match hour {
        6..=8 => 0.12,
        15..=17 => 0.08,
        _ => 0.0,
    }
}

/// One generated trip.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    pub schedule_id: String,
    pub day: NaiveDate,
    /// Minutes after the timetable.
    pub delay: f64,
    /// Minutes on the road.
    pub duration: f64,
}

/// A daily route, as the generator needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Route {
    pub id: String,
    pub departure_time_of_day: NaiveTime,
    pub duration_minutes: i32,
    pub total_seats: i32,
}

/// How many synthetic travellers book the synthetic seats.
pub const TRAVELLERS: u64 = 40;
/// Occupancy added on each weekday (Monday first).
const WEEKDAY_LOAD: [f64; 7] = [0.0, -0.05, -0.05, 0.0, 0.12, 0.08, 0.10];

/// One synthetic booking on a dated departure.
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    /// The departure's id, `{route}-{YYYYMMDD}`.
    pub departure_id: String,
    pub user_id: String,
    pub passengers: i32,
    /// Booked this many days before the departure.
    pub lead_days: i32,
}

/// The bookings on each route's departures of `today` and the `days` days
/// before it, from `seed`: occupancy from a route-specific level and trend
/// (some routes fill up, some empty), the weekday, and noise.
pub fn bookings(routes: &[Route], today: NaiveDate, days: i64, seed: u64) -> Vec<Booking> {
    let mut out = Vec::new();
    for route in routes {
        let mut rng = SplitMix64::new(seed ^ fnv1a(&route.id) ^ 0x6f63_6375_7061_6e63);
        let level = 0.3 + 0.4 * rng.uniform();
        let trend = (rng.uniform() - 0.5) * 0.008;
        for back in (0..=days).rev() {
            let day = today - chrono::Duration::days(back);
            let w = day.weekday().num_days_from_monday() as usize;
            let age = (days / 2 - back) as f64;
            let load =
                (level + trend * age + WEEKDAY_LOAD[w] + 0.07 * rng.normal()).clamp(0.0, 1.0);
            let mut left = (load * f64::from(route.total_seats)).round() as i32;
            let departure_id = format!("{}-{}", route.id, day.format("%Y%m%d"));
            while left > 0 {
                let passengers = (1 + (rng.uniform() * 3.0) as i32).min(left);
                left -= passengers;
                out.push(Booking {
                    departure_id: departure_id.clone(),
                    user_id: traveller(rng.next_u64() % TRAVELLERS),
                    passengers,
                    lead_days: 1 + (rng.uniform() * 14.0) as i32,
                });
            }
        }
    }
    out
}

fn traveller(n: u64) -> String {
    format!("synthetic-traveller-{:02}", n + 1)
}

/// The trips of `routes` on the `days` days before `today`, from `seed`.
pub fn generate(routes: &[Route], today: NaiveDate, days: i64, seed: u64) -> Vec<Trip> {
    let mut trips = Vec::new();
    for route in routes {
        let mut rng = SplitMix64::new(seed ^ fnv1a(&route.id));
        let usual = 2.0 + rng.uniform() * 10.0;
        let spread = 3.0 + rng.uniform() * 3.0;
        let hour = chrono::Timelike::hour(&route.departure_time_of_day);
        for back in (1..=days).rev() {
            let day = today - chrono::Duration::days(back);
            let w = day.weekday().num_days_from_monday() as usize;
            let wait = if rng.uniform() < 0.1 {
                rng.exponential(25.0)
            } else {
                0.0
            };
            let delay =
                (usual + hour_delay(hour) + WEEKDAY_DELAY[w] + spread * rng.normal() + wait)
                    .clamp(-15.0, 170.0);
            let incident = if rng.uniform() < 0.05 {
                rng.exponential(30.0)
            } else {
                0.0
            };
            let slowdown = 1.0 + hour_slowdown(hour) + WEEKDAY_SLOWDOWN[w] + 0.05 * rng.normal();
            let duration =
                (f64::from(route.duration_minutes) * slowdown.max(0.8) + incident).max(30.0);
            trips.push(Trip {
                schedule_id: route.id.clone(),
                day,
                delay,
                duration,
            });
        }
    }
    trips
}

/// Replaces the synthetic history with `days` days before today (Africa/Douala)
/// for every active daily route, in one transaction: the departures that
/// left, their bookings and their observed trips; how many trips.
pub async fn seed(pool: &PgPool, days: i64, seed: u64) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let today: NaiveDate = sqlx::query_scalar("SELECT (now() AT TIME ZONE 'Africa/Douala')::date")
        .fetch_one(&mut *tx)
        .await?;
    let routes: Vec<Route> = sqlx::query_as(
        "SELECT id, departure_time_of_day, duration_minutes, total_seats FROM route_schedules
         WHERE is_daily AND is_active ORDER BY id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let trips = generate(&routes, today, days, seed);
    forget(&mut tx).await?;
    departures(&mut tx, &trips).await?;
    book(&mut tx, &bookings(&routes, today, days, seed)).await?;
    let ids: Vec<&str> = trips.iter().map(|t| t.schedule_id.as_str()).collect();
    let dates: Vec<NaiveDate> = trips.iter().map(|t| t.day).collect();
    let delays: Vec<f64> = trips.iter().map(|t| t.delay).collect();
    let durations: Vec<f64> = trips.iter().map(|t| t.duration).collect();
    let written = sqlx::query(
        "INSERT INTO trip_observations (route_id, schedule_id, origin, destination, scheduled_departure,
             departed_at, arrived_at, average_speed_kmh, source, synthetic)
         SELECT d.id, s.id, s.origin, s.destination, t.scheduled,
                t.scheduled + make_interval(secs => g.delay * 60),
                t.scheduled + make_interval(secs => (g.delay + g.duration) * 60),
                s.distance_km / (g.duration / 60.0), 'synthetic', true
         FROM unnest($1::text[], $2::date[], $3::float8[], $4::float8[]) AS g(id, day, delay, duration)
         JOIN route_schedules s ON s.id = g.id
         CROSS JOIN LATERAL (SELECT (g.day + s.departure_time_of_day) AT TIME ZONE 'Africa/Douala'
                             AS scheduled) t
         LEFT JOIN travel_routes d ON d.id = s.id || '-' || to_char(g.day, 'YYYYMMDD')",
    )
    .bind(&ids)
    .bind(&dates)
    .bind(&delays)
    .bind(&durations)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(written)
}

/// Removes the previous synthetic history: the synthetic travellers'
/// bookings (their seats given back), the departures only they had booked
/// that synthetic trips observed, and the synthetic observations.
async fn forget(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH gone AS (
             DELETE FROM bookings WHERE user_id LIKE 'synthetic-traveller-%'
             RETURNING route_id, passengers),
         seats AS (SELECT route_id, sum(passengers)::int AS n FROM gone GROUP BY route_id)
         UPDATE travel_routes t SET available_seats = LEAST(t.total_seats, t.available_seats + seats.n)
         FROM seats WHERE t.id = seats.route_id",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM travel_routes t USING trip_observations o
         WHERE o.synthetic AND o.route_id = t.id AND t.departure_time < now()
           AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.route_id = t.id)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM trip_observations WHERE synthetic")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The dated departures the trips left on, as the seed writes them (any
/// that already exist are kept).
async fn departures(tx: &mut PgConnection, trips: &[Trip]) -> Result<(), sqlx::Error> {
    let ids: Vec<&str> = trips.iter().map(|t| t.schedule_id.as_str()).collect();
    let dates: Vec<NaiveDate> = trips.iter().map(|t| t.day).collect();
    sqlx::query(
        "INSERT INTO travel_routes (id, schedule_id, origin, destination, origin_city_id,
             destination_city_id, departure_time, estimated_arrival, total_seats, available_seats,
             price_per_seat, confidence, distance_km, duration_minutes, amenities, geometry,
             vehicle_id, owner_id)
         SELECT s.id || '-' || to_char(g.day, 'YYYYMMDD'), s.id, s.origin, s.destination,
             s.origin_city_id, s.destination_city_id,
             (g.day + s.departure_time_of_day) AT TIME ZONE 'Africa/Douala',
             (g.day + s.departure_time_of_day) AT TIME ZONE 'Africa/Douala'
                 + make_interval(mins => s.duration_minutes),
             s.total_seats, s.total_seats, s.price_per_seat, s.confidence, s.distance_km,
             s.duration_minutes, s.amenities, s.geometry, s.vehicle_id, s.owner_id
         FROM unnest($1::text[], $2::date[]) AS g(id, day)
         JOIN route_schedules s ON s.id = g.id
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(&dates)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Writes `plan` as completed, paid bookings of the synthetic travellers on
/// departures that have left and that nobody else booked, taking their seats.
async fn book(tx: &mut PgConnection, plan: &[Booking]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (uid, display_name)
         SELECT 'synthetic-traveller-' || lpad(n::text, 2, '0'), 'Synthetic traveller ' || n
         FROM generate_series(1, $1::int) AS n
         ON CONFLICT (uid) DO NOTHING",
    )
    .bind(TRAVELLERS as i32)
    .execute(&mut *tx)
    .await?;
    let departures: Vec<&str> = plan.iter().map(|b| b.departure_id.as_str()).collect();
    let users: Vec<&str> = plan.iter().map(|b| b.user_id.as_str()).collect();
    let passengers: Vec<i32> = plan.iter().map(|b| b.passengers).collect();
    let leads: Vec<i32> = plan.iter().map(|b| b.lead_days).collect();
    sqlx::query(
        "WITH plan AS (
             SELECT p.*, t.price_per_seat, t.departure_time
             FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])
                  AS p(route_id, user_id, passengers, lead_days)
             JOIN travel_routes t ON t.id = p.route_id
             WHERE t.departure_time <= now() AND t.cancelled_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.route_id = t.id)),
         made AS (
             INSERT INTO bookings (user_id, route_id, passengers, total_price, payment_method,
                 payment_status, status, created_at)
             SELECT user_id, route_id, passengers, price_per_seat * passengers, 'mobile_money',
                 'paid', 'completed', departure_time - make_interval(days => lead_days)
             FROM plan
             RETURNING route_id, passengers)
         UPDATE travel_routes t SET available_seats = GREATEST(0, t.available_seats - m.n)
         FROM (SELECT route_id, sum(passengers)::int AS n FROM made GROUP BY route_id) m
         WHERE t.id = m.route_id",
    )
    .bind(&departures)
    .bind(&users)
    .bind(&passengers)
    .bind(&leads)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_history() {
        let routes = vec![Route {
            id: "r".into(),
            departure_time_of_day: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
            duration_minutes: 200,
            total_seats: 20,
        }];
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let a = generate(&routes, today, 90, 1);
        assert_eq!(a, generate(&routes, today, 90, 1));
        assert_ne!(a, generate(&routes, today, 90, 2));
        assert_eq!(a.len(), 90);
        assert_eq!(a.last().unwrap().day, today.pred_opt().unwrap());
    }

    #[test]
    fn bookings_fill_each_departure_within_its_seats_and_follow_a_trend() {
        let routes: Vec<Route> = (0..6)
            .map(|i| Route {
                id: format!("r{i}"),
                departure_time_of_day: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
                duration_minutes: 200,
                total_seats: 20,
            })
            .collect();
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let plan = bookings(&routes, today, 90, DEFAULT_SEED);
        assert_eq!(plan, bookings(&routes, today, 90, DEFAULT_SEED));
        let mut seats = std::collections::BTreeMap::<&str, i32>::new();
        for b in &plan {
            assert!((1..=3).contains(&b.passengers) && (1..=14).contains(&b.lead_days));
            assert!(b.user_id.starts_with("synthetic-traveller-"));
            *seats.entry(b.departure_id.as_str()).or_default() += b.passengers;
        }
        assert!(seats.values().all(|&n| n <= 20));
        assert!(seats.contains_key("r0-20261126") && seats.contains_key("r0-20260828"));
        // Per route, the first and last months differ: the trends are there.
        let month = |route: &str, from: i64| -> i32 {
            (from..from + 30)
                .map(|back| {
                    let day = today - chrono::Duration::days(back);
                    seats
                        .get(format!("{route}-{}", day.format("%Y%m%d")).as_str())
                        .copied()
                        .unwrap_or(0)
                })
                .sum()
        };
        let moved = routes
            .iter()
            .filter(|r| (month(&r.id, 0) - month(&r.id, 60)).abs() > 30)
            .count();
        assert!(moved >= 2, "{moved} of 6 routes show a trend");
    }
}
