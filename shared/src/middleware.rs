//! The layers around every function: request ids, timing, security headers,
//! client IP, metrics and access logs, the caller's language and a panic's
//! 500 (outermost, [`Platform`]); CORS; and per function ([`Guard`]),
//! authentication, the declared rate-limit tier and the auth policy. Each is
//! an [`Around`], so the whole stack costs one boxed service per request.

mod around;

pub use around::{Around, AroundLayer, Inner, Next};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

use crate::auth::{AuthError, AuthUser, Authentication, bearer_token};
use crate::client_ip::TrustedProxies;
use crate::error::ApiError;
use crate::function::AuthPolicy;
use crate::i18n::Locale;
use crate::metrics::{RouteMetrics, RouteTable};
use crate::rate_limit::{self, Decision, RateTier};
use crate::sessions::{self, Device};
use crate::state::AppState;

/// The client's address, as [`crate::client_ip`] resolves it.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// The route template that answered, carried out on the response for metrics.
#[derive(Debug, Clone)]
pub struct RouteLabel(pub MatchedPath);

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_RESPONSE_TIME: HeaderName = HeaderName::from_static("x-response-time-ms");
static X_DEVICE_IP: HeaderName = HeaderName::from_static("x-device-ip");

/// Built per response: a `const` of `HeaderValue` would be interior-mutable
/// (`Bytes`), and these are static strings, so nothing is allocated.
fn security_headers() -> [(HeaderName, HeaderValue); 6] {
    [
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::X_XSS_PROTECTION, HeaderValue::from_static("0")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; frame-ancestors 'none'; object-src 'none'",
            ),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        ),
    ]
}

/// The client IP (see [`crate::client_ip`]).
pub fn client_ip(req: &Request, trusted: &TrustedProxies) -> String {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    trusted
        .client_ip(peer, forwarded)
        .map_or_else(|| "unknown".into(), |ip| ip.to_string())
}

fn incoming_request_id(req: &Request) -> Option<HeaderValue> {
    let id = req.headers().get(&X_REQUEST_ID)?;
    let bytes = id.as_bytes();
    let sane = !bytes.is_empty()
        && bytes.len() <= 128
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b));
    sane.then(|| id.clone())
}

/// A random (v4) UUID from a per-thread generator seeded once from the OS:
/// request ids must be unique, not secret, and a `getrandom` call per request
/// showed in the profile.
fn new_request_id() -> HeaderValue {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(uuid::Uuid::new_v4().as_u64_pair().0);
    }
    // SplitMix64.
    let next = || {
        STATE.with(|s| {
            let mut z = s.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
            s.set(z);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
    };
    let bits = (u128::from(next()) << 64) | u128::from(next());
    let mut text = uuid::Uuid::encode_buffer();
    let id = uuid::Builder::from_random_bytes(bits.to_le_bytes())
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut text);
    HeaderValue::from_str(id).expect("a UUID is a valid header value")
}

/// Milliseconds with two decimals, as `X-Response-Time-Ms` carries them.
fn milliseconds(elapsed: std::time::Duration) -> HeaderValue {
    use std::io::Write;
    let mut text = [0u8; 24];
    let mut rest = &mut text[..];
    write!(rest, "{:.2}", elapsed.as_secs_f64() * 1000.0).expect("24 bytes hold any duration");
    let len = 24 - rest.len();
    HeaderValue::from_bytes(&text[..len]).expect("a number is a valid header value")
}

/// The outermost layer: ids, timing, headers, metrics and one log line per
/// request; inside them the caller's language ([`crate::i18n::localize`])
/// and a handler's panic, answered as that request's 500.
#[derive(Clone)]
pub struct Platform(pub AppState);

impl Around for Platform {
    /// Built from combinators, not an `async fn`: its future holds the inner
    /// one once, where an `async fn` would also keep its arguments and their
    /// moved copies; the whole is copied into the heap for every request.
    fn around<S: Inner>(
        self,
        mut req: Request,
        next: Next<S>,
    ) -> impl Future<Output = Response> + Send {
        let Platform(state) = self;
        let seen = Seen::new(state.clone(), &req);
        crate::telemetry::continue_trace(&seen.span, req.headers());
        let id = seen.request_id.to_str().unwrap_or_default();
        let hub = crate::telemetry::request_hub(&state.config.function, id);
        let locale = crate::i18n::negotiate(&mut req);
        req.extensions_mut().insert(ClientIp(seen.ip.clone()));
        let span = seen.span.clone();
        // Axum calls no handler code until the future is polled, so panics
        // happen inside `catch_unwind`.
        let answer = std::panic::AssertUnwindSafe(next.run(req))
            .catch_unwind()
            .then(move |outcome| {
                crate::i18n::localize(state, locale, outcome.unwrap_or_else(panicked))
            })
            .map(move |response| seen.finish(response))
            .instrument(span);
        let answer = crate::telemetry::in_request(answer);
        match hub {
            Some(hub) => {
                use sentry::SentryFutureExt;
                futures_util::future::Either::Left(answer.bind_hub(hub))
            }
            None => futures_util::future::Either::Right(answer),
        }
    }
}

/// What the platform notes of a request on its way in, to finish the answer with.
struct Seen {
    state: AppState,
    started: Instant,
    request_id: HeaderValue,
    ip: String,
    device_ip: Option<HeaderValue>,
    method: Method,
    span: tracing::Span,
}

impl Seen {
    fn new(state: AppState, req: &Request) -> Self {
        let started = Instant::now();
        let request_id = incoming_request_id(req).unwrap_or_else(new_request_id);
        let ip = client_ip(req, &state.config.trusted_proxies);
        let method = req.method().clone();
        // OpenTelemetry's HTTP server conventions: the name is refined to
        // "{method} {route}" once routing has matched a route.
        let span = tracing::info_span!(
            "request",
            otel.name = %method,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            http.request.method = %method,
            url.path = %req.uri().path(),
            http.route = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
            function = %state.config.function,
            request_id = %request_id.to_str().unwrap_or_default(),
            client_ip = %ip,
            uid = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        Self {
            device_ip: req.headers().get(&X_DEVICE_IP).cloned(),
            state,
            started,
            request_id,
            ip,
            method,
            span,
        }
    }

    /// Metrics, the span's outcome, the response headers and the access log.
    fn finish(self, mut response: Response) -> Response {
        let Seen {
            state,
            started,
            request_id,
            ip,
            device_ip,
            method,
            span,
        } = self;
        let elapsed = started.elapsed();
        state.metrics.first_request_served();
        let status = response.status();
        let route = response.extensions().get::<RouteLabel>().cloned();
        let endpoint = route.as_ref().map_or("unmatched", |l| l.0.as_str());
        match response.extensions().get::<Arc<RouteMetrics>>() {
            Some(handles) => handles.record(status, elapsed),
            None => state.metrics.record(
                crate::metrics::method_label(&method),
                endpoint,
                status,
                elapsed,
            ),
        }

        record_outcome(&span, &method, route.as_ref(), status);

        let headers = response.headers_mut();
        headers.insert(X_REQUEST_ID.clone(), request_id);
        headers.insert(X_RESPONSE_TIME.clone(), milliseconds(elapsed));
        // A handler may set its own (the docs pages relax the CSP for their bundles).
        for (name, value) in security_headers() {
            headers.entry(name).or_insert(value);
        }
        if let Some(v) = device_ip {
            headers.insert(X_DEVICE_IP.clone(), v);
        }
        span.in_scope(|| {
            tracing::info!(
                status = status.as_u16(),
                endpoint = %endpoint,
                client_ip = %ip,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request"
            );
        });
        response
    }
}

/// Completes the request span: route, status, and for a 5xx `error.type` and
/// an error status (a 4xx is the caller's mistake, not the server's).
fn record_outcome(
    span: &tracing::Span,
    method: &Method,
    route: Option<&RouteLabel>,
    status: http::StatusCode,
) {
    if span.is_disabled() {
        return;
    }
    if let Some(route) = route {
        span.record("http.route", route.0.as_str());
        let name = format!("{method} {}", route.0.as_str());
        span.record("otel.name", name.as_str());
        crate::telemetry::name_span(span, name);
    }
    // As i64: the OTel layer exports a u64 as a string, the convention is an int.
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("error.type", status.as_str());
        span.record("otel.status_code", "ERROR");
    }
}

/// A handler panicked: that request answers 500 (and the panic is logged and
/// reported); the instance and its other requests go on.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into());
    ApiError::internal(format!("handler panicked: {what}")).into_response()
}

/// Marks responses with the route template that served them and that
/// route's metrics, resolved when the router was built (the operational
/// routes; the [`Guard`] does it for a function's own).
#[derive(Clone)]
pub struct RouteLabels(pub Arc<RouteTable>);

impl Around for RouteLabels {
    fn around<S: Inner>(
        self,
        req: Request,
        next: Next<S>,
    ) -> impl Future<Output = Response> + Send {
        let label = Label::of(&req, &self.0);
        next.run(req).map(move |response| label.mark(response))
    }
}

/// What [`RouteLabels`] (or the guard, on function routes) puts on a response.
struct Label(Option<MatchedPath>, Option<Arc<RouteMetrics>>);

impl Label {
    fn of(req: &Request, routes: &RouteTable) -> Self {
        let matched = req.extensions().get::<MatchedPath>().cloned();
        let handles = matched
            .as_ref()
            .and_then(|m| routes.get(req.method(), m.as_str()))
            .cloned();
        Self(matched, handles)
    }

    fn mark(self, mut response: Response) -> Response {
        if let Some(matched) = self.0 {
            response.extensions_mut().insert(RouteLabel(matched));
        }
        if let Some(handles) = self.1 {
            response.extensions_mut().insert(handles);
        }
        response
    }
}

/// The per-function guard's settings, from the function's manifest.
#[derive(Clone)]
pub struct Guard {
    pub state: AppState,
    pub auth: AuthPolicy,
    pub tier: RateTier,
    /// Every route's metrics, to label this function's responses.
    pub routes: Arc<RouteTable>,
}

/// Per function: verify any bearer token, refuse locked-out or flooding IPs,
/// count the request against the declared tier (per uid, else per client IP),
/// record the user, then apply the auth policy; and label the response for
/// metrics, as [`RouteLabels`] does for the other routes.
impl Around for Guard {
    fn around<S: Inner>(
        self,
        req: Request,
        next: Next<S>,
    ) -> impl Future<Output = Response> + Send {
        let label = Label::of(&req, &self.routes);
        admit(self, req, next).map(move |response| label.mark(response))
    }
}

async fn admit<S: Inner>(guard: Guard, mut req: Request, next: Next<S>) -> Response {
    let state = &guard.state;
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.clone());
    // The paths that reach Postgres or Redis (a token, a booking tier, a
    // signed-in user) are boxed where taken: inline, their futures would
    // make this one kilobytes larger, copied into the heap on every request.
    let authentication = match bearer_token(req.headers()) {
        Some(token) => Box::pin(authenticate(state, token)).await,
        None => Authentication::Anonymous,
    };
    let user = authentication.user();
    if let Some(refusal) = rate_limit(state, guard.tier, user, &ip).await {
        return refusal;
    }
    // Counted after the lockout check, so the streak's last token still gets its 401.
    // Expired tokens are what an app resuming from the background sends, not an
    // attack; only forged or malformed ones count toward a lockout.
    if let Authentication::Failed(e) = &authentication
        && !matches!(e, AuthError::KeysUnavailable | AuthError::Expired)
        && let Some((_, bucket)) = guard.tier.limit(&state.config.rate_limits, None)
        && let Err(err) = Box::pin(rate_limit::record_bad_token(state, bucket, &ip)).await
    {
        tracing::warn!(error = %err, "could not record a refused token");
    }
    if user.is_some() {
        Box::pin(rate_limit::end_bad_streak(state, &ip)).await;
    }
    if let Some(user) = user {
        if let Some(locale) = req.extensions().get::<Arc<Locale>>() {
            locale.signed_in(&user.uid);
        }
        tracing::Span::current().record("uid", user.uid.as_str());
        crate::telemetry::identify(&user.uid);
    }
    if let Some(user) = user
        && let Err(refusal) = Box::pin(keep_session(state, user, req.headers(), &ip)).await
    {
        return refusal.into_response();
    }
    if guard.auth == AuthPolicy::Required {
        match &authentication {
            Authentication::User(_) => {}
            Authentication::Failed(e) => return ApiError::from(*e).into_response(),
            Authentication::Anonymous => return ApiError::from(AuthError::Missing).into_response(),
        }
    }
    req.extensions_mut().insert(authentication);
    next.run(req).await
}

/// Records the user and their device session; `Err` only for a revoked session.
async fn keep_session(
    state: &AppState,
    user: &AuthUser,
    headers: &http::HeaderMap,
    ip: &str,
) -> Result<(), ApiError> {
    let device = Device::from_headers(headers, ip);
    let check = sessions::check(state, user, &device, ip).await?;
    if let Err(e) = state
        .known_users
        .record(&state.db, user, check.map(|c| c.generation))
        .await
    {
        tracing::warn!(error = %e, "could not record the user; handler continues");
    }
    if check.is_some_and(|c| c.write_due) {
        match sessions::write(state, user, &device, ip).await {
            Err(e @ ApiError::Unauthorized(_)) => return Err(e),
            Err(e) => tracing::warn!(error = %e, "could not record the session; handler continues"),
            Ok(()) => {}
        }
    }
    Ok(())
}

async fn authenticate(state: &AppState, token: &str) -> Authentication {
    match state.auth.verify(token).await {
        Ok(user) => Authentication::User(user),
        Err(e) => {
            let reason = e.reason();
            state
                .metrics
                .auth_failures
                .with_label_values(&[reason])
                .inc();
            tracing::info!(reason, "bearer token refused");
            Authentication::Failed(e)
        }
    }
}

/// `Some(429)` when this caller has used up the tier's budget, or its IP is
/// locked out or blocked.
async fn rate_limit(
    state: &AppState,
    tier: RateTier,
    user: Option<&crate::auth::AuthUser>,
    ip: &str,
) -> Option<Response> {
    let (limit, bucket) = tier.limit(&state.config.rate_limits, user)?;
    let caller = rate_limit::Caller {
        uid: user.map(|u| u.uid.as_str()),
        ip,
    };
    let decision = if tier == RateTier::Booking {
        Box::pin(rate_limit::check(state, bucket, limit, &caller)).await
    } else {
        Ok(state
            .limiter
            .check(&state.config, &state.redis, bucket, limit, &caller))
    };
    match decision {
        Ok(decision) => {
            let (retry_after, message) = decision.refusal()?;
            let label = match decision {
                Decision::Blocked { .. } => "flood",
                Decision::Locked { .. } => "lockout",
                _ => bucket,
            };
            state.metrics.rate_limited.with_label_values(&[label]).inc();
            Some(
                ApiError::TooManyRequests {
                    retry_after,
                    message,
                }
                .into_response(),
            )
        }
        Err(e) => {
            // A cache outage must not take the API down with it.
            tracing::warn!(error = %e, "rate limiter unavailable; request allowed");
            None
        }
    }
}

/// CORS for the configured origins, with credentials.
pub fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let allowed_headers = [
        "authorization",
        "content-type",
        "x-request-id",
        "x-device-id",
        "x-device-type",
        "x-device-os",
        "x-device-ip",
        "x-app-version",
        "x-device-fingerprint",
    ];
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(allowed_headers.map(HeaderName::from_static))
        .expose_headers([
            X_REQUEST_ID.clone(),
            X_RESPONSE_TIME.clone(),
            header::RETRY_AFTER,
        ])
        .max_age(std::time::Duration::from_secs(600))
}
