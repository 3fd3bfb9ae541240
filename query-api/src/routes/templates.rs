//! `/v1/templates` and `/v1/templates/{slug}`: the org's email templates as synced from its git
//! repository's `sendops.json` manifest, most recently modified first.

use sendops_shared::control::templates::Template;
use sendops_shared::timefmt::format_ms;
use serde::Serialize;
use utoipa::ToSchema;

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

crate::catalog! { Template => view TemplateView, page TemplatePage, kind "templates", resource "template",
scope TemplatesView, key ("slug", 256), order |t| (t.last_modified_ms, t.slug.clone()), store (templates, template),
list ("/v1/templates", "listTemplates", "Templates", "Templates, most recently modified first.", "Templates, newest-first"),
one ("/v1/templates/{slug}", "getTemplate", "One template by its slug (file name, exact).", "Template file name, e.g. welcome.html", "Template detail") }
