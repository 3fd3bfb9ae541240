//! Store access for the undeliverable list: rules (versioned), exclusions, rule-change marks and
//! the page query.
//!
//! A page is read newest-first by last_changed_at in time slices that widen until the page is
//! full. A slice [lo, hi) takes the addresses with any activity in it (event ingest, rule-change
//! mark, exclusion: every shown row has activity at exactly its last_changed_at), reads their
//! histories by primary key, classifies them, and keeps the rows whose last_changed_at falls in
//! the slice. Which seconds hold activity, and how many addresses each holds, comes from the small
//! `undeliverable_activity_blocks` table (migration 0011): a slice takes whole seconds from the
//! newest while their addresses fit a cap, so its activity read is bounded. A single second
//! holding more than the cap (a bulk replay, a backlog drain, a rule change that altered many
//! rows) is walked in email order, which is the list's order inside a second, in steps bounded
//! by the blocks' fences. So a page costs what it shows, not the size of the org nor how many
//! changes share a second.

use std::collections::HashMap;

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::{Event, Exclusion, History, Kind, RuleSet, Rules, action, classify};
use crate::address::{AddressRule, EmailAddress};
use crate::control::audit::AuditRow;
use crate::control::org::Org;
use crate::store::Store;
use crate::store::error::StoreError;
use crate::timefmt::now_ms;

mod page;

/// Rows per INSERT when writing marks.
const MARK_BATCH: usize = 100_000;

/// What a rule change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesChange {
    pub rules: Rules,
    /// False when the requested rules equal the active ones (nothing was written).
    pub changed: bool,
    /// Addresses whose row the change altered (they now show last_changed_at = the change time).
    pub marked: u64,
}

/// The `undeliverable_rules` row (field order = column order).
#[derive(Debug, Clone, Serialize, Deserialize, Row)]
struct RulesRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    version: u64,
    repeated_transient_enabled: u8,
    repeated_transient_events: u32,
    repeated_transient_window_days: u32,
    undetermined_enabled: u8,
    undetermined_events: u32,
    undetermined_window_days: u32,
    soft_bounce_accumulation_enabled: u8,
    soft_bounce_accumulation_events: u32,
    soft_bounce_accumulation_window_days: u32,
    updated_ms: i64,
    updated_by: String,
}

impl RulesRow {
    fn new(org_id: Uuid, rules: &Rules) -> RulesRow {
        let s = &rules.set;
        RulesRow {
            org_id,
            version: rules.version,
            repeated_transient_enabled: u8::from(s.repeated_transient.enabled),
            repeated_transient_events: s.repeated_transient.events,
            repeated_transient_window_days: s.repeated_transient.window_days,
            undetermined_enabled: u8::from(s.undetermined.enabled),
            undetermined_events: s.undetermined.events,
            undetermined_window_days: s.undetermined.window_days,
            soft_bounce_accumulation_enabled: u8::from(s.soft_bounce_accumulation.enabled),
            soft_bounce_accumulation_events: s.soft_bounce_accumulation.events,
            soft_bounce_accumulation_window_days: s.soft_bounce_accumulation.window_days,
            updated_ms: rules.updated_ms,
            updated_by: rules.updated_by.clone(),
        }
    }

    fn to_rules(&self) -> Rules {
        use super::Threshold as T;
        Rules {
            set: RuleSet {
                repeated_transient: T {
                    enabled: self.repeated_transient_enabled != 0,
                    events: self.repeated_transient_events,
                    window_days: self.repeated_transient_window_days,
                },
                undetermined: T {
                    enabled: self.undetermined_enabled != 0,
                    events: self.undetermined_events,
                    window_days: self.undetermined_window_days,
                },
                soft_bounce_accumulation: T {
                    enabled: self.soft_bounce_accumulation_enabled != 0,
                    events: self.soft_bounce_accumulation_events,
                    window_days: self.soft_bounce_accumulation_window_days,
                },
            },
            version: self.version,
            updated_ms: self.updated_ms,
            updated_by: self.updated_by.clone(),
        }
    }
}

/// An `undeliverable_history` row (field order = column order).
#[derive(Debug, Clone, Serialize, Row)]
struct HistoryRow<'a> {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    okey: &'a str,
    kind: i8,
    occurred_ms: i64,
    payload: &'a str,
}

/// What a history lookup returns.
#[derive(Debug, Deserialize, Row)]
struct PayloadRow {
    okey: String,
    payload: String,
}

/// One address's whole history, as the rule-change comparison reads it.
#[derive(Debug, Deserialize, Row)]
struct PayloadsRow {
    okey: String,
    payloads: Vec<String>,
}

/// `<org id>/<lower-cased address>`: the history table's key.
fn okey(org_id: Uuid, email: &str) -> String {
    format!("{org_id}/{email}")
}

/// The address part of an okey.
fn email_of(okey: &str) -> &str {
    okey.split_once('/').map_or(okey, |(_, e)| e)
}

/// An `undeliverable_activity` row (field order = column order).
#[derive(Debug, Clone, Serialize, Row)]
struct ActivityRow<'a> {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    ingested_ms: i64,
    email: &'a str,
    kind: i8,
}

/// An `undeliverable_activity_blocks` row (field order = column order): what one write of
/// activity rows sharing an ingest time holds. Written before the activity rows it describes.
#[derive(Debug, Clone, Serialize, Row)]
struct BlockRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    second: i64,
    ingested_ms: i64,
    emails: u32,
    fences: Vec<String>,
}

impl BlockRow {
    fn new(org_id: Uuid, ingested_ms: i64, emails: &[&str]) -> BlockRow {
        let (distinct, fences) = page::distinct_and_fences(emails);
        BlockRow {
            org_id,
            second: ingested_ms.div_euclid(1000),
            ingested_ms,
            emails: u32::try_from(distinct.len()).unwrap_or(u32::MAX),
            fences,
        }
    }
}

/// An `undeliverable_exclusions` row (field order = column order).
#[derive(Debug, Clone, Serialize, Deserialize, Row)]
struct ExclusionRow {
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    email: String,
    excluded_ms: i64,
    excluded_by: String,
    reason: String,
}

impl ExclusionRow {
    fn to_exclusion(&self) -> Exclusion {
        Exclusion {
            id: self.id,
            email: self.email.clone(),
            excluded_ms: self.excluded_ms,
            excluded_by: self.excluded_by.clone(),
            reason: self.reason.clone(),
        }
    }
}

/// The latest exclusion of each address, as the queries below select it.
const LATEST_EXCLUSION: &str = "SELECT argMax(id, (excluded_ms, id)) AS xid, any(org_id) AS oid, email, \
     max(excluded_ms) AS x_ms, argMax(excluded_by, (excluded_ms, id)) AS who, \
     argMax(reason, (excluded_ms, id)) AS why FROM undeliverable_exclusions";

/// `('a', 'b')` from kinds (typed values only, never input).
fn kind_list(kinds: &[Kind]) -> String {
    let names: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
    format!("({})", names.join(", "))
}

fn valid_text(what: &str, value: &str, max: usize) -> Result<String, StoreError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(StoreError::Invalid(format!("{what} must not be empty")));
    }
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} must be at most {max} characters without control characters"
        )));
    }
    Ok(v.to_owned())
}

impl Store {
    /// The org's active rules (`standard`, version 0, while they were never changed).
    pub async fn undeliverable_rules(&self, org: &Org) -> Result<Rules, StoreError> {
        let row = self
            .client()
            .query("SELECT ?fields FROM undeliverable_rules FINAL WHERE org_id = ? LIMIT 1")
            .bind(org.id.to_string())
            .fetch_optional::<RulesRow>()
            .await?;
        Ok(match row {
            Some(r) => r.to_rules(),
            None => Rules {
                set: RuleSet::STANDARD,
                version: 0,
                updated_ms: crate::timefmt::parse_rfc3339_ms(&org.created_at).unwrap_or(0),
                updated_by: "system".into(),
            },
        })
    }

    /// Makes `set` the org's rules: marks every address whose row changes (it shows the change
    /// time as last_changed_at), then writes the new version and its audit entry. Setting the
    /// active rules again changes nothing. One operator at a time (like key lifecycle steps).
    pub async fn set_undeliverable_rules(
        &self,
        org: &Org,
        set: RuleSet,
        actor: &str,
    ) -> Result<RulesChange, StoreError> {
        set.validate().map_err(StoreError::Invalid)?;
        let actor = valid_text("actor", actor, 200)?;
        let old = self.undeliverable_rules(org).await?;
        if old.set == set {
            return Ok(RulesChange {
                rules: old,
                changed: false,
                marked: 0,
            });
        }
        // The org's rows, and the registration that bounds its polls, on its own shard (a
        // cluster routed by org; this store itself otherwise). Rules and audit are control
        // tables.
        let shard = self.route(org.id).await?;
        let changed = shard.rows_changed_by(org, &old.set, &set, now_ms()).await?;
        // Stamped after the (possibly long) comparison, right before the writes, and registered
        // as an in-flight batch first (crate::store::ledger), so a `?since=` poll does not read past
        // the marks' time until they are all written.
        let batch = shard.register_batch().await?;
        let at = batch.stamp_ms.max(old.updated_ms + 1);
        for chunk in changed.chunks(MARK_BATCH) {
            shard.renew_batch(&batch).await?;
            let emails: Vec<&str> = chunk.iter().map(String::as_str).collect();
            shard
                .write_block(BlockRow::new(org.id, at, &emails))
                .await?;
            let mut insert = shard
                .client()
                .insert::<HistoryRow<'_>>("undeliverable_history")
                .await?;
            let payload = Event::mark_payload(at);
            for email in chunk {
                insert
                    .write(&HistoryRow {
                        org_id: org.id,
                        okey: &okey(org.id, email),
                        kind: Kind::RuleChange as i8,
                        occurred_ms: at,
                        payload: &payload,
                    })
                    .await?;
            }
            insert.end().await?;
            shard
                .write_activity(org.id, at, &emails, Kind::RuleChange)
                .await?;
        }
        let rules = Rules {
            set,
            version: old.version + 1,
            updated_ms: at,
            updated_by: actor.clone(),
        };
        self.insert_rows("undeliverable_rules", &[RulesRow::new(org.id, &rules)])
            .await?;
        self.write_audit(&[AuditRow::new(
            org.id,
            Uuid::nil(),
            at,
            action::RULES_UPDATED,
            &actor,
            json!({
                "version": rules.version_tag(),
                "before": old.view().to_json(),
                "after": rules.view().to_json(),
                "rows_changed": changed.len(),
            }),
        )])
        .await?;
        shard.close_batch(&batch).await?;
        Ok(RulesChange {
            rules,
            changed: true,
            marked: changed.len() as u64,
        })
    }

    /// Addresses whose visible row under `new` differs from their row under `old` at `now`
    /// (only addresses with configurable-rule events can differ).
    async fn rows_changed_by(
        &self,
        org: &Org,
        old: &RuleSet,
        new: &RuleSet,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let retention = org.plan.retention_days();
        let (old_starts, new_starts) = (
            old.window_starts(retention, now),
            new.window_starts(retention, now),
        );
        let exclusions = self.latest_exclusions(org.id, None).await?;
        let sql = format!(
            "SELECT okey, groupArray(payload) AS payloads FROM undeliverable_history \
             WHERE org_id = ? AND okey IN (SELECT okey FROM undeliverable_history WHERE org_id = ? AND kind IN {}) \
             GROUP BY okey",
            kind_list(&[Kind::Transient, Kind::Undetermined, Kind::Delay])
        );
        let mut cursor = self
            .client()
            .query(&sql)
            .bind(org.id.to_string())
            .bind(org.id.to_string())
            .fetch::<PayloadsRow>()?;
        let mut changed = Vec::new();
        while let Some(row) = cursor.next().await? {
            let email = email_of(&row.okey).to_owned();
            let events: Vec<Event> = row
                .payloads
                .iter()
                .filter_map(|p| Event::from_payload(p))
                .collect();
            let x = exclusions.get(&email);
            let before = classify(
                &History::from_events(email.clone(), &events, &old_starts),
                x,
                old,
            );
            let after = classify(&History::from_events(email, &events, &new_starts), x, new);
            if let Some(after) = after
                && before.is_none_or(|b| b.state != after.state)
            {
                changed.push(after.email);
            }
        }
        Ok(changed)
    }

    /// Records an operator exclusion of `email` (read under [`AddressRule::Normalised`]) now;
    /// kept forever. Writes `undeliverable.exclusion_added`.
    pub async fn add_exclusion(
        &self,
        org_id: Uuid,
        email: &str,
        excluded_by: &str,
        reason: &str,
    ) -> Result<Exclusion, StoreError> {
        let email = EmailAddress::parse(email, AddressRule::Normalised)
            .map_err(|e| StoreError::Invalid(e.to_string()))?
            .into_string();
        let excluded_by = valid_text("excluded_by", excluded_by, 200)?;
        let reason = valid_text("reason", reason, 1000)?;
        if self.org_by_id(org_id).await?.is_none() {
            return Err(StoreError::NotFound {
                what: format!("org {org_id}"),
            });
        }
        // Strictly after any earlier exclusion of the address, so "the latest" is never a tie.
        // The org's rows and registration on its own shard (see set_undeliverable_rules).
        let shard = self.route(org_id).await?;
        let previous = shard
            .latest_exclusions(org_id, Some(&email))
            .await?
            .remove(&email);
        // Registered as an in-flight batch before it is stamped (crate::store::ledger): a `?since=`
        // poll does not read past its time until it is written.
        let batch = shard.register_batch().await?;
        let at = batch
            .stamp_ms
            .max(previous.map_or(0, |p| p.excluded_ms + 1));
        let row = ExclusionRow {
            id: Uuid::new_v4(),
            org_id,
            email,
            excluded_ms: at,
            excluded_by,
            reason,
        };
        shard
            .insert_rows("undeliverable_exclusions", std::slice::from_ref(&row))
            .await?;
        shard
            .write_block(BlockRow::new(org_id, at, &[row.email.as_str()]))
            .await?;
        shard
            .write_activity(org_id, at, &[row.email.as_str()], Kind::Exclusion)
            .await?;
        self.write_audit(&[AuditRow::new(
            org_id,
            Uuid::nil(),
            at,
            action::EXCLUSION_ADDED,
            &row.excluded_by,
            json!({ "exclusion_id": row.id, "email": row.email, "reason": row.reason }),
        )])
        .await?;
        shard.close_batch(&batch).await?;
        Ok(row.to_exclusion())
    }

    /// Writes activity rows of `kind` at `at` for `emails`, in one INSERT (after their block
    /// row: [`Store::write_block`]).
    async fn write_activity(
        &self,
        org_id: Uuid,
        at: i64,
        emails: &[&str],
        kind: Kind,
    ) -> Result<(), StoreError> {
        let mut insert = self
            .client()
            .insert::<ActivityRow<'_>>("undeliverable_activity")
            .await?;
        for email in emails {
            insert
                .write(&ActivityRow {
                    org_id,
                    ingested_ms: at,
                    email,
                    kind: kind as i8,
                })
                .await?;
        }
        insert.end().await?;
        Ok(())
    }

    /// Writes the block row of activity rows about to be written (see [`BlockRow`]).
    async fn write_block(&self, block: BlockRow) -> Result<(), StoreError> {
        self.insert_rows("undeliverable_activity_blocks", &[block])
            .await
    }

    /// Every exclusion of an org (superseded ones too), newest first.
    pub async fn exclusions(&self, org_id: Uuid) -> Result<Vec<Exclusion>, StoreError> {
        let rows = self
            .client()
            .query(
                "SELECT ?fields FROM undeliverable_exclusions WHERE org_id = ? \
                 ORDER BY excluded_ms DESC, email, id",
            )
            .bind(org_id.to_string())
            .fetch_all::<ExclusionRow>()
            .await?;
        Ok(rows.iter().map(ExclusionRow::to_exclusion).collect())
    }

    /// The latest exclusion of each address of the org (of one address, when given).
    async fn latest_exclusions(
        &self,
        org_id: Uuid,
        email: Option<&str>,
    ) -> Result<HashMap<String, Exclusion>, StoreError> {
        let mut sql = format!("{LATEST_EXCLUSION} WHERE org_id = ?");
        if email.is_some() {
            sql.push_str(" AND email = ?");
        }
        sql.push_str(" GROUP BY email");
        let mut q = self.client().query(&sql).bind(org_id.to_string());
        if let Some(e) = email {
            q = q.bind(e);
        }
        let rows = q.fetch_all::<ExclusionRow>().await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.email.clone(), r.to_exclusion()))
            .collect())
    }
}

#[cfg(test)]
mod tests;
