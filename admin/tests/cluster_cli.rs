//! `sendops-admin migrate --cluster NAME` and `CLICKHOUSE_CLUSTER` as a process: which form of
//! the schema a run would create (`--dry-run` reads the bookkeeping only, so this runs on the
//! single server of `make test`). The cluster itself: query-api/tests/cluster.rs.

mod common;

use std::process::Command;

use sendops_shared::store::migrations::MIGRATIONS;
use sendops_shared::store::testing::TestDb;
use serde_json::Value;

fn dry_run(db: &TestDb, env_cluster: Option<&str>, args: &[&str]) -> Vec<String> {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sendops-admin"));
    c.args(["migrate", "--dry-run"])
        .args(args)
        .env("CLICKHOUSE_URL", &db.config.url)
        .env("CLICKHOUSE_DATABASE", &db.config.database)
        .env_remove("CLICKHOUSE_CLUSTER")
        .env_remove("RUST_LOG");
    if let Some(name) = env_cluster {
        c.env("CLICKHOUSE_CLUSTER", name);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let plan = plan.as_array().unwrap();
    assert_eq!(plan.len(), MIGRATIONS.len());
    plan.iter()
        .flat_map(|m| m["statements"].as_array().unwrap().iter())
        .map(|s| s["sql"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_flag_wins_over_the_variable_and_neither_keeps_the_single_server_schema() {
    let db = TestDb::unmigrated("cli_cluster_forms");
    let events = |sql: &Vec<String>| {
        sql.iter()
            .find(|s| {
                s.contains("events_local") || s.starts_with("CREATE TABLE IF NOT EXISTS events")
            })
            .cloned()
            .unwrap()
    };

    // Neither: exactly the migration files' statements.
    let plain = dry_run(&db, None, &[]);
    let files: Vec<String> = MIGRATIONS.iter().flat_map(|m| m.statements()).collect();
    assert_eq!(plain, files);

    // The variable alone.
    let from_env = dry_run(&db, Some("envcluster"), &[]);
    assert!(
        events(&from_env).contains("ON CLUSTER `envcluster`"),
        "{}",
        events(&from_env)
    );
    assert!(
        from_env
            .iter()
            .any(|s| s.contains("Distributed('envcluster'")),
        "a Distributed table over the cluster"
    );

    // The flag wins over the variable.
    let flagged = dry_run(&db, Some("envcluster"), &["--cluster", "flagcluster"]);
    assert!(flagged.iter().all(|s| !s.contains("envcluster")));
    assert!(
        events(&flagged).contains("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/"),
        "{}",
        events(&flagged)
    );
    assert!(events(&flagged).contains("ON CLUSTER `flagcluster`"));
    db.drop().await;
}

/// On a cluster without `CLICKHOUSE_NODES`, the commands that delete rows refuse before
/// touching anything (18.16's Distributed tables take no mutations; docs/scale-out.md).
#[tokio::test]
async fn prune_erase_and_repair_on_a_cluster_need_the_nodes() {
    let db = TestDb::new("cli_cluster_mutations").await;
    common::create_org(
        &db.store,
        "acme",
        "123456789012",
        sendops_shared::control::org::Plan::Pro,
    )
    .await;
    for args in [
        vec!["prune", "--dry-run"],
        vec!["erase", "--org", "acme", "--email", "a@example.com"],
        vec!["repair", "--org", "acme"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_sendops-admin"))
            .args(&args)
            .env("CLICKHOUSE_URL", &db.config.url)
            .env("CLICKHOUSE_DATABASE", &db.config.database)
            .env("CLICKHOUSE_CLUSTER", "somecluster")
            .env_remove("CLICKHOUSE_NODES")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains("CLICKHOUSE_NODES") && stderr.contains("somecluster"),
            "{args:?}: {stderr}"
        );
    }
}
