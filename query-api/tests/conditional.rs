//! Conditional polling: strong ETags on reports and lists, If-None-Match → 304 without a body
//! (with the rate-limit headers), and a new ETag with the new numbers once the answer changes.

mod common;

use chrono::{TimeZone, Utc};
use common::TestApp;
use sendops_shared::control::org::Plan;
use sendops_shared::timefmt::{DAY_MS, format_ms, now_ms};
use serde_json::{Value, json};

const A: &str = "777777777777";

fn delivered(id: &str, recipient: &str, ms: i64) -> Vec<Value> {
    let ts = Utc
        .timestamp_millis_opt(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mail = json!({"timestamp": ts, "messageId": id, "source": "ops@acme.example",
        "sendingAccountId": A, "destination": [recipient],
        "tags": {"ses:configuration-set": ["blue"]}});
    vec![
        json!({"eventType": "Send", "mail": mail, "send": {}}),
        json!({"eventType": "Delivery", "mail": mail,
            "delivery": {"timestamp": ts, "recipients": [recipient]}}),
    ]
}

fn header<'a>(h: &'a axum::http::HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn a_report_is_304_until_a_new_event_changes_it() {
    let (app, _, key) = TestApp::acme("conditional_report", A, Plan::Enterprise).await;
    let day = (now_ms() / DAY_MS - 3) * DAY_MS;
    app.ingest(&delivered("m-1", "a@x.example", day + 3_600_000))
        .await;
    let uri = format!(
        "/v1/reports/deliverability?from={}&to={}",
        format_ms(day),
        format_ms(day + DAY_MS)
    );

    let (status, h, body) = app.get_with(&uri, &key, &[]).await;
    assert_eq!(status, 200);
    let first: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(first["data"][0]["sent"], 1);
    let tag = header(&h, "etag").to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "strong: {tag}");
    assert_eq!(header(&h, "cache-control"), "no-cache");

    // The same request with the tag: 304, no body, the rate-limit headers and the tag.
    let (status, h, body) = app.get_with(&uri, &key, &[("if-none-match", &tag)]).await;
    assert_eq!(status, 304);
    assert!(body.is_empty(), "a 304 has no body");
    assert_eq!(header(&h, "etag"), tag);
    assert_eq!(header(&h, "cache-control"), "no-cache");
    for name in [
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        header(&h, name);
    }
    // Another tag, or a different question, is answered in full.
    let (status, _, _) = app
        .get_with(&uri, &key, &[("if-none-match", "\"other\"")])
        .await;
    assert_eq!(status, 200);
    let (status, h, _) = app
        .get_with(
            &format!("{uri}&group_by=week"),
            &key,
            &[("if-none-match", &tag)],
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(header(&h, "etag"), tag, "a week bucket starts elsewhere");

    // A late event in the window changes the answer, so the tag changes and the new numbers come.
    app.ingest(&delivered("m-2", "b@x.example", day + 7_200_000))
        .await;
    let (status, h, body) = app.get_with(&uri, &key, &[("if-none-match", &tag)]).await;
    assert_eq!(status, 200);
    let second: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(second["data"][0]["sent"], 2);
    assert_eq!(second["data"][0]["delivered"], 2);
    let new_tag = header(&h, "etag").to_owned();
    assert_ne!(new_tag, tag);
    let (status, _, body) = app
        .get_with(&uri, &key, &[("if-none-match", &new_tag)])
        .await;
    assert_eq!((status.as_u16(), body.len()), (304, 0));
    app.drop().await;
}

#[tokio::test]
async fn lists_and_undeliverable_are_conditional_too() {
    let (app, _, key) = TestApp::acme("conditional_lists", A, Plan::Enterprise).await;
    let now = now_ms();
    app.ingest(&delivered("m-1", "a@x.example", now - 3_600_000))
        .await;
    for uri in [
        "/v1/messages?limit=1",
        "/v1/undeliverable",
        "/v1/undeliverable?since=2020-01-01T00:00:00Z",
        "/v1/channels",
        "/v1/reports/engagement",
        "/v1/reports/template-performance",
    ] {
        let (status, h, _) = app.get_with(uri, &key, &[]).await;
        assert_eq!(status, 200, "{uri}");
        let tag = header(&h, "etag").to_owned();
        let (status, h2, body) = app.get_with(uri, &key, &[("if-none-match", &tag)]).await;
        assert_eq!(status, 304, "{uri}");
        assert!(body.is_empty(), "{uri}");
        assert_eq!(header(&h2, "etag"), tag, "{uri}");
        if uri.starts_with("/v1/undeliverable") {
            assert_eq!(
                header(&h2, "x-sendops-rules-version"),
                header(&h, "x-sendops-rules-version")
            );
        }
    }
    // A new message changes the first page of the list.
    let (_, h, _) = app.get_with("/v1/messages?limit=1", &key, &[]).await;
    let tag = header(&h, "etag").to_owned();
    app.ingest(&delivered("m-2", "b@x.example", now - 1_800_000))
        .await;
    let (status, h, body) = app
        .get_with("/v1/messages?limit=1", &key, &[("if-none-match", &tag)])
        .await;
    assert_eq!(status, 200);
    assert_ne!(header(&h, "etag"), tag);
    let page: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(page["data"][0]["id"], "m-2");
    app.drop().await;
}
