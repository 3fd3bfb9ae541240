//! The public API against the real ClickHouse: auth matrix, rate limits, problems and headers,
//! cross-org isolation, message lists, detail, timelines, cursors and validation.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use common::oracle::payload_key;
use common::{ALL_SCOPES, TestApp, traffic};
use sendops_query_api::config::ApiConfig;
use sendops_shared::control::api_key::KeyEnv;
use sendops_shared::control::org::Plan;
use sendops_shared::control::scopes::Scope;
use sendops_shared::timefmt::{format_ms, now_ms, parse_rfc3339_ms};
use serde_json::Value;

const A: &str = "111111111111";
const B: &str = "222222222222";

fn assert_problem(r: &common::Reply, status: u16, class: &str, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let b = &r.body;
    assert!(
        b["type"].as_str().unwrap().ends_with(&format!("/{class}")),
        "{b}"
    );
    assert_eq!(b["code"], code, "{b}");
    assert_eq!(b["status"], status);
    assert!(b["title"].is_string() && b["detail"].is_string() && b["instance"].is_string());
    assert_eq!(
        b["request_id"].as_str(),
        r.header("x-request-id"),
        "request id in body and header"
    );
}

/// A 404 `not_found` problem.
fn assert_not_found(r: &common::Reply) {
    assert_problem(r, 404, "not_found", "not_found");
}

/// A 401 `invalid_key` problem.
fn assert_invalid_key(r: &common::Reply) {
    assert_problem(r, 401, "unauthenticated", "invalid_key");
}

/// The id of `key`, as `/v1/_scopes` tells it.
async fn key_id(app: &TestApp, key: &str) -> uuid::Uuid {
    app.get("/v1/_scopes", Some(key)).await.body["key_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The `id` of every item, owned.
fn ids_of<C: FromIterator<String>>(items: &[Value]) -> C {
    items
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_rate_headers(r: &common::Reply) {
    for h in [
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(r.header(h).is_some(), "{h} missing on {}", r.status);
    }
    assert!(
        r.headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "CORS stays closed"
    );
}

#[tokio::test]
async fn auth_matrix() {
    let app = TestApp::new("api_auth").await;
    let org = app.org("acme", A, Plan::Pro).await;
    let key = app.key(&org, KeyEnv::Live, &[Scope::ReportsView]).await;

    // Missing, malformed, unknown.
    for k in [
        None,
        Some("nope"),
        Some("sk_live_short"),
        Some(&*format!("sk_live_{}", "A".repeat(52))),
    ] {
        let r = app.get("/v1/_scopes", k).await;
        assert_invalid_key(&r);
        assert_rate_headers(&r);
        assert!(
            !r.body["detail"].as_str().unwrap().contains("revoked"),
            "never says why"
        );
    }
    // Valid key, any scope: /_scopes answers with canonical names.
    let r = app.get("/v1/_scopes", Some(&key)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["scopes"], serde_json::json!(["api.reports.view"]));
    assert_eq!(r.body["environment"], "live");
    assert_eq!(r.body["prefix"].as_str().unwrap(), &key[..16]);
    // Missing scope.
    let r = app.get("/v1/messages", Some(&key)).await;
    assert_problem(&r, 403, "permission_denied", "invalid_scope");
    assert_eq!(r.body["scope"], "api.messages.view");
    assert_rate_headers(&r);

    // Alias scopes are stored canonically and unlock the route.
    let aliased = app
        .key_from_list(org.id, KeyEnv::Test, "alias", "messages.view,org.view")
        .await;
    let r = app.get("/v1/_scopes", Some(&aliased)).await;
    assert_eq!(
        r.body["scopes"],
        serde_json::json!(["api.messages.view", "api.account.view"])
    );
    assert_eq!(app.get("/v1/messages", Some(&aliased)).await.status, 200);

    // Rotation: both keys work within the grace period.
    let id = key_id(&app, &key).await;
    let (_, new_key) = app.db.store.rotate_key(id, "tests").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await; // key cache TTL in tests
    assert_eq!(
        app.get("/v1/_scopes", Some(&key)).await.status,
        200,
        "old key within grace"
    );
    assert_eq!(app.get("/v1/_scopes", Some(&new_key)).await.status, 200);
    // Past the grace period the sweep revokes the old key and audits it.
    let expired = app
        .db
        .store
        .expire_rotation_grace(now_ms() + 24 * 3_600_000 + 1)
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_invalid_key(&app.get("/v1/_scopes", Some(&key)).await);
    assert_eq!(app.get("/v1/_scopes", Some(&new_key)).await.status, 200);
    let audit = app.db.store.audit_log(org.id, 100).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "api_key.grace_expired"));

    // Revocation is seen within the cache TTL.
    let new_id = key_id(&app, &new_key).await;
    app.db.store.revoke_key(new_id, "tests").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_invalid_key(&app.get("/v1/_scopes", Some(&new_key)).await);
    app.drop().await;
}

#[tokio::test]
async fn public_routes_headers_and_unknown_routes() {
    let app = TestApp::new("api_public").await;
    let r = app.get("/v1/_health", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
    assert!(parse_rfc3339_ms(r.body["time"].as_str().unwrap()).is_some());
    assert_rate_headers(&r);
    let r = app.get("/v1/openapi.json", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["openapi"], "3.1.0");
    for path in [
        "/v1/messages",
        "/v1/messages/{id}",
        "/v1/messages/{id}/events",
        "/v1/recipients/{email}/messages",
        "/v1/_scopes",
    ] {
        assert!(r.body["paths"][path].is_object(), "{path} documented");
    }
    let (_, key) = app.acme_org(A, Plan::Free).await;
    let r = app.get("/v1/nothing-here", Some(&key)).await;
    assert_problem(&r, 404, "not_found", "not_found");
    assert_rate_headers(&r);
    let r = app
        .request("POST", "/v1/messages", Some(&key), "127.0.0.1:1")
        .await;
    assert_eq!(r.status, 405);
    assert_rate_headers(&r);
    let r = app.get("/v1/messages?template=%zz", Some(&key)).await;
    assert_problem(&r, 400, "invalid_request", "invalid_request");
    app.drop().await;
}

#[tokio::test]
async fn rate_limits_per_org_and_environment_then_recovery() {
    let app = TestApp::new("api_rate").await;
    let org = app.org("acme", A, Plan::Pro).await;
    let live = app.key(&org, KeyEnv::Live, &[Scope::ReportsView]).await;
    let test = app.key(&org, KeyEnv::Test, &[Scope::ReportsView]).await;
    let test2 = app.key(&org, KeyEnv::Test, &[Scope::ReportsView]).await;

    let r = app.get("/v1/_scopes", Some(&live)).await;
    assert_eq!(r.header("x-ratelimit-limit"), Some("600"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("599"));
    // Test keys get 10 %: 60 per minute, shared by every test key of the org.
    for i in 0..60 {
        let k = if i % 2 == 0 { &test } else { &test2 };
        let r = app.get("/v1/_scopes", Some(k)).await;
        assert_eq!(r.status, 200, "request {i}");
        assert_eq!(r.header("x-ratelimit-limit"), Some("60"));
        assert_eq!(
            r.header("x-ratelimit-remaining")
                .unwrap()
                .parse::<u32>()
                .unwrap(),
            59 - i
        );
    }
    let r = app.get("/v1/_scopes", Some(&test2)).await;
    assert_problem(&r, 429, "rate_limit", "rate_limited");
    assert_rate_headers(&r);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(r.body["retry_after"], retry);
    assert_eq!(r.header("x-ratelimit-reset"), Some(&*retry.to_string()));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    // The live budget is separate.
    assert_eq!(app.get("/v1/_scopes", Some(&live)).await.status, 200);
    // Recovery after Retry-After.
    tokio::time::sleep(Duration::from_secs(retry) + Duration::from_millis(100)).await;
    assert_eq!(app.get("/v1/_scopes", Some(&test)).await.status, 200);
    app.drop().await;
}

#[tokio::test]
async fn ip_that_trips_the_auth_failure_limit_is_refused_even_with_a_valid_key() {
    let config = ApiConfig {
        auth_failures_per_minute: 3,
        key_cache_ttl: Duration::from_secs(1),
        ..ApiConfig::default()
    };
    let app = TestApp::with_config("api_ip", config).await;
    let org = app.org("acme", A, Plan::Pro).await;
    let key = app.key(&org, KeyEnv::Live, &[Scope::ReportsView]).await;
    let bad = "sk_live_".to_owned() + &"B".repeat(52);
    for _ in 0..3 {
        let r = app
            .request("GET", "/v1/_scopes", Some(&bad), "198.51.100.9:1234")
            .await;
        assert_eq!(r.status, 401);
        assert_eq!(r.header("x-ratelimit-limit"), Some("3"));
    }
    let r = app
        .request("GET", "/v1/_scopes", Some(&bad), "198.51.100.9:1234")
        .await;
    assert_problem(&r, 429, "rate_limit", "rate_limited");
    let r = app
        .request("GET", "/v1/_scopes", Some(&key), "198.51.100.9:5555")
        .await;
    assert_problem(&r, 429, "rate_limit", "rate_limited");
    assert!(r.header("retry-after").is_some());
    // Another IP is unaffected.
    assert_eq!(
        app.request("GET", "/v1/_scopes", Some(&key), "198.51.100.10:1")
            .await
            .status,
        200
    );
    app.drop().await;
}

/// What a message should look like, computed from the raw events (not from the store).
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    sent_ms: i64,
    channel: Option<String>,
    template: Option<String>,
    from: String,
    to: String,
    destination: Vec<String>,
    subject: Option<String>,
    /// None when no event of the message is one of the eight status types (docs/semantics.md#messages).
    status: Option<String>,
    last_event_at: String,
}

fn rank(t: &str) -> Option<i64> {
    Some(match t {
        "Send" => 0,
        "Delivery" | "DeliveryDelay" | "Bounce" | "Reject" => 1,
        "Complaint" => 2,
        "Open" => 3,
        "Click" => 4,
        _ => return None,
    })
}

fn event_ms(e: &Value) -> i64 {
    let key = payload_key(e["eventType"].as_str().unwrap());
    parse_rfc3339_ms(e[key]["timestamp"].as_str().unwrap()).unwrap()
}

fn oracle(events: &[Value]) -> HashMap<String, Expected> {
    let mut by_id: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in events {
        by_id
            .entry(e["mail"]["messageId"].as_str().unwrap().to_owned())
            .or_default()
            .push(e);
    }
    by_id
        .into_iter()
        .map(|(id, evs)| {
            let mail = &evs[0]["mail"];
            let tag = |name: &str| mail["tags"][name][0].as_str().map(str::to_owned);
            let template = tag("template").or_else(|| {
                evs.iter()
                    .find_map(|e| e["failure"]["templateName"].as_str().map(str::to_owned))
            });
            let status = evs
                .iter()
                .filter_map(|e| {
                    let t = e["eventType"].as_str().unwrap();
                    rank(t).map(|r| (event_ms(e), r, t.to_owned()))
                })
                .max_by_key(|(ms, r, _)| (*ms, *r))
                .map(|(_, _, t)| t);
            let last = evs.iter().map(|e| event_ms(e)).max().unwrap();
            (
                id,
                Expected {
                    sent_ms: parse_rfc3339_ms(mail["timestamp"].as_str().unwrap()).unwrap(),
                    channel: tag("ses:configuration-set"),
                    template,
                    from: mail["source"].as_str().unwrap().to_owned(),
                    to: mail["destination"][0].as_str().unwrap().to_owned(),
                    destination: mail["destination"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d.as_str().unwrap().to_owned())
                        .collect(),
                    subject: mail["commonHeaders"]["subject"].as_str().map(str::to_owned),
                    status,
                    last_event_at: format_ms(last),
                },
            )
        })
        .collect()
}

fn check_against_oracle(item: &Value, want: &Expected, unmasked: bool) {
    let id = item["id"].as_str().unwrap();
    let text = |field: &str| item[field].as_str().map(str::to_owned);
    assert_eq!(item["sent_at"], format_ms(want.sent_ms), "{id}");
    assert_eq!(text("channel"), want.channel, "{id}");
    assert_eq!(text("template"), want.template, "{id}");
    assert_eq!(item["from"], want.from, "{id}");
    assert_eq!(text("subject"), want.subject, "{id}");
    assert_eq!(text("status"), want.status, "{id}");
    assert!(
        item.get("status").is_some(),
        "{id}: status is always present"
    );
    assert_eq!(item["last_event_at"], want.last_event_at, "{id}");
    if unmasked {
        assert_eq!(item["to"], want.to, "{id}");
    } else {
        let (local, domain) = want.to.split_once('@').unwrap();
        assert_eq!(item["to"], format!("{}***@{domain}", &local[..1]), "{id}");
    }
}

async fn all_pages(app: &TestApp, first: &str, key: &str) -> Vec<Value> {
    let mut url = first.to_owned();
    let mut out = Vec::new();
    loop {
        let r = app.get(&url, Some(key)).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        out.extend(r.data().iter().cloned());
        match r.header("link") {
            Some(link) => {
                assert_eq!(r.body["pagination"]["has_more"], true);
                let next = link.trim_start_matches('<').split('>').next().unwrap();
                // Relative: the test config has neither a public URL nor allowed hosts.
                assert!(next.starts_with("/v1/"), "{link}");
                url = next.to_owned();
            }
            None => {
                assert_eq!(r.body["pagination"]["has_more"], false);
                assert!(r.body["pagination"]["next_cursor"].is_null());
                return out;
            }
        }
    }
}

#[tokio::test]
async fn message_list_detail_and_timeline_match_the_raw_events() {
    let app = TestApp::new("api_messages").await;
    let org = app.org("acme", A, Plan::Enterprise).await;
    let events = traffic(31, 150, 10, A);
    app.ingest(&events).await;
    let want = oracle(&events);
    let full = app.key(&org, KeyEnv::Live, ALL_SCOPES).await;
    let masked = app.key(&org, KeyEnv::Live, &[Scope::MessagesView]).await;

    let items = all_pages(&app, "/v1/messages?limit=17", &full).await;
    let in_window: Vec<&String> = want
        .iter()
        .filter(|(_, m)| m.sent_ms >= now_ms() - 30 * 86_400_000)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(items.len(), in_window.len());
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "no duplicates"
    );
    // Newest first by sent_at, ties by id descending.
    let keys: Vec<(i64, &str)> = ids.iter().map(|id| (want[*id].sent_ms, *id)).collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted);
    for item in &items {
        check_against_oracle(item, &want[item["id"].as_str().unwrap()], true);
    }
    // Masked without the unmask scope.
    let page = app.get("/v1/messages?limit=5", Some(&masked)).await;
    for item in page.data() {
        check_against_oracle(item, &want[item["id"].as_str().unwrap()], false);
    }

    // Filters compose with AND and match the oracle.
    let some = &want[ids[3]];
    let some_status = some.status.clone().unwrap_or_else(|| "Delivery".into());
    let channel_id =
        sendops_shared::control::org::channel_id(org.id, some.channel.as_deref().unwrap());
    let domain = sendops_shared::event::envelope::domain_of(
        sendops_shared::event::envelope::address_of(&some.from),
    );
    for (query, pred) in [
        (
            format!("status={some_status}"),
            Box::new(|m: &Expected| m.status.as_deref() == Some(some_status.as_str()))
                as Box<dyn Fn(&Expected) -> bool>,
        ),
        (
            format!("channel={channel_id}"),
            Box::new(|m: &Expected| m.channel == some.channel),
        ),
        (
            format!("identity=someone%40{domain}"),
            Box::new(|m: &Expected| m.from.to_lowercase().contains(&format!("@{domain}"))),
        ),
        (
            format!("identity={domain}&status=Delivery"),
            Box::new(|m: &Expected| {
                m.from.to_lowercase().contains(&format!("@{domain}"))
                    && m.status.as_deref() == Some("Delivery")
            }),
        ),
        (
            format!("recipient={}", some.to.replace('@', "%40")),
            Box::new(|m: &Expected| m.destination.contains(&some.to)),
        ),
    ] {
        let uri = format!("/v1/messages?limit=50&{query}");
        let got: HashSet<String> = ids_of(&all_pages(&app, &uri, &full).await);
        let expected: HashSet<String> = in_window
            .iter()
            .filter(|id| pred(&want[**id]))
            .map(|id| (*id).clone())
            .collect();
        assert!(!expected.is_empty(), "{query}");
        assert_eq!(got, expected, "{query}");
    }
    if let Some(t) = &some.template {
        let got = all_pages(&app, &format!("/v1/messages?template={t}"), &full).await;
        assert!(!got.is_empty() && got.iter().all(|i| i["template"] == *t));
        let upper = t.to_uppercase();
        if upper != *t {
            assert!(
                all_pages(&app, &format!("/v1/messages?template={upper}"), &full)
                    .await
                    .is_empty(),
                "exact match"
            );
        }
    }
    // recipient= needs the unmask scope.
    let uri = format!("/v1/messages?recipient={}", some.to.replace('@', "%40"));
    let r = app.get(&uri, Some(&masked)).await;
    assert_problem(&r, 403, "permission_denied", "invalid_scope");
    assert_eq!(r.body["scope"], "api.messages.unmask_recipients");

    // Detail and timeline.
    let r = app
        .get(&format!("/v1/messages/{}", ids[3]), Some(&full))
        .await;
    assert_eq!(r.status, 200);
    check_against_oracle(&r.body, some, true);
    let r = app
        .get(&format!("/v1/messages/{}/events", ids[3]), Some(&full))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let timeline = r.data();
    let expected_rows = events
        .iter()
        .filter(|e| e["mail"]["messageId"] == ids[3])
        .count();
    assert!(timeline.len() >= expected_rows);
    let times: Vec<i64> = timeline
        .iter()
        .map(|e| parse_rfc3339_ms(e["occurred_at"].as_str().unwrap()).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "ascending");
    // Rows stored twice (two consumers racing past the duplicate check, ingest/DESIGN.md) show
    // once: the timeline is unchanged.
    app.db
        .store
        .client()
        .query("INSERT INTO events SELECT * FROM events WHERE org_id = ? AND message_id = ?")
        .bind(org.id.to_string())
        .bind(ids[3])
        .execute()
        .await
        .unwrap();
    let again = app
        .get(&format!("/v1/messages/{}/events", ids[3]), Some(&full))
        .await;
    assert_eq!(again.body, r.body, "duplicated rows change the timeline");
    for e in timeline {
        let ty = e["type"].as_str().unwrap();
        let keys: HashSet<&str> = e["metadata"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let allowed: &[&str] = match ty {
            "Send" => {
                assert!(e.get("metadata").is_none(), "no metadata on Send");
                &[]
            }
            "Delivery" => &["smtp_response", "processing_time_ms"],
            "Bounce" => &["bounce_type", "bounce_sub_type", "smtp_response"],
            "Open" => &["ip_address", "user_agent"],
            "Click" => &["click_url", "ip_address", "user_agent"],
            "DeliveryDelay" => &["delay_type"],
            "Complaint" => &["complaint_feedback_type"],
            "Reject" => &["reject_reason"],
            "RenderingFailure" => &["template_name", "error_message"],
            "Subscription" => &["contact_list"],
            other => panic!("unexpected type {other}"),
        };
        assert!(keys.iter().all(|k| allowed.contains(k)), "{ty}: {keys:?}");
        assert!(e["recipient"].is_string());
    }
    // Recipient route: gated solely on the unmask scope.
    let only_unmask = app
        .key(&org, KeyEnv::Live, &[Scope::MessagesUnmaskRecipients])
        .await;
    let uri = format!("/v1/recipients/{}/messages", some.to.replace('@', "%40"));
    let r = app.get(&uri, Some(&only_unmask)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got: HashSet<&str> = r.strs("data", "id");
    let expected: HashSet<&str> = in_window
        .iter()
        .filter(|id| want[**id].destination.contains(&some.to))
        .map(|id| id.as_str())
        .collect();
    assert!(got.contains(ids[3]));
    assert_eq!(got, expected);
    let r = app
        .get(
            "/v1/recipients/nobody%40nowhere.example/messages",
            Some(&only_unmask),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.data().len()), (200, 0));
    assert_problem(
        &app.get("/v1/recipients/x%40y.z/messages", Some(&masked))
            .await,
        403,
        "permission_denied",
        "invalid_scope",
    );
    // Unknown id.
    for uri in [
        "/v1/messages/nope-000000",
        "/v1/messages/nope-000000/events",
    ] {
        assert_not_found(&app.get(uri, Some(&full)).await);
    }
    app.drop().await;
}

/// docs/semantics.md#messages: a message none of whose events is one of the eight status types has
/// `"status": null` in every message answer, and no `status=` filter matches it.
#[tokio::test]
async fn a_message_without_a_status_event_has_null_status() {
    let (app, _, key) = TestApp::acme("api_null_status", A, Plan::Pro).await;
    let at = |hours_ago: i64| format_ms(now_ms() - hours_ago * 3_600_000);
    let mail = |id: &str, hours_ago: i64| {
        serde_json::json!({
            "timestamp": at(hours_ago),
            "messageId": id,
            "source": "News <news@acme.example>",
            "sendingAccountId": A,
            "destination": ["reader@x.example"],
            "tags": {"ses:configuration-set": ["main"]},
        })
    };
    let events = vec![
        // Never sent: a rendering failure only.
        serde_json::json!({"eventType": "Rendering Failure", "mail": mail("m-rendering", 5),
            "failure": {"templateName": "welcome", "errorMessage": "missing {{name}}"}}),
        // Only a subscription event.
        serde_json::json!({"eventType": "Subscription", "mail": mail("m-subscription", 5),
            "subscription": {"timestamp": at(4), "contactList": "news"}}),
        // A later subscription event does not hide the status.
        serde_json::json!({"eventType": "Send", "mail": mail("m-sent", 6), "send": {}}),
        serde_json::json!({"eventType": "Subscription", "mail": mail("m-sent", 6),
            "subscription": {"timestamp": at(1), "contactList": "news"}}),
        serde_json::json!({"eventType": "Send", "mail": mail("m-delivered", 7), "send": {}}),
        serde_json::json!({"eventType": "Delivery", "mail": mail("m-delivered", 7),
            "delivery": {"timestamp": at(7), "recipients": ["reader@x.example"]}}),
        serde_json::json!({"eventType": "Subscription", "mail": mail("m-delivered", 7),
            "subscription": {"timestamp": at(1), "contactList": "news"}}),
    ];
    app.ingest(&events).await;
    let want: BTreeMap<&str, Value> = [
        ("m-rendering", Value::Null),
        ("m-subscription", Value::Null),
        ("m-sent", Value::from("Send")),
        ("m-delivered", Value::from("Delivery")),
    ]
    .into_iter()
    .collect();
    let statuses = |items: &[Value]| -> BTreeMap<String, Value> {
        items
            .iter()
            .map(|i| {
                let status = i.get("status").expect("status is always present").clone();
                (i["id"].as_str().unwrap().to_owned(), status)
            })
            .collect()
    };
    let expected: BTreeMap<String, Value> = want
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();

    let list = all_pages(&app, "/v1/messages?limit=3", &key).await;
    assert_eq!(statuses(&list), expected, "list");
    let by_recipient = all_pages(&app, "/v1/recipients/reader%40x.example/messages", &key).await;
    assert_eq!(statuses(&by_recipient), expected, "recipient route");
    for (id, status) in &want {
        let r = app.get(&format!("/v1/messages/{id}"), Some(&key)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body.get("status"), Some(status), "{id}");
    }
    // No status filter matches the two without a status.
    for status in "Send Delivery Bounce Complaint Reject Open Click DeliveryDelay".split(' ') {
        let uri = format!("/v1/messages?status={status}");
        let got: BTreeSet<String> = ids_of(&all_pages(&app, &uri, &key).await);
        let expected: BTreeSet<String> = want
            .iter()
            .filter(|(_, s)| s.as_str() == Some(status))
            .map(|(id, _)| (*id).to_owned())
            .collect();
        assert_eq!(got, expected, "status={status}");
    }
    // The served schema says so.
    let doc = app.get("/v1/openapi.json", None).await.body;
    let schema = &doc["components"]["schemas"]["Message"];
    let types = &schema["properties"]["status"]["type"];
    assert!(
        types.as_array().is_some_and(|t| t.contains(&Value::from("null"))
            && t.contains(&Value::from("string"))),
        "status must be a nullable string: {}",
        schema["properties"]["status"]
    );
    assert!(
        schema["required"]
            .as_array()
            .is_some_and(|r| r.contains(&Value::from("status"))),
        "status is always present: {schema}"
    );
    app.drop().await;
}

#[tokio::test]
async fn other_orgs_messages_are_404_everywhere() {
    let app = TestApp::new("api_isolation").await;
    let a = app.org("org-a", A, Plan::Pro).await;
    let _b = app.org("org-b", B, Plan::Pro).await;
    app.ingest(&traffic(41, 20, 3, A)).await;
    let b_events = traffic(42, 20, 3, B);
    app.ingest(&b_events).await;
    let key_a = app.key(&a, KeyEnv::Live, ALL_SCOPES).await;
    let b_ids: HashSet<String> = b_events
        .iter()
        .map(|e| e["mail"]["messageId"].as_str().unwrap().to_owned())
        .collect();
    let listed: Vec<String> = ids_of(&all_pages(&app, "/v1/messages?limit=200", &key_a).await);
    assert!(!listed.is_empty());
    assert!(listed.iter().all(|id| !b_ids.contains(id)));
    let b_event = &b_events[0];
    let id = b_event["mail"]["messageId"].as_str().unwrap();
    for uri in [
        format!("/v1/messages/{id}"),
        format!("/v1/messages/{id}/events"),
    ] {
        assert_not_found(&app.get(&uri, Some(&key_a)).await);
    }
    let to = b_event["mail"]["destination"][0]
        .as_str()
        .unwrap()
        .replace('@', "%40");
    for uri in [
        format!("/v1/recipients/{to}/messages"),
        format!("/v1/messages?recipient={to}"),
    ] {
        let found: Vec<String> = ids_of(app.get(&uri, Some(&key_a)).await.data());
        assert!(found.iter().all(|id| !b_ids.contains(id)), "{uri}");
    }
    app.drop().await;
}

#[tokio::test]
async fn paging_while_events_arrive_skips_and_repeats_nothing() {
    let (app, _, key) = TestApp::acme("api_paging_live", A, Plan::Pro).await;
    let initial = traffic(51, 120, 5, A);
    app.ingest(&initial[..initial.len() / 2]).await;
    let start: HashSet<String> = ids_of(&all_pages(&app, "/v1/messages?limit=200", &key).await);
    // Page through while the rest of the traffic (later events of the same messages and new
    // messages, newer and older) arrives between pages.
    let rest = &initial[initial.len() / 2..];
    let chunks: Vec<&[Value]> = rest.chunks(rest.len() / 6 + 1).collect();
    let mut seen: Vec<String> = Vec::new();
    let mut url = "/v1/messages?limit=9".to_owned();
    let mut i = 0;
    loop {
        let r = app.get(&url, Some(&key)).await;
        assert_eq!(r.status, 200);
        seen.extend(ids_of::<Vec<String>>(r.data()));
        if let Some(c) = chunks.get(i) {
            app.ingest(c).await;
        }
        i += 1;
        match r.header("link") {
            Some(link) => {
                url = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned()
            }
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a message appeared twice");
    for id in &start {
        assert!(
            unique.contains(id),
            "message {id} present at the start was skipped"
        );
    }
    app.drop().await;
}

#[tokio::test]
async fn every_invalid_value_is_a_422_naming_its_field() {
    let (app, _, key) = TestApp::acme("api_validation", A, Plan::Free).await;
    app.ingest(&traffic(61, 30, 3, A)).await;
    let page = app
        .get("/v1/messages?limit=2&status=Delivery", Some(&key))
        .await;
    let foreign = page.body["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = [
        ("/v1/messages?limit=0", "limit"),
        ("/v1/messages?limit=201", "limit"),
        ("/v1/messages?limit=ten", "limit"),
        ("/v1/messages?channel=not-a-uuid", "channel"),
        ("/v1/messages?status=Delivered", "status"),
        ("/v1/messages?from=yesterday", "from"),
        ("/v1/messages?to=2026-13-01T00:00:00Z", "to"),
        (
            "/v1/messages?from=2026-11-20T00:00:00Z&to=2026-11-19T00:00:00Z",
            "from",
        ),
        ("/v1/messages?cursor=garbage", "cursor"),
        ("/v1/messages?template=", "template"),
        ("/v1/recipients/not-an-email/messages", "email"),
        ("/v1/recipients/a%40b.c/messages?limit=-1", "limit"),
    ];
    for (url, field) in cases {
        let r = app.get(url, Some(&key)).await;
        assert_problem(&r, 422, "validation_failed", "validation_failed");
        let fields: Vec<&str> = r.strs("errors", "field");
        assert!(fields.contains(&field), "{url}: {fields:?}");
    }
    // A cursor from another filter set.
    let uri = format!("/v1/messages?limit=2&status=Bounce&cursor={foreign}");
    let r = app.get(&uri, Some(&key)).await;
    assert_problem(&r, 422, "validation_failed", "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "cursor");
    // Unknown parameters are ignored.
    assert_eq!(
        app.get("/v1/messages?colour=blue", Some(&key)).await.status,
        200
    );
    // Retention: a free plan keeps 30 days.
    let r = app
        .get("/v1/messages?from=2020-01-01T00:00:00Z", Some(&key))
        .await;
    assert_problem(&r, 403, "permission_denied", "plan_retention_exceeded");
    assert_eq!(r.body["retention_days"], 30);
    app.drop().await;
}

/// A setting that does not parse stops `sendops-api` before it serves, naming the variable.
#[test]
fn a_bad_setting_is_named_and_stops_the_server() {
    for (name, value) in [
        ("SENDOPS_REPORT_INDEX_MB", "0"),
        ("SENDOPS_REPORT_INDEX_MB", "lots"),
        ("SENDOPS_BREAKDOWN_INDEX_MB", "1048577"),
        ("SENDOPS_BREAKDOWN_INDEX_MB", "-1"),
        ("SENDOPS_UNDELIVERABLE_SETTLE_MS", "-1"),
        ("SENDOPS_REPORT_PREPARE_SECONDS", "3601"),
        ("SENDOPS_REPORT_PREPARE_SECONDS", "often"),
        ("SENDOPS_KEY_CACHE_SECONDS", "60"),
        ("SENDOPS_SHUTDOWN_GRACE_SECONDS", "601"),
        ("SENDOPS_SHUTDOWN_GRACE_SECONDS", "soon"),
        ("CLICKHOUSE_URL", "ftp://127.0.0.1:8123"),
        ("CLICKHOUSE_CA_FILE", "/nonexistent/ca.pem"),
        ("SENDOPS_LOG_FORMAT", "yaml"),
        ("SENDOPS_METRICS_ADDR", "9090"),
        ("SENDOPS_METRICS_ADDR", "localhost:metrics"),
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-api"))
            .env(name, value)
            .env("SENDOPS_API_ADDR", "127.0.0.1:0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A server that accepted the setting would serve forever: give it 10 s, then fail.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{name}={value} was accepted");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(name), "{name}={value}: {stderr}");
    }
}

/// SIGTERM (what ECS and Kubernetes send) stops `sendops-api` cleanly: it stops accepting, lets
/// open requests finish and exits 0.
#[test]
fn sigterm_stops_the_server_cleanly() {
    use std::io::{Read, Write};
    let port = sendops_testkit::process::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-api"))
        .env("SENDOPS_API_ADDR", format!("127.0.0.1:{port}"))
        .env("SENDOPS_REPORT_PREPARE_SECONDS", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let health = || -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.write_all(b"GET /v1/_health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while health().is_none_or(|r| !r.starts_with("HTTP/1.1 200")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    sendops_testkit::process::sigterm(child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("still running 10 s after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}
