//! The `sendops-admin` binary against a per-test database on the real ClickHouse: the API key
//! lifecycle commands, their exact JSON, and their error paths.

use std::process::Command;

mod common;

use common::{Admin, create_acme, keys_of};

use sendops_shared::control::api_key::{KeyEnv, parse_secret};
use sendops_shared::store::testing::TestDb;
use sendops_shared::timefmt::{now_ms, parse_rfc3339_ms};
use serde_json::Value;

fn str_of<'v>(v: &'v Value, field: &str) -> &'v str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {v}"))
}

const VIEW_KEYS: [&str; 8] = [
    "created_at",
    "environment",
    "expires_at",
    "id",
    "name",
    "prefix",
    "revoked_at",
    "scopes",
];

#[tokio::test]
async fn key_lifecycle_through_the_cli() {
    let db = TestDb::new("admin_cli_keys").await;
    let admin = Admin { db: &db };
    admin.ok(&create_acme("123456789012", &[]));

    // Create: exactly these fields; scopes canonical; the secret once.
    let created = admin.ok(&[
        "key",
        "create",
        "--org",
        "acme",
        "--env",
        "live",
        "--name",
        "status page",
        "--scopes",
        "org.view, api.reports.view,reports.view",
    ]);
    assert_eq!(
        keys_of(&created),
        ["environment", "id", "key", "name", "prefix", "scopes"]
    );
    let id = str_of(&created, "id").to_owned();
    let secret = str_of(&created, "key").to_owned();
    assert_eq!(parse_secret(&secret), Some(KeyEnv::Live));
    assert_eq!(str_of(&created, "prefix"), &secret[..16]);
    assert_eq!(str_of(&created, "environment"), "live");
    assert_eq!(str_of(&created, "name"), "status page");
    assert_eq!(
        created["scopes"],
        serde_json::json!(["api.reports.view", "api.account.view"])
    );
    let key = db
        .store
        .authenticate(&secret, now_ms())
        .await
        .unwrap()
        .expect("the printed secret authenticates");
    assert_eq!(key.id.to_string(), id);

    // List: the view, never the secret or its hash.
    let list = admin.ok(&["key", "list", "--org", "acme"]);
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 1);
    assert_eq!(keys_of(&list[0]), VIEW_KEYS);
    assert_eq!(str_of(&list[0], "id"), id);
    assert!(list[0]["revoked_at"].is_null() && list[0]["expires_at"].is_null());
    assert!(!list[0].to_string().contains(&secret[16..]));

    // Scopes.
    let edited = admin.ok(&["key", "scopes", &id, "--set", "messages.view,org.view"]);
    assert_eq!(keys_of(&edited), VIEW_KEYS);
    assert_eq!(
        edited["scopes"],
        serde_json::json!(["api.messages.view", "api.account.view"])
    );

    // Rotate: the create shape plus the old key's expiry (24 h later).
    let rotated = admin.ok(&["key", "rotate", &id]);
    assert_eq!(
        keys_of(&rotated),
        [
            "environment",
            "id",
            "key",
            "name",
            "old_key_expires_at",
            "prefix",
            "scopes"
        ]
    );
    let new_id = str_of(&rotated, "id").to_owned();
    let new_secret = str_of(&rotated, "key").to_owned();
    assert_ne!(new_id, id);
    assert_ne!(new_secret, secret);
    assert_eq!(str_of(&rotated, "name"), "status page");
    assert_eq!(rotated["scopes"], edited["scopes"]);
    let expires = parse_rfc3339_ms(str_of(&rotated, "old_key_expires_at")).unwrap();
    let in_a_day = now_ms() + 24 * 3_600_000;
    assert!(
        (in_a_day - expires).abs() < 120_000,
        "{expires} vs {in_a_day}"
    );
    let list = admin.ok(&["key", "list", "--org", "acme"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(str_of(&list[0], "id"), new_id, "newest first");
    assert_eq!(
        list[1]["expires_at"], rotated["old_key_expires_at"],
        "old key shows its expiry"
    );

    // Rotating the old key again is refused.
    let err = admin.fails(&["key", "rotate", &id]);
    assert!(err.contains("already rotated"), "{err}");

    // Revoke (explicit actor), then twice.
    let revoked = admin.ok(&["key", "revoke", &new_id, "--actor", "dave"]);
    assert_eq!(keys_of(&revoked), VIEW_KEYS);
    assert!(revoked["revoked_at"].is_string());
    let err = admin.fails(&["key", "revoke", &new_id]);
    assert!(err.starts_with("sendops-admin: "), "{err}");
    assert!(err.contains("already revoked"), "{err}");
    assert!(
        db.store
            .authenticate(&new_secret, now_ms())
            .await
            .unwrap()
            .is_none()
    );

    // Nothing is past its grace yet.
    assert_eq!(admin.ok(&["key", "sweep"]), serde_json::json!([]));

    // Audit, newest first, with actors.
    let audit = admin.ok(&["audit", "list", "--org", "acme"]);
    let audit = audit.as_array().unwrap();
    let got: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|e| (str_of(e, "action"), str_of(e, "actor"), str_of(e, "key_id")))
        .collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0], ("api_key.revoked", "dave", new_id.as_str()));
    let mut rotated_pair = vec![got[1], got[2]];
    rotated_pair.sort_unstable();
    let mut expected = vec![
        ("api_key.rotated", "ci-bot", id.as_str()),
        ("api_key.rotated", "ci-bot", new_id.as_str()),
    ];
    expected.sort_unstable();
    assert_eq!(rotated_pair, expected);
    assert_eq!(got[3], ("api_key.scopes_updated", "ci-bot", id.as_str()));
    assert_eq!(got[4], ("api_key.created", "ci-bot", id.as_str()));
    assert_eq!(
        audit[3]["details"]["added"],
        serde_json::json!(["api.messages.view"])
    );
    assert_eq!(
        audit[3]["details"]["removed"],
        serde_json::json!(["api.reports.view"])
    );
    let limited = admin.ok(&["audit", "list", "--org", "acme", "--limit", "1"]);
    assert_eq!(limited.as_array().unwrap().len(), 1);
    db.drop().await;
}

#[tokio::test]
async fn key_commands_fail_clearly() {
    let db = TestDb::new("admin_cli_key_errors").await;
    let admin = Admin { db: &db };
    admin.ok(&create_acme("123456789012", &[]));
    let create = |scopes: &str, org: &str, name: &str| {
        admin.fails(&[
            "key", "create", "--org", org, "--env", "test", "--name", name, "--scopes", scopes,
        ])
    };

    let err = create("api.reports.view,api.nope", "acme", "ci");
    assert!(err.contains("\"api.nope\""), "{err}");
    assert!(
        err.contains("api.reports.view"),
        "lists valid scopes: {err}"
    );
    let err = create(" , ", "acme", "ci");
    assert!(err.contains("at least one scope"), "{err}");
    let err = create("reports.view", "nosuch", "ci");
    assert!(err.contains("\"nosuch\""), "{err}");
    let err = create("reports.view", "acme", "  ");
    assert!(err.contains("name must not be empty"), "{err}");
    let err = create("reports.view", "acme", &"n".repeat(101));
    assert!(err.contains("at most 100"), "{err}");

    let err = admin.fails(&["key", "revoke", "not-a-uuid"]);
    assert!(
        err.contains("malformed key id") && err.contains("not-a-uuid"),
        "{err}"
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    for args in [
        vec!["key", "revoke", unknown.as_str()],
        vec!["key", "rotate", unknown.as_str()],
        vec!["key", "scopes", unknown.as_str(), "--set", "org.view"],
    ] {
        let err = admin.fails(&args);
        assert!(err.contains(&unknown) && err.contains("not found"), "{err}");
    }
    let err = admin.fails(&["key", "scopes", &unknown, "--set", "org.edit"]);
    assert!(err.contains("\"org.edit\""), "{err}");
    let err = admin.fails(&["key", "list", "--org", "nosuch"]);
    assert!(err.contains("\"nosuch\""), "{err}");
    let err = admin.fails(&["audit", "list", "--org", "acme", "--limit", "0"]);
    assert!(err.contains("--limit"), "{err}");
    // Nothing was written by the failed commands.
    assert_eq!(
        admin.ok(&["key", "list", "--org", "acme"]),
        serde_json::json!([])
    );
    assert_eq!(
        admin.ok(&["audit", "list", "--org", "acme"]),
        serde_json::json!([])
    );
    db.drop().await;
}

/// Output into a pipe that is already closed (`sendops-admin … | head -0`) ends the command
/// normally instead of panicking.
#[tokio::test]
async fn a_closed_stdout_is_not_a_panic() {
    let db = TestDb::new("admin_closed_stdout").await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendops-admin"))
        .args(["migrate"])
        .env("CLICKHOUSE_URL", &db.config.url)
        .env("CLICKHOUSE_DATABASE", &db.config.database)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sendops-admin");
    // Close the reading end before the command gets to print.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
    db.drop().await;
}
