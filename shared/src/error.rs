//! The one error type every handler returns, rendered in the contract's shape:
//! `{"detail": ..., "message": ...}` (FastAPI's `detail` plus the app's `message`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::i18n::{ErrorPart, ErrorText, Lang, MESSAGES, Text};

/// One invalid field of a request, as FastAPI reports it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Where the field sits: `["body", "passengers"]`, `["query", "lat"]`.
    #[schema(value_type = Vec<String>)]
    pub loc: Vec<serde_json::Value>,
    /// What is wrong, for humans.
    pub msg: String,
    /// A machine-readable kind: `missing`, `value_error`, `json_invalid`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `msg` as a message, for the localized `message` (serde's own words,
    /// and `msg` in `detail`, stay English).
    #[serde(skip)]
    pub text: Option<Text>,
}

impl FieldError {
    /// A field error at `loc` (e.g. `["body", "passengers"]`).
    pub fn new(loc: &[&str], msg: impl Into<String>, kind: &str) -> Self {
        Self {
            loc: loc.iter().map(|s| json!(s)).collect(),
            msg: msg.into(),
            kind: kind.to_owned(),
            text: None,
        }
    }

    /// A field error at `loc` saying `text` (English in `msg`).
    pub fn text(loc: &[&str], text: Text, kind: &str) -> Self {
        Self {
            text: Some(text.clone()),
            ..Self::new(loc, text.to_string(), kind)
        }
    }

    /// What the reader sees: its own text, or one for its kind.
    fn message(&self) -> Text {
        self.text.clone().unwrap_or_else(|| {
            MESSAGES.text(match self.kind.as_str() {
                "missing" => "field-required",
                "json_invalid" => "json-invalid",
                _ => "value-invalid",
            })
        })
    }

    /// The field's path without its root: `passengers`, `stops.0.lat`.
    fn field(&self) -> String {
        let loc: Vec<String> = self
            .loc
            .iter()
            .skip(1)
            .map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_owned))
            .collect();
        loc.join(".")
    }
}

/// The error body of every non-2xx answer, for the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A string, or for 422 the list of invalid fields.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// A readable sentence the app shows.
    pub message: String,
}

/// Everything a function can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(Text),
    #[error("{0}")]
    Unauthorized(Text),
    #[error("{0}")]
    Forbidden(Text),
    #[error("{0}")]
    NotFound(Text),
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(Text),
    #[error("Request body too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(Text),
    #[error("Validation failed")]
    Validation(Vec<FieldError>),
    #[error("{message}")]
    TooManyRequests { retry_after: u64, message: Text },
    #[error("{0}")]
    Unavailable(Text),
    /// A business refusal (sold out, departed, not yours ...): its `status`
    /// and its reason, a typed error whose text is the message shown. Callers
    /// tell refusals apart by type with [`ApiError::refusal`], never by text.
    #[error("{reason}")]
    Refused {
        status: StatusCode,
        reason: BoxError,
        text: Text,
    },
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A failure the caller cannot fix: its cause is logged with its chain,
    /// never shown (the answer is a plain 500).
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// Any error, as the cause an [`ApiError`] carries.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A business refusal: a typed reason, its text the message, its status the answer.
pub trait Refusal: std::error::Error + Send + Sync + 'static {
    /// The HTTP status of the refusal (400 unless it says otherwise).
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    /// What the caller reads, in their language.
    fn text(&self) -> Text;
}

impl ApiError {
    /// A 500 carrying its cause (an error, or a `&str`/`String` saying what broke).
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }

    /// A business refusal with its typed reason.
    pub fn refused<R: Refusal>(reason: R) -> Self {
        Self::Refused {
            status: reason.status(),
            text: reason.text(),
            reason: Box::new(reason),
        }
    }

    /// The refusal of type `R` this error carries, if it is one.
    pub fn refusal<R: Refusal>(&self) -> Option<&R> {
        match self {
            Self::Refused { reason, .. } => reason.downcast_ref(),
            _ => None,
        }
    }
}

/// `error: cause: cause's cause ...`, for the log.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

/// `404 "<what> not found"`, `what` being the thing's name (`Route`).
pub fn not_found(what: Text) -> ApiError {
    ApiError::NotFound(MESSAGES.text("not-found").arg("what", what))
}

/// `400` with a message.
pub fn bad_request(message: Text) -> ApiError {
    ApiError::BadRequest(message)
}

/// `403` with a message.
pub fn forbidden(message: Text) -> ApiError {
    ApiError::Forbidden(message)
}

/// `409` with a message.
pub fn conflict(message: Text) -> ApiError {
    ApiError::Conflict(message)
}

/// `422` for a single field.
pub fn invalid(loc: &[&str], message: Text) -> ApiError {
    ApiError::Validation(vec![FieldError::text(loc, message, "value_error")])
}

impl ApiError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Refused { status, .. } => *status,
            Self::Database(e) if database_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (detail, parts) = match &self {
            Self::Validation(fields) => {
                let parts = fields
                    .iter()
                    .map(|f| ErrorPart {
                        field: Some(f.field()).filter(|l| !l.is_empty()),
                        english: f.msg.clone(),
                        text: f.message(),
                    })
                    .collect();
                (json!(fields), parts)
            }
            Self::Database(e) if database_unavailable(e) => {
                tracing::error!(error = %chain(&self), "database unavailable");
                let text = MESSAGES.text("unavailable");
                (json!(text.to_string()), vec![ErrorPart::of(text)])
            }
            Self::Database(_) | Self::Internal(_) => {
                tracing::error!(error = %chain(&self), "request failed");
                let text = MESSAGES.text("internal-error");
                (json!(text.to_string()), vec![ErrorPart::of(text)])
            }
            other => {
                let text = other.text();
                (json!(text.to_string()), vec![ErrorPart::of(text)])
            }
        };
        let error = ErrorText { detail, parts };
        let message = error.render(Lang::En);
        let mut response = (
            status,
            axum::Json(json!({ "detail": error.detail, "message": message })),
        )
            .into_response();
        response.extensions_mut().insert(error);
        if let Self::TooManyRequests { retry_after, .. } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

impl ApiError {
    /// What a non-validation error says.
    fn text(&self) -> Text {
        match self {
            Self::BadRequest(t)
            | Self::Unauthorized(t)
            | Self::Forbidden(t)
            | Self::NotFound(t)
            | Self::Conflict(t)
            | Self::UnsupportedMediaType(t)
            | Self::Unavailable(t)
            | Self::TooManyRequests { message: t, .. }
            | Self::Refused { text: t, .. } => t.clone(),
            Self::MethodNotAllowed => MESSAGES.text("method-not-allowed"),
            Self::PayloadTooLarge => MESSAGES.text("payload-too-large"),
            Self::Validation(_) => MESSAGES.text("validation-failed"),
            Self::Database(e) if database_unavailable(e) => MESSAGES.text("unavailable"),
            Self::Database(_) | Self::Internal(_) => MESSAGES.text("internal-error"),
        }
    }
}

/// Whether a database failure is the database being away, busy or too slow
/// (503, worth a retry) rather than a bug (500): the pool timed out or is
/// closed, the connection broke, the statement timeout cancelled the query
/// (57014), the server is shutting down or starting (57P01-57P03), or a
/// connection exception (class 08).
pub fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c == "57014" || c.starts_with("57P") || c.starts_with("08")),
        _ => false,
    }
}

/// Turns a named constraint violation into a client error, so handlers can let
/// the database enforce uniqueness and foreign keys without racing a SELECT.
pub trait ConstraintExt<T> {
    /// Maps a violation of `constraint` to `error()`; any other failure stays a database error.
    fn on_constraint(
        self,
        constraint: &str,
        error: impl FnOnce() -> ApiError,
    ) -> Result<T, ApiError>;
}

impl<T> ConstraintExt<T> for Result<T, sqlx::Error> {
    fn on_constraint(
        self,
        constraint: &str,
        error: impl FnOnce() -> ApiError,
    ) -> Result<T, ApiError> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.constraint() == Some(constraint) => error(),
            _ => ApiError::Database(e),
        })
    }
}

/// The result every handler returns.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, thiserror::Error)]
    enum Refused {
        #[error("Not authenticated")]
        NotYours,
    }

    impl Refusal for Refused {
        fn status(&self) -> StatusCode {
            StatusCode::FORBIDDEN
        }

        fn text(&self) -> Text {
            MESSAGES.text("not-authenticated")
        }
    }

    #[test]
    fn an_internal_error_keeps_its_cause_for_the_log_only() {
        let cause = std::io::Error::other("disk on fire");
        let e = ApiError::internal(cause);
        assert_eq!(chain(&e), "internal error: disk on fire");
        assert!(std::error::Error::source(&e).is_some());
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_refusal_is_told_apart_by_type_and_shows_its_text() {
        let e = ApiError::refused(Refused::NotYours);
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert_eq!(e.refusal(), Some(&Refused::NotYours));
        assert_eq!(e.to_string(), "Not authenticated");
        assert_eq!(
            not_found(MESSAGES.text("thing-session")).refusal::<Refused>(),
            None
        );
    }
}
