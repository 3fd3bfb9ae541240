//! The middleware every request passes: request id, authentication, rate limits, and the final
//! shape of problem documents and headers (`X-Request-ID`, `X-RateLimit-*` on every response).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{self as http, HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::{Auth, AuthFailure, authenticate};
use crate::problem::{ApiError, PendingProblem};
use crate::rate_limit::Budget;

/// The request id, as a request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Routes that need no key: the operations the OpenAPI document marks `security: []`.
fn is_public(path: &str) -> bool {
    crate::openapi::public().iter().any(|p| p == path)
}

/// The liveness probe answers whatever the `Host` (load balancers probe by address); it is one of
/// the public routes (a test checks that the document says so).
pub const LIVENESS_PATH: &str = "/v1/_health";

/// The client IP: the `trusted_proxies`-th address from the right of `X-Forwarded-For` (every
/// `X-Forwarded-For` line joined in order), or the socket peer when `trusted_proxies` is 0, the
/// header holds fewer addresses than that, or the chosen entry is not an IP. Entries left of the
/// chosen one were written by the client and are never used.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, trusted_proxies: usize) -> IpAddr {
    if trusted_proxies == 0 {
        return peer;
    }
    let mut hops: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(v) = value.to_str() else {
            return peer;
        };
        hops.extend(v.split(',').map(str::trim));
    }
    if hops.len() < trusted_proxies {
        return peer;
    }
    hops[hops.len() - trusted_proxies].parse().unwrap_or(peer)
}

fn peer_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Whether `host` (a `Host` header value) is one of `allowed` (lowercase `host` or `host:port`
/// entries); `host:port` matches an entry without a port too.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim().to_ascii_lowercase();
    if host.is_empty() {
        return false;
    }
    let without_port = match host.rsplit_once(':') {
        Some((h, port))
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !h.is_empty() =>
        {
            h
        }
        _ => host.as_str(),
    };
    allowed.iter().any(|a| *a == host || a == without_port)
}

/// The request's `Host`, when `SENDOPS_ALLOWED_HOSTS` lists it.
pub fn vouched_host<'a>(headers: &'a HeaderMap, allowed: &[String]) -> Option<&'a str> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    host_allowed(host, allowed).then_some(host)
}

pub async fn gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let request_id = RequestId(uuid::Uuid::new_v4().to_string());
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    // The route template, never the raw path (paths can hold recipient addresses).
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let ip = client_ip(req.headers(), peer_ip(&req), state.config.trusted_proxies);
    req.extensions_mut().insert(request_id.clone());
    let (mut response, budget) = decide(&state, ip, &path, req, next).await;
    let caller = response.extensions_mut().remove::<Auth>();
    let response = finish(response, &state, &request_id.0, &path, budget);
    account(
        &method,
        &route,
        response.status(),
        started.elapsed(),
        caller.as_ref(),
        &request_id.0,
    );
    response
}

/// The request's metrics and its access-log line (info): method, route template, status,
/// latency, org id and key prefix (the public part of a key; never the key), request id.
fn account(
    method: &http::Method,
    route: &str,
    status: http::StatusCode,
    elapsed: std::time::Duration,
    caller: Option<&Auth>,
    request_id: &str,
) {
    let status_code = status.as_u16();
    metrics::counter!(
        "sendops_api_requests_total",
        "route" => route.to_owned(),
        "method" => method.as_str().to_owned(),
        "status" => status_code.to_string()
    )
    .increment(1);
    metrics::histogram!(
        "sendops_api_request_duration_seconds",
        "route" => route.to_owned(),
        "method" => method.as_str().to_owned()
    )
    .record(elapsed.as_secs_f64());
    if status == http::StatusCode::TOO_MANY_REQUESTS {
        metrics::counter!("sendops_api_rate_limited_total", "route" => route.to_owned())
            .increment(1);
    }
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    match caller {
        Some(Auth(p)) => tracing::info!(
            target: "sendops_api::access",
            method = %method,
            route,
            status = status_code,
            latency_ms,
            org_id = %p.org.id,
            key_prefix = %p.key.prefix,
            request_id,
            "request"
        ),
        None => tracing::info!(
            target: "sendops_api::access",
            method = %method,
            route,
            status = status_code,
            latency_ms,
            request_id,
            "request"
        ),
    }
}

/// A refusal made by the connection layer (before routing, or a request timeout): the same problem
/// document, request id and headers as every other error, as a complete response. `path` is the
/// request path when it is known, else `/`. Not logged here: the connection layer counts these.
pub fn refusal(
    state: &AppState,
    error: ApiError,
    path: &str,
    peer: IpAddr,
) -> http::Response<Vec<u8>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = error.into_response();
    let problem = response.extensions_mut().remove::<PendingProblem>();
    let (parts, _) = response.into_parts();
    let mut out = http::Response::from_parts(parts, Vec::new());
    if let Some(problem) = problem {
        *out.body_mut() = problem_bytes(problem.body, state, &request_id, path);
    }
    set_headers(out.headers_mut(), &request_id, state.limits.ip_budget(peer));
    out
}

/// The final problem document: `type` under the configured base, `instance` and `request_id`.
fn problem_bytes(
    mut body: serde_json::Value,
    state: &AppState,
    request_id: &str,
    path: &str,
) -> Vec<u8> {
    if let Some(obj) = body.as_object_mut() {
        let class = obj
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("internal_error")
            .to_owned();
        obj.insert(
            "type".into(),
            format!("{}/{class}", state.config.problem_base).into(),
        );
        obj.insert("instance".into(), path.into());
        obj.insert("request_id".into(), request_id.into());
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Host check, authentication and rate limits, then the route.
async fn decide(
    state: &AppState,
    ip: IpAddr,
    path: &str,
    mut req: Request,
    next: Next,
) -> (Response, Budget) {
    let allowed = &state.config.allowed_hosts;
    if !allowed.is_empty()
        && path != LIVENESS_PATH
        && vouched_host(req.headers(), allowed).is_none()
    {
        return (
            ApiError::InvalidRequest(
                "The Host header is missing or names a host this API does not serve.".into(),
            )
            .into_response(),
            state.limits.ip_budget(ip),
        );
    }
    if is_public(path) {
        (next.run(req).await, state.limits.ip_budget(ip))
    } else if let Some(wait) = state.limits.blocked_for(ip) {
        (
            ApiError::RateLimited { retry_after: wait }.into_response(),
            Budget {
                limit: state.limits.ip_budget(ip).limit,
                remaining: 0,
                reset_secs: wait,
            },
        )
    } else {
        match authenticate(&state.store, &state.keys, req.headers()).await {
            Err(AuthFailure::Invalid) => match counted_auth_failure(state, ip) {
                Ok(budget) => (ApiError::Unauthenticated.into_response(), budget),
                Err(over) => {
                    tracing::warn!(%ip, "ip exceeded its budget of unauthenticated requests");
                    (
                        ApiError::RateLimited {
                            retry_after: over.retry_after,
                        }
                        .into_response(),
                        over.budget,
                    )
                }
            },
            Err(AuthFailure::Store(e)) => (
                ApiError::Unavailable {
                    retry_after: 5,
                    cause: e.to_string(),
                }
                .into_response(),
                state.limits.ip_budget(ip),
            ),
            Ok(principal) => {
                match state.limits.check_org(
                    principal.org.id,
                    principal.is_test(),
                    principal.requests_per_minute(),
                ) {
                    Ok(budget) => {
                        tracing::debug!(key = %principal.key.prefix, org = %principal.org.slug, "authenticated");
                        req.extensions_mut().insert(Auth(principal.clone()));
                        let mut response = next.run(req).await;
                        // For the access log (taken off again by `gate`).
                        response.extensions_mut().insert(Auth(principal));
                        (response, budget)
                    }
                    Err(over) => (
                        ApiError::RateLimited {
                            retry_after: over.retry_after,
                        }
                        .into_response(),
                        over.budget,
                    ),
                }
            }
        }
    }
}

/// Counts an authentication failure (`sendops_api_auth_failures_total`) and charges the IP's
/// budget of unauthenticated requests.
fn counted_auth_failure(
    state: &AppState,
    ip: IpAddr,
) -> Result<Budget, crate::rate_limit::Exceeded> {
    metrics::counter!("sendops_api_auth_failures_total").increment(1);
    state.limits.auth_failure(ip)
}

/// Renders a pending problem with its `type`, `instance` and `request_id`, logs 5xx causes once,
/// and sets the headers every response carries.
fn finish(
    mut response: Response,
    state: &AppState,
    request_id: &str,
    path: &str,
    budget: Budget,
) -> Response {
    if let Some(problem) = response.extensions_mut().remove::<PendingProblem>() {
        if response.status().is_server_error() {
            tracing::error!(%request_id, %path, status = response.status().as_u16(), cause = problem.cause.as_deref().unwrap_or(""), "request failed");
        }
        let bytes = problem_bytes(problem.body, state, request_id, path);
        *response.body_mut() = Body::from(bytes);
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    set_headers(response.headers_mut(), request_id, budget);
    response
}

fn set_headers(h: &mut HeaderMap, request_id: &str, budget: Budget) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-request-id", v);
    }
    h.insert("x-ratelimit-limit", HeaderValue::from(budget.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(budget.remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(budget.reset_secs));
}
