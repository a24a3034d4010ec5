//! `GET /openapi.json`, `/docs` and `/redoc`: the OpenAPI document of every
//! function, with Swagger UI and ReDoc served from vendored bundles so the
//! pages work without the internet.
//!
//! The document is `openapi.json` beside this crate's manifest, written by
//! `cargo run -p xtask -- gen` from every function's own annotations (and
//! checked for drift by `xtask check`), so this function links no other
//! function and stays as small as any.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use shared::function::Function;
use shared::prelude::*;

/// This function: its routes and manifest.
pub fn function() -> Function {
    shared::function!(
        OpenApiRouter::new()
            .routes(routes!(openapi_json))
            .routes(routes!(swagger_ui))
            .routes(routes!(asset))
            .routes(routes!(redoc))
    )
}

/// What these pages say, in English and French (`locales/`).
pub static MESSAGES: shared::i18n::Catalog = shared::catalog!("docs");

/// The API's OpenAPI document (generated, see the crate docs).
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// The bundles' own styles and worker need more than the API's strict CSP.
const DOCS_CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     font-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'; object-src 'none'";

/// The OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "Health",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}

fn page(body: &'static str) -> Response {
    let mut response = Html(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    );
    response
}

/// Swagger UI.
#[utoipa::path(get, path = "/docs", tag = "Health", responses((status = 200, content_type = "text/html")))]
async fn swagger_ui() -> Response {
    page(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>AI-IMUTIS API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div><script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/swagger-init.js"></script></body></html>"#,
    )
}

/// ReDoc.
#[utoipa::path(get, path = "/redoc", tag = "Health", responses((status = 200, content_type = "text/html")))]
async fn redoc() -> Response {
    page(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>AI-IMUTIS API</title></head>
<body><redoc spec-url="/openapi.json"></redoc><script src="/docs/redoc.standalone.js"></script></body></html>"#,
    )
}

/// The vendored bundles the two pages load.
#[utoipa::path(get, path = "/docs/{asset}", tag = "Health",
    params(("asset" = String, Path)), responses((status = 200), (status = 404, body = ErrorBody)))]
async fn asset(Path(asset): Path<String>) -> ApiResult<Response> {
    let (body, content_type): (&'static [u8], &str) = match asset.as_str() {
        "swagger-ui.css" => (include_bytes!("../assets/swagger-ui.css"), "text/css"),
        "swagger-ui-bundle.js" => (include_bytes!("../assets/swagger-ui-bundle.js"), "text/javascript"),
        "redoc.standalone.js" => (include_bytes!("../assets/redoc.standalone.js"), "text/javascript"),
        "swagger-init.js" => (
            b"window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });",
            "text/javascript",
        ),
        _ => return Err(not_found(MESSAGES.text("docs-thing-asset"))),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use shared::function::Manifest;
    use shared::testing::{TestApp, assert_serves_its_manifest, send};

    #[tokio::test]
    async fn serves_exactly_its_manifest() {
        assert_serves_its_manifest(super::function()).await;
    }

    const WORKSPACE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));

    /// Every function crate's manifest (`functions/*/Cargo.toml`, docs aside).
    fn manifests() -> Vec<Manifest> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut found: Vec<Manifest> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("Cargo.toml")).ok())
            .filter_map(|text| Manifest::from_cargo_toml_in(&text, WORKSPACE).unwrap())
            .filter(|m| m.name != "docs")
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }

    /// The served document covers every route every manifest declares (when
    /// it does not, `cargo run -p xtask -- gen` has not run since a function
    /// changed; `xtask check` says the same).
    #[tokio::test]
    async fn documents_every_route_of_every_function() {
        let app = TestApp::spawn(vec![super::function()]).await;
        let (status, doc) = send(app.get("/openapi.json")).await;
        assert_eq!(status, 200);
        let manifests = manifests();
        assert!(manifests.len() > 1);
        for m in manifests {
            for route in &m.routes {
                let op = &doc["paths"][&route.path][route.method.to_lowercase()];
                assert!(
                    op.is_object(),
                    "{route} of {} is undocumented: run `cargo run -p xtask -- gen`",
                    m.name
                );
            }
        }
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["FirebaseAuth"]["scheme"], "bearer");
        assert_eq!(schemes["FirebaseAuth"]["bearerFormat"], "JWT");
        assert_eq!(schemes["DeviceFingerprint"]["in"], "header");
        assert_eq!(schemes["DeviceFingerprint"]["name"], "X-Device-Fingerprint");
        let tags: Vec<&str> = doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            tags,
            [
                "Travel",
                "Tourism",
                "User",
                "Notifications",
                "AI",
                "Health",
                "Vehicles"
            ]
        );
        assert!(doc["components"]["schemas"]["Attraction"].is_object());
    }

    #[tokio::test]
    async fn pages_load_only_same_origin_assets() {
        let app = TestApp::spawn(vec![super::function()]).await;
        for page in ["/docs", "/redoc"] {
            let response = app.get(page).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
            let html = response.text().await.unwrap();
            let refs: Vec<&str> = html
                .split(['"', '\''])
                .filter(|s| s.starts_with('/') || s.starts_with("http"))
                .collect();
            assert!(refs.len() >= 2, "{page} loads its bundle: {refs:?}");
            for r in refs {
                assert!(r.starts_with('/'), "{page} reaches off-site: {r}");
                let asset = app.get(r).send().await.unwrap();
                assert_eq!(asset.status(), 200, "{r}");
                let body: Vec<u8> = asset.bytes().await.unwrap().to_vec();
                assert!(!body.is_empty(), "{r}");
                if r.ends_with(".json") {
                    let _: Value = serde_json::from_slice(&body).unwrap();
                }
            }
        }
        let (status, body) = send(app.get("/docs/secrets.txt")).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Asset not found"))
        );
        let (status, body) =
            send(app.get("/docs/secrets.txt").header("Accept-Language", "fr")).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Fichier introuvable"))
        );
    }
}
