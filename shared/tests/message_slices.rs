//! The message list's time slices (`read::messages`): a sparse org's first page widens slice by
//! slice; its next first page starts from the rate the last one saw and takes one statement, with
//! the same rows. Filtered pages do not use (or teach) the rate.

use sendops_shared::Store;
use sendops_shared::control::org::Plan;
use sendops_shared::read::messages::{MessageFilter, MessageRow};
use sendops_shared::store::testing::{TestDb, create_test_org};
use sendops_shared::timefmt::{DAY_MS, EpochMs, TimeRange, format_ms_precise, now_ms};
use sendops_shared::write::pipeline::{Pipeline, Record, Source};
use serde_json::json;

const ACCOUNT: &str = "123456789012";

/// The width (upper − lower bound, ms) of every slice the message list read for `org` so far,
/// sorted (from `system.query_log`; org ids are random, so no other test's statements match).
async fn slice_widths(store: &Store, org: uuid::Uuid) -> Vec<i64> {
    store
        .client()
        .query("SYSTEM FLUSH LOGS")
        .execute()
        .await
        .unwrap();
    let statements = store
        .client()
        .query("SELECT query FROM system.query_log WHERE type = 2 AND query LIKE ?")
        .bind(format!(
            "%FROM messages WHERE org_id = '{org}' AND sent_ms >= %"
        ))
        .fetch_all::<String>()
        .await
        .unwrap();
    let bound = |q: &str, after: &str| -> i64 {
        let rest = &q[q.find(after).unwrap() + after.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap()
    };
    let mut widths: Vec<i64> = statements
        .iter()
        .map(|q| bound(q, "sent_ms < ") - bound(q, "sent_ms >= "))
        .collect();
    widths.sort_unstable();
    widths
}

/// One page of `org`'s messages (51 at most) under `filter`, and then the widths of every slice
/// read for the org so far.
async fn page(
    store: &Store,
    org: uuid::Uuid,
    window: TimeRange,
    filter: &MessageFilter,
) -> (Vec<MessageRow>, Vec<i64>) {
    let rows = store
        .list_messages(org, window, None, filter, 51)
        .await
        .unwrap();
    (rows, slice_widths(store, org).await)
}

/// The widths in `now` that are not in `before` (both sorted).
fn new_widths(before: &[i64], now: &[i64]) -> Vec<i64> {
    let mut rest = before.to_vec();
    now.iter()
        .filter(|w| match rest.iter().position(|r| r == *w) {
            Some(i) => {
                rest.remove(i);
                false
            }
            None => true,
        })
        .copied()
        .collect()
}

#[tokio::test]
async fn a_sparse_orgs_next_page_starts_from_its_learned_rate() {
    let db = TestDb::new("message_slices").await;
    let org = create_test_org(&db.store, "sparse", ACCOUNT, Plan::Enterprise).await;
    // One message every 10 minutes over the last 40 hours: an hour holds six.
    let now = now_ms();
    let bodies: Vec<String> = (0..240)
        .map(|i| {
            let sent = now - 60_000 - i * 600_000;
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
    let (first, widths_first) = page(&db.store, org.id, window, &all).await;
    let after_first = widths_first.len() as u64;
    assert!(
        after_first >= 3,
        "1 h, 4 h, 16 h until 51 messages: {after_first} statements"
    );
    let (second, widths_second) = page(&db.store, org.id, window, &all).await;
    let after_second = widths_second.len() as u64;
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
    let (third, widths_third) = page(&db.store, org.id, window, &filtered).await;
    let after_third = widths_third.len() as u64;
    assert_eq!(third, first);
    assert!(
        after_third - after_second >= 3,
        "{}",
        after_third - after_second
    );

    // The same page again and again reads the same one slice: what a page teaches is its own
    // span, not the (wider) slice it read, so the slices do not widen page after page.
    let learned = new_widths(&widths_first, &widths_second);
    assert_eq!(learned.len(), 1);
    assert!(learned[0] < DAY_MS, "below the cap: {learned:?}");
    for _ in 0..4 {
        let again = db
            .store
            .list_messages(org.id, window, None, &all, 51)
            .await
            .unwrap();
        assert_eq!(again, first);
    }
    let widths_last = slice_widths(&db.store, org.id).await;
    assert_eq!(new_widths(&widths_third, &widths_last), vec![learned[0]; 4]);
    db.drop().await;
}
