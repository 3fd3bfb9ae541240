//! Ingest figures: Prometheus metrics for `sendops-ingest poll` (served with `/ready` on
//! `SENDOPS_METRICS_ADDR`) and CloudWatch embedded-metric-format lines for the Lambda.
//!
//! Metric names (recorded through the `metrics` facade; nothing is recorded unless `main`
//! installed the recorder):
//! - `sendops_ingest_records_total`, `sendops_ingest_rows_total`, `sendops_ingest_duplicates_total`,
//!   `sendops_ingest_acknowledged_total` (SNS notices acknowledged),
//!   `sendops_ingest_quarantined_total{reason}`: summed from each batch's `BatchReport`.
//! - `sendops_ingest_batch_duration_seconds` (histogram: decode, check and INSERT of one batch),
//!   `sendops_ingest_batch_records` (histogram: records per batch),
//!   `sendops_ingest_batch_failures_total` (batches left on the queue after a store failure).
//! - `sendops_ingest_sqs_received_total`, `sendops_ingest_sqs_deleted_total`.
//! - `sendops_store_queries_total{op,outcome}`, `sendops_store_query_duration_seconds{op}`: every
//!   ClickHouse statement (`sendops_shared::store::metered`).
//! - `sendops_ingest_sns_confirmations_total{outcome}`: SNS subscription confirmations
//!   (`confirmed`, `refused`, `failed`; crate::sns_confirm).

use std::net::SocketAddr;
use std::time::Duration;

use sendops_ops::{Matcher, PrometheusHandle};
use sendops_shared::Store;
use sendops_shared::write::pipeline::BatchReport;

/// Records the figures of one stored batch.
pub fn record_batch(report: &BatchReport, elapsed: Duration) {
    metrics::counter!("sendops_ingest_records_total").increment(report.records);
    metrics::counter!("sendops_ingest_rows_total").increment(report.rows);
    metrics::counter!("sendops_ingest_duplicates_total").increment(report.duplicates);
    metrics::counter!("sendops_ingest_acknowledged_total").increment(report.acknowledged);
    for (reason, n) in &report.quarantined_by_reason {
        metrics::counter!("sendops_ingest_quarantined_total", "reason" => *reason).increment(*n);
    }
    metrics::histogram!("sendops_ingest_batch_duration_seconds").record(elapsed.as_secs_f64());
    metrics::histogram!("sendops_ingest_batch_records").record(report.records as f64);
}

/// One CloudWatch embedded-metric-format line (namespace `SendOps/Ingest`) with a batch's
/// figures; the Lambda prints one per invocation on stdout.
pub fn emf_line(report: &BatchReport, elapsed: Duration, timestamp_ms: i64) -> String {
    let names = [
        ("Records", "Count"),
        ("Rows", "Count"),
        ("Duplicates", "Count"),
        ("Quarantined", "Count"),
        ("Acknowledged", "Count"),
        ("BatchMilliseconds", "Milliseconds"),
    ];
    let mut doc = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": "SendOps/Ingest",
                "Dimensions": [[]],
                "Metrics": names.iter().map(|(n, u)| serde_json::json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
            }],
        },
        "Records": report.records,
        "Rows": report.rows,
        "Duplicates": report.duplicates,
        "Quarantined": report.quarantined,
        "Acknowledged": report.acknowledged,
        "BatchMilliseconds": elapsed.as_secs_f64() * 1000.0,
    });
    // Per-reason counts as properties (searchable in Logs Insights, not metrics).
    if let Some(obj) = doc.as_object_mut() {
        for (reason, n) in &report.quarantined_by_reason {
            obj.insert(format!("Quarantined_{reason}"), (*n).into());
        }
    }
    doc.to_string()
}

/// Installs the process-wide Prometheus recorder (batch buckets here, `sendops-ops`'s latency
/// buckets for the store's `*_duration_seconds`).
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    sendops_ops::install_recorder(&[
        (
            Matcher::Full("sendops_ingest_batch_duration_seconds".into()),
            &[
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ],
        ),
        (
            Matcher::Full("sendops_ingest_batch_records".into()),
            &[
                1.0, 10.0, 100.0, 1_000.0, 5_000.0, 10_000.0, 50_000.0, 100_000.0,
            ],
        ),
    ])
}

/// Serves `/metrics` and `/ready` (200 when the store answers within 2 s, else 503) on
/// `addr` (`sendops-ops`); returns once bound.
pub async fn serve(
    addr: SocketAddr,
    handle: PrometheusHandle,
    store: Store,
) -> std::io::Result<()> {
    sendops_ops::spawn(addr, handle, store).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_line_is_one_cloudwatch_document() {
        let mut report = BatchReport {
            records: 5,
            rows: 3,
            duplicates: 1,
            quarantined: 1,
            ..BatchReport::default()
        };
        report.quarantined_by_reason.insert("invalid_json", 1);
        let line = emf_line(&report, Duration::from_millis(12), 1_700_000_000_000);
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "SendOps/Ingest"
        );
        let names: Vec<&str> = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for name in &names {
            assert!(v.get(*name).is_some(), "{name} has no value");
        }
        assert_eq!(v["Records"], 5);
        assert_eq!(v["Rows"], 3);
        assert_eq!(v["Quarantined"], 1);
        assert_eq!(v["Quarantined_invalid_json"], 1);
        assert_eq!(v["BatchMilliseconds"], 12.0);
    }
}
