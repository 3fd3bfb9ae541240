//! Cursor pages for the lists of docs/semantics.md#pagination beyond messages: entity lists (channels,
//! identities, templates, tracking domains; a bad cursor is a 422) and suppressions (a bad cursor
//! restarts at page 1). Positions are (time, key), newest first.

use std::future::Future;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::Response;
use sendops_shared::control::entities::Keyset;
use sendops_shared::control::scopes::Scope;
use sendops_shared::{Store, StoreError};
use serde::Serialize;

use crate::AppState;
use crate::cursor::{self, Position};
use crate::params::{Checks, Params, Query, percent_decode};
use crate::problem::ApiError;
use crate::request::ApiRequest;
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
        @strict_page,
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

/// An entity of the synced SES catalogue (channels, identities, templates, tracking domains):
/// listed newest first by (time, key) under one scope, found one by one by its path key.
pub trait Catalog: Sized + Send + 'static {
    /// The list's cursor kind (cursors of one list are refused by another).
    const KIND: &'static str;
    /// The `resource` of the 404.
    const RESOURCE: &'static str;
    const SCOPE: Scope;
    /// The path parameter's name and its longest accepted value, in characters.
    const KEY: (&'static str, usize);
    type View: From<Self> + Serialize;
    type Page: Serialize;

    fn page(data: Vec<Self::View>, pagination: Pagination) -> Self::Page;
    /// Where this row stands in the list's order.
    fn position(&self) -> Position;
    /// Up to `n` rows after `after`, newest first.
    fn fetch(
        store: &Store,
        org: uuid::Uuid,
        after: Option<Keyset>,
        n: usize,
    ) -> impl Future<Output = Result<Vec<Self>, StoreError>> + Send;
    fn find(
        store: &Store,
        org: uuid::Uuid,
        key: &str,
    ) -> impl Future<Output = Result<Option<Self>, StoreError>> + Send;
}

impl ApiRequest {
    /// A page of the catalogue list `C`.
    pub async fn catalog_page<C: Catalog>(&self) -> Result<Response, ApiError> {
        self.p.require(C::SCOPE)?;
        let (store, org) = (&self.state.store, self.p.org.id);
        EntityList {
            state: &self.state,
            headers: &self.headers,
            query: self.query(),
            kind: C::KIND,
            path: self.uri.path(),
        }
        .respond(
            |after, n| C::fetch(store, org, after, n),
            C::position,
            |rows, pagination| C::page(rows.into_iter().map(C::View::from).collect(), pagination),
        )
        .await
    }

    /// One entry of the catalogue `C`, by the path's third segment (404 when there is none).
    pub async fn catalog_item<C: Catalog>(&self) -> Result<Json<C::View>, ApiError> {
        self.p.require(C::SCOPE)?;
        let (field, max) = C::KEY;
        let key = checked_path_value(&self.uri, 3, field, max)?;
        let found = C::find(&self.state.store, self.p.org.id, &key)
            .await?
            .ok_or(ApiError::NotFound {
                resource: C::RESOURCE,
            })?;
        Ok(Json(found.into()))
    }
}

/// Implements [`Catalog`] for a shared entity type and declares its two routes, `list` and
/// `get_one`, with their OpenAPI entries:
/// `catalog! { Type => view V, page P, kind "list kind", resource "404 resource", scope S,
/// key ("path field", max chars), order |row| (time, key), store (page fn, one fn),
/// list (path, operation id, tag, doc, 200 description), one (path, operation id, doc, the path
/// field's description, 200 description) }`, the two store functions being
/// `Store::page_fn(org, after, n)` and `Store::one_fn(org, key)`.
#[macro_export]
macro_rules! catalog {
    ($ty:ident => view $view:ident, page $page:ident, kind $kind:literal, resource $res:literal,
     scope $scope:ident, key ($field:tt, $max:tt), order |$r:ident| ($t:expr, $k:expr),
     store ($fetch:ident, $find:ident),
     list ($list_path:literal, $list_id:literal, $tag:literal, $list_doc:literal, $list_desc:literal),
     one ($one_path:literal, $one_id:literal, $one_doc:literal, $key_desc:literal, $one_desc:literal)) => {
        #[doc = $list_doc]
        #[utoipa::path(get, path = $list_path, operation_id = $list_id, tag = $tag, params($crate::listing::EntityListParams),
            responses((status = 200, description = $list_desc, body = $page), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
        pub async fn list(
            req: $crate::request::ApiRequest,
        ) -> Result<axum::response::Response, $crate::problem::ApiError> {
            req.catalog_page::<$ty>().await
        }

        #[doc = $one_doc]
        #[utoipa::path(get, path = $one_path, operation_id = $one_id, tag = $tag,
            params(($field = String, Path, description = $key_desc, min_length = 1, max_length = $max, pattern = r"^[^\u0000-\u001f\u007f-\u009f]+$")),
            responses((status = 200, description = $one_desc, body = $view)))]
        pub async fn get_one(
            req: $crate::request::ApiRequest,
        ) -> Result<axum::Json<$view>, $crate::problem::ApiError> {
            req.catalog_item::<$ty>().await
        }

        impl $crate::listing::Catalog for $ty {
            const KIND: &'static str = $kind;
            const RESOURCE: &'static str = $res;
            const SCOPE: sendops_shared::control::scopes::Scope =
                sendops_shared::control::scopes::Scope::$scope;
            const KEY: (&'static str, usize) = ($field, $max);
            type View = $view;
            type Page = $page;

            fn page(data: Vec<$view>, pagination: $crate::routes::Pagination) -> $page {
                $page { data, pagination }
            }

            fn position(&self) -> $crate::cursor::Position {
                let $r = self;
                $crate::cursor::Position { t: $t, i: $k }
            }

            async fn fetch(
                store: &sendops_shared::Store,
                org: uuid::Uuid,
                after: Option<sendops_shared::control::entities::Keyset>,
                n: usize,
            ) -> Result<Vec<Self>, sendops_shared::StoreError> {
                store.$fetch(org, after.as_ref(), n).await
            }

            async fn find(
                store: &sendops_shared::Store,
                org: uuid::Uuid,
                key: &str,
            ) -> Result<Option<Self>, sendops_shared::StoreError> {
                store.$find(org, key).await
            }
        }
    };
}
