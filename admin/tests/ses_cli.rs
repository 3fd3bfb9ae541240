//! The `sendops-admin` commands behind the SES-backed views, as operators run them: the binary
//! against a per-test database on the real ClickHouse, SES through the fake SES v2 endpoint
//! (`SENDOPS_SES_ENDPOINT_URL`), DNS through the fake resolver (`SENDOPS_DNS_RESOLVER`), and a
//! real git repository.

use std::process::{Command, Output};

use sendops_shared::store::testing::TestDb;
use sendops_testkit::dns::FakeDns;
use sendops_testkit::git::git;
use sendops_testkit::process::assert_success;
use sendops_testkit::ses::{FakeConfigurationSet, FakeIdentity, FakeSes};
use serde_json::{Value, json};

struct Admin {
    database: String,
    url: String,
    env: Vec<(String, String)>,
}

impl Admin {
    fn new(db: &TestDb) -> Admin {
        Admin {
            database: db.config.database.clone(),
            url: db.config.url.clone(),
            env: Vec::new(),
        }
    }

    fn with_env(mut self, name: &str, value: &str) -> Admin {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Runs the binary off the async runtime (the fakes keep serving meanwhile).
    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sendops-admin"));
        cmd.args(args)
            .env("CLICKHOUSE_URL", &self.url)
            .env("CLICKHOUSE_DATABASE", &self.database)
            .env_remove("RUST_LOG")
            .env_remove("SENDOPS_SES_ENDPOINT_URL")
            .env_remove("SENDOPS_DNS_RESOLVER")
            .env_remove("SENDOPS_TRACKING_CNAME_TARGET");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        tokio::task::spawn_blocking(move || cmd.output().expect("run sendops-admin"))
            .await
            .unwrap()
    }

    async fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "sendops-admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "sendops-admin {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    async fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            !out.status.success(),
            "sendops-admin {args:?} should fail but printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(out.stdout.is_empty());
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs a command that must fail (as [`Admin::fails`]) with `needle` in its stderr.
    async fn fails_with(&self, args: &[&str], needle: &str) {
        let e = self.fails(args).await;
        assert!(e.contains(needle), "{args:?}: {e}");
    }
}

/// The arguments of `<command> --org acme <flags>` (`command`: its words, space-separated).
fn for_acme<'a>(command: &'a str, flags: &[&'a str]) -> Vec<&'a str> {
    let mut args: Vec<&str> = command.split(' ').collect();
    args.extend_from_slice(&["--org", "acme"]);
    args.extend_from_slice(flags);
    args
}

/// The arguments of `tracking-domain <action> --org acme --domain <domain>`.
fn tracking_domain<'a>(action: &'a str, domain: &'a str) -> Vec<&'a str> {
    vec![
        "tracking-domain",
        action,
        "--org",
        "acme",
        "--domain",
        domain,
    ]
}

async fn create_org(admin: &Admin, slug: &str, account: &str) {
    admin
        .ok(&[
            "org",
            "create",
            "--name",
            &format!("Org {slug}"),
            "--slug",
            slug,
            "--aws-account",
            account,
        ])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_commands_record_the_onboarding_state() {
    let db = TestDb::new("cli_account").await;
    let admin = Admin::new(&db);
    create_org(&admin, "acme", "111111111111").await;
    let v = admin.ok(&for_acme("account show", &[])).await;
    assert_eq!(
        v,
        json!({"org": "acme", "aws_account_id": "111111111111", "region": "us-east-1",
            "aws_role": null, "production_access": null, "cloudformation": null})
    );
    let e = admin.fails(&["account", "show", "--org", "nope"]).await;
    assert!(e.contains("no org with slug \"nope\""), "{e}");
    let e = admin
        .fails(&for_acme(
            "account connect-aws",
            &[
                "--role-arn",
                "arn:aws:iam::222222222222:role/SendOpsRead",
                "--external-id",
                "ext-1",
            ],
        ))
        .await;
    assert!(
        e.contains("222222222222") && e.contains("111111111111"),
        "{e}"
    );
    let v = admin
        .ok(&for_acme(
            "account connect-aws",
            &[
                "--role-arn",
                "arn:aws:iam::111111111111:role/SendOpsRead",
                "--external-id",
                "ext-1",
                "--no-check",
            ],
        ))
        .await;
    assert_eq!(
        v["aws_role"],
        json!({"role_arn": "arn:aws:iam::111111111111:role/SendOpsRead", "external_id": "ext-1"})
    );
    let v = admin
        .ok(&for_acme(
            "account production-access",
            &["--status", "pending"],
        ))
        .await;
    assert_eq!(
        v["production_access"],
        json!({"status": "pending", "granted_at": null})
    );
    let v = admin
        .ok(&for_acme(
            "account production-access",
            &["--status", "granted"],
        ))
        .await;
    assert!(v["production_access"]["granted_at"].is_string());
    let v = admin
        .ok(&for_acme(
            "account cloudformation",
            &["--stack-name", "sendops-acme", "--template-version", "1"],
        ))
        .await;
    assert_eq!(
        v["cloudformation"],
        json!({"stack_name": "sendops-acme", "template_version": 1, "latest_version": 1,
            "up_to_date": true, "drift_status": "NOT_CHECKED"})
    );
    let v = admin.ok(&for_acme("account show", &[])).await;
    assert!(v["aws_role"].is_object() && v["production_access"].is_object());
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_ses_and_tracking_domains_from_the_cli() {
    let db = TestDb::new("cli_ses").await;
    let fake = FakeSes::start().await;
    let dns = FakeDns::start().await;
    fake.put_configuration_set(FakeConfigurationSet {
        name: "transactional".into(),
        sending_enabled: true,
        ..Default::default()
    });
    fake.put_identity(FakeIdentity {
        dkim_tokens: vec!["k1".into()],
        ..FakeIdentity::new("acme.com", "DOMAIN", "SUCCESS", Some("transactional"))
    });
    let admin = Admin::new(&db)
        .with_env("SENDOPS_SES_ENDPOINT_URL", &fake.url())
        .with_env("AWS_ACCESS_KEY_ID", "AKIDCLI")
        .with_env("AWS_SECRET_ACCESS_KEY", "secret")
        .with_env("SENDOPS_DNS_RESOLVER", &dns.addr().to_string())
        .with_env("SENDOPS_TRACKING_CNAME_TARGET", "t.sendops.test");
    create_org(&admin, "acme", "111111111111").await;

    admin
        .fails_with(&for_acme("sync ses", &[]), "no AWS account connected")
        .await;
    admin
        .ok(&for_acme(
            "account connect-aws",
            &[
                "--role-arn",
                "arn:aws:iam::111111111111:role/R",
                "--external-id",
                "ext-1",
                "--no-check",
            ],
        ))
        .await;
    let v = admin.ok(&for_acme("sync ses", &[])).await;
    assert_eq!(v["channels"]["added"], json!(["transactional"]));
    assert_eq!(v["identities"]["added"], json!(["acme.com"]));
    assert!(
        fake.credential_scopes()
            .iter()
            .all(|s| s.starts_with("AKIDCLI/"))
    );
    let v = admin.ok(&for_acme("sync ses", &[])).await;
    assert_eq!(
        v["channels"],
        json!({"added": [], "updated": [], "removed": [], "unchanged": 1})
    );
    fake.remove_configuration_set("transactional");
    let v = admin.ok(&for_acme("sync ses", &[])).await;
    assert_eq!(v["channels"]["removed"], json!(["transactional"]));

    let v = admin.ok(&tracking_domain("add", "Click.Acme.com")).await;
    assert_eq!(v["domain"], "click.acme.com");
    assert_eq!(v["status"], "pending");
    assert_eq!(
        v["dns_records"],
        json!([
            {"type": "CNAME", "name": "click.acme.com", "value": "t.sendops.test"},
            {"type": "CNAME", "name": "k1._domainkey.acme.com", "value": "k1.dkim.amazonses.com"},
        ])
    );
    let v = admin.ok(&tracking_domain("verify", "click.acme.com")).await;
    assert_eq!(v["status"], "failed");
    assert_eq!(v["checks"][0]["problem"], "does not exist");
    dns.cname("click.acme.com", "t.sendops.test");
    dns.cname("k1._domainkey.acme.com", "k1.dkim.amazonses.com");
    let v = admin.ok(&tracking_domain("verify", "CLICK.acme.com")).await;
    assert_eq!(v["status"], "verified", "{v}");
    assert_eq!(v["ssl_status"], "active");
    assert!(v["verified_at"].is_string());
    admin
        .fails_with(
            &tracking_domain("add", "click.acme.com"),
            "already registered",
        )
        .await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_sync_from_the_cli() {
    let db = TestDb::new("cli_templates").await;
    let admin = Admin::new(&db);
    create_org(&admin, "acme", "111111111111").await;
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    std::fs::create_dir(dir.join("mail")).unwrap();
    std::fs::write(dir.join("mail/welcome.html"), "<p>hi</p>").unwrap();
    std::fs::write(
        dir.join("sendops.json"),
        r#"{"templates": [{"file": "mail/welcome.html", "name": "Welcome", "subject": "Hello"}]}"#,
    )
    .unwrap();
    git(dir, &["init", "-q", "-b", "main"], None);
    git(dir, &["add", "-A"], None);
    git(dir, &["commit", "-q", "-m", "one"], None);
    let repo_arg = dir.to_str().unwrap();
    let v = admin
        .ok(&for_acme(
            "templates sync",
            &["--repo", repo_arg, "--ref", "main"],
        ))
        .await;
    assert_eq!(v["templates"]["added"], json!(["welcome.html"]));
    assert_eq!(v["version"].as_str().unwrap().len(), 7);
    assert!(
        v["commit"]
            .as_str()
            .unwrap()
            .starts_with(v["version"].as_str().unwrap())
    );
    std::fs::write(dir.join("sendops.json"), "{not json").unwrap();
    git(dir, &["commit", "-q", "-am", "broken"], None);
    // A broken manifest at the head, and no repository at all: both named.
    for (repo, needle) in [(repo_arg, "sendops.json"), ("/nonexistent/repo", "git")] {
        admin
            .fails_with(&for_acme("templates sync", &["--repo", repo]), needle)
            .await;
    }
    db.drop().await;
}

/// A Send event: org id, day (`YYYY-MM-DD`), event id, time (ms) and recipient bound in order.
const SEND_EVENT: &str = "INSERT INTO events \
    (org_id, day, event_id, occurred_ms, event_type, recipient) \
    VALUES (?, toDate(?), ?, ?, 'Send', ?)";

/// `sendops-admin providers refresh` as an operator runs it: the org's recently seen recipient
/// domains asked from the resolver of `SENDOPS_DNS_RESOLVER` (consumer domains never), one line
/// per domain on stderr, the summary on stdout, the answers recorded (what breakdowns read), a
/// second run asking nothing new, and bad flags refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_refresh_from_the_cli() {
    let db = TestDb::new("cli_providers").await;
    let dns = FakeDns::start().await;
    dns.mx("corp.example", &[(10, "aspmx.l.google.com.")]);
    dns.set("nomx.example", sendops_testkit::dns::Answer::NoData);
    dns.set("broken.example", sendops_testkit::dns::Answer::ServFail);
    // gone.example is unknown to the fake: NXDOMAIN.
    let admin = Admin::new(&db).with_env("SENDOPS_DNS_RESOLVER", &dns.addr().to_string());
    create_org(&admin, "acme", "111111111111").await;
    create_org(&admin, "other", "222222222222").await;
    let org = |slug: &'static str| {
        let store = db.store.clone();
        async move { store.org_by_slug(slug).await.unwrap().unwrap().id }
    };
    let now = sendops_shared::timefmt::now_ms();
    let today = sendops_shared::timefmt::format_ms(now)[..10].to_owned();
    for (o, r) in [
        (org("acme").await, "a@corp.example"),
        (org("acme").await, "b@nomx.example"),
        (org("acme").await, "c@gone.example"),
        (org("acme").await, "d@broken.example"),
        (org("acme").await, "e@gmail.com"),
        (org("other").await, "f@elsewhere.example"),
    ] {
        let insert = db.store.client().query(SEND_EVENT);
        insert
            .bind(o.to_string())
            .bind(&today)
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(now)
            .bind(r)
            .execute()
            .await
            .unwrap();
    }
    let queries = dns.udp_queries();
    let out = admin.run(&for_acme("providers refresh", &[])).await;
    assert_success(&out);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary,
        json!({"asked": 4, "resolved": 1, "no_mx": 2, "failed": 1})
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in [
        "corp.example → google (aspmx.l.google.com)",
        "nomx.example → none (no MX)",
        "gone.example → none (no MX)",
        "broken.example → failed:",
    ] {
        assert!(stderr.contains(line), "{line:?} missing from:\n{stderr}");
    }
    assert!(!stderr.contains("gmail.com") && !stderr.contains("elsewhere.example"));
    assert!(dns.udp_queries() - queries >= 4);
    let map = db
        .store
        .mailbox_providers(&[
            "corp.example".into(),
            "nomx.example".into(),
            "broken.example".into(),
        ])
        .await
        .unwrap();
    assert_eq!(
        (
            map["corp.example"].as_str(),
            map["nomx.example"].as_str(),
            map["broken.example"].as_str()
        ),
        ("google", "none", "other")
    );
    // Fresh answers are not asked again; the failure is (after an hour): nothing due now.
    let again = admin.ok(&for_acme("providers refresh", &[])).await;
    assert_eq!(again["asked"], 0, "{again}");
    // Every org's domains without --org.
    let all = admin.ok(&["providers", "refresh"]).await;
    assert_eq!(all["asked"], 1, "{all}");

    for (args, named) in [
        (vec!["providers", "refresh", "--days", "0"], "--days"),
        (vec!["providers", "refresh", "--limit", "0"], "--limit"),
        (
            vec!["providers", "refresh", "--max-age-hours", "soon"],
            "--max-age-hours",
        ),
        (vec!["providers", "refresh", "--org", "nosuch"], "nosuch"),
    ] {
        admin.fails_with(&args, named).await;
    }
    db.drop().await;
}
