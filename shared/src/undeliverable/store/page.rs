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
use crate::store::sql::Sql;
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

/// The activity conditions a query's filters allow (appended after the time range), with their
/// values. None when the filters exclude every row.
pub(crate) fn candidate_filter(org_id: Uuid, q: &ListQuery) -> Option<Sql> {
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
    let mut sql = Sql::default();
    if kinds.len() < Kind::ALL.len() {
        sql.push(&format!(" AND kind IN {}", kind_list(&kinds)), []);
    }
    if let Some(needle) = &q.email {
        sql.push(" AND position(email, ?) > 0", [needle.into()]);
    }
    if !listed {
        sql.push(
            " AND email IN (SELECT email FROM undeliverable_exclusions WHERE org_id = ?)",
            [org_id.into()],
        );
    }
    Some(sql)
}

/// The smallest fence greater than `after` over every write's fences (each sorted ascending),
/// or None when no write has one (each then holds at most [`DENSE_CHUNK`] addresses after it).
pub(crate) fn next_fence<'a>(fences: &'a [Vec<String>], after: &str) -> Option<&'a str> {
    fences
        .iter()
        .filter_map(|f| {
            let i = f.partition_point(|x| x.as_str() <= after);
            f.get(i).map(String::as_str)
        })
        .min()
}

/// The distinct addresses of a write in email order, and every [`DENSE_CHUNK`]-th of them
/// (1-based positions DENSE_CHUNK, 2 × DENSE_CHUNK, …) as migration 0011's view computes them
/// for ingested events.
pub(crate) fn distinct_and_fences<'a>(emails: &[&'a str]) -> (Vec<&'a str>, Vec<String>) {
    let mut sorted: Vec<&str> = emails.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let fences = sorted
        .iter()
        .skip(DENSE_CHUNK - 1)
        .step_by(DENSE_CHUNK)
        .map(|e| (*e).to_owned())
        .collect();
    (sorted, fences)
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
            let cap = (2 * need + 10).clamp(MIN_CANDIDATES, MAX_CANDIDATES) as u64;
            let lo = floor.max(whole_second(hi - 1) - (span - 1000));
            if candidate_filter(org_id, q).is_none() {
                return Ok(out);
            }
            // The seconds of [lo, hi) that hold activity, newest first, with how many addresses
            // their writes hold; whole seconds are taken while their addresses fit the cap.
            let seconds = self
                .activity_seconds(org_id, lo, hi, cap as usize + 1)
                .await?;
            if seconds.is_empty() {
                hi = lo;
                span = span.saturating_mul(16);
                continue;
            }
            let mut taken = 0u64;
            let mut last_taken = None;
            for &(second, emails) in &seconds {
                if taken + emails > cap {
                    break;
                }
                taken += emails;
                last_taken = Some(second);
            }
            let every_second =
                seconds.len() <= cap as usize && last_taken == seconds.last().map(|s| s.0);
            let (slice_lo, mut rows) = match last_taken {
                // The newest second alone holds more than the cap (a bulk replay, a rule change
                // that altered many rows): walked in email order, the list's order inside it.
                None => {
                    let second = seconds[0].0.max(floor);
                    let end = (second + 1000).min(hi);
                    (
                        second,
                        self.dense_second(org_id, rules, q, second, end, need)
                            .await?,
                    )
                }
                Some(second) => {
                    let slice_lo = if every_second { lo } else { second };
                    let emails = self.slice_candidates(org_id, q, slice_lo, hi).await?;
                    (
                        slice_lo,
                        self.undeliverable_rows(org_id, rules, q, &emails, slice_lo, hi)
                            .await?,
                    )
                }
            };
            rows.sort_by(Entry::order);
            let shown = rows.len();
            out.extend(rows);
            hi = slice_lo;
            if every_second && shown < need {
                span = span.saturating_mul(4);
            }
        }
        out.truncate(q.limit);
        Ok(out)
    }

    /// The distinct addresses with activity in [lo, hi) that the query's filters allow (None
    /// when the filters exclude every row); callers append order and limits.
    pub(crate) fn activity_query(org_id: Uuid, q: &ListQuery, lo: i64, hi: i64) -> Option<Sql> {
        let filter = candidate_filter(org_id, q)?;
        let mut sql = Sql::new(
            "SELECT DISTINCT email FROM undeliverable_activity \
             WHERE org_id = ? AND ingested_ms >= ? AND ingested_ms < ?",
            [org_id.into(), lo.into(), hi.into()],
        );
        sql.append(filter);
        Some(sql)
    }

    /// The seconds in [lo, hi) that hold activity, newest first (at most `limit`), each as its
    /// start (ms) and the number of addresses its writes hold (`undeliverable_activity_blocks`;
    /// an address written twice counts twice, which only makes slices narrower).
    pub(crate) async fn activity_seconds(
        &self,
        org_id: Uuid,
        lo: i64,
        hi: i64,
        limit: usize,
    ) -> Result<Vec<(i64, u64)>, StoreError> {
        let rows = self
            .client()
            .query(
                "SELECT second, sum(emails) AS n FROM undeliverable_activity_blocks \
                 WHERE org_id = ? AND second >= ? AND second < ? \
                 GROUP BY second ORDER BY second DESC LIMIT ?",
            )
            .bind(org_id.to_string())
            .bind(lo.div_euclid(1000))
            .bind((hi + 999).div_euclid(1000))
            .bind(limit as u64)
            .fetch_all::<(i64, u64)>()
            .await?;
        Ok(rows.into_iter().map(|(s, n)| (s * 1000, n)).collect())
    }

    /// The addresses with activity in [lo, hi) that the query's filters allow (the caller knows
    /// from [`Store::activity_seconds`] that the slice holds at most its cap).
    pub(crate) async fn slice_candidates(
        &self,
        org_id: Uuid,
        q: &ListQuery,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<String>, StoreError> {
        let Some(sql) = Store::activity_query(org_id, q, lo, hi) else {
            return Ok(Vec::new());
        };
        Ok(self.sql(sql).fetch_all::<String>().await?)
    }

    /// The fences of every write in the second starting at `second_ms`: every
    /// [`DENSE_CHUNK`]-th of its addresses in email order.
    async fn second_fences(
        &self,
        org_id: Uuid,
        second_ms: i64,
    ) -> Result<Vec<Vec<String>>, StoreError> {
        Ok(self
            .client()
            .query(
                "SELECT fences FROM undeliverable_activity_blocks \
                 WHERE org_id = ? AND second = ? AND notEmpty(fences)",
            )
            .bind(org_id.to_string())
            .bind(second_ms.div_euclid(1000))
            .fetch_all::<Vec<String>>()
            .await?)
    }

    /// The first `limit` addresses after `after_email` and at or before `upto` (in email order)
    /// with activity in [lo, hi) that the query's filters allow (None when the filters exclude
    /// every row).
    pub(crate) async fn candidates_after(
        &self,
        org_id: Uuid,
        q: &ListQuery,
        (lo, hi): (i64, i64),
        after_email: &str,
        upto: Option<&str>,
        limit: usize,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let Some(mut sql) = Store::activity_query(org_id, q, lo, hi) else {
            return Ok(None);
        };
        sql.push(" AND email > ?", [after_email.into()]);
        if let Some(upto) = upto {
            sql.push(" AND email <= ?", [upto.into()]);
        }
        sql.push(" ORDER BY email LIMIT ?", [(limit as u64).into()]);
        Ok(Some(self.sql(sql).fetch_all::<String>().await?))
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
            .query("SELECT ?fields FROM undeliverable_history WHERE okey IN (SELECT arrayJoin(?))")
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
    /// email order (the list's order within a second) until `need` rows are found. Each step
    /// reads the addresses after the last one seen up to the smallest fence after it: no write
    /// holds more than [`DENSE_CHUNK`] addresses in that range, so a step reads a bounded number
    /// of activity rows however many addresses share the second.
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
        let fences = self.second_fences(org_id, lo).await?;
        let mut out = Vec::new();
        while out.len() < need {
            let upto = next_fence(&fences, &after).map(str::to_owned);
            let Some(chunk) = self
                .candidates_after(org_id, q, (lo, hi), &after, upto.as_deref(), DENSE_CHUNK)
                .await?
            else {
                break;
            };
            out.extend(
                self.undeliverable_rows(org_id, rules, q, &chunk, lo, hi)
                    .await?,
            );
            after = match (chunk.last(), upto) {
                // A full chunk: go on after its last address.
                (Some(last), _) if chunk.len() == DENSE_CHUNK => last.clone(),
                // Everything up to the fence was read.
                (_, Some(upto)) => upto,
                // No fence left and a short chunk: the second is done.
                _ => break,
            };
        }
        Ok(out)
    }
}
