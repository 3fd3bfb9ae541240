//! Report reads for an exact [from, to) window. Row counts: whole past UTC days from their seals
//! (`report_day_counts`: per report group, the day's events counted by distinct id, valid while
//! the day's change counter is unchanged; crate::store::ledger), every other day and the partial days
//! at the window's edges from `events` by distinct event id, summed in one query. Distinct engaged
//! recipients (Open, Click): counted from `engaged` (one row per stored Open/Click with a 128-bit
//! hash of the lower-cased recipient); per-day counts of whole past days are cached in
//! `report_uniques_days` and reused while the day's change counter is unchanged. A second copy of
//! an event (a retried or racing INSERT) counts once everywhere. Every number equals a direct
//! count over the stored events to the millisecond.

use std::collections::BTreeMap;

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use crate::read::engaged_index::EngagedIndex;
pub use crate::read::report_filter::ReportFilter;
use crate::read::report_filter::{WholeDays, date, day_in};
use crate::store::Store;
use crate::store::sql::Sql;
use crate::timefmt::{DAY_MS, STORABLE_END_MS, TimeRange, day_of_ms, day_start_ms, now_ms};
use crate::{EventType, StoreError};

mod seals;
pub use seals::*;
mod uniques;
use uniques::*;

/// Counts of one event type in one group (a day, or a template).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeCounts {
    /// Stored rows (one per event and recipient).
    pub rows: u64,
    /// Distinct lower-cased recipients (Open and Click only; 0 otherwise).
    pub distinct_recipients: u64,
}

/// Per group key, per event type.
pub type Counts<K> = BTreeMap<K, BTreeMap<EventType, TypeCounts>>;

/// Rows of one event type in one group (a day number, or a template name).
#[derive(Debug, Deserialize, Row)]
struct GroupRow<K> {
    group_key: K,
    event_type: EventType,
    rows: u64,
}

/// How a window splits into whole days (from the rollup) and raw edge ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split {
    /// The part of the asked window reports read: 1970-01-01 to [`STORABLE_END_MS`] (day numbers
    /// and ClickHouse dates are only defined there); empty when from ≥ to.
    pub(crate) window: (i64, i64),
    /// [first, end) whole days, if any.
    pub(crate) whole: Option<(u16, u16)>,
    /// Raw millisecond ranges, each inside one day: (day, from_ms, to_ms).
    pub(crate) edges: Vec<(u16, i64, i64)>,
}

pub(crate) fn split(from_ms: i64, to_ms: i64) -> Split {
    let (from_ms, to_ms) = (from_ms.max(0), to_ms.min(STORABLE_END_MS));
    let window = (from_ms, to_ms);
    let mut edges = Vec::new();
    if from_ms >= to_ms {
        return Split {
            window,
            whole: None,
            edges,
        };
    }
    let first_whole = day_of_ms(from_ms + DAY_MS - 1); // first day starting at or after from
    let end_whole = day_of_ms(to_ms); // days before this one end at or before `to`
    if first_whole < end_whole {
        if from_ms < day_start_ms(first_whole) {
            edges.push((first_whole - 1, from_ms, day_start_ms(first_whole)));
        }
        if day_start_ms(end_whole) < to_ms {
            edges.push((end_whole, day_start_ms(end_whole), to_ms));
        }
        Split {
            window,
            whole: Some((first_whole, end_whole)),
            edges,
        }
    } else {
        // No whole day: at most two partial days.
        let mut start = from_ms;
        while start < to_ms {
            let day = day_of_ms(start);
            let end = to_ms.min(day_start_ms(day) + DAY_MS);
            edges.push((day, start, end));
            start = end;
        }
        Split {
            window,
            whole: None,
            edges,
        }
    }
}

/// What a report reads: which event types, and whether it needs the distinct engaged
/// recipients of Open and Click (the expensive part, so reports that do not show unique counts
/// skip it).
#[derive(Debug, Clone, Copy)]
pub struct Measures<'a> {
    pub types: &'a [EventType],
    pub distinct_recipients: bool,
}

pub(crate) fn type_list(types: &[EventType]) -> String {
    let names: Vec<String> = types.iter().map(|t| format!("'{}'", t.as_str())).collect();
    names.join(", ")
}

/// ` AND …` for the filters, with their values.
pub(crate) fn filter_sql(filter: &ReportFilter) -> Sql {
    let mut sql = Sql::default();
    if let Some(c) = filter.channel_id {
        sql.push(" AND channel_id = ?", [c.into()]);
    }
    if let Some(d) = &filter.sender_domain {
        sql.push(" AND sender_domain = ?", [d.into()]);
    }
    if let Some(t) = &filter.template {
        sql.push(" AND lower(template) = lower(?)", [t.into()]);
    }
    sql
}

/// `(…)`: rows of the whole `days` or inside one of the `edges` ((day, from_ms, to_ms)).
pub(crate) fn days_sql(days: &[u16], edges: &[(u16, i64, i64)]) -> Sql {
    let mut ors = Vec::new();
    if !days.is_empty() {
        ors.push(Sql::new(&day_in(days), []));
    }
    for (day, a, b) in edges {
        ors.push(Sql::new(
            "(day = toDate(?) AND occurred_ms >= ? AND occurred_ms < ?)",
            [date(*day).into(), (*a).into(), (*b).into()],
        ));
    }
    let mut sql = Sql::new("(", []);
    sql.append(Sql::join(ors, " OR ")).push(")", []);
    sql
}

/// Row counts per `key` and event type: sealed days from `report_day_counts` (their seal ids),
/// every other day and the partial edges from `events`, counted by distinct event id (a second
/// copy of an event, from a retried or racing INSERT, counts once).
fn source(
    org_id: Uuid,
    sealed: &[Uuid],
    raw_days: &[u16],
    edges: &[(u16, i64, i64)],
    filter: &ReportFilter,
    key: &str,
    types: &[EventType],
) -> Sql {
    let mut parts = Vec::new();
    let types = format!(" AND event_type IN ({})", type_list(types));
    if !sealed.is_empty() {
        let mut p = Sql::new(
            &format!(
                "SELECT {key}, event_type, n FROM report_day_counts \
                 WHERE org_id = ? AND seal_id IN (SELECT toUUID(arrayJoin(?))){types}"
            ),
            [org_id.into(), sealed.into()],
        );
        p.append(filter_sql(filter));
        parts.push(p);
    }
    if !raw_days.is_empty() || !edges.is_empty() {
        let mut p = Sql::new(
            &format!(
                "SELECT {key}, event_type, toUInt64(uniqExact(event_id)) AS n FROM events WHERE org_id = ? AND "
            ),
            [org_id.into()],
        );
        p.append(days_sql(raw_days, edges))
            .push(&types, [])
            .append(filter_sql(filter))
            .push(&format!(" GROUP BY {key}, event_type"), []);
        parts.push(p);
    }
    Sql::join(parts, " UNION ALL ")
}

impl Store {
    /// Row counts per `key` (`day` or `template`) and event type (templates exclude ''), and the
    /// change counters of the window's whole days as read before counting them (empty without
    /// whole days).
    async fn group_rows<K>(
        &self,
        org_id: Uuid,
        s: &Split,
        filter: &ReportFilter,
        key: &str,
        types: &[EventType],
    ) -> Result<(Counts<K>, BTreeMap<u16, u64>), StoreError>
    where
        K: Ord + for<'de> Deserialize<'de> + Send + 'static,
    {
        let mut out = Counts::new();
        if types.is_empty() || (s.whole.is_none() && s.edges.is_empty()) {
            return Ok((out, BTreeMap::new()));
        }
        let whole = match s.whole {
            Some((first, end)) => self.sealed_days(org_id, first, end).await?,
            None => WholeDays::default(),
        };
        let src = source(
            org_id,
            &whole.sealed,
            &whole.raw,
            &s.edges,
            filter,
            key,
            types,
        );
        if src.is_empty() {
            return Ok((out, whole.changes));
        }
        let named = if key == "template" {
            " WHERE template != ''"
        } else {
            ""
        };
        let mut sql = Sql::new(
            &format!("SELECT {key} AS group_key, event_type, sum(n) AS rows FROM ("),
            [],
        );
        sql.append(src)
            .push(&format!("){named} GROUP BY {key}, event_type"), []);
        for r in self.sql(sql).fetch_all::<GroupRow<K>>().await? {
            out.entry(r.group_key).or_default().insert(
                r.event_type,
                TypeCounts {
                    rows: r.rows,
                    distinct_recipients: 0,
                },
            );
        }
        Ok((out, whole.changes))
    }

    /// Per UTC day and event type, for events in `window`.
    ///
    /// Distinct recipients of a whole past day come from `report_uniques_days` while the day's
    /// change counter still equals the one read before they were counted (crate::store::ledger: an
    /// unchanged counter is an unchanged day); other days and the partial edge days are counted
    /// from `engaged`, and whole past days counted that way are written back for the next report.
    pub async fn daily_counts(
        &self,
        org_id: Uuid,
        window: TimeRange,
        filter: &ReportFilter,
        measures: Measures<'_>,
    ) -> Result<Counts<u16>, StoreError> {
        let (from_ms, to_ms) = window.ms();
        let s = split(from_ms, to_ms);
        let engaged = engaged_types(measures);
        if engaged.is_empty() {
            let (rows, _) = self
                .group_rows(org_id, &s, filter, "day", measures.types)
                .await?;
            return Ok(rows);
        }
        let now = now_ms();
        let today = day_of_ms(now);
        let scope = scope(filter);
        let past_whole = s
            .whole
            .map(|(a, b)| (a, b.min(today)))
            .filter(|(a, b)| a < b);
        // Row counts (with the whole days' change counters, read before the stale days are
        // counted below), cached whole days and the partial edge days, all at once.
        let ((mut out, changes), cached, edge_counts) = tokio::try_join!(
            self.group_rows(org_id, &s, filter, "day", measures.types),
            self.cached_uniques(org_id, &scope, past_whole),
            self.engaged_per_day(org_id, filter, &engaged, &[], &s.edges),
        )?;
        for r in edge_counts {
            if let Some(c) = out.get_mut(&r.day).and_then(|m| m.get_mut(&r.event_type)) {
                c.distinct_recipients = r.uniques;
            }
        }
        // Whole days whose distinct counts are missing or stale.
        let mut days = Vec::new();
        if let Some((first, end)) = s.whole {
            for day in first..end {
                let Some(types) = out.get_mut(&day) else {
                    continue;
                };
                let mut stale = false;
                for t in &engaged {
                    let Some(c) = types.get_mut(t) else { continue };
                    let now_changes = changes.get(&day).copied().unwrap_or(0);
                    match cached.get(&(day, *t)) {
                        Some(&(had, uniques)) if had == now_changes => {
                            c.distinct_recipients = uniques;
                        }
                        _ => stale = true,
                    }
                }
                if stale {
                    days.push(day);
                }
            }
        }
        let counted = self
            .engaged_per_day(org_id, filter, &engaged, &days, &[])
            .await?;
        let mut write_back = Vec::new();
        for r in counted {
            if let Some(c) = out.get_mut(&r.day).and_then(|m| m.get_mut(&r.event_type)) {
                c.distinct_recipients = r.uniques;
            }
            if r.day < today {
                write_back.push(CacheRow {
                    org_id,
                    scope: scope.clone(),
                    day: r.day,
                    event_type: r.event_type,
                    changes: changes.get(&r.day).copied().unwrap_or(0),
                    uniques: r.uniques,
                    computed_ms: u64::try_from(now).unwrap_or(0),
                });
            }
        }
        if !write_back.is_empty() {
            // Written before answering, so the next report (on any API process) finds these days;
            // a failed write only means a later report counts them again.
            if let Err(e) = self.insert_rows("report_uniques_days", &write_back).await {
                tracing::warn!(error = %e, "could not cache report uniques");
            }
        }
        Ok(out)
    }

    /// Per template (non-empty names only) and event type, over the whole window; distinct
    /// recipients are distinct over the whole window (from the in-process `index`).
    pub async fn template_counts(
        &self,
        index: &EngagedIndex,
        org_id: Uuid,
        window: TimeRange,
        filter: &ReportFilter,
        measures: Measures<'_>,
    ) -> Result<Counts<String>, StoreError> {
        let s = split(window.from.0, window.to.0);
        let (from_ms, to_ms) = s.window;
        let engaged = engaged_types(measures);
        let ((mut out, _), uniques) = tokio::try_join!(
            self.group_rows(org_id, &s, filter, "template", measures.types),
            self.engaged_per_template(index, org_id, from_ms, to_ms, filter, &engaged),
        )?;
        for r in uniques {
            if let Some(c) = out
                .get_mut(&r.template)
                .and_then(|m| m.get_mut(&r.event_type))
            {
                c.distinct_recipients = r.uniques;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
