//! Refitting every model: one transaction under a Postgres advisory lock, so
//! two refits at once never interleave (the second one skips), and requests
//! see either the old version's parameters or the new one's, never a mix.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use super::{departure, traffic};

/// The advisory lock key of refits ("AIREFIT" in ASCII).
const LOCK: i64 = 0x0041_4952_4546_4954;

/// What one model's fit produced.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FittedModel {
    #[schema(example = "departure")]
    pub name: String,
    pub version: i32,
    pub samples: i64,
    pub synthetic_samples: i64,
    pub feedback_samples: i64,
    /// `ok`, `degraded` (data, but no bucket trusted) or `untrained` (no data).
    pub health: String,
    #[schema(value_type = Object)]
    pub metrics: Value,
}

/// Refits every model; `None` when another refit holds the lock.
pub async fn run(pool: &PgPool, min_samples: u32) -> Result<Option<Vec<FittedModel>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(None);
    }
    let observations = departure::load_observations(&mut tx, None).await?;
    let buckets = departure::fit(&observations, min_samples as usize);
    let trips = traffic::load_trips(&mut tx).await?;
    let corridors = traffic::fit(&trips);
    let fitted = vec![
        save(
            &mut tx,
            departure::MODEL,
            departure_summary(&buckets, min_samples),
            &buckets,
        )
        .await?,
        save(
            &mut tx,
            traffic::MODEL,
            traffic_summary(&corridors),
            &corridors,
        )
        .await?,
    ];
    tx.commit().await?;
    Ok(Some(fitted))
}

/// Counts, health and metrics of a fit, before it has a version.
struct Summary {
    samples: i64,
    synthetic: i64,
    feedback: i64,
    health: &'static str,
    metrics: Value,
}

fn departure_summary(b: &BTreeMap<String, departure::Params>, min_samples: u32) -> Summary {
    let sum = |f: fn(&departure::Params) -> usize| b.values().map(f).sum::<usize>() as i64;
    let samples = sum(|p| p.samples);
    let trusted: Vec<&departure::Params> = b.values().filter(|p| p.trusted).collect();
    let weight: f64 = trusted.iter().map(|p| p.samples as f64).sum();
    let weighted = |f: fn(&departure::Params) -> f64| {
        if weight == 0.0 {
            Value::Null
        } else {
            let v = trusted.iter().map(|p| f(p) * p.samples as f64).sum::<f64>() / weight;
            json!(super::stats::round(v, 3))
        }
    };
    Summary {
        samples,
        synthetic: sum(|p| p.synthetic_samples),
        feedback: sum(|p| p.feedback_samples),
        health: health(samples, !trusted.is_empty()),
        metrics: json!({
            "buckets": b.len(),
            "trusted_buckets": trusted.len(),
            "min_samples": min_samples,
            "held_out_coverage": weighted(|p| p.confidence),
            "mae_minutes": weighted(|p| p.mae),
            "heuristic_mae_minutes": weighted(|p| p.heuristic_mae),
            "fixed_offset_mae_minutes": weighted(|p| p.fixed_offset_mae),
        }),
    }
}

fn traffic_summary(c: &BTreeMap<String, traffic::Params>) -> Summary {
    let sum = |f: fn(&traffic::Params) -> usize| c.values().map(f).sum::<usize>() as i64;
    let samples = sum(|p| p.samples);
    Summary {
        samples,
        synthetic: sum(|p| p.synthetic_samples),
        feedback: sum(|p| p.feedback_samples),
        health: health(samples, samples > 0),
        metrics: json!({
            "corridors": c.len(),
            "free_flow_kmh": c.iter().map(|(k, p)| (k.clone(), p.free_flow_kmh)).collect::<BTreeMap<_, _>>(),
        }),
    }
}

fn health(samples: i64, usable: bool) -> &'static str {
    match (samples, usable) {
        (0, _) => "untrained",
        (_, false) => "degraded",
        _ => "ok",
    }
}

/// Writes a new active version of `model` with `params` per key, replacing the old ones.
async fn save<P: Serialize>(
    conn: &mut PgConnection,
    model: &str,
    s: Summary,
    params: &BTreeMap<String, P>,
) -> Result<FittedModel, sqlx::Error> {
    let version: i32 = sqlx::query_scalar(
        "WITH retired AS (UPDATE ai_models SET active = false WHERE name = $1 AND active)
         SELECT COALESCE(max(version), 0) + 1 FROM ai_models WHERE name = $1",
    )
    .bind(model)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO ai_models (name, version, samples, synthetic_samples, feedback_samples, health, metrics)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(model)
    .bind(version)
    .bind(s.samples as i32)
    .bind(s.synthetic as i32)
    .bind(s.feedback as i32)
    .bind(s.health)
    .bind(&s.metrics)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM ai_model_params WHERE model = $1")
        .bind(model)
        .execute(&mut *conn)
        .await?;
    let keys: Vec<&str> = params.keys().map(String::as_str).collect();
    let values: Vec<Value> = params.values().map(|p| json!(p)).collect();
    let samples: Vec<i32> = values
        .iter()
        .map(|v| v["samples"].as_i64().unwrap_or(0) as i32)
        .collect();
    sqlx::query(
        "INSERT INTO ai_model_params (model, key, version, samples, params)
         SELECT $1, k, $2, n, p FROM unnest($3::text[], $4::int[], $5::jsonb[]) AS u(k, n, p)",
    )
    .bind(model)
    .bind(version)
    .bind(&keys)
    .bind(&samples)
    .bind(&values)
    .execute(&mut *conn)
    .await?;
    Ok(FittedModel {
        name: model.to_owned(),
        version,
        samples: s.samples,
        synthetic_samples: s.synthetic,
        feedback_samples: s.feedback,
        health: s.health.to_owned(),
        metrics: s.metrics,
    })
}
