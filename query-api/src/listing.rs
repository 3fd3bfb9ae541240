//! Cursor pages for the lists of docs/semantics.md#pagination beyond messages: entity lists (channels,
//! identities, templates, tracking domains; a bad cursor is a 422) and suppressions (a bad cursor
//! restarts at page 1). Positions are (time, key), newest first.

use std::future::Future;

use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::Response;
use sendops_shared::StoreError;
use sendops_shared::control::entities::Keyset;
use serde::Serialize;

use crate::AppState;
use crate::cursor::{self, Position};
use crate::params::{Checks, Params, Query, percent_decode};
use crate::problem::ApiError;
use crate::routes::{Pagination, next_link};

/// What a page response needs to know about its request.
pub struct PageRequest<'a> {
    pub state: &'a AppState,
    pub headers: &'a HeaderMap,
    pub path: &'a str,
    pub params: &'a Params,
    /// Which list (cursors of one list are refused by another).
    pub kind: &'static str,
    /// Fingerprint of the request's filters.
    pub fingerprint: &'a str,
    pub limit: usize,
}

/// The `cursor` parameter of an entity list; a malformed or foreign one fails the field.
pub fn strict_cursor(
    checks: &mut Checks,
    value: Option<&str>,
    kind: &str,
    fingerprint: &str,
) -> Option<Position> {
    match cursor::decode(kind, fingerprint, value?) {
        Ok(p) => Some(p),
        Err(e) => {
            checks.fail("cursor", e.reason());
            None
        }
    }
}

/// The `cursor` parameter of a list whose bad cursors restart at page 1.
pub fn lenient_cursor(value: Option<&str>, kind: &str, fingerprint: &str) -> Option<Position> {
    cursor::decode(kind, fingerprint, value?).ok()
}

/// A page out of `rows` (read with `limit + 1` so `has_more` is known): the items, the
/// pagination object, and the `Link` header value for the next page.
pub fn page<T>(
    req: &PageRequest<'_>,
    mut rows: Vec<T>,
    position: impl Fn(&T) -> Position,
) -> (Vec<T>, Pagination, Option<HeaderValue>) {
    let has_more = rows.len() > req.limit;
    rows.truncate(req.limit);
    let next = if has_more {
        rows.last()
            .map(|r| cursor::encode(req.kind, req.fingerprint, &position(r)))
    } else {
        None
    };
    let link = next.as_ref().and_then(|c| {
        HeaderValue::from_str(&next_link(req.state, req.headers, req.path, req.params, c)).ok()
    });
    (
        rows,
        Pagination {
            has_more,
            next_cursor: next,
        },
        link,
    )
}

/// A JSON response (conditional: crate::conditional) with the `Link` header when there is a next
/// page.
pub fn with_link<B: Serialize>(
    request: &HeaderMap,
    body: B,
    link: Option<HeaderValue>,
) -> Response {
    let mut resp = crate::conditional::json(request, &body, &[]);
    if let Some(v) = link {
        resp.headers_mut().insert(header::LINK, v);
    }
    resp
}

/// The `index`-th segment of the request path, percent-decoded strictly (400 when broken).
pub fn path_value(uri: &Uri, index: usize) -> Result<String, ApiError> {
    let raw = uri.path().split('/').nth(index).unwrap_or("");
    percent_decode(raw, false)
        .ok_or_else(|| ApiError::InvalidRequest("the path has broken percent-encoding".into()))
}

/// A path value that is a non-empty printable string of at most `max` bytes, else a 422 on
/// `field`.
pub fn checked_path_value(
    uri: &Uri,
    index: usize,
    field: &str,
    max: usize,
) -> Result<String, ApiError> {
    let v = path_value(uri, index)?;
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ApiError::field(
            field,
            format!("must be 1 to {max} printable characters"),
        ));
    }
    Ok(v)
}

crate::query_params! {
    /// Query parameters of the entity lists.
    pub struct EntityListParams {
        /// Page size, 1–200 (default 50).
        #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
        limit,
        /// Opaque cursor from the previous page (a malformed or foreign one is a 422).
        cursor,
    }
}

/// Reads `limit` and the strict cursor of an entity list without filters, failing with 422 for
/// either.
fn entity_list_params(
    query: Option<&str>,
    kind: &'static str,
) -> Result<(Params, usize, String, Option<Position>), ApiError> {
    let Query { params, raw } = Query::<EntityListParams>::parse(query)?;
    let mut checks = Checks::default();
    let limit = checks.limit(params.limit.as_deref()) as usize;
    let fingerprint = cursor::filter_fingerprint(&params.filters());
    let after = strict_cursor(&mut checks, params.cursor.as_deref(), kind, &fingerprint);
    checks.finish()?;
    Ok((raw, limit, fingerprint, after))
}

/// One page of an entity list without filters (channels, identities, templates, tracking
/// domains): reads `limit` and the strict cursor (422 for either), fetches `limit + 1` rows after
/// the cursor's keyset, and answers `body(rows, pagination)` with the `Link` header.
pub struct EntityList<'a> {
    pub state: &'a AppState,
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
    pub kind: &'static str,
    pub path: &'a str,
}

impl EntityList<'_> {
    pub async fn respond<R, B, Fut>(
        self,
        fetch: impl FnOnce(Option<Keyset>, usize) -> Fut,
        position: impl Fn(&R) -> Position,
        body: impl FnOnce(Vec<R>, Pagination) -> B,
    ) -> Result<Response, ApiError>
    where
        Fut: Future<Output = Result<Vec<R>, StoreError>>,
        B: Serialize,
    {
        let (params, limit, fingerprint, after) = entity_list_params(self.query, self.kind)?;
        let after = after.map(|a| Keyset {
            time_ms: a.t,
            key: a.i,
        });
        let rows = fetch(after, limit + 1).await?;
        let req = PageRequest {
            state: self.state,
            headers: self.headers,
            path: self.path,
            params: &params,
            kind: self.kind,
            fingerprint: &fingerprint,
            limit,
        };
        let (rows, pagination, link) = page(&req, rows, position);
        Ok(with_link(self.headers, body(rows, pagination), link))
    }
}
