//! `sendops-ingest poll` with `SENDOPS_METRICS_ADDR` (issue 16): after it drains a moto SQS queue
//! holding good events and known poison records, `/metrics` shows exactly the records, rows, SQS
//! receives and deletes, and quarantined records by reason; `/ready` answers 200.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{acme_db, assert_refused_naming, expected_rows, moto, sns_traffic};
use sendops_testkit::process::{free_port, http_get as get};

/// Every sample of `name` as (label set, value); the label set is "" without labels.
fn samples(scrape: &str, name: &str) -> Vec<(String, f64)> {
    scrape
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(r) => r.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            Some((labels.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

fn total(scrape: &str, name: &str) -> f64 {
    samples(scrape, name).iter().map(|(_, v)| v).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_metrics_count_records_rows_and_quarantine_by_reason() {
    let db = acme_db("poll_metrics").await;
    let sqs = moto::sqs();
    let url = moto::queue(
        &sqs,
        &format!("sendops-poll-metrics-{}", std::process::id()),
    )
    .await;
    let (events, mut bodies) = sns_traffic(31, 20);
    bodies.push("definitely not json".into());
    bodies.push("{ still not json".into());
    bodies.push(r#"{"Type":"Notification","Message":"{\"eventType\":\"Open\"}"}"#.into());
    moto::send_all(&sqs, &url, &bodies).await;

    let metrics = free_port();
    let mut child = moto::poller(&url, &db.config.url, &db.config.database)
        .args(["--max-messages", "10", "--max-wait-ms", "100"])
        .args(["--wait-time-seconds", "1"])
        .env("SENDOPS_METRICS_ADDR", format!("127.0.0.1:{metrics}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let scrape = loop {
        if let Ok((200, scrape)) = get(metrics, "/metrics", "")
            && total(&scrape, "sendops_ingest_sqs_deleted_total") as usize >= bodies.len()
        {
            break scrape;
        }
        assert!(child.try_wait().unwrap().is_none(), "the poller exited");
        assert!(
            Instant::now() < deadline,
            "the queue was not drained in time"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Store statements (sendops_shared::store::metered): each /ready is exactly one
    // `SELECT version()`; each events INSERT is followed by one done-marker INSERT; no errors.
    let versions = |scrape: &str| {
        samples(scrape, "sendops_store_queries_total")
            .into_iter()
            .filter(|(l, _)| l == r#"op="select",outcome="ok""#)
            .map(|(_, v)| v)
            .sum::<f64>()
    };
    let before = versions(&scrape);
    for _ in 0..2 {
        assert_eq!(get(metrics, "/ready", "").unwrap().0, 200);
    }
    let (_, after) = get(metrics, "/metrics", "").unwrap();
    assert_eq!(versions(&after) - before, 2.0, "{after}");
    let store = |op: &str| {
        samples(&scrape, "sendops_store_queries_total")
            .into_iter()
            .filter(|(l, _)| *l == format!(r#"op="{op}",outcome="ok""#))
            .map(|(_, v)| v)
            .sum::<f64>()
    };
    assert!(store("insert:events") >= 1.0, "{scrape}");
    assert_eq!(
        store("insert:events"),
        store("insert:ingested_events"),
        "{scrape}"
    );
    assert!(store("insert:quarantine") >= 1.0, "{scrape}");
    assert_eq!(
        total(&scrape, "sendops_store_query_duration_seconds_count"),
        total(&scrape, "sendops_store_queries_total"),
        "{scrape}"
    );
    assert!(
        !scrape.contains(r#"outcome="error""#),
        "a store statement failed: {scrape}"
    );
    let _ = child.kill();
    let _ = child.wait();

    let n = bodies.len() as f64;
    assert_eq!(
        total(&scrape, "sendops_ingest_records_total"),
        n,
        "{scrape}"
    );
    assert_eq!(
        total(&scrape, "sendops_ingest_sqs_received_total"),
        n,
        "{scrape}"
    );
    assert_eq!(
        total(&scrape, "sendops_ingest_sqs_deleted_total"),
        n,
        "{scrape}"
    );
    assert_eq!(
        total(&scrape, "sendops_ingest_rows_total"),
        expected_rows(&events).len() as f64,
        "{scrape}"
    );
    assert!(total(&scrape, "sendops_ingest_batch_records_count") > 0.0);
    assert_eq!(
        total(&scrape, "sendops_ingest_batch_records_sum"),
        n,
        "{scrape}"
    );
    // Quarantined by reason: the two non-JSON bodies, and exactly what the quarantine table holds.
    let by_reason: BTreeMap<String, f64> = samples(&scrape, "sendops_ingest_quarantined_total")
        .into_iter()
        .collect();
    assert_eq!(
        by_reason.get(r#"reason="invalid_json""#),
        Some(&2.0),
        "{scrape}"
    );
    let mut stored: BTreeMap<String, f64> = BTreeMap::new();
    for q in db.store.list_quarantine(None, false, 100).await.unwrap() {
        *stored
            .entry(format!("reason=\"{}\"", q.reason))
            .or_default() += 1.0;
    }
    assert_eq!(by_reason, stored, "{scrape}");
    assert_eq!(by_reason.values().sum::<f64>(), 3.0, "{scrape}");
    db.drop().await;
}

#[test]
fn a_bad_log_format_or_metrics_address_stops_the_start() {
    let cases = [
        ("SENDOPS_LOG_FORMAT", "xml"),
        ("SENDOPS_METRICS_ADDR", "9090"),
        ("SENDOPS_METRICS_ADDR", "localhost:metrics"),
    ];
    for (name, value) in cases {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-ingest"));
        cmd.args([
            "poll",
            "--queue-url",
            "http://127.0.0.1:1/q",
            "--until-empty",
        ])
        .env(name, value)
        .env("CLICKHOUSE_URL", "http://127.0.0.1:1");
        assert_refused_naming(&mut cmd, name, &format!("{name}={value}"));
    }
}
