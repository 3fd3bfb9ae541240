//! The Lambda handler: an SQS event in, a partial batch response out
//! (`ReportBatchItemFailures`). Poison records are quarantined and reported as successes; a store
//! outage reports every record so SQS redelivers the whole batch.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};

use crate::pipeline::{Pipeline, Record};

/// Handles one invocation. Never returns `Err` for bad input.
pub async fn handle(
    pipeline: &Pipeline,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let messages = event.payload.records;
    let records: Vec<Record<'_>> = messages
        .iter()
        .map(|m| Record {
            body: m.body.as_deref().unwrap_or(""),
        })
        .collect();
    let mut response = SqsBatchResponse::default();
    match pipeline.process(&records).await {
        Ok(report) => {
            tracing::info!(
                records = report.records,
                events = report.events,
                rows = report.rows,
                duplicates = report.duplicates,
                quarantined = report.quarantined,
                acknowledged = report.acknowledged,
                "batch stored"
            );
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

/// Runs the Lambda runtime loop with this pipeline (clients are built once, before the loop).
pub async fn run(pipeline: Pipeline) -> Result<(), Error> {
    let pipeline = &pipeline;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<SqsEvent>| async move { handle(pipeline, event).await },
    ))
    .await
}
