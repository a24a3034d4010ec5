//! `migrate [--seed] [--synthetic] [--refit] [--prune]`: applies
//! `migrations/` to `DATABASE_URL`; with `--seed`, also upserts the reference
//! data and adds the coming days' departures; with `--synthetic` (a fresh
//! development install only, never production), replaces the synthetic
//! history (90 days per daily route of departures that left, their bookings
//! and observed trips; fixed seed) and refits the AI models on it; with
//! `--refit`, refits the AI models on the data as it stands (the scheduled
//! refit); with `--prune`, deletes rows past their retention window in small
//! batches ([`migrate::prune`], windows in the README).
//! Run by the deployment's migration Job, `scripts/dev`, and daily CronJobs.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let seed = std::env::args().any(|a| a == "--seed");
    let synthetic = std::env::args().any(|a| a == "--synthetic");
    let refit = synthetic || std::env::args().any(|a| a == "--refit");
    let prune = std::env::args().any(|a| a == "--prune");
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("invalid configuration: DATABASE_URL: is required");
        return ExitCode::from(2);
    };
    match run(&url, seed, synthetic, refit, prune).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migrate failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    url: &str,
    seed: bool,
    synthetic: bool,
    refit: bool,
    prune: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await?;
    shared::schema::MIGRATOR.run(&pool).await?;
    println!("migrations applied");
    if seed {
        let report = shared::seed::run(&pool).await?;
        println!("seeded: {report:?}");
    }
    if synthetic {
        use ai::synthetic as history;
        let trips = history::seed(&pool, history::DEFAULT_DAYS, history::DEFAULT_SEED).await?;
        println!("synthetic history: {trips} trips");
    }
    if refit {
        let min_samples = std::env::var("AI_MIN_SAMPLES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30);
        match ai::refit::run(&pool, min_samples).await? {
            None => println!("refit skipped: another refit is running"),
            Some(models) => {
                for m in models {
                    println!(
                        "fitted {} v{}: {} samples, {}",
                        m.name, m.version, m.samples, m.health
                    );
                }
            }
        }
    }
    if prune {
        for p in migrate::prune::run(&pool, migrate::prune::BATCH).await? {
            println!(
                "pruned {}: {} rows in {} batches",
                p.name, p.rows, p.batches
            );
        }
    }
    Ok(())
}
