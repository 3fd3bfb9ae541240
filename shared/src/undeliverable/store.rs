//! Store access for the undeliverable list: rules (versioned), exclusions, rule-change marks and
//! the page query.
//!
//! A page is read newest-first by last_changed_at in time slices that widen until the page is
//! full: a slice [lo, hi) takes the addresses with any activity in it (event ingest, rule-change
//! mark, exclusion: every shown row has activity at exactly its last_changed_at), reads their
//! whole histories by primary key, classifies them, and keeps the rows whose last_changed_at
//! falls in the slice. So a page costs what it shows, not the size of the org.

use std::collections::HashMap;

use clickhouse::Row;
use clickhouse::query::Query;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::{
    Entry, Exclusion, History, Kind, ListQuery, Rule, RuleSet, Rules, Stats, StatusFilter, action,
    classify, normalize_email, whole_second,
};
use crate::error::StoreError;
use crate::org::Org;
use crate::store::Store;
use crate::timefmt::now_ms;

const STATS_SQL: &str = include_str!("stats.sql");

/// First slice of a page, in ms of last_changed_at; later slices widen ×4 (×16 after an empty one).
const INITIAL_SPAN_MS: i64 = 15 * 60 * 1000;

/// Rule ids in the stats query: 1–6 are the rules in priority order under the rules being
/// applied, 7 the rule-change marks, 11–13 the configurable rules under the previous rules (only
/// when a rule change is evaluated).
const MARK_ID: u8 = 7;
const OLD_BASE_ID: u8 = 10;

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
    const COLUMNS: &'static str = "org_id, version, repeated_transient_enabled, repeated_transient_events, \
        repeated_transient_window_days, undetermined_enabled, undetermined_events, undetermined_window_days, \
        soft_bounce_accumulation_enabled, soft_bounce_accumulation_events, soft_bounce_accumulation_window_days, \
        updated_ms, updated_by";

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
    email: &'a str,
    kind: i8,
    occurred_ms: i64,
    ingested_ms: i64,
    subtype: &'a str,
    diagnostic: &'a str,
    sender: &'a str,
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
    const COLUMNS: &'static str = "id, org_id, email, excluded_ms, excluded_by, reason";

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

/// The `audit_log` row (same columns as api_key.rs writes; key_id is nil here).
#[derive(Debug, Clone, Serialize, Row)]
struct AuditRow {
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    at_ms: i64,
    action: &'static str,
    actor: String,
    #[serde(with = "clickhouse::serde::uuid")]
    key_id: Uuid,
    details: String,
}

/// One row of the stats query.
#[derive(Debug, Deserialize, Row)]
struct StatsRow {
    email: String,
    rule: u8,
    n: u64,
    first_ms: i64,
    last_ms: i64,
    ingest_ms: i64,
    sub: String,
    diag: String,
    snd: String,
}

impl StatsRow {
    fn stats(self) -> Stats {
        Stats {
            events: self.n,
            first_ms: self.first_ms,
            last_ms: self.last_ms,
            ingested_ms: self.ingest_ms,
            subtype: self.sub,
            diagnostic: self.diag,
            sender: self.snd,
        }
    }
}

/// A value bound into a composed query, in placeholder order.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Int(i64),
}

fn bind_all(mut q: Query, args: &[Arg]) -> Query {
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    q
}

/// `('a', 'b')` from kinds (typed values only, never input).
fn kind_list(kinds: &[Kind]) -> String {
    let names: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
    format!("({})", names.join(", "))
}

/// The rule ids each history kind feeds, indexed by the kind's Enum8 value − 1.
fn rule_map(with_old: bool) -> Vec<Vec<u8>> {
    Kind::ALL
        .iter()
        .map(|kind| {
            let mut ids: Vec<u8> = Vec::new();
            if *kind == Kind::RuleChange {
                ids.push(MARK_ID);
            }
            for rule in Rule::PRIORITY {
                if rule.kinds().contains(kind) {
                    ids.push(rule.index() as u8 + 1);
                    if with_old && !rule.is_locked() {
                        ids.push(OLD_BASE_ID + rule.index() as u8 - 2);
                    }
                }
            }
            ids
        })
        .collect()
}

/// Window start per rule id (index 0 is rule id 1).
fn starts(new: [i64; 6], old: Option<[i64; 6]>) -> Vec<i64> {
    let mut v: Vec<i64> = new.to_vec();
    v.push(0); // marks never age
    if let Some(old) = old {
        v.extend([i64::MAX; 2]); // ids 8, 9, 10: unused
        v.push(i64::MAX);
        for rule in Rule::PRIORITY.into_iter().filter(|r| !r.is_locked()) {
            v.push(old[rule.index()]);
        }
    }
    v
}

/// The candidate subquery of a page slice and its values.
fn candidates(org_id: Uuid, q: &ListQuery, lo: i64, hi: i64) -> Option<(String, Vec<Arg>)> {
    let listed = q.status != StatusFilter::Excluded;
    let excluded = q.status != StatusFilter::Listed && q.min_events <= 1;
    if !listed && !excluded {
        return None;
    }
    let mut kinds = vec![Kind::RuleChange];
    if listed {
        match q.reason {
            Some(r) => kinds.extend_from_slice(r.kinds()),
            None => kinds.extend_from_slice(&Kind::ALL[..6]),
        }
    }
    if excluded {
        kinds.push(Kind::Exclusion);
    }
    let mut sql = String::from(
        "SELECT email FROM undeliverable_activity WHERE org_id = ? AND ingested_ms >= ? AND ingested_ms < ?",
    );
    let mut args = vec![Arg::Text(org_id.to_string()), Arg::Int(lo), Arg::Int(hi)];
    if kinds.len() < Kind::ALL.len() {
        sql.push_str(" AND kind IN ");
        sql.push_str(&kind_list(&kinds));
    }
    if let Some(needle) = &q.email {
        sql.push_str(" AND position(email, ?) > 0");
        args.push(Arg::Text(needle.clone()));
    }
    if !listed {
        sql.push_str(" AND email IN (SELECT email FROM undeliverable_exclusions WHERE org_id = ?)");
        args.push(Arg::Text(org_id.to_string()));
    }
    Some((sql, args))
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
        let sql = format!(
            "SELECT {} FROM undeliverable_rules FINAL WHERE org_id = ? LIMIT 1",
            RulesRow::COLUMNS
        );
        let row = self
            .client()
            .query(&sql)
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
        let changed = self.rows_changed_by(org, &old.set, &set, now_ms()).await?;
        // Stamped after the (possibly long) comparison, right before the writes, so the marks
        // become visible within moments of their time.
        let at = now_ms().max(old.updated_ms + 1);
        for chunk in changed.chunks(MARK_BATCH) {
            let mut insert = self
                .client()
                .insert::<HistoryRow<'_>>("undeliverable_history")
                .await?;
            for email in chunk {
                insert
                    .write(&HistoryRow {
                        org_id: org.id,
                        email,
                        kind: Kind::RuleChange as i8,
                        occurred_ms: at,
                        ingested_ms: at,
                        subtype: "",
                        diagnostic: "",
                        sender: "",
                    })
                    .await?;
            }
            insert.end().await?;
            let mut insert = self
                .client()
                .insert::<ActivityRow<'_>>("undeliverable_activity")
                .await?;
            for email in chunk {
                insert
                    .write(&ActivityRow {
                        org_id: org.id,
                        ingested_ms: at,
                        email,
                        kind: Kind::RuleChange as i8,
                    })
                    .await?;
            }
            insert.end().await?;
        }
        let rules = Rules {
            set,
            version: old.version + 1,
            updated_ms: at,
            updated_by: actor.clone(),
        };
        let mut insert = self
            .client()
            .insert::<RulesRow>("undeliverable_rules")
            .await?;
        insert.write(&RulesRow::new(org.id, &rules)).await?;
        insert.end().await?;
        self.write_undeliverable_audit(
            org.id,
            at,
            action::RULES_UPDATED,
            &actor,
            json!({
                "version": rules.version_tag(),
                "before": old.view().to_json(),
                "after": rules.view().to_json(),
                "rows_changed": changed.len(),
            }),
        )
        .await?;
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
        let exclusions = self.latest_exclusions(org.id, None).await?;
        let candidates = format!(
            "SELECT email FROM undeliverable_history WHERE org_id = ? AND kind IN {}",
            kind_list(&[Kind::Transient, Kind::Undetermined, Kind::Delay])
        );
        let sql = format!(
            "{} ORDER BY email, rule",
            STATS_SQL.replace("/*candidates*/", &candidates)
        );
        let mut cursor = self
            .client()
            .query(&sql)
            .bind(rule_map(true))
            .bind(org.id.to_string())
            .bind(org.id.to_string())
            .bind(starts(
                new.window_starts(retention, now),
                Some(old.window_starts(retention, now)),
            ))
            .fetch::<StatsRow>()?;
        let mut changed = Vec::new();
        let mut current: Option<(History, History)> = None;
        let finish = |pair: Option<(History, History)>, changed: &mut Vec<String>| {
            if let Some((new_h, old_h)) = pair {
                let x = exclusions.get(&new_h.email);
                let after = classify(&new_h, x, new);
                let before = classify(&old_h, x, old);
                if let Some(after) = after
                    && before.is_none_or(|b| b.state != after.state)
                {
                    changed.push(after.email);
                }
            }
        };
        while let Some(row) = cursor.next().await? {
            if current.as_ref().is_none_or(|(h, _)| h.email != row.email) {
                let next = History {
                    email: row.email.clone(),
                    ..History::default()
                };
                finish(current.replace((next.clone(), next)), &mut changed);
            }
            let (new_h, old_h) = current.as_mut().expect("set above");
            let id = row.rule;
            let stats = row.stats();
            match id {
                MARK_ID => {
                    new_h.marked_ms = stats.ingested_ms;
                    old_h.marked_ms = stats.ingested_ms;
                }
                1..=6 => {
                    let rule = Rule::PRIORITY[usize::from(id - 1)];
                    if rule.is_locked() {
                        old_h.rules[rule.index()] = Some(stats.clone());
                    }
                    new_h.rules[rule.index()] = Some(stats);
                }
                _ if id > OLD_BASE_ID => {
                    let rule = Rule::PRIORITY[usize::from(id - OLD_BASE_ID + 2)];
                    old_h.rules[rule.index()] = Some(stats);
                }
                _ => {}
            }
        }
        finish(current.take(), &mut changed);
        Ok(changed)
    }

    /// Records an operator exclusion of `email` (normalised) now; kept forever. Writes
    /// `undeliverable.exclusion_added`.
    pub async fn add_exclusion(
        &self,
        org_id: Uuid,
        email: &str,
        excluded_by: &str,
        reason: &str,
    ) -> Result<Exclusion, StoreError> {
        let email = normalize_email(email).map_err(StoreError::Invalid)?;
        let excluded_by = valid_text("excluded_by", excluded_by, 200)?;
        let reason = valid_text("reason", reason, 1000)?;
        if self.org_by_id(org_id).await?.is_none() {
            return Err(StoreError::NotFound {
                what: format!("org {org_id}"),
            });
        }
        // Strictly after any earlier exclusion of the address, so "the latest" is never a tie.
        let previous = self
            .latest_exclusions(org_id, Some(&email))
            .await?
            .remove(&email);
        let at = now_ms().max(previous.map_or(0, |p| p.excluded_ms + 1));
        let row = ExclusionRow {
            id: Uuid::new_v4(),
            org_id,
            email,
            excluded_ms: at,
            excluded_by,
            reason,
        };
        let mut insert = self
            .client()
            .insert::<ExclusionRow>("undeliverable_exclusions")
            .await?;
        insert.write(&row).await?;
        insert.end().await?;
        let mut insert = self
            .client()
            .insert::<ActivityRow<'_>>("undeliverable_activity")
            .await?;
        insert
            .write(&ActivityRow {
                org_id,
                ingested_ms: at,
                email: &row.email,
                kind: Kind::Exclusion as i8,
            })
            .await?;
        insert.end().await?;
        self.write_undeliverable_audit(
            org_id,
            at,
            action::EXCLUSION_ADDED,
            &row.excluded_by,
            json!({ "exclusion_id": row.id, "email": row.email, "reason": row.reason }),
        )
        .await?;
        Ok(row.to_exclusion())
    }

    /// Every exclusion of an org (superseded ones too), newest first.
    pub async fn exclusions(&self, org_id: Uuid) -> Result<Vec<Exclusion>, StoreError> {
        let sql = format!(
            "SELECT {} FROM undeliverable_exclusions WHERE org_id = ? ORDER BY excluded_ms DESC, email, id",
            ExclusionRow::COLUMNS
        );
        let rows = self
            .client()
            .query(&sql)
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

    /// One page of the undeliverable list (up to `q.limit` rows), ordered by last_changed_at
    /// descending, then email ascending.
    pub async fn list_undeliverable(
        &self,
        org_id: Uuid,
        rules: &RuleSet,
        q: &ListQuery,
    ) -> Result<Vec<Entry>, StoreError> {
        // Slices start on whole seconds, so that a second is never split between two slices
        // (the order is by whole seconds).
        let floor = whole_second(q.since_ms.unwrap_or(0).max(0));
        let mut hi = q.until_ms.map_or(i64::MAX, |u| u.saturating_add(1));
        if let Some(a) = &q.after {
            hi = hi.min(whole_second(a.last_changed_ms).saturating_add(1000));
        }
        let mut span = INITIAL_SPAN_MS;
        let mut out: Vec<Entry> = Vec::new();
        while out.len() < q.limit && hi > floor {
            let top = hi.min(q.now_ms.saturating_add(1));
            let lo = floor.max(whole_second(top.saturating_sub(span)));
            let mut rows = self.undeliverable_slice(org_id, rules, q, lo, hi).await?;
            rows.sort_by(Entry::order);
            let found = rows.len();
            out.extend(rows);
            hi = lo;
            span = span.saturating_mul(if found == 0 { 16 } else { 4 });
        }
        out.truncate(q.limit);
        Ok(out)
    }

    /// The rows whose last_changed_at lies in [lo, hi) and that pass the query's filters.
    async fn undeliverable_slice(
        &self,
        org_id: Uuid,
        rules: &RuleSet,
        q: &ListQuery,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<Entry>, StoreError> {
        let Some((cands, args)) = candidates(org_id, q, lo, hi) else {
            return Ok(Vec::new());
        };
        let window = starts(rules.window_starts(q.retention_days, q.now_ms), None);
        let stats_sql = STATS_SQL.replace("/*candidates*/", &cands);
        let stats = bind_all(
            self.client()
                .query(&stats_sql)
                .bind(rule_map(false))
                .bind(org_id.to_string()),
            &args,
        )
        .bind(window)
        .fetch_all::<StatsRow>();
        let excl_sql =
            format!("{LATEST_EXCLUSION} WHERE org_id = ? AND email IN ({cands}) GROUP BY email");
        let excl = bind_all(
            self.client().query(&excl_sql).bind(org_id.to_string()),
            &args,
        )
        .fetch_all::<ExclusionRow>();
        let (stats, excl) = tokio::try_join!(stats, excl)?;

        let mut histories: HashMap<String, History> = HashMap::new();
        for row in stats {
            let id = row.rule;
            let h = histories
                .entry(row.email.clone())
                .or_insert_with(|| History {
                    email: row.email.clone(),
                    ..History::default()
                });
            match id {
                MARK_ID => h.marked_ms = row.ingest_ms,
                1..=6 => h.rules[usize::from(id - 1)] = Some(row.stats()),
                _ => {}
            }
        }
        let mut exclusions: HashMap<String, Exclusion> = excl
            .into_iter()
            .map(|r| (r.email.clone(), r.to_exclusion()))
            .collect();
        for email in exclusions.keys() {
            histories.entry(email.clone()).or_insert_with(|| History {
                email: email.clone(),
                ..History::default()
            });
        }
        let since = q.since_ms.unwrap_or(i64::MIN);
        let until = q.until_ms.unwrap_or(i64::MAX);
        Ok(histories
            .into_values()
            .filter_map(|h| {
                let x = exclusions.remove(&h.email);
                classify(&h, x.as_ref(), rules)
            })
            .filter(|e| {
                (lo..hi).contains(&e.last_changed_ms)
                    && e.last_changed_ms >= since
                    && e.last_changed_ms <= until
                    && q.accepts(e)
                    && q.after_cursor(e)
            })
            .collect())
    }

    async fn write_undeliverable_audit(
        &self,
        org_id: Uuid,
        at_ms: i64,
        action: &'static str,
        actor: &str,
        details: serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut insert = self.client().insert::<AuditRow>("audit_log").await?;
        insert
            .write(&AuditRow {
                id: Uuid::new_v4(),
                org_id,
                at_ms,
                action,
                actor: actor.to_owned(),
                key_id: Uuid::nil(),
                details: details.to_string(),
            })
            .await?;
        insert.end().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_follow_kinds() {
        let map = rule_map(false);
        assert_eq!(map[Kind::Permanent as usize - 1], vec![1]);
        assert_eq!(map[Kind::Transient as usize - 1], vec![4, 6]);
        assert_eq!(map[Kind::Delay as usize - 1], vec![6]);
        assert_eq!(map[Kind::RuleChange as usize - 1], vec![MARK_ID]);
        assert!(map[Kind::Exclusion as usize - 1].is_empty());
        let map = rule_map(true);
        assert_eq!(map[Kind::Transient as usize - 1], vec![4, 11, 6, 13]);
        assert_eq!(map[Kind::Undetermined as usize - 1], vec![5, 12]);
        assert_eq!(map[Kind::Permanent as usize - 1], vec![1]);
        let s = starts([1, 2, 3, 4, 5, 6], Some([10, 20, 30, 40, 50, 60]));
        assert_eq!(s.len(), 13);
        assert_eq!(
            (s[10], s[11], s[12]),
            (40, 50, 60),
            "ids 11-13 are the old thresholds"
        );
        assert_eq!(s[6], 0, "marks never age");
    }
}
