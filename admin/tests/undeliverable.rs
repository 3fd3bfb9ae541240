//! `sendops-admin exclusion …` and `sendops-admin rules …` against a per-test database on the
//! real ClickHouse: their JSON, versions, the audit log, locked-rule refusal, and the rows a rule
//! change marks.

mod common;

use common::{Admin, create_acme, ingest, keys_of};

use sendops_shared::store::testing::TestDb;
use sendops_shared::timefmt::{format_ms_precise, now_ms};
use serde_json::{Value, json};

fn locked() -> Value {
    json!({"enabled": true, "locked": true, "events": 0, "window_days": 0})
}

fn rule(enabled: bool, events: u32, window_days: u32) -> Value {
    json!({"enabled": enabled, "locked": false, "events": events, "window_days": window_days})
}

/// The arguments of `rules set --org acme --rule <rule>` followed by `changes`.
fn set_rule<'a>(rule: &'a str, changes: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["rules", "set", "--org", "acme", "--rule", rule];
    args.extend_from_slice(changes);
    args
}

/// The arguments of `exclusion add --org acme` for `email`, by `by`, for `reason`.
fn add_exclusion<'a>(email: &'a str, by: &'a str, reason: &'a str) -> Vec<&'a str> {
    vec![
        "exclusion",
        "add",
        "--org",
        "acme",
        "--email",
        email,
        "--by",
        by,
        "--reason",
        reason,
    ]
}

/// The entries of acme's audit log with this action, newest first.
fn audited(admin: &Admin<'_>, action: &str) -> Vec<Value> {
    let audit = admin.ok(&["audit", "list", "--org", "acme"]);
    audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == action)
        .cloned()
        .collect()
}

async fn setup(name: &str) -> TestDb {
    let db = TestDb::new(name).await;
    let admin = Admin { db: &db };
    admin.ok(&create_acme("123456789012", &["--plan", "pro"]));
    db
}

#[tokio::test]
async fn rules_show_set_version_audit_and_locked_refusal() {
    let db = setup("cli_und_rules").await;
    let admin = Admin { db: &db };
    let org = admin.ok(&["org", "list"])[0].clone();

    let shown = admin.ok(&["rules", "show", "--org", "acme"]);
    assert_eq!(
        shown,
        json!({
            "profile": "standard",
            "rules": {
                "permanent_bounce": locked(), "complaint": locked(), "rejected": locked(),
                "repeated_transient": rule(false, 3, 7), "undetermined": rule(false, 2, 14),
                "soft_bounce_accumulation": rule(false, 5, 30),
            },
            "version": "0",
            "updated_at": org["created_at"],
            "updated_by": "system",
        })
    );

    let out = admin.ok(&["rules", "set", "--org", "acme", "--profile", "strict"]);
    assert_eq!(out["changed"], true);
    assert_eq!(out["rows_changed"], 0);
    assert_eq!(out["rules"]["profile"], "strict");
    assert_eq!(out["rules"]["version"], "1");
    assert_eq!(out["rules"]["updated_by"], "ci-bot");
    assert_eq!(out["rules"]["rules"]["undetermined"], rule(true, 2, 14));

    let out = admin.ok(&set_rule(
        "repeated_transient",
        &["--events", "2", "--window-days", "10", "--actor", "alice"],
    ));
    assert_eq!(out["rules"]["profile"], "custom");
    assert_eq!(out["rules"]["version"], "2");
    assert_eq!(out["rules"]["updated_by"], "alice");
    assert_eq!(
        out["rules"]["rules"]["repeated_transient"],
        rule(true, 2, 10)
    );
    let out = admin.ok(&set_rule(
        "soft_bounce_accumulation",
        &["--enabled", "false"],
    ));
    assert_eq!(
        out["rules"]["rules"]["soft_bounce_accumulation"],
        rule(false, 5, 30)
    );
    assert_eq!(out["rules"]["version"], "3");

    // Locked rules refuse, whatever is asked; nothing changes.
    for (name, flag, value) in [
        ("permanent_bounce", "--enabled", "false"),
        ("complaint", "--events", "3"),
        ("rejected", "--window-days", "7"),
    ] {
        let err = admin.fails(&set_rule(name, &[flag, value]));
        assert!(err.contains(&format!("rule {name} is locked")), "{err}");
    }
    // Bad values and incomplete requests refuse too.
    let err = admin.fails(&set_rule("undetermined", &["--events", "0"]));
    assert!(err.contains("events must be from 1"), "{err}");
    let err = admin.fails(&set_rule("undetermined", &["--window-days", "400"]));
    assert!(err.contains("window_days must be from 1 to 365"), "{err}");
    let err = admin.fails(&set_rule("undetermined", &[]));
    assert!(err.contains("at least one of"), "{err}");
    admin.fails(&set_rule("nonsense", &["--enabled", "true"]));
    admin.fails(&["rules", "set", "--org", "acme"]);
    admin.fails(&["rules", "set", "--org", "nope", "--profile", "strict"]);
    assert_eq!(
        admin.ok(&["rules", "show", "--org", "acme"])["version"],
        "3"
    );

    // Setting what is active is no change: no version, no audit entry.
    let out = admin.ok(&set_rule(
        "soft_bounce_accumulation",
        &["--enabled", "false"],
    ));
    assert_eq!(out["changed"], false);
    assert_eq!(out["rules"]["version"], "3");
    // Back to a profile: the profile name returns.
    let out = admin.ok(&["rules", "set", "--org", "acme", "--profile", "standard"]);
    assert_eq!(out["rules"]["profile"], "standard");
    assert_eq!(out["rules"]["version"], "4");

    let changes = audited(&admin, "undeliverable.rules_updated");
    assert_eq!(changes.len(), 4, "{changes:?}");
    let versions: Vec<&str> = changes
        .iter()
        .map(|a| a["details"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["4", "3", "2", "1"], "newest first");
    assert_eq!(changes[2]["actor"], "alice");
    assert_eq!(changes[2]["details"]["before"]["profile"], "strict");
    assert_eq!(changes[2]["details"]["after"]["profile"], "custom");
    assert_eq!(changes[3]["details"]["before"]["version"], "0");
    db.drop().await;
}

#[tokio::test]
async fn exclusions_add_list_and_audit() {
    let db = setup("cli_und_excl").await;
    let admin = Admin { db: &db };
    let first = admin.ok(&add_exclusion(
        " Erin@Example.COM ",
        "ops@acme.example",
        "Confirmed valid mailbox",
    ));
    assert_eq!(first["email"], "erin@example.com");
    assert_eq!(first["excluded_by"], "ops@acme.example");
    assert_eq!(first["reason"], "Confirmed valid mailbox");
    let at =
        sendops_shared::timefmt::parse_rfc3339_ms(first["excluded_at"].as_str().unwrap()).unwrap();
    assert!((now_ms() - at).abs() < 60_000);
    assert_eq!(
        keys_of(&first),
        ["email", "excluded_at", "excluded_by", "id", "reason"]
    );

    let second = admin.ok(&add_exclusion("erin@example.com", "bob", "again"));
    let list = admin.ok(&["exclusion", "list", "--org", "acme"]);
    assert_eq!(list, json!([second, first]), "kept forever, newest first");

    let err = admin.fails(&add_exclusion("not-an-address", "x", "y"));
    assert!(err.contains("not an email address"), "{err}");
    let err = admin.fails(&add_exclusion("a@b.example", "x", " "));
    assert!(err.contains("reason must not be empty"), "{err}");
    admin.fails(&["exclusion", "list", "--org", "nope"]);

    let added = audited(&admin, "undeliverable.exclusion_added");
    assert_eq!(added.len(), 2);
    assert_eq!(added[0]["actor"], "bob");
    assert_eq!(added[0]["details"]["exclusion_id"], second["id"]);
    assert_eq!(added[1]["actor"], "ops@acme.example");
    assert_eq!(added[1]["details"]["email"], "erin@example.com");
    db.drop().await;
}

fn transient_bounce(n: u32, to: &str, at_ms: i64) -> String {
    json!({
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Transient",
            "bounceSubType": "MailboxFull",
            "bouncedRecipients": [{"emailAddress": to}],
            "timestamp": format_ms_precise(at_ms),
        },
        "mail": {
            "timestamp": format_ms_precise(at_ms - 1000),
            "source": "ops@acme.example",
            "sendingAccountId": "123456789012",
            "messageId": format!("cli-msg-{n}"),
            "destination": [to],
        },
    })
    .to_string()
}

#[tokio::test]
async fn rule_changes_report_exactly_the_rows_they_alter() {
    let db = setup("cli_und_marks").await;
    let admin = Admin { db: &db };
    let now = now_ms();
    let bodies: Vec<String> = (0..3)
        .map(|i| transient_bounce(i, "soft@x.example", now - (i64::from(i) + 1) * 3_600_000))
        .chain([transient_bounce(9, "once@x.example", now - 3_600_000)])
        .collect();
    assert_eq!(ingest(&db.store, &bodies).await, 4);

    // strict lists soft@ (3 transient bounces in 7 days) and nothing else.
    let out = admin.ok(&["rules", "set", "--org", "acme", "--profile", "strict"]);
    assert_eq!(out["rows_changed"], 1);
    // soft@ is already listed as repeated_transient; a lower-priority rule cannot alter it.
    let out = admin.ok(&set_rule("soft_bounce_accumulation", &["--events", "1"]));
    assert_eq!(out["rows_changed"], 1, "only once@ is newly listed");
    // Widening repeated_transient's threshold changes nothing visible… lowering it to 1 turns
    // once@ from soft_bounce_accumulation into repeated_transient: one row.
    let out = admin.ok(&set_rule("repeated_transient", &["--window-days", "8"]));
    assert_eq!(out["rows_changed"], 0);
    let out = admin.ok(&set_rule("repeated_transient", &["--events", "1"]));
    assert_eq!(out["rows_changed"], 1);
    let audit = admin.ok(&["audit", "list", "--org", "acme", "--limit", "1"]);
    assert_eq!(audit[0]["details"]["rows_changed"], 1);
    db.drop().await;
}
