//! The API contract: the router serves exactly the paths the OpenAPI document lists, the public
//! routes are the document's `security: []` operations, and operation ids are unique.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::TestApp;
use sendops_query_api::gate::LIVENESS_PATH;
use sendops_query_api::openapi;
use sendops_shared::control::org::Plan;
use serde_json::Value;

/// A concrete request path for a documented path template.
fn concrete(template: &str) -> String {
    template
        .replace("{email}", "someone%40example.com")
        .replace("{identity}", "example.com")
        .replace("{id}", "0100019a-0000-0000-0000-000000000000-000000")
        .replace("{name}", "transactional")
        .replace("{slug}", "welcome")
        .replace("{domain}", "links.example.com")
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push((path.clone(), m.to_owned(), op.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_router_serves_exactly_the_documented_paths() {
    let (app, _, key) = TestApp::acme("contract_paths", "111111111111", Plan::Enterprise).await;
    let doc = app.get("/v1/openapi.json", None).await.body;
    let ops = operations(&doc);
    assert!(ops.len() >= 23, "{} operations", ops.len());
    for (path, method, _) in &ops {
        assert_eq!(method, "get", "{path}: the API is read-only");
        let r = app.get(&concrete(path), Some(&key)).await;
        assert!(
            !(r.status == 404 && r.body["resource"] == "route") && r.status != 405,
            "{path} is documented but not routed: {} {}",
            r.status,
            r.body
        );
    }
    // The reverse: what the router serves is documented (both come from `api()`; this checks
    // that the served document is that one).
    let built = serde_json::to_value(openapi::document()).unwrap();
    assert_eq!(built, doc);
    let (_, from_router) = sendops_query_api::api().split_for_parts();
    let routed: BTreeSet<&String> = from_router.paths.paths.keys().collect();
    let documented: BTreeSet<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert_eq!(routed, documented);
    // An undocumented path is the fallback's 404.
    let r = app.get("/v1/messages-not-a-route", Some(&key)).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["resource"], "route");
    app.drop().await;
}

#[tokio::test]
async fn public_routes_are_the_documents_unsecured_operations() {
    let app = TestApp::new("contract_public").await;
    let doc = app.get("/v1/openapi.json", None).await.body;
    let mut public = BTreeSet::new();
    for (path, _, op) in operations(&doc) {
        let unsecured = op["security"].as_array().is_some_and(|reqs| {
            reqs.iter()
                .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
        });
        let r = app.get(&concrete(&path), None).await;
        if unsecured {
            public.insert(path.clone());
            assert_ne!(r.status, 401, "{path} is public");
        } else {
            assert_eq!(r.status, 401, "{path} needs a key: {}", r.body);
            assert!(op["responses"]["401"].is_object(), "{path} documents 401");
        }
    }
    let expected: BTreeSet<String> = ["/v1/_health", "/v1/openapi.json"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(public, expected);
    assert!(public.contains(LIVENESS_PATH));
    assert_eq!(
        openapi::public().iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    app.drop().await;
}

#[test]
fn operation_ids_are_unique_and_present() {
    let doc = serde_json::to_value(openapi::document()).unwrap();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (path, method, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
            .to_owned();
        if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId {id} is used by {other} and {method} {path}");
        }
    }
}
