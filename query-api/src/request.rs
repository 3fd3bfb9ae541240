//! [`ApiRequest`]: what an authenticated handler reads from its request, taken in one extractor
//! instead of five in every handler's signature.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri};

use crate::AppState;
use crate::auth::{Auth, Principal};
use crate::problem::ApiError;

/// The state, the authenticated principal, the raw query string, the headers and the URI of a
/// request behind the authentication layer.
pub struct ApiRequest {
    pub state: AppState,
    pub p: Arc<Principal>,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub uri: Uri,
}

impl ApiRequest {
    /// The raw query string, as the parameter parsers take it.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The store holding the org's rows: on a cluster routed by org, its own shard
    /// (docs/scale-out.md).
    pub async fn store(&self) -> Result<sendops_shared::Store, ApiError> {
        Ok(self.state.store.route(self.p.org.id).await?)
    }

    /// A 200 JSON answer tagged for conditional requests (304 when the client's tag still holds).
    pub fn json<B: serde::Serialize>(&self, body: &B) -> axum::response::Response {
        crate::conditional::json(&self.headers, body, &[])
    }
}

impl FromRequestParts<AppState> for ApiRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Set by the authentication layer; a route mounted outside it is refused, not served.
        let Some(Auth(p)) = parts.extensions.get::<Auth>().cloned() else {
            return Err(ApiError::Unauthenticated);
        };
        Ok(ApiRequest {
            state: state.clone(),
            p,
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers.clone(),
            uri: parts.uri.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use http_body_util::BodyExt;
    use sendops_shared::Store;
    use sendops_shared::store::config::ClickHouseConfig;
    use tower::ServiceExt;

    use super::*;
    use crate::config::ApiConfig;
    use crate::problem::PendingProblem;

    /// A handler taking `ApiRequest` on a route the authentication layer never saw is refused
    /// with the 401 problem document, never served (no store is reached: none is running).
    #[tokio::test]
    async fn a_route_outside_the_auth_layer_is_refused_not_served() {
        let store = Store::new(&ClickHouseConfig {
            url: "http://127.0.0.1:9".into(),
            ..ClickHouseConfig::default()
        });
        let state = AppState::new(store, ApiConfig::default());
        let app = Router::new()
            .route(
                "/v1/unguarded",
                get(|req: ApiRequest| async move { req.p.org.id.to_string() }),
            )
            .with_state(state);
        let response = app
            .oneshot(
                Request::get("/v1/unguarded?x=1")
                    .header("authorization", "Bearer sk_live_whatever")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // The problem document is written by the gate from this (no handler output reaches it).
        let doc = &response
            .extensions()
            .get::<PendingProblem>()
            .expect("a problem document")
            .body;
        assert_eq!(doc["status"], 401, "{doc}");
        assert_eq!(doc["code"], "invalid_key", "{doc}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(body.is_empty(), "the handler's output was sent: {body:?}");
    }
}
