//! The long-running SQS poller for container deployments. It long-polls, accumulates messages
//! into large batches, stores them, and deletes a message only after its rows are committed. On a
//! store failure nothing is deleted: the messages reappear after their visibility timeout, and
//! after the queue's maxReceiveCount they move to its DLQ.
//!
//! One ReceiveMessage returns at most 10 messages and one DeleteMessageBatch deletes at most 10,
//! and each is a round trip (~10–20 ms against SQS): one call at a time would cap a poller near
//! 700 messages/s. So up to `receivers` ReceiveMessage calls are kept in flight while a batch is
//! filled, and a stored batch's DeleteMessageBatch calls run `deleters` at a time (DESIGN.md,
//! "The poller's SQS calls").

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::watch;

use sendops_shared::store::NoticeRow;
use sendops_shared::write::pipeline::{BatchReport, Pipeline, Record};

use crate::sns_confirm::Confirmer;

/// Poller settings (see `sendops-ingest poll --help`).
#[derive(Debug, Clone)]
pub struct PollConfig {
    pub queue_url: String,
    /// Flush when this many messages are buffered.
    pub max_messages: usize,
    /// Flush when the oldest buffered message has waited this long.
    pub max_wait: Duration,
    /// Long-poll wait per ReceiveMessage (0–20 s).
    pub wait_time_seconds: i32,
    /// Visibility timeout asked for on receive; must exceed `max_wait` plus insert time.
    pub visibility_timeout: Option<i32>,
    /// Stop once a receive comes back empty and everything buffered is flushed (tests, drains).
    pub until_empty: bool,
    /// ReceiveMessage calls kept in flight while a batch is filled (at least 1; see
    /// [`RECEIVERS_MAX`]). A receive is started only while the messages buffered plus 10 per
    /// receive in flight stay below `max_messages`, so a batch in the making never holds more
    /// than `max_messages + 9` messages, in hand or on their way.
    pub receivers: usize,
    /// DeleteMessageBatch calls (10 messages each) in flight at once while a stored batch is
    /// deleted (at least 1; see [`DELETERS_MAX`]).
    pub deleters: usize,
}

/// Default and upper bound of [`PollConfig::receivers`] (`--receivers`, `SQS_RECEIVERS`).
pub const RECEIVERS_DEFAULT: usize = 64;
pub const RECEIVERS_MAX: usize = 100;
/// Default and upper bound of [`PollConfig::deleters`] (`--deleters`, `SQS_DELETERS`).
pub const DELETERS_DEFAULT: usize = 64;
pub const DELETERS_MAX: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("SQS: {0}")]
    Sqs(String),
}

/// What the poller did, summed over its flushes.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PollSummary {
    #[serde(flatten)]
    pub report: BatchReport,
    pub flushes: u64,
    pub failed_flushes: u64,
    pub deleted: u64,
    /// Messages received but not stored when the poller was stopped (left on the queue).
    pub left: u64,
}

fn sqs_err(e: impl std::fmt::Display) -> PollError {
    PollError::Sqs(e.to_string())
}

/// Polls until stopped (or, with `until_empty`, until the queue is drained). The next batch is
/// received while the previous one is stored (at most two batches held) and the one before that
/// is deleted (only its receipt handles held), and a batch is stored only after the one before it:
/// the duplicate check of a batch sees everything stored before.
pub async fn run(
    pipeline: &Pipeline,
    sqs: &Client,
    cfg: &PollConfig,
) -> Result<PollSummary, PollError> {
    let (_keep, never) = watch::channel(false);
    run_until(pipeline, sqs, cfg, never).await
}

/// [`run`] that stops gracefully once `stop` turns true (SIGTERM, SIGINT): it stops receiving,
/// finishes storing the batch in hand and deletes its messages, and leaves the messages received
/// for the next batch undeleted (SQS makes them visible again after their visibility timeout).
pub async fn run_until(
    pipeline: &Pipeline,
    sqs: &Client,
    cfg: &PollConfig,
    stop: watch::Receiver<bool>,
) -> Result<PollSummary, PollError> {
    run_confirming(pipeline, sqs, cfg, stop, None).await
}

/// [`run_until`], and after each batch is stored and deleted, the SNS subscription
/// confirmations it carried are checked and confirmed by `confirmer` (crate::sns_confirm; an
/// outcome is recorded, never a reason to keep or fail the batch).
pub async fn run_confirming(
    pipeline: &Pipeline,
    sqs: &Client,
    cfg: &PollConfig,
    mut stop: watch::Receiver<bool>,
    confirmer: Option<&Confirmer>,
) -> Result<PollSummary, PollError> {
    let mut summary = PollSummary::default();
    let mut pending: Option<Vec<Message>> = None;
    // The deletes of the batch stored last: started as soon as it is stored, they run while the
    // next batch is stored (and received), and are awaited (then its confirmations made) before
    // the following batch's deletes start.
    let mut deleting: Option<Deleting> = None;
    // Receives still in flight when a batch is handed over (it was due, or a receive came back
    // empty) are kept and their messages go to the next batch.
    let mut receives = Receives::new(sqs, cfg);
    loop {
        // Sized for a full batch (bounded): growing it by doubling copies and faults in pages.
        let mut next: Vec<Message> = Vec::with_capacity((cfg.max_messages + 9).min(100_000));
        let store = async {
            let previous = async {
                match deleting.take() {
                    Some(d) => d.finish(pipeline, confirmer).await,
                    None => Ok(0),
                }
            };
            let current = async {
                match pending.take() {
                    Some(batch) => store_batch(pipeline, batch, &mut summary).await,
                    None => None,
                }
            };
            let (deleted, stored) = tokio::join!(previous, current);
            (deleted, stored.map(|s| Deleting::start(sqs, cfg, s)))
        };
        let receive = async {
            tokio::select! {
                filled = fill(&mut receives, &mut next) => filled.map(|()| false),
                () = stopped(&mut stop) => Ok(true),
            }
        };
        let (stopping, (deleted, started)) = tokio::join!(receive, store);
        summary.deleted += deleted?;
        deleting = started;
        if !matches!(stopping, Ok(false)) || next.is_empty() {
            // Returning: the batch just stored is deleted first.
            if let Some(d) = deleting.take() {
                summary.deleted += d.finish(pipeline, confirmer).await?;
            }
        }
        if stopping? {
            // Receives still in flight are dropped unread: whatever SQS handed them reappears
            // after its visibility timeout.
            drop(receives);
            tracing::info!(
                left = next.len(),
                "stopping: the batch in hand is stored; messages received since are left to their visibility timeout"
            );
            summary.left = next.len() as u64;
            return Ok(summary);
        }
        if next.is_empty() {
            // Only with `until_empty`: the queue is drained and everything received is stored.
            return Ok(summary);
        }
        pending = Some(next);
    }
}

/// Resolves once `stop` is true (never, if its sender is gone while false).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A ReceiveMessage call in flight: its messages, or the error (already logged, and followed by
/// a 1 s pause so a failing SQS is not hammered).
type Receive<'a> = Pin<Box<dyn Future<Output = Result<Vec<Message>, PollError>> + Send + 'a>>;

/// The ReceiveMessage calls in flight, kept across batches.
struct Receives<'a> {
    sqs: &'a Client,
    cfg: &'a PollConfig,
    in_flight: FuturesUnordered<Receive<'a>>,
}

impl<'a> Receives<'a> {
    fn new(sqs: &'a Client, cfg: &'a PollConfig) -> Self {
        Receives {
            sqs,
            cfg,
            in_flight: FuturesUnordered::new(),
        }
    }

    fn start(&mut self, wait_time_seconds: i32) {
        let (sqs, cfg) = (self.sqs, self.cfg);
        self.in_flight.push(Box::pin(async move {
            let mut req = sqs
                .receive_message()
                .queue_url(&cfg.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(wait_time_seconds);
            if let Some(v) = cfg.visibility_timeout {
                req = req.visibility_timeout(v);
            }
            match req.send().await {
                Ok(out) => Ok(out.messages.unwrap_or_default()),
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "receive failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Err(sqs_err(aws_sdk_sqs::error::DisplayErrorContext(e)))
                }
            }
        }));
    }
}

/// Receives into the empty `buffer` until it should be stored: `max_messages` buffered, the
/// oldest waited `max_wait`, or a receive came back empty (or failed) with something buffered.
/// Returns with an empty buffer only with `until_empty`, once a receive came back empty and every
/// receive in flight has come back empty too.
///
/// Up to `receivers` receives are in flight; one is started only while the buffer plus 10 per
/// receive in flight stays below `max_messages` (so when the buffer is full none is in flight).
async fn fill(receives: &mut Receives<'_>, buffer: &mut Vec<Message>) -> Result<(), PollError> {
    let cfg = receives.cfg;
    let mut oldest: Option<Instant> = None;
    // The last receive that came back brought nothing: with `until_empty` and nothing buffered,
    // no new receive is started until those in flight have answered.
    let mut last_empty = false;
    loop {
        while receives.in_flight.len() < cfg.receivers.max(1)
            && buffer.len() + 10 * receives.in_flight.len() < cfg.max_messages.max(1)
            && !(cfg.until_empty && last_empty && buffer.is_empty())
        {
            let wait = if buffer.is_empty() {
                cfg.wait_time_seconds
            } else {
                cfg.wait_time_seconds.min(1)
            };
            receives.start(wait);
        }
        let Some(result) = receives.in_flight.next().await else {
            // Nothing in flight and none started: `until_empty`, the queue drained, nothing
            // buffered (a full buffer returned below).
            return Ok(());
        };
        let received = match result {
            Ok(received) => received,
            Err(e) if cfg.until_empty && buffer.is_empty() => return Err(e),
            Err(_) => Vec::new(),
        };
        metrics::counter!("sendops_ingest_sqs_received_total").increment(received.len() as u64);
        let drained = received.is_empty();
        last_empty = drained;
        if !received.is_empty() && oldest.is_none() {
            oldest = Some(Instant::now());
        }
        buffer.extend(received);
        let due = oldest.is_some_and(|t| t.elapsed() >= cfg.max_wait);
        if !buffer.is_empty() && (buffer.len() >= cfg.max_messages || due || drained) {
            return Ok(());
        }
    }
}

/// A stored batch waiting for its deletes: the receipt handles of its messages (those of records
/// a failed shard left for retry excluded) and the set-up notices it carried.
struct Stored {
    receipt_handles: Vec<String>,
    notices: Vec<NoticeRow>,
}

/// Stores a batch. `None` when the store failed: every message is left undeleted and SQS
/// redelivers after the visibility timeout.
async fn store_batch(
    pipeline: &Pipeline,
    batch: Vec<Message>,
    summary: &mut PollSummary,
) -> Option<Stored> {
    let records: Vec<Record<'_>> = batch
        .iter()
        .map(|m| Record {
            body: m.body.as_deref().unwrap_or(""),
        })
        .collect();
    summary.flushes += 1;
    let started = Instant::now();
    let (notices, retry) = match pipeline.process_split(&records, None).await {
        Ok(mut report) => {
            if !report.retry.is_empty() {
                // Records of orgs whose shard could not store them (a cluster routed by org):
                // left on the queue; the rest are stored and deleted.
                tracing::error!(error = ?report.retry_error, messages = report.retry.len(), "some orgs' shards failed; leaving their messages on the queue");
                summary.failed_flushes += 1;
                metrics::counter!("sendops_ingest_batch_failures_total").increment(1);
            }
            crate::ops::record_batch(&report, started.elapsed());
            tracing::info!(
                messages = batch.len(),
                rows = report.rows,
                duplicates = report.duplicates,
                quarantined = report.quarantined,
                "batch stored"
            );
            summary.report.add(&report);
            (
                std::mem::take(&mut report.notices),
                std::mem::take(&mut report.retry),
            )
        }
        Err(e) => {
            // Leave every message undeleted: SQS redelivers after the visibility timeout.
            tracing::error!(error = %e, messages = batch.len(), "store failed; leaving messages on the queue");
            summary.failed_flushes += 1;
            metrics::counter!("sendops_ingest_batch_failures_total").increment(1);
            return None;
        }
    };
    drop(records);
    let receipt_handles = batch
        .into_iter()
        .enumerate()
        .filter(|(i, _)| retry.binary_search(i).is_err())
        .filter_map(|(_, m)| m.receipt_handle)
        .collect();
    Some(Stored {
        receipt_handles,
        notices,
    })
}

/// A stored batch's deletes, running on their own task (so they go on while the poller waits
/// for the next batch), and the confirmations to make once they are done.
struct Deleting {
    task: tokio::task::JoinHandle<Result<u64, PollError>>,
    notices: Vec<NoticeRow>,
}

impl Deleting {
    fn start(sqs: &Client, cfg: &PollConfig, stored: Stored) -> Deleting {
        let task = tokio::spawn(delete_messages(
            sqs.clone(),
            cfg.queue_url.clone(),
            cfg.deleters.max(1),
            stored.receipt_handles,
        ));
        Deleting {
            task,
            notices: stored.notices,
        }
    }

    /// Waits for the deletes (how many messages SQS deleted), then has the batch's SNS
    /// subscription confirmations made: the batch is stored and its messages deleted before
    /// anything is confirmed. Nothing is confirmed when a delete call failed.
    async fn finish(
        self,
        pipeline: &Pipeline,
        confirmer: Option<&Confirmer>,
    ) -> Result<u64, PollError> {
        let deleted = self
            .task
            .await
            .map_err(|e| PollError::Sqs(format!("the delete task failed: {e}")))??;
        if let Some(confirmer) = confirmer {
            confirmer.confirm(pipeline.store(), &self.notices).await;
        }
        Ok(deleted)
    }
}

/// Deletes messages by receipt handle, `deleters` DeleteMessageBatch calls (10 each) at a time.
/// Returns how many SQS deleted. Every chunk is tried even if one call fails; then the first
/// error is returned.
async fn delete_messages(
    sqs: Client,
    queue_url: String,
    deleters: usize,
    receipt_handles: Vec<String>,
) -> Result<u64, PollError> {
    // Collected first: a stream over a borrowing closure is not `Send` for every lifetime, as
    // `tokio::spawn` needs.
    let deletes: Vec<_> = receipt_handles
        .chunks(10)
        .map(|chunk| {
            let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, handle)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()
                        .ok()
                })
                .collect();
            sqs.delete_message_batch()
                .queue_url(&queue_url)
                .set_entries(Some(entries))
                .send()
        })
        .collect();
    let mut results = futures::stream::iter(deletes).buffer_unordered(deleters);
    let mut deleted = 0;
    let mut error = None;
    while let Some(result) = results.next().await {
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                error.get_or_insert_with(|| sqs_err(aws_sdk_sqs::error::DisplayErrorContext(e)));
                continue;
            }
        };
        deleted += out.successful.len() as u64;
        metrics::counter!("sendops_ingest_sqs_deleted_total")
            .increment(out.successful.len() as u64);
        if !out.failed.is_empty() {
            // Not fatal: a message that was stored but not deleted comes back and is skipped as a
            // duplicate.
            tracing::warn!(
                failed = out.failed.len(),
                "some deletes failed; those messages will be redelivered and deduplicated"
            );
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(deleted),
    }
}

/// An SQS client from the default AWS configuration, with an optional endpoint override
/// (`SQS_ENDPOINT_URL` or `--endpoint-url`; `moto_server` in tests).
pub async fn sqs_client(endpoint: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    let conf = loader.load().await;
    Client::new(&conf)
}
