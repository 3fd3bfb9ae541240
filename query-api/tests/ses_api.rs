//! The SES-backed and configuration endpoints against the real ClickHouse, with the real
//! `aws-sdk-sesv2` client talking to the fake SES v2 endpoint of `sendops-testkit`:
//! suppressions (NextToken pagination, the per-org cache window, cursors, filters, full-scan
//! mode, casing, outages and throttling), the account snapshot, and channels, identities,
//! templates and tracking domains (pages, lookups, 404s across orgs, scopes).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{ALL_SCOPES, Reply, TestApp};
use sendops_outbound::ses::SesAccess;
use sendops_outbound::ses_sync::sync_ses;
use sendops_outbound::templates_repo::sync_templates;
use sendops_outbound::tracking_verify::add_tracking_domain;
use sendops_query_api::config::ApiConfig;
use sendops_query_api::{AppState, router};
use sendops_shared::control::api_key::KeyEnv;
use sendops_shared::control::org::{Org, Plan, channel_id};
use sendops_shared::control::org_settings::ProductionAccessStatus;
use sendops_shared::control::scopes::Scope;
use sendops_shared::store::testing::TestDb;
use sendops_shared::timefmt::{DAY_MS, format_ms, now_ms};
use sendops_testkit::ses::{FakeAccount, FakeConfigurationSet, FakeIdentity, FakeSes, Mode};
use serde_json::{Value, json};

const A: &str = "111111111111";
const B: &str = "222222222222";
const HOUR_MS: i64 = 3_600_000;

/// A fake SES and an app reading it, caching its answers for `ses_cache_ttl`.
async fn ses_app(name: &str, ses_cache_ttl: Duration) -> (FakeSes, TestApp) {
    let fake = FakeSes::start().await;
    let app = app(name, &fake, ses_cache_ttl).await;
    (fake, app)
}

async fn app(name: &str, fake: &FakeSes, ses_cache_ttl: Duration) -> TestApp {
    let db = TestDb::new(name).await;
    let config = ApiConfig {
        key_cache_ttl: Duration::from_secs(1),
        ses_cache_ttl,
        ..ApiConfig::default()
    };
    let ses = SesAccess::with_endpoint(&fake.url(), "AKIDFAKE", "secret");
    let state = AppState::with_ses(db.store.clone(), config, ses);
    let app = router(state.clone());
    TestApp { db, state, app }
}

/// An org whose AWS account is connected (read role recorded).
async fn connected(app: &TestApp, slug: &str, account: &str) -> Org {
    let org = app.org(slug, account, Plan::Pro).await;
    app.db
        .store
        .connect_aws(
            org.id,
            &format!("arn:aws:iam::{account}:role/SendOpsRead"),
            "sendops-ext",
        )
        .await
        .unwrap();
    org
}

/// The connected org "acme" and a live key of it with every scope.
async fn connected_acme(app: &TestApp) -> (Org, String) {
    let org = connected(app, "acme", A).await;
    let key = app.key(&org, KeyEnv::Live, ALL_SCOPES).await;
    (org, key)
}

/// `GET path` with `key` is a problem (`status`, `code`) naming `expected` in its `field`.
async fn assert_refused(
    app: &TestApp,
    key: &str,
    path: &str,
    (status, code): (u16, &str),
    (field, expected): (&str, &str),
) {
    let r = app.get(path, Some(key)).await;
    assert_problem(&r, status, code);
    assert_eq!(r.body[field], expected, "{path}");
}

fn assert_problem(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.body["code"], code, "{}", r.body);
    assert_eq!(r.body["status"], status);
}

fn emails(r: &Reply) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.body))
        .iter()
        .map(|s| s["email"].as_str().unwrap().to_owned())
        .collect()
}

/// The path and query of a `Link: </v1/...>; rel="next"` header (relative: the tests set neither
/// SENDOPS_PUBLIC_URL nor SENDOPS_ALLOWED_HOSTS).
fn link_target(r: &Reply) -> String {
    let link = r.header("link").expect("Link header");
    let url = link
        .strip_prefix('<')
        .and_then(|l| l.split_once('>'))
        .map(|(u, rest)| {
            assert_eq!(rest, "; rel=\"next\"");
            u
        })
        .unwrap();
    assert!(url.starts_with("/v1/"), "{link}");
    url.to_owned()
}

#[tokio::test]
async fn suppressions_are_paged_newest_first_across_ses_pages() {
    let (fake, app) = ses_app("ses_suppr_pages", Duration::from_secs(60)).await;
    fake.set_max_page_size(2);
    let org = connected(&app, "acme", A).await;
    let key = app
        .key(&org, KeyEnv::Live, &[Scope::SuppressionsView])
        .await;
    let now = now_ms();
    // SES order is not time order.
    let entries = [
        ("carol@example.com", "BOUNCE", 5),
        ("Alice@Example.com", "COMPLAINT", 1),
        ("dave@other.org", "BOUNCE", 7),
        ("bob@example.com", "BOUNCE", 2),
        ("erin@example.com", "COMPLAINT", 3),
        ("frank@other.org", "BOUNCE", 4),
        ("gina@example.com", "BOUNCE", 6),
    ];
    for (email, reason, hours) in entries {
        fake.add_suppression(email, reason, now - hours * HOUR_MS);
    }
    fake.add_suppression("old@example.com", "BOUNCE", now - 40 * DAY_MS);

    let r = app.get("/v1/suppressions?limit=3", Some(&key)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        emails(&r),
        ["Alice@Example.com", "bob@example.com", "erin@example.com"]
    );
    assert_eq!(
        fake.requests("ListSuppressedDestinations"),
        4,
        "8 entries, 2 per SES page"
    );
    assert_eq!(r.body["pagination"]["has_more"], true);
    let first = &r.body["data"][0];
    assert_eq!(
        first,
        &json!({
            "email": "Alice@Example.com",
            "reason": "complaint",
            "suppressed_at": format_ms(now - HOUR_MS),
            "source": "ses_event",
        })
    );
    let cursor = r.body["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = link_target(&r);
    assert!(
        next.contains("limit=3") && next.contains(&format!("cursor={cursor}")),
        "{next}"
    );

    let r = app.get(&next, Some(&key)).await;
    assert_eq!(
        emails(&r),
        ["frank@other.org", "carol@example.com", "gina@example.com"]
    );
    let r = app.get(&link_target(&r), Some(&key)).await;
    assert_eq!(
        emails(&r),
        ["dave@other.org"],
        "the 40-day-old entry is outside the default window"
    );
    assert_eq!(
        r.body["pagination"],
        json!({"has_more": false, "next_cursor": null})
    );
    assert!(r.header("link").is_none());
    assert_eq!(
        fake.requests("ListSuppressedDestinations"),
        4,
        "pages come from the cache"
    );

    // Stale, malformed or foreign cursors restart at page 1.
    for c in ["not-a-cursor", "e30", &cursor] {
        let uri = format!("/v1/suppressions?limit=3&reason=bounce&cursor={c}");
        let r = app.get(&uri, Some(&key)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            emails(&r),
            ["bob@example.com", "frank@other.org", "carol@example.com"],
            "cursor {c}"
        );
    }

    // Reason: any case in, lower case out.
    let r = app
        .get("/v1/suppressions?reason=COMPLAINT", Some(&key))
        .await;
    assert_eq!(emails(&r), ["Alice@Example.com", "erin@example.com"]);
    assert!(r.data().iter().all(|s| s["reason"] == "complaint"));
    let r = app.get("/v1/suppressions?reason=spam", Some(&key)).await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "reason");
    let r = app.get("/v1/suppressions?limit=0", Some(&key)).await;
    assert_problem(&r, 422, "validation_failed");

    // Full-scan mode: every match, limit and cursor ignored.
    let r = app
        .get(
            "/v1/suppressions?email=EXAMPLE.COM&limit=0&cursor=junk",
            Some(&key),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        emails(&r),
        [
            "Alice@Example.com",
            "bob@example.com",
            "erin@example.com",
            "carol@example.com",
            "gina@example.com"
        ]
    );
    assert_eq!(
        r.body["pagination"],
        json!({"has_more": false, "next_cursor": null})
    );
    let r = app
        .get(
            "/v1/suppressions?email=example&reason=complaint&limit=1",
            Some(&key),
        )
        .await;
    assert_eq!(emails(&r), ["Alice@Example.com", "erin@example.com"]);

    // The window is on suppressed_at: explicit from reaches older entries (Pro keeps 90 days).
    let from = format_ms(now - 45 * DAY_MS);
    let to = format_ms(now - 4 * HOUR_MS - 1000);
    let r = app
        .get(&format!("/v1/suppressions?from={from}&to={to}"), Some(&key))
        .await;
    assert_eq!(
        emails(&r),
        [
            "carol@example.com",
            "gina@example.com",
            "dave@other.org",
            "old@example.com"
        ]
    );
    let r = app
        .get("/v1/suppressions?from=2020-01-01T00:00:00Z", Some(&key))
        .await;
    assert_problem(&r, 403, "plan_retention_exceeded");

    // Scope.
    let other = app.key(&org, KeyEnv::Live, &[Scope::MessagesView]).await;
    let r = app.get("/v1/suppressions", Some(&other)).await;
    assert_problem(&r, 403, "invalid_scope");
    let r = app
        .get("/v1/suppressions/bob%40example.com", Some(&other))
        .await;
    assert_problem(&r, 403, "invalid_scope");
    app.drop().await;
}

#[tokio::test]
async fn suppression_cache_holds_for_its_window_then_refreshes() {
    let (fake, app) = ses_app("ses_suppr_cache", Duration::from_secs(2)).await;
    let acme = connected(&app, "acme", A).await;
    let other = connected(&app, "other", B).await;
    let key = app.key(&acme, KeyEnv::Live, ALL_SCOPES).await;
    let other_key = app.key(&other, KeyEnv::Live, ALL_SCOPES).await;
    fake.add_suppression("a@example.com", "BOUNCE", now_ms() - HOUR_MS);

    assert_eq!(
        emails(&app.get("/v1/suppressions", Some(&key)).await),
        ["a@example.com"]
    );
    assert_eq!(fake.requests("ListSuppressedDestinations"), 1);
    fake.add_suppression("b@example.com", "BOUNCE", now_ms() - 10 * 60_000);
    let r = app.get("/v1/suppressions", Some(&key)).await;
    assert_eq!(
        emails(&r),
        ["a@example.com"],
        "within the window: the cached list"
    );
    let r = app
        .get("/v1/suppressions/A%40EXAMPLE.COM", Some(&key))
        .await;
    assert_eq!(r.body["email"], "a@example.com");
    assert_eq!(fake.requests("ListSuppressedDestinations"), 1);
    assert_eq!(
        fake.requests("GetSuppressedDestination"),
        0,
        "lookups use the cached list"
    );

    // The cache is per org.
    app.get("/v1/suppressions", Some(&other_key)).await;
    assert_eq!(fake.requests("ListSuppressedDestinations"), 2);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let r = app.get("/v1/suppressions", Some(&key)).await;
    assert_eq!(
        emails(&r),
        ["b@example.com", "a@example.com"],
        "after the window: SES again"
    );
    assert_eq!(fake.requests("ListSuppressedDestinations"), 3);
    app.drop().await;
}

#[tokio::test]
async fn suppression_lookup_is_case_insensitive_and_keeps_ses_casing() {
    let (fake, app) = ses_app("ses_suppr_lookup", Duration::from_secs(60)).await;
    let (_, key) = connected_acme(&app).await;
    let at = now_ms() - 3 * DAY_MS;
    fake.add_suppression("Bob.Smith@Example.com", "BOUNCE", at);
    fake.add_suppression("carol@example.com", "COMPLAINT", at);

    // Exact spelling: one GetSuppressedDestination, then cached.
    let r = app
        .get("/v1/suppressions/carol%40example.com", Some(&key))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"email": "carol@example.com", "reason": "complaint", "suppressed_at": format_ms(at), "source": "ses_event"})
    );
    app.get("/v1/suppressions/carol%40example.com", Some(&key))
        .await;
    assert_eq!(fake.requests("GetSuppressedDestination"), 1);
    assert_eq!(fake.requests("ListSuppressedDestinations"), 0);

    // Another spelling than SES stores: found through the list, with SES's casing.
    let r = app
        .get("/v1/suppressions/bob.smith%40EXAMPLE.com", Some(&key))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["email"], "Bob.Smith@Example.com");
    assert_eq!(fake.requests("ListSuppressedDestinations"), 1);
    // Absent: 404, from the cached list without asking SES.
    let r = app
        .get("/v1/suppressions/nobody%40example.com", Some(&key))
        .await;
    assert_problem(&r, 404, "not_found");
    assert_eq!(r.body["resource"], "suppression");
    assert_eq!(fake.requests("GetSuppressedDestination"), 2);
    assert_eq!(fake.requests("ListSuppressedDestinations"), 1);
    let r = app.get("/v1/suppressions/not-an-address", Some(&key)).await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "email");
    app.drop().await;
}

#[tokio::test]
async fn ses_failures_are_503_with_retry_after_never_500() {
    let (fake, app) = ses_app("ses_suppr_fail", Duration::from_secs(60)).await;
    let (_, key) = connected_acme(&app).await;
    fake.add_suppression("a@example.com", "BOUNCE", now_ms() - HOUR_MS);

    fake.set_mode(Mode::Outage);
    for path in ["/v1/suppressions", "/v1/suppressions/a%40example.com"] {
        let r = app.get(path, Some(&key)).await;
        assert_problem(&r, 503, "service_unavailable");
        assert_eq!(r.header("retry-after"), Some("10"), "{path}");
        assert_eq!(r.body["retry_after"], 10);
        assert!(
            r.body["type"]
                .as_str()
                .unwrap()
                .ends_with("/service_unavailable")
        );
        assert!(
            !r.body["detail"]
                .as_str()
                .unwrap()
                .contains("InternalFailure"),
            "no internals leak"
        );
    }
    fake.set_mode(Mode::Throttle);
    let r = app.get("/v1/suppressions", Some(&key)).await;
    assert_problem(&r, 503, "service_unavailable");
    assert_eq!(r.header("retry-after"), Some("5"));
    // Failures are not cached: SES answers again, so does the API.
    fake.set_mode(Mode::Normal);
    let r = app.get("/v1/suppressions", Some(&key)).await;
    assert_eq!(emails(&r), ["a@example.com"]);

    // An org without a connected AWS account has no suppression list to read.
    let lone = app.org("lone", B, Plan::Free).await;
    let lone_key = app.key(&lone, KeyEnv::Live, ALL_SCOPES).await;
    let r = app.get("/v1/suppressions", Some(&lone_key)).await;
    assert_problem(&r, 404, "not_found");
    assert_eq!(r.body["resource"], "aws_connection");

    // A deployment without SES access: 503 as well.
    let plain = TestApp::new("ses_disabled").await;
    let o = plain.org("acme", A, Plan::Pro).await;
    plain
        .db
        .store
        .connect_aws(o.id, &format!("arn:aws:iam::{A}:role/R"), "ext-id")
        .await
        .unwrap();
    let k = plain.key(&o, KeyEnv::Live, ALL_SCOPES).await;
    let r = plain.get("/v1/suppressions", Some(&k)).await;
    assert_problem(&r, 503, "service_unavailable");
    let r = plain.get("/v1/account", Some(&k)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["aws"], Value::Null);
    plain.drop().await;
    app.drop().await;
}

#[tokio::test]
async fn account_snapshot_composes_store_and_ses_and_degrades() {
    let (fake, app) = ses_app("ses_account", Duration::from_secs(60)).await;
    let store = &app.db.store;
    let acme = connected(&app, "acme", A).await;
    store
        .set_production_access(acme.id, ProductionAccessStatus::Granted, 1_779_044_400_000)
        .await
        .unwrap();
    store
        .set_cloudformation(acme.id, "sendops-acme", 1, "IN_SYNC")
        .await
        .unwrap();
    let key = app
        .key_from_list(acme.id, KeyEnv::Test, "k", "org.view")
        .await;
    let r = app.get("/v1/account", Some(&key)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    assert_eq!(
        r.body,
        json!({
            "org": {"id": acme.id, "name": "Org acme", "slug": "acme"},
            "aws": {"account_id": A, "region": "us-east-1", "sandbox": false},
            "send_quota": {"max_24_hour": 50000.0, "max_send_rate": 14.0, "sent_last_24_hours": 1234.0},
            "production_access": {"status": "granted", "granted_at": "2026-05-17T19:00:00Z"},
            "cloudformation": {"stack_name": "sendops-acme", "template_version": 1, "latest_version": 1,
                "up_to_date": true, "drift_status": "IN_SYNC"},
            "plan": {"tier": "pro", "retention_days": 90, "api_rate_limit_per_minute": 600},
        })
    );
    app.get("/v1/account", Some(&key)).await;
    assert_eq!(fake.requests("GetAccount"), 1, "cached per org");

    // SES fails: aws and send_quota are null, the rest renders, 200.
    let beta = connected(&app, "beta", B).await;
    let beta_key = app.key(&beta, KeyEnv::Live, ALL_SCOPES).await;
    fake.set_mode(Mode::Outage);
    let r = app.get("/v1/account", Some(&beta_key)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["aws"], Value::Null);
    assert_eq!(r.body["send_quota"], Value::Null);
    assert_eq!(r.body["org"]["slug"], "beta");
    assert_eq!(r.body["plan"]["tier"], "pro");
    assert_eq!(r.body["production_access"], Value::Null);
    assert_eq!(r.body["cloudformation"], Value::Null);
    let calls = fake.requests("GetAccount");
    fake.set_mode(Mode::Normal);
    fake.set_account(FakeAccount {
        production_access_enabled: false,
        ..FakeAccount::default()
    });
    let r = app.get("/v1/account", Some(&beta_key)).await;
    assert_eq!(
        r.body["aws"],
        Value::Null,
        "a failed snapshot is kept briefly"
    );
    assert_eq!(fake.requests("GetAccount"), calls);
    tokio::time::sleep(Duration::from_millis(5_200)).await;
    let r = app.get("/v1/account", Some(&beta_key)).await;
    assert_eq!(r.body["aws"]["sandbox"], true, "{}", r.body);
    assert_eq!(r.body["send_quota"]["max_24_hour"], 50000.0);
    // …while a good snapshot lasts the whole window.
    app.get("/v1/account", Some(&key)).await;
    assert_eq!(fake.requests("GetAccount"), calls + 1);

    // Not connected: no SES call, aws and send_quota null.
    let lone = app.org("lone", "333333333333", Plan::Free).await;
    let lone_key = app.key(&lone, KeyEnv::Live, ALL_SCOPES).await;
    let before = fake.total_requests();
    let r = app.get("/v1/account", Some(&lone_key)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["aws"], Value::Null);
    assert_eq!(r.body["send_quota"], Value::Null);
    assert_eq!(
        r.body["plan"],
        json!({"tier": "free", "retention_days": 30, "api_rate_limit_per_minute": 600})
    );
    assert_eq!(fake.total_requests(), before);

    let no_scope = app.key(&acme, KeyEnv::Live, &[Scope::ChannelsView]).await;
    let r = app.get("/v1/account", Some(&no_scope)).await;
    assert_problem(&r, 403, "invalid_scope");
    assert_eq!(r.body["scope"], "api.account.view");
    app.drop().await;
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_AUTHOR_DATE", "2026-03-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-03-01T12:00:00Z")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn names(r: &Reply, field: &str) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.body))
        .iter()
        .map(|v| v[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn configuration_entities_are_served_per_org() {
    let (fake, app) = ses_app("ses_entities", Duration::from_secs(60)).await;
    let store = &app.db.store;
    let acme = connected(&app, "acme", A).await;
    let rival = connected(&app, "rival", B).await;
    for name in ["alpha", "bravo", "charlie"] {
        fake.put_configuration_set(FakeConfigurationSet {
            name: name.into(),
            sending_enabled: true,
            custom_redirect_domain: (name == "alpha").then(|| "track.acme.com".into()),
            ..Default::default()
        });
    }
    fake.put_identity(FakeIdentity {
        name: "acme.com".into(),
        identity_type: "DOMAIN".into(),
        verification_status: "SUCCESS".into(),
        dkim_status: "SUCCESS".into(),
        dkim_tokens: vec!["tok1".into()],
        mail_from_domain: Some("bounce.acme.com".into()),
        configuration_set: Some("alpha".into()),
    });
    fake.put_identity(FakeIdentity {
        name: "Ops@Acme.com".into(),
        identity_type: "EMAIL_ADDRESS".into(),
        verification_status: "PENDING".into(),
        dkim_status: "NOT_STARTED".into(),
        ..Default::default()
    });
    let ses = SesAccess::with_endpoint(&fake.url(), "AKIDFAKE", "secret");
    let t0 = now_ms();
    sync_ses(store, &ses, &acme, t0).await.unwrap();
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("welcome.html"), "<p>hi</p>").unwrap();
    std::fs::write(
        repo.path().join("sendops.json"),
        r#"{"templates": [{"file": "welcome.html", "name": "Welcome", "subject": "Hello", "channel": "alpha"}]}"#,
    )
    .unwrap();
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "templates"]);
    let report = sync_templates(store, acme.id, "acme", repo.path(), None, t0)
        .await
        .unwrap();
    add_tracking_domain(
        store,
        &ses,
        &acme,
        "track.acme.com",
        "track.sendops.dev",
        t0,
    )
    .await
    .unwrap();
    let key = app.key(&acme, KeyEnv::Live, ALL_SCOPES).await;
    let rival_key = app.key(&rival, KeyEnv::Live, ALL_SCOPES).await;

    // Channels: pages with cursors and Link.
    let r = app.get("/v1/channels?limit=2", Some(&key)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        names(&r, "slug"),
        ["charlie", "bravo"],
        "newest first, then slug descending"
    );
    assert_eq!(r.body["pagination"]["has_more"], true);
    let r2 = app.get(&link_target(&r), Some(&key)).await;
    assert_eq!(names(&r2, "slug"), ["alpha"]);
    assert_eq!(
        r2.body["pagination"],
        json!({"has_more": false, "next_cursor": null})
    );
    let alpha = &r2.body["data"][0];
    assert_eq!(
        alpha,
        &json!({
            "id": channel_id(acme.id, "alpha"),
            "name": "alpha",
            "slug": "alpha",
            "status": "active",
            "tracking_domain": "track.acme.com",
            "suppression_policy": ["BOUNCE", "COMPLAINT"],
            "identities": ["acme.com"],
            "created_at": format_ms(t0),
        })
    );
    let r = app.get("/v1/channels/alpha", Some(&key)).await;
    assert_eq!(&r.body, alpha);
    let r = app.get("/v1/channels/nope", Some(&key)).await;
    assert_problem(&r, 404, "not_found");
    assert_eq!(r.body["resource"], "channel");
    for bad in ["garbage", "e30"] {
        let r = app
            .get(&format!("/v1/channels?cursor={bad}"), Some(&key))
            .await;
        assert_problem(&r, 422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "cursor");
    }
    let r = app.get("/v1/channels?limit=201", Some(&key)).await;
    assert_problem(&r, 422, "validation_failed");

    // Identities: case-insensitive lookup, SES spelling kept.
    let r = app.get("/v1/identities?limit=1", Some(&key)).await;
    assert_eq!(r.body["pagination"]["has_more"], true);
    let identities_cursor = r.body["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = format!("/v1/channels?cursor={identities_cursor}");
    let r = app.get(&uri, Some(&key)).await;
    assert_problem(&r, 422, "validation_failed");
    let r = app.get("/v1/identities/OPS%40ACME.COM", Some(&key)).await;
    assert_eq!(
        r.body,
        json!({
            "identity": "Ops@Acme.com",
            "type": "email",
            "verification_status": "pending",
            "dkim_status": "pending",
            "mail_from_domain": null,
            "created_at": format_ms(t0),
        })
    );
    let r = app.get("/v1/identities/Acme.Com", Some(&key)).await;
    assert_eq!(r.body["type"], "domain");
    assert_eq!(r.body["verification_status"], "verified");
    assert_eq!(r.body["mail_from_domain"], "bounce.acme.com");

    // Templates.
    let r = app.get("/v1/templates", Some(&key)).await;
    assert_eq!(
        r.body["data"],
        json!([{
            "slug": "welcome.html",
            "name": "Welcome",
            "subject": "Hello",
            "channel": "alpha",
            "version": report.version,
            "last_modified_at": "2026-03-01T12:00:00Z",
            "source": "git",
        }])
    );
    assert_eq!(
        app.get("/v1/templates/welcome.html", Some(&key)).await.body["slug"],
        "welcome.html"
    );
    let r = app.get("/v1/templates/Welcome.html", Some(&key)).await;
    assert_problem(&r, 404, "not_found");

    // Tracking domains.
    let r = app
        .get("/v1/tracking-domains/TRACK.Acme.com", Some(&key))
        .await;
    assert_eq!(
        r.body,
        json!({
            "domain": "track.acme.com",
            "status": "pending",
            "ssl_status": "pending",
            "dns_records": [
                {"type": "CNAME", "name": "track.acme.com", "value": "track.sendops.dev"},
                {"type": "CNAME", "name": "tok1._domainkey.acme.com", "value": "tok1.dkim.amazonses.com"},
            ],
            "created_at": format_ms(t0),
            "verified_at": null,
        })
    );
    assert_eq!(
        names(&app.get("/v1/tracking-domains", Some(&key)).await, "domain"),
        ["track.acme.com"]
    );

    // Another org: empty lists, 404 for every entity of acme.
    for list in [
        "/v1/channels",
        "/v1/identities",
        "/v1/templates",
        "/v1/tracking-domains",
    ] {
        let r = app.get(list, Some(&rival_key)).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["data"], json!([]), "{list}");
    }
    for (path, resource) in [
        ("/v1/channels/alpha", "channel"),
        ("/v1/identities/acme.com", "identity"),
        ("/v1/templates/welcome.html", "template"),
        ("/v1/tracking-domains/track.acme.com", "tracking_domain"),
    ] {
        assert_refused(
            &app,
            &rival_key,
            path,
            (404, "not_found"),
            ("resource", resource),
        )
        .await;
    }

    // Each route needs its own scope (aliases work).
    let channels_only = app
        .key_from_list(acme.id, KeyEnv::Live, "c", "channels.view")
        .await;
    assert_eq!(
        app.get("/v1/channels", Some(&channels_only)).await.status,
        200
    );
    for (path, scope) in [
        ("/v1/identities", "api.identities.view"),
        ("/v1/identities/acme.com", "api.identities.view"),
        ("/v1/templates", "api.templates.view"),
        ("/v1/templates/welcome.html", "api.templates.view"),
        ("/v1/tracking-domains", "api.tracking.view"),
        ("/v1/tracking-domains/track.acme.com", "api.tracking.view"),
        ("/v1/suppressions", "api.suppressions.view"),
        ("/v1/account", "api.account.view"),
    ] {
        let refused = (403, "invalid_scope");
        assert_refused(&app, &channels_only, path, refused, ("scope", scope)).await;
    }

    // Documented.
    let doc = app.get("/v1/openapi.json", None).await.body;
    for path in [
        "/v1/suppressions",
        "/v1/suppressions/{email}",
        "/v1/account",
        "/v1/channels",
        "/v1/channels/{name}",
        "/v1/identities",
        "/v1/identities/{identity}",
        "/v1/templates",
        "/v1/templates/{slug}",
        "/v1/tracking-domains",
        "/v1/tracking-domains/{domain}",
    ] {
        assert!(
            doc["paths"][path]["get"]["responses"]["200"].is_object(),
            "{path}"
        );
        assert!(
            doc["paths"][path]["get"]["responses"]["503"].is_object(),
            "{path}"
        );
    }
    app.drop().await;
}
