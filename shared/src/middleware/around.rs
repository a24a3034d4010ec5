//! Middleware as a plain trait: what axum's `from_fn` gives, without its
//! per-request cost. `from_fn` boxes the inner service and its future for
//! every request, and each `Router::layer` call adds another boxed service;
//! the platform's layers ran five deep that way. An [`Around`] wraps the inner
//! service by value, so a stack of them (and of tower-http's layers) is one
//! type, boxed once where axum stores the route.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use futures_util::FutureExt;
use tower::{Layer, Service};

/// What a middleware does around the rest of the stack, given its settings
/// (`self`, cloned per request: keep it an `Arc` or two).
pub trait Around: Clone + Send + Sync + 'static {
    /// Answers `req`, usually by running `next` on it and adjusting the answer.
    fn around<S: Inner>(self, req: Request, next: Next<S>)
    -> impl Future<Output = Response> + Send;
}

/// What an [`Around`] can wrap: axum's routes and tower-http's layers over them.
pub trait Inner:
    Service<Request, Response = Response, Error = Infallible, Future: Send> + Send + 'static
{
}

impl<S> Inner for S where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send> + Send + 'static
{
}

/// The rest of the stack, for one request.
pub struct Next<S>(S);

impl<S: Inner> Next<S> {
    /// Passes `req` on; the future is the answer.
    pub fn run(mut self, req: Request) -> impl Future<Output = Response> + Send + use<S> {
        self.0.call(req).map(|answer| match answer {
            Ok(response) => response,
            Err(never) => match never {},
        })
    }
}

/// The [`Layer`] of an [`Around`].
#[derive(Clone)]
pub struct AroundLayer<A>(pub A);

impl<A: Clone, S> Layer<S> for AroundLayer<A> {
    type Service = AroundService<A, S>;

    fn layer(&self, inner: S) -> Self::Service {
        AroundService {
            around: self.0.clone(),
            inner,
        }
    }
}

/// An [`Around`] over its inner service.
#[derive(Clone)]
pub struct AroundService<A, S> {
    around: A,
    inner: S,
}

impl<A: Around, S: Inner + Clone> Service<Request> for AroundService<A, S> {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The instance polled ready serves this request; a clone takes its place.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        // `map`, not `async move { Ok(answer.await) }`, which would hold the
        // future twice (the captured one and the one awaited).
        Box::pin(self.around.clone().around(req, Next(inner)).map(Ok))
    }
}
