//! Extractors whose rejections speak the contract: malformed or invalid input is
//! a 422 listing each bad field (`loc`, `msg`, `type`); an oversized body is 413.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};
use crate::i18n::{MESSAGES, Text};

/// Checks a deserialized request beyond what its types say (ranges, lengths).
pub trait Validate {
    /// Every rule the value breaks; empty when it is valid.
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

/// Free-form JSON has no rules beyond being JSON.
impl Validate for serde_json::Value {}

/// Collects field errors for one request: `Validator::body().range("passengers", p, 1, 20)`.
pub struct Validator {
    root: &'static str,
    errors: Vec<FieldError>,
}

impl Validator {
    /// Rules on a JSON body.
    pub fn body() -> Self {
        Self {
            root: "body",
            errors: Vec::new(),
        }
    }

    /// Rules on the query string.
    pub fn query() -> Self {
        Self {
            root: "query",
            errors: Vec::new(),
        }
    }

    /// `value` must lie in `min..=max`.
    pub fn range<T: PartialOrd + std::fmt::Display>(
        mut self,
        field: &str,
        value: T,
        min: T,
        max: T,
    ) -> Self {
        // Written so that NaN (which `lat=NaN` parses to) is out of range too.
        let in_range = min <= value && value <= max;
        if !in_range {
            let text = MESSAGES
                .text("must-be-between")
                .arg("min", min.to_string())
                .arg("max", max.to_string());
            self.errors.push(FieldError::text(
                &[self.root, field],
                text,
                "value_error.range",
            ));
        }
        self
    }

    /// `value`, when present, must be at most `max` characters.
    pub fn max_len(mut self, field: &str, value: Option<&str>, max: usize) -> Self {
        if value.is_some_and(|v| v.chars().count() > max) {
            self.errors.push(FieldError::text(
                &[self.root, field],
                MESSAGES.text("at-most-characters").arg("max", max),
                "value_error.any_str.max_length",
            ));
        }
        self
    }

    /// A rule of the caller's own.
    pub fn check(mut self, ok: bool, field: &str, text: Text) -> Self {
        if !ok {
            self.errors
                .push(FieldError::text(&[self.root, field], text, "value_error"));
        }
        self
    }

    /// `value` must not be empty.
    pub fn not_empty(self, field: &str, value: &str) -> Self {
        self.check(!value.is_empty(), field, MESSAGES.text("must-not-be-empty"))
    }

    /// `value` must be `min..=max` characters long.
    pub fn length(self, field: &str, value: &str, min: usize, max: usize) -> Self {
        let n = value.chars().count();
        let text = MESSAGES
            .text("length-between")
            .arg("min", min)
            .arg("max", max);
        self.check(min <= n && n <= max, field, text)
    }

    /// At most `max` items.
    pub fn max_items(self, field: &str, len: usize, max: usize) -> Self {
        let text = MESSAGES.text("at-most-items").arg("max", max);
        self.check(len <= max, field, text)
    }

    /// `value` must be above zero.
    pub fn positive(self, field: &str, value: f64) -> Self {
        self.check(value > 0.0, field, MESSAGES.text("must-be-positive"))
    }

    /// The collected errors.
    pub fn finish(self) -> Vec<FieldError> {
        self.errors
    }
}

/// A JSON body (request) or JSON answer (response).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                tracing::debug!(error = %rejection.body_text(), "unreadable body");
                ApiError::BadRequest(MESSAGES.text("body-unreadable"))
            }
        })?;
        let value = parse_json::<T>(&bytes)?;
        let errors = value.validate();
        if errors.is_empty() {
            Ok(Json(value))
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(vec![FieldError::new(
            &["body"],
            "Field required",
            "missing",
        )]));
    }
    if has_nul_escape(bytes) {
        return Err(nul_error("body"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let kind = match err.inner().classify() {
            serde_json::error::Category::Data => "value_error",
            _ => "json_invalid",
        };
        ApiError::Validation(vec![field_error("body", &err, kind)])
    })?;
    de.end().map_err(|e| {
        ApiError::Validation(vec![FieldError::new(
            &["body"],
            format!("JSON followed by more input: {e}"),
            "json_invalid",
        )])
    })?;
    Ok(value)
}

/// Whether a JSON text holds a `\u0000` escape inside a string. Postgres
/// refuses NUL in text, so such input is a client error, not a 500.
fn has_nul_escape(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Whether a percent-encoded path or query carries `%00`.
fn has_encoded_nul(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| w == b"%00")
}

fn nul_error(root: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::text(
        &[root],
        MESSAGES.text("no-nul-characters"),
        "value_error.nul",
    )])
}

fn field_error<E: std::fmt::Display>(
    root: &str,
    err: &serde_path_to_error::Error<E>,
    kind: &str,
) -> FieldError {
    let inner = without_position(err.inner().to_string());
    let mut loc = vec![root.to_owned()];
    loc.extend(
        err.path()
            .iter()
            .map(ToString::to_string)
            .filter(|s| s != "?" && !s.is_empty()),
    );
    // serde names a missing field in its message only, not in the path.
    let (msg, kind) = match missing_field(&inner) {
        Some(name) => {
            loc.push(name.to_owned());
            ("Field required".to_owned(), "missing")
        }
        None => (inner, kind),
    };
    let loc: Vec<&str> = loc.iter().map(String::as_str).collect();
    FieldError::new(&loc, msg, kind)
}

/// serde_json's message without its ` at line 1 column 57` suffix, which
/// says nothing to a client the field's `loc` does not.
fn without_position(mut message: String) -> String {
    if let Some(at) = message.rfind(" at line ") {
        let tail = &message[at + " at line ".len()..];
        let mut parts = tail.split(" column ");
        let numeric = |p: Option<&str>| {
            p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        if numeric(parts.next()) && numeric(parts.next()) && parts.next().is_none() {
            message.truncate(at);
        }
    }
    message
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// `?page=1&pageSize=N` of the paged lists (`page_size` accepted too):
/// `page` from 1, `pageSize` from 1 to `MAX`, `SIZE` when absent.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery<const SIZE: u32, const MAX: u32> {
    /// From 1 (default 1).
    page: Option<u32>,
    /// Items per page, from 1 (each list states its default and maximum).
    #[serde(rename = "pageSize", alias = "page_size")]
    #[param(rename = "pageSize")]
    page_size: Option<u32>,
}

impl<const SIZE: u32, const MAX: u32> PageQuery<SIZE, MAX> {
    /// The page, from 1.
    pub fn page(&self) -> i64 {
        i64::from(self.page.unwrap_or(1))
    }

    /// Items per page.
    pub fn size(&self) -> i64 {
        i64::from(self.page_size.unwrap_or(SIZE))
    }

    /// Rows to skip before this page.
    pub fn offset(&self) -> i64 {
        (self.page() - 1) * self.size()
    }
}

impl<const SIZE: u32, const MAX: u32> Validate for PageQuery<SIZE, MAX> {
    fn validate(&self) -> Vec<FieldError> {
        Validator::query()
            .range("page", self.page(), 1, i64::from(u32::MAX))
            .range("pageSize", self.size(), 1, i64::from(MAX))
            .finish()
    }
}

/// A JSON answer already serialized (e.g. from [`crate::cache::Memo`]).
#[derive(Debug, Clone)]
pub struct RawJson(pub Bytes);

impl IntoResponse for RawJson {
    fn into_response(self) -> Response {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            self.0,
        )
            .into_response()
    }
}

/// Serializes `value` for a [`RawJson`] answer.
pub fn to_json_bytes<T: Serialize>(value: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(ApiError::internal)
}

/// The `{message, success: true}` answer of every acknowledging endpoint
/// (every `{message}` answer also carries `success`).
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Acknowledged {
    #[schema(example = "Preferences updated")]
    pub message: std::borrow::Cow<'static, str>,
    pub success: bool,
}

impl Acknowledged {
    /// A successful answer saying `text` in the reader's language.
    pub fn said(text: Text, lang: crate::i18n::Lang) -> Self {
        Self {
            message: text.render(lang).into(),
            success: true,
        }
    }
}

/// Query-string parameters, validated like a body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        if has_encoded_nul(query) {
            return Err(nul_error("query"));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        let value: T = serde_path_to_error::deserialize(de)
            .map_err(|err| ApiError::Validation(vec![field_error("query", &err, "value_error")]))?;
        let errors = value.validate();
        if errors.is_empty() {
            Ok(Query(value))
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// Path parameters; a value that does not parse is a 422 on `path`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if has_encoded_nul(parts.uri.path()) {
            return Err(nul_error("path"));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|rejection| {
                ApiError::Validation(vec![FieldError::new(
                    &["path"],
                    rejection.body_text(),
                    "value_error",
                )])
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nul_escapes_in_strings_only_as_escapes() {
        assert!(has_nul_escape(br#"{"query":"a\u0000b"}"#));
        assert!(
            !has_nul_escape(br#"{"query":"a\\u0000b"}"#),
            "an escaped backslash, then text"
        );
        assert!(has_nul_escape(br#"{"query":"\u00001"}"#));
        assert!(!has_nul_escape(br#"{"query":"u0000"}"#));
        assert!(has_encoded_nul("/api/attractions/%00"));
        assert!(!has_encoded_nul("/api/attractions/a%20b"));
    }

    #[test]
    fn field_messages_leave_out_the_parser_position() {
        assert_eq!(without_position("bad at line 1 column 21".into()), "bad");
        assert_eq!(
            without_position("at line 1 column x".into()),
            "at line 1 column x"
        );
        assert_eq!(without_position("no position".into()), "no position");
    }

    #[test]
    fn trailing_garbage_after_json_is_refused() {
        #[derive(serde::Deserialize, Debug)]
        struct Q {
            #[allow(dead_code)]
            query: String,
        }
        assert!(parse_json::<Q>(br#"{"query":"x"}"#).is_ok());
        assert!(parse_json::<Q>(b"{\"query\":\"x\"}  \n").is_ok());
        let err = parse_json::<Q>(br#"{"query":"x"} trailing garbage"#).unwrap_err();
        assert_eq!(err.status(), 422);
        assert_eq!(
            parse_json::<Q>(br#"{"query":"a\u0000b"}"#)
                .unwrap_err()
                .status(),
            422
        );
    }
}
