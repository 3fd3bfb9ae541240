//! `TestApp`: the real router over a fresh database on the real ClickHouse, driven in-process.
#![allow(dead_code)]

pub mod oracle;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sendops_fixtures::{Envelope, TrafficConfig, Wrapper, generate};
use sendops_ingest::{Pipeline, Record, Source};
use sendops_query_api::config::ApiConfig;
use sendops_query_api::{AppState, router};
use sendops_shared::control::api_key::KeyEnv;
use sendops_shared::control::org::{Org, Plan};
use sendops_shared::control::scopes::Scope;
use sendops_shared::store::testing::{TestDb, create_test_org};
use serde_json::Value;
use tower::ServiceExt;

pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
    pub app: axum::Router,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body's `data` array: the items of a list answer.
    pub fn data(&self) -> &Vec<Value> {
        self.body["data"].as_array().unwrap()
    }

    /// The string `field` of every item of the body's array `list` (e.g. each error's `field`).
    pub fn strs<'a, C: FromIterator<&'a str>>(&'a self, list: &str, field: &str) -> C {
        self.body[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[field].as_str().unwrap())
            .collect()
    }
}

impl TestApp {
    pub async fn new(name: &str) -> TestApp {
        TestApp::with_config(
            name,
            ApiConfig {
                key_cache_ttl: Duration::from_secs(1),
                ..ApiConfig::default()
            },
        )
        .await
    }

    pub async fn with_config(name: &str, config: ApiConfig) -> TestApp {
        TestApp::on(TestDb::new(name).await, config)
    }

    /// The app over an existing test database (tests/cluster.rs: one on a single server, one on
    /// the cluster).
    pub fn on(db: TestDb, config: ApiConfig) -> TestApp {
        let state = AppState::new(db.store.clone(), config);
        let app = router(state.clone());
        TestApp { db, state, app }
    }

    /// A fresh app with the org "acme" on `account` and a live key holding every scope.
    pub async fn acme(name: &str, account: &str, plan: Plan) -> (TestApp, Org, String) {
        let app = TestApp::new(name).await;
        let (org, key) = app.acme_org(account, plan).await;
        (app, org, key)
    }

    /// An app whose in-process breakdown index is on (64 MiB) or off (counted in ClickHouse).
    pub async fn with_breakdown_index(name: &str, indexed: bool) -> TestApp {
        let config = ApiConfig {
            key_cache_ttl: Duration::from_secs(1),
            breakdown_index_bytes: if indexed { 64 << 20 } else { 0 },
            ..ApiConfig::default()
        };
        TestApp::with_config(name, config).await
    }

    /// The org "acme" on `account` and a live key of it holding every scope.
    pub async fn acme_org(&self, account: &str, plan: Plan) -> (Org, String) {
        let org = self.org("acme", account, plan).await;
        let key = self.key(&org, KeyEnv::Live, ALL_SCOPES).await;
        (org, key)
    }

    pub async fn org(&self, slug: &str, account: &str, plan: Plan) -> Org {
        create_test_org(&self.db.store, slug, account, plan).await
    }

    pub async fn key(&self, org: &Org, env: KeyEnv, scopes: &[Scope]) -> String {
        self.db
            .store
            .create_key(org.id, env, "test key", scopes, "tests")
            .await
            .unwrap()
            .1
    }

    /// A key named `name` with the scopes of `scope_list` as a user writes it (aliases allowed,
    /// e.g. "messages.view,org.view").
    pub async fn key_from_list(
        &self,
        org_id: uuid::Uuid,
        env: KeyEnv,
        name: &str,
        scope_list: &str,
    ) -> String {
        let scopes = sendops_shared::control::scopes::parse_scope_list(scope_list).unwrap();
        self.db
            .store
            .create_key(org_id, env, name, &scopes, "t")
            .await
            .unwrap()
            .1
    }

    /// Stores events (event-publishing JSON) through the real ingest pipeline.
    pub async fn ingest(&self, events: &[Value]) {
        let bodies: Vec<String> = events.iter().map(Value::to_string).collect();
        let records: Vec<Record<'_>> = bodies.iter().map(|b| Record { body: b }).collect();
        let report = Pipeline::new(self.db.store.clone(), Source::Replay)
            .process(&records)
            .await
            .unwrap();
        assert_eq!(report.quarantined, 0, "test traffic must store cleanly");
    }

    /// Shuffles `events` with a generator seeded with `seed` and splits off the last fifth (the
    /// late events, not stored); stores the rest, then every `dup_every`-th of them again through
    /// an SNS envelope. Returns the late events and the generator, to draw more from.
    pub async fn ingest_shuffled_with_duplicates(
        &self,
        events: &mut Vec<Value>,
        seed: u64,
        wrapper_seed: u64,
        dup_every: usize,
    ) -> (Vec<Value>, ChaCha8Rng) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        events.shuffle(&mut rng);
        let late = events.split_off(events.len() * 4 / 5);
        self.ingest(events).await;
        let mut wrapper = Wrapper::new(wrapper_seed);
        let dups: Vec<Value> = events
            .iter()
            .step_by(dup_every)
            .map(|e| wrapper.wrap(e, Envelope::Sns))
            .collect();
        self.ingest(&dups).await;
        (late, rng)
    }

    pub async fn get(&self, uri: &str, key: Option<&str>) -> Reply {
        self.request("GET", uri, key, "127.0.0.1:40000").await
    }

    pub async fn request(&self, method: &str, uri: &str, key: Option<&str>, from: &str) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "api.test");
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        let mut req = req.body(Body::empty()).unwrap();
        let addr: SocketAddr = from.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A GET with extra request headers; the answer's status, headers and raw body.
    pub async fn get_with(
        &self,
        uri: &str,
        key: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = Request::builder()
            .method("GET")
            .uri(uri)
            .header("host", "api.test")
            .header("authorization", format!("Bearer {key}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req.body(Body::empty()).unwrap();
        let addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, headers, bytes.to_vec())
    }

    pub async fn drop(self) {
        self.db.drop().await;
    }
}

/// Generated traffic for `account`, ending at `end_days_ago` days before now.
pub fn traffic(seed: u64, messages: u64, days: u32, account: &str) -> Vec<Value> {
    let end = Utc::now() - chrono::Duration::hours(1);
    let end = Utc.timestamp_millis_opt(end.timestamp_millis()).unwrap();
    let cfg = TrafficConfig::demo(seed, messages, days, end, account);
    generate(&cfg).collect()
}

/// The number in environment variable `name`, or `default` when it is unset or not a number.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// UTC midnight `days` days before now.
pub fn midnight_days_ago(days: i64) -> chrono::DateTime<Utc> {
    (Utc::now() - chrono::Duration::days(days))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
}

pub const ALL_SCOPES: &[Scope] = &Scope::ALL;
