//! SIGTERM while the poller's batch is being stored (issue 16): the real `sendops-ingest poll`
//! binary against moto_server's SQS, with its events INSERT held at a proxy in front of
//! ClickHouse when the signal arrives. It must finish and commit that batch, delete only the
//! messages it committed, leave every other received message to the visibility timeout, and exit
//! 0; a second poller then drains the rest, and every event is stored exactly once.

mod common;

use std::time::Duration;

use common::{acme_db, count, exit_summary, expected_rows, moto, sns_traffic};
use sendops_testkit::process::sigterm;
use sendops_testkit::proxy::DelayProxy;

fn poller(db_url: &str, database: &str, queue: &str) -> tokio::process::Command {
    let mut cmd = moto::poller(queue, db_url, database);
    cmd.args(["--max-messages", "10", "--max-wait-ms", "100"])
        .args(["--wait-time-seconds", "1", "--visibility-timeout", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_batch_commits_the_batch_and_loses_nothing() {
    let db = acme_db("poll_sigterm_mid").await;
    let sqs = moto::sqs();
    let url = moto::queue(&sqs, &format!("sendops-poll-mid-{}", std::process::id())).await;
    let (events, bodies) = sns_traffic(31, 40);
    moto::send_all(&sqs, &url, &bodies).await;

    // The first events INSERT is held: the poller is mid-batch when SIGTERM arrives.
    let proxy = DelayProxy::start(&db.config.url).await;
    let held = proxy.hold("INSERT INTO `events`");
    let child = poller(&proxy.url(), &db.config.database, &url)
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), held.arrived())
        .await
        .expect("the poller reached its first INSERT");
    sigterm(child.id().unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    held.release();
    let summary = exit_summary(
        child,
        Duration::from_secs(30),
        "the poller exits after finishing its batch",
    )
    .await;
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
    let stored_first = count(&db.store, "SELECT uniqExact(event_id) FROM events").await;
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
        count(&db.store, "SELECT uniqExact(event_id) FROM events").await,
        rows,
        "none lost"
    );
    assert_eq!(
        count(&db.store, "SELECT count() FROM ingested_events FINAL").await,
        rows,
        "none stored twice as done"
    );
    db.drop().await;
}
