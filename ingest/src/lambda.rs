//! The Lambda handler: an SQS event in, a partial batch response out
//! (`ReportBatchItemFailures`). Poison records are quarantined and reported as successes; a store
//! outage reports every record so SQS redelivers the whole batch, and so does a batch whose INSERT
//! could not finish before the invocation's deadline (it is not started, rather than cut off).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use std::time::{Duration, Instant};

use lambda_runtime::{Error, LambdaEvent};
use sendops_shared::timefmt::now_ms;

use sendops_shared::write::pipeline::{Pipeline, Record};

use crate::sns_confirm::Confirmer;

/// Handles one invocation. Never returns `Err` for bad input.
pub async fn handle(
    pipeline: &Pipeline,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    handle_confirming(pipeline, None, event).await
}

/// [`handle`], and once the batch is stored, the SNS subscription confirmations it carried are
/// checked and confirmed by `confirmer` (crate::sns_confirm; never changes the response).
pub async fn handle_confirming(
    pipeline: &Pipeline,
    confirmer: Option<&Confirmer>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let deadline = invocation_deadline(event.context.deadline);
    let messages = event.payload.records;
    let records: Vec<Record<'_>> = messages
        .iter()
        .map(|m| Record {
            body: m.body.as_deref().unwrap_or(""),
        })
        .collect();
    let mut response = SqsBatchResponse::default();
    let started = Instant::now();
    match pipeline.process_split(&records, deadline).await {
        Ok(report) => {
            // Records of orgs whose shard could not store them (a cluster routed by org): only
            // those go back to the queue; the rest are stored.
            if !report.retry.is_empty() {
                tracing::error!(
                    error = ?report.retry_error,
                    records = report.retry.len(),
                    "some orgs' shards failed; their records go back to the queue"
                );
                for &i in &report.retry {
                    response.add_failure(messages[i].message_id.clone().unwrap_or_default());
                }
            }
            // One CloudWatch embedded-metric-format line per invocation (stdout).
            sendops_shared::print_line(&crate::ops::emf_line(&report, started.elapsed(), now_ms()));
            tracing::info!(
                records = report.records,
                events = report.events,
                rows = report.rows,
                duplicates = report.duplicates,
                quarantined = report.quarantined,
                acknowledged = report.acknowledged,
                "batch stored"
            );
            if let Some(confirmer) = confirmer {
                confirmer
                    .confirm_until(pipeline.store(), &report.notices, deadline)
                    .await;
            }
        }
        Err(e) => {
            tracing::error!(error = %e, records = records.len(), "store failed; every record goes back to the queue");
            for m in &messages {
                response.add_failure(m.message_id.clone().unwrap_or_default());
            }
        }
    }
    Ok(response)
}

/// The invocation's deadline (epoch milliseconds from the Runtime API) as an `Instant`; None when
/// the runtime sent none (0).
fn invocation_deadline(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = u64::try_from(now_ms()).unwrap_or(0);
    Some(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

/// Runs the Lambda runtime loop with this pipeline (clients are built once, before the loop).
pub async fn run(pipeline: Pipeline) -> Result<(), Error> {
    run_confirming(pipeline, None).await
}

/// [`run`] with [`handle_confirming`].
pub async fn run_confirming(pipeline: Pipeline, confirmer: Option<Confirmer>) -> Result<(), Error> {
    let pipeline = &pipeline;
    let confirmer = confirmer.as_ref();
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<SqsEvent>| async move {
            handle_confirming(pipeline, confirmer, event).await
        },
    ))
    .await
}
