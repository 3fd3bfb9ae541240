//! The operator commands called as library functions (`sendops_admin::execute`) on a per-test
//! database, without spawning the binary: the command line parses into the same commands the
//! binary runs, and their JSON is what the binary prints.

mod common;

use clap::Parser;
use common::create_acme;
use sendops_admin::{Cli, execute};
use sendops_shared::store::testing::TestDb;
use serde_json::Value;

async fn ok(db: &TestDb, args: &[&str]) -> Value {
    let cli = Cli::try_parse_from(std::iter::once("sendops-admin").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?} does not parse: {e}"));
    let (value, code) = execute(&db.store, cli.command)
        .await
        .unwrap_or_else(|e| panic!("{args:?} failed: {e:#}"));
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    value
}

#[tokio::test]
async fn orgs_and_keys_through_the_library() {
    let db = TestDb::new("admin_library").await;
    let org = ok(&db, &create_acme("111111111111", &[])).await;
    assert_eq!(org["slug"], "acme");
    let list = ok(&db, &["org", "list"]).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["slug"], "acme");

    let key = ok(
        &db,
        &[
            "key",
            "create",
            "--org",
            "acme",
            "--name",
            "ci",
            "--env",
            "test",
            "--scopes",
            "messages.view",
            "--actor",
            "ci-bot",
        ],
    )
    .await;
    assert!(
        key["key"]
            .as_str()
            .is_some_and(|s| s.starts_with("sk_test_")),
        "{key}"
    );
    let audit = ok(&db, &["audit", "list", "--org", "acme"]).await;
    assert_eq!(audit[0]["action"], "api_key.created", "{audit}");
    assert_eq!(audit[0]["actor"], "ci-bot");

    let cli = Cli::try_parse_from(["sendops-admin", "org", "list", "--bogus"]);
    assert!(cli.is_err(), "unknown flags are refused");
    db.drop().await;
}
