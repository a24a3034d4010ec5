//! `cargo xtask ARGS` enters here, outside the workspace. A function folder
//! removed by hand leaves `tools/catalog` naming it, and then no cargo command
//! of the workspace loads; this drops those names from the catalog's
//! `Cargo.toml` and `src/lib.rs`, then runs the real xtask
//! (`cargo run -p xtask -- ARGS`), whose `gen` rewrites the catalog in full.

use std::path::Path;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(3)
        .expect("tools/xtask/bootstrap sits three levels below the root");
    if let Err(e) = prune(root) {
        eprintln!("xtask bootstrap: {e}");
        return ExitCode::FAILURE;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["run", "-q", "-p", "xtask", "--"])
        .args(std::env::args_os().skip(1))
        .current_dir(root)
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("xtask bootstrap: running cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Drops the catalog's lines that name a function crate whose folder is gone.
fn prune(root: &Path) -> Result<(), String> {
    let gone = |name: &str| {
        !root
            .join("functions")
            .join(name)
            .join("Cargo.toml")
            .is_file()
    };
    let manifest = root.join("tools/catalog/Cargo.toml");
    let text = read(&manifest)?;
    let mut removed = Vec::new();
    let kept = keep_lines(&text, |line| {
        match line.split_once(" = { path = \"../../functions/") {
            Some((name, _)) if gone(name) => {
                removed.push(name.to_owned());
                false
            }
            _ => true,
        }
    });
    if removed.is_empty() {
        return Ok(());
    }
    write(&manifest, &kept)?;
    let lib = root.join("tools/catalog/src/lib.rs");
    let calls: Vec<String> = removed
        .iter()
        .map(|name| format!("{}::function(),", name.replace('-', "_")))
        .collect();
    let text = read(&lib)?;
    write(
        &lib,
        &keep_lines(&text, |line| !calls.iter().any(|c| line.trim() == c)),
    )?;
    eprintln!("tools/catalog: dropped {removed:?}, whose folders are gone");
    Ok(())
}

fn keep_lines(text: &str, mut keep: impl FnMut(&str) -> bool) -> String {
    text.lines()
        .filter(|l| keep(l))
        .fold(String::with_capacity(text.len()), |mut out, l| {
            out.push_str(l);
            out.push('\n');
            out
        })
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
