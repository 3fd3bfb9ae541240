//! `/v1/reports/breakdown` against an independent oracle: generated traffic ingested out of
//! order, late and with duplicates; for random second-precision windows, every dimension and
//! combined filters, every row (counts, distinct openers/clickers over the window, rates, order)
//! equals a direct count computed here from the raw events; pages followed by their cursors give
//! the whole list; a domain whose resolution changes re-attributes its history.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{TimeZone, Utc};
use common::oracle::{FilterValues, Filters, Row, oracle_rows, rate, same};
use common::{TestApp, traffic};
use rand::Rng;
use sendops_shared::control::org::{Plan, channel_id};
use sendops_shared::read::breakdown::causes::classify;
use sendops_shared::read::breakdown::providers::DomainRow;
use sendops_shared::timefmt::{DAY_MS, now_ms};
use serde_json::{Value, json};

const A: &str = "444444444444";

struct Q {
    f: Filters,
    dimension: &'static str,
}

/// The expected rows of a breakdown (without labels), in the API's order.
fn expected(
    rows: &[Row],
    q: &Q,
    org_id: uuid::Uuid,
    providers: &HashMap<String, String>,
) -> Vec<Value> {
    let key = |r: &Row| -> Option<String> {
        Some(match q.dimension {
            "recipient_domain" => r.recipient_domain.clone(),
            "mailbox_provider" => providers
                .get(&r.recipient_domain)
                .cloned()
                .unwrap_or_else(|| "other".into()),
            "sending_domain" => r.sender_domain.clone(),
            "channel" => channel_id(org_id, &r.channel).to_string(),
            "template" => r.template.clone(),
            "bounce_cause" if r.ty == "Bounce" => r.cause.clone(),
            _ => return None,
        })
    };
    let mut counts: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut engaged: BTreeMap<(String, &str), BTreeSet<&str>> = BTreeMap::new();
    for r in rows.iter().filter(|r| q.f.keep(r)) {
        let Some(k) = key(r) else { continue };
        let name = match (r.ty.as_str(), r.bounce_type.as_str()) {
            ("Bounce", "Permanent") => "BounceP",
            ("Bounce", "Transient") => "BounceT",
            ("Bounce", _) => "BounceU",
            (t, _) => t,
        };
        *counts
            .entry(k.clone())
            .or_default()
            .entry(name.to_owned())
            .or_default() += 1;
        if r.ty == "Open" || r.ty == "Click" {
            engaged
                .entry((k, r.ty.as_str()))
                .or_default()
                .insert(&r.recipient);
        }
    }
    let mut out: Vec<(u64, String, Value)> = Vec::new();
    for (k, c) in &counts {
        let n = |t: &str| c.get(t).copied().unwrap_or(0);
        let u = |t: &str| engaged.get(&(k.clone(), t)).map_or(0, |s| s.len() as u64);
        let bounced = n("BounceP") + n("BounceT") + n("BounceU");
        let (sent, delivered, complained) = (n("Send"), n("Delivery"), n("Complaint"));
        let v = json!({
            "key": k, "sent": sent, "delivered": delivered, "bounced": bounced,
            "bounced_permanent": n("BounceP"), "bounced_transient": n("BounceT"),
            "bounced_undetermined": n("BounceU"), "complained": complained,
            "suppressed": n("Reject"), "delayed": n("DeliveryDelay"),
            "opens": n("Open"), "unique_opens": u("Open"), "clicks": n("Click"), "unique_clicks": u("Click"),
            "delivery_rate": rate(delivered, sent), "bounce_rate": rate(bounced, sent),
            "complaint_rate": rate(complained, delivered),
        });
        let nonzero = v
            .as_object()
            .unwrap()
            .iter()
            .any(|(name, x)| !name.ends_with("rate") && x.as_u64().is_some_and(|n| n > 0));
        if nonzero {
            out.push((sent, k.clone(), v));
        }
    }
    out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    out.into_iter().map(|(_, _, v)| v).collect()
}

fn enc(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn url(q: &Q, org_id: uuid::Uuid, limit: usize) -> String {
    format!(
        "/v1/reports/breakdown?dimension={}&from={}&to={}&limit={limit}{}",
        q.dimension,
        enc(q.f.window.start),
        enc(q.f.window.end),
        q.f.params(org_id)
    )
}

/// Every page of a breakdown, labels removed (checked separately).
async fn fetch_all(app: &TestApp, key: &str, first: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut uri = first.to_owned();
    loop {
        let r = app.get(&uri, Some(key)).await;
        assert_eq!(r.status, 200, "{uri}: {}", r.body);
        for mut row in r.data().clone() {
            assert!(row["label"].is_string(), "{row}");
            row.as_object_mut().unwrap().remove("label");
            out.push(row);
        }
        match r.body["pagination"]["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(r.body["pagination"]["has_more"], true);
                uri = format!("{first}&cursor={c}");
            }
            None => return out,
        }
    }
}

/// A second copy of about a fifth of the stored rows, as a retried or racing INSERT leaves them
/// (the duplicate check stops envelope duplicates before the INSERT; these get past it).
async fn second_copies(app: &TestApp) {
    app.state
        .store
        .client()
        .query(
            "INSERT INTO events SELECT * FROM events WHERE cityHash64(toString(event_id)) % 5 = 0",
        )
        .execute()
        .await
        .unwrap();
}

const DIMENSIONS: [&str; 6] = [
    "mailbox_provider",
    "recipient_domain",
    "sending_domain",
    "channel",
    "template",
    "bounce_cause",
];

#[tokio::test]
async fn every_breakdown_number_equals_a_direct_count_for_random_windows() {
    oracle("breakdown_oracle", true).await;
}

/// The same oracle with the in-process index off (`SENDOPS_BREAKDOWN_INDEX_MB=0`): every
/// breakdown is counted in ClickHouse from day seals and raw days.
#[tokio::test]
async fn breakdowns_counted_in_clickhouse_equal_a_direct_count() {
    oracle("breakdown_oracle_ch", false).await;
}

async fn oracle(name: &str, indexed: bool) {
    let app = TestApp::with_breakdown_index(name, indexed).await;
    let (org, key) = app.acme_org(A, Plan::Enterprise).await;
    let mut events = traffic(91, 500, 60, A);
    let (late, mut rng) = app
        .ingest_shuffled_with_duplicates(&mut events, 91, 9, 4)
        .await;
    second_copies(&app).await;

    // Provider answers: one domain on Google's MX, one without MX, one whose lookup failed
    // (→ other), the rest never resolved (→ other).
    let store = &app.state.store;
    store
        .record_mailbox_domains(&[
            DomainRow::answered("corp.example", vec!["aspmx.l.google.com".into()]),
            DomainRow::answered("university.example", vec![]),
            DomainRow::failed("startup.example", "timed out".into()),
        ])
        .await
        .unwrap();
    let mut providers: HashMap<String, String> = HashMap::new();
    providers.insert("corp.example".into(), "google".into());
    providers.insert("university.example".into(), "none".into());

    let all_rows = |evs: &[Value]| oracle_rows(evs);
    let early = all_rows(&events);
    let mut all = events.clone();
    all.extend(late.iter().cloned());
    let rows = all_rows(&all);
    let values = FilterValues::of(&rows);
    assert!(
        rows.iter().any(|r| r.ty == "Bounce") && rows.iter().any(|r| r.ty == "Open"),
        "traffic has bounces and opens"
    );
    let causes: BTreeSet<&str> = rows.iter().map(|r| r.cause.as_str()).collect();
    assert!(causes.len() >= 3, "several bounce causes: {causes:?}");

    let now = now_ms();
    let windows: Vec<Q> = (0..30)
        .map(|i| {
            let span = rng.random_range(1_000..65 * DAY_MS);
            let to = now + 2 * DAY_MS - rng.random_range(0..60 * DAY_MS);
            Q {
                f: values.window(i, to - span, to, 7),
                dimension: DIMENSIONS[i % DIMENSIONS.len()],
            }
        })
        .collect();

    // Before the late events (seals get written), then after them (seals must be redone).
    for (i, q) in windows.iter().enumerate().take(12) {
        let got = fetch_all(&app, &key, &url(q, org.id, 200)).await;
        let want = expected(&early, q, org.id, &providers);
        assert!(
            same(&Value::Array(got.clone()), &Value::Array(want.clone())),
            "early window {i} {}:\n got {got:?}\nwant {want:?}",
            q.dimension
        );
    }
    // Counted from ClickHouse, those reads sealed their whole past days (a failed seal would
    // fall back to counting `events`, which the answers alone would not show); counted from the
    // index, nothing was sealed (so the answers above came from the index).
    for table in ["breakdown_day_seals", "breakdown_day_counts"] {
        let n: u64 = store
            .client()
            .query(&format!("SELECT count() FROM {table}"))
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(n > 0, !indexed, "{table} holds {n} rows");
    }
    app.ingest(&late).await;
    app.ingest(&late[..late.len() / 3]).await;
    second_copies(&app).await;
    let mut nonempty = 0;
    for (i, q) in windows.iter().enumerate() {
        // Small pages for some windows: following the cursors gives the same list.
        let limit = if i % 3 == 0 { 2 } else { 200 };
        let got = fetch_all(&app, &key, &url(q, org.id, limit)).await;
        let want = expected(&rows, q, org.id, &providers);
        nonempty += usize::from(!want.is_empty());
        assert!(
            same(&Value::Array(got.clone()), &Value::Array(want.clone())),
            "window {i} {} limit {limit}:\n got {got:?}\nwant {want:?}",
            q.dimension
        );
    }
    assert!(nonempty >= 20, "most windows hold data ({nonempty})");

    // The whole retention, every dimension, with a label check.
    let q = |dimension| Q {
        f: Filters::unfiltered(now - 80 * DAY_MS..now + DAY_MS),
        dimension,
    };
    for d in DIMENSIONS {
        let got = fetch_all(&app, &key, &url(&q(d), org.id, 200)).await;
        assert!(same(
            &Value::Array(got),
            &Value::Array(expected(&rows, &q(d), org.id, &providers))
        ));
    }
    let r = app
        .get(&url(&q("mailbox_provider"), org.id, 200), Some(&key))
        .await;
    let google = r
        .data()
        .iter()
        .find(|r| r["key"] == "google")
        .expect("corp.example is on google");
    assert_eq!(google["label"], "Google (Gmail, Workspace)");

    // Re-classification: corp.example moves to Microsoft; history follows without re-ingest.
    store
        .record_mailbox_domains(&[DomainRow::answered(
            "corp.example",
            vec!["corp-example.mail.protection.outlook.com".into()],
        )])
        .await
        .unwrap();
    providers.insert("corp.example".into(), "microsoft".into());
    let got = fetch_all(&app, &key, &url(&q("mailbox_provider"), org.id, 200)).await;
    let want = expected(&rows, &q("mailbox_provider"), org.id, &providers);
    assert!(want.iter().any(|r| r["key"] == "microsoft"));
    assert!(same(&Value::Array(got), &Value::Array(want)));
    // A later failed lookup does not undo the answer.
    store
        .record_mailbox_domains(&[DomainRow::failed("corp.example", "SERVFAIL".into())])
        .await
        .unwrap();
    let again = fetch_all(&app, &key, &url(&q("mailbox_provider"), org.id, 200)).await;
    assert!(same(
        &Value::Array(again),
        &Value::Array(expected(&rows, &q("mailbox_provider"), org.id, &providers))
    ));
    app.drop().await;
}

#[tokio::test]
async fn breakdown_parameters_are_validated_by_name() {
    let (app, _, key) = TestApp::acme("breakdown_params", A, Plan::Free).await;
    for (uri, field) in [
        ("/v1/reports/breakdown", "dimension"),
        ("/v1/reports/breakdown?dimension=isp", "dimension"),
        ("/v1/reports/breakdown?dimension=channel&limit=0", "limit"),
        ("/v1/reports/breakdown?dimension=channel&limit=201", "limit"),
        (
            "/v1/reports/breakdown?dimension=channel&channel=x",
            "channel",
        ),
        (
            "/v1/reports/breakdown?dimension=channel&cursor=zzz",
            "cursor",
        ),
        (
            "/v1/reports/breakdown?dimension=channel&from=yesterday",
            "from",
        ),
        (
            "/v1/reports/breakdown?dimension=channel&template=",
            "template",
        ),
    ] {
        let r = app.get(uri, Some(&key)).await;
        assert_eq!(r.status, 422, "{uri}: {}", r.body);
        let fields: Vec<&str> = r.strs("errors", "field");
        assert!(fields.contains(&field), "{uri}: {}", r.body);
    }
    // Retention: an explicit `from` before the free plan's 30 days is a 403.
    let old = enc(now_ms() - 40 * DAY_MS);
    let uri = format!("/v1/reports/breakdown?dimension=channel&from={old}");
    let r = app.get(&uri, Some(&key)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A cursor of another filter set is refused.
    let r = app
        .get(
            "/v1/reports/breakdown?dimension=channel&limit=1",
            Some(&key),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"], json!([]));
    app.drop().await;
}

#[tokio::test]
async fn bounce_causes_in_clickhouse_equal_the_rule_table() {
    use sendops_shared::read::breakdown::causes::{RULES, sql};
    let app = TestApp::new("breakdown_causes").await;
    let mut cases: Vec<(&str, &str)> = RULES
        .iter()
        .flat_map(|r| r.examples.iter().copied())
        .collect();
    cases.extend([
        ("General", ""),
        ("Undetermined", "smtp; 550 go away"),
        ("General", "id 15.1.1 queued"),
    ]);
    for (sub, diag) in cases {
        let got: String = app
            .state
            .store
            .client()
            .query(&format!(
                "SELECT {} FROM (SELECT 'Bounce' AS event_type, ? AS bounce_sub_type, ? AS diagnostic)",
                sql()
            ))
            .bind(sub)
            .bind(diag)
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(got, classify(sub, diag).as_str(), "({sub:?}, {diag:?})");
    }
    app.drop().await;
}
