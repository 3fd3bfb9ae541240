//! Report reads: per-day, per-event-type counts and engaged-recipient sets for an exact
//! [from, to) window. Whole UTC days come from the `report_daily` rollup; the partial days at
//! the window's edges come from `events`, aggregated into the same state types and merged in one
//! query, so the numbers equal a direct count over the stored events to the millisecond.

use std::collections::BTreeMap;

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use crate::store::Store;
use crate::timefmt::{DAY_MS, day_of_ms, day_start_ms, day_to_date};
use crate::{EventType, StoreError};

/// Filters every report takes (AND-ed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub channel_id: Option<Uuid>,
    /// Lower-cased sending domain.
    pub sender_domain: Option<String>,
    /// Template name, compared case-insensitively (template performance only).
    pub template: Option<String>,
}

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
struct DayRow {
    day: u16,
    event_type: EventType,
    rows: u64,
    distinct_recipients: u64,
}

#[derive(Debug, Deserialize, Row)]
struct TemplateRow {
    template: String,
    event_type: EventType,
    rows: u64,
    distinct_recipients: u64,
}

/// How a window splits into whole days (from the rollup) and raw edge ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Split {
    /// [first, end) whole days, if any.
    whole: Option<(u16, u16)>,
    /// Raw millisecond ranges, each inside one day: (day, from_ms, to_ms).
    edges: Vec<(u16, i64, i64)>,
}

fn split(from_ms: i64, to_ms: i64) -> Split {
    let mut edges = Vec::new();
    if from_ms >= to_ms {
        return Split { whole: None, edges };
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
        Split { whole: None, edges }
    }
}

fn date(day: u16) -> String {
    day_to_date(day).to_string()
}

/// The UNION ALL source of states for a window: (select list, where-clause binds).
struct Source {
    sql: String,
    binds: Vec<Bind>,
}

enum Bind {
    Text(String),
    Int(i64),
}

/// What a report reads: which event types, and whether it needs the engaged-recipient sets
/// (reading and merging those is the expensive part, so reports that do not show unique counts
/// skip them).
#[derive(Debug, Clone, Copy)]
pub struct Measures<'a> {
    pub types: &'a [EventType],
    pub distinct_recipients: bool,
}

fn source(
    org_id: Uuid,
    from_ms: i64,
    to_ms: i64,
    filter: &ReportFilter,
    key: &str,
    m: Measures<'_>,
) -> Source {
    let s = split(from_ms, to_ms);
    let mut parts = Vec::new();
    let mut binds = Vec::new();
    let names: Vec<String> = m
        .types
        .iter()
        .map(|t| format!("'{}'", t.as_str()))
        .collect();
    let types = format!(" AND event_type IN ({})", names.join(", "));
    let (stored_engaged, raw_engaged) = if m.distinct_recipients {
        (
            ", engaged",
            ", uniqExactState(if(event_type IN ('Open', 'Click'), lower(recipient), '')) AS engaged",
        )
    } else {
        ("", "")
    };
    let filters = |binds: &mut Vec<Bind>| {
        let mut sql = types.clone();
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
    };
    if let Some((first, end)) = s.whole {
        binds.push(Bind::Text(org_id.to_string()));
        binds.push(Bind::Text(date(first)));
        binds.push(Bind::Text(date(end)));
        let f = filters(&mut binds);
        parts.push(format!(
            "SELECT {key}, event_type, n{stored_engaged} FROM report_daily \
             WHERE org_id = ? AND day >= toDate(?) AND day < toDate(?){f}"
        ));
    }
    if !s.edges.is_empty() {
        binds.push(Bind::Text(org_id.to_string()));
        let mut ors = Vec::new();
        for (day, a, b) in &s.edges {
            ors.push("(day = toDate(?) AND occurred_ms >= ? AND occurred_ms < ?)");
            binds.push(Bind::Text(date(*day)));
            binds.push(Bind::Int(*a));
            binds.push(Bind::Int(*b));
        }
        let f = filters(&mut binds);
        parts.push(format!(
            "SELECT {key}, event_type, sumState(toUInt64(1)) AS n{raw_engaged} \
             FROM events WHERE org_id = ? AND ({}){f} GROUP BY {key}, event_type",
            ors.join(" OR ")
        ));
    }
    Source {
        sql: parts.join(" UNION ALL "),
        binds,
    }
}

fn distinct_expr(m: Measures<'_>) -> &'static str {
    if m.distinct_recipients {
        "if(event_type IN ('Open', 'Click'), uniqExactMerge(engaged), toUInt64(0))"
    } else {
        "toUInt64(0)"
    }
}

impl Store {
    fn report_query(&self, sql: &str, binds: Vec<Bind>) -> clickhouse::query::Query {
        let mut q = self.client().query(sql);
        for b in binds {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(i) => q.bind(i),
            };
        }
        q
    }

    /// Per UTC day and event type, for events in [from_ms, to_ms).
    pub async fn daily_counts(
        &self,
        org_id: Uuid,
        from_ms: i64,
        to_ms: i64,
        filter: &ReportFilter,
        measures: Measures<'_>,
    ) -> Result<Counts<u16>, StoreError> {
        let src = source(org_id, from_ms, to_ms, filter, "day", measures);
        let mut out = Counts::new();
        if src.sql.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT day, event_type, sumMerge(n) AS rows, {} AS distinct_recipients \
             FROM ({}) GROUP BY day, event_type",
            distinct_expr(measures),
            src.sql
        );
        for r in self
            .report_query(&sql, src.binds)
            .fetch_all::<DayRow>()
            .await?
        {
            out.entry(r.day).or_default().insert(
                r.event_type,
                TypeCounts {
                    rows: r.rows,
                    distinct_recipients: r.distinct_recipients,
                },
            );
        }
        Ok(out)
    }

    /// Per template (non-empty names only) and event type, over the whole window; distinct
    /// recipients are distinct over the whole window.
    pub async fn template_counts(
        &self,
        org_id: Uuid,
        from_ms: i64,
        to_ms: i64,
        filter: &ReportFilter,
        measures: Measures<'_>,
    ) -> Result<Counts<String>, StoreError> {
        let src = source(org_id, from_ms, to_ms, filter, "template", measures);
        let mut out = Counts::new();
        if src.sql.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT template, event_type, sumMerge(n) AS rows, {} AS distinct_recipients \
             FROM ({}) WHERE template != '' GROUP BY template, event_type",
            distinct_expr(measures),
            src.sql
        );
        for r in self
            .report_query(&sql, src.binds)
            .fetch_all::<TemplateRow>()
            .await?
        {
            out.entry(r.template).or_default().insert(
                r.event_type,
                TypeCounts {
                    rows: r.rows,
                    distinct_recipients: r.distinct_recipients,
                },
            );
        }
        Ok(out)
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
