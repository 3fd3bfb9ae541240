//! Organisations (tenants), their plans, and the SES accounts attributed to them; their store
//! access (`orgs`, `org_accounts`).

use std::collections::HashMap;

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::Store;
use crate::store::error::StoreError;
use crate::store::sql::Sql;
use crate::timefmt::now_ms;

/// A plan decides data retention (docs/semantics.md#time-windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    #[default]
    Free,
    Pro,
    Enterprise,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Plan> {
        match s {
            "free" => Some(Plan::Free),
            "pro" => Some(Plan::Pro),
            "enterprise" => Some(Plan::Enterprise),
            _ => None,
        }
    }

    pub fn retention_days(self) -> u32 {
        match self {
            Plan::Free => 30,
            Plan::Pro => 90,
            Plan::Enterprise => 365,
        }
    }

    /// Enum8 value in the `orgs` table.
    pub fn code(self) -> i8 {
        match self {
            Plan::Free => 1,
            Plan::Pro => 2,
            Plan::Enterprise => 3,
        }
    }

    pub fn from_code(v: i8) -> Plan {
        match v {
            2 => Plan::Pro,
            3 => Plan::Enterprise,
            _ => Plan::Free,
        }
    }
}

/// An org as operators and the API see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Org {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub plan: Plan,
    pub aws_account_id: String,
    pub region: String,
    /// Requests per minute for live keys, when it differs from the plan default.
    pub rate_limit_override: Option<u32>,
    pub created_at: String,
}

/// The `orgs` table row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Row)]
pub struct OrgRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub plan: i8,
    pub aws_account_id: String,
    pub region: String,
    pub rate_limit_override: Option<u32>,
    pub created_ms: i64,
    pub updated_ms: u64,
}

impl OrgRow {
    pub fn to_org(&self) -> Org {
        Org {
            id: self.id,
            slug: self.slug.clone(),
            name: self.name.clone(),
            plan: Plan::from_code(self.plan),
            aws_account_id: self.aws_account_id.clone(),
            region: self.region.clone(),
            rate_limit_override: self.rate_limit_override,
            created_at: crate::timefmt::format_ms(self.created_ms),
        }
    }
}

/// The `org_accounts` table row: which org an SES sending account belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Row)]
pub struct AccountRow {
    pub aws_account_id: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub org_id: Uuid,
    pub updated_ms: u64,
}

/// Checks an org slug: 1–63 of `a-z`, `0-9`, `-`, starting with a letter or digit.
pub fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 63
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
}

/// Checks an AWS account id: exactly 12 digits.
pub fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// A channel's id: UUIDv5 with the org id as namespace and the configuration-set name as name
/// (docs/semantics.md#messages). Nil for "no configuration set".
pub fn channel_id(org_id: Uuid, configuration_set: &str) -> Uuid {
    if configuration_set.is_empty() {
        Uuid::nil()
    } else {
        crate::event::event_id::uuid_v5(&org_id, configuration_set.as_bytes())
    }
}

/// A new org's fields, as `sendops-admin org create` takes them.
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub name: String,
    pub slug: String,
    pub aws_account_id: String,
    pub region: String,
    pub plan: Plan,
}

impl Store {
    /// Creates an org and maps its SES account to it.
    pub async fn create_org(&self, new: NewOrg) -> Result<Org, StoreError> {
        if !valid_slug(&new.slug) {
            return Err(StoreError::Invalid(format!(
                "slug {:?} must be 1-63 characters of a-z, 0-9 and '-', not starting with '-'",
                new.slug
            )));
        }
        if new.name.trim().is_empty() {
            return Err(StoreError::Invalid("name must not be empty".into()));
        }
        if !valid_account_id(&new.aws_account_id) {
            return Err(StoreError::Invalid(format!(
                "AWS account id {:?} must be exactly 12 digits",
                new.aws_account_id
            )));
        }
        if self.org_by_slug(&new.slug).await?.is_some() {
            return Err(StoreError::Invalid(format!(
                "an org with slug {:?} already exists",
                new.slug
            )));
        }
        if let Some(owner) = self.account_map().await?.get(&new.aws_account_id) {
            return Err(StoreError::Invalid(format!(
                "AWS account {} already belongs to org {owner}",
                new.aws_account_id
            )));
        }
        let now = now_ms();
        let row = OrgRow {
            id: Uuid::new_v4(),
            slug: new.slug,
            name: new.name.trim().to_owned(),
            plan: new.plan.code(),
            aws_account_id: new.aws_account_id.clone(),
            region: new.region,
            rate_limit_override: None,
            created_ms: now,
            updated_ms: now as u64,
        };
        self.insert_rows("orgs", std::slice::from_ref(&row)).await?;
        let account = AccountRow {
            aws_account_id: new.aws_account_id,
            org_id: row.id,
            updated_ms: now as u64,
        };
        self.insert_rows("org_accounts", &[account]).await?;
        Ok(row.to_org())
    }

    pub async fn list_orgs(&self) -> Result<Vec<Org>, StoreError> {
        let sql = "SELECT ?fields FROM orgs FINAL ORDER BY created_ms, slug";
        let rows = self.client().query(sql).fetch_all::<OrgRow>().await?;
        Ok(rows.iter().map(OrgRow::to_org).collect())
    }

    pub async fn org_by_slug(&self, slug: &str) -> Result<Option<Org>, StoreError> {
        let sql = "SELECT ?fields FROM orgs FINAL WHERE slug = ? LIMIT 1";
        let row = self
            .sql(Sql::new(sql, [slug.into()]))
            .fetch_optional::<OrgRow>()
            .await?;
        Ok(row.map(|r| r.to_org()))
    }

    pub async fn org_by_id(&self, id: Uuid) -> Result<Option<Org>, StoreError> {
        let sql = "SELECT ?fields FROM orgs FINAL WHERE id = ? LIMIT 1";
        let row = self
            .sql(Sql::new(sql, [id.into()]))
            .fetch_optional::<OrgRow>()
            .await?;
        Ok(row.map(|r| r.to_org()))
    }

    /// Sets (or, with `None`, clears) an org's live-key rate limit in requests per minute; the
    /// plan default applies without one. API processes see it once their key cache expires.
    pub async fn set_org_rate_limit(
        &self,
        slug: &str,
        per_minute: Option<u32>,
    ) -> Result<Org, StoreError> {
        if per_minute == Some(0) {
            return Err(StoreError::Invalid(
                "the rate limit must be at least 1 request per minute".into(),
            ));
        }
        let sql = "SELECT ?fields FROM orgs FINAL WHERE slug = ? LIMIT 1";
        let Some(mut row) = self
            .sql(Sql::new(sql, [slug.into()]))
            .fetch_optional::<OrgRow>()
            .await?
        else {
            return Err(StoreError::Invalid(format!("no org with slug {slug:?}")));
        };
        row.rate_limit_override = per_minute;
        // A newer version of the row (ReplacingMergeTree keeps the highest `updated_ms`).
        row.updated_ms = (now_ms() as u64).max(row.updated_ms + 1);
        self.insert_rows("orgs", std::slice::from_ref(&row)).await?;
        Ok(row.to_org())
    }

    /// SES account id → org id, for attributing events.
    pub async fn account_map(&self) -> Result<HashMap<String, Uuid>, StoreError> {
        let rows = self
            .client()
            .query("SELECT ?fields FROM org_accounts FINAL")
            .fetch_all::<AccountRow>()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.aws_account_id, r.org_id))
            .collect())
    }
}
