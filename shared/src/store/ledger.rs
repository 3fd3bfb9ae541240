//! The ingest ledger (migration 0010, ingest/DESIGN.md): done markers per event, a change
//! counter per (org, UTC day), and the registry of in-flight batches.
//!
//! - `ingested_events`: an event is done only once the INSERT that carried it (base table and
//!   every view) was acknowledged; the marker is written afterwards, so the duplicate check never
//!   skips an event whose derived rows may be incomplete.
//! - `day_changes`: every batch adds 1 to each day it writes before its INSERT and 1 after the
//!   acknowledgement. The counter only grows, so a reader that reads it before reading a day and
//!   finds it unchanged later knows nothing was written to that day meanwhile (report seals, the
//!   engaged-recipient index, cached uniques).
//! - `ingest_batches`: a batch registers before stamping its rows, renews its lease while its
//!   INSERT runs and closes after the acknowledgement. [`Store::committed_bound_ms`] is the
//!   start of the oldest live batch: every row stamped before it is committed.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::StoreError;
use crate::store::Store;
use crate::timefmt::{UtcDay, now_ms};

/// How long a registered batch counts as in flight without a renewal. A batch renews every
/// third of it while its INSERT runs, so only a consumer that died (or cannot reach the store)
/// lets it lapse.
pub const BATCH_LEASE: Duration = Duration::from_secs(30);

/// How far back a committed-bound read looks for registry rows: a live batch renews at least
/// every third of [`BATCH_LEASE`], so its newest row is younger than this.
const REGISTRY_LOOKBACK_MS: i64 = 2 * BATCH_LEASE.as_millis() as i64;

#[derive(Debug, Serialize, Row)]
struct MarkerRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    day: u16,
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
}

#[derive(Debug, Serialize, Row)]
struct ChangeRow {
    #[serde(with = "clickhouse::serde::uuid")]
    org_id: Uuid,
    day: u16,
    changes: u64,
}

#[derive(Debug, Serialize, Row)]
struct BatchRow {
    at_ms: i64,
    #[serde(with = "clickhouse::serde::uuid")]
    batch_id: Uuid,
    started_ms: i64,
    lease_until_ms: i64,
    done: u8,
}

#[derive(Debug, Deserialize, Row)]
struct DayChanges {
    d: u16,
    changes: u64,
}

/// A registered batch: its id and the time its rows are stamped with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    pub id: Uuid,
    /// Registered start (before the registration was written).
    pub started_ms: i64,
    /// The `ingested_ms` of its rows: read after the registration was acknowledged, so any poll
    /// that did not see the registration bounded itself below it.
    pub stamp_ms: i64,
}

impl Store {
    /// Registers a batch as in flight and returns it with the stamp for its rows.
    pub async fn register_batch(&self) -> Result<Batch, StoreError> {
        let id = Uuid::new_v4();
        let started_ms = now_ms();
        self.write_batch_row(id, started_ms, started_ms, false)
            .await?;
        Ok(Batch {
            id,
            started_ms,
            stamp_ms: now_ms().max(started_ms),
        })
    }

    /// Renews a batch's lease (its INSERT is still running).
    pub async fn renew_batch(&self, batch: &Batch) -> Result<(), StoreError> {
        self.write_batch_row(batch.id, batch.started_ms, now_ms(), false)
            .await
    }

    /// Closes a batch: everything it wrote is acknowledged.
    pub async fn close_batch(&self, batch: &Batch) -> Result<(), StoreError> {
        self.write_batch_row(batch.id, batch.started_ms, now_ms(), true)
            .await
    }

    async fn write_batch_row(
        &self,
        id: Uuid,
        started_ms: i64,
        at_ms: i64,
        done: bool,
    ) -> Result<(), StoreError> {
        let lease = i64::try_from(BATCH_LEASE.as_millis()).unwrap_or(i64::MAX);
        self.insert_rows(
            "ingest_batches",
            &[BatchRow {
                at_ms,
                batch_id: id,
                started_ms,
                lease_until_ms: if done { at_ms } else { at_ms + lease },
                done: u8::from(done),
            }],
        )
        .await
    }

    /// The time up to which (inclusive) every stamped row is committed: just before the start of
    /// the oldest batch still in flight (registered, not closed, lease not lapsed), or just
    /// before `now` when none is. `now` must be read before calling: a batch registered after
    /// this read stamps its rows after its registration was acknowledged, so later than `now`
    /// (on hosts whose clocks agree; the API's settle time covers a known clock difference).
    pub async fn committed_bound_ms(&self, now: i64) -> Result<i64, StoreError> {
        let oldest = self
            .client()
            .query(
                "SELECT min(started) FROM (\
                 SELECT batch_id, min(started_ms) AS started, max(lease_until_ms) AS lease, max(done) AS closed \
                 FROM ingest_batches WHERE at_ms >= ? GROUP BY batch_id) \
                 WHERE closed = 0 AND lease > ?",
            )
            .bind(now - REGISTRY_LOOKBACK_MS)
            .bind(now)
            .fetch_all::<i64>()
            .await?;
        // `min` over no rows is 0 on ClickHouse: a live batch always has a positive start.
        let bound = now - 1;
        Ok(match oldest.first() {
            Some(&start) if start > 0 => bound.min(start - 1),
            _ => bound,
        })
    }

    /// Whether the query `query_id` is still running on the server (an INSERT whose client lost
    /// its connection may still complete). On a cluster ([`Store::cluster`]) this asks every
    /// node, for the query and for the inserts it started on other shards (their
    /// `initial_query_id`): the client may reach another node after a reconnection. A node that
    /// does not answer makes this an error (the caller keeps waiting).
    ///
    /// A store routed to one shard's node ([`Store::route`]) asks that node only: its INSERTs
    /// write the node's local tables, so they run there and nowhere else (and the other shards
    /// being down does not keep its failed batches unsettled).
    pub async fn query_running(&self, query_id: &str) -> Result<bool, StoreError> {
        let cluster = match self.cluster() {
            Some(c) if self.shard().is_none() => c,
            _ => {
                return Ok(self
                    .client()
                    .query("SELECT count() FROM system.processes WHERE query_id = ?")
                    .bind(query_id)
                    .fetch_one::<u64>()
                    .await?
                    > 0);
            }
        };
        // 18.16 has no clusterAllReplicas(): every node of the cluster as a shard of remote().
        let nodes = self
            .client()
            .query(
                "SELECT concat(host_address, ':', toString(port)) FROM system.clusters                  WHERE cluster = ? ORDER BY shard_num, replica_num",
            )
            .bind(cluster)
            .fetch_all::<String>()
            .await?;
        if nodes.is_empty()
            || nodes.iter().any(|n| {
                !n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".:-_[]".contains(c))
            })
        {
            return Err(StoreError::Invalid(format!(
                "cluster {cluster} has no usable node addresses in system.clusters: {nodes:?}"
            )));
        }
        Ok(self
            .client()
            .query(&format!(
                "SELECT count() FROM remote('{}', system, processes)                  WHERE query_id = ? OR initial_query_id = ?",
                nodes.join(",")
            ))
            .bind(query_id)
            .bind(query_id)
            .fetch_one::<u64>()
            .await?
            > 0)
    }

    /// Adds 1 to the change counter of every (org, day) in `days`.
    pub async fn bump_days(&self, days: &HashSet<(Uuid, u16)>) -> Result<(), StoreError> {
        let rows: Vec<ChangeRow> = days
            .iter()
            .map(|&(org_id, day)| ChangeRow {
                org_id,
                day,
                changes: 1,
            })
            .collect();
        self.insert_rows("day_changes", &rows).await
    }

    /// Change counters of `org_id`'s days in [first, last] (days never written are absent: 0).
    pub async fn day_changes(
        &self,
        org_id: Uuid,
        first: UtcDay,
        last: UtcDay,
    ) -> Result<BTreeMap<u16, u64>, StoreError> {
        if first > last {
            return Ok(BTreeMap::new());
        }
        Ok(self
            .client()
            .query(
                "SELECT toUInt16(day) AS d, sum(changes) AS changes FROM day_changes \
                 WHERE org_id = ? AND day >= toDate(?) AND day <= toDate(?) GROUP BY day",
            )
            .bind(org_id.to_string())
            .bind(first.date().to_string())
            .bind(last.date().to_string())
            .fetch_all::<DayChanges>()
            .await?
            .into_iter()
            .map(|r| (r.d, r.changes))
            .collect())
    }

    /// Records `events` ((org, day, event id)) as done: written only after the INSERT that
    /// carried them was acknowledged.
    pub async fn mark_ingested(&self, events: &[(Uuid, u16, Uuid)]) -> Result<(), StoreError> {
        let rows: Vec<MarkerRow> = events
            .iter()
            .map(|&(org_id, day, event_id)| MarkerRow {
                org_id,
                day,
                event_id,
            })
            .collect();
        self.insert_rows("ingested_events", &rows).await
    }
}
