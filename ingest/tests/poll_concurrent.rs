//! The SQS poller's concurrent receives and deletes, against the in-memory SQS stand-in
//! (`sendops_testkit::sqs::FakeSqs`, the AWS JSON 1.0 protocol `aws-sdk-sqs` speaks) with a
//! per-call latency: every message is stored once and deleted once, the receives and deletes in
//! flight stay within `receivers` / `deleters` and within the batch's room, a failed store
//! deletes nothing, and a stopped poller leaves what it had not stored on the queue.
//! (tests/poll.rs runs the same poller against moto_server.)

mod common;

use std::time::Duration;

use aws_sdk_sqs::Client;
use common::{
    acme_db, assert_refused_naming, count, expected_rows, moto, sns_traffic, stop_once_stored,
};
use sendops_ingest::poll::{self, PollConfig};
use sendops_ingest::{Pipeline, Source};
use sendops_shared::Store;
use sendops_shared::store::Table;
use sendops_shared::store::config::ClickHouseConfig;
use sendops_shared::store::testing::TestDb;
use sendops_testkit::sqs::FakeSqs;

fn client(fake: &FakeSqs) -> Client {
    let sdk = moto::sdk().into_builder().endpoint_url(fake.url()).build();
    Client::new(&sdk)
}

fn config(fake: &FakeSqs, max_messages: usize, receivers: usize, deleters: usize) -> PollConfig {
    PollConfig {
        queue_url: fake.queue_url(),
        max_messages,
        max_wait: Duration::from_secs(5),
        wait_time_seconds: 0,
        visibility_timeout: Some(60),
        until_empty: true,
        receivers,
        deleters,
    }
}

/// SNS-wrapped bodies of `messages` generated messages, plus two poison records.
fn bodies(seed: u64, messages: u64) -> (Vec<serde_json::Value>, Vec<String>) {
    let (events, mut bodies) = sns_traffic(seed, messages);
    bodies.push("definitely not json".into());
    bodies.push(r#"{"Type":"Notification","Message":"{\"eventType\":\"Open\"}"}"#.into());
    (events, bodies)
}

/// Test `name`'s database with the org (the fake queue's name: the same with dashes), a fake
/// queue holding `bodies(seed, messages)`, a client of the queue and a poll pipeline into the
/// database. Returns (db, fake, sqs, pipeline, (events, bodies)).
async fn setup(
    name: &str,
    seed: u64,
    messages: u64,
) -> (
    TestDb,
    FakeSqs,
    Client,
    Pipeline,
    (Vec<serde_json::Value>, Vec<String>),
) {
    let db = acme_db(name).await;
    let fake = FakeSqs::start(&name.replace('_', "-")).await;
    let (events, bodies) = bodies(seed, messages);
    fake.push(&bodies);
    let sqs = client(&fake);
    let pipeline = Pipeline::new(db.store.clone(), Source::Poll);
    (db, fake, sqs, pipeline, (events, bodies))
}

/// A poller run that must succeed: its summary.
async fn run_ok(pipeline: &Pipeline, sqs: &Client, cfg: &PollConfig) -> poll::PollSummary {
    poll::run(pipeline, sqs, cfg).await.unwrap()
}

/// The event rows stored.
async fn stored_rows(db: &TestDb) -> u64 {
    count(&db.store, "SELECT count() FROM events").await
}

#[tokio::test]
async fn concurrent_receives_and_deletes_store_and_delete_every_message_once() {
    let (db, fake, sqs, pipeline, (events, bodies)) = setup("poll_conc", 31, 150).await;
    // A round trip of 20 ms: calls overlap only if the poller keeps several in flight.
    fake.set_latency(Duration::from_millis(20));
    let summary = run_ok(&pipeline, &sqs, &config(&fake, 200, 8, 4)).await;

    assert_eq!(summary.report.records as usize, bodies.len(), "{summary:?}");
    assert_eq!(summary.deleted as usize, bodies.len());
    assert_eq!(summary.left, 0);
    let rows = expected_rows(&events).len() as u64;
    assert_eq!(stored_rows(&db).await, rows, "every row stored once");
    assert_eq!(db.store.count(Table::Events).await.unwrap(), rows);
    let s = fake.stats();
    assert_eq!(s.deleted as usize, bodies.len(), "{s:?}");
    assert_eq!((s.visible, s.in_flight), (0, 0), "{s:?}");
    assert_eq!(s.redelivered, 0, "nothing received twice: {s:?}");
    assert_eq!(s.invalid_handles + s.repeated_deletes, 0, "{s:?}");
    assert!(fake.receive_counts().iter().all(|&n| n == 1));
    assert!(
        (2..=8).contains(&s.max_concurrent_receives),
        "receives overlap, at most --receivers at once: {s:?}"
    );
    assert!(
        (2..=4).contains(&s.max_concurrent_deletes),
        "deletes overlap, at most --deleters at once: {s:?}"
    );
    db.drop().await;
}

#[tokio::test]
async fn receives_in_flight_never_exceed_the_batch_room() {
    let (db, fake, sqs, pipeline, (events, bodies)) = setup("poll_room", 32, 60).await;
    fake.set_latency(Duration::from_millis(10));
    // 25 messages a batch: 0 + 10 + 10 < 25 allows a third receive, not a fourth.
    let summary = run_ok(&pipeline, &sqs, &config(&fake, 25, 16, 16)).await;
    let s = fake.stats();
    assert!(s.max_concurrent_receives <= 3, "{s:?}");
    assert!(
        summary.flushes >= 3,
        "batches of at most 34 messages: {summary:?}"
    );
    assert_eq!(summary.deleted as usize, bodies.len());
    assert_eq!(s.deleted as usize, bodies.len());
    assert_eq!(stored_rows(&db).await, expected_rows(&events).len() as u64);
    db.drop().await;
}

#[tokio::test]
async fn a_failed_store_deletes_nothing_and_the_messages_are_stored_once_later() {
    let (db, fake, sqs, up, (events, bodies)) = setup("poll_conc_fail", 33, 80).await;
    let down = Store::new(&ClickHouseConfig {
        url: "http://127.0.0.1:1".into(),
        ..db.config.clone()
    });
    let summary = poll::run(
        &Pipeline::new(down, Source::Poll),
        &sqs,
        &config(&fake, 40, 8, 8),
    )
    .await
    .unwrap();
    assert_eq!(summary.deleted, 0);
    assert!(summary.failed_flushes >= 1, "{summary:?}");
    let s = fake.stats();
    assert_eq!(s.deleted, 0, "{s:?}");
    assert_eq!(
        s.in_flight as usize,
        bodies.len(),
        "all left to their visibility timeout"
    );

    // Their visibility timeout runs out; the store is back.
    fake.reveal_in_flight();
    let summary = run_ok(&up, &sqs, &config(&fake, 40, 8, 8)).await;
    assert_eq!(summary.deleted as usize, bodies.len());
    let s = fake.stats();
    assert_eq!(
        (s.deleted as usize, s.visible, s.in_flight),
        (bodies.len(), 0, 0)
    );
    assert_eq!(stored_rows(&db).await, expected_rows(&events).len() as u64);
    db.drop().await;
}

#[tokio::test]
async fn a_stopped_poller_deletes_only_what_it_stored() {
    let (db, fake, sqs, pipeline, (events, bodies)) = setup("poll_conc_stop", 34, 300).await;
    fake.set_latency(Duration::from_millis(5));
    let cfg = PollConfig {
        until_empty: false,
        max_wait: Duration::from_secs(30),
        ..config(&fake, 50, 8, 8)
    };
    // Stopped once the first batch is being stored, while the next one is being received.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stopper = stop_once_stored(db.store.clone(), stop);
    let (summary, ()) = tokio::join!(poll::run_until(&pipeline, &sqs, &cfg, stopped), stopper);
    let summary = summary.unwrap();
    assert!(summary.flushes >= 1 && summary.deleted > 0, "{summary:?}");
    assert!(summary.deleted < bodies.len() as u64, "{summary:?}");
    let s = fake.stats();
    assert_eq!(s.deleted, summary.deleted, "{s:?}");
    assert!(
        s.in_flight >= summary.left,
        "the messages in hand are left in flight: {s:?} {summary:?}"
    );
    // Everything not deleted comes back (visibility timeout) and is stored once by a new run.
    fake.reveal_in_flight();
    let rest = run_ok(&pipeline, &sqs, &config(&fake, 50, 8, 8)).await;
    assert_eq!(summary.deleted + rest.deleted, bodies.len() as u64);
    assert_eq!(fake.stats().deleted as usize, bodies.len());
    assert_eq!(
        stored_rows(&db).await,
        expected_rows(&events).len() as u64,
        "every event stored exactly once"
    );
    db.drop().await;
}

#[tokio::test]
async fn the_binary_rejects_a_bad_receivers_value_naming_the_flag() {
    for (args, env, name) in [
        (vec!["--receivers", "0"], None, "--receivers"),
        (vec!["--deleters", "101"], None, "--deleters"),
        (vec![], Some(("SQS_RECEIVERS", "many")), "--receivers"),
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-ingest"));
        cmd.args(["poll", "--queue-url", "http://127.0.0.1:1/0/q"])
            .args(&args)
            .env_remove("SQS_RECEIVERS")
            .env_remove("SQS_DELETERS");
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        assert_refused_naming(&mut cmd, name, &format!("{args:?} {env:?}"));
    }
}

#[tokio::test]
async fn a_running_poller_deletes_its_last_batch_without_waiting_for_more_messages() {
    let (db, fake, sqs, pipeline, (_, bodies)) = setup("poll_conc_idle", 35, 40).await;
    let cfg = PollConfig {
        until_empty: false,
        wait_time_seconds: 1,
        max_wait: Duration::from_millis(200),
        ..config(&fake, 1_000, 8, 8)
    };
    // The queue drains and the poller keeps long-polling an empty queue: the batch it stored
    // last must be deleted meanwhile, not when a next batch arrives (or after its visibility
    // timeout, as a redelivery).
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let watcher = async {
        for _ in 0..250 {
            if fake.stats().deleted as usize == bodies.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let s = fake.stats();
        stop.send(true).unwrap();
        s
    };
    let (summary, s) = tokio::join!(poll::run_until(&pipeline, &sqs, &cfg, stopped), watcher);
    assert_eq!(
        s.deleted as usize,
        bodies.len(),
        "deleted while idle: {s:?}"
    );
    assert_eq!(s.redelivered, 0, "{s:?}");
    let summary = summary.unwrap();
    assert_eq!(summary.deleted as usize, bodies.len(), "{summary:?}");
    assert_eq!(summary.left, 0);
    db.drop().await;
}
