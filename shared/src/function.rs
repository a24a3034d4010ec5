//! A function: its router and the manifest it declares in its own `Cargo.toml`
//! under `[package.metadata.function]`, over the defaults every function
//! inherits from `[workspace.metadata.function]` in the root `Cargo.toml` (a
//! crate writes only what differs). The manifests are the one list of
//! functions; the runtime, the dev server and the deployment generator read them.

use axum::http::Method;
use serde::Deserialize;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::i18n::Catalog;
use crate::rate_limit::RateTier;
use crate::state::AppState;

/// Who may call a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthPolicy {
    /// Anyone; a valid token only raises the rate limit.
    None,
    /// 401 without a valid Firebase ID token.
    Required,
}

/// One `METHOD /path` a function serves (`{param}` segments as in axum).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    pub path: String,
}

impl Route {
    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.method
            .parse()
            .expect("validated when the manifest was read")
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// A function's `[package.metadata.function]` table, plus its package name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(skip)]
    pub name: String,
    #[serde(skip)]
    pub description: String,
    #[serde(rename = "routes")]
    raw_routes: Vec<String>,
    #[serde(skip)]
    pub routes: Vec<Route>,
    pub auth: AuthPolicy,
    pub rate_limit: RateTier,
    /// Long-lived WebSocket connections (scaled on connections, long timeouts).
    #[serde(default)]
    pub websocket: bool,
    pub concurrency: u32,
    pub min_scale: u32,
    pub max_scale: u32,
    /// Kubernetes quantity, e.g. `"64Mi"`.
    pub memory: String,
    /// Kubernetes quantity, e.g. `"100m"`.
    pub cpu: String,
    pub timeout_seconds: u32,
    /// The optional secrets the function reads besides the database and
    /// Redis URLs (e.g. `"TICKET_SIGNING_KEY"`): the deployment gives each
    /// function only these keys of the Secret.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Reads only: served alone, it reads through `DATABASE_READ_URL` (the
    /// replicas) when that is set, via `state.db_read`. Goes with
    /// `secrets = ["DATABASE_READ_URL"]`, which hands it that key.
    #[serde(default)]
    pub read_only: bool,
}

/// Keys of the functions' Secret that a manifest may ask for under `secrets`
/// (`DATABASE_READ_URL` only with `read_only = true`).
pub const OPTIONAL_SECRETS: [&str; 6] = [
    "TICKET_SIGNING_KEY",
    "FCM_PROJECT_ID",
    "FCM_CLIENT_EMAIL",
    "FCM_PRIVATE_KEY",
    "GEMINI_API_KEY",
    "DATABASE_READ_URL",
];

#[derive(Deserialize)]
struct CargoToml {
    package: Package,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    description: Option<String>,
    metadata: Option<PackageMetadata>,
}

#[derive(Deserialize)]
struct PackageMetadata {
    function: Option<toml::Table>,
}

/// The defaults in a workspace `Cargo.toml`'s `[workspace.metadata.function]`.
fn workspace_defaults(workspace_toml: &str) -> Result<toml::Table, String> {
    if workspace_toml.is_empty() {
        return Ok(toml::Table::new());
    }
    let root: toml::Table =
        toml::from_str(workspace_toml).map_err(|e| format!("workspace Cargo.toml: {e}"))?;
    let defaults = root
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("function"));
    match defaults {
        None => Ok(toml::Table::new()),
        Some(toml::Value::Table(t)) => Ok(t.clone()),
        Some(_) => Err("[workspace.metadata.function] is not a table".into()),
    }
}

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

impl Manifest {
    /// Reads the manifest from a function crate's `Cargo.toml` alone (no
    /// inherited defaults); `Ok(None)` for a crate that is not a function.
    pub fn from_cargo_toml(text: &str) -> Result<Option<Self>, String> {
        Self::from_cargo_toml_in(text, "")
    }

    /// Reads the manifest from a function crate's `Cargo.toml` over the
    /// defaults of the workspace `Cargo.toml` (`workspace_toml`); `Ok(None)`
    /// for a crate that is not a function.
    pub fn from_cargo_toml_in(text: &str, workspace_toml: &str) -> Result<Option<Self>, String> {
        let cargo: CargoToml = toml::from_str(text).map_err(|e| e.to_string())?;
        let Some(own) = cargo.package.metadata.and_then(|m| m.function) else {
            return Ok(None);
        };
        let name = cargo.package.name;
        let mut table = workspace_defaults(workspace_toml)?;
        table.extend(own);
        let mut manifest: Self = toml::Value::Table(table)
            .try_into()
            .map_err(|e| format!("{name}: {e}"))?;
        manifest.name = name.clone();
        manifest.description = cargo.package.description.unwrap_or_default();
        if manifest.raw_routes.is_empty() {
            return Err(format!("{name}: declares no routes"));
        }
        for raw in &manifest.raw_routes {
            let (method, path) = raw
                .split_once(' ')
                .ok_or_else(|| format!("{name}: route {raw:?} is not \"METHOD /path\""))?;
            if !METHODS.contains(&method) || !path.starts_with('/') || path.contains(' ') {
                return Err(format!("{name}: route {raw:?} is not \"METHOD /path\""));
            }
            manifest.routes.push(Route {
                method: method.to_owned(),
                path: path.to_owned(),
            });
        }
        if manifest.min_scale > manifest.max_scale || manifest.max_scale == 0 {
            return Err(format!("{name}: min_scale must not exceed max_scale >= 1"));
        }
        if let Some(s) = manifest
            .secrets
            .iter()
            .find(|s| !OPTIONAL_SECRETS.contains(&s.as_str()))
        {
            return Err(format!(
                "{name}: unknown secret {s:?} (known: {OPTIONAL_SECRETS:?})"
            ));
        }
        let reads_replicas = manifest.secrets.iter().any(|s| s == "DATABASE_READ_URL");
        if reads_replicas != manifest.read_only {
            return Err(format!(
                "{name}: read_only = true and secrets = [\"DATABASE_READ_URL\"] go together"
            ));
        }
        if manifest.concurrency == 0 || manifest.timeout_seconds == 0 {
            return Err(format!(
                "{name}: concurrency and timeout_seconds must be >= 1"
            ));
        }
        Ok(Some(manifest))
    }
}

/// A function ready to be served: its manifest, its router and its OpenAPI paths.
pub struct Function {
    pub manifest: Manifest,
    pub router: axum::Router<AppState>,
    pub openapi: OpenApi,
    /// Catalogs whose stored messages (notifications) this function renders,
    /// besides the platform's own.
    pub catalogs: Vec<&'static Catalog>,
}

impl Function {
    /// Pairs a router with the manifest in `cargo_toml`; use [`crate::function!`].
    ///
    /// # Panics
    /// When the manifest is missing or invalid: a build-time constant, caught by
    /// every function's tests.
    pub fn new(cargo_toml: &str, router: OpenApiRouter<AppState>) -> Self {
        Self::in_workspace(cargo_toml, "", router)
    }

    /// Pairs a router with the manifest in `cargo_toml` over the defaults of
    /// `workspace_toml`; what [`crate::function!`] calls.
    ///
    /// # Panics
    /// As [`Function::new`].
    pub fn in_workspace(
        cargo_toml: &str,
        workspace_toml: &str,
        router: OpenApiRouter<AppState>,
    ) -> Self {
        let manifest = Manifest::from_cargo_toml_in(cargo_toml, workspace_toml)
            .and_then(|m| m.ok_or_else(|| "no [package.metadata.function] table".into()))
            .unwrap_or_else(|e| panic!("invalid function manifest: {e}"));
        let (router, openapi) = router.split_for_parts();
        Self {
            manifest,
            router,
            openapi,
            catalogs: Vec::new(),
        }
    }

    /// Renders stored messages of `catalog` too: a function that writes,
    /// lists or relays the business's notifications names its catalog.
    #[must_use]
    pub fn messages(mut self, catalog: &'static Catalog) -> Self {
        self.catalogs.push(catalog);
        self
    }

    /// The `METHOD /path` pairs the router's OpenAPI annotations document.
    pub fn documented_routes(&self) -> Vec<Route> {
        let mut routes: Vec<Route> = self
            .openapi
            .paths
            .paths
            .iter()
            .flat_map(|(path, item)| {
                let ops = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ];
                ops.into_iter().filter(|(_, on)| *on).map(|(m, _)| Route {
                    method: m.to_owned(),
                    path: path.clone(),
                })
            })
            .collect();
        routes.sort();
        routes
    }
}

/// `shared::function!(router)` builds a [`Function`] from the calling crate's
/// own `Cargo.toml` manifest over the workspace's defaults (function crates sit
/// at `functions/<name>/`, two levels below the root `Cargo.toml`).
#[macro_export]
macro_rules! function {
    ($router:expr) => {
        $crate::function::Function::in_workspace(
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")),
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml")),
            $router,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[package]
name = "x"
[package.metadata.function]
routes = ["GET /api/x/{id}"]
auth = "required"
rate_limit = "booking"
concurrency = 50
min_scale = 0
max_scale = 10
memory = "64Mi"
cpu = "100m"
timeout_seconds = 30
"#;

    #[test]
    fn reads_a_manifest() {
        let m = Manifest::from_cargo_toml(GOOD).unwrap().unwrap();
        assert_eq!(m.name, "x");
        assert_eq!(m.routes[0].to_string(), "GET /api/x/{id}");
        assert_eq!(m.auth, AuthPolicy::Required);
        assert_eq!(m.rate_limit, RateTier::Booking);
        assert!(!m.read_only);
        let m = Manifest::from_cargo_toml(&format!(
            "{GOOD}read_only = true\nsecrets = [\"DATABASE_READ_URL\"]\n"
        ))
        .unwrap()
        .unwrap();
        assert!(m.read_only);
        for half in ["read_only = true\n", "secrets = [\"DATABASE_READ_URL\"]\n"] {
            assert!(Manifest::from_cargo_toml(&format!("{GOOD}{half}")).is_err());
        }
    }

    #[test]
    fn a_manifest_inherits_what_it_does_not_say_from_the_workspace() {
        let workspace = "[workspace.metadata.function]\nauth = \"none\"\nmax_scale = 7\n\
                         memory = \"128Mi\"\n";
        let m = Manifest::from_cargo_toml_in(&GOOD.replace("memory = \"64Mi\"\n", ""), workspace)
            .unwrap()
            .unwrap();
        assert_eq!(m.auth, AuthPolicy::Required, "the crate's own value wins");
        assert_eq!(m.max_scale, 10);
        assert_eq!(m.memory, "128Mi", "inherited");
        let bare = "[package]\nname = \"y\"\n[package.metadata.function]\nroutes = [\"GET /y\"]\n";
        assert!(
            Manifest::from_cargo_toml(bare).is_err(),
            "nothing to inherit"
        );
        let root = include_str!("../../Cargo.toml");
        let m = Manifest::from_cargo_toml_in(bare, root).unwrap().unwrap();
        assert_eq!((m.auth, m.concurrency), (AuthPolicy::Required, 100));
    }

    #[test]
    fn refuses_bad_manifests() {
        for bad in [
            GOOD.replace("GET /api", "FETCH /api"),
            GOOD.replace("\"GET /api/x/{id}\"", ""),
            GOOD.replace("min_scale = 0", "min_scale = 11"),
            GOOD.replace("cpu = \"100m\"", "cpu = \"100m\"\ncpus = 2"),
            GOOD.replace(
                "timeout_seconds = 30",
                "timeout_seconds = 30\nsecrets = [\"DATABASE_DIRECT_URL\"]",
            ),
        ] {
            assert!(Manifest::from_cargo_toml(&bad).is_err(), "{bad}");
        }
        assert!(
            Manifest::from_cargo_toml("[package]\nname = \"lib\"\n")
                .unwrap()
                .is_none()
        );
    }
}
