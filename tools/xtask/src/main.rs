//! `xtask`: the deployment side, generated from the function list.
//!
//! * `cargo run -p xtask -- gen`: writes `knative/functions/<name>.yaml`,
//!   `knative/routes/httproutes.yaml` and `knative/routes/referencegrant.yaml`
//!   (routes to the Knative local gateway named in `knative/edge.toml`),
//!   `knative/kustomization.yaml`, the `functions:` block of
//!   `helm/ai-imutis/values.yaml`, `tools/catalog` (every function but docs),
//!   and `functions/docs/openapi.json` (the OpenAPI document, built from the
//!   catalog; see [`openapi`] for the bootstrap when the catalog changes).
//! * `cargo run -p xtask -- check`: exits 1 when any of those is stale, when
//!   two routes conflict at the edge (see [`routes`]), or when the functions
//!   can open more database connections than the pooler accepts (see
//!   [`budget`]).
//! * `cargo xtask new NAME --route "METHOD /api/..."`: a new function crate
//!   (see [`scaffold`]), then `gen`.
//! * `cargo run -p xtask -- list [--json]`: the functions (names, or JSON with
//!   their crate dirs, routes and scaling), for CI matrices. Needs no function
//!   crate: `cargo run -p xtask --no-default-features -- list --json` builds
//!   without the catalog (feature `openapi`, on by default).
//!
//! The function list is `functions/*/Cargo.toml` with a
//! `[package.metadata.function]` table, parsed by
//! [`shared::function::Manifest`].

mod budget;
#[cfg(feature = "openapi")]
mod openapi;
mod render;
mod routes;
mod scaffold;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use shared::function::Manifest;

use routes::EdgeMatch;

/// Where the OpenAPI document goes (kept here so builds without the
/// `openapi` feature still know it).
const OPENAPI_PATH: &str = "functions/docs/openapi.json";
/// Set on the nested `cargo run -p xtask -- gen` that finishes a bootstrap.
const REGEN_ENV: &str = "XTASK_REGENERATING";

/// The workspace root (two levels above this crate), or `$XTASK_ROOT` (used by
/// `scripts/validate-deploy` to prove `check` catches stale files on a copy).
fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os("XTASK_ROOT") {
        return PathBuf::from(root);
    }
    workspace_root()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tools/xtask sits two levels below the root")
        .to_path_buf()
}

/// The workspace `Cargo.toml` whose `[workspace.metadata.function]` defaults
/// the manifests inherit: `root`'s, or this workspace's when `root` (a partial
/// copy under `$XTASK_ROOT`) has none.
fn workspace_toml(root: &Path) -> String {
    std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap_or_else(|_| include_str!("../../../Cargo.toml").to_owned())
}

/// Every function crate under `functions/`, sorted by name.
fn discover(root: &Path) -> Result<Vec<(Manifest, Vec<EdgeMatch>)>, String> {
    let workspace = workspace_toml(root);
    let dir = root.join("functions");
    let mut found = Vec::new();
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path().join("Cargo.toml");
        if !path.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let Some(manifest) = Manifest::from_cargo_toml_in(&text, &workspace)
            .map_err(|e| format!("{}: {e}", path.display()))?
        else {
            continue;
        };
        let matches = routes::function_matches(&manifest)?;
        found.push((manifest, matches));
    }
    found.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    if let Some(w) = found.windows(2).find(|w| w[0].0.name == w[1].0.name) {
        return Err(format!("two function crates named {}", w[0].0.name));
    }
    let all: Vec<(String, EdgeMatch)> = found
        .iter()
        .flat_map(|(m, ms)| ms.iter().map(|e| (m.name.clone(), e.clone())))
        .collect();
    routes::check_conflicts(&all).map_err(|errors| errors.join("\n"))?;
    Ok(found)
}

/// Why the OpenAPI document is not among the generated files this run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OpenApiSkipped {
    /// This binary was built from a `tools/catalog` that lists other functions
    /// than the manifests (gen re-runs itself; check reports it).
    #[cfg_attr(not(feature = "openapi"), allow(dead_code))]
    StaleCatalog,
    /// Built with `--no-default-features`.
    #[cfg_attr(feature = "openapi", allow(dead_code))]
    NoFeature,
}

/// What one run generates.
struct Generated {
    files: BTreeMap<PathBuf, String>,
    openapi_skipped: Option<OpenApiSkipped>,
    budget: budget::Budget,
}

/// Every generated file: path relative to the root, and its content.
fn generate(root: &Path) -> Result<Generated, String> {
    let functions = discover(root)?;
    let edge_text = std::fs::read_to_string(root.join(render::EDGE_SETTINGS))
        .map_err(|e| format!("{}: {e}", render::EDGE_SETTINGS))?;
    let edge = render::Edge::parse(&edge_text)?;
    let manifests: Vec<&Manifest> = functions.iter().map(|(m, _)| m).collect();
    let budget = budget::compute(root, &manifests)?;
    let problems = budget.problems();
    if !problems.is_empty() {
        return Err(format!("{}\n{}", problems.join("\n"), budget.summary()));
    }
    let admission: Vec<String> = manifests
        .iter()
        .flat_map(|m| render::admission_problems(m))
        .collect();
    if !admission.is_empty() {
        return Err(admission.join("\n"));
    }
    let config = std::fs::read_to_string(root.join(render::CONFIG_MAP))
        .map_err(|e| format!("{}: {e}", render::CONFIG_MAP))?;
    let config_checksum = render::sha256_hex(&config);
    let mut files = BTreeMap::new();
    for (m, _) in &functions {
        files.insert(
            PathBuf::from(format!("knative/functions/{}.yaml", m.name)),
            render::knative_service(m, &config_checksum),
        );
    }
    files.insert(
        PathBuf::from("knative/routes/httproutes.yaml"),
        render::http_routes(&functions, &edge.local_gateway),
    );
    files.insert(
        PathBuf::from("knative/routes/referencegrant.yaml"),
        render::reference_grant(&edge.local_gateway),
    );
    let names: Vec<String> = functions.iter().map(|(m, _)| m.name.clone()).collect();
    files.insert(
        PathBuf::from("knative/kustomization.yaml"),
        render::kustomization(&names),
    );
    let served: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| *n != "docs")
        .collect();
    files.insert(
        PathBuf::from("tools/catalog/Cargo.toml"),
        render::catalog_manifest(&served),
    );
    files.insert(
        PathBuf::from("tools/catalog/src/lib.rs"),
        render::catalog_lib(&served),
    );
    let values = PathBuf::from("helm/ai-imutis/values.yaml");
    let current = std::fs::read_to_string(root.join(&values))
        .map_err(|e| format!("{}: {e}", values.display()))?;
    files.insert(
        values,
        render::splice_helm_values(&current, &render::helm_functions(&functions))?,
    );
    let served: Vec<String> = served.into_iter().map(str::to_owned).collect();
    let openapi_skipped = match openapi_document(&served) {
        Ok(doc) => {
            files.insert(PathBuf::from(OPENAPI_PATH), doc);
            None
        }
        Err(why) => Some(why),
    };
    Ok(Generated {
        files,
        openapi_skipped,
        budget,
    })
}

#[cfg(feature = "openapi")]
fn openapi_document(served: &[String]) -> Result<String, OpenApiSkipped> {
    debug_assert_eq!(openapi::PATH, OPENAPI_PATH);
    openapi::compiled_catalog(served)
        .map(|functions| openapi::render(&functions))
        .ok_or(OpenApiSkipped::StaleCatalog)
}

#[cfg(not(feature = "openapi"))]
fn openapi_document(_served: &[String]) -> Result<String, OpenApiSkipped> {
    Err(OpenApiSkipped::NoFeature)
}

/// Generated function manifests on disk that no function declares any more.
fn stale_function_files(root: &Path, files: &BTreeMap<PathBuf, String>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join("knative/functions")) else {
        return Vec::new();
    };
    let mut stale: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| PathBuf::from("knative/functions").join(e.file_name()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml") && !files.contains_key(p))
        .collect();
    stale.sort();
    stale
}

fn gen_files(root: &Path) -> Result<(), String> {
    let Generated {
        files,
        openapi_skipped,
        budget,
    } = generate(root)?;
    for stale in stale_function_files(root, &files) {
        std::fs::remove_file(root.join(&stale)).map_err(|e| e.to_string())?;
        println!("removed {}", stale.display());
    }
    for (path, content) in &files {
        let full = root.join(path);
        if std::fs::read_to_string(&full).ok().as_deref() == Some(content.as_str()) {
            continue;
        }
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(&full, content).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    println!("{}", budget.summary());
    match openapi_skipped {
        None => Ok(()),
        Some(OpenApiSkipped::NoFeature) => Err(format!(
            "{OPENAPI_PATH} not written: built without the `openapi` feature; run `cargo run -p xtask -- gen`"
        )),
        Some(OpenApiSkipped::StaleCatalog) if std::env::var_os("XTASK_ROOT").is_some() => {
            println!(
                "{OPENAPI_PATH} not written: this xtask links the workspace's function crates, not those of $XTASK_ROOT"
            );
            Ok(())
        }
        Some(OpenApiSkipped::StaleCatalog) if std::env::var_os(REGEN_ENV).is_some() => {
            Err(format!(
                "{OPENAPI_PATH}: tools/catalog still differs from the manifests after rebuilding xtask"
            ))
        }
        Some(OpenApiSkipped::StaleCatalog) => regenerate_with_new_catalog(),
    }
}

/// The catalog just changed under this binary: let cargo rebuild xtask against
/// it and write the OpenAPI document from the new build (once).
fn regenerate_with_new_catalog() -> Result<(), String> {
    println!("tools/catalog changed: rebuilding xtask against it to write {OPENAPI_PATH}");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["run", "-q", "-p", "xtask", "--", "gen"])
        .current_dir(workspace_root())
        .env(REGEN_ENV, "1")
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the rebuilt xtask failed ({status}); fix the build and run `cargo run -p xtask -- gen` again"
        ))
    }
}

fn check(root: &Path) -> Result<(), String> {
    let Generated {
        files,
        openapi_skipped,
        budget,
    } = generate(root)?;
    let mut problems: Vec<String> = stale_function_files(root, &files)
        .into_iter()
        .map(|p| format!("{}: no function declares it", p.display()))
        .collect();
    for (path, content) in &files {
        match std::fs::read_to_string(root.join(path)) {
            Ok(current) if &current == content => {}
            Ok(_) => problems.push(format!("{}: stale", path.display())),
            Err(_) => problems.push(format!("{}: missing", path.display())),
        }
    }
    match openapi_skipped {
        None => {}
        Some(OpenApiSkipped::StaleCatalog) => problems.push(format!(
            "{OPENAPI_PATH}: not checked: this xtask was built from a tools/catalog that lists other functions \
             (`gen` rewrites the catalog, then rebuilds itself once to write the document)"
        )),
        Some(OpenApiSkipped::NoFeature) => problems.push(format!(
            "{OPENAPI_PATH}: not checked: built without the `openapi` feature"
        )),
    }
    println!("{}", budget.summary());
    if problems.is_empty() {
        println!("generated deployment files are up to date");
        Ok(())
    } else {
        Err(format!(
            "{}\nrun `cargo run -p xtask -- gen`",
            problems.join("\n")
        ))
    }
}

fn list(root: &Path, json: bool) -> Result<(), String> {
    let functions = discover(root)?;
    if !json {
        for (m, _) in &functions {
            println!("{}", m.name);
        }
        return Ok(());
    }
    let items: Vec<serde_json::Value> = functions
        .iter()
        .map(|(m, matches)| {
            serde_json::json!({
                "name": m.name,
                "dir": format!("functions/{}", m.name),
                "image": format!("ai-imutis-{}", m.name),
                "websocket": m.websocket,
                "concurrency": m.concurrency,
                "minScale": m.min_scale,
                "maxScale": m.max_scale,
                "memory": m.memory,
                "cpu": m.cpu,
                "timeoutSeconds": render::timeout_seconds(m),
                "secrets": m.secrets,
                "routes": matches.iter().map(|e| serde_json::json!({
                    "method": e.method,
                    "path": e.path,
                    "match": e.kind.as_str(),
                    "value": e.value,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string(&items).map_err(|e| e.to_string())?
    );
    Ok(())
}

const USAGE: &str =
    "usage: xtask gen | check | list [--json] | new NAME --route \"METHOD /api/...\" [--tag TAG]";

/// `new`: writes the crate, then `gen` routes, deploys and documents it.
fn new_function(root: &Path, args: &[&str]) -> Result<(), String> {
    let request = scaffold::Request::parse(args)?;
    scaffold::write(root, &request)?;
    gen_files(root)?;
    println!(
        "functions/{0}: run `cargo test -p {0}` and `cargo xtask check`",
        request.name
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = repo_root();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["gen"] => gen_files(&root),
        ["check"] => check(&root),
        ["list"] => list(&root, false),
        ["list", "--json"] => list(&root, true),
        ["new", ref rest @ ..] => new_function(&root, rest),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of what `check` reads: the manifests, `knative/`, the chart's
    /// values, the catalog and the OpenAPI document.
    fn copy_of_the_workspace(to: &Path) {
        let root = workspace_root();
        let copy = |rel: &str| {
            let (from, dest) = (root.join(rel), to.join(rel));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&from, &dest).unwrap_or_else(|e| panic!("{rel}: {e}"));
        };
        for rel in ["Cargo.toml", "helm/ai-imutis/values.yaml", OPENAPI_PATH] {
            copy(rel);
        }
        for dir in ["functions", "knative", "tools/catalog"] {
            let mut stack = vec![root.join(dir)];
            while let Some(d) = stack.pop() {
                for entry in std::fs::read_dir(&d).unwrap() {
                    let path = entry.unwrap().path();
                    let rel = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_owned();
                    if path.is_dir() {
                        stack.push(path);
                    } else if dir != "functions" || rel.ends_with("/Cargo.toml") {
                        copy(&rel);
                    }
                }
            }
        }
    }

    #[test]
    fn check_fails_on_a_manifest_that_drifted_from_the_generated_files() {
        let dir = std::env::temp_dir().join(format!("xtask-drift-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_of_the_workspace(&dir);
        check(&dir).expect("the copy is up to date");
        let manifest = dir.join("functions/cities-list/Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(&manifest, text.replace("max_scale = 10", "max_scale = 9")).unwrap();
        let err = check(&dir).unwrap_err();
        assert!(
            err.contains("knative/functions/cities-list.yaml: stale"),
            "{err}"
        );
        let root = dir.join("Cargo.toml");
        let text = std::fs::read_to_string(&root).unwrap();
        std::fs::write(
            &root,
            text.replace("memory = \"64Mi\"", "memory = \"96Mi\""),
        )
        .unwrap();
        let err = check(&dir).unwrap_err();
        assert!(
            err.contains("knative/functions/users-profile-get.yaml: stale"),
            "a changed default reaches every function that inherits it: {err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `new`'s tags are the document's.
    #[cfg(feature = "openapi")]
    #[test]
    fn new_offers_the_documents_tags() {
        assert_eq!(scaffold::TAGS, openapi::TAGS.map(|(name, _)| name));
    }

    #[test]
    fn the_workspace_functions_have_no_route_conflicts() {
        let functions = discover(&repo_root()).unwrap();
        assert!(functions.iter().any(|(m, _)| m.name == "cities-list"));
    }

    #[test]
    fn rendering_is_deterministic_and_covers_every_function() {
        let root = repo_root();
        let functions = discover(&root).unwrap();
        let a = generate(&root).unwrap().files;
        assert_eq!(a, generate(&root).unwrap().files);
        for (m, _) in &functions {
            assert!(a.contains_key(&PathBuf::from(format!("knative/functions/{}.yaml", m.name))));
        }
    }

    #[test]
    fn the_shipped_configuration_fits_the_connection_budget_with_margin() {
        let root = repo_root();
        let functions = discover(&root).unwrap();
        let manifests: Vec<&Manifest> = functions.iter().map(|(m, _)| m).collect();
        let b = budget::compute(&root, &manifests).unwrap();
        assert!(b.problems().is_empty(), "{:?}", b.problems());
        assert!(
            b.worst_case * 10 <= b.max_client_conn * 8,
            "less than 20 % headroom: {}",
            b.summary()
        );
    }

    fn manifest(extra: &str) -> Manifest {
        let text = format!(
            "[package]\nname = \"x\"\n[package.metadata.function]\nroutes = [\"GET /x\"]\nauth = \"none\"\n\
             rate_limit = \"default\"\nconcurrency = 100\nmin_scale = 0\nmax_scale = 2\nmemory = \"64Mi\"\n\
             cpu = \"100m\"\n{extra}"
        );
        Manifest::from_cargo_toml(&text).unwrap().unwrap()
    }

    #[test]
    fn every_function_fits_a_stock_knative() {
        for (m, _) in discover(&repo_root()).unwrap() {
            assert_eq!(render::admission_problems(&m), Vec::<String>::new());
        }
        let ws = manifest("websocket = true\ntimeout_seconds = 3600");
        assert!(render::admission_problems(&ws)[0].contains("max-revision-timeout-seconds 600"));
        let mut cc = manifest("timeout_seconds = 30");
        cc.concurrency = 1001;
        assert!(render::admission_problems(&cc)[0].contains("container-concurrency-max-limit"));
    }

    #[test]
    fn a_service_reads_only_its_secret_keys_and_sets_the_socket_timeouts() {
        let m = manifest("websocket = true\ntimeout_seconds = 600\nsecrets = [\"GEMINI_API_KEY\"]");
        let yaml = render::knative_service(&m, "abc");
        let keys: Vec<&str> = yaml
            .lines()
            .filter_map(|l| l.trim().strip_prefix("key: "))
            .collect();
        assert_eq!(
            keys,
            [
                "\"DATABASE_URL\"",
                "\"REDIS_URL\"",
                "\"SENTRY_DSN\"",
                "\"GEMINI_API_KEY\""
            ]
        );
        assert!(
            !yaml.contains("secretRef"),
            "the whole Secret is not mounted"
        );
        assert!(yaml.contains("ai-imutis.dev/config-checksum: \"abc\""));
        assert!(yaml.contains("responseStartTimeoutSeconds: 10\n"));
        assert!(yaml.contains("idleTimeoutSeconds: 120\n"));
        let readiness = yaml.split("readinessProbe:").nth(1).unwrap();
        let readiness = readiness.split("livenessProbe:").next().unwrap();
        assert!(
            !readiness.contains("timeoutSeconds") && !readiness.contains("failureThreshold"),
            "Knative refuses them with periodSeconds 0: {readiness}"
        );
    }

    #[test]
    fn splicing_replaces_only_the_generated_block() {
        let current = format!(
            "a: 1\n{}\nold\n{}\nb: 2\n",
            render::HELM_BEGIN,
            render::HELM_END
        );
        let block = format!("{}\nnew\n{}\n", render::HELM_BEGIN, render::HELM_END);
        let out = render::splice_helm_values(&current, &block).unwrap();
        assert_eq!(out, format!("a: 1\n{block}b: 2\n"));
        assert!(render::splice_helm_values("a: 1\n", &block).is_err());
    }

    /// The function list is `functions/*/Cargo.toml`; the catalog (what the
    /// OpenAPI document covers and the dev server serves) must hold every one
    /// of them but docs.
    #[cfg(feature = "openapi")]
    #[test]
    fn catalog_lists_every_function_crate_but_docs() {
        let mut on_disk: Vec<String> = discover(&workspace_root())
            .unwrap()
            .into_iter()
            .map(|(m, _)| m.name)
            .filter(|n| n != "docs")
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = catalog::functions()
            .into_iter()
            .map(|f| f.manifest.name)
            .collect();
        listed.sort();
        assert_eq!(listed, on_disk, "tools/catalog drifted from functions/");
    }

    /// Every function's router serves exactly the routes of its manifest, and
    /// documents them (docs checks its own in its crate).
    #[cfg(feature = "openapi")]
    #[tokio::test]
    async fn every_function_serves_exactly_its_manifest() {
        for function in catalog::functions() {
            shared::testing::assert_serves_its_manifest(function).await;
        }
    }

    #[cfg(feature = "openapi")]
    #[test]
    fn the_document_has_every_route_the_tags_and_the_security_schemes() {
        let functions = catalog::functions();
        let doc: serde_json::Value = serde_json::from_str(&openapi::render(&functions)).unwrap();
        for f in &functions {
            for route in &f.manifest.routes {
                let op = &doc["paths"][&route.path][route.method.to_lowercase()];
                assert!(
                    op.is_object(),
                    "{route} of {} is undocumented",
                    f.manifest.name
                );
            }
        }
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["FirebaseAuth"]["scheme"], "bearer");
        assert_eq!(schemes["DeviceFingerprint"]["name"], "X-Device-Fingerprint");
        let tags: Vec<&str> = doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(tags, openapi::TAGS.map(|(name, _)| name));
    }
}
