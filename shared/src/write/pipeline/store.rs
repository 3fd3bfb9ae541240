//! Storing a prepared batch's new event rows: per shard of their orgs, each as a registered
//! batch of its own (registration, day-change bumps, INSERT, done markers, close), and the
//! settle of batches that failed earlier.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{BatchReport, DEADLINE_MARGIN, MAX_ROWS_PER_INSERT, Pipeline, Record};
use crate::event::envelope::QuarantineReason;
use crate::store::ledger::{BATCH_LEASE, Batch};
use crate::store::{INSERT_TIMEOUT, QuarantineRow};
use crate::{EventRow, Store, StoreError};

impl Pipeline {
    /// Stores the new event rows of a batch: one [`Pipeline::store_group`] per shard of their
    /// orgs (one for all rows off a routed cluster), at once. The records of a shard that fails
    /// (or whose org cannot be routed) are marked to come back ([`BatchReport::retry`]); the
    /// other shards' rows are stored and marked done, so the retry skips them.
    pub(super) async fn store_events(
        &self,
        records: &[Record<'_>],
        rows: Vec<EventRow>,
        row_record: Vec<usize>,
        deadline: Option<Instant>,
        now: i64,
        report: &mut BatchReport,
    ) -> Result<Vec<(Uuid, u16, Uuid)>, StoreError> {
        insert_time_left(deadline)?;
        self.settle_failed_batches().await;
        let mut routes: HashMap<Uuid, Result<Store, ()>> = HashMap::new();
        for row in &rows {
            if let std::collections::hash_map::Entry::Vacant(slot) = routes.entry(row.org_id) {
                slot.insert(self.store.route(row.org_id).await.map_err(|e| {
                    tracing::warn!(org = %row.org_id, error = %e, "org's shard unavailable; its records come back");
                    report.retry_records([], &e);
                }));
            }
        }
        let mut groups: BTreeMap<Option<u32>, (Store, Vec<EventRow>, Vec<usize>)> = BTreeMap::new();
        let shards: BTreeSet<Option<u32>> = routes
            .values()
            .filter_map(|r| r.as_ref().ok().map(Store::shard))
            .collect();
        match routes.values().next() {
            // Every org on one store (always, off a routed cluster): the rows as they are, not
            // copied into a group of their own.
            Some(Ok(store)) if shards.len() == 1 && routes.values().all(Result::is_ok) => {
                groups.insert(store.shard(), (store.clone(), rows, row_record));
            }
            _ => {
                for (row, rec) in rows.into_iter().zip(row_record) {
                    match &routes[&row.org_id] {
                        Ok(store) => {
                            let g = groups
                                .entry(store.shard())
                                .or_insert_with(|| (store.clone(), Vec::new(), Vec::new()));
                            g.1.push(row);
                            g.2.push(rec);
                        }
                        Err(()) => report.retry.push(rec),
                    }
                }
            }
        }
        report.retry.sort_unstable();
        report.retry.dedup();
        let n = records.len();
        let stored =
            futures::future::join_all(groups.into_values().map(|(store, rows, recs)| async move {
                let mut part = BatchReport {
                    record_quarantined: vec![false; n],
                    ..BatchReport::default()
                };
                let result = self
                    .store_group(&store, records, rows, &recs, deadline, now, &mut part)
                    .await;
                (recs, part, result)
            }))
            .await;
        let mut ingested = Vec::new();
        for (recs, part, result) in stored {
            match result {
                Ok(done) => {
                    ingested.extend(done);
                    report.rows += part.rows;
                    report.quarantined += part.quarantined;
                    for (i, q) in part.record_quarantined.iter().enumerate() {
                        report.record_quarantined[i] |= q;
                    }
                    for (reason, k) in &part.quarantined_by_reason {
                        *report.quarantined_by_reason.entry(reason).or_default() += k;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, records = recs.len(), "a shard's rows were not stored; their records come back");
                    report.retry_records(recs, &e);
                }
            }
        }
        Ok(ingested)
    }

    /// Stores the rows of one shard's orgs (all rows off a routed cluster) through `store`
    /// (ingest/DESIGN.md): register the batch, count a change on every day it writes, stamp and
    /// insert the rows, and only after the store acknowledged them mark them ingested, count
    /// the days again and close the batch. A failure anywhere before the marks leaves the events
    /// not ingested, so the retry inserts them again (every table derived from `events`
    /// tolerates a second copy). On a routed cluster each shard's rows are such a batch of
    /// their own on that shard: its registry bounds the polls of that shard's orgs, its
    /// counters and markers are the orgs' own.
    #[allow(clippy::too_many_arguments)]
    async fn store_group(
        &self,
        store: &Store,
        records: &[Record<'_>],
        mut rows: Vec<EventRow>,
        row_record: &[usize],
        deadline: Option<Instant>,
        now: i64,
        report: &mut BatchReport,
    ) -> Result<Vec<(Uuid, u16, Uuid)>, StoreError> {
        let days: HashSet<(Uuid, u16)> = rows.iter().map(|r| (r.org_id, r.day)).collect();
        // Registration and the first count are independent: both precede the stamp and INSERT.
        let (batch, bumped) = tokio::join!(store.register_batch(), store.bump_days(&days));
        let batch = batch?;
        let _renewal = Renewal::start(store, batch);
        if let Err(e) = bumped {
            self.unsettled_push(store, batch, None);
            return Err(e);
        }
        for row in &mut rows {
            row.ingested_ms = batch.stamp_ms;
        }
        // Over the cap, split evenly: no small tail INSERT with its fixed cost.
        let per_insert = rows
            .len()
            .div_ceil(rows.len().div_ceil(MAX_ROWS_PER_INSERT).max(1))
            .max(1);
        let mut ingested = Vec::with_capacity(rows.len());
        for (n, (chunk, chunk_records)) in rows
            .chunks(per_insert)
            .zip(row_record.chunks(per_insert))
            .enumerate()
        {
            let query_id = format!("{}-{n}", batch.id);
            let timeout = match insert_time_left(deadline) {
                Ok(t) => t,
                Err(e) => {
                    // Nothing of this chunk was sent: the batch is no longer in flight.
                    let _ = store.close_batch(&batch).await;
                    return Err(e);
                }
            };
            match store.insert_events(chunk, timeout, &query_id).await {
                Ok(()) => {
                    report.rows += chunk.len() as u64;
                    ingested.extend(chunk.iter().map(|r| (r.org_id, r.day, r.event_id)));
                }
                Err(e) if e.is_retryable() => {
                    self.unsettled_push(store, batch, Some(query_id));
                    return Err(e);
                }
                Err(e) => {
                    // The store refuses this data as data: retrying cannot help, so keep the
                    // records in quarantine rather than blocking the queue.
                    tracing::error!(error = %e, rows = chunk.len(), "store rejected event rows; quarantining their records");
                    let affected: BTreeSet<usize> = chunk_records.iter().copied().collect();
                    let mut rejected = Vec::new();
                    for i in affected {
                        report.quarantined += 1;
                        report.record_quarantined[i] = true;
                        *report
                            .quarantined_by_reason
                            .entry(QuarantineReason::StoreRejected.as_str())
                            .or_default() += 1;
                        rejected.push(QuarantineRow {
                            id: QuarantineRow::id_for(
                                QuarantineReason::StoreRejected.as_str(),
                                records[i].body,
                            ),
                            received_ms: now,
                            source: self.source.as_str().to_owned(),
                            reason: QuarantineReason::StoreRejected.as_str().to_owned(),
                            detail: e.to_string(),
                            account_id: String::new(),
                            raw: records[i].body.to_owned(),
                            resolved_ms: 0,
                            version: now as u64,
                        });
                    }
                    self.store.insert_quarantine(&rejected).await?;
                }
            }
        }
        // All three only need the acknowledgement, not each other.
        let finish = tokio::try_join!(
            store.mark_ingested(&ingested),
            store.bump_days(&days),
            store.close_batch(&batch),
        );
        if let Err(e) = finish {
            self.unsettled_push(store, batch, None);
            return Err(e);
        }
        Ok(ingested)
    }

    pub(super) fn unsettled_push(&self, store: &Store, batch: Batch, query_id: Option<String>) {
        if let Ok(mut list) = self.unsettled.lock() {
            list.push((store.clone(), batch, query_id));
        }
    }

    /// Closes the batches that failed earlier once the INSERT each may still be running is over
    /// (the retry stores their events again); a batch that cannot be settled now stays listed,
    /// and its lease lapses on its own.
    pub(super) async fn settle_failed_batches(&self) {
        let pending = match self.unsettled.lock() {
            Ok(mut list) => std::mem::take(&mut *list),
            Err(_) => return,
        };
        for (store, batch, query_id) in pending {
            let over = match &query_id {
                Some(q) => matches!(store.query_running(q).await, Ok(false)),
                None => true,
            };
            if !(over && store.close_batch(&batch).await.is_ok()) {
                self.unsettled_push(&store, batch, query_id);
            }
        }
    }
}

/// An INSERT shorter than this is not worth starting against a deadline.
const MIN_INSERT_TIME: Duration = Duration::from_secs(2);

/// The time an INSERT may take now: [`INSERT_TIMEOUT`], or less when the deadline is nearer;
/// `Err` (retryable) when too little is left to start one.
fn insert_time_left(deadline: Option<Instant>) -> Result<Duration, StoreError> {
    let Some(deadline) = deadline else {
        return Ok(INSERT_TIMEOUT);
    };
    let left = deadline
        .saturating_duration_since(Instant::now())
        .saturating_sub(DEADLINE_MARGIN);
    // Sending the rows and awaiting the acknowledgement each get the timeout: halve it.
    let per_phase = (left / 2).min(INSERT_TIMEOUT);
    if per_phase < MIN_INSERT_TIME {
        return Err(StoreError::Unavailable(format!(
            "{} ms left before the deadline: not enough to insert the batch, so it is left for a retry",
            left.as_millis()
        )));
    }
    Ok(per_phase)
}

/// Renews a registered batch's lease while its INSERT runs; stops when dropped.
struct Renewal(tokio::task::JoinHandle<()>);

impl Renewal {
    fn start(store: &Store, batch: Batch) -> Renewal {
        let store = store.clone();
        Renewal(tokio::spawn(async move {
            loop {
                tokio::time::sleep(BATCH_LEASE / 3).await;
                if let Err(e) = store.renew_batch(&batch).await {
                    tracing::warn!(error = %e, "could not renew the batch lease");
                }
            }
        }))
    }
}

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}
