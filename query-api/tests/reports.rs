//! Reports against an independent oracle: for generated traffic ingested out of order, late and
//! with duplicates (through several envelopes), every number of every report over many random
//! second-precision windows equals a direct count computed here from the raw events.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, TimeZone, Utc};
use common::oracle::{FilterValues, Filters, Row, oracle_rows, rate, same};
use common::{TestApp, midnight_days_ago, traffic};
use rand::Rng;
use sendops_query_api::config::ApiConfig;
use sendops_shared::Store;
use sendops_shared::control::api_key::KeyEnv;
use sendops_shared::control::org::{Plan, channel_id};
use sendops_shared::control::scopes::Scope;
use sendops_shared::timefmt::{DAY_MS, format_ms, now_ms};
use serde_json::{Value, json};

const A: &str = "333333333333";

fn bucket_start(ms: i64, group_by: &str) -> i64 {
    let day = ms.div_euclid(DAY_MS);
    let date = Utc.timestamp_millis_opt(day * DAY_MS).unwrap();
    let start = match group_by {
        "week" => day - i64::from(date.weekday().num_days_from_monday()),
        "month" => day - i64::from(date.day0()),
        _ => day,
    };
    start * DAY_MS
}

#[derive(Clone)]
struct Query {
    f: Filters,
    group_by: &'static str,
}

/// (period → type → rows) and per-day engaged recipients summed into buckets.
fn expected_series(rows: &[Row], q: &Query) -> (Value, Value) {
    let mut counts: BTreeMap<i64, BTreeMap<&str, u64>> = BTreeMap::new();
    let mut engaged: BTreeMap<(i64, &str), BTreeSet<&str>> = BTreeMap::new();
    for r in rows.iter().filter(|r| q.f.keep(r)) {
        *counts
            .entry(bucket_start(r.ms, q.group_by))
            .or_default()
            .entry(r.ty.as_str())
            .or_default() += 1;
        if r.ty == "Open" || r.ty == "Click" {
            engaged
                .entry((r.ms.div_euclid(DAY_MS), r.ty.as_str()))
                .or_default()
                .insert(&r.recipient);
        }
    }
    let mut uniques: BTreeMap<(i64, &str), u64> = BTreeMap::new();
    for ((day, ty), set) in &engaged {
        *uniques
            .entry((bucket_start(day * DAY_MS, q.group_by), ty))
            .or_default() += set.len() as u64;
    }
    let mut deliverability = Vec::new();
    let mut engagement = Vec::new();
    for (period, c) in &counts {
        let n = |t: &str| c.get(t).copied().unwrap_or(0);
        let (sent, delivered) = (n("Send"), n("Delivery"));
        if sent + delivered + n("Bounce") + n("Complaint") + n("Reject") > 0 {
            deliverability.push(json!({
                "period": format_ms(*period), "sent": sent, "delivered": delivered, "bounced": n("Bounce"),
                "complained": n("Complaint"), "suppressed": n("Reject"), "delivery_rate": rate(delivered, sent),
            }));
        }
        let uo = uniques.get(&(*period, "Open")).copied().unwrap_or(0);
        let uc = uniques.get(&(*period, "Click")).copied().unwrap_or(0);
        if sent + delivered + n("Open") + n("Click") > 0 {
            engagement.push(json!({
                "period": format_ms(*period), "sent": sent, "delivered": delivered, "opens": n("Open"),
                "unique_opens": uo, "clicks": n("Click"), "unique_clicks": uc,
                "open_rate": rate(uo, delivered), "click_rate": rate(uc, delivered),
            }));
        }
    }
    (Value::Array(deliverability), Value::Array(engagement))
}

fn expected_templates(rows: &[Row], q: &Query) -> Value {
    let mut counts: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    let mut engaged: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| q.f.keep(r) && !r.template.is_empty())
    {
        *counts
            .entry(&r.template)
            .or_default()
            .entry(&r.ty)
            .or_default() += 1;
        if r.ty == "Open" || r.ty == "Click" {
            engaged
                .entry((&r.template, &r.ty))
                .or_default()
                .insert(&r.recipient);
        }
    }
    let mut out: Vec<(u64, String, Value)> = Vec::new();
    for (t, c) in &counts {
        let n = |k: &str| c.get(k).copied().unwrap_or(0);
        let u = |k: &str| engaged.get(&(*t, k)).map_or(0, |s| s.len() as u64);
        let (sent, delivered, bounced, complained) =
            (n("Send"), n("Delivery"), n("Bounce"), n("Complaint"));
        if sent + delivered + n("Open") + n("Click") + bounced + complained == 0 {
            continue;
        }
        out.push((
            sent,
            t.to_string(),
            json!({
                "template": t, "sent": sent, "delivered": delivered, "opens": n("Open"), "unique_opens": u("Open"),
                "clicks": n("Click"), "unique_clicks": u("Click"), "bounced": bounced, "complained": complained,
                "bounce_rate": rate(bounced, sent), "complaint_rate": rate(complained, sent),
                "open_rate": rate(u("Open"), delivered), "click_rate": rate(u("Click"), delivered),
            }),
        ));
    }
    out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Value::Array(out.into_iter().map(|(_, _, v)| v).collect())
}

/// Equal JSON, where counts must be identical and rates equal up to float formatting (the
/// client-side JSON parser does not round-trip the last digit of every double).
fn assert_same(got: &Value, want: &Value, what: &str) {
    assert!(same(got, want), "{what}:\n got {got}\nwant {want}");
}

fn url(path: &str, q: &Query, org_id: uuid::Uuid, with_group: bool) -> String {
    let mut s = format!(
        "{path}?from={}&to={}",
        enc(q.f.window.start),
        enc(q.f.window.end)
    );
    if with_group {
        s.push_str(&format!("&group_by={}", q.group_by));
    }
    s + &q.f.params(org_id)
}

/// RFC 3339 with a +02:00 offset, to prove offsets are normalised.
fn enc(ms: i64) -> String {
    let t = Utc
        .timestamp_millis_opt(ms)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(7200).unwrap());
    t.format("%Y-%m-%dT%H:%M:%S%%2B02:00").to_string()
}

/// Every report for one window against the oracle; whether the window held any data.
async fn check_window(
    app: &TestApp,
    key: &str,
    org_id: uuid::Uuid,
    rows: &[Row],
    q: &Query,
    what: &str,
) -> bool {
    // The series reports take no template filter.
    let series = Query {
        f: Filters {
            template: None,
            ..q.f.clone()
        },
        ..q.clone()
    };
    let (want_d, want_e) = expected_series(rows, &series);
    let got = app
        .get(
            &url("/v1/reports/deliverability", &series, org_id, true),
            Some(key),
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_same(
        &got.body["data"],
        &want_d,
        &format!("deliverability {what}"),
    );
    let got = app
        .get(
            &url("/v1/reports/engagement", &series, org_id, true),
            Some(key),
        )
        .await;
    assert_same(&got.body["data"], &want_e, &format!("engagement {what}"));
    let got = app
        .get(
            &url("/v1/reports/template-performance", q, org_id, false),
            Some(key),
        )
        .await;
    assert_same(
        &got.body["data"],
        &expected_templates(rows, q),
        &format!("templates {what}"),
    );
    !want_d.as_array().unwrap().is_empty()
}

#[tokio::test]
async fn every_report_number_equals_a_direct_count_for_random_windows() {
    oracle(TestApp::new("reports_oracle").await).await;
}

/// The same with an engaged-recipient index too small for any window: template performance
/// counts its distinct recipients in ClickHouse instead.
#[tokio::test]
async fn reports_stay_exact_when_windows_exceed_the_engaged_index_budget() {
    let config = ApiConfig {
        key_cache_ttl: std::time::Duration::from_secs(1),
        report_index_bytes: 1,
        ..ApiConfig::default()
    };
    oracle(TestApp::with_config("reports_oracle_nocache", config).await).await;
}

async fn oracle(app: TestApp) {
    let (org, key) = app.acme_org(A, Plan::Enterprise).await;
    let mut events = traffic(77, 600, 75, A);
    // Out of order, some late (the last batch holds old events), duplicates through another envelope.
    let (late, mut rng) = app
        .ingest_shuffled_with_duplicates(&mut events, 77, 5, 3)
        .await;
    let early_rows = oracle_rows(&events);
    let mut all = events.clone();
    all.extend(late.iter().cloned());
    let rows = oracle_rows(&all);

    let values = FilterValues::of(&rows);
    let now = now_ms();
    let windows: Vec<Query> = (0..40)
        .map(|i| {
            let span = rng.random_range(1_000..80 * DAY_MS);
            let to = now + 4 * DAY_MS - rng.random_range(0..80 * DAY_MS);
            let from = (to - span).max(now - 360 * DAY_MS);
            Query {
                f: values.window(i, from, to, 6),
                group_by: ["day", "week", "month"][i % 3],
            }
        })
        .filter(|q| !q.f.window.is_empty())
        .collect();

    // Before the late events: these reports also leave per-day distinct counts in the cache.
    for (i, q) in windows.iter().enumerate().take(20) {
        check_window(
            &app,
            &key,
            org.id,
            &early_rows,
            q,
            &format!("early window {i}"),
        )
        .await;
    }
    // The late events below land on days whose counts those reports cached.
    app.ingest(&late).await;
    app.ingest(&late[..late.len() / 2]).await;

    let mut checked_nonempty = 0;
    for (i, q) in windows.iter().enumerate() {
        if check_window(&app, &key, org.id, &rows, q, &format!("window {i}")).await {
            checked_nonempty += 1;
        }
    }
    assert!(
        checked_nonempty >= 20,
        "most windows hold data ({checked_nonempty})"
    );
    app.drop().await;
}

#[tokio::test]
async fn buckets_rates_filters_and_errors() {
    let (app, org, key) = TestApp::acme("reports_edges", A, Plan::Free).await;
    // Hand-made events: opens on a day without deliveries, a Monday boundary, two channels.
    let ev = |ty: &str, ts: &str, recipient: &str, channel: &str, template: Option<&str>| {
        let mut tags = json!({"ses:configuration-set": [channel]});
        if let Some(t) = template {
            tags["template"] = json!([t]);
        }
        let mut e = json!({
            "eventType": ty,
            "mail": {"timestamp": ts, "messageId": format!("m-{ty}-{ts}-{recipient}"), "source": "Ops <ops@Acme.example>",
                     "sendingAccountId": A, "destination": [recipient], "tags": tags},
        });
        match ty {
            "Delivery" => e["delivery"] = json!({"timestamp": ts, "recipients": [recipient]}),
            "Open" => e["open"] = json!({"timestamp": ts}),
            _ => {}
        }
        e
    };
    let now = Utc::now();
    let monday = (now
        - chrono::Duration::days(i64::from(now.weekday().num_days_from_monday()) + 7))
    .date_naive()
    .and_hms_opt(0, 0, 0)
    .unwrap()
    .and_utc();
    let sunday_late = (monday - chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let monday_s = monday.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let tuesday =
        (monday + chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    app.ingest(&[
        ev("Send", &sunday_late, "a@x.example", "blue", Some("Welcome")),
        ev("Send", &monday_s, "b@x.example", "blue", Some("Welcome")),
        ev(
            "Delivery",
            &monday_s,
            "b@x.example",
            "blue",
            Some("Welcome"),
        ),
        ev("Open", &tuesday, "B@x.example", "red", Some("Welcome")),
        ev("Open", &tuesday, "c@x.example", "red", None),
    ])
    .await;
    let from = enc_utc(monday - chrono::Duration::days(2));
    let to = enc_utc(monday + chrono::Duration::days(3));
    // Weeks start on Monday: the Sunday send is in the previous week.
    let uri = format!("/v1/reports/deliverability?group_by=week&from={from}&to={to}");
    let r = app.get(&uri, Some(&key)).await;
    let periods: Vec<&str> = r.strs("data", "period");
    let prev = (monday - chrono::Duration::days(7))
        .format("%Y-%m-%dT00:00:00Z")
        .to_string();
    assert_eq!(
        periods,
        [
            prev.as_str(),
            &monday.format("%Y-%m-%dT00:00:00Z").to_string()
        ]
    );
    // Opens on a day without deliveries: unique opens 2, delivered 0 → open_rate 0.0, and no
    // deliverability bucket for that day.
    let uri = format!("/v1/reports/engagement?from={from}&to={to}");
    let r = app.get(&uri, Some(&key)).await;
    let tue = r.data().iter().find(|b| b["opens"] == 2).unwrap().clone();
    assert_eq!(
        (tue["unique_opens"].as_u64(), tue["open_rate"].as_f64()),
        (Some(2), Some(0.0))
    );
    let uri = format!("/v1/reports/deliverability?from={from}&to={to}");
    let r = app.get(&uri, Some(&key)).await;
    assert_eq!(r.data().len(), 2, "no bucket for the day with only opens");
    assert_eq!(r.body["data"][1]["delivery_rate"], 1.0);
    // Weekly engagement: the Monday delivery and the Tuesday opens share a bucket: 2/1 → 1.0.
    let uri = format!("/v1/reports/engagement?group_by=week&from={from}&to={to}");
    let r = app.get(&uri, Some(&key)).await;
    let wk = r.data().last().unwrap();
    assert_eq!(
        (
            wk["delivered"].as_u64(),
            wk["unique_opens"].as_u64(),
            wk["open_rate"].as_f64()
        ),
        (Some(1), Some(2), Some(1.0))
    );
    // Filters AND: channel red + identity domain (case-insensitive).
    let red = channel_id(org.id, "red");
    let r = app
        .get(
            &format!(
                "/v1/reports/engagement?from={from}&to={to}&channel={red}&identity=ACME.example"
            ),
            Some(&key),
        )
        .await;
    assert_eq!(r.data().len(), 1);
    let r = app
        .get(
            &format!(
                "/v1/reports/engagement?from={from}&to={to}&channel={red}&identity=other.example"
            ),
            Some(&key),
        )
        .await;
    assert_eq!(r.body["data"], json!([]));
    // Template filter: case-insensitive exact; no match is an empty 200.
    let uri = format!("/v1/reports/template-performance?from={from}&to={to}&template=WELCOME");
    let r = app.get(&uri, Some(&key)).await;
    assert_eq!(r.body["data"][0]["template"], "Welcome");
    assert_eq!(r.body["data"][0]["sent"], 2);
    assert_eq!(r.body["data"][0]["unique_opens"], 1);
    let uri = format!("/v1/reports/template-performance?from={from}&to={to}&template=Welc");
    let r = app.get(&uri, Some(&key)).await;
    assert_eq!(
        (r.status.as_u16(), r.body["data"].clone()),
        (200, json!([]))
    );
    // Empty window.
    let r = app
        .get(
            &format!(
                "/v1/reports/deliverability?from={to}&to={}",
                enc_utc(monday + chrono::Duration::days(4))
            ),
            Some(&key),
        )
        .await;
    assert_eq!(r.body["data"], json!([]));
    // Month buckets start on the 1st.
    let r = app
        .get("/v1/reports/deliverability?group_by=month", Some(&key))
        .await;
    assert!(
        r.data()
            .iter()
            .all(|b| b["period"].as_str().unwrap()[8..10] == *"01")
    );
    // Errors.
    for (q, field) in [
        ("group_by=year", "group_by"),
        ("channel=x", "channel"),
        ("from=bad", "from"),
        ("identity=", "identity"),
    ] {
        let r = app
            .get(&format!("/v1/reports/engagement?{q}"), Some(&key))
            .await;
        assert_eq!(r.status, 422, "{q}");
        assert_eq!(r.body["errors"][0]["field"], field);
    }
    let r = app
        .get(
            "/v1/reports/deliverability?from=2020-01-01T00:00:00Z",
            Some(&key),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["retention_days"].as_u64()),
        (403, Some(30))
    );
    let no_scope = app.key(&org, KeyEnv::Live, &[Scope::MessagesView]).await;
    let r = app
        .get("/v1/reports/template-performance", Some(&no_scope))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["scope"].as_str()),
        (403, Some("api.reports.view"))
    );
    app.drop().await;
}

fn enc_utc(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The URI of report `name` (`engagement`, …) over `[from, to)`.
fn report_uri(name: &str, from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>) -> String {
    format!(
        "/v1/reports/{name}?from={}&to={}",
        enc_utc(from),
        enc_utc(to)
    )
}

/// Runs `sql`, whose one parameter is the org's id: a change made behind the API's back.
async fn execute_for_org(store: &Store, sql: &str, org_id: uuid::Uuid) {
    store
        .client()
        .query(sql)
        .bind(org_id.to_string())
        .execute()
        .await
        .unwrap();
}

/// Distinct counts of whole past days are cached per filter and reused while the day's row count
/// is unchanged; a late event on that day makes the report count the day again.
/// Windows reaching past the last day storage can hold answer like any other (empty or cut),
/// without running away (found by schemathesis: `to=2940-…` once exhausted memory).
#[tokio::test]
async fn far_future_windows_answer_normally() {
    let (app, _, key) = TestApp::acme("reports_far_future", A, Plan::Enterprise).await;
    app.ingest(&[open_at(
        midnight_days_ago(2),
        "a@x.example",
        60,
        Some("welcome"),
    )])
    .await;
    for path in ["deliverability", "engagement", "template-performance"] {
        let only_future =
            format!("/v1/reports/{path}?from=2940-10-04T08:16:41Z&to=2940-11-03T08:16:41.484Z");
        let r = app.get(&only_future, Some(&key)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.body["data"], json!([]), "{path}");
        let uri = format!("/v1/reports/{path}?to=2940-11-03T08:16:41Z");
        let r = app.get(&uri, Some(&key)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let from_now = format!(
            "/v1/reports/{path}?from={}&to=9999-12-31T23:59:59Z",
            enc_utc(midnight_days_ago(3))
        );
        let r = app.get(&from_now, Some(&key)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let opens: u64 = r
            .data()
            .iter()
            .map(|b| b["opens"].as_u64().unwrap_or(0))
            .sum();
        let unique_opens: u64 = r
            .data()
            .iter()
            .map(|b| b["unique_opens"].as_u64().unwrap_or(0))
            .sum();
        if path != "deliverability" {
            assert_eq!(opens, 1, "{path}: {}", r.body);
            assert_eq!(unique_opens, 1, "{path}: {}", r.body);
        }
    }
    app.drop().await;
}

/// An Open of `recipient` `minute` minutes into `day`, on channel `blue`, tagged with `template`.
fn open_at(
    day: chrono::DateTime<Utc>,
    recipient: &str,
    minute: i64,
    template: Option<&str>,
) -> Value {
    let ts = (day + chrono::Duration::minutes(minute))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut tags = json!({"ses:configuration-set": ["blue"]});
    if let Some(t) = template {
        tags["template"] = json!([t]);
    }
    json!({
        "eventType": "Open",
        "mail": {"timestamp": ts, "messageId": format!("m-{recipient}-{minute}"),
                 "source": "ops@acme.example", "sendingAccountId": A,
                 "destination": [recipient], "tags": tags},
        "open": {"timestamp": ts},
    })
}

#[tokio::test]
async fn cached_day_uniques_are_reused_until_the_day_gains_a_row() {
    let (app, org, key) = TestApp::acme("reports_uniques_cache", A, Plan::Enterprise).await;
    let day = midnight_days_ago(3);
    let open = |recipient: &str, minute: i64| open_at(day, recipient, minute, None);
    app.ingest(&[
        open("a@x.example", 60),
        open("b@x.example", 61),
        open("A@x.example", 62),
    ])
    .await;
    let uri = report_uri("engagement", day, day + chrono::Duration::days(1));
    let unique_opens = |r: &common::Reply| r.body["data"][0]["unique_opens"].as_u64();
    assert_eq!(unique_opens(&app.get(&uri, Some(&key)).await), Some(2));

    // The report wrote the day's count (2 recipients, at change counter 2: one batch counts
    // once before and once after its INSERT) for the unfiltered scope. Read where the app wrote
    // it: on a cluster routed by org, the replica the org's requests use.
    let store = &app.db.store.route(org.id).await.unwrap();
    let cached = || async {
        store
            .client()
            .query(
                "SELECT toUInt64(count()) FROM report_uniques_days \
                 WHERE org_id = ? AND scope = '[null,null,null]' AND changes = 2 AND uniques = 2",
            )
            .bind(org.id.to_string())
            .fetch_one::<u64>()
            .await
            .unwrap()
    };
    assert_eq!(cached().await, 1, "cached before the report answered");

    // A newer cache entry with the same change counter is what the report now uses (seen by
    // giving it a value no count could produce).
    let newer = "INSERT INTO report_uniques_days SELECT org_id, scope, day, event_type, changes, \
                 toUInt64(99), computed_ms + 1 FROM report_uniques_days WHERE org_id = ?";
    execute_for_org(store, newer, org.id).await;
    assert_eq!(unique_opens(&app.get(&uri, Some(&key)).await), Some(99));

    // A late open on that day moves its change counter, so the day is counted again.
    app.ingest(&[open("c@x.example", 600)]).await;
    let r = app.get(&uri, Some(&key)).await;
    assert_eq!(r.body["data"][0]["opens"].as_u64(), Some(4));
    assert_eq!(unique_opens(&r), Some(3));
    app.drop().await;
}

#[tokio::test]
async fn sealed_days_are_reused_until_the_day_changes() {
    let (app, org, key) = TestApp::acme("reports_day_seals", A, Plan::Enterprise).await;
    let day = midnight_days_ago(4);
    let open = |recipient: &str, minute: i64| open_at(day, recipient, minute, None);
    app.ingest(&[open("a@x.example", 60), open("b@x.example", 61)])
        .await;
    // A second copy of one event (a racing or retried INSERT) stored behind the pipeline's back
    // counts once.
    let store = &app.db.store;
    let copy = "INSERT INTO events SELECT * FROM events WHERE org_id = ? LIMIT 1";
    execute_for_org(store, copy, org.id).await;
    let uri = report_uri("engagement", day, day + chrono::Duration::days(1));
    let opens = |r: &common::Reply| r.body["data"][0]["opens"].as_u64();
    assert_eq!(opens(&app.get(&uri, Some(&key)).await), Some(2));

    // The report sealed the day. A count added under the seal's id (a value no count of the
    // events could produce) is what the next report shows: the seal is reused, not recounted.
    let extra = "INSERT INTO report_day_counts SELECT org_id, day, seal_id, event_type, \
                 channel_id, sender_domain, template, toUInt64(1000) FROM report_day_counts \
                 WHERE org_id = ?";
    execute_for_org(store, extra, org.id).await;
    assert_eq!(opens(&app.get(&uri, Some(&key)).await), Some(1002));

    // A late open on that day moves its change counter: the day is sealed again, exactly.
    app.ingest(&[open("c@x.example", 600)]).await;
    assert_eq!(opens(&app.get(&uri, Some(&key)).await), Some(3));
    app.drop().await;
}

#[tokio::test]
async fn prepared_reports_answer_from_seals_without_counting_events_again() {
    let (app, org, key) = TestApp::acme("reports_prepare", A, Plan::Pro).await;
    let days = [
        midnight_days_ago(2),
        midnight_days_ago(5),
        midnight_days_ago(40),
    ];
    let mut events = Vec::new();
    for (i, day) in days.iter().enumerate() {
        events.push(open_at(*day, &format!("r{i}@x.example"), 30, None));
        events.push(open_at(*day, &format!("R{i}@x.example"), 90, None));
    }
    app.ingest(&events).await;
    let store = &app.db.store;
    // Counted where the seals are written: on a cluster routed by org, the org's shard's replica
    // (a read through the Distributed tables may reach a replica still fetching them).
    let routed = &store.route(org.id).await.unwrap();
    let count = |table: &'static str| async move {
        routed
            .client()
            .query(&format!(
                "SELECT toUInt64(count()) FROM {table} WHERE org_id = ?"
            ))
            .bind(org.id.to_string())
            .fetch_one::<u64>()
            .await
            .unwrap()
    };
    // Every day with events within the plan's retention (90 days) gets a seal and a cached
    // unique count; the other days of the retention are empty and need none.
    let done = store.prepare_reports().await.unwrap();
    assert_eq!(done.sealed_days, 3);
    assert_eq!(count("report_day_seals").await, 3);
    assert_eq!(count("report_uniques_days").await, 3);
    // Nothing changed since: a second pass seals nothing, and a report reads the seals (no new
    // seal, no new cache entry) and still counts exactly.
    assert_eq!(store.prepare_reports().await.unwrap().sealed_days, 0);
    let uri = report_uri("engagement", midnight_days_ago(60), midnight_days_ago(1));
    let r = app.get(&uri, Some(&key)).await;
    assert_eq!(r.status, 200);
    let opens: Vec<u64> = r
        .data()
        .iter()
        .map(|b| b["unique_opens"].as_u64().unwrap())
        .collect();
    assert_eq!(
        opens,
        [1, 1, 1],
        "one distinct opener a day (addresses differ only in case)"
    );
    assert_eq!(count("report_day_seals").await, 3);
    assert_eq!(count("report_uniques_days").await, 3);
    app.drop().await;
}

#[tokio::test]
async fn template_uniques_reuse_an_indexed_day_until_it_gains_a_row() {
    let (app, org, key) = TestApp::acme("reports_engaged_index", A, Plan::Enterprise).await;
    let day = midnight_days_ago(3);
    let open = |recipient: &str, minute: i64| open_at(day, recipient, minute, Some("welcome"));
    app.ingest(&[
        open("a@x.example", 60),
        open("b@x.example", 61),
        open("A@x.example", 62),
    ])
    .await;
    // The whole day and a part of it: both from the same indexed day.
    let uri = |from, to| report_uri("template-performance", from, to);
    let whole = uri(day, day + chrono::Duration::days(1));
    let part = uri(
        day + chrono::Duration::minutes(61),
        day + chrono::Duration::hours(2),
    );
    let unique_opens = |r: &common::Reply| r.body["data"][0]["unique_opens"].as_u64();
    assert_eq!(unique_opens(&app.get(&whole, Some(&key)).await), Some(2));
    assert_eq!(unique_opens(&app.get(&part, Some(&key)).await), Some(2));

    // A row only `engaged` holds (the rollup's count of the day is unchanged): the indexed day is
    // reused, so the report does not see it.
    let store = &app.db.store;
    store
        .client()
        .query(
            "INSERT INTO engaged SELECT org_id, event_type, day, toInt64(?), channel_id, \
             sender_domain, template, sipHash128('tampered@x.example') FROM engaged \
             WHERE org_id = ? LIMIT 1",
        )
        .bind((day + chrono::Duration::minutes(90)).timestamp_millis())
        .bind(org.id.to_string())
        .execute()
        .await
        .unwrap();
    assert_eq!(unique_opens(&app.get(&whole, Some(&key)).await), Some(2));

    // A late open on that day changes the rollup's count: the day is loaded again (now with the
    // extra row too).
    app.ingest(&[open("c@x.example", 600)]).await;
    let r = app.get(&whole, Some(&key)).await;
    assert_eq!(r.body["data"][0]["opens"].as_u64(), Some(4));
    assert_eq!(unique_opens(&r), Some(4));
    assert_eq!(unique_opens(&app.get(&part, Some(&key)).await), Some(3));
    app.drop().await;
}
