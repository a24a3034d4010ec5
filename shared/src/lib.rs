//! The platform every AI-IMUTIS function links: configuration, pools, Firebase
//! auth, rate limiting, the error type and extractors, middleware, metrics, the
//! runtime that serves a function over HTTP or AWS Lambda, and the seed data.
//!
//! It knows nothing of the business: the `domain` crate (`shared/domain`) and
//! the `ai` crate (`shared/ai`) sit above it and use its handles. The business
//! writes notifications through [`notifications`] (the outbox: the row, its
//! WebSocket publication and its FCM [`push`]) and decides what they say.

pub mod app;
pub mod auth;
pub mod cache;
pub mod client_ip;
pub mod config;
pub mod error;
pub mod extract;
pub mod function;
pub mod i18n;
pub mod idempotency;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod local_limit;
pub mod metrics;
pub mod middleware;
pub mod notifications;
pub mod outbound;
pub mod push;
pub mod rate_limit;
pub mod redis_pool;
pub mod runtime;
pub mod schema;
pub mod seed;
pub mod sessions;
pub mod state;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod users;
#[cfg(feature = "ws")]
pub mod ws;

/// What a function crate needs, in one `use shared::prelude::*;`.
pub mod prelude {
    pub use crate::auth::{AuthUser, MaybeUser, Role};
    pub use crate::error::{
        ApiError, ApiResult, ConstraintExt, ErrorBody, FieldError, Refusal, bad_request, conflict,
        forbidden, invalid, not_found,
    };
    pub use crate::extract::{
        Acknowledged, Json, PageQuery, Path, Query, RawJson, Validate, Validator, to_json_bytes,
    };
    pub use crate::function::Function;
    pub use crate::i18n::{Catalog, Lang, Text};
    pub use crate::state::{AppState, Db, ReadDb};
    pub use crate::time::{DepartureDate, Timestamp};
    pub use axum::extract::State;
    pub use serde::{Deserialize, Serialize};
    pub use utoipa::{IntoParams, ToSchema};
    pub use utoipa_axum::{router::OpenApiRouter, routes};
}

/// Sets mimalloc as the calling binary's global allocator (see the README's
/// benchmark figures for why). A binary sets it, never a library: `migrate`
/// and `xtask` keep the system allocator.
#[macro_export]
macro_rules! global_allocator {
    () => {
        #[global_allocator]
        static ALLOCATOR: $crate::mimalloc::MiMalloc = $crate::mimalloc::MiMalloc;
    };
}

/// A function binary: `shared::main!(my_function::function());` is its whole
/// `main.rs` (the allocator, then the runtime serving the function).
#[macro_export]
macro_rules! main {
    ($function:expr) => {
        $crate::global_allocator!();

        fn main() -> ::std::process::ExitCode {
            $crate::runtime::run($function)
        }
    };
}

#[doc(hidden)]
pub use mimalloc;

// Every binary that links the platform copies and compares with fastmem's
// functions in place of musl's (a no-op on glibc).
use fastmem as _;

pub use sqlx;
pub use utoipa;
pub use utoipa_axum;
