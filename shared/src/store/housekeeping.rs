//! Retention of the operator's records, which belong to no org's data and so are not covered by
//! the plan retention of [`crate::store::retention`]: quarantine entries that were resolved
//! (re-ingested by `sendops-admin quarantine replay`) and set-up notices (with the outcomes of
//! their automatic confirmation, `notice_confirmations`). Open quarantine entries are kept
//! whatever their age: they wait for an operator. `sendops-admin prune` runs this (docs/retention.md).

use serde::Serialize;

use crate::store::Store;
use crate::store::error::StoreError;
use crate::timefmt::DAY_MS;

/// How long the records are kept (`sendops-admin prune --quarantine-days / --notice-days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecordsRetention {
    /// Days a resolved quarantine entry is kept after its resolution.
    pub quarantine_days: u32,
    /// Days a notice (and its confirmation attempts) is kept after it was received.
    pub notice_days: u32,
}

/// What pruning the records removed (or, dry, would remove): rows of each table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordsPrune {
    /// Resolved quarantine entries (every version of each).
    pub quarantine_resolved: u64,
    pub notices: u64,
    pub notice_confirmations: u64,
}

impl Store {
    /// Deletes the quarantine entries resolved more than `quarantine_days` before `now_ms` and the
    /// notices and confirmation attempts older than `notice_days`; with `dry_run`, counts them.
    pub async fn prune_records(
        &self,
        keep: RecordsRetention,
        now_ms: i64,
        dry_run: bool,
    ) -> Result<RecordsPrune, StoreError> {
        let quarantine_cutoff = (now_ms - i64::from(keep.quarantine_days) * DAY_MS).to_string();
        let notice_cutoff = (now_ms - i64::from(keep.notice_days) * DAY_MS).to_string();
        // An entry's versions share its id; a version with `resolved_ms` set means it is resolved.
        let resolved =
            "id IN (SELECT id FROM quarantine WHERE resolved_ms > 0 AND resolved_ms < toInt64(?))";
        let tables = [
            ("quarantine", resolved, &quarantine_cutoff),
            ("notices", "received_ms < toInt64(?)", &notice_cutoff),
            (
                "notice_confirmations",
                "attempted_ms < toInt64(?)",
                &notice_cutoff,
            ),
        ];
        let mut counts = [0u64; 3];
        for ((table, cond, cutoff), count) in tables.iter().zip(counts.iter_mut()) {
            *count = self.count_where(table, cond, &[cutoff.as_str()]).await?;
            if *count > 0 && !dry_run {
                let sql = format!("ALTER TABLE {table} DELETE WHERE {cond}");
                self.mutate(table, &sql, &[cutoff.as_str()]).await?;
            }
        }
        Ok(RecordsPrune {
            quarantine_resolved: counts[0],
            notices: counts[1],
            notice_confirmations: counts[2],
        })
    }
}
