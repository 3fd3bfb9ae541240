//! SES sync, template sync and tracking domains on the real ClickHouse, with the real
//! `aws-sdk-sesv2` client talking to the fake SES v2 endpoint of `sendops-testkit`, a real git
//! repository made with the `git` CLI, and a fake DNS resolver over UDP.
//!
//! `cargo test -p sendops-shared --features testing,ses --test ses_views`

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use sendops_outbound::dns::Resolver;
use sendops_outbound::ses::{SesAccess, SesError, SesTarget};
use sendops_outbound::ses_sync::{SyncError, sync_ses};
use sendops_outbound::templates_repo::{TemplateError, sync_templates};
use sendops_outbound::tracking_verify::{
    TrackingError, add_tracking_domain, verify_tracking_domain,
};
use sendops_shared::Store;
use sendops_shared::control::entities::{Channel, Identity};
use sendops_shared::control::org::NewOrg;
use sendops_shared::control::org::{Org, Plan, channel_id};
use sendops_shared::store::testing::TestDb;
use sendops_shared::timefmt::now_ms;
use sendops_testkit::dns::{Answer, FakeDns};
use sendops_testkit::ses::{FakeConfigurationSet, FakeIdentity, FakeSes, Mode};
use uuid::Uuid;

const TARGET: &str = "track.sendops.test";

/// The org's stored channel `slug`, if any.
async fn channel_of(store: &Store, org: Uuid, slug: &str) -> Option<Channel> {
    store.channel(org, slug).await.unwrap()
}

/// The org's stored identity `name` (any case), if any.
async fn identity_of(store: &Store, org: Uuid, name: &str) -> Option<Identity> {
    store.identity(org, name).await.unwrap()
}

async fn org(store: &Store, slug: &str, account: &str, region: &str) -> Org {
    store
        .create_org(NewOrg {
            name: format!("Org {slug}"),
            slug: slug.into(),
            aws_account_id: account.into(),
            region: region.into(),
            plan: Plan::Pro,
        })
        .await
        .unwrap()
}

async fn connected(store: &Store, slug: &str, account: &str) -> Org {
    let o = org(store, slug, account, "eu-west-1").await;
    store
        .connect_aws(
            o.id,
            &format!("arn:aws:iam::{account}:role/SendOpsRead"),
            "sendops-external-id",
        )
        .await
        .unwrap();
    o
}

fn access(fake: &FakeSes) -> SesAccess {
    SesAccess::with_endpoint(&fake.url(), "AKIDFAKE", "secret")
}

fn set(name: &str) -> FakeConfigurationSet {
    FakeConfigurationSet {
        name: name.into(),
        sending_enabled: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn ses_sync_mirrors_configuration_sets_and_identities() {
    let db = TestDb::new("ses_sync").await;
    let store = &db.store;
    let fake = FakeSes::start().await;
    fake.set_max_page_size(1); // every list needs NextToken pagination
    fake.put_configuration_set(FakeConfigurationSet {
        custom_redirect_domain: Some("Track.Acme.com".into()),
        suppressed_reasons: Some(vec!["BOUNCE".into()]),
        tags: vec![("Name".into(), "Transactional mail".into())],
        ..set("transactional")
    });
    fake.put_configuration_set(FakeConfigurationSet {
        sending_enabled: false,
        ..set("marketing")
    });
    fake.put_identity(FakeIdentity {
        mail_from_domain: Some("mail.acme.com".into()),
        ..FakeIdentity::new("acme.com", "DOMAIN", "SUCCESS", Some("transactional"))
    });
    fake.put_identity(FakeIdentity::new(
        "Ops@Acme.com",
        "EMAIL_ADDRESS",
        "PENDING",
        Some("marketing"),
    ));
    fake.put_identity(FakeIdentity::new(
        "billing@acme.com",
        "EMAIL_ADDRESS",
        "SUCCESS",
        Some("transactional"),
    ));
    fake.put_identity(FakeIdentity::new("news.acme.com", "DOMAIN", "FAILED", None));
    let ses = access(&fake);
    let acme = connected(store, "acme", "111111111111").await;
    let other = connected(store, "other", "222222222222").await;

    let t0 = now_ms();
    let r = sync_ses(store, &ses, &acme, t0).await.unwrap();
    assert_eq!(r.channels.added, ["marketing", "transactional"]);
    assert_eq!(r.identities.added.len(), 4);
    assert_eq!(
        fake.requests("ListConfigurationSets"),
        2,
        "two pages of one"
    );
    assert_eq!(fake.requests("ListEmailIdentities"), 4, "four pages of one");
    assert_eq!(fake.requests("GetConfigurationSet"), 2);
    assert_eq!(fake.requests("GetEmailIdentity"), 4);
    assert!(
        fake.credential_scopes()
            .iter()
            .all(|s| s.starts_with("AKIDFAKE/") && s.ends_with("/eu-west-1/ses/aws4_request")),
        "signed for the org's region: {:?}",
        fake.credential_scopes()
    );

    let tx = channel_of(store, acme.id, "transactional").await.unwrap();
    assert_eq!(tx.id, channel_id(acme.id, "transactional"));
    assert_eq!(tx.name, "Transactional mail");
    assert_eq!(tx.status(), "active");
    assert_eq!(tx.tracking_domain.as_deref(), Some("track.acme.com"));
    assert_eq!(tx.suppression_policy, ["BOUNCE"]);
    assert_eq!(tx.identities, ["acme.com", "billing@acme.com"]);
    assert_eq!(tx.created_ms, t0);
    let mk = channel_of(store, acme.id, "marketing").await.unwrap();
    assert_eq!(mk.name, "marketing");
    assert_eq!(mk.status(), "paused");
    assert_eq!(
        mk.suppression_policy,
        ["BOUNCE", "COMPLAINT"],
        "no SuppressionOptions: the account-level list applies"
    );
    assert_eq!(mk.identities, ["Ops@Acme.com"]);
    let ops = identity_of(store, acme.id, "ops@ACME.com").await.unwrap();
    assert_eq!(ops.name, "Ops@Acme.com");
    assert_eq!((ops.kind(), ops.status().as_str()), ("email", "pending"));
    let domain = identity_of(store, acme.id, "acme.com").await.unwrap();
    assert_eq!(domain.mail_from_domain.as_deref(), Some("mail.acme.com"));
    assert_eq!(
        (domain.kind(), domain.status().as_str()),
        ("domain", "verified")
    );

    // Idempotent: nothing changed in SES, nothing is written, creation times stay.
    let r = sync_ses(store, &ses, &acme, t0 + 1_000).await.unwrap();
    assert!(!r.channels.changed() && !r.identities.changed(), "{r:?}");
    assert_eq!((r.channels.unchanged, r.identities.unchanged), (2, 4));
    let before = store.channels(acme.id, None, 10).await.unwrap();
    assert_eq!(before.len(), 2);

    // A removed configuration set disappears; a changed one keeps its creation time.
    fake.remove_configuration_set("marketing");
    fake.remove_identity("news.acme.com");
    fake.put_configuration_set(FakeConfigurationSet {
        custom_redirect_domain: Some("links.acme.com".into()),
        suppressed_reasons: Some(vec!["BOUNCE".into()]),
        tags: vec![("Name".into(), "Transactional mail".into())],
        ..set("transactional")
    });
    let r = sync_ses(store, &ses, &acme, t0 + 2_000).await.unwrap();
    assert_eq!(r.channels.removed, ["marketing"]);
    assert_eq!(r.channels.updated, ["transactional"]);
    assert_eq!(r.identities.removed, ["news.acme.com"]);
    assert!(channel_of(store, acme.id, "marketing").await.is_none());
    assert!(identity_of(store, acme.id, "news.acme.com").await.is_none());
    let tx = channel_of(store, acme.id, "transactional").await.unwrap();
    assert_eq!(tx.tracking_domain.as_deref(), Some("links.acme.com"));
    assert_eq!(tx.created_ms, t0, "creation time kept across updates");
    let ops = identity_of(store, acme.id, "Ops@Acme.com").await.unwrap();
    assert_eq!(ops.configuration_set.as_deref(), Some("marketing"));
    assert_eq!(store.channels(acme.id, None, 10).await.unwrap().len(), 1);

    // Re-created: back, as new.
    fake.put_configuration_set(set("marketing"));
    let r = sync_ses(store, &ses, &acme, t0 + 3_000).await.unwrap();
    assert_eq!(r.channels.added, ["marketing"]);
    let mk = channel_of(store, acme.id, "marketing").await.unwrap();
    assert_eq!(mk.created_ms, t0 + 3_000);
    let page = store.channels(acme.id, None, 10).await.unwrap();
    let slugs: Vec<&str> = page.iter().map(|c| c.slug.as_str()).collect();
    assert_eq!(slugs, ["marketing", "transactional"], "newest first");

    // Other orgs see none of it.
    assert!(store.channels(other.id, None, 10).await.unwrap().is_empty());
    assert!(channel_of(store, other.id, "transactional").await.is_none());
    assert!(identity_of(store, other.id, "acme.com").await.is_none());
    db.drop().await;
}

#[tokio::test]
async fn ses_sync_needs_a_connection_and_writes_nothing_when_ses_fails() {
    let db = TestDb::new("ses_sync_fail").await;
    let store = &db.store;
    let fake = FakeSes::start().await;
    fake.put_configuration_set(set("transactional"));
    let ses = access(&fake);
    let lone = org(store, "lone", "333333333333", "us-east-1").await;
    match sync_ses(store, &ses, &lone, now_ms()).await {
        Err(SyncError::Ses(SesError::NotConnected { org })) => assert_eq!(org, "lone"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.total_requests(), 0, "no SES call without a connection");

    let acme = connected(store, "acme", "111111111111").await;
    fake.set_mode(Mode::Outage);
    assert!(matches!(
        sync_ses(store, &ses, &acme, now_ms()).await,
        Err(SyncError::Ses(SesError::Failed { .. }))
    ));
    fake.set_mode(Mode::Throttle);
    assert!(matches!(
        sync_ses(store, &ses, &acme, now_ms()).await,
        Err(SyncError::Ses(SesError::Throttled { .. }))
    ));
    assert!(store.channels(acme.id, None, 10).await.unwrap().is_empty());
    // Role ARNs must belong to the org's account.
    let e = store
        .connect_aws(acme.id, "arn:aws:iam::999999999999:role/X", "ext-id")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("999999999999"), "{e}");
    db.drop().await;
}

/// The production credential path: STS AssumeRole (moto_server) with the org's role ARN and
/// external id, then SES calls signed with the temporary credentials STS returned.
#[tokio::test]
async fn assume_role_signs_ses_calls_with_the_roles_credentials() {
    let moto = std::env::var("SENDOPS_MOTO_URL").unwrap_or_else(|_| "http://127.0.0.1:5055".into());
    let db = TestDb::new("ses_sts").await;
    let store = &db.store;
    let fake = FakeSes::start().await;
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto)
        .credentials_provider(aws_sdk_sesv2::config::Credentials::new(
            "platform-key",
            "platform-secret",
            None,
            None,
            "test",
        ))
        .load()
        .await;
    let ses = SesAccess::assume_role(base, Some(fake.url()));
    let acme = connected(store, "acme", "111111111111").await;
    let target = SesTarget::for_org(&acme, &store.org_settings(acme.id).await.unwrap()).unwrap();
    let account = ses.account(&target).await.unwrap_or_else(|e| {
        panic!("AssumeRole via moto_server at {moto} (scripts/moto.sh start): {e}")
    });
    assert_eq!(account.send_quota.unwrap().max_send_rate, 14.0);
    let scopes = fake.credential_scopes();
    assert_eq!(scopes.len(), 1);
    assert!(
        scopes[0].starts_with("ASIA") && !scopes[0].starts_with("platform-key/"),
        "SES is signed with the assumed role's credentials, not the platform's: {scopes:?}"
    );
    assert!(
        scopes[0].ends_with("/eu-west-1/ses/aws4_request"),
        "{scopes:?}"
    );
    // The client (and its cached credentials) is reused.
    ses.account(&target).await.unwrap();
    let scopes = fake.credential_scopes();
    assert_eq!(scopes[0], scopes[1]);
    db.drop().await;
}

/// `git args` in `dir` dated `date` (see [`sendops_testkit::git::git`]): its stdout.
fn git(dir: &Path, args: &[&str], date: &str) -> String {
    sendops_testkit::git::git(dir, args, Some(date))
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn commit(dir: &Path, message: &str, date: &str) -> String {
    git(dir, &["add", "-A"], date);
    git(dir, &["commit", "-q", "-m", message], date);
    git(dir, &["rev-parse", "HEAD"], date)
}

#[tokio::test]
async fn template_sync_reads_the_manifest_at_a_commit() {
    let db = TestDb::new("templates_sync").await;
    let store = &db.store;
    let acme = org(store, "acme", "111111111111", "us-east-1").await;
    let other = org(store, "other", "222222222222", "us-east-1").await;
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"], "2026-01-01T00:00:00Z");

    write(dir, "emails/welcome.html", "<p>Welcome</p>");
    write(dir, "emails/reset.html", "<p>Reset</p>");
    write(
        dir,
        "sendops.json",
        r#"{"version": 1, "templates": [
            {"file": "emails/welcome.html", "name": "Welcome", "subject": "Welcome to Acme", "channel": "transactional"},
            {"file": "emails/reset.html", "name": "Password reset", "subject": "Reset your password"}
        ]}"#,
    );
    let c1 = commit(dir, "first", "2026-01-02T10:00:00Z");
    write(dir, "emails/reset.html", "<p>Reset v2</p>");
    write(dir, "emails/receipt.html", "<p>Receipt</p>");
    write(
        dir,
        "sendops.json",
        r#"{"templates": [
            {"file": "emails/reset.html", "name": "Password reset", "subject": "Reset your password now"},
            {"file": "emails/receipt.html", "name": "Receipt", "subject": "Your receipt", "channel": "transactional"}
        ]}"#,
    );
    let c2 = commit(dir, "second", "2026-02-03T11:00:00Z");

    // The first commit, by SHA.
    let r = sync_templates(store, acme.id, "acme", dir, Some(&c1), now_ms())
        .await
        .unwrap();
    assert_eq!(r.commit, c1);
    assert_eq!(r.version, &c1[..7]);
    assert_eq!(r.templates.added, ["reset.html", "welcome.html"]);
    assert_eq!(
        r.unknown_channels,
        ["transactional"],
        "no channel synced yet"
    );
    let welcome = store
        .template(acme.id, "welcome.html")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(welcome.version(), &c1[..7]);
    assert_eq!(welcome.name, "Welcome");
    assert_eq!(welcome.subject, "Welcome to Acme");
    assert_eq!(welcome.channel.as_deref(), Some("transactional"));
    assert_eq!(
        welcome.last_modified_ms, 1_767_348_000_000,
        "2026-01-02T10:00:00Z"
    );

    // HEAD: one removed, one changed, one added.
    let r = sync_templates(store, acme.id, "acme", dir, None, now_ms())
        .await
        .unwrap();
    assert_eq!(r.version, &c2[..7]);
    assert_eq!(r.templates.added, ["receipt.html"]);
    assert_eq!(r.templates.updated, ["reset.html"]);
    assert_eq!(r.templates.removed, ["welcome.html"]);
    assert!(
        store
            .template(acme.id, "welcome.html")
            .await
            .unwrap()
            .is_none()
    );
    let list = store.templates(acme.id, None, 10).await.unwrap();
    let slugs: Vec<&str> = list.iter().map(|t| t.slug.as_str()).collect();
    assert_eq!(
        slugs,
        ["reset.html", "receipt.html"],
        "newest first, then slug descending"
    );
    assert!(list.iter().all(|t| t.version() == &c2[..7]));
    assert_eq!(list[0].subject, "Reset your password now");
    assert_eq!(
        list[0].last_modified_ms, 1_770_116_400_000,
        "2026-02-03T11:00:00Z"
    );

    // Again at the same commit: nothing changes.
    let r = sync_templates(store, acme.id, "acme", dir, Some("main"), now_ms())
        .await
        .unwrap();
    assert!(!r.templates.changed());
    assert_eq!(r.templates.unchanged, 2);

    // A manifest naming a missing file is refused and nothing changes.
    write(
        dir,
        "sendops.json",
        r#"{"templates": [{"file": "emails/missing.html", "name": "M", "subject": "S"}]}"#,
    );
    let c3 = commit(dir, "broken", "2026-03-01T00:00:00Z");
    match sync_templates(store, acme.id, "acme", dir, None, now_ms()).await {
        Err(TemplateError::Manifest { commit, detail }) => {
            assert_eq!(commit, c3);
            assert!(detail.contains("emails/missing.html"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    for bad_ref in ["no-such-branch", "--output=/tmp/x"] {
        assert!(
            matches!(
                sync_templates(store, acme.id, "acme", dir, Some(bad_ref), now_ms()).await,
                Err(TemplateError::Git { .. })
            ),
            "{bad_ref}"
        );
    }
    assert_eq!(store.templates(acme.id, None, 10).await.unwrap().len(), 2);
    assert_eq!(store.templates(other.id, None, 10).await.unwrap().len(), 0);
    db.drop().await;
}

fn dns_records(t: &sendops_shared::control::tracking::TrackingDomain) -> Vec<(String, String)> {
    t.dns_records()
        .into_iter()
        .map(|r| (r.name, r.value))
        .collect()
}

#[tokio::test]
async fn tracking_domains_coalesce_dns_and_ses_verification() {
    let db = TestDb::new("tracking").await;
    let store = &db.store;
    let fake = FakeSes::start().await;
    let dns = FakeDns::start().await;
    let resolver = Resolver {
        timeout: Duration::from_millis(500),
        ..Resolver::new(dns.addr())
    };
    let ses = access(&fake);
    let acme = connected(store, "acme", "111111111111").await;
    let rival = connected(store, "rival", "222222222222").await;
    fake.put_identity(FakeIdentity {
        dkim_tokens: vec!["toka".into(), "tokb".into()],
        ..FakeIdentity::new("acme.com", "DOMAIN", "PENDING", None)
    });

    let t0 = now_ms();
    let t = add_tracking_domain(store, &ses, &acme, "Track.Acme.COM", TARGET, t0)
        .await
        .unwrap();
    assert_eq!(t.domain, "track.acme.com");
    assert_eq!(
        t.ses_identity.as_deref(),
        Some("acme.com"),
        "the parent identity covers it"
    );
    assert_eq!(
        dns_records(&t),
        [
            ("track.acme.com".to_owned(), TARGET.to_owned()),
            (
                "toka._domainkey.acme.com".to_owned(),
                "toka.dkim.amazonses.com".to_owned()
            ),
            (
                "tokb._domainkey.acme.com".to_owned(),
                "tokb.dkim.amazonses.com".to_owned()
            ),
        ]
    );
    assert_eq!((t.status(), t.ssl_status()), ("pending", "pending"));
    assert_eq!(t.verified_ms, None);
    assert_eq!(
        store
            .tracking_domain(acme.id, "TRACK.acme.com")
            .await
            .unwrap(),
        Some(t.clone())
    );

    // One domain, one org.
    let e = add_tracking_domain(store, &ses, &acme, "track.acme.com", TARGET, t0)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already registered"), "{e}");
    let e = add_tracking_domain(store, &ses, &rival, "track.acme.com", TARGET, t0)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("another org"), "{e}");
    assert!(matches!(
        add_tracking_domain(store, &ses, &acme, "not a domain", TARGET, t0).await,
        Err(TrackingError::Invalid(_))
    ));

    // Nothing published: DNS fails → failed.
    let (t, checks) =
        verify_tracking_domain(store, &ses, &resolver, &acme, "track.acme.com", t0 + 1)
            .await
            .unwrap();
    assert_eq!(t.status(), "failed");
    assert_eq!(checks.len(), 3);
    assert!(checks.iter().all(|c| !c.ok));
    assert!(
        t.dns_detail.contains("track.acme.com does not exist"),
        "{}",
        t.dns_detail
    );

    // Published, SES still pending → pending.
    dns.cname("track.acme.com", TARGET);
    dns.cname("toka._domainkey.acme.com", "toka.dkim.amazonses.com");
    dns.cname("tokb._domainkey.acme.com", "TOKB.dkim.amazonses.com.");
    let (t, checks) =
        verify_tracking_domain(store, &ses, &resolver, &acme, "track.acme.com", t0 + 2)
            .await
            .unwrap();
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    assert_eq!(t.status(), "pending");
    assert_eq!(t.verified_ms, None);

    // SES verified too → verified.
    fake.put_identity(FakeIdentity {
        dkim_tokens: vec!["toka".into(), "tokb".into()],
        ..FakeIdentity::new("acme.com", "DOMAIN", "SUCCESS", None)
    });
    let (t, _) = verify_tracking_domain(store, &ses, &resolver, &acme, "track.acme.com", t0 + 3)
        .await
        .unwrap();
    assert_eq!((t.status(), t.ssl_status()), ("verified", "active"));
    assert_eq!(t.verified_ms, Some(t0 + 3));
    assert_eq!(t.checked_ms, Some(t0 + 3));

    // A record pointing elsewhere fails DNS: failed, but verified_at stays the last success.
    dns.cname("tokb._domainkey.acme.com", "elsewhere.example.net");
    let (t, checks) =
        verify_tracking_domain(store, &ses, &resolver, &acme, "track.acme.com", t0 + 4)
            .await
            .unwrap();
    assert_eq!(t.status(), "failed");
    assert_eq!(t.verified_ms, Some(t0 + 3));
    assert_eq!(checks[2].found.as_deref(), Some("elsewhere.example.net"));
    assert_eq!(
        checks[2].problem.as_deref(),
        Some("points at elsewhere.example.net, expected tokb.dkim.amazonses.com")
    );
    dns.set("tokb._domainkey.acme.com", Answer::ServFail);
    let (t, _) = verify_tracking_domain(store, &ses, &resolver, &acme, "track.acme.com", t0 + 5)
        .await
        .unwrap();
    assert_eq!(t.status(), "failed");
    assert!(t.dns_detail.contains("SERVFAIL"), "{}", t.dns_detail);
    assert_eq!(
        store
            .tracking_domain(acme.id, "track.acme.com")
            .await
            .unwrap(),
        Some(t)
    );

    // No SES identity covers it: only the tracking CNAME, and never verified.
    let t = add_tracking_domain(store, &ses, &acme, "links.example.org", TARGET, t0 + 10)
        .await
        .unwrap();
    assert_eq!(
        dns_records(&t),
        [("links.example.org".to_owned(), TARGET.to_owned())]
    );
    dns.cname("links.example.org", TARGET);
    let (t, _) =
        verify_tracking_domain(store, &ses, &resolver, &acme, "links.example.org", t0 + 11)
            .await
            .unwrap();
    assert_eq!(t.status(), "pending");

    // Newest first; other orgs see none of it.
    let list = store.tracking_domains(acme.id, None, 10).await.unwrap();
    let names: Vec<&str> = list.iter().map(|t| t.domain.as_str()).collect();
    assert_eq!(names, ["links.example.org", "track.acme.com"]);
    assert!(
        store
            .tracking_domains(rival.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        verify_tracking_domain(store, &ses, &resolver, &rival, "track.acme.com", t0).await,
        Err(TrackingError::NotFound(_))
    ));

    // SES down or the resolver unreachable: the command fails, the stored state stays.
    fake.set_mode(Mode::Outage);
    assert!(matches!(
        verify_tracking_domain(store, &ses, &resolver, &acme, "track.acme.com", t0 + 20).await,
        Err(TrackingError::Ses(_))
    ));
    fake.set_mode(Mode::Normal);
    let dead = Resolver {
        timeout: Duration::from_millis(200),
        attempts: 1,
        ..Resolver::new(unused_udp_port())
    };
    assert!(matches!(
        verify_tracking_domain(store, &ses, &dead, &acme, "track.acme.com", t0 + 21).await,
        Err(TrackingError::Dns(_))
    ));
    let t = store
        .tracking_domain(acme.id, "track.acme.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.checked_ms, Some(t0 + 5));
    db.drop().await;
}

fn unused_udp_port() -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

#[tokio::test]
async fn account_settings_are_recorded_per_org() {
    use sendops_shared::control::org_settings::{
        CUSTOMER_STACK_LATEST_VERSION, ProductionAccessStatus,
    };
    let db = TestDb::new("org_settings").await;
    let store = &db.store;
    let acme = org(store, "acme", "111111111111", "us-east-1").await;
    let other = org(store, "other", "222222222222", "us-east-1").await;
    let s = store.org_settings(acme.id).await.unwrap();
    assert!(s.aws_role.is_none() && s.production_access.is_none() && s.cloudformation.is_none());
    // Records acme's production access `status` at `at_ms`.
    let access = move |status, at_ms| store.set_production_access(acme.id, status, at_ms);
    access(ProductionAccessStatus::Pending, 1_000)
        .await
        .unwrap();
    let s = access(ProductionAccessStatus::Granted, 2_000_000)
        .await
        .unwrap();
    assert_eq!(
        s.production_access.unwrap().granted_at.as_deref(),
        Some("1970-01-01T00:33:20Z")
    );
    let s = access(ProductionAccessStatus::Granted, 9_000_000)
        .await
        .unwrap();
    assert_eq!(
        s.production_access.unwrap().granted_at.as_deref(),
        Some("1970-01-01T00:33:20Z"),
        "the first grant time is kept"
    );
    let s = store
        .set_cloudformation(acme.id, "sendops-acme", 1, "in_sync")
        .await
        .unwrap();
    let cf = s.cloudformation.unwrap();
    assert_eq!(cf.drift_status, "IN_SYNC");
    assert_eq!(cf.latest_version, CUSTOMER_STACK_LATEST_VERSION);
    assert!(
        store
            .set_cloudformation(acme.id, "bad name", 1, "IN_SYNC")
            .await
            .is_err()
    );
    assert!(
        store
            .set_cloudformation(acme.id, "ok", 0, "IN_SYNC")
            .await
            .is_err()
    );
    let s = store
        .connect_aws(
            acme.id,
            "arn:aws:iam::111111111111:role/SendOpsRead",
            "ext-123",
        )
        .await
        .unwrap();
    assert_eq!(s.aws_role.unwrap().external_id, "ext-123");
    // Every field survived the later writes.
    let s = store.org_settings(acme.id).await.unwrap();
    assert!(s.aws_role.is_some() && s.production_access.is_some() && s.cloudformation.is_some());
    let o = store.org_settings(other.id).await.unwrap();
    assert!(o.aws_role.is_none() && o.production_access.is_none() && o.cloudformation.is_none());
    db.drop().await;
}
