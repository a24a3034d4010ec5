//! The database connection budget of the generated deployment.
//!
//! Every instance of every function opens its own sqlx pool of up to
//! `DB_MAX_CONNECTIONS` connections, so the worst case is the sum over
//! functions (WebSocket ones included) of `max_scale` x `DB_MAX_CONNECTIONS`.
//! Those connections go to PgBouncer, which must accept them all:
//! `max_client_conn` of one PgBouncer pod (so losing a pod never refuses
//! clients) must cover the worst case. PgBouncer in turn opens at most
//! `max_db_connections` server connections per pod, and Postgres's
//! `max_connections` must cover every pod's, plus the migration Job, the
//! departures CronJob, the nightly `pg_dump` and the superuser reserve.
//!
//! Each figure is read from the one hand-written file that applies it:
//! `knative/platform/configmap.yaml` (`DB_MAX_CONNECTIONS`,
//! `DB_STATEMENT_CACHE_CAPACITY`), `knative/platform/pgbouncer/pgbouncer.ini`,
//! `knative/platform/pgbouncer.yaml` (the Deployment's `replicas`) and
//! `knative/platform/postgres.yaml` (`-c max_connections=N`). The Helm chart
//! checks the same sums at template time (`templates/pgbouncer.yaml`).

use std::path::Path;

use shared::function::Manifest;

pub const CONFIGMAP: &str = "knative/platform/configmap.yaml";
pub const PGBOUNCER: &str = "knative/platform/pgbouncer/pgbouncer.ini";
pub const PGBOUNCER_DEPLOYMENT: &str = "knative/platform/pgbouncer.yaml";
pub const POSTGRES: &str = "knative/platform/postgres.yaml";

/// Connections the other Postgres clients hold at most: the migration Job and
/// the departures CronJob (`tools/migrate`'s pool of 2 each, and they may
/// overlap) and `pg_dump` (1).
pub const OTHER_CLIENTS: u32 = 2 + 2 + 1;
/// Postgres's `superuser_reserved_connections` default.
pub const SUPERUSER_RESERVED: u32 = 3;

/// The figures and the sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub functions: usize,
    pub sum_max_scale: u64,
    pub db_max_connections: u64,
    pub statement_cache: u64,
    /// Worst case of client connections: `sum_max_scale * db_max_connections`.
    pub worst_case: u64,
    pub pool_mode: String,
    pub max_client_conn: u64,
    pub max_db_connections: u64,
    pub max_prepared_statements: u64,
    pub replicas: u64,
    pub postgres_max_connections: u64,
}

impl Budget {
    /// The Postgres connections the pooler, the jobs and the reserve need.
    pub fn postgres_needed(&self) -> u64 {
        self.replicas * self.max_db_connections
            + u64::from(OTHER_CLIENTS)
            + u64::from(SUPERUSER_RESERVED)
    }

    /// Every way the figures do not add up.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.worst_case > self.max_client_conn {
            p.push(format!(
                "connection budget exceeded: {} functions x max_scale (sum {}) x DB_MAX_CONNECTIONS {} = {} client connections, \
                 but PgBouncer's max_client_conn is {} ({PGBOUNCER}); raise max_client_conn, lower DB_MAX_CONNECTIONS \
                 ({CONFIGMAP}) or lower max_scale of rarely used functions",
                self.functions,
                self.sum_max_scale,
                self.db_max_connections,
                self.worst_case,
                self.max_client_conn
            ));
        }
        if self.postgres_max_connections < self.postgres_needed() {
            p.push(format!(
                "Postgres max_connections {} ({POSTGRES}) is below what it must serve: {} PgBouncer pod(s) ({PGBOUNCER_DEPLOYMENT}) x max_db_connections {} \
                 + {OTHER_CLIENTS} (migrations, departures, pg_dump) + {SUPERUSER_RESERVED} superuser reserved = {}",
                self.postgres_max_connections,
                self.replicas,
                self.max_db_connections,
                self.postgres_needed()
            ));
        }
        if self.pool_mode == "transaction"
            && self.max_prepared_statements == 0
            && self.statement_cache > 0
        {
            p.push(format!(
                "PgBouncer in transaction mode with max_prepared_statements = 0 cannot carry sqlx's prepared statements: \
                 set max_prepared_statements (PgBouncer >= 1.21) in {PGBOUNCER} or DB_STATEMENT_CACHE_CAPACITY: \"0\" in {CONFIGMAP}"
            ));
        }
        p
    }

    /// One line for `gen` and `check`.
    pub fn summary(&self) -> String {
        format!(
            "connection budget: {} functions, sum(max_scale) {} x DB_MAX_CONNECTIONS {} = {} of PgBouncer max_client_conn {} ({}%); \
             Postgres max_connections {} >= {} needed ({} x {} pooled + {} + {} reserved)",
            self.functions,
            self.sum_max_scale,
            self.db_max_connections,
            self.worst_case,
            self.max_client_conn,
            self.worst_case * 100 / self.max_client_conn.max(1),
            self.postgres_max_connections,
            self.postgres_needed(),
            self.replicas,
            self.max_db_connections,
            OTHER_CLIENTS,
            SUPERUSER_RESERVED,
        )
    }
}

fn read(root: &Path, rel: &str) -> Result<String, String> {
    std::fs::read_to_string(root.join(rel)).map_err(|e| format!("{rel}: {e}"))
}

/// Lines that are not comments.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
}

/// The single value of `key` in `text`, where a line reads `key<sep>value`
/// (`sep` is `=` for pgbouncer.ini, `:` for YAML); quotes are stripped.
fn single(text: &str, rel: &str, key: &str, sep: char) -> Result<String, String> {
    let found: Vec<String> = lines(text)
        .filter_map(|l| {
            let rest = l.strip_prefix(key)?;
            let value = rest.trim_start().strip_prefix(sep)?;
            Some(value.trim().trim_matches('"').trim().to_owned())
        })
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!("{rel}: no `{key}` setting")),
        _ => Err(format!("{rel}: `{key}` set {} times", found.len())),
    }
}

fn number(text: &str, rel: &str, key: &str, sep: char) -> Result<u64, String> {
    let v = single(text, rel, key, sep)?;
    v.parse()
        .map_err(|_| format!("{rel}: `{key}` is {v:?}, not a number"))
}

/// `-c max_connections=N` in the Postgres StatefulSet's args.
fn postgres_max_connections(text: &str) -> Result<u64, String> {
    let found: Vec<&str> = lines(text)
        .flat_map(|l| {
            l.match_indices("max_connections=")
                .map(move |(i, m)| &l[i + m.len()..])
        })
        .collect();
    let [rest] = found.as_slice() else {
        return Err(format!(
            "{POSTGRES}: expected exactly one `max_connections=N` in the server's args, found {}",
            found.len()
        ));
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .map_err(|_| format!("{POSTGRES}: max_connections= is not followed by a number"))
}

/// Reads the figures under `root` and sums the functions' worst case.
pub fn compute(root: &Path, functions: &[&Manifest]) -> Result<Budget, String> {
    let configmap = read(root, CONFIGMAP)?;
    let pgbouncer = read(root, PGBOUNCER)?;
    let deployment = read(root, PGBOUNCER_DEPLOYMENT)?;
    let postgres = read(root, POSTGRES)?;
    let db_max_connections = number(&configmap, CONFIGMAP, "DB_MAX_CONNECTIONS", ':')?;
    let statement_cache = number(&configmap, CONFIGMAP, "DB_STATEMENT_CACHE_CAPACITY", ':')?;
    let sum_max_scale: u64 = functions.iter().map(|m| u64::from(m.max_scale)).sum();
    Ok(Budget {
        functions: functions.len(),
        sum_max_scale,
        db_max_connections,
        statement_cache,
        worst_case: sum_max_scale * db_max_connections,
        pool_mode: single(&pgbouncer, PGBOUNCER, "pool_mode", '=')?,
        max_client_conn: number(&pgbouncer, PGBOUNCER, "max_client_conn", '=')?,
        max_db_connections: number(&pgbouncer, PGBOUNCER, "max_db_connections", '=')?,
        max_prepared_statements: number(&pgbouncer, PGBOUNCER, "max_prepared_statements", '=')?,
        replicas: number(&deployment, PGBOUNCER_DEPLOYMENT, "replicas", ':')?,
        postgres_max_connections: postgres_max_connections(&postgres)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Budget {
        Budget {
            functions: 3,
            sum_max_scale: 30,
            db_max_connections: 5,
            statement_cache: 100,
            worst_case: 150,
            pool_mode: "transaction".into(),
            max_client_conn: 200,
            max_db_connections: 20,
            max_prepared_statements: 300,
            replicas: 2,
            postgres_max_connections: 48,
        }
    }

    #[test]
    fn the_sums_bite() {
        assert!(budget().problems().is_empty(), "{:?}", budget().problems());
        let over = Budget {
            worst_case: 201,
            ..budget()
        };
        assert!(over.problems()[0].contains("connection budget exceeded"));
        let small_pg = Budget {
            postgres_max_connections: 47,
            ..budget()
        };
        assert!(small_pg.problems()[0].contains("max_connections 47"));
        let untracked = Budget {
            max_prepared_statements: 0,
            ..budget()
        };
        assert_eq!(untracked.problems().len(), 1);
        let cache_off = Budget {
            statement_cache: 0,
            ..untracked
        };
        assert!(cache_off.problems().is_empty());
    }

    #[test]
    fn settings_are_read_once_and_strictly() {
        let ini = "[pgbouncer]\n; max_client_conn = 1\nmax_client_conn = 4000\n  pool_mode = transaction\n";
        assert_eq!(number(ini, "x", "max_client_conn", '=').unwrap(), 4000);
        assert_eq!(single(ini, "x", "pool_mode", '=').unwrap(), "transaction");
        assert!(
            number(
                "max_client_conn = 1\nmax_client_conn = 2\n",
                "x",
                "max_client_conn",
                '='
            )
            .is_err()
        );
        assert!(number("max_client_conn_x = 1\n", "x", "max_client_conn", '=').is_err());
        assert_eq!(
            number(
                "  DB_MAX_CONNECTIONS: \"5\"\n",
                "x",
                "DB_MAX_CONNECTIONS",
                ':'
            )
            .unwrap(),
            5
        );
        assert_eq!(
            postgres_max_connections(
                "args: [\"-c\", \"max_connections=120\"]\n# max_connections=1\n"
            )
            .unwrap(),
            120
        );
        assert!(postgres_max_connections("args: []\n").is_err());
    }
}
