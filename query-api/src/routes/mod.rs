//! One module per API resource: its parameters, handlers and response types.

pub mod account;
pub mod channels;
pub mod identities;
pub mod messages;
pub mod meta;
pub mod reports;
pub mod suppressions;
pub mod templates;
pub mod tracking_domains;
pub mod undeliverable;

use axum::http::HeaderMap;
use axum::http::header::HOST;

use crate::AppState;
use crate::params::Params;

/// `{"has_more", "next_cursor"}` of every list.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Pagination {
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// The absolute URL of the next page: every current parameter kept, the cursor replaced.
pub fn next_link(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    params: &Params,
    cursor: &str,
) -> String {
    let base = match &state.config.public_url {
        Some(u) => u.clone(),
        None => {
            let host = headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.pairs_except("cursor") {
        query.append_pair(k, v);
    }
    query.append_pair("cursor", cursor);
    format!("<{base}{path}?{}>; rel=\"next\"", query.finish())
}
