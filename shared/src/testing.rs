//! Test support (feature `testing`): a fresh, migrated and seeded Postgres
//! database per test (cloned from a template), a unique Redis namespace, a
//! JWKS server on 127.0.0.1 with a test RSA key, and the app served on port 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::config::Config;
use crate::function::Function;
use crate::state::AppState;

use crate::schema::MIGRATOR;

/// The Postgres server tests use (`DATABASE_URL`, default the local one).
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The Redis server tests use (`REDIS_URL`, default the local one).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn url_with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

fn template_name() -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for m in MIGRATOR.iter() {
        m.checksum.hash(&mut h);
    }
    crate::seed::REFERENCE_DATA.hash(&mut h);
    crate::seed::DESCRIPTIONS_FR.hash(&mut h);
    include_str!("seed.rs").hash(&mut h);
    // Departures are seeded from today in Africa/Douala (UTC+1, as the seed
    // reads Postgres' clock): a new day there needs a new template.
    (chrono::Utc::now() + chrono::Duration::hours(1))
        .date_naive()
        .hash(&mut h);
    format!("imutis_tpl_{:016x}", h.finish())
}

/// A new database, migrated and seeded, for one test, reached like
/// [`app_db_url`] does.
pub async fn fresh_db() -> PgPool {
    let cache = std::env::var("DB_STATEMENT_CACHE_CAPACITY")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100);
    let options: sqlx::postgres::PgConnectOptions = app_db_url().await.parse().unwrap();
    PgPoolOptions::new()
        .max_connections(10)
        .connect_with(options.statement_cache_capacity(cache))
        .await
        .unwrap()
}

/// A new database, migrated and seeded, for one test, as the app under test
/// reaches it: directly, or with `TEST_POOLER_URL` set (e.g.
/// `postgres://postgres@127.0.0.1:6432`) through that connection pooler.
pub async fn app_db_url() -> String {
    let url = fresh_db_url().await;
    match std::env::var("TEST_POOLER_URL") {
        Ok(pooler) => {
            let db = url.rsplit('/').next().unwrap_or_default().to_owned();
            url_with_db(&pooler, db.split('?').next().unwrap_or_default())
        }
        Err(_) => url,
    }
}

/// `url` with its host and port replaced by `addr` (to reach a server through
/// a [`FaultProxy`]).
pub fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    let sep = if path.is_empty() { "" } else { "/" };
    format!(
        "{scheme}://{}{addr}{sep}{path}",
        userinfo.unwrap_or_default()
    )
}

/// A TCP proxy on 127.0.0.1 in front of a real server (Postgres, Redis) that a
/// test takes down (open connections cut, new ones dropped) and brings back:
/// an outage or restart, without touching the servers other tests share.
pub struct FaultProxy {
    pub addr: SocketAddr,
    down: Arc<std::sync::atomic::AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl FaultProxy {
    /// Proxies to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (is_down, tasks, target) = (down.clone(), connections.clone(), target.to_owned());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if is_down.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            addr,
            down,
            connections,
        }
    }

    /// The server "goes down": every open connection is cut, new ones dropped.
    pub fn down(&self) {
        self.down.store(true, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// The server is back.
    pub fn up(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// The URL of a new database, migrated and seeded, for one test.
pub async fn fresh_db_url() -> String {
    let admin = admin_url();
    let template = template_name();
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("tests need Postgres at DATABASE_URL (scripts/test starts one)");
    // Many test processes may start at once: one builds the template.
    conn.execute("SELECT pg_advisory_lock(727274)")
        .await
        .unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    if !exists {
        build_template(&mut conn, &admin, &template).await;
    }
    conn.execute("SELECT pg_advisory_unlock(727274)")
        .await
        .unwrap();
    let name = format!("imutis_test_{}", uuid::Uuid::new_v4().simple());
    conn.execute(format!(r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#).as_str())
        .await
        .unwrap();
    conn.close().await.ok();
    url_with_db(&admin, &name)
}

async fn build_template(conn: &mut PgConnection, admin: &str, template: &str) {
    let stale: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'imutis_tpl_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    for db in stale {
        conn.execute(format!(r#"ALTER DATABASE "{db}" IS_TEMPLATE false"#).as_str())
            .await
            .ok();
        conn.execute(format!(r#"DROP DATABASE IF EXISTS "{db}" WITH (FORCE)"#).as_str())
            .await
            .ok();
    }
    conn.execute(format!(r#"CREATE DATABASE "{template}""#).as_str())
        .await
        .unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url_with_db(admin, template))
        .await
        .unwrap();
    MIGRATOR.run(&pool).await.expect("migrations apply");
    crate::seed::run(&pool).await.expect("seed applies");
    pool.close().await;
    conn.execute(format!(r#"ALTER DATABASE "{template}" IS_TEMPLATE true"#).as_str())
        .await
        .unwrap();
}

/// The project id test tokens are issued for.
pub const PROJECT_ID: &str = "imutis-test";

/// A test signing key, served as a JWK set like Google's.
pub struct TestKeys {
    pub kid: String,
    encoding: EncodingKey,
    jwk: Value,
    /// The public key in PEM, for forging HS256 tokens with it as the secret.
    pub public_pem: String,
}

impl TestKeys {
    /// One RSA key per test process (generation is the slow part).
    pub fn get() -> &'static TestKeys {
        static KEYS: OnceLock<TestKeys> = OnceLock::new();
        KEYS.get_or_init(|| {
            use rsa::pkcs8::{EncodePublicKey, LineEnding};
            let mut rng = rand::thread_rng();
            let private = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA key generation");
            let public = private.to_public_key();
            let pem = private.to_pkcs1_pem(LineEnding::LF).unwrap();
            let b64 = |b: Vec<u8>| URL_SAFE_NO_PAD.encode(b);
            TestKeys {
                kid: "test-key-1".into(),
                encoding: EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
                jwk: json!({
                    "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "test-key-1",
                    "n": b64(public.n().to_bytes_be()), "e": b64(public.e().to_bytes_be()),
                }),
                public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
            }
        })
    }

    /// The public key as a JWK, as Google serves it.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// An RS256 token with these claims and `kid`.
    pub fn sign_with_kid(&self, claims: &Value, kid: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// An RS256 token with these claims, signed by the served key.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_kid(claims, &self.kid)
    }
}

/// Valid Firebase claims for `uid` in the test project.
pub fn claims(uid: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": format!("https://securetoken.google.com/{PROJECT_ID}"),
        "aud": PROJECT_ID,
        "auth_time": now - 60,
        "user_id": uid,
        "sub": uid,
        "iat": now - 60,
        "exp": now + 3600,
        "email": format!("{uid}@example.test"),
        "firebase": {"sign_in_provider": "password"},
    })
}

/// An unsigned emulator token (`alg: none`, empty signature) with these claims.
pub fn unsigned_token(claims: &Value) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!(
        "{}.{}.",
        enc(&json!({"alg": "none", "typ": "JWT"})),
        enc(claims)
    )
}

/// A JWKS endpoint on 127.0.0.1 serving [`TestKeys`], counting its hits.
pub struct JwksServer {
    pub url: String,
    hits: Arc<AtomicUsize>,
}

impl JwksServer {
    /// Starts the server.
    pub async fn start() -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let body = json!({ "keys": [TestKeys::get().jwk.clone()] });
        let app = Router::new().route(
            "/jwks",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move {
                    (
                        [("cache-control", "public, max-age=3600, must-revalidate")],
                        axum::Json(body),
                    )
                }
            }),
        );
        let addr = serve(app).await;
        Self {
            url: format!("http://{addr}/jwks"),
            hits,
        }
    }

    /// How many times the key set was fetched.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Serves `app` on an ephemeral 127.0.0.1 port, with peer addresses.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .ok();
    });
    addr
}

/// Configuration for a test: a unique Redis namespace, the test project and
/// JWKS server, plus any `overrides`.
pub fn config(jwks_url: &str, overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), admin_url()),
        ("REDIS_URL".into(), redis_url()),
        ("FIREBASE_PROJECT_ID".into(), PROJECT_ID.into()),
        ("FIREBASE_JWKS_URL".into(), jwks_url.into()),
        // Tests read what they just wrote; the memo has its own test.
        ("READ_CACHE_MS".into(), "0".into()),
        ("SESSION_CHECK_MS".into(), "0".into()),
        (
            "TICKET_SIGNING_KEY".into(),
            "test-ticket-key-0123456789abcdef0123456789".into(),
        ),
        (
            "REDIS_KEY_PREFIX".into(),
            format!("test:{}", uuid::Uuid::new_v4().simple()),
        ),
    ]);
    for (k, v) in overrides {
        vars.insert((*k).into(), (*v).into());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test configuration")
}

/// The functions under test, served for real on 127.0.0.1 over a fresh database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub jwks: JwksServer,
    pub client: reqwest::Client,
}

impl TestApp {
    /// Serves `functions` with default test configuration.
    pub async fn spawn(functions: Vec<Function>) -> Self {
        Self::spawn_with(functions, &[]).await
    }

    /// Serves `functions` with configuration `overrides` (e.g. rate limits).
    pub async fn spawn_with(functions: Vec<Function>, overrides: &[(&str, &str)]) -> Self {
        let url = app_db_url().await;
        Self::spawn_on(functions, &url, overrides).await
    }

    /// Serves `functions` over the database at `database_url` (e.g. a fresh
    /// one reached through a [`FaultProxy`]), with the production pool
    /// settings: lazy, statement cache and timeout from the configuration.
    pub async fn spawn_on(
        functions: Vec<Function>,
        database_url: &str,
        overrides: &[(&str, &str)],
    ) -> Self {
        let jwks = JwksServer::start().await;
        let cache = std::env::var("DB_STATEMENT_CACHE_CAPACITY").unwrap_or_else(|_| "100".into());
        let mut settings = vec![
            ("DATABASE_URL", database_url),
            ("DB_MAX_CONNECTIONS", "10"),
            ("DB_STATEMENT_CACHE_CAPACITY", cache.as_str()),
        ];
        settings.extend_from_slice(overrides);
        let mut config = config(&jwks.url, &settings);
        let names: Vec<&str> = functions.iter().map(|f| f.manifest.name.as_str()).collect();
        config.function = names.join("+");
        let state = AppState::new(config).unwrap();
        let addr = serve(crate::app::build(functions, state.clone())).await;
        Self {
            addr,
            state,
            jwks,
            client: crate::testing::http_client(),
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A GET request builder.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    /// A POST request builder with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).json(body)
    }

    /// A POST request builder with a raw JSON body (for malformed JSON).
    pub fn post_raw(&self, path: &str, body: &'static str) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
    }

    /// The body of `GET path` as text (e.g. `/metrics`).
    pub async fn text(&self, path: &str) -> String {
        let response = self
            .get(path)
            .send()
            .await
            .expect("request reaches the test server");
        response.text().await.expect("a text body")
    }

    /// The sum of the samples of the metric family `name` in `/metrics`
    /// whose labels include every one of `labels` (e.g. `status="200"`).
    pub async fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        let prefix = format!("{name}{{");
        self.text("/metrics")
            .await
            .lines()
            .filter(|l| l.starts_with(&prefix) && labels.iter().all(|want| l.contains(want)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// A valid token for `uid`.
    pub fn token(&self, uid: &str) -> String {
        TestKeys::get().sign(&claims(uid))
    }
}

/// The tests' own HTTP client (reqwest: what an app's HTTP stack does, not the
/// platform's outbound client under test).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("HTTP client configuration is static")
}

/// Sends `request`: its status and JSON body (`Null` when not JSON).
pub async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request
        .send()
        .await
        .expect("request reaches the test server");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Asserts that `function`'s router serves exactly the routes its manifest
/// declares: the documented routes equal the manifest's, and each answers
/// from its own handler (not the 404/405 fallbacks).
pub async fn assert_serves_its_manifest(function: Function) {
    use tower::ServiceExt;
    let mut declared = function.manifest.routes.clone();
    declared.sort();
    assert_eq!(
        function.documented_routes(),
        declared,
        "{}: the router's routes differ from [package.metadata.function]",
        function.manifest.name
    );
    let jwks = format!("http://127.0.0.1:9/{}", "jwks");
    let db = PgPoolOptions::new().connect_lazy(&admin_url()).unwrap();
    let state =
        AppState::with_pool(config(&jwks, &[("RATE_LIMIT_ANONYMOUS", "1000000")]), db).unwrap();
    let app = crate::app::build(vec![function], state);
    for route in declared {
        let path = route
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "probe" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let request = axum::http::Request::builder()
            .method(route.method())
            .uri(&path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let label = response
            .extensions()
            .get::<crate::middleware::RouteLabel>()
            .map(|l| l.0.as_str().to_owned());
        assert_eq!(
            label.as_deref(),
            Some(route.path.as_str()),
            "{route} is not served"
        );
    }
}

/// A function declared inline, for tests of the platform itself: `routes` as
/// in a manifest (`"GET /x"`), with the given auth policy and rate tier.
pub fn probe_function(
    name: &str,
    routes: &[&str],
    auth: &str,
    tier: &str,
    router: utoipa_axum::router::OpenApiRouter<AppState>,
) -> Function {
    let routes: Vec<String> = routes.iter().map(|r| format!("{r:?}")).collect();
    let manifest = format!(
        "[package]\nname = {name:?}\n[package.metadata.function]\nroutes = [{}]\nauth = {auth:?}\n\
         rate_limit = {tier:?}\nconcurrency = 10\nmin_scale = 0\nmax_scale = 1\nmemory = \"64Mi\"\n\
         cpu = \"100m\"\ntimeout_seconds = 5\n",
        routes.join(", ")
    );
    Function::new(&manifest, router)
}

/// A minibus of `capacity` seats owned by `owner` (created if needed), active
/// or not, with a unique plate: for tests of the functions that publish rides.
pub async fn insert_vehicle(db: &PgPool, owner: &str, capacity: i32, active: bool) -> uuid::Uuid {
    sqlx::query("INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(owner)
        .execute(db)
        .await
        .unwrap();
    sqlx::query_scalar(
        "INSERT INTO vehicles (owner_id, vehicle_type, license_plate, capacity, is_active)
         VALUES ($1, 'minibus', $2, $3, $4) RETURNING id",
    )
    .bind(owner)
    .bind(format!("T {}", uuid::Uuid::new_v4().simple()))
    .bind(capacity)
    .bind(active)
    .fetch_one(db)
    .await
    .unwrap()
}

/// The string `field` of every object in the JSON array `list`.
pub fn pluck<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .map(|items| items.iter().filter_map(|i| i[field].as_str()).collect())
        .unwrap_or_default()
}

/// Deterministic structure-aware mutations of a valid JSON body: values swapped
/// for wrong types, extremes, NUL bytes, huge strings and deep nesting; keys
/// dropped or added; and byte-level damage to the text. Each is POSTed to
/// `path` (with `token`, if any); the answer must never be a 5xx. Returns how
/// many answers each status got.
pub async fn fuzz_json(
    app: &TestApp,
    path: &str,
    seed: &Value,
    token: Option<&str>,
    cases: usize,
) -> std::collections::BTreeMap<u16, usize> {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng as usize
    };
    let deep = (0..200).fold(json!(1), |v, _| json!([v]));
    let nasty = [
        json!(null),
        json!(true),
        json!(-1),
        json!(0),
        json!(1e308),
        json!(-1e308),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(0.5),
        json!(""),
        json!("\u{0}"),
        json!("a\u{0}b"),
        json!("x".repeat(10_000)),
        json!("é".repeat(300)),
        json!([]),
        json!({}),
        json!([1, "2", null]),
        json!("2026-02-30T25:61:00Z"),
        json!("NaN"),
        deep,
    ];
    let mut statuses = std::collections::BTreeMap::new();
    for case in 0..cases {
        let mut body = seed.clone();
        let text = match next() % 5 {
            0 | 1 => {
                if let Some(map) = body.as_object_mut()
                    && !map.is_empty()
                {
                    let key = map.keys().nth(next() % map.len()).cloned().unwrap();
                    map.insert(key, nasty[next() % nasty.len()].clone());
                }
                body.to_string()
            }
            2 => {
                if let Some(map) = body.as_object_mut() {
                    if next() % 2 == 0 && !map.is_empty() {
                        let key = map.keys().nth(next() % map.len()).cloned().unwrap();
                        map.remove(&key);
                    } else {
                        map.insert(format!("extra{case}"), nasty[next() % nasty.len()].clone());
                    }
                }
                body.to_string()
            }
            3 => nasty[next() % nasty.len()].to_string(),
            _ => {
                let mut bytes = body.to_string().into_bytes();
                for _ in 0..1 + next() % 3 {
                    let at = next() % (bytes.len() + 1);
                    const DAMAGE: &[u8] = b"{}[]\",:\\0x\xff ";
                    let b = DAMAGE[next() % DAMAGE.len()];
                    match next() % 3 {
                        0 if at < bytes.len() => bytes[at] = b,
                        1 if at < bytes.len() => {
                            bytes.remove(at);
                        }
                        _ => bytes.insert(at, b),
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        let mut request = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(text.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let status = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("case {case}: no answer ({e}) to {text:.200}"))
            .status()
            .as_u16();
        assert!(status < 500, "case {case}: {status} for {text:.300}");
        *statuses.entry(status).or_default() += 1;
    }
    statuses
}

/// A company departure (no vehicle, no schedule) shaped like the seeded 06:00
/// Yaounde → Douala service (5500 XAF a seat, 3 h 45), with `seats` free
/// seats, leaving `departs_in` from now (negative: it has already left).
/// Tests that need a departure that has left, or one still to come, make it
/// here instead of counting on where in the day the seed's timetable stands.
pub async fn insert_departure(db: &PgPool, departs_in: chrono::Duration, seats: i32) -> String {
    let id = format!("dep-{}", uuid::Uuid::new_v4().simple());
    sqlx::query(
        "INSERT INTO travel_routes (id, origin, destination, origin_city_id, destination_city_id,
             departure_time, estimated_arrival, total_seats, available_seats, price_per_seat,
             confidence, distance_km, duration_minutes, amenities, geometry)
         SELECT $1, s.origin, s.destination, s.origin_city_id, s.destination_city_id,
             now() + make_interval(secs => $2), now() + make_interval(secs => $2)
                 + make_interval(mins => s.duration_minutes),
             $3, $3, s.price_per_seat, s.confidence, s.distance_km, s.duration_minutes,
             s.amenities, s.geometry
         FROM route_schedules s WHERE s.id = 'route-yaounde-douala-morning'",
    )
    .bind(&id)
    .bind(departs_in.num_milliseconds() as f64 / 1000.0)
    .bind(seats)
    .execute(db)
    .await
    .unwrap();
    id
}

/// `uid` (created if needed) holds a confirmed booking of `seats` on `route`,
/// paid by card, the seats taken from the departure as a booking takes them.
pub async fn insert_booking(db: &PgPool, uid: &str, route: &str, seats: i32) -> uuid::Uuid {
    sqlx::query_scalar(
        "WITH u AS (INSERT INTO users (uid) VALUES ($1) ON CONFLICT DO NOTHING),
              t AS (UPDATE travel_routes SET available_seats = available_seats - $3
                    WHERE id = $2 RETURNING id, price_per_seat)
         INSERT INTO bookings (user_id, route_id, passengers, total_price, payment_method, payment_status)
         SELECT $1, id, $3, price_per_seat * $3, 'card', 'paid' FROM t RETURNING id",
    )
    .bind(uid)
    .bind(route)
    .bind(seats)
    .fetch_one(db)
    .await
    .unwrap()
}

/// Asserts that no seat was lost or made up. On every departure that is not
/// cancelled, free seats plus the seats of its live bookings (confirmed or
/// pending; completed ones too, they travelled) equal its seats, except that
/// a departure that has left may count fewer booked seats than it filled:
/// a deleted account's past bookings go with it, their seats stay taken (the
/// trip's occupancy is history). A cancelled departure has no free seat and no
/// live booking left.
pub async fn assert_seats_add_up(db: &PgPool) {
    let wrong: Vec<(String, i32, i32, i64, bool, bool)> = sqlx::query_as(
        "SELECT t.id, t.total_seats, t.available_seats,
                COALESCE(sum(b.passengers) FILTER (WHERE b.status <> 'cancelled'), 0) AS held,
                t.cancelled_at IS NOT NULL AS cancelled, t.departure_time <= now() AS departed
         FROM travel_routes t LEFT JOIN bookings b ON b.route_id = t.id
         GROUP BY t.id
         HAVING CASE
             WHEN t.cancelled_at IS NOT NULL
                 THEN t.available_seats <> 0 OR COALESCE(sum(b.passengers)
                      FILTER (WHERE b.status IN ('confirmed', 'pending')), 0) <> 0
             WHEN t.departure_time <= now()
                 THEN t.available_seats + COALESCE(sum(b.passengers)
                      FILTER (WHERE b.status <> 'cancelled'), 0) > t.total_seats
             ELSE t.available_seats + COALESCE(sum(b.passengers)
                      FILTER (WHERE b.status <> 'cancelled'), 0) <> t.total_seats
         END
         ORDER BY t.id",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert!(
        wrong.is_empty(),
        "seats do not add up (id, seats, free, held, cancelled, departed): {wrong:?}"
    );
}

/// The variables that set this process's clock (`scripts/test-at` runs the
/// tests under libfaketime), for a child process started with `env_clear()`
/// to read the same time as the test that starts it.
pub fn clock_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k == "LD_PRELOAD" || k.starts_with("FAKETIME"))
        .collect()
}

/// A Redis that accepts connections and never answers, as one stopped with
/// SIGSTOP: its URL.
pub async fn hung_redis() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("redis://{addr}")
}

/// `functions` served over a Redis that hangs (100 ms deadline), with Gemini
/// configured but away, so the guide's probe gets as far as Redis.
pub async fn over_a_hung_redis(functions: Vec<Function>) -> TestApp {
    let redis = hung_redis().await;
    let settings = [
        ("REDIS_URL", redis.as_str()),
        ("REDIS_TIMEOUT_MS", "100"),
        ("GEMINI_API_KEY", "test-key"),
        ("GEMINI_API_URL", "http://127.0.0.1:9"),
        ("GEMINI_TIMEOUT_MS", "50"),
    ];
    TestApp::spawn_with(functions, &settings).await
}

/// Runs `call` five times over a hung Redis: each within the deadline (and
/// slack), and once the breaker has opened (after three failures) at once.
pub async fn keeps_the_deadline_and_the_breaker(what: &str, mut call: impl AsyncFnMut()) {
    use std::time::{Duration, Instant};
    for i in 0..5 {
        let started = Instant::now();
        call().await;
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(600),
            "{what}: call {i} took {took:?}"
        );
        if i >= crate::cache::TRIP_AFTER as usize {
            assert!(
                took < Duration::from_millis(60),
                "{what}: breaker open, yet call {i} took {took:?}"
            );
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago, for a spawned binary's
/// `$PORT`.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A spawned binary, killed when the test lets go of it (a failed assertion
/// included).
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}
