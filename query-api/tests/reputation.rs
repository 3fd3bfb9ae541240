//! `/v1/reputation` and `/v1/reputation/alerts`: every figure equals a direct count over the
//! trailing window computed here from the raw events; status transitions are recorded once per
//! crossing however often they are evaluated, and `?since=` polling returns each once.

mod common;

use std::collections::BTreeMap;

use chrono::{Duration, SecondsFormat, Utc};
use common::oracle::{Row, oracle_rows, rate, same as close};
use common::{TestApp, traffic};
use sendops_shared::control::org::{Plan, channel_id};
use sendops_shared::read::reputation::Thresholds;
use sendops_shared::timefmt::{DAY_MS, now_ms};
use serde_json::{Value, json};

const A: &str = "555555555555";

fn status(
    sends: u64,
    deliveries: u64,
    pb: u64,
    complaints: u64,
    min: u64,
) -> (&'static str, &'static str, &'static str) {
    if sends < min {
        return (
            "insufficient_volume",
            "insufficient_volume",
            "insufficient_volume",
        );
    }
    let of = |r: f64, w: f64, a: f64| {
        if r >= a {
            "at_risk"
        } else if r >= w {
            "warning"
        } else {
            "healthy"
        }
    };
    let b = of(rate(pb, sends), 0.05, 0.10);
    let c = of(rate(complaints, deliveries), 0.001, 0.005);
    let rank = |s: &str| {
        ["healthy", "warning", "at_risk"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    (b, c, if rank(b) >= rank(c) { b } else { c })
}

#[derive(Default, Clone, Copy)]
struct F {
    sends: u64,
    deliveries: u64,
    pb: u64,
    complaints: u64,
}

fn figures(rows: &[&Row], key: impl Fn(&Row) -> String) -> BTreeMap<String, F> {
    let mut out: BTreeMap<String, F> = BTreeMap::new();
    for r in rows {
        let f = out.entry(key(r)).or_default();
        match (r.ty.as_str(), r.bounce_type.as_str()) {
            ("Send", _) => f.sends += 1,
            ("Delivery", _) => f.deliveries += 1,
            ("Bounce", "Permanent") => f.pb += 1,
            ("Complaint", _) => f.complaints += 1,
            _ => {}
        }
    }
    out
}

fn figures_json(f: &F, min: u64) -> Value {
    let (b, c, s) = status(f.sends, f.deliveries, f.pb, f.complaints, min);
    json!({"sends": f.sends, "deliveries": f.deliveries, "permanent_bounces": f.pb, "complaints": f.complaints,
           "bounce_rate": rate(f.pb, f.sends), "complaint_rate": rate(f.complaints, f.deliveries),
           "bounce_status": b, "complaint_status": c, "status": s})
}

fn top(
    rows: &[&Row],
    key: impl Fn(&Row) -> String,
    count: impl Fn(&F) -> u64,
    label: impl Fn(&str) -> String,
) -> Value {
    let figs = figures(rows, key);
    let total: u64 = figs.values().map(&count).sum();
    let mut v: Vec<(u64, String)> = figs
        .iter()
        .map(|(k, f)| (count(f), k.clone()))
        .filter(|(n, _)| *n > 0)
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    v.truncate(5);
    Value::Array(
        v.into_iter()
            .map(
                |(n, k)| json!({"key": k, "label": label(&k), "count": n, "share": rate(n, total)}),
            )
            .collect(),
    )
}

#[tokio::test]
async fn reputation_figures_equal_a_direct_count_over_the_window() {
    reputation_oracle(TestApp::with_breakdown_index("reputation_oracle", true).await).await;
}

async fn reputation_oracle(app: TestApp) {
    let indexed = app.state.config.breakdown_index_bytes > 0;
    let (org, key) = app.acme_org(A, Plan::Pro).await;
    let events = traffic(13, 900, 20, A);
    app.ingest(&events).await;
    let rows = oracle_rows(&events);
    for (window_days, min) in [(7u16, 200u64), (1, 5), (30, 200)] {
        let uri = format!("/v1/reputation?window_days={window_days}&min_sends={min}");
        let r = app.get(&uri, Some(&key)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let to = sendops_shared::timefmt::parse_rfc3339_ms(r.body["to"].as_str().unwrap()).unwrap();
        let from = to - i64::from(window_days) * DAY_MS;
        assert!((now_ms() - to).abs() < 60_000);
        let inside: Vec<&Row> = rows.iter().filter(|r| r.ms >= from && r.ms < to).collect();
        let overall = figures(&inside, |_| String::new());
        let want_overall = figures_json(overall.get("").unwrap_or(&F::default()), min);
        assert!(
            close(&r.body["overall"], &want_overall),
            "overall {window_days}d: {}\nwant {want_overall}",
            r.body["overall"]
        );
        let scoped = |key: &dyn Fn(&Row) -> String, label: &dyn Fn(&str) -> String| {
            let figs = figures(&inside, key);
            let mut v: Vec<(u64, String, Value)> = figs
                .iter()
                .map(|(k, f)| {
                    let mut j = figures_json(f, min);
                    j["key"] = json!(k);
                    j["label"] = json!(label(k));
                    (f.sends, k.clone(), j)
                })
                .collect();
            v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            Value::Array(v.into_iter().map(|(_, _, j)| j).collect())
        };
        let slugs: BTreeMap<String, String> = rows
            .iter()
            .map(|r| {
                (
                    channel_id(org.id, &r.channel).to_string(),
                    r.channel.clone(),
                )
            })
            .collect();
        let chan = |r: &Row| channel_id(org.id, &r.channel).to_string();
        let chan_label = |k: &str| slugs[k].clone();
        assert!(
            close(&r.body["channels"], &scoped(&chan, &chan_label)),
            "channels {window_days}d: {}",
            r.body["channels"]
        );
        assert!(close(
            &r.body["sending_domains"],
            &scoped(&|r: &Row| r.sender_domain.clone(), &|k: &str| k.to_owned())
        ));
        let tpl_label = |k: &str| {
            if k.is_empty() {
                "(no template)".to_owned()
            } else {
                k.to_owned()
            }
        };
        for (field, count) in [
            ("top_bounce_contributors", (|f: &F| f.pb) as fn(&F) -> u64),
            ("top_complaint_contributors", |f: &F| f.complaints),
        ] {
            let got = &r.body[field];
            assert!(
                close(&got["channels"], &top(&inside, chan, count, chan_label)),
                "{field} channels: {got}"
            );
            assert!(
                close(
                    &got["templates"],
                    &top(&inside, |r| r.template.clone(), count, tpl_label)
                ),
                "{field} templates: {got}"
            );
            assert!(
                close(
                    &got["recipient_domains"],
                    &top(
                        &inside,
                        |r| r.recipient_domain.clone(),
                        count,
                        |k| k.to_owned()
                    )
                ),
                "{field} domains: {got}"
            );
        }
        assert_eq!(
            r.body["enforcement_status"],
            Value::Null,
            "no SES read role here"
        );
        assert_eq!(r.body["thresholds"]["minimum_sends"], min);
    }
    for bad in [
        "window_days=0",
        "window_days=31",
        "window_days=x",
        "min_sends=0",
    ] {
        let r = app.get(&format!("/v1/reputation?{bad}"), Some(&key)).await;
        assert_eq!(r.status, 422, "{bad}");
        assert_eq!(r.body["errors"][0]["field"], bad.split('=').next().unwrap());
    }
    // Counted in ClickHouse, the windows' past days were sealed; from the index, nothing was.
    let sealed: u64 = app
        .state
        .store
        .client()
        .query("SELECT count() FROM breakdown_day_seals")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(sealed > 0, !indexed, "{sealed} seals");
    app.drop().await;
}

/// The same with the in-process breakdown index off: counted in ClickHouse.
#[tokio::test]
async fn reputation_counted_in_clickhouse_equals_a_direct_count() {
    reputation_oracle(TestApp::with_breakdown_index("reputation_oracle_ch", false).await).await;
}

/// One message to `n` recipients on `channel`, `minutes_ago`, with a Delivery per recipient or a
/// permanent Bounce for the first `bounces`.
fn message(i: &mut u64, channel: &str, n: u64, bounces: u64, complaints: u64) -> Vec<Value> {
    let ts = (Utc::now() - Duration::hours(2)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut out = Vec::new();
    for _ in 0..n {
        *i += 1;
        let rcpt = format!("r{i}@x.example");
        let mail = json!({"timestamp": ts, "messageId": format!("m-{i}"), "source": "ops@acme.example",
            "sendingAccountId": A, "destination": [rcpt], "tags": {"ses:configuration-set": [channel]}});
        out.push(json!({"eventType": "Send", "mail": mail, "send": {}}));
        if *i % 1000 < bounces {
            out.push(json!({"eventType": "Bounce", "mail": mail, "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "timestamp": ts,
                "feedbackId": format!("f-{i}"), "bouncedRecipients": [{"emailAddress": rcpt, "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]}}));
        } else {
            out.push(json!({"eventType": "Delivery", "mail": mail, "delivery": {"timestamp": ts, "recipients": [rcpt]}}));
            if *i % 1000 >= bounces && *i % 1000 < bounces + complaints {
                out.push(json!({"eventType": "Complaint", "mail": mail, "complaint": {"timestamp": ts, "feedbackId": format!("c-{i}"),
                    "complainedRecipients": [{"emailAddress": rcpt}]}}));
            }
        }
    }
    out
}

#[tokio::test]
async fn transitions_are_recorded_once_per_crossing_and_polled_without_gaps() {
    let (app, org, key) = TestApp::acme("reputation_alerts", A, Plan::Pro).await;
    let store = &app.state.store;
    let t = Thresholds::default();
    // Two evaluators at once (as two API processes: both read the same latest status before
    // either writes, and record the same crossing under the same id), then one, twice more.
    let evaluate = || async {
        let (a, b) = tokio::join!(
            store.evaluate_reputation(org.id, &t),
            store.evaluate_reputation(org.id, &t)
        );
        let mut all = a.unwrap();
        for x in b.unwrap() {
            if !all.iter().any(|y| y.alert_id == x.alert_id) {
                all.push(x);
            }
        }
        for _ in 0..2 {
            all.extend(store.evaluate_reputation(org.id, &t).await.unwrap());
        }
        all
    };
    // Nothing sent: insufficient volume, nothing recorded.
    assert!(evaluate().await.is_empty());
    let mut i = 0u64;
    // 300 clean sends: healthy, which is where every scope starts: nothing recorded.
    app.ingest(&message(&mut i, "blue", 300, 0, 0)).await;
    assert!(evaluate().await.is_empty());
    // 60 permanent bounces in 400 more (i = 301..700: i % 1000 < 60 never holds here), so
    // add them explicitly: ids 1000..1060 bounce.
    i = 999;
    app.ingest(&message(&mut i, "blue", 60, 60, 0)).await; // 60 bounces / 360 sends = 16.7 %
    let rec = evaluate().await;
    let got: Vec<(String, String, String)> = rec
        .iter()
        .map(|a| (a.scope.clone(), a.previous_status.clone(), a.status.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("channel".into(), "healthy".into(), "at_risk".into()),
            ("org".into(), "healthy".into(), "at_risk".into())
        ]
    );
    // Polls read up to the committed bound minus the settle time (250 ms).
    let settle = || tokio::time::sleep(std::time::Duration::from_millis(400));
    settle().await;
    let first_poll = app.get("/v1/reputation/alerts", Some(&key)).await;
    assert_eq!(first_poll.status, 200, "{}", first_poll.body);
    assert_eq!(first_poll.data().len(), 2);
    let org_alert = first_poll
        .data()
        .iter()
        .find(|a| a["scope"] == "org")
        .unwrap()
        .clone();
    assert_eq!(org_alert["sends"], 360);
    assert_eq!(org_alert["permanent_bounces"], 60);
    assert_eq!(org_alert["bounce_rate"], json!(60.0 / 360.0));
    // Dilute to 60 / 900 = 6.7 %: at_risk → warning.
    i = 2000;
    app.ingest(&message(&mut i, "blue", 540, 0, 0)).await;
    let rec = evaluate().await;
    assert_eq!(rec.len(), 2);
    assert!(
        rec.iter()
            .all(|a| a.previous_status == "at_risk" && a.status == "warning")
    );
    // Complaints on a second channel: 3 / 250 deliveries = 1.2 % → that channel at_risk, the org
    // (3 / 1090 deliveries = 0.28 %) stays warning.
    i = 3000;
    app.ingest(&message(&mut i, "red", 250, 0, 3)).await;
    let rec = evaluate().await;
    let red = channel_id(org.id, "red").to_string();
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert_eq!(
        (rec[0].scope_key.as_str(), rec[0].status.as_str()),
        (red.as_str(), "at_risk")
    );
    // Dilute blue back under 5 % (60 / 1500): warning → healthy, a recrossing. The org stays
    // warning: its bounces are 3.4 % now, but 3 complaints / 1690 deliveries are 0.18 %.
    i = 4000;
    app.ingest(&message(&mut i, "blue", 600, 0, 0)).await;
    let rec = evaluate().await;
    let blue = channel_id(org.id, "blue").to_string();
    let got: Vec<(String, String, String)> = rec
        .iter()
        .map(|a| {
            (
                a.scope_key.clone(),
                a.previous_status.clone(),
                a.status.clone(),
            )
        })
        .collect();
    assert_eq!(got, [(blue, "warning".into(), "healthy".into())]);

    // Every alert once, oldest first, across pages; `since` = largest recorded_at seen gives
    // only what came after (plus that second's, which the poller dedupes by id).
    settle().await;
    let mut all = Vec::new();
    let mut uri = "/v1/reputation/alerts?limit=2".to_owned();
    loop {
        let r = app.get(&uri, Some(&key)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        all.extend(r.data().clone());
        match r.body["pagination"]["next_cursor"].as_str() {
            Some(c) => uri = format!("/v1/reputation/alerts?limit=2&cursor={c}"),
            None => break,
        }
    }
    // The concurrent evaluators wrote each crossing twice, under one id: listed once.
    let (rows, stored): (u64, u64) = store
        .client()
        .query("SELECT count(), uniqExact(alert_id) FROM reputation_alerts")
        .fetch_one()
        .await
        .unwrap();
    assert!(rows > stored, "{rows} rows, {stored} ids");
    assert_eq!(all.len() as u64, stored, "each transition recorded once");
    let recorded: Vec<&str> = all
        .iter()
        .map(|a| a["recorded_at"].as_str().unwrap())
        .collect();
    let mut sorted = recorded.clone();
    sorted.sort();
    assert_eq!(recorded, sorted);
    let since = org_alert["recorded_at"].as_str().unwrap();
    let r = app
        .get(&format!("/v1/reputation/alerts?since={since}"), Some(&key))
        .await;
    let ids: Vec<&Value> = r.data().iter().map(|a| &a["id"]).collect();
    assert!(ids.len() >= all.len() - 2 && ids.len() <= all.len());
    // Another copy of every alert, later (as an evaluator that recorded the same crossings a
    // little later): still read once.
    let dup: u64 = store
        .client()
        .query("SELECT uniqExact(alert_id) FROM reputation_alerts")
        .fetch_one()
        .await
        .unwrap();
    store
        .client()
        .query("INSERT INTO reputation_alerts SELECT org_id, alert_id, scope, scope_key, previous_status, status, window_days, sends, deliveries, permanent_bounces, complaints, bounce_rate, complaint_rate, evaluated_ms, recorded_ms + 5 FROM reputation_alerts")
        .execute()
        .await
        .unwrap();
    settle().await;
    let r = app.get("/v1/reputation/alerts?limit=200", Some(&key)).await;
    assert_eq!(r.data().len() as u64, dup);
    for bad in ["since=yesterday", "limit=0", "cursor=zzz"] {
        let r = app
            .get(&format!("/v1/reputation/alerts?{bad}"), Some(&key))
            .await;
        assert_eq!(r.status, 422, "{bad}");
    }
    app.drop().await;
}
