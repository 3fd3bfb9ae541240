//! Shared helpers of the ingest integration tests.
#![allow(dead_code)]

pub mod moto;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use sendops_fixtures::{TrafficConfig, generate};
use sendops_ingest::{Pipeline, Source};
use sendops_shared::Store;
use sendops_shared::control::org::Plan;
use sendops_shared::store::Table;
use sendops_shared::store::testing::{TestDb, create_test_org};
use serde_json::Value;

pub const ACCOUNT: &str = "123456789012";

pub async fn create_org(store: &Store, slug: &str, account: &str) -> uuid::Uuid {
    create_test_org(store, slug, account, Plan::Pro).await.id
}

/// A fresh test database holding the org "acme" on `ACCOUNT`.
pub async fn acme_db(name: &str) -> TestDb {
    let db = TestDb::new(name).await;
    create_org(&db.store, "acme", ACCOUNT).await;
    db
}

/// A fresh test database holding the org "acme" on `ACCOUNT`, and a pipeline from `source` into it.
pub async fn acme_pipeline(name: &str, source: Source) -> (TestDb, Pipeline) {
    let db = acme_db(name).await;
    let pipeline = Pipeline::new(db.store.clone(), source);
    (db, pipeline)
}

/// Generated SES events (event-publishing format) for `messages` messages.
pub fn traffic(seed: u64, messages: u64, account: &str) -> Vec<Value> {
    let end = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    let cfg = TrafficConfig::demo(seed, messages, 7, end, account);
    generate(&cfg).collect()
}

/// Generated events and their SNS-wrapped SQS bodies.
pub fn sns_traffic(seed: u64, messages: u64) -> (Vec<Value>, Vec<String>) {
    let events = traffic(seed, messages, ACCOUNT);
    let mut w = sendops_fixtures::Wrapper::new(seed);
    let bodies = events.iter().map(|e| w.sns_body(e)).collect();
    (events, bodies)
}

/// Waits up to `limit` for a poller process to exit (`expect`: what a timeout means), asserts it
/// exited 0 and returns the JSON summary it printed.
pub async fn exit_summary(child: tokio::process::Child, limit: Duration, expect: &str) -> Value {
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .expect(expect)
        .unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `cmd` (the ingest binary, given a bad setting) and asserts it refuses to start: exit 2,
/// naming `name` on stderr. `what` names the case in failure messages.
pub fn assert_refused_naming(cmd: &mut std::process::Command, name: &str, what: &str) {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{what}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(name), "{what}: {stderr}");
}

/// The single number `sql` answers.
pub async fn count(store: &Store, sql: &str) -> u64 {
    store.client().query(sql).fetch_one::<u64>().await.unwrap()
}

/// Stops a poller (`stop`) once the first rows are stored, i.e. while its first batch is being
/// stored and the next one is being received; after 4 s regardless.
pub async fn stop_once_stored(store: Store, stop: tokio::sync::watch::Sender<bool>) {
    for _ in 0..400 {
        if store.count(Table::Events).await.unwrap() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
}

/// The rows docs/semantics.md#counting defines for these events, computed straight from the JSON (not with the
/// parser under test): one per (event, recipient), distinct by content identity.
pub fn expected_rows(events: &[Value]) -> HashSet<(String, String, String, String, String)> {
    let mut out = HashSet::new();
    for e in events {
        let ty = e["eventType"].as_str().unwrap().to_owned();
        let mail = &e["mail"];
        let (payload_key, recipients): (&str, Vec<String>) = match ty.as_str() {
            "Delivery" => ("delivery", strings(&e["delivery"]["recipients"])),
            "Bounce" => ("bounce", addresses(&e["bounce"]["bouncedRecipients"])),
            "Complaint" => (
                "complaint",
                addresses(&e["complaint"]["complainedRecipients"]),
            ),
            "DeliveryDelay" => (
                "deliveryDelay",
                addresses(&e["deliveryDelay"]["delayedRecipients"]),
            ),
            "Open" => ("open", strings(&mail["destination"])),
            "Click" => ("click", strings(&mail["destination"])),
            "Subscription" => ("subscription", strings(&mail["destination"])),
            _ => ("mail", strings(&mail["destination"])),
        };
        let ts = e[payload_key]["timestamp"]
            .as_str()
            .or(mail["timestamp"].as_str())
            .unwrap()
            .to_owned();
        let link = if ty == "Click" {
            e["click"]["link"].as_str().unwrap_or("").to_owned()
        } else {
            String::new()
        };
        for r in recipients {
            out.insert((
                mail["messageId"].as_str().unwrap().to_owned(),
                ty.clone(),
                ts.clone(),
                r,
                link.clone(),
            ));
        }
    }
    out
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn addresses(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["emailAddress"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Rows per event type stored for an org.
pub async fn stored_by_type(store: &Store) -> Vec<(String, u64)> {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct R {
        t: String,
        n: u64,
    }
    store
        .client()
        .query("SELECT toString(event_type) AS t, count() AS n FROM events GROUP BY t ORDER BY t")
        .fetch_all::<R>()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.t, r.n))
        .collect()
}
