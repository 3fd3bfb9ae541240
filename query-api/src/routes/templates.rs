//! `/v1/templates` and `/v1/templates/{slug}`: the org's email templates as synced from its git
//! repository's `sendops.json` manifest, most recently modified first.

use axum::Json;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use sendops_shared::entities::Keyset;
use sendops_shared::scopes::Scope;
use sendops_shared::templates::Template;
use sendops_shared::timefmt::format_ms;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Auth;
use crate::cursor::Position;
use crate::listing::{PageRequest, checked_path_value, entity_list_params, page, with_link};
use crate::problem::ApiError;
use crate::routes::Pagination;
use crate::routes::channels::EntityListParams;

/// An email template.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateView {
    /// The template's file name, e.g. `welcome.html`.
    pub slug: String,
    pub name: String,
    pub subject: String,
    /// The channel slug it sends through, when the manifest names one.
    pub channel: Option<String>,
    /// Short (7-character) SHA of the commit of the most recent sync.
    pub version: String,
    /// Commit time of the last change to the template file.
    #[schema(format = DateTime)]
    pub last_modified_at: String,
    /// Always `git`.
    #[schema(example = "git")]
    pub source: String,
}

impl From<Template> for TemplateView {
    fn from(t: Template) -> Self {
        TemplateView {
            version: t.version().to_owned(),
            slug: t.slug,
            name: t.name,
            subject: t.subject,
            channel: t.channel,
            last_modified_at: format_ms(t.last_modified_ms),
            source: "git".into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplatePage {
    pub data: Vec<TemplateView>,
    pub pagination: Pagination,
}

const KIND: &str = "templates";

/// Templates, most recently modified first.
#[utoipa::path(get, path = "/v1/templates", tag = "Templates", params(EntityListParams),
    responses((status = 200, description = "Templates, newest-first", body = TemplatePage)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(Auth(p)): Extension<Auth>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    p.require(Scope::TemplatesView)?;
    let (params, limit, fingerprint, after) = entity_list_params(query.as_deref(), KIND)?;
    let after = after.map(|a| Keyset {
        time_ms: a.t,
        key: a.i,
    });
    let rows = state
        .store
        .templates(p.org.id, after.as_ref(), limit + 1)
        .await?;
    let req = PageRequest {
        state: &state,
        headers: &headers,
        path: "/v1/templates",
        params: &params,
        kind: KIND,
        fingerprint: &fingerprint,
        limit,
    };
    let (rows, pagination, link) = page(&req, rows, |t| Position {
        t: t.last_modified_ms,
        i: t.slug.clone(),
    });
    let body = TemplatePage {
        data: rows.into_iter().map(TemplateView::from).collect(),
        pagination,
    };
    Ok(with_link(body, link))
}

/// One template by its slug (file name, exact).
#[utoipa::path(get, path = "/v1/templates/{slug}", tag = "Templates",
    params(("slug" = String, Path, description = "Template file name, e.g. welcome.html")),
    responses((status = 200, description = "Template detail", body = TemplateView)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(Auth(p)): Extension<Auth>,
    uri: Uri,
) -> Result<Json<TemplateView>, ApiError> {
    p.require(Scope::TemplatesView)?;
    let slug = checked_path_value(&uri, 3, "slug", 256)?;
    let template = state
        .store
        .template(p.org.id, &slug)
        .await?
        .ok_or(ApiError::NotFound {
            resource: "template",
        })?;
    Ok(Json(template.into()))
}
