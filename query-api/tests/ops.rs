//! Operations surface of the real `sendops-api` binary (issue 16): `/metrics` counts requests by
//! route template and status, `/ready` follows the store, `SENDOPS_LOG_FORMAT=json` writes one
//! JSON access-log line per request without the key or a recipient address.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use sendops_shared::control::org::Plan;
use sendops_testkit::process::{free_port, http_get as get};

struct Api {
    child: std::process::Child,
    port: u16,
    metrics: u16,
    log: tempfile::NamedTempFile,
}

impl Api {
    fn start(url: &str, database: &str) -> Api {
        let port = free_port();
        let metrics = free_port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-api"))
            .env("SENDOPS_API_ADDR", format!("127.0.0.1:{port}"))
            .env("SENDOPS_METRICS_ADDR", format!("127.0.0.1:{metrics}"))
            .env("SENDOPS_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("CLICKHOUSE_URL", url)
            .env("CLICKHOUSE_DATABASE", database)
            .env("SENDOPS_REPORT_PREPARE_SECONDS", "0")
            .stdout(std::process::Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while get(metrics, "/ready", "").is_err() || get(port, "/v1/_health", "").is_err() {
            assert!(Instant::now() < deadline, "the server never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        Api {
            child,
            port,
            metrics,
            log,
        }
    }

    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(self.log.path()).unwrap()
    }
}

/// The value of the sample of `name` whose labels include every `labels` pair.
fn sample(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (set, value) = rest.split_once("} ")?;
        labels
            .iter()
            .all(|(k, v)| set.split(',').any(|p| p == format!("{k}=\"{v}\"")))
            .then(|| value.trim().parse().unwrap())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_status_and_logs_are_json() {
    let (app, org, key) = TestApp::acme("ops_metrics", "123456789012", Plan::Pro).await;
    let api = Api::start(&app.db.config.url, &app.db.config.database);

    for _ in 0..3 {
        assert_eq!(get(api.port, "/v1/messages", &key).unwrap().0, 200);
    }
    let unknown = "sk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for _ in 0..2 {
        assert_eq!(get(api.port, "/v1/messages", unknown).unwrap().0, 401);
    }
    let email = "jane.doe@example.com";
    let (status, _) = get(api.port, &format!("/v1/recipients/{email}/messages"), &key).unwrap();
    assert_eq!(status, 200);

    let (status, scrape) = get(api.metrics, "/metrics", "").unwrap();
    assert_eq!(status, 200);
    let count = |route: &str, status: &str| {
        sample(
            &scrape,
            "sendops_api_requests_total",
            &[("route", route), ("method", "GET"), ("status", status)],
        )
    };
    assert_eq!(count("/v1/messages", "200"), Some(3.0), "{scrape}");
    assert_eq!(count("/v1/messages", "401"), Some(2.0), "{scrape}");
    assert_eq!(
        count("/v1/recipients/{email}/messages", "200"),
        Some(1.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "sendops_api_auth_failures_total", &[]).or_else(|| scrape
            .lines()
            .find_map(|l| l.strip_prefix("sendops_api_auth_failures_total "))
            .map(|v| v.trim().parse().unwrap())),
        Some(2.0),
        "{scrape}"
    );
    assert_eq!(
        sample(
            &scrape,
            "sendops_api_request_duration_seconds_count",
            &[("route", "/v1/messages"), ("method", "GET")]
        ),
        Some(5.0),
        "{scrape}"
    );
    // The key cache: the good key is looked up 4 times and read from the store once; the unknown
    // key twice, its miss cached too.
    let cache = |name: &str| sample(&scrape, name, &[("cache", "api_keys")]);
    assert_eq!(
        cache("sendops_api_cache_lookups_total"),
        Some(6.0),
        "{scrape}"
    );
    assert_eq!(
        cache("sendops_api_cache_misses_total"),
        Some(2.0),
        "{scrape}"
    );
    assert!(!scrape.contains(email), "{scrape}");
    assert_eq!(get(api.metrics, "/ready", "").unwrap().0, 200);

    let log = api.stop();
    let access: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect(l))
        .filter(|v| v["target"] == "sendops_api::access")
        .collect();
    // One access line per request: 3 answered, 2 refused.
    let on_messages: Vec<_> = access
        .iter()
        .filter(|v| v["fields"]["route"] == "/v1/messages")
        .collect();
    assert_eq!(on_messages.len(), 5, "{log}");
    let ok = on_messages
        .iter()
        .find(|v| v["fields"]["status"] == 200)
        .unwrap();
    assert_eq!(ok["level"], "INFO");
    assert_eq!(ok["fields"]["method"], "GET");
    assert_eq!(ok["fields"]["org_id"], org.id.to_string());
    assert_eq!(ok["fields"]["key_prefix"], &key[..16]);
    assert!(ok["fields"]["latency_ms"].as_f64().is_some());
    assert_eq!(ok["fields"]["request_id"].as_str().unwrap().len(), 36);
    assert!(
        access
            .iter()
            .any(|v| v["fields"]["route"] == "/v1/recipients/{email}/messages")
    );
    assert!(!log.contains(&key), "the key was logged");
    assert!(!log.contains(email), "a recipient address was logged");
    app.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_follows_the_store() {
    let app = TestApp::new("ops_ready").await;
    let up = Api::start(&app.db.config.url, &app.db.config.database);
    assert_eq!(get(up.metrics, "/ready", "").unwrap().0, 200);
    up.stop();
    // Nothing listens on a port just released.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let down = Api::start(&closed, &app.db.config.database);
    assert_eq!(get(down.metrics, "/ready", "").unwrap().0, 503);
    // Liveness stays the static answer.
    assert_eq!(get(down.port, "/v1/_health", "").unwrap().0, 200);
    down.stop();
    app.drop().await;
}

/// The whole exposition of the metrics listener.
fn scrape(port: u16) -> String {
    let (status, body) = get(port, "/metrics", "").unwrap();
    assert_eq!(status, 200);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_queries_are_counted_by_op_and_outcome() {
    let app = TestApp::new("ops_store").await;
    let ok = [("op", "select"), ("outcome", "ok")];
    let failed = [("op", "select"), ("outcome", "error")];
    let count = |scrape: &str, labels: &[(&str, &str)]| {
        sample(scrape, "sendops_store_queries_total", labels).unwrap_or(0.0)
    };
    let timed = |scrape: &str| {
        sample(
            scrape,
            "sendops_store_query_duration_seconds_count",
            &[("op", "select")],
        )
        .unwrap_or(0.0)
    };
    let all = |scrape: &str| -> f64 {
        scrape
            .lines()
            .filter(|l| l.starts_with("sendops_store_queries_total{"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum()
    };
    // Each /ready is one `SELECT version()` (op `select`, no table); nothing else runs a
    // statement without a table.
    let up = Api::start(&app.db.config.url, &app.db.config.database);
    let before = scrape(up.metrics);
    for _ in 0..3 {
        assert_eq!(get(up.metrics, "/ready", "").unwrap().0, 200);
    }
    let after = scrape(up.metrics);
    assert_eq!(count(&after, &ok) - count(&before, &ok), 3.0, "{after}");
    // And nothing else: no statement counted twice or under another outcome.
    assert_eq!(all(&after) - all(&before), 3.0, "{after}");
    assert_eq!(timed(&after) - timed(&before), 3.0, "{after}");
    assert_eq!(count(&after, &failed), 0.0, "{after}");
    // Buckets, not a summary.
    assert!(
        after.contains("sendops_store_query_duration_seconds_bucket{op=\"select\",le=\"0.005\"}"),
        "{after}"
    );
    up.stop();

    // The store down: each /ready is one failed statement.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let down = Api::start(&closed, &app.db.config.database);
    let before = scrape(down.metrics);
    for _ in 0..2 {
        assert_eq!(get(down.metrics, "/ready", "").unwrap().0, 503);
    }
    let after = scrape(down.metrics);
    assert_eq!(
        count(&after, &failed) - count(&before, &failed),
        2.0,
        "{after}"
    );
    assert_eq!(count(&after, &ok), 0.0, "{after}");
    down.stop();
    app.drop().await;
}

/// `/ready` answers 503 while the process warms up: from the start of the background
/// preparation until its first prefill of the report indexes is done; then 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_waits_for_the_first_prefill() {
    use std::sync::atomic::Ordering;
    let app = TestApp::with_config(
        "ops_warming",
        sendops_query_api::config::ApiConfig {
            report_prepare_every: Duration::from_secs(3600),
            ..sendops_query_api::config::ApiConfig::default()
        },
    )
    .await;
    let handle = sendops_ops::install_recorder(&[]).unwrap();
    let listener = sendops_ops::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let warming = app.state.warming.clone();
    tokio::spawn(sendops_ops::serve_warming(
        listener,
        handle,
        app.db.store.clone(),
        Some(warming.clone()),
    ));
    let ready = || tokio::task::spawn_blocking(move || get(port, "/ready", "").unwrap());
    // Without a preparation loop nothing warms up.
    assert_eq!(ready().await.unwrap(), (200, "ready\n".to_owned()));
    // Held while warming (the flag is set when the loop is spawned, before its first pass).
    warming.store(true, Ordering::Release);
    assert_eq!(ready().await.unwrap(), (503, "warming up\n".to_owned()));
    warming.store(false, Ordering::Release);
    let task = sendops_query_api::spawn_report_preparation(app.state.clone()).unwrap();
    assert!(warming.load(Ordering::Acquire), "warming from the spawn on");
    let deadline = Instant::now() + Duration::from_secs(30);
    while warming.load(Ordering::Acquire) {
        assert!(
            Instant::now() < deadline,
            "the first prefill never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ready().await.unwrap().0, 200);
    task.abort();
    app.drop().await;
}
