//! Exact under faults and concurrency (ingest/DESIGN.md, docs/semantics.md#exactness): the store killed in the
//! middle of an INSERT, a view that fails, an acknowledgement that never arrives, consumers that
//! race on the same records — after a plain retry every answer of the API equals the answers of
//! one clean run of the same input.
//!
//! Faults that kill or slow the server run against a private ClickHouse server of their own
//! (`sendops_testkit::clickhouse`); holds and dropped acknowledgements go through a proxy in front
//! of it (`sendops_testkit::proxy`).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{ALL_SCOPES, TestApp, env_number, traffic};
use sendops_ingest::{Pipeline, Record, Source};
use sendops_query_api::config::ApiConfig;
use sendops_query_api::{AppState, router};
use sendops_shared::Store;
use sendops_shared::control::api_key::KeyEnv;
use sendops_shared::control::org::Plan;
use sendops_shared::store::config::ClickHouseConfig;
use sendops_shared::store::testing::TestDb;
use sendops_testkit::clickhouse::PrivateClickHouse;
use sendops_testkit::proxy::{DelayProxy, DropAt};
use serde_json::Value;

const A: &str = "111122223333";

/// The pattern of the events INSERT as the `clickhouse` crate sends it (in the URL query).
const EVENTS_INSERT: &str = "INSERT INTO `events`";

/// Generated traffic (every event type, several days) as record bodies, with some events
/// repeated (SQS delivers at least once).
fn input(seed: u64, messages: u64) -> Vec<String> {
    let events = traffic(seed, messages, 10, A);
    let mut bodies: Vec<String> = events.iter().map(Value::to_string).collect();
    let repeats: Vec<String> = bodies.iter().step_by(7).cloned().collect();
    bodies.extend(repeats);
    bodies
}

fn records(bodies: &[String]) -> Vec<Record<'_>> {
    bodies.iter().map(|b| Record { body: b }).collect()
}

/// An app over `store` (a database on some server), with an org for account `A` and a key.
async fn app_on(store: Store, config: ClickHouseConfig) -> (TestApp, String) {
    store.migrate().await.unwrap();
    let state = AppState::new(
        store.clone(),
        ApiConfig {
            undeliverable_settle: Duration::ZERO,
            ..ApiConfig::default()
        },
    );
    let app = TestApp {
        db: TestDb { store, config },
        app: router(state.clone()),
        state,
    };
    let org = app.org("acme", A, Plan::Enterprise).await;
    app.db
        .store
        .set_org_rate_limit("acme", Some(1_000_000))
        .await
        .unwrap();
    let key = app.key(&org, KeyEnv::Live, ALL_SCOPES).await;
    (app, key)
}

/// A fresh database on the shared test server.
async fn clean_app(name: &str) -> (TestApp, String) {
    let db = TestDb::unmigrated(name);
    app_on(db.store, db.config).await
}

/// A database on a private server, reached through `url` (the server or a proxy before it).
async fn private_app(url: &str) -> (TestApp, String) {
    let config = ClickHouseConfig {
        url: url.to_owned(),
        ..ClickHouseConfig::default()
    };
    app_on(Store::new(&config), config).await
}

/// Two Lambda consumers of one private server: `slow` through a proxy that can hold its INSERT,
/// `fast` straight to the server. Returns (server, proxy, app, key, slow, fast); the server runs
/// as long as it is kept.
async fn racing_consumers() -> (
    PrivateClickHouse,
    DelayProxy,
    TestApp,
    String,
    Pipeline,
    Pipeline,
) {
    let server = PrivateClickHouse::start().await.unwrap();
    let proxy = DelayProxy::start(&server.url()).await;
    let (app, key) = private_app(&server.url()).await;
    let slow_store = Store::new(&ClickHouseConfig {
        url: proxy.url(),
        ..app.db.config.clone()
    });
    let slow = Pipeline::new(slow_store, Source::Lambda);
    let fast = Pipeline::new(app.db.store.clone(), Source::Lambda);
    (server, proxy, app, key, slow, fast)
}

async fn get(app: &TestApp, key: &str, uri: &str) -> Value {
    let r = app.get(uri, Some(key)).await;
    assert_eq!(r.status, 200, "{uri}: {}", r.body);
    r.body
}

/// Every page of a list, items only.
async fn pages(app: &TestApp, key: &str, uri: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let sep = if uri.contains('?') { '&' } else { '?' };
        let page_uri = match &cursor {
            Some(c) => format!("{uri}{sep}cursor={c}"),
            None => uri.to_owned(),
        };
        let body = get(app, key, &page_uri).await;
        out.extend(body["data"].as_array().unwrap().iter().cloned());
        match body["pagination"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
    panic!("{uri}: more than 10,000 pages");
}

/// What the API answers about the org: every report, the message list, every message's detail
/// and timeline, every recipient's messages and the undeliverable list (without
/// `last_changed_at`, which is when SendOps stored a change and so differs between two runs).
async fn answers(app: &TestApp, key: &str) -> Value {
    let mut out = BTreeMap::new();
    for report in [
        "/v1/reports/deliverability?group_by=day",
        "/v1/reports/deliverability?group_by=week",
        "/v1/reports/engagement?group_by=day",
        "/v1/reports/template-performance",
    ] {
        out.insert(report.to_owned(), get(app, key, report).await);
    }
    let messages = pages(app, key, "/v1/messages?limit=200").await;
    let mut recipients = std::collections::BTreeSet::new();
    for m in &messages {
        let id = m["id"].as_str().unwrap();
        out.insert(
            format!("timeline {id}"),
            get(app, key, &format!("/v1/messages/{id}/events")).await["data"].clone(),
        );
        out.insert(
            format!("detail {id}"),
            get(app, key, &format!("/v1/messages/{id}")).await,
        );
        if let Some(to) = m["to"].as_str() {
            recipients.insert(to.to_owned());
        }
    }
    for to in recipients.iter().take(40) {
        out.insert(
            format!("recipient {to}"),
            Value::Array(pages(app, key, &format!("/v1/recipients/{to}/messages?limit=200")).await),
        );
    }
    out.insert("messages".into(), Value::Array(messages));
    let mut undeliverable: BTreeMap<String, Value> = BTreeMap::new();
    for query in ["", "?since=1970-01-01T00:00:00Z"] {
        for mut row in pages(app, key, &format!("/v1/undeliverable{query}")).await {
            row.as_object_mut().unwrap().remove("last_changed_at");
            let email = row["email"].as_str().unwrap().to_owned();
            undeliverable.insert(format!("{query} {email}"), row);
        }
    }
    out.insert(
        "undeliverable".into(),
        serde_json::to_value(undeliverable).unwrap(),
    );
    serde_json::to_value(out).unwrap()
}

/// Asserts two answer sets are equal, naming the first differing answer.
fn assert_same(got: &Value, want: &Value, what: &str) {
    let (g, w) = (got.as_object().unwrap(), want.as_object().unwrap());
    for (k, v) in w {
        assert_eq!(g.get(k), Some(v), "{what}: answer {k:?} differs");
    }
    assert_eq!(g.len(), w.len(), "{what}: different answers");
}

async fn clean_answers(name: &str, bodies: &[String]) -> Value {
    let (clean, key) = clean_app(name).await;
    Pipeline::new(clean.db.store.clone(), Source::Replay)
        .process(&records(bodies))
        .await
        .unwrap();
    let a = answers(&clean, &key).await;
    clean.drop().await;
    a
}

async fn sql(store: &Store, statement: &str) {
    store.client().query(statement).execute().await.unwrap();
}

async fn count(store: &Store, table: &str) -> u64 {
    store
        .client()
        .query(&format!("SELECT count() FROM {table}"))
        .fetch_one::<u64>()
        .await
        .unwrap_or(0)
}

/// ClickHouse pushes an INSERT into the views of `events` in name order. A view named between
/// `message_index_mv` and `message_recipients_mv` that sleeps holds the INSERT after the base
/// table and the first views have their rows and before the others do.
const PAUSE_VIEW: &str = "CREATE MATERIALIZED VIEW message_pause_mv TO fault_sink AS \
     SELECT toUInt8(sleep(2)) AS x FROM events LIMIT 1";

#[tokio::test]
async fn a_store_killed_between_the_base_table_and_its_views_then_retried_equals_a_clean_run() {
    let bodies = input(11, 150);
    let want = clean_answers("exact_kill_clean", &bodies).await;

    let mut server = PrivateClickHouse::start().await.unwrap();
    let (app, key) = private_app(&server.url()).await;
    let store = app.db.store.clone();
    sql(&store, "CREATE TABLE fault_sink (x UInt8) ENGINE = Null").await;
    sql(&store, PAUSE_VIEW).await;
    let pipeline = Pipeline::new(store.clone(), Source::Replay);
    let recs = records(&bodies);
    let run = pipeline.process(&recs);
    let kill = async {
        // The base table has the rows, the views after the pause do not: kill it there.
        for _ in 0..200 {
            if count(&store, "events").await > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(count(&store, "events").await > 0);
        assert_eq!(count(&store, "message_timeline").await, 0);
        server.kill();
    };
    let (result, ()) = tokio::join!(run, kill);
    assert!(result.is_err(), "the killed INSERT must fail the batch");
    server.restart().await.unwrap();
    sql(&store, "DROP TABLE message_pause_mv").await;

    // The plain retry SQS makes.
    pipeline.process(&recs).await.unwrap();
    assert_same(
        &answers(&app, &key).await,
        &want,
        "killed mid-insert, retried",
    );
}

#[tokio::test]
async fn a_store_killed_before_the_insert_or_before_its_acknowledgement_then_retried_equals_a_clean_run()
 {
    let bodies = input(17, 120);
    let want = clean_answers("exact_kill_points_clean", &bodies).await;
    for committed in [false, true] {
        let mut server = PrivateClickHouse::start().await.unwrap();
        let proxy = DelayProxy::start(&server.url()).await;
        let (app, key) = private_app(&proxy.url()).await;
        // Held before the server saw the INSERT, or after it committed (base table and every
        // view) with its answer not yet sent back: the server dies there.
        let held = if committed {
            proxy.hold_response(EVENTS_INSERT)
        } else {
            proxy.hold(EVENTS_INSERT)
        };
        let pipeline = Pipeline::new(app.db.store.clone(), Source::Replay);
        let recs = records(&bodies);
        let run = pipeline.process(&recs);
        let kill = async {
            held.arrived().await;
            let events = count(&app.db.store, "events").await;
            assert_eq!(
                events > 0,
                committed,
                "committed before the kill: {committed}"
            );
            server.kill();
            held.release();
        };
        let (result, ()) = tokio::join!(run, kill);
        assert!(result.is_err(), "the killed INSERT must fail the batch");
        server.restart().await.unwrap();
        pipeline.process(&recs).await.unwrap();
        assert_same(
            &answers(&app, &key).await,
            &want,
            &format!("killed (committed: {committed}), retried"),
        );
    }
}

#[tokio::test]
async fn a_view_that_fails_then_a_retry_equals_a_clean_run() {
    let bodies = input(12, 120);
    let want = clean_answers("exact_view_clean", &bodies).await;

    let (app, key) = clean_app("exact_view_fault").await;
    let store = app.db.store.clone();
    // On a cluster (make test-cluster) the view goes on every node's local ingest table.
    let (db, on, source) = match store.cluster() {
        Some(c) => (
            format!("{}.", store.database()),
            format!(" ON CLUSTER {c}"),
            "events_local",
        ),
        None => (String::new(), String::new(), "events"),
    };
    sql(
        &store,
        &format!("CREATE TABLE {db}fault_sink{on} (x UInt8) ENGINE = Null"),
    )
    .await;
    // Fails every INSERT after the base table and the first views got it (name order).
    sql(
        &store,
        &format!(
            "CREATE MATERIALIZED VIEW {db}message_pause_mv{on} TO {db}fault_sink AS \
             SELECT throwIf(count() > 0) AS x FROM {db}{source}"
        ),
    )
    .await;
    let pipeline = Pipeline::new(store.clone(), Source::Replay);
    let recs = records(&bodies);
    assert!(pipeline.process(&recs).await.is_err());
    assert!(
        count(&store, "events").await > 0,
        "the base table kept rows"
    );
    sql(&store, &format!("DROP TABLE {db}message_pause_mv{on}")).await;
    pipeline.process(&recs).await.unwrap();
    assert_same(&answers(&app, &key).await, &want, "failed view, retried");
    app.drop().await;
}

#[tokio::test]
async fn a_lost_acknowledgement_then_a_retry_equals_a_clean_run() {
    let bodies = input(13, 120);
    let want = clean_answers("exact_ack_clean", &bodies).await;

    let server = PrivateClickHouse::start().await.unwrap();
    let proxy = DelayProxy::start(&server.url()).await;
    let (app, key) = private_app(&proxy.url()).await;
    // The INSERT (base table and every view) completes; its answer never reaches the consumer.
    let dropped = proxy.drop_connection(EVENTS_INSERT, DropAt::AfterResponse);
    let pipeline = Pipeline::new(app.db.store.clone(), Source::Replay);
    let recs = records(&bodies);
    assert!(pipeline.process(&recs).await.is_err());
    assert!(dropped.has_fired());
    pipeline.process(&recs).await.unwrap();
    assert_same(&answers(&app, &key).await, &want, "lost ack, retried");
}

#[tokio::test]
async fn a_consumer_paused_between_its_check_and_its_insert_while_another_stores_the_same_records()
{
    let bodies = input(14, 120);
    let want = clean_answers("exact_pause_clean", &bodies).await;

    let (_server, proxy, app, key, slow, fast) = racing_consumers().await;
    let recs = records(&bodies);
    // Consumer 1 passes its duplicate check and is held at its INSERT…
    let held = proxy.hold(EVENTS_INSERT);
    let first = slow.process(&recs);
    let second = async {
        held.arrived().await;
        // …while consumer 2 checks (nothing is ingested yet) and stores the same records.
        let report = fast.process(&recs).await.unwrap();
        assert!(report.rows > 0);
        held.release();
    };
    let (first, ()) = tokio::join!(first, second);
    first.unwrap();
    assert_same(&answers(&app, &key).await, &want, "racing consumers");
}

#[tokio::test]
async fn four_concurrent_replays_of_one_file_answer_like_one_clean_replay() {
    let rounds: usize = env_number("SENDOPS_EXACTNESS_ROUNDS", 20);
    let bodies = input(15, 60);
    let want = clean_answers("exact_stress_clean", &bodies).await;
    for round in 0..rounds {
        let (app, key) = clean_app(&format!("exact_stress_{round}")).await;
        let recs = records(&bodies);
        // Small chunks in different orders, so the consumers interleave batch by batch.
        let runs = (0..4).map(|c| {
            let pipeline = Pipeline::new(app.db.store.clone(), Source::Replay);
            let mut order: Vec<Record<'_>> = recs.clone();
            order.rotate_left(c * recs.len() / 4);
            async move {
                for chunk in order.chunks(25 + 10 * c) {
                    pipeline.process(chunk).await.unwrap();
                }
            }
        });
        futures::future::join_all(runs).await;
        assert_same(&answers(&app, &key).await, &want, &format!("round {round}"));
        app.drop().await;
    }
}

/// A `?since=` poller as the spec describes: it passes the largest `last_changed_at` it has seen
/// and keeps the latest version of every row.
async fn poll_into(
    app: &TestApp,
    key: &str,
    since: &mut String,
    seen: &mut BTreeMap<String, Value>,
) {
    for row in pages(app, key, &format!("/v1/undeliverable?since={since}")).await {
        let changed = row["last_changed_at"].as_str().unwrap().to_owned();
        if changed > *since {
            *since = changed;
        }
        seen.insert(row["email"].as_str().unwrap().to_owned(), row);
    }
}

#[tokio::test]
async fn a_since_poller_misses_nothing_while_an_insert_is_held_longer_than_any_settle_time() {
    let bodies = input(16, 200);
    let (first_half, second_half) = bodies.split_at(bodies.len() / 2);

    let (_server, proxy, app, key, slow, fast) = racing_consumers().await;
    let mut since = "1970-01-01T00:00:00Z".to_owned();
    let mut seen = BTreeMap::new();

    let held = proxy.hold(EVENTS_INSERT);
    let slow_recs = records(first_half);
    let fast_recs = records(second_half);
    let slow_run = slow.process(&slow_recs);
    let rest = async {
        // Consumer 1 stamped its rows and is held at its INSERT; consumer 2 commits later rows.
        held.arrived().await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        fast.process(&fast_recs).await.unwrap();
        // The poller runs on, past everything consumer 2 stored, for longer than any settle time.
        for _ in 0..8 {
            poll_into(&app, &key, &mut since, &mut seen).await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
        held.release();
    };
    let (slow_result, ()) = tokio::join!(slow_run, rest);
    slow_result.unwrap();
    for _ in 0..3 {
        poll_into(&app, &key, &mut since, &mut seen).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let snapshot: BTreeMap<String, Value> = pages(&app, &key, "/v1/undeliverable")
        .await
        .into_iter()
        .map(|r| (r["email"].as_str().unwrap().to_owned(), r))
        .collect();
    assert!(!snapshot.is_empty());
    assert_eq!(seen, snapshot, "the poller ends with exactly the snapshot");
}
