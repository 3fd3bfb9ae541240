//! `sendops-admin migrate` as processes: two started together, one killed mid-backfill and run
//! again, `--status` and `--dry-run`, and an edited migration refused.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sendops_shared::store::migrate::MigrateOptions;
use sendops_shared::store::migrations::MIGRATIONS;
use sendops_shared::store::testing::TestDb;
use serde_json::Value;

fn admin(db: &TestDb, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sendops-admin"));
    c.arg("migrate")
        .args(args)
        .env("CLICKHOUSE_URL", &db.config.url)
        .env("CLICKHOUSE_DATABASE", &db.config.database)
        .env_remove("RUST_LOG");
    c
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

async fn count(db: &TestDb, sql: &str) -> u64 {
    db.store
        .client()
        .query(sql)
        .fetch_one::<u64>()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_processes_started_together_on_an_empty_database() {
    let db = TestDb::unmigrated("cli_two_processes");
    let a = admin(&db, &["--lock-lease", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = admin(&db, &["--lock-lease", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let names = |o: &Output| -> Vec<String> {
        json(o)["applied"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let (na, nb) = (names(&a), names(&b));
    assert_eq!(na.len() + nb.len(), MIGRATIONS.len(), "{na:?} {nb:?}");
    let status = admin(&db, &["--status"]).output().unwrap();
    assert!(status.status.success());
    let status = json(&status);
    assert_eq!(
        status["applied"].as_array().unwrap().len(),
        MIGRATIONS.len()
    );
    assert_eq!(status["pending"], Value::Array(vec![]));
    assert_eq!(status["mismatches"], Value::Array(vec![]));
    assert_eq!(
        count(&db, "SELECT count() FROM schema_migrations").await,
        MIGRATIONS.len() as u64
    );
    db.drop().await;
}

#[tokio::test]
async fn a_process_killed_mid_backfill_then_rerun_stores_each_row_once() {
    const EVENTS: u64 = 1_000_000;
    let db = TestDb::unmigrated("cli_killed_backfill");
    let mut up_to_7 = MigrateOptions::default();
    up_to_7.target = Some(7);
    db.store.migrate_with(&up_to_7).await.unwrap();
    // Every event an Open, so 0008's backfill into `engaged` (a plain MergeTree) has them all.
    db.store
        .client()
        .query(&format!(
            "INSERT INTO events (org_id, day, event_id, occurred_ms, event_type, message_id, recipient, ingested_ms) \
             SELECT toUUID('00000000-0000-0000-0000-0000000000aa'), toDate('2024-01-01') + (number % 90), \
             generateUUIDv4(), toInt64(number), CAST('Open' AS Enum8('Send' = 1, 'Delivery' = 2, \
             'Bounce' = 3, 'Complaint' = 4, 'Reject' = 5, 'Open' = 6, 'Click' = 7, 'DeliveryDelay' = 8, \
             'RenderingFailure' = 9, 'Subscription' = 10)), concat('m', toString(number)), \
             concat('r', toString(number), '@x.test'), toInt64(1) FROM numbers({EVENTS})"
        ))
        .execute()
        .await
        .unwrap();
    let mut child = admin(&db, &["--lock-lease", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("applying 0008_report_uniques statement 3/") {
            break;
        }
    }
    assert!(
        seen.last()
            .unwrap()
            .contains("0008_report_uniques statement 3/"),
        "{seen:?}"
    );
    std::thread::sleep(Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();
    // Killed while the backfill was being staged (not yet moved into `engaged`).
    let staging = count(
        &db,
        "SELECT count() FROM system.tables WHERE database = currentDatabase() \
         AND name = 'schema_migrations_staging_0008_3'",
    )
    .await;
    assert_eq!(
        staging, 1,
        "the kill came after the backfill finished staging"
    );
    let partial = count(&db, "SELECT count() FROM engaged").await;
    assert!(partial < EVENTS, "{partial}");
    let rerun = admin(&db, &["--lock-lease", "3"]).output().unwrap();
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert!(
        stderr.contains("skipping 0008_report_uniques statement 2/"),
        "{stderr}"
    );
    assert_eq!(count(&db, "SELECT count() FROM engaged").await, EVENTS);
    let status = json(&admin(&db, &["--status"]).output().unwrap());
    assert_eq!(status["pending"], Value::Array(vec![]));
    db.drop().await;
}

#[tokio::test]
async fn status_dry_run_and_an_edited_migration() {
    let db = TestDb::unmigrated("cli_status");
    let mut up_to_8 = MigrateOptions::default();
    up_to_8.target = Some(8);
    db.store.migrate_with(&up_to_8).await.unwrap();
    let out = admin(&db, &["--dry-run"]).output().unwrap();
    assert!(out.status.success());
    let plan = json(&out);
    let plan = plan.as_array().unwrap();
    assert_eq!(plan.len(), MIGRATIONS.len() - 8);
    assert_eq!(plan[0]["name"], "0009_message_timeline");
    assert_eq!(plan[0]["statements"][2]["backfill"], "message_timeline");
    assert!(
        plan[0]["statements"][0]["sql"]
            .as_str()
            .unwrap()
            .starts_with("CREATE TABLE")
    );
    let status = json(&admin(&db, &["--status"]).output().unwrap());
    assert_eq!(status["applied"].as_array().unwrap().len(), 8);
    assert_eq!(status["pending"][0]["name"], "0009_message_timeline");
    let keys: Vec<&String> = status["applied"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["applied_at", "checksum", "name", "version"]);
    assert_eq!(
        db.store.applied_migrations().await.unwrap().len(),
        8,
        "dry run applied nothing"
    );

    db.store
        .client()
        .query("INSERT INTO schema_migrations_checksums (version, checksum, recorded_ms) VALUES (2, 'deadbeef', 9000000000000)")
        .execute()
        .await
        .unwrap();
    let out = admin(&db, &["--status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let status = json(&out);
    assert_eq!(status["mismatches"][0]["name"], "0002_api_keys");
    assert_eq!(status["mismatches"][0]["recorded"], "deadbeef");
    let out = admin(&db, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("0002_api_keys") && stderr.contains("deadbeef"),
        "{stderr}"
    );
    assert_eq!(
        db.store.applied_migrations().await.unwrap().len(),
        8,
        "nothing applied"
    );
    db.drop().await;
}
