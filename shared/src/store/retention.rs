//! Retention and erasure (issue 16 item 6; `sendops-admin prune` and `sendops-admin erase`).
//!
//! [`Store::prune`] removes, per org, every row of `events` and of the tables derived from it
//! whose time lies before the org's plan retention plus [`DEFAULT_GRACE_DAYS`] (whole UTC days),
//! dropping a partition when every org with rows in it is past its cutoff for the whole
//! partition, and deleting the org's old rows otherwise (`ALTER TABLE … DELETE`, a mutation it
//! waits for). It also prunes housekeeping rows: report seals and cached uniques of pruned days,
//! `ingest_batches` rows older than a day (only the last minute is ever read), undeliverable
//! activity blocks of pruned times. The change counter of every pruned day is bumped
//! (ingest/DESIGN.md), so nothing sealed from the removed rows is used again.
//!
//! [`Store::erase_address`] removes one recipient address from an org's data: its `events` rows
//! are deleted and the address is filtered out of other rows' `destination`; index rows naming
//! it are deleted; the `messages` rows of the affected messages (whose `destination` is an
//! aggregate state that cannot be edited) are deleted and derived again from what is left in
//! `events` with the view's own SELECT; quarantine records, notices naming it are deleted and
//! audit details naming it are redacted. An audit entry with the address's SHA-256 is written.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use clickhouse::Row;
use data_encoding::HEXLOWER;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::StoreError;
use crate::control::audit::AuditRow;
use crate::control::org::Org;
use crate::store::Store;
use crate::store::migration_lock::Progress;
use crate::store::repair::DERIVED;
use crate::timefmt::{DAY_MS, day_to_date, now_ms};

mod erase;
pub use erase::{EraseSummary, email_sha256};

/// Days kept after the plan's retention before rows are pruned (so a clock difference or a
/// report over the oldest retained day never misses a row).
pub const DEFAULT_GRACE_DAYS: u32 = 7;

/// `ingest_batches` rows older than this are pruned (reads look back one minute).
const BATCHES_KEEP_MS: i64 = DAY_MS;

/// Messages whose `messages` rows one erase statement re-derives.
const MESSAGES_PER_STATEMENT: usize = 1000;

/// How long to wait for one mutation.
const MUTATION_WAIT: Duration = Duration::from_secs(3600);

/// How a table's rows are placed in time.
#[derive(Debug, Clone, Copy)]
enum Time {
    /// A `Date` column; partitioned by `toYYYYMM(day)` when `partitioned`.
    Day(&'static str),
    /// Epoch milliseconds; partitioned by `intDiv(col, 2592000000)` when `partitioned`.
    Ms(&'static str),
    /// Epoch seconds; partitioned by `intDiv(col, 2592000)` when `partitioned`.
    Seconds(&'static str),
}

/// A table pruned per org.
#[derive(Debug, Clone, Copy)]
struct Pruned {
    table: &'static str,
    time: Time,
    partitioned: bool,
    /// Extra condition on the rows pruned.
    only: Option<&'static str>,
}

const fn p(table: &'static str, time: Time, partitioned: bool) -> Pruned {
    Pruned {
        table,
        time,
        partitioned,
        only: None,
    }
}

/// Every per-org table with rows in time, and how it is pruned. `day_changes` is kept (counters
/// only grow; a pruned day's is bumped), as are `undeliverable_exclusions` (operator decisions,
/// kept forever) and the configuration tables.
const PRUNED: [Pruned; 18] = [
    p("events", Time::Day("day"), true),
    p("ingested_events", Time::Day("day"), true),
    p("message_timeline", Time::Day("day"), true),
    p("engaged", Time::Day("day"), true),
    p("engaged_recipients", Time::Day("day"), true),
    p("messages", Time::Ms("sent_ms"), true),
    p("message_recipients", Time::Ms("sent_ms"), true),
    p("message_index", Time::Ms("sent_ms"), false),
    Pruned {
        table: "undeliverable_history",
        time: Time::Ms("occurred_ms"),
        partitioned: false,
        // Rule-change and exclusion marks stay: they are the operator's record.
        only: Some("kind NOT IN ('rule_change', 'exclusion')"),
    },
    p("undeliverable_activity", Time::Ms("ingested_ms"), true),
    p(
        "undeliverable_activity_blocks",
        Time::Seconds("second"),
        true,
    ),
    p("report_day_seals", Time::Day("day"), true),
    p("report_day_counts", Time::Day("day"), true),
    p("breakdown_day_seals", Time::Day("day"), true),
    p("breakdown_day_counts", Time::Day("day"), true),
    p("report_uniques_days", Time::Day("day"), true),
    p("report_uniques_daily", Time::Day("day"), true),
    p("report_daily", Time::Day("day"), true),
];

const MONTH_MS: i64 = 2_592_000_000;

impl Pruned {
    /// `<time> < <cutoff>` for a cutoff day (code-computed literal, no user input).
    fn before(&self, cutoff_day: u16) -> String {
        let cond = match self.time {
            Time::Day(c) => format!("{c} < toDate('{}')", day_to_date(cutoff_day)),
            Time::Ms(c) => format!("{c} < {}", i64::from(cutoff_day) * DAY_MS),
            Time::Seconds(c) => format!("{c} < {}", i64::from(cutoff_day) * DAY_MS / 1000),
        };
        match self.only {
            Some(o) => format!("{cond} AND {o}"),
            None => cond,
        }
    }

    /// The partition expression of the table.
    fn partition_expr(&self) -> String {
        match self.time {
            Time::Day(c) => format!("toYYYYMM({c})"),
            Time::Ms(c) => format!("intDiv({c}, {MONTH_MS})"),
            Time::Seconds(c) => format!("intDiv({c}, {})", MONTH_MS / 1000),
        }
    }

    /// The first day after a partition (every row of the partition is before it).
    fn partition_end_day(&self, partition: i64) -> Option<i64> {
        Some(match self.time {
            Time::Day(_) => {
                let (y, m) = (partition / 100, partition % 100);
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                let first = chrono::NaiveDate::from_ymd_opt(
                    i32::try_from(y).ok()?,
                    u32::try_from(m).ok()?,
                    1,
                )?;
                (first - chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days()
            }
            Time::Ms(_) => ((partition + 1) * MONTH_MS + DAY_MS - 1).div_euclid(DAY_MS),
            Time::Seconds(_) => {
                ((partition + 1) * (MONTH_MS / 1000) * 1000 + DAY_MS - 1).div_euclid(DAY_MS)
            }
        })
    }
}

/// What to prune.
#[derive(Clone)]
pub struct PruneOptions {
    /// Only these orgs (all orgs when None).
    pub orgs: Option<Vec<Org>>,
    pub grace_days: u32,
    /// Count what would go and change nothing.
    pub dry_run: bool,
    /// "Now" (tests move it).
    pub now_ms: i64,
    pub progress: Progress,
}

/// One org's cutoff.
#[derive(Debug, Clone, Serialize)]
pub struct OrgCutoff {
    pub org: String,
    pub org_id: Uuid,
    pub plan: &'static str,
    pub retention_days: u32,
    /// First UTC day kept (rows of earlier days are pruned).
    pub keep_from: String,
}

/// What pruning did (or, dry, would do) to one table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TablePrune {
    pub partitions_dropped: Vec<String>,
    pub rows_in_dropped_partitions: u64,
    pub rows_deleted: u64,
}

/// What a prune did.
#[derive(Debug, Clone, Serialize)]
pub struct PruneSummary {
    pub dry_run: bool,
    pub grace_days: u32,
    pub orgs: Vec<OrgCutoff>,
    pub tables: BTreeMap<&'static str, TablePrune>,
    /// (org, day) change counters bumped (days whose `events` rows were removed).
    pub days_bumped: u64,
}

#[derive(Debug, Deserialize, Row)]
struct PartRow {
    partition: String,
    rows: u64,
}

#[derive(Debug, Deserialize, Row)]
struct OrgDay {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    d: u16,
}

impl Store {
    /// Runs a mutation (`ALTER TABLE … DELETE/UPDATE`) with string binds and waits until every
    /// mutation of the table is done. A replicated table (on a cluster) lists a mutation in
    /// `system.mutations` only once the replica has read it back from ZooKeeper, shortly after
    /// the `ALTER` returned: so the wait first sees a mutation it had not seen before.
    pub(crate) async fn mutate(
        &self,
        table: &str,
        sql: &str,
        binds: &[&str],
    ) -> Result<(), StoreError> {
        #[derive(Deserialize, Row)]
        struct Mutation {
            mutation_id: String,
            is_done: u8,
        }
        let table = self.physical_table(table);
        let mutations = || {
            self.client()
                .query(
                    "SELECT mutation_id, is_done FROM system.mutations \
                     WHERE database = currentDatabase() AND table = ?",
                )
                .bind(&table)
                .fetch_all::<Mutation>()
        };
        let before: HashSet<String> = mutations()
            .await?
            .into_iter()
            .map(|m| m.mutation_id)
            .collect();
        let mut q = self.client().query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        q.execute().await?;
        let started = std::time::Instant::now();
        loop {
            let now = mutations().await?;
            let seen = now.iter().any(|m| !before.contains(&m.mutation_id));
            if seen && now.iter().all(|m| m.is_done == 1) {
                return Ok(());
            }
            if started.elapsed() > MUTATION_WAIT {
                return Err(StoreError::Invalid(format!(
                    "the mutation on {table} has not finished after {MUTATION_WAIT:?} \
                     (see system.mutations)"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn count_where(
        &self,
        table: &str,
        cond: &str,
        binds: &[&str],
    ) -> Result<u64, StoreError> {
        let sql = format!("SELECT count() FROM {table} WHERE {cond}");
        let mut q = self.client().query(&sql);
        for b in binds {
            q = q.bind(*b);
        }
        Ok(q.fetch_one::<u64>().await?)
    }

    /// Removes rows older than each org's retention plus grace (module docs).
    ///
    /// On a cluster (with `CLICKHOUSE_NODES`), every shard is pruned on its first live replica's
    /// local tables (the mutations and partition drops replicate to the other replicas), each
    /// for the orgs it holds; every shard must answer, or nothing is pruned.
    pub async fn prune(&self, opts: &PruneOptions) -> Result<PruneSummary, StoreError> {
        self.mutations_allowed("prune")?;
        if !self.routes_by_org() || self.shard().is_some() {
            return self.prune_here(opts).await;
        }
        let mut stores = Vec::new();
        for s in self.shard_stores().await {
            stores.push(s?);
        }
        let orgs = match &opts.orgs {
            Some(o) => o.clone(),
            None => self.list_orgs().await?,
        };
        // Each org's shard, once.
        let mut shard_of = Vec::with_capacity(orgs.len());
        for org in &orgs {
            shard_of.push(self.route(org.id).await?.shard());
        }
        let mut summary: Option<PruneSummary> = None;
        for store in stores {
            let mine: Vec<Org> = orgs
                .iter()
                .zip(&shard_of)
                .filter(|(_, s)| **s == store.shard())
                .map(|(o, _)| o.clone())
                .collect();
            (opts.progress)(&format!("shard {}", store.shard().unwrap_or_default()));
            let part = store
                .prune_here(&PruneOptions {
                    orgs: Some(mine),
                    ..opts.clone()
                })
                .await?;
            summary = Some(match summary {
                None => part,
                Some(mut all) => {
                    all.orgs.extend(part.orgs);
                    for (name, t) in part.tables {
                        let into = all.tables.entry(name).or_default();
                        into.partitions_dropped.extend(t.partitions_dropped);
                        into.rows_in_dropped_partitions += t.rows_in_dropped_partitions;
                        into.rows_deleted += t.rows_deleted;
                    }
                    all.days_bumped += part.days_bumped;
                    all
                }
            });
        }
        let mut summary = summary.ok_or_else(|| StoreError::Unavailable("no shard".into()))?;
        // The cutoffs of every org asked for, in the order asked, whichever shard it is on.
        let order: HashMap<Uuid, usize> = orgs.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
        summary.orgs.sort_by_key(|o| order.get(&o.org_id).copied());
        Ok(summary)
    }

    async fn prune_here(&self, opts: &PruneOptions) -> Result<PruneSummary, StoreError> {
        let progress = &opts.progress;
        let only = opts.orgs.is_some();
        let orgs = match &opts.orgs {
            Some(o) => o.clone(),
            None => self.list_orgs().await?,
        };
        let today = opts.now_ms.div_euclid(DAY_MS);
        let cutoff = |org: &Org| -> u16 {
            let keep = today - i64::from(org.plan.retention_days()) - i64::from(opts.grace_days);
            u16::try_from(keep.max(0)).unwrap_or(u16::MAX)
        };
        // Every org the store knows, for the partition check (an org id without an `orgs` row
        // keeps its partitions).
        let all: BTreeMap<Uuid, u16> = self
            .list_orgs()
            .await?
            .iter()
            .map(|o| (o.id, cutoff(o)))
            .collect();
        let mut summary = PruneSummary {
            dry_run: opts.dry_run,
            grace_days: opts.grace_days,
            orgs: orgs
                .iter()
                .map(|o| OrgCutoff {
                    org: o.slug.clone(),
                    org_id: o.id,
                    plan: o.plan.as_str(),
                    retention_days: o.plan.retention_days(),
                    keep_from: day_to_date(cutoff(o)).to_string(),
                })
                .collect(),
            tables: BTreeMap::new(),
            days_bumped: 0,
        };
        let mine: BTreeSet<Uuid> = orgs.iter().map(|o| o.id).collect();
        // Days whose events go: their counters are bumped afterwards.
        let mut bump: HashSet<(Uuid, u16)> = HashSet::new();
        for org in &orgs {
            let days = self
                .client()
                .query(
                    "SELECT DISTINCT org_id, toUInt16(day) AS d FROM events \
                     WHERE org_id = ? AND day < toDate(?)",
                )
                .bind(org.id.to_string())
                .bind(day_to_date(cutoff(org)).to_string())
                .fetch_all::<OrgDay>()
                .await?;
            bump.extend(days.iter().map(|r| (r.org_id, r.d)));
        }
        for t in &PRUNED {
            let mut done = TablePrune::default();
            let mut dropped: BTreeSet<i64> = BTreeSet::new();
            if t.partitioned && t.only.is_none() {
                let parts = self
                    .client()
                    .query(
                        "SELECT partition, sum(rows) AS rows FROM system.parts \
                         WHERE database = currentDatabase() AND table = ? AND active \
                         GROUP BY partition ORDER BY partition",
                    )
                    .bind(self.physical_table(t.table))
                    .fetch_all::<PartRow>()
                    .await?;
                for part in parts {
                    let Ok(value) = part.partition.trim_matches('\'').parse::<i64>() else {
                        continue;
                    };
                    let Some(end) = t.partition_end_day(value) else {
                        continue;
                    };
                    let present: Vec<Uuid> = self
                        .client()
                        .query(&format!(
                            "SELECT DISTINCT toString(org_id) FROM {} WHERE {} = ?",
                            t.table,
                            t.partition_expr()
                        ))
                        .bind(value)
                        .fetch_all::<String>()
                        .await?
                        .iter()
                        .filter_map(|s| Uuid::parse_str(s).ok())
                        .collect();
                    let droppable = !present.is_empty()
                        && present.iter().all(|id| {
                            (!only || mine.contains(id))
                                && all.get(id).is_some_and(|&c| end <= i64::from(c))
                        });
                    if !droppable {
                        continue;
                    }
                    progress(&format!(
                        "{}: drop partition {value} ({} rows){}",
                        t.table,
                        part.rows,
                        if opts.dry_run { " [dry run]" } else { "" }
                    ));
                    if !opts.dry_run {
                        self.client()
                            .query(&format!("ALTER TABLE {} DROP PARTITION ?", t.table))
                            .bind(value)
                            .execute()
                            .await?;
                    }
                    dropped.insert(value);
                    done.partitions_dropped.push(part.partition.clone());
                    done.rows_in_dropped_partitions += part.rows;
                }
            }
            for org in &orgs {
                let mut cond = format!("org_id = ? AND {}", t.before(cutoff(org)));
                if opts.dry_run && !dropped.is_empty() {
                    let list: Vec<String> = dropped.iter().map(i64::to_string).collect();
                    cond = format!(
                        "{cond} AND {} NOT IN ({})",
                        t.partition_expr(),
                        list.join(", ")
                    );
                }
                let id = org.id.to_string();
                let n = self.count_where(t.table, &cond, &[&id]).await?;
                if n == 0 {
                    continue;
                }
                progress(&format!(
                    "{}: delete {n} rows of org {} before {}{}",
                    t.table,
                    org.slug,
                    day_to_date(cutoff(org)),
                    if opts.dry_run { " [dry run]" } else { "" }
                ));
                if !opts.dry_run {
                    self.mutate(
                        t.table,
                        &format!("ALTER TABLE {} DELETE WHERE {cond}", t.table),
                        &[&id],
                    )
                    .await?;
                }
                done.rows_deleted += n;
            }
            summary.tables.insert(t.table, done);
        }
        // The registry of batches in flight: only its last minute is ever read.
        let old = (opts.now_ms - BATCHES_KEEP_MS).to_string();
        let cond = "at_ms < toInt64(?)";
        let n = self.count_where("ingest_batches", cond, &[&old]).await?;
        if n > 0 {
            progress(&format!(
                "ingest_batches: delete {n} rows closed over a day ago"
            ));
            if !opts.dry_run {
                self.mutate(
                    "ingest_batches",
                    &format!("ALTER TABLE ingest_batches DELETE WHERE {cond}"),
                    &[&old],
                )
                .await?;
            }
        }
        summary.tables.insert(
            "ingest_batches",
            TablePrune {
                rows_deleted: n,
                ..TablePrune::default()
            },
        );
        summary.days_bumped = bump.len() as u64;
        if !opts.dry_run && !bump.is_empty() {
            progress(&format!("day_changes: bump {} days", bump.len()));
            self.bump_days(&bump).await?;
        }
        Ok(summary)
    }
}

/// The default progress sink (tracing).
pub fn log_progress() -> Progress {
    Arc::new(|line| tracing::info!(target: "sendops::retention", "{line}"))
}
