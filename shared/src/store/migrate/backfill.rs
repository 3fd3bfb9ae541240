//! Backfills (`INSERT INTO … SELECT` statements of a migration): run into a staging table and
//! moved into their target a partition at a time, so a killed backfill is redone from scratch and
//! a completed one never runs twice (the parent module's top comment has the protocol).

use super::*;
use crate::Store;
use crate::store::error::StoreError;
use crate::store::migration_lock::Lease;
use crate::store::migrations::Migration;

/// Whether a statement is a backfill (`INSERT INTO <table> …`), and its target table.
pub fn backfill_target(stmt: &str) -> Option<&str> {
    let rest = strip_prefix_ci(stmt.trim_start(), "INSERT")?;
    let rest = strip_prefix_ci(rest.trim_start(), "INTO")?.trim_start();
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '(')
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

pub(super) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    let after = &s[prefix.len()..];
    (head.eq_ignore_ascii_case(prefix) && after.starts_with(char::is_whitespace)).then_some(after)
}

/// The staging table of statement `index` (1-based) of migration `version`.
pub(super) fn staging_table(version: u32, index: usize) -> String {
    format!("schema_migrations_staging_{version:04}_{index}")
}

impl Store {
    /// Runs a backfill through its staging table (module docs), resuming what an earlier run
    /// recorded.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site, every argument distinct"
    )]
    pub(super) async fn backfill(
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
