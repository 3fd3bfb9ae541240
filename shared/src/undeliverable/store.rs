//! Store access for the undeliverable list: rules (versioned), exclusions, rule-change marks and
//! the page query.
//!
//! A page is read newest-first by last_changed_at in time slices that widen until the page is
//! full. A slice [lo, hi) takes the addresses with any activity in it (event ingest, rule-change
//! mark, exclusion: every shown row has activity at exactly its last_changed_at), reads their
//! histories by primary key, classifies them, and keeps the rows whose last_changed_at falls in
//! the slice. A slice takes its most recently active addresses up to a cap and ends (on a whole second)
//! where that cap cuts; a single second holding more than the cap (a bulk replay, a rule change
//! that altered many rows) is walked in email order, which is the list's order inside a second. So a page costs what it shows, not the size of the org.

use std::collections::HashMap;

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::{
    Entry, Event, Exclusion, History, Kind, ListQuery, RuleSet, Rules, StatusFilter, action,
    classify, normalize_email, whole_second,
};
use crate::control::audit::AuditRow;
use crate::control::org::Org;
use crate::store::Store;
use crate::store::error::StoreError;
use crate::timefmt::now_ms;

/// First slice of a page (ms of last_changed_at); later slices widen ×4 (×16 after an empty one).
/// A slice never classifies more than its candidate cap, so a wide first slice costs only the
/// scan of its activity rows.
const INITIAL_SPAN_MS: i64 = 6 * 3600 * 1000;

/// Most addresses one slice classifies.
const MAX_CANDIDATES: usize = 300;

/// Fewest addresses a slice classifies (a page with filters may need many candidates per row).
const MIN_CANDIDATES: usize = 50;

/// Addresses per step when a single second holds more than [`MAX_CANDIDATES`].
const DENSE_CHUNK: usize = 200;

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

/// `('a', 'b')` from kinds (typed values only, never input).
fn kind_list(kinds: &[Kind]) -> String {
    let names: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
    format!("({})", names.join(", "))
}

/// What a placeholder of [`candidate_filter`]'s conditions takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterArg {
    OrgId,
    EmailNeedle,
}

/// The activity conditions a query's filters allow (appended after the time range) and what
/// their placeholders take, in order. None when the filters exclude every row.
fn candidate_filter(q: &ListQuery) -> Option<(String, Vec<FilterArg>)> {
    let listed = q.status != StatusFilter::Excluded;
    let excluded = q.status != StatusFilter::Listed && q.min_events <= 1;
    if !listed && !excluded {
        return None;
    }
    // A listed row's last_changed_at is an event of its reason or a mark; a tombstone's is an
    // exclusion or a mark.
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
    let mut sql = String::new();
    let mut binds = Vec::new();
    if kinds.len() < Kind::ALL.len() {
        sql.push_str(" AND kind IN ");
        sql.push_str(&kind_list(&kinds));
    }
    if q.email.is_some() {
        sql.push_str(" AND position(email, ?) > 0");
        binds.push(FilterArg::EmailNeedle);
    }
    if !listed {
        sql.push_str(" AND email IN (SELECT email FROM undeliverable_exclusions WHERE org_id = ?)");
        binds.push(FilterArg::OrgId);
    }
    Some((sql, binds))
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
        // Stamped after the (possibly long) comparison, right before the writes, and registered
        // as an in-flight batch first (crate::store::ledger), so a `?since=` poll does not read past
        // the marks' time until they are all written.
        let batch = self.register_batch().await?;
        let at = batch.stamp_ms.max(old.updated_ms + 1);
        for chunk in changed.chunks(MARK_BATCH) {
            self.renew_batch(&batch).await?;
            let mut insert = self
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
        self.close_batch(&batch).await?;
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
        // Registered as an in-flight batch before it is stamped (crate::store::ledger): a `?since=`
        // poll does not read past its time until it is written.
        let batch = self.register_batch().await?;
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
        self.write_audit(&[AuditRow::new(
            org_id,
            Uuid::nil(),
            at,
            action::EXCLUSION_ADDED,
            &row.excluded_by,
            json!({ "exclusion_id": row.id, "email": row.email, "reason": row.reason }),
        )])
        .await?;
        self.close_batch(&batch).await?;
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
    /// (whole seconds) descending, then email ascending.
    pub async fn list_undeliverable(
        &self,
        org_id: Uuid,
        rules: &RuleSet,
        q: &ListQuery,
    ) -> Result<Vec<Entry>, StoreError> {
        // Slices start on whole seconds, so a second is never split between two slices. Rows
        // more than 2 s ahead of this clock (clock skew between hosts) wait until it catches up.
        let floor = whole_second(q.since_ms.unwrap_or(0).max(0));
        let ceiling = whole_second(q.now_ms) + 2000;
        let mut hi = q
            .until_ms
            .map_or(ceiling, |u| u.saturating_add(1).min(ceiling));
        if let Some(a) = &q.after {
            hi = hi.min(whole_second(a.last_changed_ms) + 1000);
        }
        let mut span = INITIAL_SPAN_MS;
        let mut out: Vec<Entry> = Vec::new();
        while out.len() < q.limit && hi > floor {
            let need = q.limit - out.len();
            let cap = (2 * need + 10).clamp(MIN_CANDIDATES, MAX_CANDIDATES);
            let lo = floor.max(whole_second(hi - 1) - (span - 1000));
            let Some(mut cands) = self.recent_candidates(org_id, q, lo, hi, cap + 1).await? else {
                return Ok(out);
            };
            let found = cands.len();
            // With more than `cap` addresses, the slice ends where the (cap+1)-th most recent
            // one's second ends: every address active in [cut, hi) is among the first `cap`.
            let (slice_lo, mut rows) = if found <= cap {
                let emails: Vec<String> = cands.into_iter().map(|(e, _)| e).collect();
                (
                    lo,
                    self.undeliverable_rows(org_id, rules, q, &emails, lo, hi)
                        .await?,
                )
            } else {
                let cut = whole_second(cands[cap].1) + 1000;
                if cut < hi {
                    cands.truncate(cap);
                    let emails: Vec<String> = cands
                        .into_iter()
                        .filter(|(_, t)| *t >= cut)
                        .map(|(e, _)| e)
                        .collect();
                    (
                        cut,
                        self.undeliverable_rows(org_id, rules, q, &emails, cut, hi)
                            .await?,
                    )
                } else {
                    let second = whole_second(hi - 1).max(floor);
                    (
                        second,
                        self.dense_second(org_id, rules, q, second, hi, need)
                            .await?,
                    )
                }
            };
            rows.sort_by(Entry::order);
            let shown = rows.len();
            out.extend(rows);
            hi = slice_lo;
            if found == 0 {
                span = span.saturating_mul(16);
            } else if found <= cap && shown < need {
                span = span.saturating_mul(4);
            }
        }
        out.truncate(q.limit);
        Ok(out)
    }

    /// `sql(filter)` over `undeliverable_activity`, its first placeholders bound to `org_id`,
    /// `lo`, `hi` and then [`candidate_filter`]'s (None when the filters exclude every row).
    fn activity_query(
        &self,
        org_id: Uuid,
        q: &ListQuery,
        lo: i64,
        hi: i64,
        sql: impl FnOnce(&str) -> String,
    ) -> Option<clickhouse::query::Query> {
        let (filter, args) = candidate_filter(q)?;
        let mut query = self
            .client()
            .query(&sql(&filter))
            .bind(org_id.to_string())
            .bind(lo)
            .bind(hi);
        for arg in args {
            query = match arg {
                FilterArg::OrgId => query.bind(org_id.to_string()),
                FilterArg::EmailNeedle => query.bind(q.email.as_deref().unwrap_or("")),
            };
        }
        Some(query)
    }

    /// The addresses with activity in [lo, hi) that the query's filters allow, most recently
    /// active first, with their latest activity time in the slice (at most `limit`; None when
    /// the filters exclude every row).
    async fn recent_candidates(
        &self,
        org_id: Uuid,
        q: &ListQuery,
        lo: i64,
        hi: i64,
        limit: usize,
    ) -> Result<Option<Vec<(String, i64)>>, StoreError> {
        let Some(query) = self.activity_query(org_id, q, lo, hi, |filter| {
            format!(
                "SELECT email, max(ingested_ms) AS latest_ms FROM undeliverable_activity \
                 WHERE org_id = ? AND ingested_ms >= ? AND ingested_ms < ?{filter} \
                 GROUP BY email ORDER BY latest_ms DESC, email LIMIT ?"
            )
        }) else {
            return Ok(None);
        };
        Ok(Some(
            query
                .bind(limit as u64)
                .fetch_all::<(String, i64)>()
                .await?,
        ))
    }

    /// The first `limit` addresses after `after_email` (in email order) with activity in
    /// [lo, hi) that the query's filters allow (None when the filters exclude every row).
    async fn candidates_after(
        &self,
        org_id: Uuid,
        q: &ListQuery,
        lo: i64,
        hi: i64,
        after_email: &str,
        limit: usize,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let Some(query) = self.activity_query(org_id, q, lo, hi, |filter| {
            format!(
                "SELECT DISTINCT email FROM undeliverable_activity \
                 WHERE org_id = ? AND ingested_ms >= ? AND ingested_ms < ?{filter} AND email > ? \
                 ORDER BY email LIMIT ?"
            )
        }) else {
            return Ok(None);
        };
        Ok(Some(
            query
                .bind(after_email)
                .bind(limit as u64)
                .fetch_all::<String>()
                .await?,
        ))
    }

    /// The rows of `emails` whose last_changed_at lies in [lo, hi) and that pass the query's
    /// filters and cursor.
    async fn undeliverable_rows(
        &self,
        org_id: Uuid,
        rules: &RuleSet,
        q: &ListQuery,
        emails: &[String],
        lo: i64,
        hi: i64,
    ) -> Result<Vec<Entry>, StoreError> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        let okeys: Vec<String> = emails.iter().map(|e| okey(org_id, e)).collect();
        let history = self
            .client()
            .query(
                "SELECT okey, payload FROM undeliverable_history WHERE okey IN (SELECT arrayJoin(?))",
            )
            .bind(okeys)
            .fetch_all::<PayloadRow>();
        let excl_sql = format!(
            "{LATEST_EXCLUSION} WHERE org_id = ? AND email IN (SELECT arrayJoin(?)) GROUP BY email"
        );
        let excl = self
            .client()
            .query(&excl_sql)
            .bind(org_id.to_string())
            .bind(emails)
            .fetch_all::<ExclusionRow>();
        let (history, excl) = tokio::try_join!(history, excl)?;

        let mut events: HashMap<&str, Vec<Event>> = HashMap::new();
        for row in &history {
            if let Some(e) = Event::from_payload(&row.payload) {
                events.entry(email_of(&row.okey)).or_default().push(e);
            }
        }
        let mut exclusions: HashMap<String, Exclusion> = excl
            .into_iter()
            .map(|r| (r.email.clone(), r.to_exclusion()))
            .collect();
        let starts = rules.window_starts(q.retention_days, q.now_ms);
        let since = q.since_ms.unwrap_or(i64::MIN);
        let until = q.until_ms.unwrap_or(i64::MAX);
        Ok(emails
            .iter()
            .filter_map(|email| {
                let h = History::from_events(
                    email.clone(),
                    events.get(email.as_str()).map_or(&[], Vec::as_slice),
                    &starts,
                );
                classify(&h, exclusions.remove(email).as_ref(), rules)
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

    /// The rows of one second [lo, hi) that holds more candidates than a slice takes, walked in
    /// email order (the list's order within a second) until `need` rows are found.
    async fn dense_second(
        &self,
        org_id: Uuid,
        rules: &RuleSet,
        q: &ListQuery,
        lo: i64,
        hi: i64,
        need: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut after = match &q.after {
            Some(a) if whole_second(a.last_changed_ms) == lo => a.email.clone(),
            _ => String::new(),
        };
        let mut out = Vec::new();
        while out.len() < need {
            let Some(chunk) = self
                .candidates_after(org_id, q, lo, hi, &after, DENSE_CHUNK)
                .await?
            else {
                break;
            };
            let Some(last) = chunk.last().cloned() else {
                break;
            };
            out.extend(
                self.undeliverable_rows(org_id, rules, q, &chunk, lo, hi)
                    .await?,
            );
            if chunk.len() < DENSE_CHUNK {
                break;
            }
            after = last;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okeys_carry_the_org_and_the_address() {
        let org = Uuid::from_u128(7);
        let k = okey(org, "a/b@x.example");
        assert_eq!(k, format!("{org}/a/b@x.example"));
        assert_eq!(
            email_of(&k),
            "a/b@x.example",
            "only the first slash separates"
        );
        assert_eq!(
            kind_list(&[Kind::Permanent, Kind::RuleChange]),
            "('permanent', 'rule_change')"
        );
    }
}
