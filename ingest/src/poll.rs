//! The long-running SQS poller for container deployments. It long-polls, accumulates messages
//! into large batches, stores them, and deletes a message only after its rows are committed. On a
//! store failure nothing is deleted: the messages reappear after their visibility timeout, and
//! after the queue's maxReceiveCount they move to its DLQ.

use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message};
use tokio::sync::watch;

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
}

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
/// received while the previous one is stored (at most two batches held), and a batch is stored
/// only after the one before it: the duplicate check of a batch sees everything stored before.
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
    loop {
        let mut next: Vec<Message> = Vec::new();
        let store = async {
            match pending.take() {
                Some(batch) => flush(pipeline, sqs, cfg, batch, &mut summary, confirmer).await,
                None => Ok(()),
            }
        };
        let receive = async {
            tokio::select! {
                filled = fill(sqs, cfg, &mut next) => filled.map(|()| false),
                () = stopped(&mut stop) => Ok(true),
            }
        };
        let (stopping, stored) = tokio::join!(receive, store);
        stored?;
        if stopping? {
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

/// Receives into the empty `buffer` until it should be stored: `max_messages` buffered, the
/// oldest waited `max_wait`, or a receive came back empty with something buffered. Returns with
/// an empty buffer only with `until_empty`, once a receive came back empty.
async fn fill(sqs: &Client, cfg: &PollConfig, buffer: &mut Vec<Message>) -> Result<(), PollError> {
    let mut oldest: Option<Instant> = None;
    loop {
        let wait = if buffer.is_empty() {
            cfg.wait_time_seconds
        } else {
            cfg.wait_time_seconds.min(1)
        };
        let mut req = sqs
            .receive_message()
            .queue_url(&cfg.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait);
        if let Some(v) = cfg.visibility_timeout {
            req = req.visibility_timeout(v);
        }
        let received = match req.send().await {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                if cfg.until_empty && buffer.is_empty() {
                    return Err(sqs_err(aws_sdk_sqs::error::DisplayErrorContext(e)));
                }
                Vec::new()
            }
        };
        metrics::counter!("sendops_ingest_sqs_received_total").increment(received.len() as u64);
        let drained = received.is_empty();
        if !received.is_empty() && oldest.is_none() {
            oldest = Some(Instant::now());
        }
        buffer.extend(received);
        let due = oldest.is_some_and(|t| t.elapsed() >= cfg.max_wait);
        if !buffer.is_empty() && (buffer.len() >= cfg.max_messages || due || drained) {
            return Ok(());
        }
        if drained && buffer.is_empty() && cfg.until_empty {
            return Ok(());
        }
    }
}

async fn flush(
    pipeline: &Pipeline,
    sqs: &Client,
    cfg: &PollConfig,
    batch: Vec<Message>,
    summary: &mut PollSummary,
    confirmer: Option<&Confirmer>,
) -> Result<(), PollError> {
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
            return Ok(());
        }
    };
    let stored: Vec<&Message> = batch
        .iter()
        .enumerate()
        .filter(|(i, _)| retry.binary_search(i).is_err())
        .map(|(_, m)| m)
        .collect();
    for chunk in stored.chunks(10) {
        let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .build()
                    .ok()
            })
            .collect();
        let out = sqs
            .delete_message_batch()
            .queue_url(&cfg.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sqs_err(aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        summary.deleted += out.successful.len() as u64;
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
    // The batch is stored and its messages deleted before anything is confirmed.
    if let Some(confirmer) = confirmer {
        confirmer.confirm(pipeline.store(), &notices).await;
    }
    Ok(())
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
