//! A deterministic synthetic history for a fresh install (`migrate
//! --synthetic`, run by `scripts/dev`; never in production): for every daily
//! route, one observed trip per day over the last `days` days, with a
//! route-specific usual delay, an hour effect (morning and afternoon rushes),
//! a weekday effect (busy Mondays and Fridays, quiet weekends), everyday
//! noise, and now and then a long wait (a bus leaving only once full). Rows
//! carry `synthetic = true` and source `synthetic`, and the models say how
//! many of their samples are synthetic.

use chrono::{Datelike, NaiveDate, NaiveTime};
use sqlx::PgPool;

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
/// for every active daily route, in one transaction; how many trips.
pub async fn seed(pool: &PgPool, days: i64, seed: u64) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let today: NaiveDate = sqlx::query_scalar("SELECT (now() AT TIME ZONE 'Africa/Douala')::date")
        .fetch_one(&mut *tx)
        .await?;
    let routes: Vec<Route> = sqlx::query_as(
        "SELECT id, departure_time_of_day, duration_minutes FROM route_schedules
         WHERE is_daily AND is_active ORDER BY id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let trips = generate(&routes, today, days, seed);
    sqlx::query("DELETE FROM trip_observations WHERE synthetic")
        .execute(&mut *tx)
        .await?;
    let ids: Vec<&str> = trips.iter().map(|t| t.schedule_id.as_str()).collect();
    let dates: Vec<NaiveDate> = trips.iter().map(|t| t.day).collect();
    let delays: Vec<f64> = trips.iter().map(|t| t.delay).collect();
    let durations: Vec<f64> = trips.iter().map(|t| t.duration).collect();
    let written = sqlx::query(
        "INSERT INTO trip_observations (schedule_id, origin, destination, scheduled_departure,
             departed_at, arrived_at, average_speed_kmh, source, synthetic)
         SELECT s.id, s.origin, s.destination, t.scheduled,
                t.scheduled + make_interval(secs => g.delay * 60),
                t.scheduled + make_interval(secs => (g.delay + g.duration) * 60),
                s.distance_km / (g.duration / 60.0), 'synthetic', true
         FROM unnest($1::text[], $2::date[], $3::float8[], $4::float8[]) AS g(id, day, delay, duration)
         JOIN route_schedules s ON s.id = g.id
         CROSS JOIN LATERAL (SELECT (g.day + s.departure_time_of_day) AT TIME ZONE 'Africa/Douala'
                             AS scheduled) t",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_history() {
        let routes = vec![Route {
            id: "r".into(),
            departure_time_of_day: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
            duration_minutes: 200,
        }];
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let a = generate(&routes, today, 90, 1);
        assert_eq!(a, generate(&routes, today, 90, 1));
        assert_ne!(a, generate(&routes, today, 90, 2));
        assert_eq!(a.len(), 90);
        assert_eq!(a.last().unwrap().day, today.pred_opt().unwrap());
    }
}
