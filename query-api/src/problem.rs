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

    /// Each error's status, `code`, `type` class and `title`, in one place.
    #[rustfmt::skip]
    fn kind(&self) -> (StatusCode, &'static str, &'static str, &'static str) {
        use ErrorCode as C;
        use StatusCode as S;
        match self {
            ApiError::InvalidRequest(_) =>
                (S::BAD_REQUEST, C::InvalidRequest.as_str(), "invalid_request", "Bad request"),
            ApiError::Unauthenticated =>
                (S::UNAUTHORIZED, C::InvalidKey.as_str(), "unauthenticated", "Unauthorized"),
            ApiError::MissingScope(_) =>
                (S::FORBIDDEN, C::InvalidScope.as_str(), "permission_denied", "Missing scope"),
            ApiError::RetentionExceeded { .. } => (S::FORBIDDEN,
                C::PlanRetentionExceeded.as_str(), "permission_denied", "Outside plan retention"),
            ApiError::NotFound { .. } =>
                (S::NOT_FOUND, C::NotFound.as_str(), "not_found", "Not found"),
            ApiError::Validation(_) => (S::UNPROCESSABLE_ENTITY,
                C::ValidationFailed.as_str(), "validation_failed", "Validation failed"),
            ApiError::RateLimited { .. } =>
                (S::TOO_MANY_REQUESTS, C::RateLimited.as_str(), "rate_limit", "Too many requests"),
            ApiError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED,
                "method_not_allowed", "method_not_allowed", "Method not allowed"),
            ApiError::UriTooLong { .. } =>
                (S::URI_TOO_LONG, "uri_too_long", "uri_too_long", "URI too long"),
            ApiError::HeadersTooLarge { .. } => (S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large", "headers_too_large", "Request header fields too large"),
            ApiError::Unavailable { .. } => (S::SERVICE_UNAVAILABLE,
                C::ServiceUnavailable.as_str(), "service_unavailable", "Service unavailable"),
            ApiError::Internal(_) => (S::INTERNAL_SERVER_ERROR,
                C::InternalError.as_str(), "internal_error", "Internal server error"),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.kind().0
    }

    pub fn code(&self) -> &'static str {
        self.kind().1
    }

    /// The `type` class (appended to the configured base URI).
    pub fn class(&self) -> &'static str {
        self.kind().2
    }

    fn title(&self) -> &'static str {
        self.kind().3
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
