//! One module per API resource: its parameters, handlers and response types.

pub mod account;
pub mod breakdown;
pub mod channels;
pub mod identities;
pub mod messages;
pub mod meta;
pub mod reports;
pub mod reputation;
pub mod suppressions;
pub mod templates;
pub mod tracking_domains;
pub mod undeliverable;

use axum::http::HeaderMap;

use crate::AppState;
use crate::params::Params;

/// `{"has_more", "next_cursor"}` of every list.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Pagination {
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// The `Link` value of the next page: every current parameter kept, the cursor replaced. The URL is
/// absolute only from `SENDOPS_PUBLIC_URL` or a `Host` that `SENDOPS_ALLOWED_HOSTS` lists, and
/// otherwise a relative reference: a raw request header never reaches it.
pub fn next_link(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    params: &Params,
    cursor: &str,
) -> String {
    let base = match &state.config.public_url {
        Some(u) => u.clone(),
        None => match crate::gate::vouched_host(headers, &state.config.allowed_hosts) {
            Some(host) => format!("{}://{host}", scheme(state, headers)),
            None => String::new(),
        },
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.pairs_except("cursor") {
        query.append_pair(k, v);
    }
    query.append_pair("cursor", cursor);
    format!("<{base}{path}?{}>; rel=\"next\"", query.finish())
}

/// `https` when a trusted proxy says so in `X-Forwarded-Proto`, else `http`.
fn scheme(state: &AppState, headers: &HeaderMap) -> &'static str {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().eq_ignore_ascii_case("https"));
    if state.config.trusted_proxies > 0 && forwarded == Some(true) {
        "https"
    } else {
        "http"
    }
}
