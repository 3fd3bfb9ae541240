//! `sendops-admin prune` and the operator's records (docs/retention.md): resolved quarantine
//! entries older than `--quarantine-days`, notices and their confirmation attempts older than
//! `--notice-days` are removed by a whole-platform run; open quarantine entries and newer records
//! stay; `--dry-run` only counts; `--org` leaves the records alone.

mod common;

use common::{Admin, create_acme};

use sendops_shared::store::testing::TestDb;
use sendops_shared::store::{ConfirmationOutcome, ConfirmationRow, NoticeRow, QuarantineRow};
use sendops_shared::timefmt::{DAY_MS, now_ms};
use serde_json::{Value, json};
use uuid::Uuid;

fn quarantined(n: u128, received_ms: i64, resolved_ms: i64, version: u64) -> QuarantineRow {
    QuarantineRow {
        id: Uuid::from_u128(n),
        received_ms,
        source: "poll".into(),
        reason: "invalid_json".into(),
        detail: "bad".into(),
        account_id: String::new(),
        raw: format!("record {n}"),
        resolved_ms,
        version,
    }
}

fn notice(n: u128, received_ms: i64) -> NoticeRow {
    NoticeRow {
        id: Uuid::from_u128(n),
        received_ms,
        kind: "sns_subscription_confirmation".into(),
        topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
        raw: format!("{{\"n\":{n}}}"),
    }
}

fn attempt(n: u128, attempted_ms: i64) -> ConfirmationRow {
    ConfirmationRow {
        notice_id: Uuid::from_u128(n),
        attempted_ms,
        topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
        outcome: ConfirmationOutcome::Confirmed.code(),
        detail: String::new(),
        subscription_arn: "arn:sub".into(),
    }
}

async fn ids(db: &TestDb, sql: &str) -> Vec<u128> {
    let mut ids: Vec<u128> = db
        .store
        .client()
        .query(sql)
        .fetch_all::<String>()
        .await
        .unwrap()
        .iter()
        .map(|s| Uuid::parse_str(s).unwrap().as_u128())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_removes_old_resolved_quarantine_and_old_notices_only() {
    let db = TestDb::new("prune_records").await;
    let now = now_ms();
    let days = |d: i64| now - d * DAY_MS;
    db.store
        .insert_quarantine(&[
            // 1: resolved 40 days ago (both versions go); 2: resolved 10 days ago (kept);
            // 3: open since 400 days (kept: it waits for an operator).
            quarantined(1, days(50), 0, 1),
            quarantined(1, days(50), days(40), 2),
            quarantined(2, days(50), 0, 1),
            quarantined(2, days(50), days(10), 2),
            quarantined(3, days(400), 0, 1),
        ])
        .await
        .unwrap();
    db.store
        .insert_notices(&[notice(11, days(100)), notice(12, days(5))])
        .await
        .unwrap();
    db.store
        .insert_confirmations(&[attempt(11, days(100)), attempt(12, days(5))])
        .await
        .unwrap();
    // `sendops-admin prune <args>`, which must succeed: its JSON.
    let admin = |args: &[&str]| Admin { db: &db }.ok(&[&["prune"], args].concat());
    let quarantine = "SELECT toString(id) FROM quarantine";
    let notices = "SELECT toString(id) FROM notices";
    let attempts = "SELECT toString(notice_id) FROM notice_confirmations";

    let dry = admin(&[
        "--dry-run",
        "--quarantine-days",
        "30",
        "--notice-days",
        "90",
    ]);
    assert_eq!(
        dry["records"],
        json!({"quarantine_resolved": 2, "notices": 1, "notice_confirmations": 1,
               "quarantine_days": 30, "notice_days": 90})
    );
    assert_eq!(ids(&db, quarantine).await, vec![1, 2, 3]);
    assert_eq!(ids(&db, notices).await, vec![11, 12]);

    // --org prunes that org's data only; the records belong to no org.
    Admin { db: &db }.ok(&create_acme("123456789012", &[]));
    let scoped = admin(&[
        "--org",
        "acme",
        "--quarantine-days",
        "1",
        "--notice-days",
        "1",
    ]);
    assert_eq!(scoped["records"], Value::Null);
    assert_eq!(ids(&db, quarantine).await, vec![1, 2, 3]);

    let done = admin(&[]);
    assert_eq!(done["records"]["quarantine_resolved"], json!(2));
    assert_eq!(done["records"]["quarantine_days"], json!(30));
    assert_eq!(done["records"]["notice_days"], json!(90));
    assert_eq!(ids(&db, quarantine).await, vec![2, 3]);
    assert_eq!(ids(&db, notices).await, vec![12]);
    assert_eq!(ids(&db, attempts).await, vec![12]);
    // Nothing left to prune.
    let again = admin(&[]);
    assert_eq!(
        again["records"],
        json!({"quarantine_resolved": 0, "notices": 0, "notice_confirmations": 0,
               "quarantine_days": 30, "notice_days": 90})
    );
    db.drop().await;
}
