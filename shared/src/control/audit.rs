//! The org audit log (`audit_log`): one row type for every writer (API key lifecycle in
//! `control::api_key`, undeliverable rules and exclusions in `undeliverable`), and its reading.
//! Each writer names its own actions (`api_key::action`, `undeliverable::action`).

use clickhouse::Row;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::json;
use uuid::Uuid;

use crate::store::Store;
use crate::store::error::StoreError;
use crate::timefmt::format_ms;

/// One entry of an org's audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: Uuid,
    pub org_id: Uuid,
    pub at_ms: i64,
    /// `api_key.created`, `api_key.scopes_updated`, `api_key.rotated`, `api_key.revoked`,
    /// `api_key.grace_expired`, `undeliverable.rules_updated` or
    /// `undeliverable.exclusion_added`.
    pub action: String,
    /// Who did it (`system` for the grace sweep).
    pub actor: String,
    /// The key the action is about; nil for actions that are not about a key.
    pub key_id: Uuid,
    /// Action-specific details (scope diff, the other key of a rotation, …).
    pub details: serde_json::Value,
}

impl Serialize for AuditEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        json!({
            "id": self.id,
            "org_id": self.org_id,
            "at": format_ms(self.at_ms),
            "action": self.action,
            "actor": self.actor,
            "key_id": self.key_id,
            "details": self.details,
        })
        .serialize(serializer)
    }
}

/// The `audit_log` table row (field order = column order).
#[derive(Debug, Clone, Serialize, Deserialize, Row)]
pub(crate) struct AuditRow {
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    at_ms: i64,
    action: String,
    actor: String,
    #[serde(with = "clickhouse::serde::uuid")]
    key_id: Uuid,
    details: String,
}

impl AuditRow {
    /// A new entry of `org_id` at `at_ms`; `key_id` is nil when the action is not about a key.
    pub(crate) fn new(
        org_id: Uuid,
        key_id: Uuid,
        at_ms: i64,
        action: &str,
        actor: &str,
        details: serde_json::Value,
    ) -> AuditRow {
        AuditRow {
            id: Uuid::new_v4(),
            org_id,
            at_ms,
            action: action.to_owned(),
            actor: actor.to_owned(),
            key_id,
            details: details.to_string(),
        }
    }

    fn to_entry(&self) -> AuditEntry {
        AuditEntry {
            id: self.id,
            org_id: self.org_id,
            at_ms: self.at_ms,
            action: self.action.clone(),
            actor: self.actor.clone(),
            key_id: self.key_id,
            details: serde_json::from_str(&self.details)
                .unwrap_or_else(|_| serde_json::Value::String(self.details.clone())),
        }
    }
}

impl Store {
    /// The newest `limit` audit entries of an org, newest first.
    pub async fn audit_log(&self, org_id: Uuid, limit: u64) -> Result<Vec<AuditEntry>, StoreError> {
        if limit == 0 {
            return Err(StoreError::Invalid("limit must be at least 1".into()));
        }
        let sql =
            "SELECT ?fields FROM audit_log WHERE org_id = ? ORDER BY at_ms DESC, id DESC LIMIT ?";
        let rows = self
            .client()
            .query(sql)
            .bind(org_id.to_string())
            .bind(limit)
            .fetch_all::<AuditRow>()
            .await?;
        Ok(rows.iter().map(AuditRow::to_entry).collect())
    }

    /// Appends entries to the audit log (one INSERT).
    pub(crate) async fn write_audit(&self, rows: &[AuditRow]) -> Result<(), StoreError> {
        self.insert_rows("audit_log", rows).await
    }
}
