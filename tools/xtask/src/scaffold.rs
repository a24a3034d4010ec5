//! `cargo xtask new NAME --route "METHOD /path" [--tag TAG]`: a new function
//! crate that builds, is routed, deployed, documented and tested. It writes
//! `functions/NAME/` (a manifest that inherits the workspace defaults, a
//! handler with its OpenAPI annotation, a test, the `main.rs`); `gen` then adds
//! it to `knative/`, the chart, the catalog and the OpenAPI document.

use std::path::Path;

/// The tags the OpenAPI document declares (see `openapi::TAGS`).
pub const TAGS: [&str; 7] = [
    "Travel",
    "Tourism",
    "User",
    "Notifications",
    "AI",
    "Health",
    "Vehicles",
];

/// What `new` was asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub name: String,
    pub method: String,
    pub path: String,
    pub tag: String,
}

impl Request {
    /// Reads `NAME --route "METHOD /path" [--tag TAG]`.
    pub fn parse(args: &[&str]) -> Result<Self, String> {
        let (name, mut rest) = match args {
            [name, rest @ ..] => (*name, rest),
            [] => return Err(USAGE.to_owned()),
        };
        let mut route = None;
        let mut tag = "User";
        while let [flag, value, tail @ ..] = rest {
            match *flag {
                "--route" => route = Some(*value),
                "--tag" => tag = value,
                _ => return Err(USAGE.to_owned()),
            }
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(USAGE.to_owned());
        }
        let route = route.ok_or_else(|| USAGE.to_owned())?;
        let valid_name = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            return Err(format!("{name:?}: a function name is lowercase-kebab-case"));
        }
        let (method, path) = route
            .split_once(' ')
            .filter(|(m, p)| {
                ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(m) && p.starts_with("/api/")
            })
            .ok_or_else(|| format!("{route:?}: a route is \"METHOD /api/...\""))?;
        if !TAGS.contains(&tag) {
            return Err(format!("{tag:?}: the document's tags are {TAGS:?}"));
        }
        Ok(Self {
            name: name.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            tag: tag.to_owned(),
        })
    }

    /// `path` with each `{param}` replaced by `x`, for the test's request.
    fn example_path(&self) -> String {
        let mut out = String::new();
        let mut in_param = false;
        for c in self.path.chars() {
            match c {
                '{' => in_param = true,
                '}' => {
                    in_param = false;
                    out.push('x');
                }
                _ if !in_param => out.push(c),
                _ => {}
            }
        }
        out
    }

    /// The files of the new crate: path under `functions/NAME/`, content.
    pub fn files(&self) -> Vec<(&'static str, String)> {
        let Self {
            name,
            method,
            path,
            tag,
        } = self;
        let krate = name.replace('-', "_");
        let lower = method.to_lowercase();
        let example = self.example_path();
        let cargo = format!(
            r#"[package]
name = "{name}"
description = "{method} {path}: what it answers."
edition.workspace = true
version.workspace = true
license.workspace = true
publish.workspace = true
rust-version.workspace = true

# Only what differs from [workspace.metadata.function] in the root Cargo.toml.
[package.metadata.function]
routes = ["{method} {path}"]

[lib]
doctest = false

[[bin]]
name = "{name}"
path = "src/main.rs"
test = false

[dependencies]
shared.workspace = true
axum.workspace = true
serde.workspace = true
utoipa.workspace = true

[dev-dependencies]
shared = {{ workspace = true, features = ["testing"] }}
tokio.workspace = true
serde_json.workspace = true

[lints]
workspace = true
"#
        );
        let lib = format!(
            r#"//! `{method} {path}`: what it answers.

use shared::prelude::*;

/// This function: its route and manifest.
pub fn function() -> Function {{
    shared::function!(OpenApiRouter::new().routes(routes!(answer)))
}}

/// The answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Answer {{
    /// Who asked.
    pub uid: String,
}}

/// Answers the signed-in caller.
#[utoipa::path({lower}, path = "{path}", tag = "{tag}",
    security(("FirebaseAuth" = [])),
    responses((status = 200, body = Answer), (status = 401, body = ErrorBody)))]
async fn answer(user: AuthUser) -> ApiResult<Json<Answer>> {{
    Ok(Json(Answer {{ uid: user.uid }}))
}}

#[cfg(test)]
mod tests {{
    use serde_json::json;
    use shared::testing::{{TestApp, send}};

    #[tokio::test]
    async fn answers_the_caller_and_refuses_a_stranger() {{
        let app = TestApp::spawn(vec![super::function()]).await;
        let request = |token: Option<String>| {{
            let r = app.client.request("{method}".parse().unwrap(), app.url("{example}"));
            let r = r.json(&json!({{}}));
            match token {{
                Some(t) => r.bearer_auth(t),
                None => r,
            }}
        }};
        let (status, body) = send(request(Some(app.token("ada")))).await;
        assert_eq!(status, 200, "{{body}}");
        assert_eq!(body, json!({{"uid": "ada"}}));
        assert_eq!(send(request(None)).await.0, 401);
    }}
}}
"#
        );
        let main = format!("shared::main!({krate}::function());\n");
        vec![
            ("Cargo.toml", cargo),
            ("src/lib.rs", lib),
            ("src/main.rs", main),
        ]
    }
}

/// How `new` is called.
pub const USAGE: &str = "usage: xtask new NAME --route \"METHOD /api/...\" [--tag TAG]";

/// Writes the new crate under `root/functions/NAME`; refuses to overwrite one.
pub fn write(root: &Path, request: &Request) -> Result<(), String> {
    let dir = root.join("functions").join(&request.name);
    if dir.exists() {
        return Err(format!("{}: already exists", dir.display()));
    }
    for (rel, content) in request.files() {
        let file = dir.join(rel);
        std::fs::create_dir_all(file.parent().expect("a file in a folder"))
            .map_err(|e| e.to_string())?;
        std::fs::write(&file, content).map_err(|e| format!("{}: {e}", file.display()))?;
        println!("wrote {}", file.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_request_and_refuses_bad_ones() {
        let r = Request::parse(&["trips-share", "--route", "POST /api/trips/{id}/share"]).unwrap();
        assert_eq!((r.method.as_str(), r.tag.as_str()), ("POST", "User"));
        assert_eq!(r.example_path(), "/api/trips/x/share");
        for bad in [
            &["Trips", "--route", "GET /api/x"][..],
            &["trips", "--route", "FETCH /api/x"],
            &["trips", "--route", "GET /x"],
            &["trips", "--route", "GET /api/x", "--tag", "Nope"],
            &["trips"],
        ] {
            assert!(Request::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_manifest_it_writes_inherits_the_workspace_defaults() {
        let r = Request::parse(&["trips-share", "--route", "GET /api/trips"]).unwrap();
        let files = r.files();
        let workspace = include_str!("../../../Cargo.toml");
        let m = shared::function::Manifest::from_cargo_toml_in(&files[0].1, workspace)
            .unwrap()
            .unwrap();
        assert_eq!(m.routes[0].to_string(), "GET /api/trips");
        assert_eq!(m.auth, shared::function::AuthPolicy::Required);
    }
}
