//! `migrate [--seed]`: applies `migrations/` to `DATABASE_URL`; with `--seed`,
//! also upserts the reference data and adds the coming days' departures.
//! Run by the deployment's migration Job, `scripts/dev`, and a daily CronJob.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let seed = std::env::args().any(|a| a == "--seed");
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("invalid configuration: DATABASE_URL: is required");
        return ExitCode::from(2);
    };
    match run(&url, seed).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migrate failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str, seed: bool) -> Result<(), Box<dyn std::error::Error>> {
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
    Ok(())
}
