//! Organisations (tenants), their plans, and the SES accounts attributed to them.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A plan decides data retention (DECISIONS §4).
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
    pub const COLUMNS: &'static str =
        "id, slug, name, plan, aws_account_id, region, rate_limit_override, created_ms, updated_ms";

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
/// (DECISIONS §6). Nil for "no configuration set".
pub fn channel_id(org_id: Uuid, configuration_set: &str) -> Uuid {
    if configuration_set.is_empty() {
        Uuid::nil()
    } else {
        crate::event_id::uuid_v5(&org_id, configuration_set.as_bytes())
    }
}
