//! The runner's own tables: what is applied (`schema_migrations`), the checksum of every applied
//! file (`schema_migrations_checksums`) and every completed statement
//! (`schema_migrations_steps`), read once per run into [`Recorded`].

use super::*;
use crate::Store;
use crate::store::error::StoreError;
use crate::store::migration_lock::Lease;
use crate::store::migrations::{MIGRATIONS, Migration};
use crate::timefmt::now_ms;
use clickhouse::Row;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Row, Deserialize)]
pub(super) struct AppliedRow {
    pub(super) version: u32,
    pub(super) name: String,
    pub(super) applied_ms: i64,
}

#[derive(Row, Deserialize)]
pub(super) struct ChecksumRow {
    pub(super) version: u32,
    pub(super) checksum: String,
}

#[derive(Row, Deserialize)]
pub(super) struct StepRow {
    pub(super) version: u32,
    pub(super) statement: u32,
    pub(super) step: String,
    pub(super) checksum: String,
}

#[derive(Row, Deserialize)]
pub(super) struct NameRow {
    pub(super) name: String,
}

/// What the bookkeeping tables say.
#[derive(Default)]
pub(super) struct Recorded {
    pub(super) applied: BTreeMap<u32, (String, i64)>,
    pub(super) checksums: HashMap<u32, String>,
    /// version → statement → steps recorded for it.
    pub(super) steps: HashMap<u32, HashMap<u32, Vec<(String, String)>>>,
}

impl Recorded {
    pub(super) fn mismatches(&self) -> Vec<ChecksumMismatch> {
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

    pub(super) fn steps_of(&self, version: u32, index: usize) -> &[(String, String)] {
        self.steps
            .get(&version)
            .and_then(|s| s.get(&(index as u32)))
            .map_or(&[], Vec::as_slice)
    }

    pub(super) fn done(&self, version: u32, index: usize) -> bool {
        self.steps_of(version, index)
            .iter()
            .any(|(s, _)| s == "done")
    }

    pub(super) fn has_step(&self, version: u32, index: usize, step: &str) -> bool {
        self.steps_of(version, index).iter().any(|(s, _)| s == step)
    }

    /// A partly applied migration whose steps were recorded from another file text.
    pub(super) fn partial_mismatch(&self, m: &Migration) -> Option<ChecksumMismatch> {
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

impl Store {
    /// Runs a `CREATE … IF NOT EXISTS`, tolerating a concurrent creator winning the race.
    pub(super) async fn create_if_missing(&self, ddl: &str) -> Result<(), StoreError> {
        match self.client().query(ddl).execute().await {
            Ok(()) => Ok(()),
            Err(e) if e.to_string().contains("already exists") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The bookkeeping tables that exist in this database (none when it does not exist).
    pub(super) async fn bookkeeping_tables(&self) -> Result<HashSet<String>, StoreError> {
        let rows = self
            .client()
            .clone()
            .with_database("system")
            .query(
                "SELECT ?fields FROM system.tables WHERE database = ? AND name IN \
                 ('schema_migrations', 'schema_migrations_checksums', 'schema_migrations_steps')",
            )
            .bind(self.database())
            .fetch_all::<NameRow>()
            .await?;
        Ok(rows.into_iter().map(|r| r.name).collect())
    }

    pub(super) async fn recorded(&self) -> Result<Recorded, StoreError> {
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
                    "SELECT ?fields FROM schema_migrations_steps \
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

    pub(super) async fn record_step(
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

    pub(super) async fn record_checksum(&self, version: u32, sum: &str) -> Result<(), StoreError> {
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
}
