//! `xtask`: the deployment side, generated from the function list.
//!
//! * `cargo run -p xtask -- gen`: writes `knative/functions/<name>.yaml`,
//!   `knative/routes/httproutes.yaml`, `knative/kustomization.yaml`, the
//!   `functions:` block of `helm/ai-imutis/values.yaml`, and `tools/catalog`
//!   (every function but docs, for the docs and the dev server).
//! * `cargo run -p xtask -- check`: exits 1 when any of those is stale, or when
//!   two routes conflict at the edge (see [`routes`]).
//! * `cargo run -p xtask -- list [--json]`: the functions (names, or JSON with
//!   their crate dirs, routes and scaling), for CI matrices.
//!
//! The function list is `functions/*/Cargo.toml` with a
//! `[package.metadata.function]` table, parsed by
//! [`shared::function::Manifest`].

mod render;
mod routes;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use shared::function::Manifest;

use routes::EdgeMatch;

/// The workspace root (two levels above this crate), or `$XTASK_ROOT` (used by
/// `scripts/validate-deploy` to prove `check` catches stale files on a copy).
fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os("XTASK_ROOT") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tools/xtask sits two levels below the root")
        .to_path_buf()
}

/// Every function crate under `functions/`, sorted by name.
fn discover(root: &Path) -> Result<Vec<(Manifest, Vec<EdgeMatch>)>, String> {
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
        let Some(manifest) =
            Manifest::from_cargo_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
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

/// Every generated file: path relative to the root, and its content.
fn generate(root: &Path) -> Result<BTreeMap<PathBuf, String>, String> {
    let functions = discover(root)?;
    let mut files = BTreeMap::new();
    for (m, _) in &functions {
        files.insert(
            PathBuf::from(format!("knative/functions/{}.yaml", m.name)),
            render::knative_service(m),
        );
    }
    files.insert(
        PathBuf::from("knative/routes/httproutes.yaml"),
        render::http_routes(&functions),
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
    Ok(files)
}

/// Generated function manifests on disk that no function declares any more.
fn stale_function_files(root: &Path, files: &BTreeMap<PathBuf, String>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join("knative/functions")) else {
        return Vec::new();
    };
    let mut stale: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| PathBuf::from("knative/functions").join(e.file_name()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml") && !files.contains_key(p))
        .collect();
    stale.sort();
    stale
}

fn gen_files(root: &Path) -> Result<(), String> {
    let files = generate(root)?;
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
    Ok(())
}

fn check(root: &Path) -> Result<(), String> {
    let files = generate(root)?;
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

const USAGE: &str = "usage: xtask gen | check | list [--json]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = repo_root();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["gen"] => gen_files(&root),
        ["check"] => check(&root),
        ["list"] => list(&root, false),
        ["list", "--json"] => list(&root, true),
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

    #[test]
    fn the_workspace_functions_have_no_route_conflicts() {
        let functions = discover(&repo_root()).unwrap();
        assert!(functions.iter().any(|(m, _)| m.name == "cities-list"));
    }

    #[test]
    fn rendering_is_deterministic_and_covers_every_function() {
        let root = repo_root();
        let functions = discover(&root).unwrap();
        let a = generate(&root).unwrap();
        assert_eq!(a, generate(&root).unwrap());
        for (m, _) in &functions {
            assert!(a.contains_key(&PathBuf::from(format!("knative/functions/{}.yaml", m.name))));
        }
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
}
