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
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::read::engaged_index::{EngagedIndex, TemplateUniques};
pub use crate::read::report_filter::ReportFilter;
use crate::read::report_filter::{date, day_in};
use crate::store::Store;
use crate::timefmt::{DAY_MS, STORABLE_END_MS, day_of_ms, day_start_ms, now_ms};
use crate::{EventType, StoreError};

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

#[derive(Debug, Deserialize, Row)]
struct OrgDayCount {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    d: u16,
    changes: u64,
}

/// What [`Store::prepare_reports`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportsPrepared {
    /// Orgs that had days to prepare.
    pub orgs: usize,
    /// Days sealed now (their seal was missing or stale).
    pub sealed_days: usize,
}

/// Rows of one event type in one group (a day number, or a template name).
#[derive(Debug, Deserialize, Row)]
struct GroupRow<K> {
    group_key: K,
    event_type: EventType,
    rows: u64,
}

/// How a window splits into whole days (from the rollup) and raw edge ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Split {
    /// The part of the asked window reports read: 1970-01-01 to [`STORABLE_END_MS`] (day numbers
    /// and ClickHouse dates are only defined there); empty when from ≥ to.
    window: (i64, i64),
    /// [first, end) whole days, if any.
    whole: Option<(u16, u16)>,
    /// Raw millisecond ranges, each inside one day: (day, from_ms, to_ms).
    edges: Vec<(u16, i64, i64)>,
}

fn split(from_ms: i64, to_ms: i64) -> Split {
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

/// The UNION ALL source of row counts for a window: (select list, where-clause binds).
struct Source {
    sql: String,
    binds: Vec<Bind>,
}

enum Bind {
    Text(String),
    Int(i64),
    Uuids(Vec<Uuid>),
}

/// What a report reads: which event types, and whether it needs the distinct engaged
/// recipients of Open and Click (the expensive part, so reports that do not show unique counts
/// skip it).
#[derive(Debug, Clone, Copy)]
pub struct Measures<'a> {
    pub types: &'a [EventType],
    pub distinct_recipients: bool,
}

fn type_list(types: &[EventType]) -> String {
    let names: Vec<String> = types.iter().map(|t| format!("'{}'", t.as_str())).collect();
    names.join(", ")
}

/// ` AND …` for the filters, pushing their binds.
fn filter_sql(filter: &ReportFilter, binds: &mut Vec<Bind>) -> String {
    let mut sql = String::new();
    if let Some(c) = filter.channel_id {
        sql.push_str(" AND channel_id = ?");
        binds.push(Bind::Text(c.to_string()));
    }
    if let Some(d) = &filter.sender_domain {
        sql.push_str(" AND sender_domain = ?");
        binds.push(Bind::Text(d.clone()));
    }
    if let Some(t) = &filter.template {
        sql.push_str(" AND lower(template) = lower(?)");
        binds.push(Bind::Text(t.clone()));
    }
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
) -> Source {
    let mut parts = Vec::new();
    let mut binds = Vec::new();
    let types = format!(" AND event_type IN ({})", type_list(types));
    if !sealed.is_empty() {
        binds.push(Bind::Text(org_id.to_string()));
        binds.push(Bind::Uuids(sealed.to_vec()));
        let f = filter_sql(filter, &mut binds);
        parts.push(format!(
            "SELECT {key}, event_type, n FROM report_day_counts \
             WHERE org_id = ? AND seal_id IN (SELECT toUUID(arrayJoin(?))){types}{f}"
        ));
    }
    if !raw_days.is_empty() || !edges.is_empty() {
        binds.push(Bind::Text(org_id.to_string()));
        let mut ors = Vec::new();
        if !raw_days.is_empty() {
            ors.push(day_in(raw_days));
        }
        for (day, a, b) in edges {
            ors.push("(day = toDate(?) AND occurred_ms >= ? AND occurred_ms < ?)".to_owned());
            binds.push(Bind::Text(date(*day)));
            binds.push(Bind::Int(*a));
            binds.push(Bind::Int(*b));
        }
        let f = filter_sql(filter, &mut binds);
        parts.push(format!(
            "SELECT {key}, event_type, toUInt64(uniqExact(event_id)) AS n \
             FROM events WHERE org_id = ? AND ({}){types}{f} GROUP BY {key}, event_type",
            ors.join(" OR ")
        ));
    }
    Source {
        sql: parts.join(" UNION ALL "),
        binds,
    }
}

/// How a window's whole days are read: from these seals, or counted from `events`.
#[derive(Debug, Default)]
struct WholeDays {
    /// Seal ids of the days read from seals.
    sealed: Vec<Uuid>,
    /// Days counted from `events` (today and later, and days whose sealing failed).
    raw: Vec<u16>,
    /// Days sealed by this read.
    newly_sealed: usize,
    /// The days' change counters, read before any of them was counted.
    changes: BTreeMap<u16, u64>,
}

#[derive(Debug, Deserialize, Row)]
struct SealHead {
    d: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    seal_id: Uuid,
    changes: u64,
}

#[derive(Debug, Serialize, Row)]
struct SealRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    day: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    seal_id: Uuid,
    changes: u64,
    sealed_ms: i64,
}

/// A report group's rows on one day, counted for a seal.
#[derive(Debug, Serialize, Deserialize, Row)]
struct SealCount {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    day: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    seal_id: Uuid,
    event_type: EventType,
    #[serde(with = "clickhouse::serde::uuid")]
    channel_id: Uuid,
    sender_domain: String,
    template: String,
    n: u64,
}

/// The engaged types among `types` (Open and Click carry distinct recipients).
fn engaged_types(m: Measures<'_>) -> Vec<EventType> {
    if !m.distinct_recipients {
        return Vec::new();
    }
    m.types
        .iter()
        .copied()
        .filter(|t| matches!(t, EventType::Open | EventType::Click))
        .collect()
}

/// The `report_uniques_daily.scope` of a filter: its values as a JSON array (null = any).
fn scope(filter: &ReportFilter) -> String {
    serde_json::json!([
        filter.channel_id.map(|c| c.to_string()),
        filter.sender_domain,
        filter.template.as_ref().map(|t| t.to_lowercase()),
    ])
    .to_string()
}

#[derive(Debug, Deserialize, Row)]
struct CachedRow {
    day: u16,
    event_type: EventType,
    changes: u64,
    uniques: u64,
}

#[derive(Debug, Serialize, Row)]
struct CacheRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    scope: String,
    day: u16,
    event_type: EventType,
    changes: u64,
    uniques: u64,
    computed_ms: u64,
}

#[derive(Debug, Deserialize, Row)]
struct EngagedDayRow {
    day: u16,
    event_type: EventType,
    uniques: u64,
}

impl Store {
    fn report_query(&self, sql: &str, binds: Vec<Bind>) -> clickhouse::query::Query {
        let mut q = self.client().query(sql);
        for b in binds {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(i) => q.bind(i),
                Bind::Uuids(ids) => q.bind(ids.iter().map(Uuid::to_string).collect::<Vec<_>>()),
            };
        }
        q
    }

    /// Row counts per `key` (`day` or `template`) and event type; templates exclude ''.
    async fn group_rows<K>(
        &self,
        org_id: Uuid,
        s: &Split,
        filter: &ReportFilter,
        key: &str,
        types: &[EventType],
    ) -> Result<Counts<K>, StoreError>
    where
        K: Ord + for<'de> Deserialize<'de> + Send + 'static,
    {
        Ok(self
            .group_rows_and_changes(org_id, s, filter, key, types)
            .await?
            .0)
    }

    /// [`Store::group_rows`], and the change counters of the window's whole days as read before
    /// counting them (empty without whole days).
    async fn group_rows_and_changes<K>(
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
        if src.sql.is_empty() {
            return Ok((out, whole.changes));
        }
        let named = if key == "template" {
            " WHERE template != ''"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {key} AS group_key, event_type, sum(n) AS rows \
             FROM ({}){named} GROUP BY {key}, event_type",
            src.sql
        );
        for r in self
            .report_query(&sql, src.binds)
            .fetch_all::<GroupRow<K>>()
            .await?
        {
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

    /// How the whole days [first, end) are read ([`WholeDays`]). Past days without a valid seal
    /// (none yet, or the day's change counter moved since) are sealed first.
    async fn sealed_days(
        &self,
        org_id: Uuid,
        first: u16,
        end: u16,
    ) -> Result<WholeDays, StoreError> {
        let today = day_of_ms(now_ms());
        let last = end - 1;
        let (changes, heads) = tokio::try_join!(
            self.day_changes(org_id, first, last),
            self.seal_heads(org_id, first, last),
        )?;
        let mut sealed = Vec::new();
        let mut stale = Vec::new();
        let mut raw = Vec::new();
        for day in first..end {
            let want = changes.get(&day).copied().unwrap_or(0);
            match heads.get(&day) {
                Some(&(seal, had)) if had == want => sealed.push(seal),
                _ if want == 0 => {} // nothing was ever written to this day
                _ if day < today => stale.push(day),
                _ => raw.push(day),
            }
        }
        let mut newly_sealed = 0;
        if !stale.is_empty() {
            match self.seal(org_id, &stale, &changes).await {
                Ok(seals) => {
                    newly_sealed = seals.len();
                    sealed.extend(seals);
                }
                Err(e) => {
                    tracing::warn!(error = %e, days = stale.len(), "could not seal report days; counting them from events");
                    raw.extend(stale);
                }
            }
        }
        Ok(WholeDays {
            sealed,
            raw,
            newly_sealed,
            changes,
        })
    }

    /// Prepares every org's past days within its plan's retention for reports: seals the days
    /// whose seal is missing or stale and caches their unfiltered distinct engaged recipients.
    /// Which days those are takes two queries over all orgs (the change counters and the latest
    /// seals), so a pass over an unchanged store costs next to nothing. `sendops-api` runs it in
    /// the background at start and then every minute, so the first report after a restart or a
    /// bulk load (a backlog drain, a replay) reads seals instead of counting `events`.
    pub async fn prepare_reports(&self) -> Result<ReportsPrepared, StoreError> {
        let today = day_of_ms(now_ms());
        let first = today.saturating_sub(366);
        let orgs = self.list_orgs().await?;
        let (counters, seals) = tokio::try_join!(
            self.client()
                .query(
                    "SELECT org_id, toUInt16(day) AS d, sum(changes) AS changes FROM day_changes \
                     WHERE day >= toDate(?) AND day < toDate(?) GROUP BY org_id, day",
                )
                .bind(date(first))
                .bind(date(today))
                .fetch_all::<OrgDayCount>(),
            self.client()
                .query(
                    "SELECT org_id, d, tupleElement(latest, 2) AS changes FROM (\
                     SELECT org_id, toUInt16(day) AS d, argMax((seal_id, changes), sealed_ms) AS latest \
                     FROM report_day_seals WHERE day >= toDate(?) AND day < toDate(?) GROUP BY org_id, day)",
                )
                .bind(date(first))
                .bind(date(today))
                .fetch_all::<OrgDayCount>(),
        )?;
        let sealed: std::collections::HashMap<(Uuid, u16), u64> = seals
            .into_iter()
            .map(|r| ((r.org_id, r.d), r.changes))
            .collect();
        let mut stale: BTreeMap<Uuid, std::collections::BTreeSet<u16>> = BTreeMap::new();
        for r in counters {
            if sealed.get(&(r.org_id, r.d)) != Some(&r.changes) {
                stale.entry(r.org_id).or_default().insert(r.d);
            }
        }
        let mut done = ReportsPrepared::default();
        for org in orgs {
            let Some(days) = stale.remove(&org.id) else {
                continue;
            };
            let retention = u16::try_from(org.plan.retention_days()).unwrap_or(u16::MAX);
            let days: Vec<u16> = days
                .into_iter()
                .filter(|d| *d >= today.saturating_sub(retention))
                .collect();
            if days.is_empty() {
                continue;
            }
            done.orgs += 1;
            for run in days.chunks(31) {
                let (lo, hi) = (run[0], run[run.len() - 1]);
                done.sealed_days += self.sealed_days(org.id, lo, hi + 1).await?.newly_sealed;
                let engaged = [EventType::Open, EventType::Click];
                self.daily_counts(
                    org.id,
                    day_start_ms(lo),
                    day_start_ms(hi + 1),
                    &ReportFilter::default(),
                    Measures {
                        types: &engaged,
                        distinct_recipients: true,
                    },
                )
                .await?;
            }
        }
        Ok(done)
    }

    /// The latest seal of each of `org_id`'s days in [first, last]: (seal id, change counter).
    async fn seal_heads(
        &self,
        org_id: Uuid,
        first: u16,
        last: u16,
    ) -> Result<BTreeMap<u16, (Uuid, u64)>, StoreError> {
        Ok(self
            .client()
            .query(
                "SELECT d, tupleElement(latest, 1) AS seal_id, tupleElement(latest, 2) AS changes FROM (\
                 SELECT toUInt16(day) AS d, argMax((seal_id, changes), sealed_ms) AS latest \
                 FROM report_day_seals WHERE org_id = ? AND day >= toDate(?) AND day <= toDate(?) \
                 GROUP BY d)",
            )
            .bind(org_id.to_string())
            .bind(date(first))
            .bind(date(last))
            .fetch_all::<SealHead>()
            .await?
            .into_iter()
            .map(|h| (h.d, (h.seal_id, h.changes)))
            .collect())
    }

    /// Seals `days`: counts each report group's events by distinct id and writes the counts,
    /// then the seal heads with `changes` — the counters read before counting, so a batch that
    /// wrote to a day meanwhile moved its counter past the seal's and the seal is never used.
    async fn seal(
        &self,
        org_id: Uuid,
        days: &[u16],
        changes: &BTreeMap<u16, u64>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let (Some(&lo), Some(&hi)) = (days.iter().min(), days.iter().max()) else {
            return Ok(Vec::new());
        };
        let ids: BTreeMap<u16, Uuid> = days.iter().map(|&d| (d, Uuid::new_v4())).collect();
        let mut counts = self
            .client()
            .query(&format!(
                "SELECT org_id, day, toUUID('00000000-0000-0000-0000-000000000000') AS seal_id, \
                 event_type, channel_id, sender_domain, template, toUInt64(uniqExact(event_id)) AS n \
                 FROM events WHERE org_id = ? AND day >= toDate(?) AND day <= toDate(?) AND {} \
                 GROUP BY org_id, day, event_type, channel_id, sender_domain, template",
                day_in(days)
            ))
            .bind(org_id.to_string())
            .bind(date(lo))
            .bind(date(hi))
            .fetch_all::<SealCount>()
            .await?;
        for c in &mut counts {
            if let Some(id) = ids.get(&c.day) {
                c.seal_id = *id;
            }
        }
        self.insert_rows("report_day_counts", &counts).await?;
        let sealed_ms = now_ms();
        let heads: Vec<SealRow> = ids
            .iter()
            .map(|(&day, &seal_id)| SealRow {
                org_id,
                day,
                seal_id,
                changes: changes.get(&day).copied().unwrap_or(0),
                sealed_ms,
            })
            .collect();
        self.insert_rows("report_day_seals", &heads).await?;
        Ok(ids.into_values().collect())
    }

    /// Cached distinct counts of whole days [first, end) under `scope`, latest per day and type.
    async fn cached_uniques(
        &self,
        org_id: Uuid,
        scope: &str,
        days: Option<(u16, u16)>,
    ) -> Result<BTreeMap<(u16, EventType), (u64, u64)>, StoreError> {
        let Some((first, end)) = days else {
            return Ok(BTreeMap::new());
        };
        let rows = self
            .client()
            .query(
                "SELECT day, event_type, tupleElement(latest, 1) AS changes, \
                 tupleElement(latest, 2) AS uniques FROM (\
                 SELECT day, event_type, argMax((changes, uniques), computed_ms) AS latest \
                 FROM report_uniques_days WHERE org_id = ? AND scope = ? \
                 AND day >= toDate(?) AND day < toDate(?) GROUP BY day, event_type)",
            )
            .bind(org_id.to_string())
            .bind(scope)
            .bind(date(first))
            .bind(date(end))
            .fetch_all::<CachedRow>()
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ((r.day, r.event_type), (r.changes, r.uniques)))
            .collect())
    }

    /// Rows and distinct recipients per day and engaged type from `engaged`, for the whole
    /// `days` and the raw `edges`.
    async fn engaged_per_day(
        &self,
        org_id: Uuid,
        filter: &ReportFilter,
        types: &[EventType],
        days: &[u16],
        edges: &[(u16, i64, i64)],
    ) -> Result<Vec<EngagedDayRow>, StoreError> {
        let (Some(lo), Some(hi)) = (
            days.iter().chain(edges.iter().map(|e| &e.0)).min(),
            days.iter().chain(edges.iter().map(|e| &e.0)).max(),
        ) else {
            return Ok(Vec::new());
        };
        let mut binds = vec![
            Bind::Text(org_id.to_string()),
            Bind::Text(date(*lo)),
            Bind::Text(date(*hi)),
        ];
        let mut ors = Vec::new();
        if !days.is_empty() {
            ors.push(day_in(days));
        }
        for (day, a, b) in edges {
            ors.push("(day = toDate(?) AND occurred_ms >= ? AND occurred_ms < ?)".to_owned());
            binds.push(Bind::Text(date(*day)));
            binds.push(Bind::Int(*a));
            binds.push(Bind::Int(*b));
        }
        let f = filter_sql(filter, &mut binds);
        let sql = format!(
            "SELECT day, event_type, toUInt64(uniqExact(recipient_hash)) AS uniques \
             FROM engaged WHERE org_id = ? AND event_type IN ({}) \
             AND day >= toDate(?) AND day <= toDate(?) AND ({}){f} GROUP BY day, event_type",
            type_list(types),
            ors.join(" OR ")
        );
        Ok(self
            .report_query(&sql, binds)
            .fetch_all::<EngagedDayRow>()
            .await?)
    }

    /// Per UTC day and event type, for events in [from_ms, to_ms).
    ///
    /// Distinct recipients of a whole past day come from `report_uniques_days` while the day's
    /// change counter still equals the one read before they were counted (crate::store::ledger: an
    /// unchanged counter is an unchanged day); other days and the partial edge days are counted
    /// from `engaged`, and whole past days counted that way are written back for the next report.
    pub async fn daily_counts(
        &self,
        org_id: Uuid,
        from_ms: i64,
        to_ms: i64,
        filter: &ReportFilter,
        measures: Measures<'_>,
    ) -> Result<Counts<u16>, StoreError> {
        let s = split(from_ms, to_ms);
        let engaged = engaged_types(measures);
        if engaged.is_empty() {
            return self
                .group_rows(org_id, &s, filter, "day", measures.types)
                .await;
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
            self.group_rows_and_changes(org_id, &s, filter, "day", measures.types),
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
        from_ms: i64,
        to_ms: i64,
        filter: &ReportFilter,
        measures: Measures<'_>,
    ) -> Result<Counts<String>, StoreError> {
        let s = split(from_ms, to_ms);
        let (from_ms, to_ms) = s.window;
        let engaged = engaged_types(measures);
        let (mut out, uniques) = tokio::try_join!(
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

    /// Distinct recipients per template and engaged type over exactly [from_ms, to_ms): from the
    /// in-process index, or counted in ClickHouse when the window is too large for its budget.
    async fn engaged_per_template(
        &self,
        index: &EngagedIndex,
        org_id: Uuid,
        from_ms: i64,
        to_ms: i64,
        filter: &ReportFilter,
        types: &[EventType],
    ) -> Result<Vec<TemplateUniques>, StoreError> {
        if let Some(counted) = index
            .template_uniques(self, org_id, from_ms, to_ms, filter, types)
            .await?
        {
            return Ok(counted);
        }
        let mut binds = vec![
            Bind::Text(org_id.to_string()),
            Bind::Text(date(day_of_ms(from_ms))),
            Bind::Text(date(day_of_ms(to_ms - 1))),
            Bind::Int(from_ms),
            Bind::Int(to_ms),
        ];
        let f = filter_sql(filter, &mut binds);
        let sql = format!(
            "SELECT template, event_type, uniqExact(recipient_hash) AS uniques FROM engaged \
             WHERE org_id = ? AND event_type IN ({}) AND day >= toDate(?) AND day <= toDate(?) \
             AND occurred_ms >= ? AND occurred_ms < ?{f} AND template != '' \
             GROUP BY template, event_type",
            type_list(types)
        );
        Ok(self
            .report_query(&sql, binds)
            .fetch_all::<TemplateUniques>()
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_rfc3339_ms;

    fn ms(s: &str) -> i64 {
        parse_rfc3339_ms(s).unwrap()
    }

    #[test]
    fn windows_beyond_the_storable_days_are_cut_there() {
        // Both ends past the last `Date` day: nothing (this once looped forever).
        let far = split(ms("2940-10-04T08:16:41Z"), ms("2940-11-03T08:16:41Z"));
        assert_eq!(far.whole, None);
        assert!(far.edges.is_empty());
        // From now to the far future: whole days up to the last storable one, no edge past it.
        let s = split(ms("2026-11-22T10:00:00Z"), ms("2940-11-03T08:16:41Z"));
        assert_eq!(s.whole.map(|w| w.1), Some(day_of_ms(STORABLE_END_MS)));
        assert!(s.edges.iter().all(|e| e.2 <= STORABLE_END_MS));
    }

    #[test]
    fn windows_split_into_whole_days_and_edges() {
        let d = |s: &str| day_of_ms(ms(s));
        // Whole days only.
        let s = split(ms("2026-11-01T00:00:00Z"), ms("2026-11-04T00:00:00Z"));
        assert_eq!(
            s.whole,
            Some((d("2026-11-01T00:00:00Z"), d("2026-11-04T00:00:00Z")))
        );
        assert!(s.edges.is_empty());
        // Edges on both sides.
        let s = split(ms("2026-11-01T10:00:00.5Z"), ms("2026-11-04T03:00:00Z"));
        assert_eq!(
            s.whole,
            Some((d("2026-11-02T00:00:00Z"), d("2026-11-04T00:00:00Z")))
        );
        assert_eq!(
            s.edges,
            vec![
                (
                    d("2026-11-01T00:00:00Z"),
                    ms("2026-11-01T10:00:00.5Z"),
                    ms("2026-11-02T00:00:00Z")
                ),
                (
                    d("2026-11-04T00:00:00Z"),
                    ms("2026-11-04T00:00:00Z"),
                    ms("2026-11-04T03:00:00Z")
                ),
            ]
        );
        // Inside one day, and across one midnight without a whole day.
        let s = split(ms("2026-11-01T10:00:00Z"), ms("2026-11-01T11:00:00Z"));
        assert_eq!((s.whole, s.edges.len()), (None, 1));
        let s = split(ms("2026-11-01T10:00:00Z"), ms("2026-11-02T11:00:00Z"));
        assert_eq!((s.whole, s.edges.len()), (None, 2));
        assert!(split(5, 5).edges.is_empty() && split(5, 5).whole.is_none());
    }
}
