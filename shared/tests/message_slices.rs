//! The message list's time slices (`read::messages`): a sparse org's first page widens slice by
//! slice; its next first page starts from the rate the last one saw and takes one statement, with
//! the same rows. Filtered pages do not use (or teach) the rate.

use sendops_shared::Store;
use sendops_shared::control::org::{NewOrg, Plan};
use sendops_shared::read::messages::MessageFilter;
use sendops_shared::store::testing::TestDb;
use sendops_shared::timefmt::{DAY_MS, EpochMs, TimeRange, format_ms_precise, now_ms};
use sendops_shared::write::pipeline::{Pipeline, Record, Source};
use serde_json::json;

const ACCOUNT: &str = "123456789012";

/// Statements the message list sent for `org` so far (from `system.query_log`; org ids are
/// random, so no other test's statements match).
async fn slice_statements(store: &Store, org: uuid::Uuid) -> u64 {
    store
        .client()
        .query("SYSTEM FLUSH LOGS")
        .execute()
        .await
        .unwrap();
    store
        .client()
        .query("SELECT count() FROM system.query_log WHERE type = 2 AND query LIKE ?")
        .bind(format!(
            "%FROM messages WHERE org_id = '{org}' AND sent_ms >= %"
        ))
        .fetch_one::<u64>()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_sparse_orgs_next_page_starts_from_its_learned_rate() {
    let db = TestDb::new("message_slices").await;
    let org = db
        .store
        .create_org(NewOrg {
            name: "Sparse".into(),
            slug: "sparse".into(),
            aws_account_id: ACCOUNT.into(),
            region: "us-east-1".into(),
            plan: Plan::Enterprise,
        })
        .await
        .unwrap();
    // One message every 20 minutes over the last 80 hours: an hour holds three.
    let now = now_ms();
    let bodies: Vec<String> = (0..240)
        .map(|i| {
            let sent = now - 60_000 - i * 1_200_000;
            json!({"eventType": "Send", "send": {}, "mail": {
                "timestamp": format_ms_precise(sent), "source": "ops@acme.example",
                "sendingAccountId": ACCOUNT, "messageId": format!("sparse-{i:04}"),
                "destination": ["ann@example.com"], "tags": {}}})
            .to_string()
        })
        .collect();
    let records: Vec<Record<'_>> = bodies.iter().map(|b| Record { body: b }).collect();
    Pipeline::new(db.store.clone(), Source::Replay)
        .process(&records)
        .await
        .unwrap();

    let window = TimeRange::new(EpochMs(now - 30 * DAY_MS), EpochMs(now + 1));
    let all = MessageFilter::default();
    let first = db
        .store
        .list_messages(org.id, window, None, &all, 51)
        .await
        .unwrap();
    let after_first = slice_statements(&db.store, org.id).await;
    assert!(
        after_first >= 3,
        "1 h, 4 h, 16 h until 51 messages: {after_first} statements"
    );
    let second = db
        .store
        .list_messages(org.id, window, None, &all, 51)
        .await
        .unwrap();
    let after_second = slice_statements(&db.store, org.id).await;
    assert_eq!(
        after_second - after_first,
        1,
        "one slice sized from the rate"
    );
    assert_eq!(first, second, "the same page");
    assert_eq!(first.len(), 51);
    assert_eq!(first[0].message_id, "sparse-0000");

    // A filtered page starts at an hour again (its rate is not the org's).
    let filtered = MessageFilter {
        recipient: Some("ann@example.com".into()),
        ..MessageFilter::default()
    };
    let third = db
        .store
        .list_messages(org.id, window, None, &filtered, 51)
        .await
        .unwrap();
    let after_third = slice_statements(&db.store, org.id).await;
    assert_eq!(third, first);
    assert!(
        after_third - after_second >= 3,
        "{}",
        after_third - after_second
    );
    db.drop().await;
}
