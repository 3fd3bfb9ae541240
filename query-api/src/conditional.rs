//! Conditional polling of reports and lists: a strong `ETag` on every answer, `If-None-Match` →
//! `304 Not Modified` without a body (the gate still adds the request id and rate-limit headers),
//! and `Cache-Control: no-cache`.
//!
//! The tag is the SHA-256 of the exact JSON body (plus what else the answer carries, such as the
//! rules version of /v1/undeliverable), so any change in the answer changes it. Deriving it from
//! the store's change counters would save the rendering but not the reads behind it (a report
//! still has to learn which of its days changed), so hashing the body is both exact and simpler.
//!
//! No answer is ever cacheable for a time (`max-age`): events arrive late for any past day (SQS
//! retries, a replayed file), a change of the rules re-classifies undeliverable addresses, and
//! pruning removes days at the end of retention, so no window is provably settled. `no-cache`
//! lets a client keep the answer and revalidate it cheaply with `If-None-Match`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use data_encoding::HEXLOWER;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// `Cache-Control` of every conditional answer.
pub const CACHE_CONTROL: &str = "no-cache";

/// The strong entity tag of a body and the extra values that travel with it.
pub fn etag(body: &[u8], extra: &[&str]) -> String {
    let mut h = Sha256::new();
    for e in extra {
        h.update((e.len() as u64).to_be_bytes());
        h.update(e.as_bytes());
    }
    h.update(body);
    format!("\"{}\"", HEXLOWER.encode(&h.finalize()))
}

/// Whether `If-None-Match` (any of its lines) names `tag` or is `*` (weak comparison, RFC 9110
/// §13.1.2).
pub fn none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// The JSON answer for `body`, or a 304 when the request's `If-None-Match` already names it;
/// both with `ETag` and `Cache-Control`.
pub fn json<B: Serialize>(request: &HeaderMap, body: &B, extra: &[&str]) -> Response {
    let bytes = match serde_json::to_vec(body) {
        Ok(b) => b,
        Err(e) => return crate::problem::ApiError::Internal(e.to_string()).into_response(),
    };
    let tag = etag(&bytes, extra);
    let mut resp = if none_match(request, &tag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&tag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_exact_and_matching_is_weak() {
        let a = etag(b"{\"n\":1}", &[]);
        assert_ne!(a, etag(b"{\"n\":2}", &[]));
        assert_ne!(a, etag(b"{\"n\":1}", &["v2"]));
        assert_ne!(etag(b"b", &["a"]), etag(b"", &["ab"]));
        let mut h = HeaderMap::new();
        assert!(!none_match(&h, &a));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", W/{a}")).unwrap(),
        );
        assert!(none_match(&h, &a));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&h, &a));
    }
}
