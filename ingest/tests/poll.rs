//! The SQS poller against moto_server (real SQS wire protocol through aws-sdk-sqs): messages are
//! deleted only after their rows are committed; a store outage leaves them on the queue until
//! the queue's redrive policy moves them to the DLQ, from which they can be ingested later.

mod common;

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use common::moto::{self, sqs};
use common::{acme_db, count, exit_summary, expected_rows, sns_traffic, stop_once_stored};
use sendops_ingest::poll::{self, PollConfig};
use sendops_ingest::{Pipeline, Source};
use sendops_shared::Store;
use sendops_shared::store::Table;
use sendops_shared::store::config::ClickHouseConfig;
use sendops_shared::store::testing::TestDb;

/// A queue with a DLQ after `max_receive` receives; returns (queue url, dlq url).
async fn queue_with_dlq(sqs: &Client, name: &str, max_receive: u32) -> (String, String) {
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap_or_else(moto::down)
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let policy =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receive}"}}"#);
    let url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, policy)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (url, dlq)
}

async fn depth(sqs: &Client, url: &str) -> u64 {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    attrs.values().map(|v| v.parse::<u64>().unwrap()).sum()
}

fn config(url: &str, visibility: Option<i32>) -> PollConfig {
    PollConfig {
        queue_url: url.to_owned(),
        max_messages: 25,
        max_wait: Duration::from_millis(200),
        wait_time_seconds: 0,
        visibility_timeout: visibility,
        until_empty: true,
        // One receive and one delete at a time against moto (`moto::poller` says why).
        receivers: 1,
        deleters: 1,
    }
}

/// A test's database with the org, and a moto queue with its DLQ holding the test's messages.
struct Setup {
    db: TestDb,
    sqs: Client,
    url: String,
    dlq: String,
}

/// Database `name`, and queue `sendops-{queue}-<pid>` (DLQ after `max_receive` receives) holding
/// `bodies`.
async fn setup(name: &str, queue: &str, max_receive: u32, bodies: &[String]) -> Setup {
    let db = acme_db(name).await;
    let sqs = sqs();
    let queue = format!("sendops-{queue}-{}", std::process::id());
    let (url, dlq) = queue_with_dlq(&sqs, &queue, max_receive).await;
    moto::send_all(&sqs, &url, bodies).await;
    Setup { db, sqs, url, dlq }
}

/// The event rows stored.
async fn stored_events(db: &TestDb) -> usize {
    db.store.count(Table::Events).await.unwrap() as usize
}

#[tokio::test]
async fn poller_stores_then_deletes_and_quarantines_poison() {
    let (events, mut bodies) = sns_traffic(21, 40);
    bodies.push("definitely not json".into());
    bodies.push(r#"{"Type":"Notification","Message":"{\"eventType\":\"Open\"}"}"#.into());
    let Setup { db, sqs, url, dlq } = setup("poll_ok", "poll-ok", 2, &bodies).await;

    let pipeline = Pipeline::new(db.store.clone(), Source::Poll);
    let summary = poll::run(&pipeline, &sqs, &config(&url, None))
        .await
        .unwrap();
    assert_eq!(summary.report.records as usize, bodies.len());
    assert_eq!(summary.deleted as usize, bodies.len());
    assert!(summary.flushes >= 2, "batches of at most 25 messages");
    assert_eq!(stored_events(&db).await, expected_rows(&events).len());
    let quarantined = db.store.list_quarantine(None, false, 10).await.unwrap();
    assert_eq!(quarantined.len(), 2);
    assert_eq!(depth(&sqs, &url).await, 0);
    assert_eq!(depth(&sqs, &dlq).await, 0);
    db.drop().await;
}

#[tokio::test]
async fn store_outage_leaves_messages_for_redelivery_then_the_dlq() {
    let (events, bodies) = sns_traffic(22, 12);
    let Setup { db, sqs, url, dlq } = setup("poll_outage", "poll-outage", 2, &bodies).await;

    let down = Store::new(&ClickHouseConfig {
        url: "http://127.0.0.1:1".into(),
        ..db.config.clone()
    });
    let pipeline = Pipeline::new(down, Source::Poll);
    // Visibility 0: every failed flush makes the messages visible again at once.
    let summary = poll::run(&pipeline, &sqs, &config(&url, Some(0)))
        .await
        .unwrap();
    assert_eq!(summary.deleted, 0);
    assert!(summary.failed_flushes >= 2);
    assert_eq!(
        depth(&sqs, &url).await,
        0,
        "after maxReceiveCount the queue is empty"
    );
    assert_eq!(
        depth(&sqs, &dlq).await as usize,
        bodies.len(),
        "every message is in the DLQ, none lost"
    );
    assert_eq!(stored_events(&db).await, 0);

    // Redrive: the DLQ is ingested once the store is back.
    let up = Pipeline::new(db.store.clone(), Source::Poll);
    poll::run(&up, &sqs, &config(&dlq, None)).await.unwrap();
    assert_eq!(stored_events(&db).await, expected_rows(&events).len());
    assert_eq!(depth(&sqs, &dlq).await, 0);
    db.drop().await;
}

#[tokio::test]
async fn a_stopped_poller_finishes_its_batch_and_leaves_the_rest_on_the_queue() {
    let (events, bodies) = sns_traffic(23, 120);
    let Setup { db, sqs, url, .. } = setup("poll_stop", "poll-stop", 5, &bodies).await;
    let rows = expected_rows(&events).len() as u64;

    // Stopped once the first batch is being stored, while the next one is being received.
    let pipeline = Pipeline::new(db.store.clone(), Source::Poll);
    let cfg = PollConfig {
        until_empty: false,
        max_wait: Duration::from_secs(30),
        ..config(&url, Some(2))
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stopper = stop_once_stored(db.store.clone(), stop);
    let (summary, ()) = tokio::join!(poll::run_until(&pipeline, &sqs, &cfg, stopped), stopper);
    let summary = summary.unwrap();
    assert!(summary.flushes >= 1 && summary.deleted > 0, "{summary:?}");
    assert!(
        summary.deleted < bodies.len() as u64,
        "stopped before the queue was drained: {summary:?}"
    );
    // Nothing deleted that was not stored: what is left comes back after its visibility timeout
    // and a second poller stores it — every event once, none twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rest = poll::run(&pipeline, &sqs, &config(&url, Some(30)))
        .await
        .unwrap();
    assert_eq!(summary.deleted + rest.deleted, bodies.len() as u64);
    assert_eq!(depth(&sqs, &url).await, 0);
    let stored = count(&db.store, "SELECT count() FROM events").await;
    assert_eq!(stored, rows, "every event stored exactly once");
    db.drop().await;
}

#[tokio::test]
async fn the_poller_binary_exits_cleanly_on_sigterm() {
    let (events, bodies) = sns_traffic(24, 20);
    let Setup { db, sqs, url, .. } = setup("poll_sigterm", "poll-term", 5, &bodies).await;
    let mut cmd = moto::poller(&url, &db.config.url, &db.config.database);
    cmd.args(["--max-wait-ms", "200", "--wait-time-seconds", "1"]);
    let child = tokio::process::Command::from(cmd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once it has stored everything it keeps long-polling; SIGTERM ends it with exit 0.
    for _ in 0..500 {
        if stored_events(&db).await == expected_rows(&events).len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sendops_testkit::process::sigterm(child.id().unwrap());
    let summary = exit_summary(
        child,
        Duration::from_secs(10),
        "the poller exits within 10 s of SIGTERM",
    )
    .await;
    assert_eq!(summary["deleted"], bodies.len());
    assert_eq!(depth(&sqs, &url).await, 0);
    db.drop().await;
}
