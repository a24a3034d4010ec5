//! `migrate --prune`: retention. Rows past their table's window are deleted
//! in small batches, each one short statement of its own (`DELETE ... WHERE
//! ctid = ANY (ARRAY(SELECT ctid ... LIMIT n))`), under a lock timeout, so a
//! prune never holds a lock for long nor waits long behind a request. Run
//! daily by the deployment's CronJob. Bookings, departures, users, reviews
//! and saved attractions are business records and never pruned here.

use std::time::Duration;

use sqlx::PgPool;

/// Rows deleted per statement.
pub const BATCH: i64 = 1_000;

/// One table's retention: rows matching `condition` (SQL over the table's
/// columns) are past their window.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// A name for the report: the table, and which of its rows.
    pub name: &'static str,
    pub table: &'static str,
    pub condition: &'static str,
    /// Why this window (README, "Retention").
    pub why: &'static str,
}

/// Every retention rule, as documented in the README.
pub const RULES: &[Rule] = &[
    Rule {
        name: "device_sessions (inactive)",
        table: "device_sessions",
        condition: "revoked_at IS NULL AND last_activity < now() - interval '180 days'",
        why: "a device unused for 180 days is forgotten; if it comes back it is a new device (and the user is told)",
    },
    Rule {
        name: "device_sessions (revoked)",
        table: "device_sessions",
        condition: "revoked_at IS NOT NULL AND revoked_at < now() - interval '365 days' \
                    AND last_activity < now() - interval '365 days'",
        why: "a revocation is kept a year after the device was last seen, so a revoked device that retries stays refused",
    },
    Rule {
        name: "notifications (read)",
        table: "notifications",
        condition: "read AND created_at < now() - interval '90 days'",
        why: "read notices older than 90 days are history nobody scrolls to",
    },
    Rule {
        name: "notifications (unread)",
        table: "notifications",
        condition: "NOT read AND created_at < now() - interval '365 days'",
        why: "an unread notice a year old is no longer news",
    },
    Rule {
        name: "notification_subscriptions",
        table: "notification_subscriptions",
        condition: "updated_at < now() - interval '270 days'",
        why: "FCM expires a token unused for 270 days; a live app re-subscribes on start",
    },
    Rule {
        name: "idempotency_keys",
        table: "idempotency_keys",
        condition: "created_at < now() - interval '2 days'",
        why: "a key protects retries for 24 hours; a day's margin after that",
    },
    Rule {
        name: "ai_predictions (no feedback)",
        table: "ai_predictions",
        condition: "feedback_at IS NULL AND created_at < now() - interval '180 days'",
        why: "the audit log of answers; the models learn from observations, not from predictions",
    },
    Rule {
        name: "ai_predictions (with feedback)",
        table: "ai_predictions",
        condition: "feedback_at IS NOT NULL AND created_at < now() - interval '730 days'",
        why: "kept as long as the observations their feedback produced (the observation stays, unlinked)",
    },
    Rule {
        name: "user_locations",
        table: "user_locations",
        condition: "recorded_at < now() - interval '30 days'",
        why: "the traffic model reads only the last 30 minutes of pings; 30 days covers support questions, no more (privacy)",
    },
    Rule {
        name: "trip_observations",
        table: "trip_observations",
        condition: "departed_at < now() - interval '730 days'",
        why: "the models' training data: two years keeps two of each season and holiday",
    },
    Rule {
        name: "ai_models (inactive)",
        table: "ai_models",
        condition: "NOT active AND fitted_at < now() - interval '180 days'",
        why: "one row per daily refit; superseded fits older than 180 days say nothing the active one does not",
    },
];

/// What one rule deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub name: &'static str,
    pub rows: u64,
    pub batches: u64,
}

/// Applies every rule in batches of `batch` rows; what each deleted.
pub async fn run(pool: &PgPool, batch: i64) -> Result<Vec<Pruned>, sqlx::Error> {
    let mut report = Vec::with_capacity(RULES.len());
    for rule in RULES {
        report.push(apply(pool, rule, batch).await?);
    }
    Ok(report)
}

/// Deletes `rule`'s rows, `batch` at a time, until none is left.
pub async fn apply(pool: &PgPool, rule: &Rule, batch: i64) -> Result<Pruned, sqlx::Error> {
    let sql = format!(
        "DELETE FROM {table} WHERE ctid = ANY (ARRAY(
             SELECT ctid FROM {table} WHERE {condition} LIMIT $1))",
        table = rule.table,
        condition = rule.condition,
    );
    let mut pruned = Pruned {
        name: rule.name,
        rows: 0,
        batches: 0,
    };
    loop {
        let mut conn = pool.acquire().await?;
        // Each batch is its own transaction: it gives up rather than queue
        // behind a request's lock, and never runs long.
        sqlx::query("SET lock_timeout = '2s'")
            .execute(&mut *conn)
            .await?;
        sqlx::query("SET statement_timeout = '30s'")
            .execute(&mut *conn)
            .await?;
        let deleted = sqlx::query(&sql)
            .bind(batch)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        pruned.batches += 1;
        pruned.rows += deleted;
        if deleted < batch as u64 {
            return Ok(pruned);
        }
        // Leave room for the requests between batches.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::testing::fresh_db;

    async fn exec(db: &PgPool, sql: &str) {
        sqlx::raw_sql(sql).execute(db).await.unwrap();
    }

    async fn count(db: &PgPool, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
    }

    /// Rows on each side of every window, old ones first; then the prune in
    /// batches of 2 leaves exactly the newer ones, and no booking moves.
    #[tokio::test]
    async fn deletes_rows_past_each_window_in_batches_and_keeps_the_rest() {
        let db = fresh_db().await;
        exec(
            &db,
            "INSERT INTO users (uid) VALUES ('ada'), ('bob');
             INSERT INTO bookings (user_id, route_id, passengers, total_price, payment_method,
                 created_at)
             SELECT 'ada', id, 1, 1000, 'cash', now() - interval '3 years'
             FROM travel_routes LIMIT 3;
             INSERT INTO device_sessions (user_id, device_id, last_activity, revoked_at, is_active) VALUES
                 ('ada', 'old', now() - interval '200 days', NULL, TRUE),
                 ('ada', 'recent', now() - interval '10 days', NULL, TRUE),
                 ('ada', 'revoked-long-ago', now() - interval '400 days', now() - interval '400 days', FALSE),
                 ('bob', 'revoked-recently', now() - interval '200 days', now() - interval '200 days', FALSE);
             INSERT INTO notifications (user_id, title, body, read, created_at)
             SELECT 'ada', 't', 'b', r, now() - make_interval(days => d)
             FROM (VALUES (TRUE, 100), (TRUE, 100), (TRUE, 100), (TRUE, 10),
                          (FALSE, 100), (FALSE, 400)) AS v(r, d);
             INSERT INTO notification_subscriptions (user_id, token, updated_at) VALUES
                 ('ada', 'stale', now() - interval '300 days'),
                 ('ada', 'live', now() - interval '3 days');
             INSERT INTO idempotency_keys (user_id, scope, key, request_hash, created_at) VALUES
                 ('ada', 's', 'old', 'h', now() - interval '3 days'),
                 ('ada', 's', 'new', 'h', now() - interval '1 hour');
             INSERT INTO ai_predictions (kind, model_version, input, output, confidence, created_at, feedback_at)
             SELECT 'k', 'v', '{}', '{}', 0.5, now() - make_interval(days => d), f
             FROM (VALUES (200, NULL), (200, NULL), (200, NULL), (20, NULL),
                          (200, now()), (800, now())) AS v(d, f);
             INSERT INTO user_locations (user_id, location, recorded_at)
             SELECT 'ada', ST_SetSRID(ST_MakePoint(9.7, 4.05), 4326), now() - make_interval(days => d)
             FROM unnest(ARRAY[40, 40, 40, 40, 40, 5]) AS d;
             INSERT INTO trip_observations (origin, destination, departed_at, arrived_at)
             SELECT 'Douala', 'Buea', now() - make_interval(days => d), now() - make_interval(days => d) + interval '1 hour'
             FROM unnest(ARRAY[800, 100]) AS d;
             INSERT INTO ai_models (name, version, fitted_at, samples, health, active) VALUES
                 ('departure', 1, now() - interval '300 days', 1, 'ok', FALSE),
                 ('departure', 2, now() - interval '10 days', 1, 'ok', FALSE),
                 ('departure', 3, now() - interval '300 days', 1, 'ok', TRUE);",
        )
        .await;
        let bookings = "SELECT count(*) FROM bookings";
        let seats = "SELECT sum(available_seats)::int8 FROM travel_routes";
        let (bookings_before, seats_before) = (count(&db, bookings).await, count(&db, seats).await);

        let report = run(&db, 2).await.unwrap();
        let rows = |name: &str| report.iter().find(|p| p.name == name).unwrap().rows;
        assert_eq!(rows("device_sessions (inactive)"), 1);
        assert_eq!(rows("device_sessions (revoked)"), 1);
        assert_eq!(rows("notifications (read)"), 3);
        assert_eq!(rows("notifications (unread)"), 1);
        assert_eq!(rows("idempotency_keys"), 1);
        assert_eq!(rows("notification_subscriptions"), 1);
        assert_eq!(rows("ai_predictions (no feedback)"), 3);
        assert_eq!(rows("ai_predictions (with feedback)"), 1);
        assert_eq!(rows("user_locations"), 5);
        assert_eq!(rows("trip_observations"), 1);
        assert_eq!(rows("ai_models (inactive)"), 1);
        let locations = report.iter().find(|p| p.name == "user_locations").unwrap();
        assert_eq!(locations.batches, 3, "5 rows in batches of 2");

        let left: Vec<String> =
            sqlx::query_scalar("SELECT device_id FROM device_sessions ORDER BY 1")
                .fetch_all(&db)
                .await
                .unwrap();
        assert_eq!(left, ["recent", "revoked-recently"]);
        for (sql, want) in [
            ("SELECT count(*) FROM notifications", 2),
            ("SELECT count(*) FROM idempotency_keys WHERE key = 'new'", 1),
            (
                "SELECT count(*) FROM notification_subscriptions WHERE token = 'live'",
                1,
            ),
            ("SELECT count(*) FROM notification_subscriptions", 1),
            ("SELECT count(*) FROM ai_predictions", 2),
            ("SELECT count(*) FROM user_locations", 1),
            ("SELECT count(*) FROM trip_observations", 1),
            ("SELECT count(*) FROM ai_models", 2),
            ("SELECT count(*) FROM ai_models WHERE active", 1),
        ] {
            assert_eq!(count(&db, sql).await, want, "{sql}");
        }
        assert_eq!(
            count(&db, bookings).await,
            bookings_before,
            "bookings untouched"
        );
        assert_eq!(count(&db, seats).await, seats_before);

        let again = run(&db, 2).await.unwrap();
        assert!(again.iter().all(|p| p.rows == 0), "{again:?}");
    }
}
