//! Traffic on a corridor: average speed and congestion for the current hour
//! of the week. Fitted per corridor (`yaounde|douala`) from observed trips
//! (distance over door-to-door time): a free-flow speed (the 95th percentile
//! of trip speeds) and a mean speed per hour of the week, shrunk towards the
//! hour of day and the corridor's mean where data is thin. At request time
//! the fitted speed is blended with what the last 30 minutes of location
//! pings on the corridor's departures under way show, so a slowdown moves
//! the estimate at once; congestion is `1 - speed / free-flow`.
//!
//! [`ping_recorded`] tells open traffic sockets that new pings arrived.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use super::stats::{mean, quantile, round, sorted};
use super::version_label;
use domain::travel::{RESOLVE_ORDER, RESOLVE_WHERE};
use shared::state::AppState;

/// The model's name in `ai_models` and `ai_model_params`.
pub const MODEL: &str = "traffic";
/// Pseudo-observations of the prior in each shrunk mean, and of the fitted
/// speed against live ping steps.
const PRIOR: f64 = 3.0;
/// How far back pings count.
const PING_MINUTES: i32 = 30;
/// Timetable speed over free-flow speed, when nothing is fitted.
const HEURISTIC_FREE_FLOW: f64 = 1.2;

/// The corridor key of an origin and destination expression, in SQL.
pub fn key_sql(origin: &str, destination: &str) -> String {
    format!("(fold({origin}) || '|' || fold({destination}))")
}

/// One observed trip.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    pub key: String,
    /// 0 = Monday 00:00-01:00, Africa/Douala.
    pub hour_of_week: usize,
    pub speed_kmh: f64,
    pub synthetic: bool,
    pub feedback: bool,
}

/// A corridor's fitted parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub samples: usize,
    pub synthetic_samples: usize,
    pub feedback_samples: usize,
    pub free_flow_kmh: f64,
    pub mean_kmh: f64,
    /// Shrunk mean speed for each hour of the week (Monday 00h first).
    pub hour_of_week_kmh: Vec<f64>,
    /// Trips behind each hour of the week.
    pub hour_of_week_samples: Vec<u32>,
}

/// Fits one corridor.
pub fn fit_corridor(trips: &[Trip]) -> Params {
    let speeds = sorted(trips.iter().map(|t| t.speed_kmh));
    let overall = mean(&speeds);
    let mut by_hour: Vec<Vec<f64>> = vec![Vec::new(); 24];
    let mut by_week: Vec<Vec<f64>> = vec![Vec::new(); 168];
    for t in trips {
        by_hour[t.hour_of_week % 24].push(t.speed_kmh);
        by_week[t.hour_of_week % 168].push(t.speed_kmh);
    }
    let shrink = |values: &[f64], prior: f64| {
        (values.iter().sum::<f64>() + PRIOR * prior) / (values.len() as f64 + PRIOR)
    };
    let hour_of_day: Vec<f64> = by_hour.iter().map(|v| shrink(v, overall)).collect();
    Params {
        samples: trips.len(),
        synthetic_samples: trips.iter().filter(|t| t.synthetic).count(),
        feedback_samples: trips.iter().filter(|t| t.feedback).count(),
        free_flow_kmh: round(quantile(&speeds, 0.95), 2),
        mean_kmh: round(overall, 2),
        hour_of_week_kmh: by_week
            .iter()
            .enumerate()
            .map(|(h, v)| round(shrink(v, hour_of_day[h % 24]), 2))
            .collect(),
        hour_of_week_samples: by_week.iter().map(|v| v.len() as u32).collect(),
    }
}

/// Fits every corridor with trips.
pub fn fit(trips: &[Trip]) -> BTreeMap<String, Params> {
    let mut corridors: BTreeMap<&str, Vec<Trip>> = BTreeMap::new();
    for t in trips {
        corridors.entry(&t.key).or_default().push(t.clone());
    }
    corridors
        .into_iter()
        .map(|(key, trips)| (key.to_owned(), fit_corridor(&trips)))
        .collect()
}

/// Every observed trip with a plausible speed: the recorded one, else the
/// distance of its departure or route over its duration.
pub async fn load_trips(conn: &mut PgConnection) -> Result<Vec<Trip>, sqlx::Error> {
    let sql = format!(
        "SELECT key, how, speed, synthetic, feedback FROM (
             SELECT {key} AS key,
                    (extract(isodow FROM o.departed_at AT TIME ZONE 'Africa/Douala')::int - 1) * 24
                      + extract(hour FROM o.departed_at AT TIME ZONE 'Africa/Douala')::int AS how,
                    COALESCE(o.average_speed_kmh, COALESCE(r.distance_km, s.distance_km)
                      / (extract(epoch FROM o.arrived_at - o.departed_at) / 3600.0))::float8 AS speed,
                    o.synthetic, o.source = 'feedback' AS feedback
             FROM trip_observations o
             LEFT JOIN travel_routes r ON r.id = o.route_id
             LEFT JOIN route_schedules s ON s.id = o.schedule_id) t
         WHERE speed BETWEEN 3 AND 150",
        key = key_sql("o.origin", "o.destination"),
    );
    let rows: Vec<(String, i32, f64, bool, bool)> = sqlx::query_as(&sql).fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(key, how, speed_kmh, synthetic, feedback)| Trip {
            key,
            hour_of_week: how.clamp(0, 167) as usize,
            speed_kmh,
            synthetic,
            feedback,
        })
        .collect())
}

/// The traffic on a route now, in the contract's fields and a few more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Traffic {
    /// As requested.
    pub route_id: String,
    /// 0 (free-flowing) to 1 (standing still).
    pub congestion_score: f64,
    pub average_speed_kmh: f64,
    pub updated_at: DateTime<Utc>,
    /// The corridor's free-flow speed the score is measured against.
    pub free_flow_speed_kmh: f64,
    /// Ping-to-ping steps of travellers in the last 30 minutes behind the estimate.
    pub recent_pings: i64,
    /// Observed trips behind the fitted speed of this hour of the week.
    pub samples: i64,
    /// `model`, `model+pings`, `heuristic` or `heuristic+pings`.
    pub source: String,
    /// `traffic-vN` or `heuristic-v1`.
    pub model_version: String,
    /// The corridor (`yaounde|douala`), whose channel carries ping news.
    #[serde(skip)]
    pub corridor: String,
}

#[derive(sqlx::FromRow)]
struct Resolved {
    corridor: String,
    origin: String,
    destination: String,
    km: Option<f64>,
    minutes: Option<i32>,
    how: i32,
    params: Option<sqlx::types::Json<Params>>,
    version: Option<i32>,
}

/// The estimate for a route or departure id; `None` when unknown.
pub async fn estimate(db: &PgPool, route_id: &str) -> Result<Option<Traffic>, sqlx::Error> {
    let sql = format!(
        "SELECT {key} AS corridor, fold(t.origin) AS origin, fold(t.destination) AS destination,
                COALESCE(t.distance_km, ST_Length(t.geometry::geography) / 1000.0)::float8 AS km,
                t.duration_minutes AS minutes,
                (extract(isodow FROM now() AT TIME ZONE 'Africa/Douala')::int - 1) * 24
                  + extract(hour FROM now() AT TIME ZONE 'Africa/Douala')::int AS how,
                p.params, p.version
         FROM travel_routes t
         LEFT JOIN ai_model_params p ON p.model = 'traffic' AND p.key = {key}
         WHERE {RESOLVE_WHERE} {RESOLVE_ORDER}",
        key = key_sql("t.origin", "t.destination"),
    );
    let Some(found): Option<Resolved> = sqlx::query_as(&sql)
        .bind(route_id)
        .fetch_optional(db)
        .await?
    else {
        return Ok(None);
    };
    let (steps, ping_kmh) = recent_speed(db, &found.origin, &found.destination).await?;
    let how = found.how.clamp(0, 167) as usize;
    let (fitted, free_flow, samples, mut source, version) = match (&found.params, found.version) {
        (Some(p), Some(v)) if p.samples > 0 => (
            p.hour_of_week_kmh[how],
            p.free_flow_kmh,
            i64::from(p.hour_of_week_samples[how]),
            "model".to_owned(),
            version_label(MODEL, v),
        ),
        _ => {
            let timetable = match (found.km, found.minutes) {
                (Some(km), Some(min)) if min > 0 => km / (f64::from(min) / 60.0),
                _ => 60.0,
            };
            let label = "heuristic".to_owned();
            (
                timetable,
                timetable * HEURISTIC_FREE_FLOW,
                0,
                label,
                "heuristic-v1".into(),
            )
        }
    };
    let speed = match ping_kmh {
        Some(v) if steps > 0 => {
            source.push_str("+pings");
            (steps as f64 * v + PRIOR * fitted) / (steps as f64 + PRIOR)
        }
        _ => fitted,
    };
    Ok(Some(Traffic {
        route_id: route_id.to_owned(),
        congestion_score: round((1.0 - speed / free_flow.max(1.0)).clamp(0.0, 1.0), 3),
        average_speed_kmh: round(speed, 1),
        updated_at: Utc::now(),
        free_flow_speed_kmh: round(free_flow, 1),
        recent_pings: steps,
        samples,
        source,
        model_version: version,
        corridor: found.corridor,
    }))
}

/// Ping-to-ping steps (15 s to 15 min apart, under 150 km/h) of travellers on
/// the corridor's departures under way, in the last 30 minutes: how many,
/// and their overall speed.
async fn recent_speed(
    db: &PgPool,
    origin: &str,
    destination: &str,
) -> Result<(i64, Option<f64>), sqlx::Error> {
    sqlx::query_as(
        "WITH recent AS (
             SELECT l.user_id, l.route_id, l.recorded_at, l.location::geography AS g
             FROM user_locations l
             WHERE l.route_id IN (
                     SELECT t.id FROM travel_routes t
                     WHERE fold(t.origin) = $1 AND fold(t.destination) = $2
                       AND t.departure_time BETWEEN now() - interval '12 hours' AND now() + interval '1 hour')
               AND l.recorded_at > now() - make_interval(mins => $3)
         ), steps AS (
             SELECT ST_Distance(g, lag(g) OVER w) AS metres,
                    extract(epoch FROM recorded_at - lag(recorded_at) OVER w)::float8 AS seconds
             FROM recent WINDOW w AS (PARTITION BY user_id, route_id ORDER BY recorded_at)
         )
         SELECT count(*), (sum(metres) / NULLIF(sum(seconds), 0) * 3.6)::float8
         FROM steps WHERE seconds BETWEEN 15 AND 900 AND metres / seconds * 3.6 <= 150",
    )
    .bind(origin)
    .bind(destination)
    .bind(PING_MINUTES)
    .fetch_one(db)
    .await
}

/// The Redis channel that carries ping news for a corridor.
pub fn channel(state: &AppState, corridor: &str) -> String {
    state.redis_key(&["traffic", corridor])
}

/// Tells the traffic sockets of `route_id`'s corridor that a ping was
/// recorded on it, so they recompute at once. Call it after the ping's
/// transaction commits; failures are logged, never returned.
pub async fn ping_recorded(state: &AppState, route_id: &str) {
    let sql = format!(
        "SELECT {} FROM travel_routes t WHERE t.id = $1",
        key_sql("t.origin", "t.destination")
    );
    let corridor: Option<String> = match sqlx::query_scalar(&sql)
        .bind(route_id)
        .fetch_optional(&state.db)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "traffic: corridor lookup failed");
            return;
        }
    };
    let Some(corridor) = corridor else { return };
    let channel = channel(state, &corridor);
    let published = state
        .with_redis("PUBLISH", async |c| {
            redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(route_id)
                .query_async::<i64>(c)
                .await
        })
        .await;
    if let Err(e) = published {
        tracing::warn!(error = %e, "traffic: ping news not published");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trip(how: usize, speed: f64) -> Trip {
        Trip {
            key: "a|b".into(),
            hour_of_week: how,
            speed_kmh: speed,
            synthetic: false,
            feedback: false,
        }
    }

    #[test]
    fn slow_hours_are_slower_and_empty_hours_borrow_from_the_day() {
        let mut trips: Vec<Trip> = (0..40).map(|i| trip(7, 40.0 + f64::from(i % 5))).collect();
        trips.extend((0..40).map(|i| trip(14, 70.0 + f64::from(i % 5))));
        let p = fit_corridor(&trips);
        assert!(p.hour_of_week_kmh[7] < 45.0 && p.hour_of_week_kmh[14] > 68.0);
        assert!(p.free_flow_kmh >= 73.0);
        assert_eq!(p.hour_of_week_samples[7 + 24], 0);
        assert!((p.hour_of_week_kmh[7 + 24] - p.hour_of_week_kmh[7]).abs() < 3.0);
    }
}
