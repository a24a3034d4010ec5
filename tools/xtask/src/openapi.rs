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

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, RefOr};

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
                    "Inter-urban mobility and urban tourism for Cameroon. Every path is served by its own function.\n\n\
                     **Languages.** Everything a person reads (error `message`s, notifications, AI commentary, \
                     descriptions, the e-ticket) comes in English or French: the language `Accept-Language` \
                     prefers (q-values honoured), else the signed-in user's stored `language`, else English. \
                     An error's `detail` (field paths, machine-readable types) is the same in both.",
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
    describe_responses(&mut doc);
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

/// Every operation of `doc`, with its method and path.
fn operations_mut(doc: &mut OpenApi) -> impl Iterator<Item = (&str, &mut Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        .map(move |op| (path.as_str(), op))
    })
}

/// OpenAPI requires a description on every response; an annotation that
/// gives none gets the status code's reason phrase ("Not Found").
fn describe_responses(doc: &mut OpenApi) {
    for (_, op) in operations_mut(doc) {
        for (status, response) in op.responses.responses.iter_mut() {
            if let RefOr::T(response) = response
                && response.description.is_empty()
            {
                response.description = status
                    .parse::<u16>()
                    .ok()
                    .and_then(|s| http::StatusCode::from_u16(s).ok())
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Response")
                    .to_owned();
            }
        }
    }
}

/// Operation ids used by more than one operation (generated clients name a
/// function after each: they must be unique), with the paths that share them.
pub fn duplicate_operation_ids(doc: &mut OpenApi) -> Vec<(String, Vec<String>)> {
    let mut seen: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (path, op) in operations_mut(doc) {
        if let Some(id) = &op.operation_id {
            seen.entry(id.clone()).or_default().push(path.to_owned());
        }
    }
    seen.into_iter()
        .filter(|(_, paths)| paths.len() > 1)
        .collect()
}

/// The document as written to [`PATH`]: pretty JSON with a final newline.
///
/// Panics when two operations share an operation id: the document would be
/// invalid, and the fix is an `operation_id = "..."` in one annotation.
pub fn render(functions: &[Function]) -> String {
    let mut doc = document(functions);
    let duplicates = duplicate_operation_ids(&mut doc);
    assert!(
        duplicates.is_empty(),
        "operation ids must be unique; give one of each an `operation_id`: {duplicates:?}"
    );
    let mut text = serde_json::to_string_pretty(&doc).expect("an OpenAPI document serialises");
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
