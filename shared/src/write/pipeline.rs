//! Decode → attribute → deduplicate → insert, for one batch of records.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::control::org::channel_id;
use crate::event::envelope::{Outcome, QuarantineReason, Quarantined, decode_record};
use crate::store::ledger::Batch;
use crate::store::{NoticeRow, QuarantineRow};
use crate::timefmt::now_ms;
use crate::{EventRow, Store, StoreError};
use serde::Serialize;
use tokio::sync::RwLock;
use uuid::Uuid;

mod store;

/// How long the SES account → org map is trusted before it is read again. An unknown account
/// always forces one fresh read before its events are quarantined.
const ACCOUNT_MAP_TTL: Duration = Duration::from_secs(30);

/// Rows per INSERT statement (ClickHouse prefers 10 K–100 K).
const MAX_ROWS_PER_INSERT: usize = 100_000;

/// Where records came from; stored with quarantine entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Lambda,
    Poll,
    Replay,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Lambda => "lambda",
            Source::Poll => "poll",
            Source::Replay => "replay",
        }
    }
}

/// One input record: an SQS message body, a replay-file item, or a quarantined record's text.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub body: &'a str,
}

/// What a batch did. `events` counts SES events read (duplicates included); `rows` counts rows
/// newly stored; `duplicates` counts rows skipped because they were stored already or repeated
/// within the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    pub records: u64,
    pub events: u64,
    pub rows: u64,
    pub quarantined: u64,
    pub acknowledged: u64,
    pub duplicates: u64,
    /// Per input record: did any part of it end in quarantine?
    #[serde(skip)]
    pub record_quarantined: Vec<bool>,
    /// Quarantined records by reason (for metrics).
    #[serde(skip)]
    pub quarantined_by_reason: std::collections::BTreeMap<&'static str, u64>,
    /// The set-up notices this batch recorded (stored before the report is returned), for what
    /// the caller does once the batch is acknowledged: `sendops-ingest` confirms SNS
    /// subscriptions. Not summed by [`BatchReport::add`].
    #[serde(skip)]
    pub notices: Vec<NoticeRow>,
    /// Input records that are not (completely) stored and must come back (SQS redelivers them):
    /// on a cluster routed by org (`CLICKHOUSE_NODES`), those with an event of an org whose
    /// shard could not store it, while the other orgs' events are stored. Empty from
    /// [`Pipeline::process`], which fails the whole batch instead.
    #[serde(skip)]
    pub retry: Vec<usize>,
    /// Why the records of [`BatchReport::retry`] were not stored.
    #[serde(skip)]
    pub retry_error: Option<RetryError>,
}

/// Why some records of a batch were not stored ([`BatchReport::retry`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryError {
    pub retryable: bool,
    pub message: String,
}

impl RetryError {
    fn of(e: &StoreError) -> RetryError {
        RetryError {
            retryable: e.is_retryable(),
            message: e.to_string(),
        }
    }

    /// The store error to fail a whole batch with.
    pub fn to_store_error(&self) -> StoreError {
        if self.retryable {
            StoreError::Unavailable(self.message.clone())
        } else {
            StoreError::Rejected(self.message.clone())
        }
    }
}

impl BatchReport {
    /// Marks `records` to come back because of `error` (the first error is kept).
    fn retry_records(&mut self, records: impl IntoIterator<Item = usize>, error: &StoreError) {
        self.retry.extend(records);
        self.retry.sort_unstable();
        self.retry.dedup();
        if self.retry_error.is_none() {
            self.retry_error = Some(RetryError::of(error));
        }
    }

    /// The failure of a batch some of whose records must come back, as one error for the whole
    /// batch (for callers that retry whole batches).
    pub fn failure(&self) -> Option<StoreError> {
        if self.retry.is_empty() {
            return None;
        }
        Some(self.retry_error.as_ref().map_or_else(
            || StoreError::Unavailable("records left to retry".into()),
            RetryError::to_store_error,
        ))
    }

    pub fn add(&mut self, other: &BatchReport) {
        crate::add_fields!(self += other: records, events, rows, quarantined, acknowledged, duplicates);
        for (reason, n) in &other.quarantined_by_reason {
            *self.quarantined_by_reason.entry(reason).or_default() += n;
        }
    }
}

/// The ingest pipeline; cheap to share across tasks.
#[derive(Clone)]
pub struct Pipeline {
    store: Store,
    source: Source,
    accounts: Arc<RwLock<AccountCache>>,
    /// Batches that failed while registered, with the INSERT they may still be running: closed
    /// once the store says that INSERT is over, so `?since=` polls are not held back until their
    /// lease lapses.
    unsettled: Arc<std::sync::Mutex<Vec<Unsettled>>>,
}

/// A failed batch still registered, the store (shard) it is registered on, and the INSERT it
/// may still be running.
type Unsettled = (Store, Batch, Option<String>);

struct AccountCache {
    loaded: Option<Instant>,
    map: HashMap<String, Uuid>,
}

impl Pipeline {
    pub fn new(store: Store, source: Source) -> Pipeline {
        Pipeline {
            store,
            source,
            accounts: Arc::new(RwLock::new(AccountCache {
                loaded: None,
                map: HashMap::new(),
            })),
            unsettled: Arc::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn account_map(&self, force: bool) -> Result<HashMap<String, Uuid>, StoreError> {
        {
            let cache = self.accounts.read().await;
            if let Some(at) = cache.loaded
                && !force
                && at.elapsed() < ACCOUNT_MAP_TTL
            {
                return Ok(cache.map.clone());
            }
        }
        let map = self.store.account_map().await?;
        let mut cache = self.accounts.write().await;
        cache.loaded = Some(Instant::now());
        cache.map = map.clone();
        Ok(map)
    }

    /// Processes one batch. `Err` means the batch is not (completely) ingested and must be
    /// retried (SQS redelivers); poison input never produces `Err`.
    pub async fn process(&self, records: &[Record<'_>]) -> Result<BatchReport, StoreError> {
        self.process_until(records, None).await
    }

    /// [`Pipeline::process_until`] that stores what it can: on a cluster routed by org
    /// ([`Store::routes_by_org`]), `Ok` with the records that must come back in
    /// [`BatchReport::retry`] when only some orgs' shards could not store their events (the
    /// others' are stored); `Err` when nothing is known to be stored, and always on a failure
    /// off a routed cluster (exactly as [`Pipeline::process_until`]). What Lambda (partial
    /// batch responses) and the poller (deleting the rest) use.
    pub async fn process_split(
        &self,
        records: &[Record<'_>],
        deadline: Option<Instant>,
    ) -> Result<BatchReport, StoreError> {
        let prepared = self.decode_and_prepare(records).await?;
        let report = self.commit_split(records, prepared, deadline).await?.report;
        // Off a routed cluster a failure is the whole batch's, as it always was.
        match report.failure() {
            Some(e) if !self.store.routes_by_org() => Err(e),
            _ => Ok(report),
        }
    }

    /// [`Pipeline::process`] for a caller that must answer by `deadline` (a Lambda invocation):
    /// an INSERT that could not finish before it (with [`DEADLINE_MARGIN`]) is not started, and
    /// the batch fails instead of being cut off mid-insert.
    pub async fn process_until(
        &self,
        records: &[Record<'_>],
        deadline: Option<Instant>,
    ) -> Result<BatchReport, StoreError> {
        let prepared = self.decode_and_prepare(records).await?;
        Ok(self.commit(records, prepared, deadline).await?.report)
    }

    /// Step 1, decoding every record (a panic is contained to its record), then
    /// [`Pipeline::prepare`].
    async fn decode_and_prepare(&self, records: &[Record<'_>]) -> Result<Prepared, StoreError> {
        self.prepare(records, decode(records)).await
    }

    /// Steps 2 and 3 of [`Pipeline::process`]: attribute the decoded events to orgs and drop
    /// those already ingested. Nothing is written, so a caller may check batch N+1 while batch N
    /// is stored — and must then drop from N+1 what N stored ([`Prepared::without`]).
    pub async fn prepare(
        &self,
        records: &[Record<'_>],
        decoded: Decoded,
    ) -> Result<Prepared, StoreError> {
        let now = now_ms();
        let mut report = BatchReport {
            records: records.len() as u64,
            ..BatchReport::default()
        };
        report.record_quarantined = vec![false; records.len()];
        let outcomes = decoded.0;

        // 2. Attribute events to orgs.
        let needs_accounts = outcomes.iter().any(|(_, o)| matches!(o, Outcome::Event(_)));
        let mut accounts = if needs_accounts {
            self.account_map(false).await?
        } else {
            HashMap::new()
        };
        if outcomes
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Event(e) if !accounts.contains_key(&e.account_id)))
        {
            accounts = self.account_map(true).await?;
        }

        // Sized up front: a batch's rows are tens of megabytes, and growing them by doubling
        // copies them and faults fresh pages in at every step (benches/README.md, poll).
        let row_count = outcomes
            .iter()
            .map(|(_, o)| match o {
                Outcome::Event(ev) => ev.rows.len(),
                _ => 0,
            })
            .sum();
        let mut rows: Vec<EventRow> = Vec::with_capacity(row_count);
        let mut row_record: Vec<usize> = Vec::with_capacity(row_count);
        let mut quarantine: Vec<QuarantineRow> = Vec::new();
        let mut notices: Vec<NoticeRow> = Vec::new();
        let mut quarantine_of = |q: Quarantined, i: usize, report: &mut BatchReport| {
            report.quarantined += 1;
            report.record_quarantined[i] = true;
            *report
                .quarantined_by_reason
                .entry(q.reason.as_str())
                .or_default() += 1;
            quarantine.push(QuarantineRow {
                id: QuarantineRow::id_for(q.reason.as_str(), &q.raw),
                received_ms: now,
                source: self.source.as_str().to_owned(),
                reason: q.reason.as_str().to_owned(),
                detail: q.detail,
                account_id: q.account_id,
                raw: q.raw,
                resolved_ms: 0,
                version: now as u64,
            });
        };
        for (i, outcome) in outcomes {
            match outcome {
                Outcome::Event(ev) => {
                    report.events += 1;
                    match accounts.get(&ev.account_id) {
                        Some(org_id) => {
                            for mut row in ev.rows {
                                row.org_id = *org_id;
                                row.channel_id = channel_id(*org_id, &row.channel);
                                row.ingested_ms = now;
                                rows.push(row);
                                row_record.push(i);
                            }
                        }
                        None => quarantine_of(
                            Quarantined {
                                reason: QuarantineReason::UnknownAccount,
                                detail: format!(
                                    "SES account {} is not mapped to an org",
                                    ev.account_id
                                ),
                                raw: ev.raw.unwrap_or_else(|| records[i].body.to_owned()),
                                account_id: ev.account_id,
                            },
                            i,
                            &mut report,
                        ),
                    }
                }
                Outcome::Notice(n) => {
                    report.acknowledged += 1;
                    notices.push(NoticeRow {
                        id: QuarantineRow::id_for(n.kind.as_str(), &n.raw),
                        received_ms: now,
                        kind: n.kind.as_str().to_owned(),
                        topic_arn: n.topic_arn,
                        raw: n.raw,
                    });
                }
                Outcome::Quarantine(q) => quarantine_of(q, i, &mut report),
            }
        }

        // 3. Drop duplicates: within the batch, then events already ingested (done markers).
        //    An org whose shard cannot answer (a cluster routed by org) keeps its records for a
        //    retry; the others go on.
        let before = rows.len();
        let (rows, row_record, unchecked) = self.without_stored(rows, row_record).await?;
        let unchecked_rows = unchecked.as_ref().map_or(0, |u| u.1.len());
        if let Some((e, records)) = unchecked {
            report.retry_records(records, &e);
        }
        report.duplicates = (before - rows.len() - unchecked_rows) as u64;
        Ok(Prepared {
            now,
            report,
            rows,
            row_record,
            quarantine,
            notices,
        })
    }

    /// Steps 4 and 5 of [`Pipeline::process`] for a batch from [`Pipeline::prepare`] (of the same
    /// `records`); `Err` unless every record is stored.
    pub async fn commit(
        &self,
        records: &[Record<'_>],
        prepared: Prepared,
        deadline: Option<Instant>,
    ) -> Result<Stored, StoreError> {
        let stored = self.commit_split(records, prepared, deadline).await?;
        match stored.report.failure() {
            Some(e) => Err(e),
            None => Ok(stored),
        }
    }

    /// [`Pipeline::commit`] that stores what it can ([`Pipeline::process_split`]).
    pub async fn commit_split(
        &self,
        records: &[Record<'_>],
        prepared: Prepared,
        deadline: Option<Instant>,
    ) -> Result<Stored, StoreError> {
        let Prepared {
            now,
            mut report,
            rows,
            row_record,
            quarantine,
            notices,
        } = prepared;
        // 4. Quarantine and notices first: their ids come from their content, so a retry that
        //    stores them again changes nothing.
        self.store.insert_quarantine(&quarantine).await?;
        self.store.insert_notices(&notices).await?;
        report.notices = notices;
        let ingested = if rows.is_empty() {
            Vec::new()
        } else {
            self.store_events(records, rows, row_record, deadline, now, &mut report)
                .await?
        };
        Ok(Stored { report, ingested })
    }

    /// Drops copies within the batch and events already done. Each org's check runs on its own
    /// shard ([`Store::route`]); an org whose shard cannot answer is left out with its records
    /// (the third value: the error and those records) when the failure is retryable.
    #[allow(clippy::type_complexity)]
    async fn without_stored(
        &self,
        mut rows: Vec<EventRow>,
        mut row_record: Vec<usize>,
    ) -> Result<(Vec<EventRow>, Vec<usize>, Option<(StoreError, Vec<usize>)>), StoreError> {
        let mut seen: HashSet<(Uuid, Uuid)> = HashSet::with_capacity(rows.len());
        let mut by_org: HashMap<Uuid, Vec<(u16, Uuid)>> = HashMap::new();
        retain_rows(&mut rows, &mut row_record, |row, _| {
            let first = seen.insert((row.org_id, row.event_id));
            if first {
                by_org
                    .entry(row.org_id)
                    .or_default()
                    .push((row.day, row.event_id));
            }
            first
        });
        drop(seen);
        let mut stored: HashSet<(Uuid, Uuid)> = HashSet::new();
        let mut unchecked: HashSet<Uuid> = HashSet::new();
        let mut error: Option<StoreError> = None;
        for (org_id, events) in by_org {
            let found = match self.store.route(org_id).await {
                Ok(store) => store.existing_event_ids(org_id, &events).await,
                Err(e) => Err(e),
            };
            match found {
                Ok(ids) => stored.extend(ids.into_iter().map(|id| (org_id, id))),
                // Only a routed store can fail for some orgs and not others.
                Err(e) if e.is_retryable() && self.store.routes_by_org() => {
                    tracing::warn!(org = %org_id, error = %e, "org's shard unavailable; its records come back");
                    unchecked.insert(org_id);
                    error.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        let mut left = Vec::new();
        retain_rows(&mut rows, &mut row_record, |row, rec| {
            if unchecked.contains(&row.org_id) {
                left.push(rec);
                return false;
            }
            !stored.contains(&(row.org_id, row.event_id))
        });
        Ok((rows, row_record, error.map(|e| (e, left))))
    }
}

/// Keeps the rows (and their record indexes, side by side) for which `keep` says true, in
/// order, in place: a batch's rows are moved within their own buffer, never copied to a new one.
fn retain_rows(
    rows: &mut Vec<EventRow>,
    row_record: &mut Vec<usize>,
    mut keep: impl FnMut(&EventRow, usize) -> bool,
) {
    let kept: Vec<bool> = rows
        .iter()
        .zip(row_record.iter())
        .map(|(row, &rec)| keep(row, rec))
        .collect();
    let mut flags = kept.iter();
    rows.retain(|_| flags.next().copied().unwrap_or(false));
    let mut flags = kept.iter();
    row_record.retain(|_| flags.next().copied().unwrap_or(false));
}

/// Time kept free before a caller's deadline: answering it (the partial batch response) and
/// closing the batch must fit in here.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// A batch decoded, attributed and checked against the done markers, not yet stored.
#[derive(Debug)]
pub struct Prepared {
    now: i64,
    report: BatchReport,
    rows: Vec<EventRow>,
    row_record: Vec<usize>,
    quarantine: Vec<QuarantineRow>,
    notices: Vec<NoticeRow>,
}

impl Prepared {
    /// Drops the rows of the events `stored` stored (a batch committed after this one was
    /// checked); they count as duplicates, as the check would have found them.
    pub fn without(&mut self, stored: &Stored) {
        if stored.ingested.is_empty() {
            return;
        }
        let ingested: HashSet<(Uuid, Uuid)> = stored
            .ingested
            .iter()
            .map(|&(org, _, id)| (org, id))
            .collect();
        let before = self.rows.len();
        retain_rows(&mut self.rows, &mut self.row_record, |row, _| {
            !ingested.contains(&(row.org_id, row.event_id))
        });
        self.report.duplicates += (before - self.rows.len()) as u64;
    }
}

/// What [`Pipeline::commit`] did: the batch's report and the (org, day, event id) of every
/// event it stored.
#[derive(Debug)]
pub struct Stored {
    pub report: BatchReport,
    pub ingested: Vec<(Uuid, u16, Uuid)>,
}

/// The outcomes of decoding a batch's records (in record order, each with its record's index):
/// pure data, owned, so decoding can run on another thread than the store phase.
#[derive(Debug)]
pub struct Decoded(Vec<(usize, Outcome)>);

/// Decodes a batch (step 1 of [`Pipeline::process`]); CPU only, no store access.
pub fn decode(records: &[Record<'_>]) -> Decoded {
    Decoded(decode_all(records))
}

/// Batches at least this large are decoded on several threads.
const PARALLEL_DECODE_MIN: usize = 1_000;

/// At most this many decoding threads per batch.
const MAX_DECODE_THREADS: usize = 8;

/// Decodes every record, in record order, each tagged with its record's index. Decoding is pure
/// CPU work and the store is idle meanwhile, so a large batch is split across the machine's
/// cores (scoped threads); the outcomes are the same as decoding one record after another.
fn decode_all<'r>(records: &[Record<'r>]) -> Vec<(usize, Outcome)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_DECODE_THREADS);
    if records.len() < PARALLEL_DECODE_MIN || threads < 2 {
        return decode_range(records, 0);
    }
    let per_thread = records.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = records
            .chunks(per_thread)
            .enumerate()
            .map(|(n, part)| scope.spawn(move || decode_range(part, n * per_thread)))
            .collect();
        let mut all = Vec::with_capacity(records.len());
        for part in parts {
            // Each record's panic is caught inside `decode_range`; anything else is a bug.
            all.extend(part.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        all
    })
}

/// Decodes `records` (the first has index `first`); a panic is contained to its record.
fn decode_range(records: &[Record<'_>], first: usize) -> Vec<(usize, Outcome)> {
    let mut outcomes = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let body = record.body;
        let decoded = catch_unwind(AssertUnwindSafe(|| {
            let mut out = Vec::new();
            decode_record(body, &mut out);
            out
        }));
        match decoded {
            Ok(out) => outcomes.extend(out.into_iter().map(|o| (first + i, o))),
            Err(_) => outcomes.push((
                first + i,
                Outcome::Quarantine(Quarantined {
                    reason: QuarantineReason::ProcessingPanic,
                    detail: "decoding the record panicked".into(),
                    raw: body.to_owned(),
                    account_id: String::new(),
                }),
            )),
        }
    }
    outcomes
}

/// What `sendops-admin quarantine replay` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QuarantineReplay {
    pub replayed: u64,
    pub resolved: u64,
    pub still_quarantined: u64,
    pub rows: u64,
    pub duplicates: u64,
}

/// Re-ingests open quarantine entries with `reason` (at most `limit`); entries whose record now
/// stores cleanly are marked resolved, the rest stay open. An entry whose bytes are not UTF-8
/// (a replayed line kept as it was read) can never decode: it is not re-ingested and counts as
/// still quarantined.
pub async fn replay_quarantine(
    store: &Store,
    reason: &str,
    limit: u64,
) -> Result<QuarantineReplay, StoreError> {
    let open = store.list_quarantine(Some(reason), false, limit).await?;
    let pipeline = Pipeline::new(store.clone(), Source::Replay);
    let mut out = QuarantineReplay {
        replayed: open.len() as u64,
        ..QuarantineReplay::default()
    };
    let text: Vec<(&QuarantineRow<Vec<u8>>, &str)> = open
        .iter()
        .filter_map(|q| q.raw_text().map(|raw| (q, raw)))
        .collect();
    let not_utf8 = open.len() - text.len();
    if not_utf8 > 0 {
        tracing::warn!(
            reason,
            entries = not_utf8,
            "quarantine entries that are not UTF-8 cannot be replayed; they stay open"
        );
    }
    for entries in text.chunks(10_000) {
        let records: Vec<Record<'_>> = entries
            .iter()
            .map(|(_, raw)| Record { body: raw })
            .collect();
        let report = pipeline.process(&records).await?;
        let now = now_ms();
        let resolved: Vec<QuarantineRow<Vec<u8>>> = entries
            .iter()
            .zip(&report.record_quarantined)
            .filter(|(_, still)| !**still)
            .map(|((entry, _), _)| QuarantineRow {
                resolved_ms: now,
                version: now as u64 + 1,
                ..(*entry).clone()
            })
            .collect();
        store.insert_quarantine(&resolved).await?;
        out.resolved += resolved.len() as u64;
        out.rows += report.rows;
        out.duplicates += report.duplicates;
    }
    out.still_quarantined = out.replayed - out.resolved;
    Ok(out)
}
