//! Configuration entities operators sync or register and the API reads (docs/semantics.md#ses-views):
//! channels (SES configuration sets), identities (SES email identities), templates (from a git
//! manifest) and tracking domains. Written only by operator tools; no write endpoints.
//!
//! Each table holds versions of rows keyed by (org_id, natural key); a read collapses them with
//! `argMax(column, row_version)` grouped by the key, so a filter is always applied to the latest
//! version (never `FINAL` + `WHERE` on non-key columns, which 18.16 may evaluate before the
//! merge). A removed entity is written once more with `deleted = 1`. Lists are newest first with
//! keyset positions (time, key), both descending.

use std::collections::{HashMap, HashSet};

use clickhouse::{Row, RowOwned, RowRead, RowWrite};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::control::org::channel_id;
use crate::store::Store;
use crate::store::error::StoreError;
use crate::timefmt::format_ms;

/// A keyset position: entries strictly after it in (time desc, key desc) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub time_ms: i64,
    pub key: String,
}

/// What one replacement of an entity set changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplaceReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
}

impl ReplaceReport {
    pub fn changed(&self) -> bool {
        !(self.added.is_empty() && self.updated.is_empty() && self.removed.is_empty())
    }
}

// ---- tables -------------------------------------------------------------------------------------

/// How to read one entity table.
pub(crate) struct Table {
    pub(crate) name: &'static str,
    /// The natural key column (after `org_id`).
    pub(crate) key: &'static str,
    /// The other columns, in row order, without `row_version` (always last).
    pub(crate) columns: &'static [&'static str],
    /// The column lists sort on (newest first).
    pub(crate) time: &'static str,
}

/// Which rows a read returns.
pub(crate) enum Select<'a> {
    /// The latest version of every key, deleted ones included.
    Latest,
    /// One page of live rows after a position.
    Page {
        after: Option<&'a Keyset>,
        limit: usize,
    },
    /// The live row with this key.
    One(&'a str),
}

impl Table {
    /// `SELECT org_id, key, argMax(c, row_version) AS a_c, …, max(row_version) AS a_row_version`
    /// with the filters of `select` (values bound in order: org_id, key or keyset, limit).
    fn sql(&self, select: &Select<'_>) -> String {
        let mut sql = format!("SELECT org_id, {}", self.key);
        for c in self.columns {
            sql.push_str(&format!(", argMax({c}, row_version) AS a_{c}"));
        }
        sql.push_str(&format!(
            ", max(row_version) AS a_row_version FROM {} WHERE org_id = ?",
            self.name
        ));
        if matches!(select, Select::One(_)) {
            sql.push_str(&format!(" AND {} = ?", self.key));
        }
        sql.push_str(&format!(" GROUP BY org_id, {}", self.key));
        if !matches!(select, Select::Latest) {
            sql.push_str(" HAVING a_deleted = 0");
        }
        if let Select::Page { after, .. } = select {
            if after.is_some() {
                sql.push_str(&format!(
                    " AND (a_{t} < ? OR (a_{t} = ? AND {k} < ?))",
                    t = self.time,
                    k = self.key
                ));
            }
            sql.push_str(&format!(
                " ORDER BY a_{} DESC, {} DESC LIMIT ?",
                self.time, self.key
            ));
        }
        sql
    }
}

/// A row of an entity table: its content plus the bookkeeping columns (`synced_ms`, `deleted`,
/// `row_version`).
pub(crate) trait EntityRow:
    RowOwned + RowRead + RowWrite + Clone + PartialEq + Send
{
    const TABLE: Table;
    fn org_id(&self) -> Uuid;
    fn key(&self) -> &str;
    fn deleted(&self) -> bool;
    fn row_version(&self) -> u64;
    /// Sets the bookkeeping columns of a row about to be written.
    fn stamp(&mut self, synced_ms: i64, deleted: bool, row_version: u64);
    /// Copies what a new version keeps from the previous live one (its creation time).
    fn carry_over(&mut self, _previous: &Self) {}
    /// The row with its bookkeeping columns cleared, for comparing content.
    fn content(&self) -> Self {
        let mut c = self.clone();
        c.stamp(0, false, 0);
        c
    }
}

/// The bookkeeping methods of an [`EntityRow`] (inside its `impl`) for a row struct with the
/// `org_id`, `deleted` (0/1) and `row_version` columns, its key column, and where the entity is
/// synced (not edited through the API) the sync time column that [`EntityRow::stamp`] sets.
macro_rules! entity_row_columns {
    (key $key:ident $(, synced $synced:ident)?) => {
        fn org_id(&self) -> uuid::Uuid {
            self.org_id
        }
        fn key(&self) -> &str {
            &self.$key
        }
        fn deleted(&self) -> bool {
            self.deleted != 0
        }
        fn row_version(&self) -> u64 {
            self.row_version
        }
        fn stamp(&mut self, _synced_ms: i64, deleted: bool, row_version: u64) {
            $(self.$synced = _synced_ms;)?
            self.deleted = u8::from(deleted);
            self.row_version = row_version;
        }
    };
}
pub(crate) use entity_row_columns;

impl Store {
    pub(crate) async fn read_entities<R: EntityRow>(
        &self,
        org_id: Uuid,
        select: Select<'_>,
    ) -> Result<Vec<R>, StoreError> {
        let mut query = self
            .client()
            .query(&R::TABLE.sql(&select))
            .bind(org_id.to_string());
        match select {
            Select::Latest => {}
            Select::One(key) => query = query.bind(key),
            Select::Page { after, limit } => {
                if let Some(a) = after {
                    query = query.bind(a.time_ms).bind(a.time_ms).bind(a.key.as_str());
                }
                query = query.bind(limit as u64);
            }
        }
        Ok(query.fetch_all::<R>().await?)
    }

    pub(crate) async fn write_entities<R: EntityRow>(&self, rows: &[R]) -> Result<(), StoreError> {
        self.insert_rows(R::TABLE.name, rows).await
    }

    /// Writes one new version of a row: above every stored version of its key, keeping the
    /// creation time of the live one it replaces.
    pub(crate) async fn put_entity<R: EntityRow>(
        &self,
        mut row: R,
        now_ms: i64,
    ) -> Result<R, StoreError> {
        #[derive(Row, Deserialize)]
        struct MaxVersion {
            v: u64,
        }
        let sql = format!(
            "SELECT max(row_version) AS v FROM {} WHERE org_id = ? AND {} = ?",
            R::TABLE.name,
            R::TABLE.key
        );
        let org_id = row.org_id();
        let stored = self
            .client()
            .query(&sql)
            .bind(org_id.to_string())
            .bind(row.key())
            .fetch_one::<MaxVersion>()
            .await?
            .v;
        let floor = u64::try_from(now_ms).unwrap_or(0);
        let deleted = row.deleted();
        row.stamp(now_ms, deleted, floor.max(stored + 1));
        self.write_entities(std::slice::from_ref(&row)).await?;
        Ok(row)
    }

    /// Makes the org's live set of `R` exactly `desired` (keyed by [`EntityRow::key`]): new keys
    /// are added, changed ones get a new version that keeps their creation time, missing ones are
    /// marked deleted, and identical ones are not written at all (a second identical call writes
    /// nothing). Every written version is above every stored version of its key.
    pub(crate) async fn replace_entities<R: EntityRow>(
        &self,
        org_id: Uuid,
        desired: Vec<R>,
        now_ms: i64,
    ) -> Result<ReplaceReport, StoreError> {
        let latest: HashMap<String, R> = self
            .read_entities::<R>(org_id, Select::Latest)
            .await?
            .into_iter()
            .map(|r| (r.key().to_owned(), r))
            .collect();
        let floor = u64::try_from(now_ms).unwrap_or(0);
        let next = |prev: Option<&R>| prev.map_or(floor, |p| floor.max(p.row_version() + 1));
        let mut report = ReplaceReport::default();
        let mut writes = Vec::new();
        let mut seen = HashSet::new();
        for mut row in desired {
            let key = row.key().to_owned();
            if !seen.insert(key.clone()) {
                return Err(StoreError::Invalid(format!("{key:?} appears twice")));
            }
            let prev = latest.get(&key);
            match prev.filter(|p| !p.deleted()) {
                Some(live) => {
                    row.carry_over(live);
                    if row.content() == live.content() {
                        report.unchanged += 1;
                        continue;
                    }
                    report.updated.push(key);
                }
                None => report.added.push(key),
            }
            row.stamp(now_ms, false, next(prev));
            writes.push(row);
        }
        let mut removed: Vec<&R> = latest
            .values()
            .filter(|r| !r.deleted() && !seen.contains(r.key()))
            .collect();
        removed.sort_by(|a, b| a.key().cmp(b.key()));
        for prev in removed {
            let mut row = prev.clone();
            row.stamp(now_ms, true, next(Some(prev)));
            report.removed.push(row.key().to_owned());
            writes.push(row);
        }
        report.added.sort();
        report.updated.sort();
        self.write_entities(&writes).await?;
        Ok(report)
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

// ---- channels -----------------------------------------------------------------------------------

/// A channel: one SES configuration set of the org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// UUIDv5 of the configuration-set name in the org's namespace (docs/semantics.md#messages).
    pub id: Uuid,
    /// The configuration-set name (what message projections carry as `channel`).
    pub slug: String,
    /// Display name: the configuration set's `Name` tag, else its name.
    pub name: String,
    /// SendingOptions.SendingEnabled.
    pub sending_enabled: bool,
    /// TrackingOptions.CustomRedirectDomain.
    pub tracking_domain: Option<String>,
    /// The reasons SES suppresses recipients for on this channel (`BOUNCE`, `COMPLAINT`).
    pub suppression_policy: Vec<String>,
    /// Identities whose default configuration set this is, sorted.
    pub identities: Vec<String>,
    pub created_ms: i64,
}

impl Channel {
    /// `active` while SES sends through it, `paused` when sending is disabled.
    pub fn status(&self) -> &'static str {
        if self.sending_enabled {
            "active"
        } else {
            "paused"
        }
    }

    /// The JSON operators see (the API's shape).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "slug": self.slug,
            "status": self.status(),
            "tracking_domain": self.tracking_domain,
            "suppression_policy": self.suppression_policy,
            "identities": self.identities,
            "created_at": format_ms(self.created_ms),
        })
    }
}

/// The `channels` table row (field order = column order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Row)]
pub(crate) struct ChannelRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    slug: String,
    #[serde(with = "clickhouse::serde::uuid")]
    channel_id: Uuid,
    display_name: String,
    sending_enabled: u8,
    tracking_domain: String,
    suppression_policy: Vec<String>,
    bound_identities: Vec<String>,
    created_ms: i64,
    synced_ms: i64,
    deleted: u8,
    row_version: u64,
}

impl EntityRow for ChannelRow {
    const TABLE: Table = Table {
        name: "channels",
        key: "slug",
        columns: &[
            "channel_id",
            "display_name",
            "sending_enabled",
            "tracking_domain",
            "suppression_policy",
            "bound_identities",
            "created_ms",
            "synced_ms",
            "deleted",
        ],
        time: "created_ms",
    };
    entity_row_columns!(key slug, synced synced_ms);
    fn carry_over(&mut self, previous: &Self) {
        self.created_ms = previous.created_ms;
    }
}

impl ChannelRow {
    fn new(org_id: Uuid, c: &Channel) -> ChannelRow {
        ChannelRow {
            org_id,
            slug: c.slug.clone(),
            channel_id: channel_id(org_id, &c.slug),
            display_name: c.name.clone(),
            sending_enabled: u8::from(c.sending_enabled),
            tracking_domain: c.tracking_domain.clone().unwrap_or_default(),
            suppression_policy: c.suppression_policy.clone(),
            bound_identities: c.identities.clone(),
            created_ms: c.created_ms,
            synced_ms: 0,
            deleted: 0,
            row_version: 0,
        }
    }

    fn into_channel(self) -> Channel {
        Channel {
            id: self.channel_id,
            tracking_domain: non_empty(&self.tracking_domain),
            slug: self.slug,
            name: self.display_name,
            sending_enabled: self.sending_enabled != 0,
            suppression_policy: self.suppression_policy,
            identities: self.bound_identities,
            created_ms: self.created_ms,
        }
    }
}

// ---- identities ---------------------------------------------------------------------------------

/// An SES email identity (an address or a domain) the org sends from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// As SES spells it.
    pub name: String,
    /// SES IdentityType: `EMAIL_ADDRESS`, `DOMAIN` or `MANAGED_DOMAIN`.
    pub identity_type: String,
    /// SES VerificationStatus: `PENDING`, `SUCCESS`, `FAILED`, `TEMPORARY_FAILURE`, `NOT_STARTED`.
    pub verification_status: String,
    /// SES DkimAttributes.Status (same vocabulary).
    pub dkim_status: String,
    pub mail_from_domain: Option<String>,
    /// The identity's default configuration set (binds it to that channel).
    pub configuration_set: Option<String>,
    pub created_ms: i64,
}

/// The lookup key of an identity: its name lower-cased (lookups are case-insensitive).
pub fn identity_key(name: &str) -> String {
    name.to_lowercase()
}

/// An SES verification status as the API shows it: `verified` for `SUCCESS`, otherwise the
/// status lower-cased (`pending`, `failed`, `temporary_failure`, `not_started`).
pub fn verification_label(ses_status: &str) -> String {
    match ses_status {
        "SUCCESS" => "verified".to_owned(),
        "" => "pending".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

impl Identity {
    /// `email` for addresses, `domain` for (managed) domains.
    pub fn kind(&self) -> &'static str {
        if self.identity_type == "EMAIL_ADDRESS" {
            "email"
        } else {
            "domain"
        }
    }

    /// The verification status shown for both `verification_status` and `dkim_status`: the spec
    /// has them hold the same value today (SES verifies domains through DKIM).
    pub fn status(&self) -> String {
        verification_label(&self.verification_status)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "identity": self.name,
            "type": self.kind(),
            "verification_status": self.status(),
            "dkim_status": self.status(),
            "mail_from_domain": self.mail_from_domain,
            "created_at": format_ms(self.created_ms),
            "ses": {
                "identity_type": self.identity_type,
                "verification_status": self.verification_status,
                "dkim_status": self.dkim_status,
                "configuration_set": self.configuration_set,
            },
        })
    }
}

/// The `identities` table row (field order = column order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Row)]
pub(crate) struct IdentityRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    identity_key: String,
    identity_name: String,
    identity_type: String,
    verification_status: String,
    dkim_status: String,
    mail_from_domain: String,
    configuration_set: String,
    created_ms: i64,
    synced_ms: i64,
    deleted: u8,
    row_version: u64,
}

impl EntityRow for IdentityRow {
    const TABLE: Table = Table {
        name: "identities",
        key: "identity_key",
        columns: &[
            "identity_name",
            "identity_type",
            "verification_status",
            "dkim_status",
            "mail_from_domain",
            "configuration_set",
            "created_ms",
            "synced_ms",
            "deleted",
        ],
        time: "created_ms",
    };
    entity_row_columns!(key identity_key, synced synced_ms);
    fn carry_over(&mut self, previous: &Self) {
        self.created_ms = previous.created_ms;
    }
}

impl IdentityRow {
    fn new(org_id: Uuid, i: &Identity) -> IdentityRow {
        IdentityRow {
            org_id,
            identity_key: identity_key(&i.name),
            identity_name: i.name.clone(),
            identity_type: i.identity_type.clone(),
            verification_status: i.verification_status.clone(),
            dkim_status: i.dkim_status.clone(),
            mail_from_domain: i.mail_from_domain.clone().unwrap_or_default(),
            configuration_set: i.configuration_set.clone().unwrap_or_default(),
            created_ms: i.created_ms,
            synced_ms: 0,
            deleted: 0,
            row_version: 0,
        }
    }

    fn into_identity(self) -> Identity {
        Identity {
            mail_from_domain: non_empty(&self.mail_from_domain),
            configuration_set: non_empty(&self.configuration_set),
            name: self.identity_name,
            identity_type: self.identity_type,
            verification_status: self.verification_status,
            dkim_status: self.dkim_status,
            created_ms: self.created_ms,
        }
    }
}

/// The store methods of one catalogue entity (channels, identities, templates, tracking
/// domains), from one declaration each: `page` (the org's live entities, newest first, after a
/// keyset), `one` (one by name, the name turned into the stored key by `key`) and, where the
/// entity is synced as a whole, `replace` (make the org's entities exactly these, through
/// [`Store::replace_entities`]).
macro_rules! entity_store {
    ($row:ident => $entity:ty, into $into:path {
        $(#[$page_doc:meta])* page $page:ident;
        $(#[$one_doc:meta])* one $one:ident, key $key:expr;
        $($(#[$replace_doc:meta])* replace $replace:ident, new $new:path;)?
    }) => {
        impl $crate::Store {
            $(#[$page_doc])*
            pub async fn $page(
                &self,
                org_id: uuid::Uuid,
                after: Option<&$crate::control::entities::Keyset>,
                limit: usize,
            ) -> Result<Vec<$entity>, $crate::StoreError> {
                let select = $crate::control::entities::Select::Page { after, limit };
                let rows = self.read_entities::<$row>(org_id, select).await?;
                Ok(rows.into_iter().map($into).collect())
            }

            $(#[$one_doc])*
            pub async fn $one(
                &self,
                org_id: uuid::Uuid,
                name: &str,
            ) -> Result<Option<$entity>, $crate::StoreError> {
                let key: fn(&str) -> String = $key;
                let key = key(name);
                let select = $crate::control::entities::Select::One(&key);
                let rows = self.read_entities::<$row>(org_id, select).await?;
                Ok(rows.into_iter().next().map($into))
            }

            $(
            $(#[$replace_doc])*
            pub async fn $replace(
                &self,
                org_id: uuid::Uuid,
                entities: &[$entity],
                now_ms: i64,
            ) -> Result<$crate::control::entities::ReplaceReport, $crate::StoreError> {
                let rows = entities.iter().map(|e| $new(org_id, e)).collect();
                self.replace_entities(org_id, rows, now_ms).await
            }
            )?
        }
    };
}
pub(crate) use entity_store;

entity_store!(ChannelRow => Channel, into ChannelRow::into_channel {
    /// A page of the org's channels, newest first (by first sync), after `after`.
    page channels;
    /// One channel by slug (exact).
    one channel, key str::to_owned;
    /// Makes the org's channels exactly `channels` (their `id` is derived from org and slug; the
    /// `created_ms` of a channel that already exists is kept).
    replace replace_channels, new ChannelRow::new;
});

entity_store!(IdentityRow => Identity, into IdentityRow::into_identity {
    /// A page of the org's identities, newest first (by first sync), after `after` (whose key is
    /// the lower-cased identity).
    page identities;
    /// One identity by name, case-insensitively.
    one identity, key identity_key;
    /// Makes the org's identities exactly `identities` (names that differ only in case are one
    /// identity).
    replace replace_identities, new IdentityRow::new;
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_sql_collapses_versions_before_filtering() {
        let sql = ChannelRow::TABLE.sql(&Select::Page {
            after: Some(&Keyset {
                time_ms: 1,
                key: "a".into(),
            }),
            limit: 10,
        });
        assert_eq!(
            sql,
            "SELECT org_id, slug, argMax(channel_id, row_version) AS a_channel_id, \
             argMax(display_name, row_version) AS a_display_name, \
             argMax(sending_enabled, row_version) AS a_sending_enabled, \
             argMax(tracking_domain, row_version) AS a_tracking_domain, \
             argMax(suppression_policy, row_version) AS a_suppression_policy, \
             argMax(bound_identities, row_version) AS a_bound_identities, \
             argMax(created_ms, row_version) AS a_created_ms, \
             argMax(synced_ms, row_version) AS a_synced_ms, \
             argMax(deleted, row_version) AS a_deleted, max(row_version) AS a_row_version \
             FROM channels WHERE org_id = ? GROUP BY org_id, slug HAVING a_deleted = 0 \
             AND (a_created_ms < ? OR (a_created_ms = ? AND slug < ?)) \
             ORDER BY a_created_ms DESC, slug DESC LIMIT ?"
        );
        let one = IdentityRow::TABLE.sql(&Select::One("x"));
        assert!(
            one.contains("WHERE org_id = ? AND identity_key = ? GROUP BY"),
            "{one}"
        );
        assert!(!ChannelRow::TABLE.sql(&Select::Latest).contains("HAVING"));
    }

    #[test]
    fn identity_labels() {
        assert_eq!(verification_label("SUCCESS"), "verified");
        assert_eq!(verification_label("TEMPORARY_FAILURE"), "temporary_failure");
        assert_eq!(verification_label("PENDING"), "pending");
        assert_eq!(identity_key("Ops@Example.COM"), "ops@example.com");
    }
}
