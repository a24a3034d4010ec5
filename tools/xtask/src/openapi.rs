//! `functions/docs/openapi.json`: the API's OpenAPI document, built from every
//! function's own `#[utoipa::path]` annotations (through `tools/catalog`, which
//! links every function crate but docs) and written by `gen`, so the docs
//! function only serves a file and links no other function.
//!
//! The bootstrap: this binary is compiled against the `tools/catalog` that was
//! on disk when cargo built it. When `gen` rewrites the catalog (a function was
//! added or removed), the compiled-in list no longer matches the manifests and
//! the document cannot be built from it: `gen` then re-runs itself through
//! cargo once, which rebuilds xtask against the new catalog (see
//! `crate::gen_files`), and `check` reports the document as unchecked until the
//! catalog is current.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};

use shared::function::Function;

/// Where the document is written (the docs function `include_str!`s it).
pub const PATH: &str = "functions/docs/openapi.json";

/// The contract's tags, in its order.
pub const TAGS: [(&str, &str); 7] = [
    ("Travel", "Inter-urban routes, search and booking"),
    ("Tourism", "Cities and their attractions"),
    ("User", "Profiles, preferences and device sessions"),
    ("Notifications", "In-app and push notifications"),
    ("AI", "Departure windows, traffic and recommendations"),
    ("Health", "Service status"),
    ("Vehicles", "Drivers' vehicles and published rides"),
];

/// The API's OpenAPI document: every function's paths, the contract's tags and
/// its two security schemes.
pub fn document(functions: &[Function]) -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("AI-IMUTIS API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Inter-urban mobility and urban tourism for Cameroon. Every path is served by its own function.",
                )),
        )
        .build();
    for f in functions {
        doc.merge(f.openapi.clone());
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "FirebaseAuth",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("A Firebase ID token"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "DeviceFingerprint",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Device-Fingerprint"))),
    );
    doc.tags = Some(
        TAGS.iter()
            .map(|(name, description)| {
                TagBuilder::new()
                    .name(*name)
                    .description(Some(*description))
                    .build()
            })
            .collect(),
    );
    doc
}

/// The document as written to [`PATH`]: pretty JSON with a final newline.
pub fn render(functions: &[Function]) -> String {
    let mut text =
        serde_json::to_string_pretty(&document(functions)).expect("an OpenAPI document serialises");
    text.push('\n');
    text
}

/// The functions compiled into this binary, when they are exactly `expected`
/// (the manifests on disk, docs excluded); `None` when the catalog this binary
/// was built from is stale.
pub fn compiled_catalog(expected: &[String]) -> Option<Vec<Function>> {
    let functions = catalog::functions();
    let mut names: Vec<&str> = functions.iter().map(|f| f.manifest.name.as_str()).collect();
    names.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
    want.sort_unstable();
    (names == want).then_some(functions)
}
