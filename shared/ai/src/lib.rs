//! The AI functions' models: statistics fitted on our own tables, never
//! downloaded weights. Each model is fitted offline by [`refit::run`] into
//! `ai_model_params` (one row per bucket, under a version in `ai_models`), so
//! a request reads one indexed row; every answer is logged in
//! `ai_predictions` ([`log_prediction`]) and its id handed back for feedback.
//!
//! - [`departure`]: when a departure really leaves, per corridor and
//!   scheduled hour with a weekday shift; windows whose confidence is their
//!   held-out coverage.
//! - [`traffic`]: speed and congestion per corridor and hour of the week,
//!   moved by the live location pings of travellers.
//! - [`text`]: accent- and case-insensitive BM25 for recommendations.
//! - [`guide`]: the tourist guide through Gemini, with a written fallback.
//! - [`synthetic`]: a deterministic history for fresh installs.
//!
//! What the answers say in words is in [`MESSAGES`] (English and French),
//! written in the caller's language; [`words`] puts numbers and lists in it.

pub mod departure;
pub mod guide;
pub mod preferences;
pub mod refit;
pub mod stats;
pub mod synthetic;
pub mod text;
pub mod traffic;
pub mod words;

use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// The models' messages in English and French (`locales/`).
pub static MESSAGES: shared::i18n::Catalog = shared::catalog!("ai");

/// The version label of a fitted model, as logged with its predictions.
pub fn version_label(model: &str, version: i32) -> String {
    format!("{model}-v{version}")
}

/// One prediction, for the audit log.
#[derive(Debug, Clone)]
pub struct NewPrediction<'a> {
    /// Chosen by the caller, so the logged output can carry it.
    pub id: Uuid,
    /// `departure_window`, `traffic`, `recommendation`, ...
    pub kind: &'a str,
    pub model_version: &'a str,
    /// The dated departure it is about, if any.
    pub route_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub input: Value,
    pub output: Value,
    /// 0 to 1.
    pub confidence: f64,
    /// True when a heuristic answered instead of a fitted model.
    pub fallback: bool,
}

/// Writes `p` to `ai_predictions`.
pub async fn log_prediction<'e>(
    db: impl PgExecutor<'e>,
    p: &NewPrediction<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ai_predictions (id, kind, model_version, route_id, user_id, input, output,
             confidence, fallback)
         VALUES ($9, $1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.kind)
    .bind(p.model_version)
    .bind(p.route_id)
    .bind(p.user_id)
    .bind(&p.input)
    .bind(&p.output)
    .bind(p.confidence.clamp(0.0, 1.0))
    .bind(p.fallback)
    .bind(p.id)
    .execute(db)
    .await?;
    Ok(())
}
