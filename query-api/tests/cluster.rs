//! The same traffic on one server and on a ClickHouse cluster (issue 17, docs/scale-out.md):
//! every report, message list, detail, timeline, recipient lookup and undeliverable answer is
//! the same; with a replica stopped mid-replay too; with a whole shard stopped, its orgs' ingest
//! fails retryably and their reads answer 503 while the other shard's orgs ingest and read as
//! before (`CLICKHOUSE_NODES`: per-org routing), and after the restart the replay completes
//! exactly.
//!
//! Needs the local cluster (`scripts/cluster.sh`) and the single server: `make test-cluster`
//! runs these (ignored otherwise) with `CLICKHOUSE_URL` at node 1, `CLICKHOUSE_CLUSTER=sendops`,
//! `CLICKHOUSE_NODES` the four nodes' URLs and `SENDOPS_SINGLE_URL` at the single server. The node tests stop and restart nodes, so they
//! run alone (`--test-threads 1`, after the other suites).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use common::{ALL_SCOPES, TestApp, traffic};
use sendops_ingest::{Pipeline, Record, Source};
use sendops_query_api::config::ApiConfig;
use sendops_shared::control::api_key::KeyEnv;
use sendops_shared::control::org::{Org, Plan};
use sendops_shared::store::config::ClickHouseConfig;
use sendops_shared::store::testing::TestDb;
use serde_json::Value;

fn api_config() -> ApiConfig {
    ApiConfig {
        key_cache_ttl: Duration::from_secs(1),
        ..ApiConfig::default()
    }
}

fn single_server() -> ClickHouseConfig {
    ClickHouseConfig {
        url: std::env::var("SENDOPS_SINGLE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".into()),
        cluster: None,
        ..ClickHouseConfig::from_env()
    }
}

/// The cluster app (from the environment) and a single-server app.
async fn apps(name: &str) -> (TestApp, TestApp) {
    let cluster = TestApp::new(name).await;
    assert_eq!(
        cluster.db.store.cluster(),
        Some("sendops"),
        "run with CLICKHOUSE_CLUSTER=sendops (make test-cluster)"
    );
    let single = TestApp::on(
        TestDb::new_on(&format!("{name}_single"), &single_server()).await,
        api_config(),
    );
    assert_eq!(single.db.store.cluster(), None);
    (cluster, single)
}

/// 1-based shard of an org on the 2-shard test cluster (slot = key % total weight).
async fn shard_of(app: &TestApp, org: &Org) -> u64 {
    app.db
        .store
        .client()
        .query("SELECT toUInt64(cityHash64(toString(toUUID(?))) % 2 + 1)")
        .bind(org.id.to_string())
        .fetch_one::<u64>()
        .await
        .unwrap()
}

/// One org in both apps (same slug and account; the ids differ and are masked on comparison).
struct Tenant {
    slug: String,
    account: String,
    shard: u64,
    cluster: (Org, String),
    single: (Org, String),
}

/// Tenants until both shards hold `per_shard` of them.
async fn tenants(cluster: &TestApp, single: &TestApp, per_shard: usize) -> Vec<Tenant> {
    let mut out: Vec<Tenant> = Vec::new();
    for i in 0..64 {
        let on = |s: u64| out.iter().filter(|t| t.shard == s).count();
        if on(1) >= per_shard && on(2) >= per_shard {
            break;
        }
        let slug = format!("t{i}");
        let account = format!("{:012}", 300_000_000_000u64 + i);
        let c = cluster.org(&slug, &account, Plan::Enterprise).await;
        let shard = shard_of(cluster, &c).await;
        if on(shard) >= per_shard {
            continue;
        }
        let ck = cluster.key(&c, KeyEnv::Live, ALL_SCOPES).await;
        let s = single.org(&slug, &account, Plan::Enterprise).await;
        let sk = single.key(&s, KeyEnv::Live, ALL_SCOPES).await;
        out.push(Tenant {
            slug,
            account,
            shard,
            cluster: (c, ck),
            single: (s, sk),
        });
    }
    out
}

/// Every tenant's traffic, interleaved in batches as a queue would deliver it.
fn replay_traffic(tenants: &[Tenant]) -> Vec<Vec<Value>> {
    let mut all: Vec<Value> = Vec::new();
    for (i, t) in tenants.iter().enumerate() {
        all.extend(traffic(40 + i as u64, 120, 6, &t.account));
    }
    // Deterministic interleave: by the event's own time, then its text.
    all.sort_by_cached_key(|e| (e["mail"]["timestamp"].to_string(), e.to_string()));
    all.chunks(300).map(<[Value]>::to_vec).collect()
}

/// Stores one batch through the real pipeline, as a consumer would; the error when it failed.
async fn ingest(app: &TestApp, batch: &[Value]) -> Result<(), sendops_shared::StoreError> {
    let bodies: Vec<String> = batch.iter().map(Value::to_string).collect();
    let records: Vec<Record<'_>> = bodies.iter().map(|b| Record { body: b }).collect();
    let report = Pipeline::new(app.db.store.clone(), Source::Replay)
        .process(&records)
        .await?;
    assert_eq!(report.quarantined, 0, "test traffic must store cleanly");
    Ok(())
}

/// `v` with the org's id and the ids derived from it (channel ids, alert ids: each app's org
/// has its own id) masked, and the fields that carry ingest or evaluation time (which differ
/// between the two replays by construction) removed.
fn normalized(mut v: Value, masks: &[(String, String)]) -> Value {
    fn walk(v: &mut Value, masks: &[(String, String)]) {
        match v {
            Value::String(s) => {
                for (from, to) in masks {
                    if s.contains(from.as_str()) {
                        *s = s.replace(from.as_str(), to);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, masks)),
            Value::Object(o) => {
                for k in [
                    "last_changed_at",
                    "next_cursor",
                    "evaluated_at",
                    "recorded_at",
                ] {
                    o.remove(k);
                }
                o.values_mut().for_each(|x| walk(x, masks));
            }
            _ => {}
        }
    }
    walk(&mut v, masks);
    // Channel rows with equal counts are ordered by key, the channel id, which each app derives
    // from its own org id: order such lists by count, then the masked key (the name).
    fn channel_ties(v: &mut Value) {
        match v {
            Value::Array(a) => {
                a.iter_mut().for_each(channel_ties);
                let masked =
                    |x: &Value| x["key"].as_str().is_some_and(|k| k.starts_with("CHANNEL:"));
                if !a.is_empty() && a.iter().all(masked) {
                    let count = |x: &Value| {
                        ["sent", "count", "sends"]
                            .iter()
                            .find_map(|k| x[*k].as_u64())
                            .unwrap_or(0)
                    };
                    a.sort_by(|x, y| {
                        count(y)
                            .cmp(&count(x))
                            .then_with(|| x["key"].as_str().cmp(&y["key"].as_str()))
                    });
                }
            }
            Value::Object(o) => o.values_mut().for_each(channel_ties),
            _ => {}
        }
    }
    channel_ties(&mut v);
    v
}

/// A GET that must answer 200. A 503 is retried (at most 5 times, 1 s apart), as the problem
/// document tells a client to: right after nodes restart (the node tests run just before), a
/// query can find a broken pooled connection. Anything else, or a 503 that persists, fails.
async fn get_ok(app: &TestApp, uri: &str, key: &str) -> common::Reply {
    for attempt in 0..6 {
        let r = app.get(uri, Some(key)).await;
        if r.status != 503 || attempt == 5 {
            assert_eq!(r.status, 200, "{uri}: {}", r.body);
            return r;
        }
        eprintln!("{uri}: 503, retrying ({})", r.body);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    unreachable!()
}

/// Every item of a list, following `next_cursor` from `first` (which has a query string).
async fn every_page(app: &TestApp, key: &str, first: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut uri = first.to_owned();
    loop {
        let r = get_ok(app, &uri, key).await;
        items.extend(r.data().iter().cloned());
        match r.body["pagination"]["next_cursor"].as_str() {
            Some(c) => uri = format!("{first}&cursor={c}"),
            None => return items,
        }
    }
}

/// Every answer the comparison covers, by request, for one tenant in one app.
async fn answers(
    app: &TestApp,
    org: &Org,
    key: &str,
    recipients: &[String],
    configuration_sets: &[String],
) -> BTreeMap<String, Value> {
    let now = Utc::now();
    let from = (now - chrono::Duration::days(8)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let to = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut masks = vec![(org.id.to_string(), "ORG".to_owned())];
    for cs in configuration_sets {
        let id = sendops_shared::control::org::channel_id(org.id, cs);
        masks.push((id.to_string(), format!("CHANNEL:{cs}")));
    }
    let masks = &masks;
    let mut out = BTreeMap::new();
    let get = async |uri: String| -> Value { normalized(get_ok(app, &uri, key).await.body, masks) };
    for report in [
        "deliverability",
        "deliverability?group_by=week",
        "engagement",
        "template-performance",
        "breakdown?dimension=mailbox_provider",
        "breakdown?dimension=recipient_domain",
        "breakdown?dimension=sending_domain",
        "breakdown?dimension=channel",
        "breakdown?dimension=template",
        "breakdown?dimension=bounce_cause",
        "breakdown?dimension=recipient_domain&limit=3",
    ] {
        let sep = if report.contains('?') { '&' } else { '?' };
        let uri = format!("/v1/reports/{report}{sep}from={from}&to={to}");
        out.insert(report.to_owned(), get(uri).await);
    }
    // Every message page, then detail and timeline of every tenth message.
    let messages = every_page(app, key, "/v1/messages?limit=100").await;
    for m in messages.iter().step_by(10) {
        let id = m["id"].as_str().unwrap();
        for (name, uri) in [
            (format!("message {id}"), format!("/v1/messages/{id}")),
            (
                format!("timeline {id}"),
                format!("/v1/messages/{id}/events"),
            ),
        ] {
            out.insert(name, get(uri).await);
        }
    }
    out.insert("messages".into(), normalized(Value::Array(messages), masks));
    for email in recipients {
        // The second: a filter that reads `message_recipients` in an IN subquery of the
        // `messages` read (distributed_product_mode = local: each shard's own rows).
        for (name, uri) in [
            (
                format!("recipient {email}"),
                format!("/v1/recipients/{email}/messages"),
            ),
            (
                format!("messages to {email}"),
                format!("/v1/messages?recipient={email}"),
            ),
        ] {
            out.insert(name, get(uri).await);
        }
    }
    // Undeliverable: every page; the order within one ingest second follows the replay's own
    // timing, so compare by address.
    let by_email = |mut rows: Vec<Value>| {
        rows.sort_by_key(|r| r["email"].to_string());
        normalized(Value::Array(rows), masks)
    };
    let rows = every_page(app, key, "/v1/undeliverable?limit=100").await;
    out.insert("undeliverable".into(), by_email(rows));
    // A `?since=` poll from the start (every change, excluded rows too), every page: its bound
    // reads the batch registry (on the org's shard when routed by org).
    let since = "/v1/undeliverable?limit=100&since=2020-01-01T00:00:00Z";
    let rows = every_page(app, key, since).await;
    out.insert("undeliverable since".into(), by_email(rows));
    // Reputation (trailing windows ending now: the window's bounds differ by the time between
    // the two requests, the traffic ends an hour ago), and its alerts once each app has
    // evaluated the org (on its own shard: the alerts and their registration are written there).
    for days in [7, 30] {
        let mut r = get(format!("/v1/reputation?window_days={days}")).await;
        let o = r.as_object_mut().unwrap();
        assert!(o.remove("from").is_some() && o.remove("to").is_some());
        out.insert(format!("reputation {days}"), r);
    }
    app.db
        .store
        .evaluate_reputations(&sendops_shared::read::reputation::Thresholds::default())
        .await
        .unwrap();
    let mut alerts = get("/v1/reputation/alerts?limit=200".to_owned()).await;
    let rows = alerts["data"].as_array_mut().unwrap();
    for a in rows.iter_mut() {
        a.as_object_mut().unwrap().remove("id");
    }
    rows.sort_by_key(Value::to_string);
    out.insert("reputation alerts".into(), alerts);
    out
}

/// The configuration sets of a tenant's traffic.
fn configuration_sets(batches: &[Vec<Value>], account: &str) -> Vec<String> {
    let mut r: Vec<String> = batches
        .iter()
        .flatten()
        .filter(|e| e["mail"]["sendingAccountId"] == account)
        .filter_map(|e| {
            e["mail"]["tags"]["ses:configuration-set"][0]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    r.sort();
    r.dedup();
    r
}

/// A few recipients of each tenant's traffic (for the recipient lookup).
fn recipients(batches: &[Vec<Value>], account: &str) -> Vec<String> {
    let mut r: Vec<String> = batches
        .iter()
        .flatten()
        .filter(|e| e["mail"]["sendingAccountId"] == account)
        .filter_map(|e| e["mail"]["destination"][0].as_str().map(str::to_owned))
        .collect();
    r.sort();
    r.dedup();
    r.into_iter().step_by(7).take(12).collect()
}

/// Both apps answer every request of every tenant alike; at least `min_rows` answers compared.
async fn assert_same_answers(
    cluster: &TestApp,
    single: &TestApp,
    tenants: &[Tenant],
    batches: &[Vec<Value>],
) {
    let mut compared = 0;
    for t in tenants {
        let emails = recipients(batches, &t.account);
        assert!(!emails.is_empty(), "{} has recipients", t.slug);
        let sets = configuration_sets(batches, &t.account);
        assert!(!sets.is_empty(), "{} has channels", t.slug);
        let c = answers(cluster, &t.cluster.0, &t.cluster.1, &emails, &sets).await;
        let s = answers(single, &t.single.0, &t.single.1, &emails, &sets).await;
        assert_eq!(c.keys().collect::<Vec<_>>(), s.keys().collect::<Vec<_>>());
        for (what, want) in &s {
            assert_eq!(
                &c[what], want,
                "{} (shard {}): {what} differs",
                t.slug, t.shard
            );
            compared += 1;
        }
        let messages = s["messages"].as_array().unwrap().len();
        assert!(messages > 100, "{}: {messages} messages", t.slug);
        let undeliverable = s["undeliverable"].as_array().unwrap().len();
        assert!(
            undeliverable > 0,
            "{}: the traffic has undeliverable addresses",
            t.slug
        );
    }
    assert!(compared > 4 * tenants.len(), "{compared} answers compared");
}

/// Events stored per tenant, counted by distinct id (what every answer is built from).
async fn stored_events(app: &TestApp) -> u64 {
    app.db
        .store
        .client()
        .query("SELECT uniqExact(event_id) FROM events")
        .fetch_one::<u64>()
        .await
        .unwrap()
}

/// The two apps of test `name`, `per_shard` tenants in each and the batches of their traffic.
async fn with_traffic(
    name: &str,
    per_shard: usize,
) -> (TestApp, TestApp, Vec<Tenant>, Vec<Vec<Value>>) {
    let (cluster, single) = apps(name).await;
    let tenants = tenants(&cluster, &single, per_shard).await;
    let batches = replay_traffic(&tenants);
    (cluster, single, tenants, batches)
}

fn cluster_sh(args: &[&str]) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let status = std::process::Command::new(format!("{root}/scripts/cluster.sh"))
        .args(args)
        .status()
        .expect("scripts/cluster.sh");
    assert!(status.success(), "cluster.sh {args:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the local cluster: make test-cluster"]
async fn the_cluster_answers_exactly_what_one_server_answers() {
    let (cluster, single, tenants, batches) = with_traffic("cluster_compare", 2).await;
    for b in &batches {
        ingest(&single, b).await.unwrap();
        ingest(&cluster, b).await.unwrap();
    }
    // The same traffic again (a redelivered queue): nothing changes anywhere.
    for b in batches.iter().take(3) {
        ingest(&cluster, b).await.unwrap();
    }
    assert_eq!(stored_events(&cluster).await, stored_events(&single).await);
    assert_same_answers(&cluster, &single, &tenants, &batches).await;
    cluster.drop().await;
    single.drop().await;
}

/// Retries a batch the way SQS redelivers it, until it is stored.
async fn ingest_until_stored(app: &TestApp, batch: &[Value]) -> usize {
    for attempt in 1..=20 {
        match ingest(app, batch).await {
            Ok(()) => return attempt,
            Err(e) => {
                assert!(e.is_retryable(), "a node failure is retryable: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    panic!("batch never stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the local cluster and stops nodes: make test-cluster (run alone)"]
async fn a_replica_stopped_mid_replay_changes_nothing() {
    let (cluster, single, tenants, batches) = with_traffic("cluster_replica_down", 1).await;
    let half = batches.len() / 2;
    for (i, b) in batches.iter().enumerate() {
        if i == half {
            // Node 3: the first replica of shard 2, the one every reader and writer uses while
            // it lives (load_balancing = in_order).
            cluster_sh(&["stop-node", "3"]);
        }
        ingest(&single, b).await.unwrap();
        ingest_until_stored(&cluster, b).await;
    }
    assert_eq!(stored_events(&cluster).await, stored_events(&single).await);
    assert_same_answers(&cluster, &single, &tenants, &batches).await;
    cluster_sh(&["start-node", "3"]);
    // The restarted replica catches up and the answers stay the same.
    wait_until_replicas_agree(&cluster).await;
    assert_same_answers(&cluster, &single, &tenants, &batches).await;
    cluster.drop().await;
    single.drop().await;
}

/// Waits until node 3 and node 4 (shard 2's replicas) hold the same events.
async fn wait_until_replicas_agree(app: &TestApp) {
    let node = |port: u16| ClickHouseConfig {
        url: format!("http://127.0.0.1:{port}"),
        ..app.db.config.clone()
    };
    let count = async |port: u16| -> Option<u64> {
        sendops_shared::Store::new(&node(port))
            .client()
            .query("SELECT count() FROM events_local")
            .fetch_one::<u64>()
            .await
            .ok()
    };
    for _ in 0..120 {
        let (a, b) = (count(8133).await, count(8134).await);
        if a.is_some() && a == b {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("node 3 did not catch up with node 4");
}

/// Stores one batch as the Lambda and the poller do (`process_split`): the indexes of the
/// records that must come back (SQS redelivers them), the rest stored.
async fn ingest_split(app: &TestApp, batch: &[Value]) -> Vec<usize> {
    let bodies: Vec<String> = batch.iter().map(Value::to_string).collect();
    let records: Vec<Record<'_>> = bodies.iter().map(|b| Record { body: b }).collect();
    let report = Pipeline::new(app.db.store.clone(), Source::Replay)
        .process_split(&records, None)
        .await
        .expect("orgs on live shards are stored: only their own records come back");
    assert_eq!(report.quarantined, 0, "test traffic must store cleanly");
    if let Some(e) = &report.retry_error {
        assert!(e.retryable, "a shard down is retryable: {}", e.message);
    }
    report.retry
}

/// Stores one batch through the Lambda handler: the indexes of the records its partial batch
/// response reports as failed (SQS redelivers those).
async fn lambda_failures(app: &TestApp, batch: &[Value]) -> Vec<usize> {
    let records: Vec<Value> = batch
        .iter()
        .enumerate()
        .map(|(i, e)| serde_json::json!({"messageId": format!("m{i}"), "body": e.to_string(), "eventSource": "aws:sqs"}))
        .collect();
    let event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
    let pipeline = Pipeline::new(app.db.store.clone(), Source::Lambda);
    let response = sendops_ingest::lambda::handle(
        &pipeline,
        lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
    )
    .await
    .unwrap();
    let mut failed: Vec<usize> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier[1..].parse().unwrap())
        .collect();
    failed.sort_unstable();
    failed
}

/// Events of `org` on each node (node N serves HTTP on 8130+N).
async fn events_per_node(app: &TestApp, org: &Org, nodes: &[u16]) -> Vec<u64> {
    let mut out = Vec::new();
    for n in nodes {
        let store = sendops_shared::Store::new(&ClickHouseConfig {
            url: format!("http://127.0.0.1:{}", 8130 + n),
            cluster: None,
            nodes: Vec::new(),
            ..app.db.config.clone()
        });
        out.push(
            store
                .client()
                .query("SELECT count() FROM events_local WHERE org_id = toUUID(?)")
                .bind(org.id.to_string())
                .fetch_one::<u64>()
                .await
                .unwrap(),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the local cluster and stops nodes: make test-cluster (run alone)"]
async fn a_shard_down_stops_only_its_own_orgs_and_the_redelivered_replay_completes_exactly() {
    let (cluster, single) = apps("cluster_shard_down").await;
    assert!(
        cluster.db.store.routes_by_org(),
        "run with CLICKHOUSE_NODES (make test-cluster): per-org routing is what this checks"
    );
    let tenants = tenants(&cluster, &single, 1).await;
    let down = tenants.iter().find(|t| t.shard == 2).unwrap();
    let up = tenants.iter().find(|t| t.shard == 1).unwrap();
    // The store routes each org to the shard the Distributed engine puts its rows on.
    for t in &tenants {
        let routed = cluster.db.store.route(t.cluster.0.id).await.unwrap();
        assert_eq!(routed.shard(), Some(t.shard as u32), "{}", t.slug);
    }
    let batches = replay_traffic(&tenants);
    let half = batches.len() / 2;
    for b in &batches[..half] {
        ingest(&single, b).await.unwrap();
        ingest(&cluster, b).await.unwrap();
    }
    // Each org's rows are on its own shard's replicas only.
    let on = events_per_node(&cluster, &up.cluster.0, &[1, 2, 3, 4]).await;
    assert!(
        on[0] > 0 && on[0] == on[1] && on[2] == 0 && on[3] == 0,
        "up: {on:?}"
    );
    let on = events_per_node(&cluster, &down.cluster.0, &[1, 2, 3, 4]).await;
    assert!(on[2] > 0 && on[0] == 0 && on[1] == 0, "down: {on:?}");

    cluster_sh(&["stop-node", "3"]);
    cluster_sh(&["stop-node", "4"]);
    // The rest of the traffic, in mixed batches: the live shard's org is stored, the records of
    // the stopped shard's org come back (and nothing else does).
    // The first through the Lambda handler: its partial batch response names exactly those.
    let mut redelivered: Vec<Value> = Vec::new();
    for (n, b) in batches[half..].iter().enumerate() {
        ingest(&single, b).await.unwrap();
        let retry = if n == 0 {
            lambda_failures(&cluster, b).await
        } else {
            ingest_split(&cluster, b).await
        };
        let of_down: Vec<usize> = (0..b.len())
            .filter(|&i| b[i]["mail"]["sendingAccountId"] == down.account.as_str())
            .collect();
        assert!(
            !of_down.is_empty() && of_down.len() < b.len(),
            "mixed batches"
        );
        assert_eq!(
            retry, of_down,
            "exactly the stopped shard's records come back"
        );
        redelivered.extend(retry.iter().map(|&i| b[i].clone()));
    }
    // The live shard's org: every answer (reports, lists, details, timelines, recipient
    // lookups, undeliverable, `?since=` polls) equals the single server's, new traffic
    // included.
    assert_same_answers(&cluster, &single, std::slice::from_ref(up), &batches).await;
    // The stopped shard's org: 503 problem documents with Retry-After, never partial numbers.
    let some_message = batches
        .iter()
        .flatten()
        .find(|e| e["mail"]["sendingAccountId"] == down.account.as_str())
        .map(|e| e["mail"]["messageId"].as_str().unwrap().to_owned())
        .unwrap();
    for uri in [
        "/v1/messages".to_owned(),
        format!("/v1/messages/{some_message}"),
        format!("/v1/messages/{some_message}/events"),
        "/v1/undeliverable".to_owned(),
        "/v1/undeliverable?since=2020-01-01T00:00:00Z".to_owned(),
        "/v1/reports/deliverability".to_owned(),
        "/v1/reports/engagement".to_owned(),
        "/v1/reports/template-performance".to_owned(),
        "/v1/reports/breakdown?dimension=mailbox_provider".to_owned(),
        "/v1/reputation".to_owned(),
        "/v1/reputation/alerts".to_owned(),
    ] {
        let r = cluster.get(&uri, Some(&down.cluster.1)).await;
        assert_eq!(r.status, 503, "down shard {uri}: {}", r.body);
        assert_eq!(r.body["status"], 503, "{}", r.body);
        assert_eq!(r.body["code"], "service_unavailable", "{}", r.body);
        assert!(r.header("retry-after").is_some(), "{uri}");
    }
    // Its records fail retryably however often they come back while the shard is down.
    let retry = ingest_split(&cluster, &redelivered[..redelivered.len().min(50)]).await;
    assert_eq!(retry.len(), redelivered.len().min(50));

    cluster_sh(&["start-node", "3"]);
    cluster_sh(&["start-node", "4"]);
    // SQS redelivers what came back: stored exactly once, and every answer equals the single
    // server's (nothing counted twice, nothing missing). The first batch again changes nothing.
    for b in redelivered.chunks(300) {
        ingest_until_stored(&cluster, b).await;
    }
    ingest_until_stored(&cluster, &batches[half]).await;
    assert_eq!(stored_events(&cluster).await, stored_events(&single).await);
    assert_same_answers(&cluster, &single, &tenants, &batches).await;
    cluster.drop().await;
    single.drop().await;
}

/// The single server's native address, as a cluster node reaches it (`remote()`).
fn single_native() -> String {
    std::env::var("SENDOPS_SINGLE_NATIVE").unwrap_or_else(|_| "127.0.0.1:9000".into())
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct TableRow {
    name: String,
    engine: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the local cluster: make test-cluster"]
async fn a_deployment_copied_org_by_org_through_the_distributed_tables_answers_the_same() {
    // docs/scale-out.md "Moving a single-server deployment to a cluster", steps 1, 3, 4, 5.
    let (cluster, single) = apps("cluster_move").await;
    let mut tenants = Vec::new();
    for (i, shard_hint) in ["a", "b", "c"].iter().enumerate() {
        let account = format!("{:012}", 310_000_000_000u64 + i as u64);
        let org = single.org(shard_hint, &account, Plan::Enterprise).await;
        let key = single.key(&org, KeyEnv::Live, ALL_SCOPES).await;
        tenants.push((org, key, account));
    }
    let mut all = Vec::new();
    for (i, (_, _, account)) in tenants.iter().enumerate() {
        all.extend(traffic(70 + i as u64, 120, 6, account));
    }
    let batches: Vec<Vec<Value>> = all.chunks(300).map(<[Value]>::to_vec).collect();
    for b in &batches {
        ingest(&single, b).await.unwrap();
    }
    let tables = cluster
        .db
        .store
        .client()
        .query(
            "SELECT name, engine FROM system.tables WHERE database = ? \
             AND engine != 'MaterializedView' AND name NOT LIKE '%\\_local' \
             AND name NOT LIKE 'schema\\_migrations%' ORDER BY name",
        )
        .bind(cluster.db.store.database())
        .fetch_all::<TableRow>()
        .await
        .unwrap();
    let from = |t: &str| {
        format!(
            "remote('{}', `{}`, {t})",
            single_native(),
            single.db.store.database()
        )
    };
    let run = async |sql: String| {
        cluster
            .db
            .store
            .client()
            .query(&sql)
            .execute()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    // Step 3: control tables whole.
    let (per_org, control): (Vec<&TableRow>, Vec<&TableRow>) =
        tables.iter().partition(|t| t.engine == "Distributed");
    assert!(control.iter().any(|t| t.name == "api_keys"));
    for t in &control {
        run(format!(
            "INSERT INTO {} SELECT * FROM {}",
            t.name,
            from(&t.name)
        ))
        .await;
    }
    // Step 4: each org through the Distributed tables (the batch registry is not per org and
    // not copied).
    assert!(per_org.iter().any(|t| t.name == "events"));
    for (org, _, _) in &tenants {
        for t in per_org.iter().filter(|t| t.name != "ingest_batches") {
            run(format!(
                "INSERT INTO {} SELECT * FROM {} WHERE org_id = toUUID('{}')",
                t.name,
                from(&t.name),
                org.id
            ))
            .await;
        }
    }
    // Step 5: every answer equal, with the single server's own keys.
    assert_eq!(stored_events(&cluster).await, stored_events(&single).await);
    let mut compared = 0;
    for (org, key, account) in &tenants {
        let emails = recipients(&batches, account);
        let sets = configuration_sets(&batches, account);
        let s = answers(&single, org, key, &emails, &sets).await;
        let c = answers(&cluster, org, key, &emails, &sets).await;
        assert_eq!(c.keys().collect::<Vec<_>>(), s.keys().collect::<Vec<_>>());
        for (what, want) in &s {
            assert_eq!(&c[what], want, "{}: {what} differs", org.slug);
            compared += 1;
        }
        assert!(s["messages"].as_array().unwrap().len() > 100);
    }
    assert!(compared > 12, "{compared}");
    cluster.drop().await;
    single.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the local cluster: make test-cluster"]
async fn a_query_running_on_another_node_is_seen_by_the_failed_batch_settle() {
    // The settle (ingest/DESIGN.md) must not close a batch whose INSERT still runs, whichever node
    // the consumer reached: here node 4 runs it and the store asks through node 1.
    let db = TestDb::new("cluster_running").await;
    let query_id = format!("settle-{}", uuid::Uuid::new_v4());
    let node4 = ClickHouseConfig {
        url: "http://127.0.0.1:8134".into(),
        ..db.config.clone()
    };
    let elsewhere = sendops_shared::Store::new(&node4);
    let running = {
        let q = query_id.clone();
        tokio::spawn(async move {
            elsewhere
                .client()
                .query("SELECT sleep(3)")
                .with_setting("query_id", q)
                .execute()
                .await
        })
    };
    let mut seen = false;
    for _ in 0..20 {
        if db.store.query_running(&query_id).await.unwrap() {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the query on node 4 was not seen through node 1");
    running.await.unwrap().unwrap();
    assert!(!db.store.query_running(&query_id).await.unwrap());
    db.drop().await;
}
