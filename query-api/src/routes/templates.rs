//! `/v1/templates` and `/v1/templates/{slug}`: the org's email templates as synced from its git
//! repository's `sendops.json` manifest, most recently modified first.

use axum::Json;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use sendops_shared::control::scopes::Scope;
use sendops_shared::control::templates::Template;
use sendops_shared::timefmt::format_ms;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Auth;
use crate::cursor::Position;
use crate::listing::EntityListParams;
use crate::listing::{EntityList, checked_path_value};
use crate::problem::ApiError;
use crate::routes::Pagination;

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
#[utoipa::path(get, path = "/v1/templates", operation_id = "listTemplates", tag = "Templates", params(EntityListParams),
    responses((status = 200, description = "Templates, newest-first", body = TemplatePage), (status = 304, description = "Not modified: the If-None-Match tag is still the answer")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(Auth(p)): Extension<Auth>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    p.require(Scope::TemplatesView)?;
    let (store, org_id) = (&state.store, p.org.id);
    EntityList {
        state: &state,
        headers: &headers,
        query: query.as_deref(),
        kind: KIND,
        path: uri.path(),
    }
    .respond(
        |after, n| async move { store.templates(org_id, after.as_ref(), n).await },
        |t| Position {
            t: t.last_modified_ms,
            i: t.slug.clone(),
        },
        |rows, pagination| TemplatePage {
            data: rows.into_iter().map(TemplateView::from).collect(),
            pagination,
        },
    )
    .await
}

/// One template by its slug (file name, exact).
#[utoipa::path(get, path = "/v1/templates/{slug}", operation_id = "getTemplate", tag = "Templates",
    params(("slug" = String, Path, description = "Template file name, e.g. welcome.html", min_length = 1, max_length = 256, pattern = r"^[^\u0000-\u001f\u007f-\u009f]+$")),
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
