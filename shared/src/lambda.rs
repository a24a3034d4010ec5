//! Serving a function under the AWS Lambda runtime API (feature `lambda`; the
//! Knative images are built without it and carry no `lambda_http`).
//!
//! Lambda hands over events, not connections, so there is no TCP peer for the
//! client-IP rule (README, "Client IP") to start from. The peer is taken from
//! the event instead: API Gateway's `sourceIp` (HTTP and REST APIs), which is
//! the address that connected to the gateway; behind an ALB, the entry the
//! load balancer appended to `X-Forwarded-For`. From there the same
//! trusted-proxy rule applies as over HTTP, so two callers never share a limit
//! or a lockout because the platform lost their addresses.

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::ConnectInfo;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use tower::ServiceBuilder;

/// Runs `app` under the Lambda runtime API named by `AWS_LAMBDA_RUNTIME_API`.
pub async fn run(app: Router) -> Result<(), lambda_http::Error> {
    let service = ServiceBuilder::new().map_request(with_peer).service(app);
    lambda_http::run(service).await
}

/// Records the caller's address, as the event tells it, where the middleware
/// looks for the TCP peer.
fn with_peer(mut req: Request) -> Request {
    if let Some(ip) = event_peer(&req) {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    req
}

fn event_peer(req: &Request) -> Option<IpAddr> {
    let source = match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.clone(),
        // The load balancer appends the address it saw to the right.
        RequestContext::Alb(_) => req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .map(|hop| hop.trim().to_owned()),
        // WebSocket APIs are not served here.
        _ => None,
    }?;
    source.trim().parse().ok()
}
