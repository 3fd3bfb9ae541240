//! Email templates as stored and served (`templates`). They are synced from a git repository
//! holding a `sendops.json` manifest by `sendops-admin templates sync` (the reading of the
//! repository and the manifest are in the `sendops-outbound` crate, `templates_repo`); the org's
//! templates become exactly the manifest's entries. The manifest's format is in the README
//! ("Operator commands").

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::control::entities::{EntityRow, Table, entity_row_columns, entity_store};
use crate::timefmt::format_ms;

/// A template as stored and served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The file name (`welcome.html`).
    pub slug: String,
    pub name: String,
    pub subject: String,
    pub channel: Option<String>,
    /// Path in the repository.
    pub path: String,
    /// Full SHA of the synced commit.
    pub commit: String,
    pub last_modified_ms: i64,
}

impl Template {
    /// The short (7-character) SHA of the synced commit.
    pub fn version(&self) -> &str {
        &self.commit[..self.commit.len().min(7)]
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "slug": self.slug,
            "name": self.name,
            "subject": self.subject,
            "channel": self.channel,
            "version": self.version(),
            "last_modified_at": format_ms(self.last_modified_ms),
            "source": "git",
            "path": self.path,
        })
    }
}

/// The `templates` table row (field order = column order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Row)]
pub(crate) struct TemplateRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    slug: String,
    display_name: String,
    subject: String,
    channel: String,
    file_path: String,
    commit_sha: String,
    last_modified_ms: i64,
    synced_ms: i64,
    deleted: u8,
    row_version: u64,
}

impl EntityRow for TemplateRow {
    const TABLE: Table = Table {
        name: "templates",
        key: "slug",
        columns: &[
            "display_name",
            "subject",
            "channel",
            "file_path",
            "commit_sha",
            "last_modified_ms",
            "synced_ms",
            "deleted",
        ],
        time: "last_modified_ms",
    };
    entity_row_columns!(key slug, synced synced_ms);
}

impl TemplateRow {
    fn new(org_id: Uuid, t: &Template) -> TemplateRow {
        TemplateRow {
            org_id,
            slug: t.slug.clone(),
            display_name: t.name.clone(),
            subject: t.subject.clone(),
            channel: t.channel.clone().unwrap_or_default(),
            file_path: t.path.clone(),
            commit_sha: t.commit.clone(),
            last_modified_ms: t.last_modified_ms,
            synced_ms: 0,
            deleted: 0,
            row_version: 0,
        }
    }

    fn into_template(self) -> Template {
        Template {
            channel: (!self.channel.is_empty()).then_some(self.channel),
            slug: self.slug,
            name: self.display_name,
            subject: self.subject,
            path: self.file_path,
            commit: self.commit_sha,
            last_modified_ms: self.last_modified_ms,
        }
    }
}

entity_store!(TemplateRow => Template, into TemplateRow::into_template {
    /// A page of the org's templates, most recently modified first, after `after`.
    page templates;
    /// One template by slug (its file name, exact).
    one template, key str::to_owned;
    /// Makes the org's templates exactly `templates` (the `created_ms` of one that already
    /// exists is kept).
    replace replace_templates, new TemplateRow::new;
});
