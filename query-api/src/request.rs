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
