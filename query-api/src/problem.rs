//! One error type for the whole API, rendered as the RFC 7807 problem document of docs/semantics.md#errors.
//! 5xx bodies stay generic; the real cause rides in a response extension and is logged once by
//! the request middleware.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sendops_shared::{ErrorCode, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// A field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

/// What went wrong, before it becomes a problem document.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the request cannot be parsed at all.
    InvalidRequest(String),
    /// 401: never says why.
    Unauthenticated,
    /// 403: the key lacks this (canonical) scope.
    MissingScope(&'static str),
    /// 403: `from` is older than the plan keeps.
    RetentionExceeded { retention_days: u32 },
    /// 404.
    NotFound { resource: &'static str },
    /// 422 with every failing field.
    Validation(Vec<FieldError>),
    /// 429.
    RateLimited { retry_after: u64 },
    /// 405 (not in the spec's catalogue, but a clearer answer than 404).
    MethodNotAllowed,
    /// 414: the request target is longer than the configured maximum.
    UriTooLong { max_bytes: usize },
    /// 431: the header fields are larger than the configured maximum.
    HeadersTooLarge { max_bytes: usize },
    /// 503: the store or SES is unreachable.
    Unavailable { retry_after: u64, cause: String },
    /// 500: the cause is logged, never shown.
    Internal(String),
}

impl ApiError {
    pub fn field(field: &str, reason: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            reason: reason.into(),
        }])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::MissingScope(_) | ApiError::RetentionExceeded { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => ErrorCode::InvalidRequest.as_str(),
            ApiError::Unauthenticated => ErrorCode::InvalidKey.as_str(),
            ApiError::MissingScope(_) => ErrorCode::InvalidScope.as_str(),
            ApiError::RetentionExceeded { .. } => ErrorCode::PlanRetentionExceeded.as_str(),
            ApiError::NotFound { .. } => ErrorCode::NotFound.as_str(),
            ApiError::Validation(_) => ErrorCode::ValidationFailed.as_str(),
            ApiError::RateLimited { .. } => ErrorCode::RateLimited.as_str(),
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::UriTooLong { .. } => "uri_too_long",
            ApiError::HeadersTooLarge { .. } => "headers_too_large",
            ApiError::Unavailable { .. } => ErrorCode::ServiceUnavailable.as_str(),
            ApiError::Internal(_) => ErrorCode::InternalError.as_str(),
        }
    }

    /// The `type` class (appended to the configured base URI).
    pub fn class(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::MissingScope(_) | ApiError::RetentionExceeded { .. } => "permission_denied",
            ApiError::NotFound { .. } => "not_found",
            ApiError::Validation(_) => "validation_failed",
            ApiError::RateLimited { .. } => "rate_limit",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::UriTooLong { .. } => "uri_too_long",
            ApiError::HeadersTooLarge { .. } => "headers_too_large",
            ApiError::Unavailable { .. } => "service_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "Bad request",
            ApiError::Unauthenticated => "Unauthorized",
            ApiError::MissingScope(_) => "Missing scope",
            ApiError::RetentionExceeded { .. } => "Outside plan retention",
            ApiError::NotFound { .. } => "Not found",
            ApiError::Validation(_) => "Validation failed",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::MethodNotAllowed => "Method not allowed",
            ApiError::UriTooLong { .. } => "URI too long",
            ApiError::HeadersTooLarge { .. } => "Request header fields too large",
            ApiError::Unavailable { .. } => "Service unavailable",
            ApiError::Internal(_) => "Internal server error",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::InvalidRequest(d) => d.clone(),
            ApiError::Unauthenticated => {
                "Provide a valid API key as 'Authorization: Bearer sk_live_…'.".into()
            }
            ApiError::MissingScope(s) => format!("This endpoint requires the scope {s}."),
            ApiError::RetentionExceeded { retention_days } => {
                format!("'from' is older than your plan's retention of {retention_days} days.")
            }
            ApiError::NotFound { resource } => format!("No such {resource} in this organization."),
            ApiError::Validation(errors) => {
                let parts: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.reason))
                    .collect();
                parts.join("; ")
            }
            ApiError::RateLimited { retry_after } => {
                format!("Rate limit exceeded; retry after {retry_after} seconds.")
            }
            ApiError::MethodNotAllowed => "The API is read-only; use GET.".into(),
            ApiError::UriTooLong { max_bytes } => {
                format!("The request target is longer than {max_bytes} bytes.")
            }
            ApiError::HeadersTooLarge { max_bytes } => {
                format!("The request's header fields are larger than {max_bytes} bytes in total.")
            }
            ApiError::Unavailable { retry_after, .. } => {
                format!(
                    "A dependency is temporarily unavailable; retry after {retry_after} seconds."
                )
            }
            ApiError::Internal(_) => {
                "Something went wrong on our side; quote the request_id to support.".into()
            }
        }
    }

    /// The problem body; `instance`, `request_id` and `type` are filled in by the middleware.
    pub fn body(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "type": self.class(),
            "title": self.title(),
            "status": self.status().as_u16(),
            "detail": self.detail(),
            "code": self.code(),
        });
        let obj = v.as_object_mut().expect("object");
        match self {
            ApiError::MissingScope(s) => {
                obj.insert("scope".into(), (*s).into());
            }
            ApiError::RetentionExceeded { retention_days } => {
                obj.insert("retention_days".into(), (*retention_days).into());
            }
            ApiError::NotFound { resource } => {
                obj.insert("resource".into(), (*resource).into());
            }
            ApiError::Validation(errors) => {
                obj.insert(
                    "errors".into(),
                    serde_json::to_value(errors).unwrap_or_default(),
                );
            }
            ApiError::RateLimited { retry_after } | ApiError::Unavailable { retry_after, .. } => {
                obj.insert("retry_after".into(), (*retry_after).into());
            }
            _ => {}
        }
        v
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => ApiError::Unavailable {
                retry_after: 5,
                cause,
            },
            StoreError::NotFound { .. } => ApiError::NotFound {
                resource: "resource",
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The unrendered problem, carried to the middleware that knows the request id and path.
#[derive(Debug, Clone)]
pub struct PendingProblem {
    pub body: serde_json::Value,
    /// Logged once; never sent.
    pub cause: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            ApiError::RateLimited { retry_after } | ApiError::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        };
        let cause = match &self {
            ApiError::Internal(c) | ApiError::Unavailable { cause: c, .. } => Some(c.clone()),
            _ => None,
        };
        let mut resp = status.into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp.extensions_mut().insert(PendingProblem {
            body: self.body(),
            cause,
        });
        resp
    }
}
