//! Report-cache hit ratios (issue 16): `sendops_api_cache_lookups_total` /
//! `sendops_api_cache_misses_total` with `cache="report_seals"` (a past day's sealed counts) and
//! `cache="engaged_index"` (a day of the in-process distinct-recipient index) count exactly one
//! lookup per past day with events a report reads, and one miss per day sealed or loaded again;
//! `cache="breakdown_index"` (a day of the in-process breakdown index) likewise.
//! One test per file: it installs the process's metrics recorder.

mod common;

use chrono::Utc;
use common::{TestApp, midnight_days_ago};
use sendops_shared::control::org::Plan;
use serde_json::{Value, json};

const A: &str = "444444444444";

fn open_at(day: chrono::DateTime<Utc>, recipient: &str, minute: i64) -> Value {
    let ts = (day + chrono::Duration::minutes(minute))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "eventType": "Open",
        "mail": {"timestamp": ts, "messageId": format!("m-{recipient}-{minute}"),
                 "source": "ops@acme.example", "sendingAccountId": A,
                 "destination": [recipient],
                 "tags": {"ses:configuration-set": ["blue"], "template": ["welcome"]}},
        "open": {"timestamp": ts},
    })
}

/// (lookups, misses) of `cache` in the exposition.
fn figures(scrape: &str, cache: &str) -> (f64, f64) {
    let value = |name: &str| {
        scrape
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{name}{{cache=\"{cache}\"}} "))?
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or(0.0)
    };
    (
        value("sendops_api_cache_lookups_total"),
        value("sendops_api_cache_misses_total"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_caches_count_lookups_and_misses_per_day() {
    let metrics = sendops_ops::install_recorder(&[]).unwrap();
    let (app, _, key) = TestApp::acme("report_cache", A, Plan::Enterprise).await;
    // Two past days with opens, one without.
    let (d1, d3) = (midnight_days_ago(4), midnight_days_ago(2));
    app.ingest(&[
        open_at(d1, "a@x.example", 60),
        open_at(d3, "b@x.example", 60),
    ])
    .await;
    let window = |path: &str| {
        format!(
            "/v1/reports/{path}?from={}&to={}",
            d1.format("%Y-%m-%dT%H:%M:%SZ"),
            (d3 + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ")
        )
    };
    let get = |uri: String| {
        let app = &app;
        let key = &key;
        async move {
            let r = app.get(&uri, Some(key)).await;
            assert_eq!(r.status.as_u16(), 200, "{uri}: {}", r.body);
        }
    };
    // Sealed on the first read (2 days: 2 lookups, 2 misses), reused on the second.
    get(window("engagement")).await;
    assert_eq!(figures(&metrics.render(), "report_seals"), (2.0, 2.0));
    get(window("engagement")).await;
    assert_eq!(figures(&metrics.render(), "report_seals"), (4.0, 2.0));
    // The index loads both days once, then reuses them.
    let (seals_before, _) = figures(&metrics.render(), "report_seals");
    get(window("template-performance")).await;
    get(window("template-performance")).await;
    assert_eq!(figures(&metrics.render(), "engaged_index"), (4.0, 2.0));
    // A late open on one day: that day alone is sealed and loaded again.
    app.ingest(&[open_at(d1, "c@x.example", 600)]).await;
    let (seals, seal_misses) = figures(&metrics.render(), "report_seals");
    get(window("engagement")).await;
    let after = figures(&metrics.render(), "report_seals");
    assert_eq!(
        (after.0 - seals, after.1 - seal_misses),
        (2.0, 1.0),
        "{seals_before}"
    );
    get(window("template-performance")).await;
    assert_eq!(figures(&metrics.render(), "engaged_index"), (6.0, 3.0));

    // The breakdown index: the background prefill loads both days of the busiest org, so the
    // first breakdown and reputation requests load nothing; a late event reloads its day only.
    let index = app.state.breakdowns.as_ref().expect("index on by default");
    assert_eq!(index.prefill(&app.state.store, 30).await.unwrap(), 1);
    assert_eq!(figures(&metrics.render(), "breakdown_index"), (2.0, 2.0));
    get(window("breakdown") + "&dimension=recipient_domain").await;
    let r = app.get("/v1/reputation?window_days=30", Some(&key)).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(figures(&metrics.render(), "breakdown_index"), (6.0, 2.0));
    assert_eq!(index.prefill(&app.state.store, 30).await.unwrap(), 1);
    assert_eq!(figures(&metrics.render(), "breakdown_index"), (8.0, 2.0));
    app.ingest(&[open_at(d3, "d@x.example", 700)]).await;
    get(window("breakdown") + "&dimension=mailbox_provider").await;
    assert_eq!(figures(&metrics.render(), "breakdown_index"), (10.0, 3.0));

    // The engaged index's prefill reloads the changed day, so the next template performance
    // report loads nothing.
    assert_eq!(figures(&metrics.render(), "engaged_index"), (6.0, 3.0));
    assert_eq!(
        app.state
            .engaged
            .prefill(&app.state.store, 91)
            .await
            .unwrap(),
        1
    );
    assert_eq!(figures(&metrics.render(), "engaged_index"), (8.0, 4.0));
    get(window("template-performance")).await;
    assert_eq!(figures(&metrics.render(), "engaged_index"), (10.0, 4.0));
    app.drop().await;
}
