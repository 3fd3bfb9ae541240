//! Graceful shutdown of the real `sendops-api` binary (issue 16): on SIGTERM it stops accepting,
//! lets a request in flight finish within `SENDOPS_SHUTDOWN_GRACE_SECONDS` and exits 0.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use sendops_shared::control::org::Plan;
use sendops_testkit::process::{free_port, http_get as get, sigterm};
use sendops_testkit::proxy::DelayProxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_slow_request_finish_then_exits_zero() {
    let (app, _, key) = TestApp::acme("shutdown_slow", "123456789012", Plan::Pro).await;
    // The message list's query is held at a proxy in front of ClickHouse: the request stays in
    // flight as long as the test wants.
    let proxy = DelayProxy::start(&app.db.config.url).await;
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-api"))
        .env("SENDOPS_API_ADDR", format!("127.0.0.1:{port}"))
        .env("CLICKHOUSE_URL", proxy.url())
        .env("CLICKHOUSE_DATABASE", &app.db.config.database)
        .env("SENDOPS_REPORT_PREPARE_SECONDS", "0")
        .env("SENDOPS_SHUTDOWN_GRACE_SECONDS", "20")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(port, "/v1/_health", "").is_err() {
        assert!(Instant::now() < deadline, "the server never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let held = proxy.hold("FROM messages WHERE");
    let k = key.clone();
    let slow = std::thread::spawn(move || get(port, "/v1/messages", &k));
    tokio::time::timeout(Duration::from_secs(10), held.arrived())
        .await
        .expect("the list query reached the store");
    sigterm(child.id());
    // Within the grace period the process waits for the request in flight…
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    // …and no longer accepts new connections.
    assert!(
        get(port, "/v1/_health", "").is_err(),
        "accepted a new request after SIGTERM"
    );
    held.release();
    let (status, reply) = slow
        .join()
        .unwrap()
        .expect("the slow request got an answer");
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("\"data\""), "{reply}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("still running 10 s after its last request finished");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    app.drop().await;
}
