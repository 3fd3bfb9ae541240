//! The migration runner: applies the files of [`MIGRATIONS`] that a database lacks, safely when
//! several deploys run it at once and when an earlier run died half-way.
//!
//! - **One runner at a time.** Everything below happens under the lease of
//!   [`crate::store::migration_lock`]; a process that finds it held waits (bounded, progress lines on
//!   stderr), then applies only what is still pending.
//! - **Checksums.** The SHA-256 of each file's text is recorded when it is applied
//!   (`schema_migrations_checksums`). A recorded migration whose file now has another checksum is
//!   refused, naming the migration and both checksums: applied migrations are append-only. A
//!   database migrated before checksums existed has none recorded; the first run records the
//!   files' current checksums (trust on first use) and checks them from then on.
//! - **Statement by statement.** A migration runs statement by statement and each completed
//!   statement is recorded (`schema_migrations_steps`), so a rerun after a failure resumes after
//!   the last completed one. Statements other than backfills must be idempotent (`IF NOT EXISTS`,
//!   `IF EXISTS`): the one that was running when a process died runs again.
//! - **Backfills.** Every `INSERT INTO <table> … SELECT` statement is a backfill. It never writes
//!   into its target directly: the runner creates a staging table `schema_migrations_staging_
//!   <version>_<statement>` with the target's structure and engine (`CREATE TABLE … AS`), runs
//!   the INSERT into it, records `staged`, then moves the staged rows into the target a
//!   partition at a time (`ATTACH PARTITION ID … FROM`, then `DROP PARTITION` of the staging
//!   table), recording `attaching:<id>` before and `attached:<id>` after each attach. A backfill
//!   killed while it runs left rows only in the staging table, which the rerun drops and fills
//!   again; a completed one is never repeated. The one window left is a process dying between
//!   an ATTACH and its `attached` record (milliseconds, against minutes of backfill): the rerun
//!   cannot tell whether that partition reached the target, so it stops and names the partition
//!   and both ways to resolve it, rather than guess and double or drop rows. A backfill's target
//!   must not feed a materialized view (ATTACH does not trigger views).
//!   The runner cannot stop a file from double-counting rows that ingest writes between a new
//!   view's creation and its backfill's snapshot; a migration that backfills next to a live
//!   view must target a table that tolerates a second copy of a row (0010 does).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use clickhouse::Row;
use data_encoding::HEXLOWER;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Store;
use crate::store::error::StoreError;
use crate::store::migration_lock::{LOCK_TABLE_DDL, Lease, LeaseTimes, Progress};
use crate::store::migrations::{MIGRATIONS, Migration};
use crate::timefmt::{format_ms, now_ms};

/// The runner's bookkeeping tables, created before it asks for the lock.
const BOOKKEEPING_DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_ms Int64) \
     ENGINE = ReplacingMergeTree() ORDER BY version",
    "CREATE TABLE IF NOT EXISTS schema_migrations_checksums (version UInt32, checksum String, \
     recorded_ms Int64) ENGINE = ReplacingMergeTree(recorded_ms) ORDER BY version",
    "CREATE TABLE IF NOT EXISTS schema_migrations_steps (version UInt32, statement UInt32, \
     step String, checksum String, owner String, at_ms Int64) \
     ENGINE = MergeTree() ORDER BY (version, statement, at_ms)",
    LOCK_TABLE_DDL,
];

/// The SHA-256 of a migration file's text, in lower-case hex.
pub fn checksum(sql: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(sql.as_bytes()))
}

/// Whether a statement is a backfill (`INSERT INTO <table> …`), and its target table.
pub fn backfill_target(stmt: &str) -> Option<&str> {
    let rest = strip_prefix_ci(stmt.trim_start(), "INSERT")?;
    let rest = strip_prefix_ci(rest.trim_start(), "INTO")?.trim_start();
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '(')
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    let after = &s[prefix.len()..];
    (head.eq_ignore_ascii_case(prefix) && after.starts_with(char::is_whitespace)).then_some(after)
}

/// The staging table of statement `index` (1-based) of migration `version`.
fn staging_table(version: u32, index: usize) -> String {
    format!("schema_migrations_staging_{version:04}_{index}")
}

/// Where a test makes the runner stop as if its process had been killed (feature `testing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopPoint {
    /// After statement `index` completed and was recorded.
    AfterStatement,
    /// After a backfill's INSERT into its staging table, before `staged` was recorded.
    AfterStaging,
    /// After the first partition of a backfill was attached and recorded.
    AfterFirstAttach,
}

/// How [`Store::migrate_with`] runs.
#[derive(Clone)]
pub struct MigrateOptions {
    /// Apply migrations up to and including this version only.
    pub target: Option<u32>,
    pub lease: LeaseTimes,
    /// A "still running" line this often during a long statement.
    pub heartbeat: Duration,
    pub progress: Progress,
    stop: Option<(u32, usize, StopPoint)>,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            target: None,
            lease: LeaseTimes {
                ttl: Duration::from_secs(60),
                wait: Duration::from_secs(15 * 60),
                poll: Duration::from_millis(500),
            },
            heartbeat: Duration::from_secs(10),
            progress: Arc::new(|line| tracing::info!(target: "sendops::migrate", "{line}")),
            stop: None,
        }
    }
}

impl MigrateOptions {
    /// Stops (without releasing the lock, as a killed process would) at `point` of statement
    /// `index` (1-based) of migration `version`; the call returns an error.
    #[cfg(feature = "testing")]
    pub fn stop_at(mut self, version: u32, index: usize, point: StopPoint) -> Self {
        self.stop = Some((version, index, point));
        self
    }

    fn stops(&self, version: u32, index: usize, point: StopPoint) -> bool {
        self.stop == Some((version, index, point))
    }
}

/// An applied migration, as `migrate --status` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: u32,
    pub name: String,
    /// None for a migration applied before checksums were recorded (until the next migrate).
    pub checksum: Option<String>,
    pub applied_at: String,
}

/// A migration this database lacks.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PendingMigration {
    pub version: u32,
    pub name: String,
    pub checksum: String,
    pub statements: usize,
    /// Statements an interrupted run already completed (they are not run again).
    pub completed_statements: usize,
}

/// An applied migration whose file has changed since.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChecksumMismatch {
    pub version: u32,
    pub name: String,
    pub recorded: String,
    pub current: String,
}

impl ChecksumMismatch {
    fn message(&self) -> String {
        format!(
            "migration {} was applied with checksum {} but shared/migrations/{}.sql now has \
             checksum {}: applied migrations are append-only; restore the file and put the change \
             in a new migration",
            self.name, self.recorded, self.name, self.current
        )
    }
}

/// `sendops-admin migrate --status`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MigrationStatus {
    pub applied: Vec<AppliedMigration>,
    pub pending: Vec<PendingMigration>,
    pub mismatches: Vec<ChecksumMismatch>,
}

/// One statement of a pending migration, as `migrate --dry-run` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlannedStatement {
    /// 1-based.
    pub index: usize,
    pub sql: String,
    /// The target table when the statement is a backfill (run through a staging table).
    pub backfill: Option<String>,
    /// Completed by an interrupted run (skipped).
    pub done: bool,
}

/// A pending migration and its statements, as `migrate --dry-run` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlannedMigration {
    pub version: u32,
    pub name: String,
    pub checksum: String,
    pub statements: Vec<PlannedStatement>,
}

#[derive(Row, Deserialize)]
struct AppliedRow {
    version: u32,
    name: String,
    applied_ms: i64,
}

#[derive(Row, Deserialize)]
struct ChecksumRow {
    version: u32,
    checksum: String,
}

#[derive(Row, Deserialize)]
struct StepRow {
    version: u32,
    statement: u32,
    step: String,
    checksum: String,
}

#[derive(Row, Deserialize)]
struct NameRow {
    name: String,
}

/// What the bookkeeping tables say.
#[derive(Default)]
struct Recorded {
    applied: BTreeMap<u32, (String, i64)>,
    checksums: HashMap<u32, String>,
    /// version → statement → steps recorded for it.
    steps: HashMap<u32, HashMap<u32, Vec<(String, String)>>>,
}

impl Recorded {
    fn mismatches(&self) -> Vec<ChecksumMismatch> {
        MIGRATIONS
            .iter()
            .filter(|m| self.applied.contains_key(&m.version))
            .filter_map(|m| {
                let recorded = self.checksums.get(&m.version)?;
                let current = checksum(m.sql);
                (*recorded != current).then(|| ChecksumMismatch {
                    version: m.version,
                    name: m.name.to_owned(),
                    recorded: recorded.clone(),
                    current,
                })
            })
            .collect()
    }

    fn steps_of(&self, version: u32, index: usize) -> &[(String, String)] {
        self.steps
            .get(&version)
            .and_then(|s| s.get(&(index as u32)))
            .map_or(&[], Vec::as_slice)
    }

    fn done(&self, version: u32, index: usize) -> bool {
        self.steps_of(version, index)
            .iter()
            .any(|(s, _)| s == "done")
    }

    fn has_step(&self, version: u32, index: usize, step: &str) -> bool {
        self.steps_of(version, index).iter().any(|(s, _)| s == step)
    }

    /// A partly applied migration whose steps were recorded from another file text.
    fn partial_mismatch(&self, m: &Migration) -> Option<ChecksumMismatch> {
        let current = checksum(m.sql);
        let other = self
            .steps
            .get(&m.version)?
            .values()
            .flatten()
            .find(|(_, c)| *c != current)?;
        Some(ChecksumMismatch {
            version: m.version,
            name: m.name.to_owned(),
            recorded: other.1.clone(),
            current,
        })
    }
}

fn up_to(target: Option<u32>) -> impl Iterator<Item = &'static Migration> {
    MIGRATIONS
        .iter()
        .filter(move |m| target.is_none_or(|t| m.version <= t))
}

/// Why a run stopped without finishing.
enum Stop {
    Failed(StoreError),
    /// A test's stop point: leave the lock to expire, as a killed process would.
    Killed,
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Failed(e)
    }
}

impl Store {
    /// Applies the migrations this database lacks, in order (see the module docs); returns the
    /// names applied by this call.
    pub async fn migrate(&self) -> Result<Vec<&'static str>, StoreError> {
        self.migrate_with(&MigrateOptions::default()).await
    }

    /// [`Store::migrate`] with a target version, lease times and a progress sink.
    pub async fn migrate_with(
        &self,
        opts: &MigrateOptions,
    ) -> Result<Vec<&'static str>, StoreError> {
        self.create_database().await?;
        for ddl in BOOKKEEPING_DDL {
            self.create_if_missing(ddl).await?;
        }
        let lease = Lease::acquire(self.client(), opts.lease, &opts.progress).await?;
        match self.apply_locked(&lease, opts).await {
            Ok(applied) => {
                lease.release().await;
                Ok(applied)
            }
            Err(Stop::Failed(e)) => {
                lease.release().await;
                Err(e)
            }
            Err(Stop::Killed) => {
                lease.abandon();
                Err(StoreError::Unavailable(
                    "migrate stopped at a test's stop point".into(),
                ))
            }
        }
    }

    /// Versions of the applied migrations.
    pub async fn applied_migrations(&self) -> Result<Vec<u32>, StoreError> {
        Ok(self.recorded().await?.applied.into_keys().collect())
    }

    /// Applied and pending migrations and checksum mismatches; changes nothing (a database that
    /// does not exist yet has everything pending).
    pub async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        let rec = self.recorded().await?;
        let applied = rec
            .applied
            .iter()
            .map(|(&version, (name, applied_ms))| AppliedMigration {
                version,
                name: name.clone(),
                checksum: rec.checksums.get(&version).cloned(),
                applied_at: format_ms(*applied_ms),
            })
            .collect();
        let pending = up_to(None)
            .filter(|m| !rec.applied.contains_key(&m.version))
            .map(|m| {
                let statements = m.statements().len();
                PendingMigration {
                    version: m.version,
                    name: m.name.to_owned(),
                    checksum: checksum(m.sql),
                    statements,
                    completed_statements: (1..=statements)
                        .filter(|&i| rec.done(m.version, i))
                        .count(),
                }
            })
            .collect();
        let mut mismatches = rec.mismatches();
        mismatches.extend(
            up_to(None)
                .filter(|m| !rec.applied.contains_key(&m.version))
                .filter_map(|m| rec.partial_mismatch(m)),
        );
        Ok(MigrationStatus {
            applied,
            pending,
            mismatches,
        })
    }

    /// What `migrate` would run: the pending migrations with their statements; changes nothing.
    pub async fn migration_plan(
        &self,
        target: Option<u32>,
    ) -> Result<Vec<PlannedMigration>, StoreError> {
        let rec = self.recorded().await?;
        Ok(up_to(target)
            .filter(|m| !rec.applied.contains_key(&m.version))
            .map(|m| PlannedMigration {
                version: m.version,
                name: m.name.to_owned(),
                checksum: checksum(m.sql),
                statements: m
                    .statements()
                    .into_iter()
                    .enumerate()
                    .map(|(i, sql)| PlannedStatement {
                        index: i + 1,
                        backfill: backfill_target(&sql).map(str::to_owned),
                        done: rec.done(m.version, i + 1),
                        sql,
                    })
                    .collect(),
            })
            .collect())
    }

    /// Runs a `CREATE … IF NOT EXISTS`, tolerating a concurrent creator winning the race.
    async fn create_if_missing(&self, ddl: &str) -> Result<(), StoreError> {
        match self.client().query(ddl).execute().await {
            Ok(()) => Ok(()),
            Err(e) if e.to_string().contains("already exists") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The bookkeeping tables that exist in this database (none when it does not exist).
    async fn bookkeeping_tables(&self) -> Result<HashSet<String>, StoreError> {
        let rows = self
            .client()
            .clone()
            .with_database("system")
            .query(
                "SELECT name FROM system.tables WHERE database = ? AND name IN \
                 ('schema_migrations', 'schema_migrations_checksums', 'schema_migrations_steps')",
            )
            .bind(self.database())
            .fetch_all::<NameRow>()
            .await?;
        Ok(rows.into_iter().map(|r| r.name).collect())
    }

    async fn recorded(&self) -> Result<Recorded, StoreError> {
        let tables = self.bookkeeping_tables().await?;
        let mut rec = Recorded::default();
        if tables.contains("schema_migrations") {
            for r in self
                .client()
                .query(
                    "SELECT version, any(name) AS mig_name, min(applied_ms) AS mig_applied_ms \
                     FROM schema_migrations GROUP BY version",
                )
                .fetch_all::<AppliedRow>()
                .await?
            {
                rec.applied.insert(r.version, (r.name, r.applied_ms));
            }
        }
        if tables.contains("schema_migrations_checksums") {
            for r in self
                .client()
                .query(
                    "SELECT version, argMax(checksum, recorded_ms) AS recorded_checksum \
                     FROM schema_migrations_checksums GROUP BY version",
                )
                .fetch_all::<ChecksumRow>()
                .await?
            {
                rec.checksums.insert(r.version, r.checksum);
            }
        }
        if tables.contains("schema_migrations_steps") {
            for r in self
                .client()
                .query(
                    "SELECT version, statement, step, checksum FROM schema_migrations_steps \
                     ORDER BY version, statement, at_ms",
                )
                .fetch_all::<StepRow>()
                .await?
            {
                rec.steps
                    .entry(r.version)
                    .or_default()
                    .entry(r.statement)
                    .or_default()
                    .push((r.step, r.checksum));
            }
        }
        Ok(rec)
    }

    async fn record_step(
        &self,
        lease: &Lease,
        m: &Migration,
        index: usize,
        step: &str,
    ) -> Result<(), StoreError> {
        self.client()
            .query(
                "INSERT INTO schema_migrations_steps (version, statement, step, checksum, owner, at_ms) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(m.version)
            .bind(index as u32)
            .bind(step)
            .bind(checksum(m.sql))
            .bind(lease.claim_id().to_string())
            .bind(now_ms())
            .execute()
            .await?;
        Ok(())
    }

    async fn record_checksum(&self, version: u32, sum: &str) -> Result<(), StoreError> {
        self.client()
            .query(
                "INSERT INTO schema_migrations_checksums (version, checksum, recorded_ms) VALUES (?, ?, ?)",
            )
            .bind(version)
            .bind(sum)
            .bind(now_ms())
            .execute()
            .await?;
        Ok(())
    }

    async fn apply_locked(
        &self,
        lease: &Lease,
        opts: &MigrateOptions,
    ) -> Result<Vec<&'static str>, Stop> {
        let rec = self.recorded().await?;
        if let Some(bad) = rec.mismatches().first() {
            return Err(StoreError::Invalid(bad.message()).into());
        }
        // Databases migrated before checksums: record the files' current text (trust on first use).
        for m in MIGRATIONS {
            if rec.applied.contains_key(&m.version) && !rec.checksums.contains_key(&m.version) {
                self.record_checksum(m.version, &checksum(m.sql)).await?;
            }
        }
        let mut applied = Vec::new();
        for m in up_to(opts.target).filter(|m| !rec.applied.contains_key(&m.version)) {
            if let Some(bad) = rec.partial_mismatch(m) {
                return Err(StoreError::Invalid(format!(
                    "{} (it was partly applied from the other text)",
                    bad.message()
                ))
                .into());
            }
            lease.check().await?;
            let statements = m.statements();
            let n = statements.len();
            for (i, stmt) in statements.iter().enumerate() {
                let index = i + 1;
                if rec.done(m.version, index) {
                    (opts.progress)(&format!(
                        "skipping {} statement {index}/{n} (completed by an earlier run)",
                        m.name
                    ));
                    continue;
                }
                lease.check().await?;
                let label = format!("{} statement {index}/{n}", m.name);
                (opts.progress)(&format!("applying {label}"));
                match backfill_target(stmt) {
                    Some(target) => {
                        self.backfill(lease, opts, &rec, m, index, stmt, target, &label)
                            .await?
                    }
                    None => self
                        .execute_watched(stmt, &label, opts)
                        .await
                        .map_err(|e| {
                            StoreError::Rejected(format!(
                                "migration {} statement {index}: {e}",
                                m.name
                            ))
                        })?,
                }
                self.record_step(lease, m, index, "done").await?;
                if opts.stops(m.version, index, StopPoint::AfterStatement) {
                    return Err(Stop::Killed);
                }
            }
            lease.check().await?;
            self.record_checksum(m.version, &checksum(m.sql)).await?;
            self.client()
                .query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)")
                .bind(m.version)
                .bind(m.name)
                .bind(now_ms())
                .execute()
                .await
                .map_err(StoreError::from)?;
            (opts.progress)(&format!("applied {}", m.name));
            applied.push(m.name);
        }
        Ok(applied)
    }

    /// Runs one statement, with a "still running" line every `opts.heartbeat`.
    async fn execute_watched(
        &self,
        sql: &str,
        label: &str,
        opts: &MigrateOptions,
    ) -> Result<(), StoreError> {
        let started = tokio::time::Instant::now();
        let run = self.client().query(sql).execute();
        tokio::pin!(run);
        let mut tick = tokio::time::interval_at(started + opts.heartbeat, opts.heartbeat);
        loop {
            tokio::select! {
                done = &mut run => return Ok(done?),
                _ = tick.tick() => (opts.progress)(&format!(
                    "still running: {label}, {} s",
                    started.elapsed().as_secs()
                )),
            }
        }
    }

    /// Runs a backfill through its staging table (module docs), resuming what an earlier run
    /// recorded.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site, every argument distinct"
    )]
    async fn backfill(
        &self,
        lease: &Lease,
        opts: &MigrateOptions,
        rec: &Recorded,
        m: &Migration,
        index: usize,
        stmt: &str,
        target: &str,
        label: &str,
    ) -> Result<(), Stop> {
        let staging = staging_table(m.version, index);
        let failed = |e: StoreError| {
            Stop::Failed(StoreError::Rejected(format!(
                "migration {} statement {index} (backfill into {target}): {e}",
                m.name
            )))
        };
        if !rec.has_step(m.version, index, "staged") {
            // Whatever an interrupted run left in the staging table goes; the target has none of it.
            self.client()
                .query(&format!("DROP TABLE IF EXISTS {staging}"))
                .execute()
                .await
                .map_err(|e| failed(e.into()))?;
            self.client()
                .query(&format!("CREATE TABLE {staging} AS {target}"))
                .execute()
                .await
                .map_err(|e| failed(e.into()))?;
            // `target` is a slice of `stmt` (backfill_target).
            let at = target.as_ptr() as usize - stmt.as_ptr() as usize;
            let staged_sql = format!("{}{staging}{}", &stmt[..at], &stmt[at + target.len()..]);
            self.execute_watched(
                &staged_sql,
                &format!("{label} (backfill of {target})"),
                opts,
            )
            .await
            .map_err(failed)?;
            if opts.stops(m.version, index, StopPoint::AfterStaging) {
                return Err(Stop::Killed);
            }
            lease.check().await?;
            self.record_step(lease, m, index, "staged").await?;
        }
        let partitions: Vec<String> = self
            .client()
            .query(
                "SELECT DISTINCT partition_id FROM system.parts \
                 WHERE database = ? AND table = ? AND active ORDER BY partition_id",
            )
            .bind(self.database())
            .bind(&staging)
            .fetch_all::<String>()
            .await
            .map_err(|e| failed(e.into()))?;
        let total = partitions.len();
        for (n, id) in partitions.iter().enumerate() {
            if !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(failed(StoreError::Invalid(format!(
                    "unexpected partition id {id:?}"
                ))));
            }
            let attaching = format!("attaching:{id}");
            let attached = format!("attached:{id}");
            let drop_staged = format!("ALTER TABLE {staging} DROP PARTITION ID '{id}'");
            if rec.has_step(m.version, index, &attached) {
                // Attached by an earlier run that died before dropping it from the staging table.
                self.client()
                    .query(&drop_staged)
                    .execute()
                    .await
                    .map_err(|e| failed(e.into()))?;
                continue;
            }
            if rec.has_step(m.version, index, &attaching) {
                return Err(Stop::Failed(StoreError::Invalid(format!(
                    "migration {name} statement {index}: an earlier run stopped while attaching \
                     partition {id} of the backfill staged in {db}.{staging} to {db}.{target}, so \
                     whether it arrived is unknown. Compare the partition's rows in both tables; \
                     if they are in {target}, run `ALTER TABLE {db}.{staging} DROP PARTITION ID \
                     '{id}'`; if not, run `ALTER TABLE {db}.{target} ATTACH PARTITION ID '{id}' \
                     FROM {db}.{staging}` and then that DROP. Then run migrate again.",
                    name = m.name,
                    db = self.database(),
                ))));
            }
            lease.check().await?;
            (opts.progress)(&format!(
                "{label}: moving staged partition {id} ({}/{total}) into {target}",
                n + 1
            ));
            self.record_step(lease, m, index, &attaching).await?;
            self.client()
                .query(&format!(
                    "ALTER TABLE {target} ATTACH PARTITION ID '{id}' FROM {staging}"
                ))
                .execute()
                .await
                .map_err(|e| failed(e.into()))?;
            self.record_step(lease, m, index, &attached).await?;
            if n == 0 && opts.stops(m.version, index, StopPoint::AfterFirstAttach) {
                return Err(Stop::Killed);
            }
            self.client()
                .query(&drop_staged)
                .execute()
                .await
                .map_err(|e| failed(e.into()))?;
        }
        self.client()
            .query(&format!("DROP TABLE IF EXISTS {staging}"))
            .execute()
            .await
            .map_err(|e| failed(e.into()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_backfills_and_their_targets() {
        assert_eq!(
            backfill_target("INSERT INTO engaged\nSELECT org_id FROM events"),
            Some("engaged")
        );
        assert_eq!(
            backfill_target("insert into t(a, b) SELECT 1, 2"),
            Some("t")
        );
        assert_eq!(
            backfill_target("CREATE TABLE IF NOT EXISTS t (a UInt8)"),
            None
        );
        assert_eq!(backfill_target("INSERTED"), None);
        let backfills: Vec<(&str, String)> = MIGRATIONS
            .iter()
            .flat_map(|m| {
                m.statements()
                    .into_iter()
                    .filter_map(|s| backfill_target(&s).map(str::to_owned))
                    .map(move |t| (m.name, t))
            })
            .collect();
        for (name, target) in [
            ("0007_message_events", "message_events"),
            ("0008_report_uniques", "engaged"),
            ("0009_message_timeline", "message_timeline"),
        ] {
            assert!(
                backfills.contains(&(name, target.to_owned())),
                "{name}: {backfills:?}"
            );
        }
    }

    #[test]
    fn checksums_are_sha256_of_the_text() {
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(checksum(MIGRATIONS[0].sql), checksum(MIGRATIONS[1].sql));
    }
}
