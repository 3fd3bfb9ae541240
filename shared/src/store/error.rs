//! Error codes shared by every component, and store failures classified for retry.

use thiserror::Error;

/// The API's error codes (docs/semantics.md#errors). The query API maps each to an HTTP status and problem
/// type; ingest maps store failures to retry or quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidKey,
    InvalidScope,
    PlanRetentionExceeded,
    NotFound,
    ValidationFailed,
    RateLimited,
    InternalError,
    ServiceUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidKey => "invalid_key",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::PlanRetentionExceeded => "plan_retention_exceeded",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InternalError => "internal_error",
            ErrorCode::ServiceUnavailable => "service_unavailable",
        }
    }
}

/// A store failure, classified the way vector's `ClickhouseRetryLogic` does.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The server could not be reached, timed out, or answered with a retryable error: the
    /// caller should retry later (SQS redelivers).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The server refused the data or the statement (type, parse or schema errors): retrying the
    /// same input cannot succeed.
    #[error("store rejected the request: {0}")]
    Rejected(String),
    /// A lookup that must find something found nothing.
    #[error("{what} not found")]
    NotFound { what: String },
    /// The request is invalid before it reaches the store.
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// ClickHouse exception codes that mean "this data or statement is wrong", never retryable.
const NON_RETRYABLE_CODES: &[u32] = &[
    6,   // CANNOT_PARSE_TEXT
    16,  // NO_SUCH_COLUMN_IN_TABLE
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    33,  // CANNOT_READ_ALL_DATA
    36,  // BAD_ARGUMENTS
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    43,  // ILLEGAL_TYPE_OF_ARGUMENT
    44,  // ILLEGAL_COLUMN
    47,  // UNKNOWN_IDENTIFIER
    53,  // TYPE_MISMATCH
    60,  // UNKNOWN_TABLE
    62,  // SYNTAX_ERROR
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    81,  // UNKNOWN_DATABASE
    117, // INCORRECT_DATA
    130, // CANNOT_READ_ARRAY_FROM_TEXT
    131, // TOO_LARGE_STRING_SIZE
];

/// Reads the `Code: N` out of a ClickHouse error text.
fn exception_code(text: &str) -> Option<u32> {
    let at = text.find("Code: ")? + "Code: ".len();
    let digits: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The error's text followed by each of its causes' that says something new.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !more.is_empty() && !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

impl From<clickhouse::error::Error> for StoreError {
    fn from(e: clickhouse::error::Error) -> Self {
        use clickhouse::error::Error as E;
        match &e {
            // A network error's own text is generic ("client error (Connect)"); what went wrong
            // (refused, DNS, an untrusted TLS certificate) is in its causes.
            E::Network(_) | E::TimedOut => StoreError::Unavailable(with_causes(&e)),
            E::BadResponse(text) => match exception_code(text) {
                // 252 TOO_MANY_PARTS and unknown failures (proxies, 5xx pages) are worth retrying.
                Some(252) | None => StoreError::Unavailable(e.to_string()),
                Some(code) if NON_RETRYABLE_CODES.contains(&code) => {
                    StoreError::Rejected(e.to_string())
                }
                Some(_) => StoreError::Unavailable(e.to_string()),
            },
            _ => StoreError::Rejected(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exception_codes() {
        assert_eq!(
            exception_code("Code: 117, e.displayText() = DB::Exception: bad"),
            Some(117)
        );
        assert_eq!(
            exception_code("bad response: Code: 252. DB::Exception: Too many parts"),
            Some(252)
        );
        assert_eq!(exception_code("connection refused"), None);
    }

    #[test]
    fn classifies_data_errors_as_final() {
        let e: StoreError =
            clickhouse::error::Error::BadResponse("Code: 53, TYPE_MISMATCH".into()).into();
        assert!(!e.is_retryable());
        let e: StoreError =
            clickhouse::error::Error::BadResponse("Code: 252, too many parts".into()).into();
        assert!(e.is_retryable());
        let e: StoreError = clickhouse::error::Error::TimedOut.into();
        assert!(e.is_retryable());
    }
}
