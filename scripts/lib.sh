# shellcheck shell=bash
# Shared by scripts/dev and scripts/test: install what is missing (Debian),
# start Postgres+PostGIS and Redis unless DATABASE_URL/REDIS_URL point elsewhere.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null || { log "no apt-get: install $* yourself"; return 1; }
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq || true; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_major() {
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
  echo "${v:-}"
}

# The toolchain rust-toolchain.toml pins, installed by rustup when missing.
# Where rustup cannot reach its distribution server (an offline machine), the
# default toolchain runs instead, with a warning: the build still checks the
# code, and CI's workflow jobs hold the pinned version.
ensure_toolchain() {
  command -v rustup >/dev/null || return 0
  local pinned
  pinned=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$ROOT/rust-toolchain.toml" 2>/dev/null)
  [ -n "$pinned" ] || return 0
  rustup toolchain list | grep -q "^$pinned" && return 0
  log "installing Rust $pinned (rust-toolchain.toml)"
  if ! (cd "$ROOT" && timeout 300 rustup toolchain install >/dev/null 2>&1); then
    RUSTUP_TOOLCHAIN=$(rustup default 2>/dev/null | cut -d' ' -f1)
    log "warning: cannot install Rust $pinned; using the default toolchain ($RUSTUP_TOOLCHAIN)"
    export RUSTUP_TOOLCHAIN
  fi
}

ensure_tools() {
  command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
  ensure_toolchain
  # .cargo/config.toml links with mold: much faster relinks of dozens of binaries.
  command -v mold >/dev/null || { log "installing mold"; apt_install mold || die "mold is required (apt-get install mold)"; }
  command -v psql >/dev/null || { log "installing postgresql client"; apt_install postgresql-client || true; }
  # Tests make their TLS servers' certificates (and the bench its keys) with it.
  command -v openssl >/dev/null || { log "installing openssl"; apt_install openssl || die "openssl is required (apt-get install openssl)"; }
}

ensure_local_postgres() {
  local major
  major=$(pg_major)
  if [ -z "$major" ]; then
    log "installing PostgreSQL"
    apt_install postgresql postgresql-contrib || die "could not install PostgreSQL"
    major=$(pg_major)
  fi
  if [ ! -f "/usr/share/postgresql/$major/extension/postgis.control" ]; then
    log "installing PostGIS for PostgreSQL $major"
    apt_install "postgresql-$major-postgis-3" || die "could not install postgresql-$major-postgis-3"
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    log "starting PostgreSQL $major"
    if command -v pg_ctlcluster >/dev/null; then
      [ -d "/etc/postgresql/$major/main" ] || as_root pg_createcluster "$major" main >/dev/null
      as_root pg_ctlcluster --skip-systemctl-redirect "$major" main start || as_root pg_ctlcluster "$major" main start
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL did not start"
  fi
  local url="postgres://postgres@127.0.0.1:5432/postgres"
  if ! psql "$url" -qtAc 'select 1' >/dev/null 2>&1; then
    # A stock Debian cluster wants a password over TCP: give postgres one for local use.
    as_root runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null \
      || die "cannot connect to PostgreSQL as postgres; set DATABASE_URL"
    url="postgres://postgres:postgres@127.0.0.1:5432/postgres"
  fi
  export DATABASE_URL="$url"
}

ensure_local_redis() {
  command -v redis-server >/dev/null || { log "installing redis"; apt_install redis-server redis-tools || die "could not install redis"; }
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/imutis-redis.log
    for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  export REDIS_URL="redis://127.0.0.1:6379"
}

# Uses DATABASE_URL / REDIS_URL when set; otherwise installs and starts local servers.
ensure_services() {
  ensure_tools
  if [ -z "${DATABASE_URL:-}" ]; then ensure_local_postgres; else log "using DATABASE_URL from the environment"; fi
  if [ -z "${REDIS_URL:-}" ]; then ensure_local_redis; else log "using REDIS_URL from the environment"; fi
}

# DATABASE_URL with its database name replaced.
db_url() {
  local url="${DATABASE_URL%%\?*}" query=""
  [[ "$DATABASE_URL" == *\?* ]] && query="?${DATABASE_URL#*\?}"
  echo "${url%/*}/$1$query"
}

# A PgBouncer on 127.0.0.1:6432 in front of the local Postgres (every database
# name passes through), for the pooled test run. Prints its URL. Debian's
# PgBouncer is 1.18, which cannot carry sqlx's prepared statements in
# transaction mode (that takes 1.21+ with max_prepared_statements, as the
# deployment's image has), so the local run pools sessions unless
# PGBOUNCER_POOL_MODE says otherwise. PgBouncer refuses root: it runs as postgres.
ensure_pgbouncer() {
  local mode="${PGBOUNCER_POOL_MODE:-session}"
  command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || { log "installing pgbouncer"; apt_install pgbouncer || return 1; }
  local bin dir=/tmp/imutis-pgbouncer
  bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
  if ! pg_isready -q -h 127.0.0.1 -p 6432 2>/dev/null; then
    mkdir -p "$dir"
    cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = 6432
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = $mode
max_client_conn = 500
default_pool_size = 20
server_idle_timeout = 2
query_wait_timeout = 30
ignore_startup_parameters = extra_float_digits,search_path,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    printf '"postgres" ""\n' >"$dir/users.txt"
    chown -R postgres "$dir" 2>/dev/null || true
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$bin" -d "$dir/pgbouncer.ini"; else "$bin" -d "$dir/pgbouncer.ini"; fi
    for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 6432 && break; sleep 0.5; done
  fi
  echo "postgres://postgres@127.0.0.1:6432/postgres"
}
