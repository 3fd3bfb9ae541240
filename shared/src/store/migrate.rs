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

use std::sync::Arc;
use std::time::Duration;

use data_encoding::HEXLOWER;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Store;
use crate::store::error::StoreError;
use crate::store::migration_lock::{LOCK_TABLE_DDL, Lease, LeaseTimes, Progress};
use crate::store::migrations::{MIGRATIONS, Migration};
use crate::timefmt::{format_ms, now_ms};

mod bookkeeping;
use bookkeeping::*;
mod backfill;
pub use backfill::backfill_target;
pub mod cluster;
use cluster::ClusterSchema;

/// The runner's bookkeeping tables, created before it asks for the lock.
pub(crate) const BOOKKEEPING_DDL: &[&str] = &[
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

/// `stmt` as it runs: unchanged on one server, its cluster form on a cluster.
fn cluster_form(cluster: Option<&ClusterSchema>, stmt: &str) -> Result<Vec<String>, StoreError> {
    match cluster {
        None => Ok(vec![stmt.to_owned()]),
        Some(c) => c.translate(stmt).map_err(StoreError::Invalid),
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
        let cluster = self.cluster_schema();
        for ddl in BOOKKEEPING_DDL {
            for stmt in cluster_form(cluster.as_ref(), ddl)? {
                self.create_if_missing(&stmt).await?;
            }
        }
        let lease = Lease::acquire(self.client(), opts.lease, &opts.progress).await?;
        match self.apply_locked(&lease, opts, cluster.as_ref()).await {
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

    /// The translator of migration statements when the store is on a cluster
    /// ([`Store::cluster`]; docs/scale-out.md).
    pub fn cluster_schema(&self) -> Option<ClusterSchema> {
        self.cluster()
            .map(|c| ClusterSchema::new(c, self.database(), BOOKKEEPING_DDL))
    }

    /// What `migrate` would run: the pending migrations with their statements (on a cluster,
    /// each statement's cluster form, `;`-separated); changes nothing.
    pub async fn migration_plan(
        &self,
        target: Option<u32>,
    ) -> Result<Vec<PlannedMigration>, StoreError> {
        let rec = self.recorded().await?;
        let cluster = self.cluster_schema();
        let shown = |sql: String| match &cluster {
            None => sql,
            Some(c) => c
                .translate(&sql)
                .map_or_else(|e| format!("-- {e}"), |v| v.join(";\n")),
        };
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
                        sql: shown(sql),
                    })
                    .collect(),
            })
            .collect())
    }

    async fn apply_locked(
        &self,
        lease: &Lease,
        opts: &MigrateOptions,
        cluster: Option<&ClusterSchema>,
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
                let failed = |e: StoreError| {
                    StoreError::Rejected(format!("migration {} statement {index}: {e}", m.name))
                };
                match backfill_target(stmt) {
                    // On a cluster a statement runs in its cluster form (cluster.rs); a backfill
                    // runs once through the Distributed tables, no staging (a rerun after a
                    // failure runs it again: docs/scale-out.md#backfills).
                    _ if cluster.is_some() => {
                        for sql in cluster_form(cluster, stmt).map_err(failed)? {
                            self.execute_watched(&sql, &label, opts)
                                .await
                                .map_err(failed)?;
                        }
                    }
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
}

#[cfg(test)]
mod tests;
