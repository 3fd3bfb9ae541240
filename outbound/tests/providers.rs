//! Mailbox-provider resolution against the fake resolver and the real ClickHouse: MX answers
//! classified by host, NXDOMAIN and no MX as `none`, a timeout and SERVFAIL recorded as failures
//! that keep the previous answer, truncated UDP answers asked again over TCP, consumer domains
//! never asked, fresh answers not asked again, and a domain whose MX changes re-classified.

use std::time::Duration;

use sendops_outbound::dns::{MxLookup, Resolver};
use sendops_outbound::providers::{RefreshOptions, Refreshed, refresh};
use sendops_shared::store::testing::TestDb;
use sendops_testkit::dns::{Answer, FakeDns};
use uuid::Uuid;

fn quick(dns: &FakeDns) -> Resolver {
    Resolver {
        timeout: Duration::from_millis(300),
        attempts: 1,
        ..Resolver::new(dns.addr())
    }
}

/// Today's events of one org to these recipients.
async fn seen(db: &TestDb, org: Uuid, recipients: &[&str]) {
    let now = sendops_shared::timefmt::now_ms();
    for r in recipients {
        db.store
            .client()
            .query(
                "INSERT INTO events (org_id, day, event_id, occurred_ms, event_type, recipient) \
                 VALUES (?, toDate(?), ?, ?, 'Send', ?)",
            )
            .bind(org.to_string())
            .bind(sendops_shared::timefmt::format_ms(now)[..10].to_owned())
            .bind(Uuid::new_v4().to_string())
            .bind(now)
            .bind(*r)
            .execute()
            .await
            .unwrap();
    }
}

async fn providers(db: &TestDb, domains: &[&str]) -> Vec<String> {
    let list: Vec<String> = domains.iter().map(|d| (*d).to_owned()).collect();
    let map = db.store.mailbox_providers(&list).await.unwrap();
    list.iter().map(|d| map[d].clone()).collect()
}

#[tokio::test]
async fn mx_answers_become_providers_and_history_follows_a_change() {
    let db = TestDb::new("providers_refresh").await;
    let dns = FakeDns::start().await;
    dns.mx(
        "corp.example",
        &[
            (20, "alt1.aspmx.l.google.com."),
            (10, "aspmx.l.google.com."),
        ],
    );
    dns.mx(
        "ms.example",
        &[(0, "ms-example.mail.protection.outlook.com")],
    );
    dns.mx("own.example", &[(10, "mx.own.example")]);
    dns.set("nomx.example", Answer::NoData);
    dns.set("slow.example", Answer::Silent);
    dns.set("broken.example", Answer::ServFail);
    // gone.example is unknown to the fake: NXDOMAIN.
    let org = Uuid::new_v4();
    let other_org = Uuid::new_v4();
    seen(
        &db,
        org,
        &[
            "a@corp.example",
            "\"B\" <b@MS.example>",
            "c@own.example",
            "d@nomx.example",
            "e@gone.example",
            "f@slow.example",
            "g@broken.example",
            "h@gmail.com",
        ],
    )
    .await;
    seen(&db, other_org, &["x@elsewhere.example"]).await;
    let r = quick(&dns);
    assert_eq!(
        r.mx("corp.example").await.unwrap(),
        MxLookup::Found(vec![
            "aspmx.l.google.com".into(),
            "alt1.aspmx.l.google.com".into()
        ])
    );

    let opts = RefreshOptions {
        org: Some(org),
        ..RefreshOptions::default()
    };
    let mut lines = Vec::new();
    let done = refresh(&db.store, &r, &opts, |row| lines.push(row.domain.clone()))
        .await
        .unwrap();
    assert_eq!(
        done,
        Refreshed {
            asked: 7,
            resolved: 3,
            no_mx: 2,
            failed: 2
        },
        "{lines:?}"
    );
    assert!(
        !lines.contains(&"gmail.com".to_owned()),
        "consumer domains are never asked"
    );
    assert!(
        !lines.contains(&"elsewhere.example".to_owned()),
        "only the org's domains"
    );
    assert_eq!(
        providers(
            &db,
            &[
                "corp.example",
                "ms.example",
                "own.example",
                "nomx.example",
                "gone.example",
                "slow.example",
                "broken.example",
                "gmail.com",
                "never.example"
            ]
        )
        .await,
        [
            "google",
            "microsoft",
            "other",
            "none",
            "none",
            "other",
            "other",
            "google",
            "other"
        ]
    );

    // Fresh answers are not asked again; failures are retried after `retry_failed_after` only.
    let again = refresh(&db.store, &r, &opts, |_| {}).await.unwrap();
    assert_eq!(again.asked, 0);
    let retry = RefreshOptions {
        retry_failed_after: Duration::ZERO,
        ..opts.clone()
    };
    dns.mx("slow.example", &[(10, "mx1.slow-example.mimecast.com")]);
    let retried = refresh(&db.store, &r, &retry, |_| {}).await.unwrap();
    assert_eq!((retried.asked, retried.resolved, retried.failed), (2, 1, 1));
    assert_eq!(providers(&db, &["slow.example"]).await, ["mimecast"]);

    // corp.example moves to Microsoft: an answer older than the refresh age is asked again and
    // the domain is re-classified; a later failure keeps that answer.
    dns.mx(
        "corp.example",
        &[(0, "corp-example.mail.protection.outlook.com")],
    );
    let all = RefreshOptions {
        refresh_age: Duration::ZERO,
        retry_failed_after: Duration::ZERO,
        ..opts.clone()
    };
    refresh(&db.store, &r, &all, |_| {}).await.unwrap();
    assert_eq!(providers(&db, &["corp.example"]).await, ["microsoft"]);
    dns.set("corp.example", Answer::ServFail);
    refresh(&db.store, &r, &all, |_| {}).await.unwrap();
    assert_eq!(providers(&db, &["corp.example"]).await, ["microsoft"]);

    // Truncated UDP answers are asked again over TCP.
    dns.mx("corp.example", &[(5, "mx.zoho.eu")]);
    dns.truncate_udp(true);
    let tcp_before = dns.tcp_queries();
    refresh(&db.store, &r, &all, |_| {}).await.unwrap();
    assert!(dns.tcp_queries() > tcp_before);
    assert_eq!(providers(&db, &["corp.example"]).await, ["zoho"]);
    db.drop().await;
}
