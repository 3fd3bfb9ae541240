//! SIGTERM while the poller's batch is being stored (issue 16): the real `sendops-ingest poll`
//! binary against moto_server's SQS, with its events INSERT held at a proxy in front of
//! ClickHouse when the signal arrives. It must finish and commit that batch, delete only the
//! messages it committed, leave every other received message to the visibility timeout, and exit
//! 0; a second poller then drains the rest, and every event is stored exactly once.

mod common;

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use common::{ACCOUNT, create_org, expected_rows, traffic};
use sendops_fixtures::Wrapper;
use sendops_shared::store::testing::TestDb;
use sendops_testkit::proxy::DelayProxy;

fn moto_url() -> String {
    std::env::var("SENDOPS_MOTO_URL").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

fn sqs() -> Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto_url())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    Client::from_conf(conf)
}

fn poller(db_url: &str, database: &str, queue: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sendops-ingest"));
    cmd.args(["poll", "--queue-url", queue, "--endpoint-url", &moto_url()])
        .args(["--max-messages", "10", "--max-wait-ms", "100"])
        .args(["--wait-time-seconds", "1", "--visibility-timeout", "3"])
        // moto's SQS is not safe for concurrent calls (tests/poll.rs, `config`).
        .args(["--receivers", "1", "--deleters", "1"])
        .env("CLICKHOUSE_URL", db_url)
        .env("CLICKHOUSE_DATABASE", database)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn count(db: &TestDb, sql: &str) -> u64 {
    db.store
        .client()
        .query(sql)
        .fetch_one::<u64>()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_batch_commits_the_batch_and_loses_nothing() {
    let db = TestDb::new("poll_sigterm_mid").await;
    create_org(&db.store, "acme", ACCOUNT).await;
    let sqs = sqs();
    let url = sqs
        .create_queue()
        .queue_name(format!("sendops-poll-mid-{}", std::process::id()))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto_server at {} (scripts/moto.sh start): {e:?}",
                moto_url()
            )
        })
        .queue_url
        .unwrap();
    let events = traffic(31, 40, ACCOUNT);
    let mut w = Wrapper::new(31);
    let bodies: Vec<String> = events.iter().map(|e| w.sns_body(e)).collect();
    for (n, chunk) in bodies.chunks(10).enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("{n}-{i}"))
                    .message_body(b)
                    .build()
                    .unwrap()
            })
            .collect();
        sqs.send_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
    }

    // The first events INSERT is held: the poller is mid-batch when SIGTERM arrives.
    let proxy = DelayProxy::start(&db.config.url).await;
    let held = proxy.hold("INSERT INTO `events`");
    let child = poller(&proxy.url(), &db.config.database, &url)
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), held.arrived())
        .await
        .expect("the poller reached its first INSERT");
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    held.release();
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the poller exits after finishing its batch")
        .unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let deleted = summary["deleted"].as_u64().unwrap();
    assert!(
        deleted > 0,
        "the batch in flight was committed and deleted: {summary}"
    );
    assert!(
        (deleted as usize) < bodies.len(),
        "it stopped receiving instead of draining the queue: {summary}"
    );
    // What it deleted is stored; nothing else was.
    let stored_first = count(&db, "SELECT uniqExact(event_id) FROM events").await;
    assert!(stored_first > 0);

    // The rest is still on the queue, some of it received by the first poller and left to the
    // visibility timeout (3 s): once that has passed, a second poller drains everything.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let rest = poller(&db.config.url, &db.config.database, &url)
        .arg("--until-empty")
        .output()
        .await
        .unwrap();
    assert!(rest.status.success());
    let rest: serde_json::Value = serde_json::from_slice(&rest.stdout).unwrap();
    assert_eq!(
        deleted + rest["deleted"].as_u64().unwrap(),
        bodies.len() as u64,
        "every message deleted once in all: {summary} then {rest}"
    );
    let rows = expected_rows(&events).len() as u64;
    assert_eq!(
        count(&db, "SELECT uniqExact(event_id) FROM events").await,
        rows,
        "none lost"
    );
    assert_eq!(
        count(&db, "SELECT count() FROM ingested_events FINAL").await,
        rows,
        "none stored twice as done"
    );
    db.drop().await;
}
