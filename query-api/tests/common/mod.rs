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
use sendops_fixtures::{TrafficConfig, generate};
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

pub const ALL_SCOPES: &[Scope] = &Scope::ALL;
