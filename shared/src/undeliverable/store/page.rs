//! The page query of the undeliverable list: time slices that widen until the page is full, the
//! candidates of a slice, their classification, and the walk through a dense second (the
//! parent module's top comment has the design).

use super::super::{
    Entry, Event, Exclusion, History, Kind, ListQuery, RuleSet, StatusFilter, classify,
    whole_second,
};
use super::*;
use crate::store::Store;
use crate::store::error::StoreError;
use std::collections::HashMap;
use uuid::Uuid;

/// First slice of a page (ms of last_changed_at); later slices widen ×4 (×16 after an empty one).
/// A slice never classifies more than its candidate cap, so a wide first slice costs only the
/// scan of its activity rows.
pub(crate) const INITIAL_SPAN_MS: i64 = 6 * 3600 * 1000;

/// Most addresses one slice classifies.
pub(crate) const MAX_CANDIDATES: usize = 300;

/// Fewest addresses a slice classifies (a page with filters may need many candidates per row).
pub(crate) const MIN_CANDIDATES: usize = 50;

/// Addresses per step when a single second holds more than [`MAX_CANDIDATES`].
pub(crate) const DENSE_CHUNK: usize = 200;

/// What a placeholder of [`candidate_filter`]'s conditions takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilterArg {
    OrgId,
    EmailNeedle,
}

/// The activity conditions a query's filters allow (appended after the time range) and what
/// their placeholders take, in order. None when the filters exclude every row.
pub(crate) fn candidate_filter(q: &ListQuery) -> Option<(String, Vec<FilterArg>)> {
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

impl Store {
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
    pub(crate) fn activity_query(
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
    pub(crate) async fn recent_candidates(
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
    pub(crate) async fn candidates_after(
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
    pub(crate) async fn undeliverable_rows(
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
    pub(crate) async fn dense_second(
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
