//! `/v1/_health`, `/v1/_scopes`, and the answers for unknown routes and methods.

use axum::Json;
use axum::extract::{Extension, State};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Auth;
use crate::problem::ApiError;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    /// The deployed build.
    pub commit: String,
    /// Server time, `YYYY-MM-DDTHH:MM:SSZ`.
    pub time: String,
}

/// Liveness: 200 means the API serves requests (dependencies are not checked).
#[utoipa::path(get, path = "/v1/_health", operation_id = "getHealth", tag = "Meta", security(()),
    responses((status = 200, description = "Service is up", body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        commit: state.config.commit.clone(),
        time: sendops_shared::timefmt::format_ms(sendops_shared::timefmt::now_ms()),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyScopes {
    pub key_id: uuid::Uuid,
    /// `sk_live_` or `sk_test_` plus the first 8 characters of the secret.
    pub prefix: String,
    /// `live` or `test`.
    pub environment: String,
    /// Canonical scope names.
    pub scopes: Vec<String>,
}

/// The calling key's identity and scopes; any valid key may call it.
#[utoipa::path(get, path = "/v1/_scopes", operation_id = "getScopes", tag = "Meta",
    responses((status = 200, description = "Scopes of the calling key", body = KeyScopes)))]
pub async fn scopes(Extension(Auth(p)): Extension<Auth>) -> Json<KeyScopes> {
    Json(KeyScopes {
        key_id: p.key.id,
        prefix: p.key.prefix.clone(),
        environment: p.key.environment.as_str().into(),
        scopes: p
            .key
            .scopes
            .iter()
            .map(|s| s.canonical().to_owned())
            .collect(),
    })
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound { resource: "route" }
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
