//! Departure windows: when a departure really leaves, relative to its
//! timetable. The model is fitted per bucket, a corridor and scheduled hour
//! (`yaounde|douala|6`): the median delay, a weekday shift (shrunk towards 0
//! when a weekday has few observations), and the 10th and 90th percentiles of
//! what is left. The recommended window is the point estimate plus that
//! central band, widened to 5-minute marks; its `confidence` is the share of
//! departures it held in time-ordered 5-fold cross-validation, so it is a
//! held-out estimate of the probability of leaving inside. The windows either
//! side get their held-out shares too. With fewer than `ai_min_samples`
//! observations, or a held-out coverage under 0.6, the answer is a heuristic
//! flagged in `notes`, which are written in the caller's language.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::stats::{mean, quantile, round, sorted};
use super::words::{number, on_day, percent};
use super::{MESSAGES, NewPrediction, log_prediction, version_label};
use domain::travel::route_not_found;
use shared::error::ApiResult;
use shared::i18n::{Arg, Lang, Text, time};
use shared::state::AppState;

/// The model's name in `ai_models` and `ai_model_params`.
pub const MODEL: &str = "departure";
/// What answers when the model cannot.
pub const HEURISTIC_VERSION: &str = "heuristic-v1";
/// Below this held-out coverage the model's window is not offered.
pub const MIN_CONFIDENCE: f64 = 0.6;
/// The fixed offset the heuristic expects (the middle of its 0-30 min window).
pub const HEURISTIC_OFFSET: f64 = 15.0;

const LOW: f64 = 0.1;
const HIGH: f64 = 0.9;
const FOLDS: usize = 5;
/// Pseudo-observations pulling a weekday's shift towards 0.
const SHRINK: f64 = 5.0;
/// Width of the windows either side of the recommended one, in minutes.
const SIDE: i64 = 30;
/// Delays outside this range (minutes) belong to another departure.
const PLAUSIBLE: (f64, f64) = (-60.0, 180.0);

/// The bucket key of a departure in SQL, from its origin, destination and
/// scheduled instant expressions.
pub fn key_sql(origin: &str, destination: &str, scheduled: &str) -> String {
    format!(
        "(fold({origin}) || '|' || fold({destination}) || '|' || \
         extract(hour FROM {scheduled} AT TIME ZONE 'Africa/Douala')::int)"
    )
}

/// The Africa/Douala weekday (0 = Monday) of an instant expression, in SQL.
pub fn weekday_sql(instant: &str) -> String {
    format!("(extract(isodow FROM {instant} AT TIME ZONE 'Africa/Douala')::int - 1)")
}

/// One observed departure.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub key: String,
    /// 0 = Monday, Africa/Douala.
    pub weekday: usize,
    /// Minutes after the timetable (negative: early).
    pub delay: f64,
    pub scheduled: DateTime<Utc>,
    pub synthetic: bool,
    pub feedback: bool,
}

/// A bucket's fitted parameters, as stored in `ai_model_params.params`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub samples: usize,
    pub synthetic_samples: usize,
    pub feedback_samples: usize,
    /// Median delay, minutes.
    pub median: f64,
    /// Added to the median on each weekday (Monday first).
    pub weekday_shift: [f64; 7],
    /// The 10th and 90th percentiles of delay minus point estimate.
    pub residual_low: f64,
    pub residual_high: f64,
    /// Held-out share inside the recommended window.
    pub confidence: f64,
    /// Held-out shares in the 30 minutes before and after it.
    pub before: f64,
    pub after: f64,
    /// Held-out mean absolute error of the point estimate, and of the
    /// heuristic's fixed +15 min and the training median as fixed offsets.
    pub mae: f64,
    pub heuristic_mae: f64,
    pub fixed_offset_mae: f64,
    /// Enough samples and a held-out coverage of at least 0.6.
    pub trusted: bool,
}

/// The location-shift part of the model, fitted on some observations.
#[derive(Debug, Clone, Copy)]
struct Core {
    median: f64,
    shift: [f64; 7],
    low: f64,
    high: f64,
}

impl Core {
    fn fit(obs: &[&Observation]) -> Self {
        let delays = sorted(obs.iter().map(|o| o.delay));
        let median = quantile(&delays, 0.5);
        let mut sum = [0.0; 7];
        let mut count = [0.0; 7];
        for o in obs {
            sum[o.weekday] += o.delay - median;
            count[o.weekday] += 1.0;
        }
        let shift: [f64; 7] = std::array::from_fn(|w| sum[w] / (count[w] + SHRINK));
        let residuals = sorted(obs.iter().map(|o| o.delay - median - shift[o.weekday]));
        Self {
            median,
            shift,
            low: quantile(&residuals, LOW),
            high: quantile(&residuals, HIGH),
        }
    }

    fn point(&self, weekday: usize) -> f64 {
        self.median + self.shift[weekday]
    }

    fn window(&self, weekday: usize) -> (i64, i64) {
        window_bounds(self.point(weekday), self.low, self.high)
    }
}

/// The recommended window in whole minutes after the timetable, widened to
/// 5-minute marks and at least 10 wide: `[from, to)`.
fn window_bounds(point: f64, low: f64, high: f64) -> (i64, i64) {
    let from = ((point + low) / 5.0).floor() as i64 * 5;
    let to = ((point + high) / 5.0).ceil() as i64 * 5;
    (from, to.max(from + 10))
}

fn inside(delay: f64, (from, to): (i64, i64)) -> bool {
    from as f64 <= delay && delay < to as f64
}

impl Params {
    /// The point estimate of the delay on `weekday`, minutes.
    pub fn point(&self, weekday: usize) -> f64 {
        self.median + self.weekday_shift[weekday % 7]
    }

    /// The recommended window on `weekday`, minutes after the timetable.
    pub fn window(&self, weekday: usize) -> (i64, i64) {
        window_bounds(self.point(weekday), self.residual_low, self.residual_high)
    }
}

/// Fits one bucket's observations (any order).
pub fn fit_bucket(obs: &[Observation], min_samples: usize) -> Params {
    let mut ordered: Vec<&Observation> = obs.iter().collect();
    ordered.sort_by_key(|o| o.scheduled);
    let n = ordered.len();
    let core = Core::fit(&ordered);
    let (mut hits, mut before, mut after) = (0usize, 0usize, 0usize);
    let (mut err, mut err_heuristic, mut err_fixed) = (Vec::new(), Vec::new(), Vec::new());
    if n >= 2 * FOLDS {
        for k in 0..FOLDS {
            let (start, end) = (k * n / FOLDS, (k + 1) * n / FOLDS);
            let train: Vec<&Observation> = ordered[..start]
                .iter()
                .chain(&ordered[end..])
                .copied()
                .collect();
            let fold = Core::fit(&train);
            for o in &ordered[start..end] {
                let (from, to) = fold.window(o.weekday);
                hits += usize::from(inside(o.delay, (from, to)));
                before += usize::from(inside(o.delay, (from - SIDE, from)));
                after += usize::from(inside(o.delay, (to, to + SIDE)));
                err.push((o.delay - fold.point(o.weekday)).abs());
                err_heuristic.push((o.delay - HEURISTIC_OFFSET).abs());
                err_fixed.push((o.delay - fold.median).abs());
            }
        }
    }
    let share = |c: usize| {
        if n >= 2 * FOLDS {
            c as f64 / n as f64
        } else {
            0.0
        }
    };
    let confidence = share(hits);
    Params {
        samples: n,
        synthetic_samples: obs.iter().filter(|o| o.synthetic).count(),
        feedback_samples: obs.iter().filter(|o| o.feedback).count(),
        median: round(core.median, 2),
        weekday_shift: core.shift.map(|s| round(s, 2)),
        residual_low: round(core.low, 2),
        residual_high: round(core.high, 2),
        confidence: round(confidence, 4),
        before: round(share(before), 4),
        after: round(share(after), 4),
        mae: round(mean(&err), 2),
        heuristic_mae: round(mean(&err_heuristic), 2),
        fixed_offset_mae: round(mean(&err_fixed), 2),
        trusted: n >= min_samples.max(2 * FOLDS) && confidence >= MIN_CONFIDENCE,
    }
}

/// Fits every bucket.
pub fn fit(obs: &[Observation], min_samples: usize) -> BTreeMap<String, Params> {
    let mut buckets: BTreeMap<&str, Vec<Observation>> = BTreeMap::new();
    for o in obs {
        buckets.entry(&o.key).or_default().push(o.clone());
    }
    buckets
        .into_iter()
        .map(|(key, obs)| (key.to_owned(), fit_bucket(&obs, min_samples)))
        .collect()
}

/// Every usable observation scheduled before `until` (all when `None`): the
/// scheduled time is the observation's own, else its departure's.
pub async fn load_observations(
    conn: &mut PgConnection,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<Observation>, sqlx::Error> {
    let sql = format!(
        "SELECT {key} AS key, {weekday} AS weekday,
                extract(epoch FROM o.departed_at - o.scheduled)::float8 / 60 AS delay,
                o.scheduled, o.synthetic, o.source = 'feedback' AS feedback
         FROM (SELECT o.*, COALESCE(o.scheduled_departure, r.departure_time) AS scheduled
               FROM trip_observations o LEFT JOIN travel_routes r ON r.id = o.route_id) o
         WHERE o.scheduled IS NOT NULL AND ($1::timestamptz IS NULL OR o.scheduled < $1)",
        key = key_sql("o.origin", "o.destination", "o.scheduled"),
        weekday = weekday_sql("o.scheduled"),
    );
    let rows: Vec<(String, i32, f64, DateTime<Utc>, bool, bool)> =
        sqlx::query_as(&sql).bind(until).fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .filter(|r| (PLAUSIBLE.0..=PLAUSIBLE.1).contains(&r.2))
        .map(
            |(key, weekday, delay, scheduled, synthetic, feedback)| Observation {
                key,
                weekday: weekday.clamp(0, 6) as usize,
                delay,
                scheduled,
                synthetic,
                feedback,
            },
        )
        .collect())
}

/// How a model did on observations it was not fitted on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Held-out departures with a trusted bucket.
    pub departures: usize,
    /// Per confidence band (0.6-0.7, ..., 0.9-1.0) with departures: the
    /// mean stated confidence, the observed share inside, and the count.
    pub bands: Vec<(f64, f64, usize)>,
    pub stated: f64,
    pub observed: f64,
    pub mae: f64,
    pub heuristic_mae: f64,
    pub fixed_offset_mae: f64,
}

/// Scores `buckets` on `held_out` observations, as the endpoints would have
/// answered them (trusted buckets only).
pub fn evaluate(buckets: &BTreeMap<String, Params>, held_out: &[Observation]) -> Evaluation {
    let mut bands: BTreeMap<i64, (Vec<f64>, usize)> = BTreeMap::new();
    let (mut stated, mut hits) = (Vec::new(), 0usize);
    let (mut err, mut err_heuristic, mut err_fixed) = (Vec::new(), Vec::new(), Vec::new());
    for o in held_out {
        let Some(p) = buckets.get(&o.key).filter(|p| p.trusted) else {
            continue;
        };
        let hit = inside(o.delay, p.window(o.weekday));
        let band = bands
            .entry(((p.confidence * 10.0).floor() as i64).min(9))
            .or_default();
        band.0.push(p.confidence);
        band.1 += usize::from(hit);
        stated.push(p.confidence);
        hits += usize::from(hit);
        err.push((o.delay - p.point(o.weekday)).abs());
        err_heuristic.push((o.delay - HEURISTIC_OFFSET).abs());
        err_fixed.push((o.delay - p.median).abs());
    }
    let n = stated.len();
    Evaluation {
        departures: n,
        bands: bands
            .into_values()
            .map(|(c, h)| (mean(&c), h as f64 / c.len() as f64, c.len()))
            .collect(),
        stated: mean(&stated),
        observed: if n == 0 { 0.0 } else { hits as f64 / n as f64 },
        mae: mean(&err),
        heuristic_mae: mean(&err_heuristic),
        fixed_offset_mae: mean(&err_fixed),
    }
}

/// A span of Africa/Douala local time the departure may leave in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DepartureWindow {
    /// `HH:MM-HH:MM` (the travel estimate's field name).
    #[schema(example = "06:05-06:25")]
    pub label: String,
    /// The same value (the AI endpoint's field name).
    #[schema(example = "06:05-06:25")]
    pub window: String,
    /// 0 to 1: the held-out probability of leaving in this window (a prior
    /// when `notes` says heuristic).
    #[schema(minimum = 0, maximum = 1)]
    pub confidence: f64,
    pub recommended: bool,
}

/// Windows around a departure's timetable time, exactly one recommended.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DepartureEstimate {
    /// As requested (a route's id or a departure's).
    pub route_id: String,
    pub windows: Vec<DepartureWindow>,
    /// What the windows rest on, in the caller's language; starts with
    /// `heuristic:` (`heuristique :` in French) when not the model.
    pub notes: String,
    /// The dated departure estimated.
    pub departure_id: String,
    /// `departure-vN` or `heuristic-v1`.
    pub model_version: String,
    /// Give it to `POST /api/ai/feedback` with what really happened.
    #[schema(value_type = String)]
    pub prediction_id: Uuid,
}

/// Which departure a request means.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// A departure id, or a route's (then its next departure).
    pub route_id: &'a str,
    /// A route's next departure after this instant (default now).
    pub after: Option<DateTime<Utc>>,
    /// A daily route's departure on this Africa/Douala day.
    pub day: Option<NaiveDate>,
}

#[derive(sqlx::FromRow)]
struct Resolved {
    id: String,
    origin: String,
    destination: String,
    local_time: NaiveTime,
    departure_time: DateTime<Utc>,
    weekday: i32,
    params: Option<sqlx::types::Json<Params>>,
    version: Option<i32>,
}

/// Estimates the departure `target` means (404 when none) with the active
/// fitted bucket, logs it with `input`, and answers it, its notes in `lang`.
pub async fn estimate(
    state: &AppState,
    target: Target<'_>,
    input: Value,
    user_id: Option<&str>,
    lang: Lang,
) -> ApiResult<DepartureEstimate> {
    let sql = format!(
        "SELECT t.id, t.origin, t.destination,
                (t.departure_time AT TIME ZONE 'Africa/Douala')::time AS local_time,
                t.departure_time,
                {weekday} AS weekday, p.params, p.version
         FROM travel_routes t
         LEFT JOIN ai_model_params p ON p.model = 'departure' AND p.key = {key}
         WHERE t.id = $1 OR (t.schedule_id = $1 AND t.departure_time > COALESCE($2::timestamptz, now())
               AND ($3::date IS NULL OR (t.departure_time AT TIME ZONE 'Africa/Douala')::date = $3))
         ORDER BY (t.id = $1) DESC, t.departure_time LIMIT 1",
        weekday = weekday_sql("t.departure_time"),
        key = key_sql("t.origin", "t.destination", "t.departure_time"),
    );
    let found: Resolved = sqlx::query_as(&sql)
        .bind(target.route_id)
        .bind(target.after)
        .bind(target.day)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(route_not_found)?;
    let min_samples = state.config.ai_min_samples as usize;
    let weekday = found.weekday.clamp(0, 6) as usize;
    let corridor = format!("{} - {}", found.origin, found.destination);
    let (windows, notes, version, fallback) = match (&found.params, found.version) {
        (Some(p), Some(v)) if p.trusted && p.samples >= min_samples => {
            let windows = modelled(&p.0, weekday, found.local_time);
            let notes = fitted_notes(&p.0, weekday, found.departure_time, &corridor, lang);
            (windows, notes, version_label(MODEL, v), false)
        }
        (params, _) => {
            let why = fallback_reason(params.as_ref().map(|p| &p.0), min_samples, lang);
            let notes = MESSAGES
                .text("ai-departure-heuristic")
                .arg("why", why)
                .arg("corridor", corridor)
                .arg("at", time(found.departure_time))
                .render(lang);
            (
                heuristic(found.local_time),
                notes,
                HEURISTIC_VERSION.to_owned(),
                true,
            )
        }
    };
    let estimate = DepartureEstimate {
        route_id: target.route_id.to_owned(),
        windows,
        notes,
        departure_id: found.id.clone(),
        model_version: version,
        prediction_id: Uuid::new_v4(),
    };
    let confidence = estimate
        .windows
        .iter()
        .find(|w| w.recommended)
        .map_or(0.0, |w| w.confidence);
    log_prediction(
        &state.db,
        &NewPrediction {
            id: estimate.prediction_id,
            kind: "departure_window",
            model_version: &estimate.model_version,
            route_id: Some(&found.id),
            user_id,
            input,
            output: json!(estimate),
            confidence,
            fallback,
        },
    )
    .await?;
    Ok(estimate)
}

/// Why the heuristic answers (a fragment of its notes).
fn fallback_reason(params: Option<&Params>, min_samples: usize, lang: Lang) -> Text {
    match params {
        None => MESSAGES.text("ai-departure-no-history"),
        Some(p) if p.samples < min_samples => MESSAGES
            .text("ai-departure-few-samples")
            .arg("samples", p.samples)
            .arg("needed", min_samples),
        Some(p) => MESSAGES
            .text("ai-departure-low-coverage")
            .arg("coverage", percent(lang, p.confidence)),
    }
}

/// The model's three windows.
fn modelled(p: &Params, weekday: usize, at: NaiveTime) -> Vec<DepartureWindow> {
    let (from, to) = p.window(weekday);
    vec![
        window(at, from - SIDE, from, p.before, false),
        window(at, from, to, p.confidence, true),
        window(at, to, to + SIDE, p.after, false),
    ]
}

/// What the model's windows rest on, in `lang`.
fn fitted_notes(
    p: &Params,
    weekday: usize,
    departure: DateTime<Utc>,
    corridor: &str,
    lang: Lang,
) -> String {
    let synthetic = if p.synthetic_samples > 0 {
        MESSAGES
            .text("ai-departure-synthetic")
            .arg("count", p.synthetic_samples)
            .into()
    } else {
        Arg::Str(String::new())
    };
    MESSAGES
        .text("ai-departure-fitted")
        .arg("samples", p.samples)
        .arg("corridor", corridor)
        .arg("at", time(departure))
        .arg("synthetic", synthetic)
        .arg("delay", number(lang, p.point(weekday), 0))
        .arg("day", on_day(weekday))
        .arg("coverage", percent(lang, p.confidence))
        .arg("mae", number(lang, p.mae, 1))
        .arg(
            "baseline",
            number(lang, p.heuristic_mae.min(p.fixed_offset_mae), 1),
        )
        .render(lang)
}

/// Windows around the timetable when no trusted model exists; their
/// confidences are priors, all under 0.6.
pub fn heuristic(at: NaiveTime) -> Vec<DepartureWindow> {
    vec![
        window(at, -30, 0, 0.2, false),
        window(at, 0, 30, 0.5, true),
        window(at, 30, 60, 0.2, false),
    ]
}

fn window(
    at: NaiveTime,
    from: i64,
    to: i64,
    confidence: f64,
    recommended: bool,
) -> DepartureWindow {
    let clock = |m: i64| (at + Duration::minutes(m)).format("%H:%M").to_string();
    let label = format!("{}-{}", clock(from), clock(to));
    DepartureWindow {
        window: label.clone(),
        label,
        confidence: round(confidence, 2),
        recommended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::SplitMix64;

    fn observations(n: usize, seed: u64) -> Vec<Observation> {
        let mut rng = SplitMix64::new(seed);
        let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        (0..n)
            .map(|i| {
                let weekday = i % 7;
                let friday = if weekday == 4 { 12.0 } else { 0.0 };
                Observation {
                    key: "a|b|6".into(),
                    weekday,
                    delay: 8.0 + friday + 4.0 * rng.normal(),
                    scheduled: start + Duration::days(i as i64),
                    synthetic: true,
                    feedback: false,
                }
            })
            .collect()
    }

    #[test]
    fn learns_the_weekday_shift_and_a_calibrated_window() {
        let p = fit_bucket(&observations(200, 1), 30);
        assert!(p.trusted, "{p:?}");
        assert!(p.point(4) - p.point(1) > 9.0, "Fridays are later: {p:?}");
        // The stated confidence is what fresh departures of the same kind show.
        let fresh = observations(1000, 7);
        let hits = fresh
            .iter()
            .filter(|o| inside(o.delay, p.window(o.weekday)))
            .count();
        let observed = hits as f64 / fresh.len() as f64;
        assert!(
            (observed - p.confidence).abs() < 0.05,
            "stated {} but {observed} of fresh departures fall inside",
            p.confidence
        );
        assert!(p.confidence >= MIN_CONFIDENCE, "{p:?}");
        assert!(
            p.mae < p.heuristic_mae && p.mae < p.fixed_offset_mae,
            "{p:?}"
        );
    }

    #[test]
    fn thin_buckets_are_not_trusted() {
        let p = fit_bucket(&observations(20, 2), 30);
        assert!(!p.trusted);
        assert_eq!(p.samples, 20);
    }

    #[test]
    fn notes_are_written_in_either_language() {
        let p = fit_bucket(&observations(200, 1), 30);
        let six = DateTime::parse_from_rfc3339("2026-12-04T05:00:00Z")
            .unwrap()
            .to_utc();
        let english = fitted_notes(&p, 4, six, "Yaounde - Douala", Lang::En);
        assert!(
            english.starts_with(
                "fitted on 200 observed departures of Yaounde - Douala around 06:00 WAT, \
                 200 of them synthetic: usually "
            ) && english
                .contains(" min after the timetable on Fridays; the recommended window held "),
            "{english}"
        );
        let french = fitted_notes(&p, 4, six, "Yaounde - Douala", Lang::Fr);
        assert!(
            french.starts_with(
                "ajusté sur 200 départs observés de Yaounde - Douala vers 06:00 WAT, \
                 dont 200 synthétiques : en général "
            ) && french
                .contains(" min après l’horaire le vendredi ; la fenêtre recommandée a contenu "),
            "{french}"
        );
        let thin = fit_bucket(&observations(1, 2), 30);
        let why = |lang| fallback_reason(Some(&thin), 30, lang).render(lang);
        assert_eq!(why(Lang::En), "only 1 observed departure (30 needed)");
        assert_eq!(why(Lang::Fr), "seulement 1 départ observé (30 nécessaires)");
        assert_eq!(
            fallback_reason(None, 30, Lang::Fr).render(Lang::Fr),
            "aucun historique ajusté"
        );
    }

    #[test]
    fn windows_wrap_around_midnight() {
        let w = heuristic(NaiveTime::from_hms_opt(23, 50, 0).unwrap());
        assert_eq!(w[1].label, "23:50-00:20");
        assert_eq!(w[1].window, w[1].label);
    }
}
