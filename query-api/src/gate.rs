//! The middleware every request passes: request id, authentication, rate limits, and the final
//! shape of problem documents and headers (`X-Request-ID`, `X-RateLimit-*` on every response).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::{Auth, AuthFailure, authenticate};
use crate::problem::{ApiError, PendingProblem};
use crate::rate_limit::Budget;

/// The request id, as a request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Routes that need no key.
fn is_public(path: &str) -> bool {
    matches!(path, "/v1/_health" | "/v1/openapi.json")
}

fn client_ip(req: &Request, state: &AppState) -> IpAddr {
    if state.config.trust_forwarded_for
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return ip;
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

pub async fn gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let request_id = RequestId(uuid::Uuid::new_v4().to_string());
    let path = req.uri().path().to_owned();
    let ip = client_ip(&req, &state);
    req.extensions_mut().insert(request_id.clone());

    let (response, budget) = if is_public(&path) {
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
            Err(AuthFailure::Invalid) => match state.limits.auth_failure(ip) {
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
                        req.extensions_mut().insert(Auth(principal));
                        (next.run(req).await, budget)
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
    };
    finish(response, &state, &request_id.0, &path, budget)
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
        let mut body = problem.body;
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
        if response.status().is_server_error() {
            tracing::error!(%request_id, %path, status = response.status().as_u16(), cause = problem.cause.as_deref().unwrap_or(""), "request failed");
        }
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
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
