//! Repair of what the old ingest path damaged (issue 11; `sendops-admin repair`).
//!
//! Before migration 0010, an event counted as stored as soon as its row was in `events`, so a
//! store failure between the base table and its materialized views left (a) rows in `events`
//! whose derived rows are missing from some or all views, and two consumers racing on one batch
//! left (b) derived rows twice (in `undeliverable_history` without an event id, so counted twice).
//!
//! For one org and a range of UTC days, [`Store::repair_org`] feeds every table derived from
//! `events` again from `events`, with `INSERT … SELECT` statements whose SELECT is the view's
//! own (read from the migrations' text at run time, never copied) restricted to the org
//! and the days. Every target tolerates a second copy of an event's rows (migration 0010), so
//! rows already there are harmless, and so are copies of a row in `events` itself (a
//! ReplacingMergeTree before its merge). The `undeliverable_history` rows it writes carry the
//! event id, and within a content group rows with ids win over the old id-less ones
//! (`distinct_events` in crate::undeliverable), so doubled id-less rows stop counting twice.
//! Then the done markers of the range's events are written (`ingested_events`), and only then
//! the change counter of every repaired day is bumped (`day_changes`), so report seals, cached
//! unique counts and the engaged-recipient index of those days are recomputed.
//!
//! Work goes in chunks of consecutive days inside one month (one partition of `events`) of at
//! most [`RepairOptions::max_chunk_rows`] rows of `events` (a bigger single day is a chunk of
//! its own), so a big org never runs one giant query. Repair is idempotent: running it again
//! adds only copies, which every reader ignores. It may run while ingest writes: markers are
//! written only for rows stamped before every batch that was in flight when the chunk started
//! (crate::store::ledger's committed bound), because a later row may belong to an INSERT whose views
//! are not complete yet; its own batch marks it once acknowledged.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Datelike;
use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::StoreError;
use crate::store::Store;
use crate::store::migration_lock::Progress;
use crate::store::sql::Sql;
use crate::timefmt::{STORABLE_END_MS, day_of_ms, day_to_date, now_ms, parse_rfc3339_ms};

/// One table derived from `events` and the materialized view that feeds it.
#[derive(Debug, Clone, Copy)]
pub struct Derived {
    /// Target table.
    pub table: &'static str,
    /// The materialized view feeding it on insert.
    pub view: &'static str,
    /// The target's columns in the order of the view's SELECT list.
    pub columns: &'static str,
}

/// Every table derived from `events`; their views' SELECTs are read from the migrations (the
/// latest definition of each view: 0003, 0005, 0008, 0009, 0010, 0011, 0012), never copied.
pub const DERIVED: [Derived; 9] = [
    Derived {
        table: "messages",
        view: "messages_mv",
        columns: "org_id, sent_ms, message_id, channel, channel_id, template, source, \
                  sender_domain, subject, destination, status, last_event_ms",
    },
    Derived {
        table: "message_index",
        view: "message_index_mv",
        columns: "org_id, message_id, sent_ms",
    },
    Derived {
        table: "message_recipients",
        view: "message_recipients_mv",
        columns: "org_id, recipient, sent_ms, message_id",
    },
    Derived {
        table: "message_timeline",
        view: "message_timeline_mv",
        columns: "org_id, message_id, day, occurred_ms, event_type, recipient, template, \
                  bounce_type, bounce_sub_type, diagnostic, smtp_response, processing_time_ms, \
                  feedback_type, delay_type, reject_reason, ip_address, user_agent, click_url, \
                  error_message, contact_list",
    },
    Derived {
        table: "engaged",
        view: "engaged_mv",
        columns: "org_id, event_type, day, occurred_ms, channel_id, sender_domain, template, \
                  recipient_hash",
    },
    Derived {
        table: "engaged_recipients",
        view: "engaged_recipients_mv",
        columns: "org_id, event_type, day, occurred_ms, channel_id, sender_domain, template, \
                  recipient_domain, recipient_hash",
    },
    Derived {
        table: "undeliverable_history",
        view: "undeliverable_history_v2_mv",
        columns: "org_id, okey, kind, occurred_ms, payload",
    },
    Derived {
        table: "undeliverable_activity",
        view: "undeliverable_activity_mv",
        columns: "org_id, ingested_ms, email, kind",
    },
    Derived {
        table: "undeliverable_activity_blocks",
        view: "undeliverable_activity_blocks_mv",
        columns: "org_id, second, ingested_ms, emails, fences",
    },
];

/// A view's SELECT cut where a repair adds its own condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewQuery {
    /// The target table.
    pub table: String,
    /// The SELECT up to and including `FROM events`.
    pub select: String,
    /// The WHERE condition, if the view has one.
    pub condition: Option<String>,
    /// What follows the WHERE clause (GROUP BY), if anything.
    pub tail: Option<String>,
}

/// Every materialized view the migrations leave in place, by name, as its latest
/// `CREATE MATERIALIZED VIEW … TO <table> AS <select>` defines it (comment lines dropped).
pub fn live_views() -> &'static [(String, ViewQuery)] {
    static VIEWS: std::sync::LazyLock<Vec<(String, ViewQuery)>> = std::sync::LazyLock::new(|| {
        let mut views: Vec<(String, ViewQuery)> = Vec::new();
        for m in crate::store::migrations::MIGRATIONS {
            for stmt in m.sql.split(";\n") {
                let body: Vec<&str> = stmt
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                    .collect();
                let body = body.join("\n");
                let body = body.trim().trim_end_matches(';');
                if let Some(rest) = body.strip_prefix("CREATE MATERIALIZED VIEW IF NOT EXISTS ") {
                    let (name, rest) = rest.split_once(" TO ").expect("view name");
                    let (table, select) = rest.split_once(" AS").expect("view target");
                    views.retain(|v| v.0 != name);
                    views.push((name.to_owned(), split_view(table.trim(), select.trim())));
                } else if let Some(name) = body.strip_prefix("DROP TABLE IF EXISTS ") {
                    views.retain(|v| v.0 != name.trim());
                }
            }
        }
        views
    });
    &VIEWS
}

/// Cuts a view's SELECT at `FROM events`, its WHERE and its GROUP BY.
fn split_view(table: &str, select: &str) -> ViewQuery {
    const FROM: &str = "FROM events";
    let end = select.find(FROM).expect("a view reads FROM events") + FROM.len();
    let rest = select[end..].trim();
    let (condition, tail) = match rest.find("GROUP BY") {
        Some(g) => (rest[..g].trim(), Some(rest[g..].trim().to_owned())),
        None => (rest, None),
    };
    let condition = condition.strip_prefix("WHERE").map(|c| c.trim().to_owned());
    ViewQuery {
        table: table.to_owned(),
        select: select[..end].to_owned(),
        condition,
        tail,
    }
}

/// The org and day range every repair statement adds to its view's SELECT (binds: org id, first
/// date, last date).
const RANGE: &str = "org_id = ? AND day >= toDate(?) AND day <= toDate(?)";

impl Derived {
    /// The view's SELECT as the migrations define it.
    pub fn query(&self) -> &'static ViewQuery {
        live_views()
            .iter()
            .find(|v| v.0 == self.view)
            .map(|v| &v.1)
            .unwrap_or_else(|| panic!("no migration defines {}", self.view))
    }

    /// `INSERT INTO <table> (<columns>) <the view's SELECT with `filter` added to its WHERE>`.
    pub fn insert_sql(&self, filter: &str) -> String {
        let q = self.query();
        let filter = match &q.condition {
            Some(c) => format!("({c}) AND {filter}"),
            None => filter.to_owned(),
        };
        let mut sql = format!(
            "INSERT INTO {} ({}) {}\nWHERE {filter}",
            self.table, self.columns, q.select
        );
        if let Some(t) = &q.tail {
            sql.push('\n');
            sql.push_str(t);
        }
        sql
    }

    /// The view's SELECT for one org and a day range, inserted into its table.
    pub fn repair_sql(&self) -> String {
        self.insert_sql(RANGE)
    }
}

/// Done markers of the range's events (binds: org, first date, last date), to which the repair
/// adds [`MARKED_UP_TO`]; the same SELECT as migration 0010's backfill.
const MARKERS_SQL: &str = "INSERT INTO ingested_events (org_id, day, event_id) \
     SELECT org_id, day, event_id FROM events \
     WHERE org_id = ? AND day >= toDate(?) AND day <= toDate(?)";

/// Only events stamped at or before a bound (bind: the bound, epoch ms) get their done marker.
const MARKED_UP_TO: &str = " AND ingested_ms <= ?";

/// Rows (copies included) and distinct events per day of the range.
const PLAN_SQL: &str = "SELECT toUInt16(day) AS d, count() AS n, uniqExact(event_id) AS ids \
     FROM events WHERE org_id = ? AND day >= toDate(?) AND day <= toDate(?) \
     GROUP BY day ORDER BY day";

/// The first day `events` can hold (1970-01-01).
pub const FIRST_DAY: u16 = 0;
/// The last day `events` can hold (2105-12-30: ingest refuses events from 2105-12-31 on, the
/// last date ClickHouse 18.16 parses).
pub const LAST_DAY: u16 = (STORABLE_END_MS / crate::timefmt::DAY_MS - 1) as u16;

/// Parses `--from`/`--to`: an RFC 3339 timestamp, whose UTC day is returned.
pub fn parse_day(value: &str) -> Result<u16, String> {
    let ms = parse_rfc3339_ms(value).ok_or_else(|| {
        format!("{value:?} is not an RFC 3339 timestamp (e.g. 2024-03-01T00:00:00Z)")
    })?;
    let last = day_to_date(LAST_DAY);
    if !(0..STORABLE_END_MS).contains(&ms) {
        return Err(format!(
            "{value:?} is outside the days events can have (1970-01-01 to {last})"
        ));
    }
    Ok(day_of_ms(ms))
}

/// What to repair and how.
#[derive(Clone)]
pub struct RepairOptions {
    /// First UTC day (default: the org's first day with events).
    pub from_day: Option<u16>,
    /// Last UTC day, inclusive (default: the org's last day with events).
    pub to_day: Option<u16>,
    /// Most rows of `events` per chunk (a single bigger day is a chunk of its own).
    pub max_chunk_rows: u64,
    /// Progress lines (stderr in the CLI).
    pub progress: Progress,
}

impl Default for RepairOptions {
    fn default() -> Self {
        RepairOptions {
            from_day: None,
            to_day: None,
            max_chunk_rows: DEFAULT_CHUNK_ROWS,
            progress: Arc::new(|line| tracing::info!(target: "sendops::repair", "{line}")),
        }
    }
}

/// Default of [`RepairOptions::max_chunk_rows`].
pub const DEFAULT_CHUNK_ROWS: u64 = 2_000_000;

/// What a repair did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairSummary {
    pub org_id: Uuid,
    /// The day range repaired (both inclusive; None when the org has no events and none was
    /// given).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Days of the range that have events (each had its change counter bumped once).
    pub days: u64,
    /// Distinct events in the range (each has a done marker now, except rows of batches still
    /// in flight when their chunk started: their own batch marks them).
    pub events: u64,
    /// Rows of `events` read per derived table (copies not merged yet included).
    pub rows: u64,
    pub chunks: u64,
    /// SQL statements sent: the view check, the plan, and per chunk the committed-bound read,
    /// one INSERT … SELECT per derived table, the markers and the counter bump.
    pub statements: u64,
    /// The derived tables re-fed.
    pub tables: Vec<&'static str>,
}

#[derive(Debug, Deserialize, Row)]
struct DayRows {
    d: u16,
    n: u64,
    ids: u64,
}

/// Consecutive days with events inside one month, at most `max_rows` rows unless one day alone
/// has more: (first day, last day, rows).
fn chunks(days: &[DayRows], max_rows: u64) -> Vec<(u16, u16, u64, Vec<u16>)> {
    let month = |d: u16| {
        let date = day_to_date(d);
        (date.year(), date.month())
    };
    let mut out: Vec<(u16, u16, u64, Vec<u16>)> = Vec::new();
    for day in days {
        match out.last_mut() {
            Some((first, last, rows, list))
                if month(*first) == month(day.d) && *rows + day.n <= max_rows =>
            {
                *last = day.d;
                *rows += day.n;
                list.push(day.d);
            }
            _ => out.push((day.d, day.d, day.n, vec![day.d])),
        }
    }
    out
}

#[derive(Debug, Deserialize, Row)]
struct ViewName {
    name: String,
}

impl Store {
    /// Refuses a database whose materialized views are not exactly the ones [`DERIVED`] knows:
    /// one not migrated to 0010 yet, or one with a view this code would not re-feed.
    async fn check_views(&self) -> Result<(), StoreError> {
        let live: HashSet<String> = self
            .client()
            .query(
                "SELECT ?fields FROM system.tables WHERE database = currentDatabase() \
                 AND engine = 'MaterializedView'",
            )
            .fetch_all::<ViewName>()
            .await?
            .into_iter()
            .map(|v| v.name)
            .collect();
        let known: HashSet<String> = DERIVED.iter().map(|d| d.view.to_owned()).collect();
        let mut missing: Vec<&String> = known.difference(&live).collect();
        let mut unknown: Vec<&String> = live.difference(&known).collect();
        missing.sort();
        unknown.sort();
        if !missing.is_empty() {
            return Err(StoreError::Invalid(format!(
                "database {} lacks the views {missing:?}: run `sendops-admin migrate` first",
                self.database()
            )));
        }
        if !unknown.is_empty() {
            return Err(StoreError::Invalid(format!(
                "database {} has materialized views repair does not know ({unknown:?}); \
                 repair would not re-feed their tables (update shared/src/store/repair.rs)",
                self.database()
            )));
        }
        Ok(())
    }

    /// Re-feeds every table derived from `events` for `org_id`'s days in the options' range,
    /// writes the done markers of those events and bumps each of those days' change counter
    /// once (module docs).
    pub async fn repair_org(
        &self,
        org_id: Uuid,
        opts: &RepairOptions,
    ) -> Result<RepairSummary, StoreError> {
        // On a cluster: on the org's shard (its local tables and their views).
        if self.routes_by_org() && self.shard().is_none() {
            let routed = self.for_mutations(org_id, "repair").await?;
            return Box::pin(routed.repair_org(org_id, opts)).await;
        }
        self.mutations_allowed("repair")?;
        let progress = &opts.progress;
        let from = opts.from_day.unwrap_or(FIRST_DAY);
        let to = opts.to_day.unwrap_or(LAST_DAY);
        if from > to {
            return Err(StoreError::Invalid(format!(
                "--from ({}) is after --to ({})",
                day_to_date(from),
                day_to_date(to)
            )));
        }
        let mut summary = RepairSummary {
            org_id,
            from: opts.from_day.map(|d| day_to_date(d).to_string()),
            to: opts.to_day.map(|d| day_to_date(d).to_string()),
            days: 0,
            events: 0,
            rows: 0,
            chunks: 0,
            statements: 0,
            tables: DERIVED.iter().map(|d| d.table).collect(),
        };
        self.check_views().await?;
        summary.statements += 1;
        let org = org_id.to_string();
        let days = self
            .client()
            .query(PLAN_SQL)
            .bind(org.as_str())
            .bind(day_to_date(from).to_string())
            .bind(day_to_date(to).to_string())
            .fetch_all::<DayRows>()
            .await?;
        summary.statements += 1;
        if let (Some(first), Some(last)) = (days.first(), days.last()) {
            summary
                .from
                .get_or_insert_with(|| day_to_date(first.d).to_string());
            summary
                .to
                .get_or_insert_with(|| day_to_date(last.d).to_string());
        }
        summary.days = days.len() as u64;
        summary.events = days.iter().map(|d| d.ids).sum();
        summary.rows = days.iter().map(|d| d.n).sum();
        let plan = chunks(&days, opts.max_chunk_rows.max(1));
        progress(&format!(
            "org {org}: {} days with events ({} events, {} rows) in {} chunks",
            summary.days,
            summary.events,
            summary.rows,
            plan.len()
        ));
        let statements: Vec<(&str, String)> =
            DERIVED.iter().map(|d| (d.table, d.repair_sql())).collect();
        for (n, (first, last, rows, with_events)) in plan.iter().enumerate() {
            let (a, b) = (
                day_to_date(*first).to_string(),
                day_to_date(*last).to_string(),
            );
            let label = format!("chunk {}/{} ({a}..{b}, {rows} rows)", n + 1, plan.len());
            // Read before the re-feed: rows stamped up to here belong to acknowledged INSERTs
            // (or to consumers that died), so the re-feed below has seen all of them.
            let bound = self.committed_bound_ms(now_ms()).await?;
            summary.statements += 1;
            // The derived tables, then the done markers of events stamped up to the bound.
            let markers = ("ingested_events", MARKERS_SQL);
            for (table, sql) in statements
                .iter()
                .map(|(t, q)| (*t, q.as_str()))
                .chain([markers])
            {
                progress(&format!("{label}: {table}"));
                let range = [org.as_str().into(), a.as_str().into(), b.as_str().into()];
                let mut q = Sql::new(sql, range);
                if table == markers.0 {
                    q.push(MARKED_UP_TO, [bound.into()]);
                }
                self.sql(q).execute().await?;
                summary.statements += 1;
            }
            progress(&format!("{label}: day_changes"));
            let bump: HashSet<(Uuid, u16)> = with_events.iter().map(|&d| (org_id, d)).collect();
            self.bump_days(&bump).await?;
            summary.statements += 1;
            summary.chunks += 1;
        }
        progress(&format!(
            "org {org}: repaired {} days in {} chunks ({} statements)",
            summary.days, summary.chunks, summary.statements
        ));
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn squash(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn every_live_view_is_refed_and_only_those() {
        let views = live_views();
        let mut names: Vec<&str> = views.iter().map(|v| v.0.as_str()).collect();
        let mut known: Vec<&str> = DERIVED.iter().map(|d| d.view).collect();
        names.sort_unstable();
        known.sort_unstable();
        assert_eq!(names, known, "every live view is re-fed, and only those");
        for d in &DERIVED {
            assert_eq!(d.query().table, d.table, "{}", d.view);
        }
        // Dropped and redefined views are followed: 0010 replaced 0005's history view.
        assert!(!names.contains(&"undeliverable_history_mv"));
        let history = DERIVED[6].query();
        assert!(history.select.contains("toString(event_id)"), "{history:?}");
        assert!(
            history
                .condition
                .as_deref()
                .unwrap()
                .contains("'Permanent'")
        );
        assert_eq!(history.tail, None);
    }

    #[test]
    fn repair_sql_filters_org_and_days_before_grouping() {
        let messages = DERIVED[0].repair_sql();
        assert!(messages.starts_with("INSERT INTO messages (org_id, sent_ms, message_id,"));
        assert!(squash(&messages).ends_with(
            "FROM events WHERE org_id = ? AND day >= toDate(?) AND day <= toDate(?) \
             GROUP BY org_id, sent_ms, message_id"
        ));
        let engaged = DERIVED[4].repair_sql();
        assert!(squash(&engaged).ends_with(
            "FROM events WHERE (event_type IN ('Open', 'Click')) AND org_id = ? \
             AND day >= toDate(?) AND day <= toDate(?)"
        ));
        for d in &DERIVED {
            assert_eq!(d.repair_sql().matches('?').count(), 3, "{}", d.table);
            let listed = d.columns.split(',').count();
            assert!(listed >= 3, "{}", d.table);
        }
    }

    #[test]
    fn chunks_stay_in_a_month_and_under_the_row_budget() {
        let day = |y, m, d| {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as u16
        };
        let rows = |d: u16, n: u64| DayRows { d, n, ids: n };
        let days = vec![
            rows(day(2024, 1, 30), 10),
            rows(day(2024, 1, 31), 10),
            rows(day(2024, 2, 1), 10),
            rows(day(2024, 2, 3), 25),
            rows(day(2024, 2, 4), 100),
            rows(day(2024, 2, 5), 1),
        ];
        let got: Vec<(u16, u16, u64, usize)> = chunks(&days, 50)
            .into_iter()
            .map(|(a, b, n, list)| (a, b, n, list.len()))
            .collect();
        assert_eq!(
            got,
            vec![
                (day(2024, 1, 30), day(2024, 1, 31), 20, 2),
                (day(2024, 2, 1), day(2024, 2, 3), 35, 2),
                (day(2024, 2, 4), day(2024, 2, 4), 100, 1),
                (day(2024, 2, 5), day(2024, 2, 5), 1, 1),
            ]
        );
        assert!(chunks(&[], 50).is_empty());
    }

    #[test]
    fn days_parse_from_rfc3339_and_refuse_the_rest() {
        assert_eq!(parse_day("1970-01-02T00:00:00Z"), Ok(1));
        assert_eq!(parse_day("1970-01-01T23:59:59.999Z"), Ok(0));
        // The UTC day of the instant, whatever the offset.
        assert_eq!(parse_day("1970-01-02T01:00:00+02:00"), Ok(0));
        assert!(
            parse_day("2024-13-01T00:00:00Z")
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert!(parse_day("yesterday").unwrap_err().contains("RFC 3339"));
        assert!(
            parse_day("1969-12-31T23:59:59Z")
                .unwrap_err()
                .contains("outside")
        );
        assert!(
            parse_day("2105-12-31T00:00:00Z")
                .unwrap_err()
                .contains("outside")
        );
        assert_eq!(parse_day("2105-12-30T12:00:00Z"), Ok(LAST_DAY));
        assert_eq!(day_to_date(LAST_DAY).to_string(), "2105-12-30");
    }
}
