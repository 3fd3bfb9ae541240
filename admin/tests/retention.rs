//! `sendops-admin erase` and `prune` on the real ClickHouse: traffic ingested through the
//! pipeline; after `erase` no table of the database holds the address (every String and
//! Array(String) column, the `messages` destination states, `engaged`'s hash) while the other
//! recipients' answers are unchanged; `prune` at the retention edge removes only rows before
//! retention + grace and leaves the reports of the kept window unchanged.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sendops_shared::control::org::{Org, Plan};
use sendops_shared::read::messages::MessageRow;
use sendops_shared::read::reports::Counts;
use sendops_shared::store::retention::{PruneOptions, email_sha256};
use sendops_shared::store::testing::TestDb;
use sendops_shared::timefmt::{DAY_MS, UtcDay, day_to_date, format_ms_precise, now_ms};
use sendops_shared::undeliverable::{Entry, RuleSet};
use sendops_shared::{EventType, Store};
use sendops_testkit::process::assert_success;
use serde_json::{Value, json};
use uuid::Uuid;

use common::{
    Admin, RECIPIENTS, all_undeliverable, create_org, daily_counts, ingest, list_messages,
    query_u64 as count, range, traffic,
};

/// Rows naming `email` (any case) per table: every String and Array(String) column of every
/// table of the database, the merged `messages` destinations, and `engaged`'s recipient hash.
async fn scan(store: &Store, email: &str) -> BTreeMap<String, u64> {
    let columns = store
        .client()
        .query(
            "SELECT table, name, type FROM system.columns \
             WHERE database = currentDatabase() AND type IN ('String', 'Array(String)') \
             AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() \
             AND engine NOT LIKE '%View')",
        )
        .fetch_all::<(String, String, String)>()
        .await
        .unwrap();
    assert!(columns.iter().any(|c| c.0 == "quarantine"));
    let mut out = BTreeMap::new();
    for (table, name, kind) in &columns {
        let cond = if kind == "String" {
            format!("position(lower({name}), ?) > 0")
        } else {
            format!("arrayExists(x -> position(lower(x), ?) > 0, {name})")
        };
        let n = count(
            store,
            &format!("SELECT count() FROM {table} WHERE {cond}"),
            &[email],
        )
        .await;
        *out.entry(table.clone()).or_insert(0) += n;
    }
    out.insert(
        "messages.destination".into(),
        count(
            store,
            "SELECT count() FROM (SELECT anyMerge(destination) AS d FROM messages \
             GROUP BY org_id, sent_ms, message_id) \
             WHERE arrayExists(x -> position(lower(x), ?) > 0, d)",
            &[email],
        )
        .await,
    );
    out.insert(
        "engaged.recipient_hash".into(),
        count(
            store,
            "SELECT count() FROM engaged WHERE recipient_hash = sipHash128(?)",
            &[email],
        )
        .await,
    );
    out.retain(|_, n| *n > 0);
    out
}

/// What the API's read functions answer about everyone but `gone`.
#[derive(Debug, PartialEq)]
struct Others {
    by_recipient: Vec<Vec<(i64, String)>>,
    undeliverable: Vec<Entry>,
    /// Messages not sent to `gone`.
    untouched: Vec<MessageRow>,
    /// Messages to `gone` and others, with `gone` taken out of their destination.
    shared: Vec<(String, Vec<String>)>,
}

async fn others(store: &Store, org: &Org, gone: &str, from: i64, to: i64) -> Others {
    let mut by_recipient = Vec::new();
    for r in RECIPIENTS.iter().filter(|r| !r.eq_ignore_ascii_case(gone)) {
        by_recipient.push(
            store
                .recipient_message_keys(org.id, r, range(from, to), None, 10_000)
                .await
                .unwrap(),
        );
    }
    let q = all_undeliverable(now_ms(), org.plan.retention_days());
    let mut undeliverable = store
        .list_undeliverable(org.id, &RuleSet::default(), &q)
        .await
        .unwrap();
    undeliverable.retain(|e| !e.email.eq_ignore_ascii_case(gone));
    let messages = list_messages(store, org.id, from, to, 10_000).await;
    let names = |m: &MessageRow| m.destination.iter().any(|d| d.eq_ignore_ascii_case(gone));
    let untouched = messages.iter().filter(|m| !names(m)).cloned().collect();
    let shared = messages
        .iter()
        .filter(|m| names(m) && m.destination.len() > 1)
        .map(|m| {
            let mut d: Vec<String> = m
                .destination
                .iter()
                .filter(|d| !d.eq_ignore_ascii_case(gone))
                .cloned()
                .collect();
            d.sort();
            (m.message_id.clone(), d)
        })
        .collect();
    Others {
        by_recipient,
        undeliverable,
        untouched,
        shared,
    }
}

#[tokio::test]
async fn erase_leaves_no_trace_of_the_address_and_the_others_unchanged() {
    let db = TestDb::new("erase_address").await;
    let store = &db.store;
    let org = create_org(store, "acme", "123456789012", Plan::Pro).await;
    let gone = "Bob@Example.com";
    let lower = gone.to_lowercase();
    let mut bodies = traffic("123456789012", "m", 160, 6, 7);
    // A record no org owns, naming the address: quarantined with its raw text.
    bodies.push(
        json!({"eventType": "Send", "send": {}, "mail": {
            "timestamp": format_ms_precise(now_ms() - DAY_MS), "source": "ops@acme.example",
            "sendingAccountId": "999999999999", "messageId": "stray-1",
            "destination": [gone]}})
        .to_string(),
    );
    assert!(ingest(store, &bodies).await > 0);
    // An exclusion and its audit entry naming the address.
    let admin = Admin { db: &db };
    assert_success(&admin.run(&[
        "exclusion",
        "add",
        "--org",
        "acme",
        "--email",
        gone,
        "--by",
        "ops",
        "--reason",
        "test",
    ]));

    let before = scan(store, &lower).await;
    for t in [
        "events",
        "message_recipients",
        "message_timeline",
        "messages.destination",
        "undeliverable_history",
        "undeliverable_exclusions",
        "quarantine",
        "audit_log",
    ] {
        assert!(
            before.get(t).copied().unwrap_or(0) > 0,
            "{t} names the address before: {before:?}"
        );
    }
    let (from, to) = (now_ms() - 10 * DAY_MS, now_ms() + DAY_MS);
    let others_before = others(store, &org, gone, from, to).await;
    assert!(
        !others_before.shared.is_empty(),
        "some messages go to the address and others"
    );
    let daily_before = daily_counts(store, org.id, from, to).await;
    let bob_rows = store
        .client()
        .query(
            "SELECT toUInt16(day) AS d, toString(event_type) AS t, uniqExact(event_id) AS n \
             FROM events WHERE org_id = ? AND lower(recipient) = ? GROUP BY d, t",
        )
        .bind(org.id.to_string())
        .bind(lower.as_str())
        .fetch_all::<(u16, String, u64)>()
        .await
        .unwrap();
    assert!(!bob_rows.is_empty());

    let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let summary = store
        .erase_address(
            org.id,
            gone,
            "test",
            Arc::new(move |l| sink.lock().unwrap().push(l.to_owned())),
        )
        .await
        .unwrap();
    assert!(!lines.lock().unwrap().is_empty(), "progress is reported");
    let summary = serde_json::to_value(&summary).unwrap();
    assert_eq!(summary["email_sha256"], json!(email_sha256(gone)));
    assert!(summary["tables"]["events"].as_u64().unwrap() > 0);
    assert!(!summary.to_string().to_lowercase().contains(&lower));

    // Nothing names the address any more, in any table.
    assert_eq!(scan(store, &lower).await, BTreeMap::new());
    // The audit entry records the hash only.
    let audit = store.audit_log(org.id, 10).await.unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "recipient.erased")
        .expect("erasure audited");
    assert_eq!(entry.details["email_sha256"], json!(email_sha256(gone)));

    // Everyone else's answers are unchanged.
    let others_after = others(store, &org, gone, from, to).await;
    assert_eq!(others_after.by_recipient, others_before.by_recipient);
    assert_eq!(others_after.undeliverable, others_before.undeliverable);
    let mut untouched_after = others_after.untouched.clone();
    untouched_after.retain(|m| {
        others_before
            .untouched
            .iter()
            .any(|b| b.message_id == m.message_id)
    });
    assert_eq!(untouched_after, others_before.untouched);
    let mut shared_after: Vec<(String, Vec<String>)> = others_after
        .untouched
        .iter()
        .filter(|m| others_before.shared.iter().any(|s| s.0 == m.message_id))
        .map(|m| {
            let mut d = m.destination.clone();
            d.sort();
            (m.message_id.clone(), d)
        })
        .collect();
    shared_after.sort();
    let mut shared_before = others_before.shared.clone();
    shared_before.sort();
    assert_eq!(
        shared_after, shared_before,
        "shared messages keep the other recipients"
    );
    // Report rows: exactly the address's events fewer.
    let daily_after = daily_counts(store, org.id, from, to).await;
    let mut expected: Counts<u16> = daily_before.clone();
    for (d, name, n) in &bob_rows {
        let t = EventType::ALL
            .iter()
            .copied()
            .find(|t| format!("{t:?}") == *name)
            .unwrap();
        let c = expected.get_mut(d).unwrap().get_mut(&t).unwrap();
        c.rows -= n;
    }
    for (day, types) in &expected {
        for (t, c) in types {
            let got = daily_after
                .get(day)
                .and_then(|m| m.get(t))
                .map(|c| c.rows)
                .unwrap_or(0);
            assert_eq!(got, c.rows, "day {day} {t:?}");
        }
    }
    db.drop().await;
}

/// Send, Delivery and Open of one message to one address at `sent`.
fn message(account: &str, id: &str, sent: i64, to: &str) -> Vec<String> {
    let mail = json!({"timestamp": format_ms_precise(sent), "source": "ops@acme.example",
        "sendingAccountId": account, "messageId": id, "destination": [to],
        "tags": {"ses:configuration-set": ["transactional"]}});
    let at = |t: i64| format_ms_precise(t);
    vec![
        json!({"eventType": "Send", "send": {}, "mail": mail}).to_string(),
        json!({"eventType": "Delivery", "mail": mail, "delivery": {"timestamp": at(sent + 1000),
            "processingTimeMillis": 900, "recipients": [to], "smtpResponse": "250 ok",
            "reportingMTA": "mta.example.com"}})
        .to_string(),
        json!({"eventType": "Open", "mail": mail, "open": {"timestamp": at(sent + 60_000),
            "ipAddress": "192.0.2.1", "userAgent": "UA"}})
        .to_string(),
        json!({"eventType": "Bounce", "mail": mail, "bounce": {"bounceType": "Transient",
            "bounceSubType": "MailboxFull", "timestamp": at(sent + 2000), "feedbackId": id,
            "bouncedRecipients": [{"emailAddress": to}]}})
        .to_string(),
    ]
}

/// The days (since the epoch) the org has events on.
async fn days_of(store: &Store, org: Uuid) -> BTreeSet<i64> {
    let sql = format!("SELECT DISTINCT toInt64(toUInt16(day)) FROM events WHERE org_id = '{org}'");
    let days = store.client().query(&sql).fetch_all::<i64>().await;
    BTreeSet::from_iter(days.unwrap())
}

/// The org's change counter of one day (since the epoch).
async fn changes_of_day(store: &Store, org: Uuid, day: i64) -> BTreeMap<u16, u64> {
    let day = UtcDay(day as u16);
    store.day_changes(org, day, day).await.unwrap()
}

#[tokio::test]
async fn prune_removes_rows_past_retention_and_grace_only() {
    let db = TestDb::new("prune_edge").await;
    let store = &db.store;
    let acme = create_org(store, "acme", "123456789012", Plan::Free).await;
    let big = create_org(store, "big", "210987654321", Plan::Enterprise).await;
    let now = now_ms();
    let today = now.div_euclid(DAY_MS);
    let keep_from = today - 30 - 7; // free plan: 30 days, grace 7
    let noon = |d: i64| d * DAY_MS + DAY_MS / 2;
    let mut bodies = Vec::new();
    // Acme: alone in an old month (its partitions drop), the day before the cutoff (deleted),
    // the cutoff day (kept: grace), one day inside the window, yesterday.
    for (i, d) in [today - 200, keep_from - 1, keep_from, today - 29, today - 1]
        .into_iter()
        .enumerate()
    {
        bodies.extend(message(
            "123456789012",
            &format!("a-{i}"),
            noon(d),
            "ann@example.com",
        ));
    }
    // Big (365 days) shares the partitions of the cutoff month: those are deleted from, not
    // dropped.
    bodies.extend(message(
        "210987654321",
        "b-0",
        noon(keep_from - 1),
        "ann@example.com",
    ));
    ingest(store, &bodies).await;
    let (from, to) = (today * DAY_MS - 30 * DAY_MS, now + DAY_MS);
    let reports_before = daily_counts(store, acme.id, from, to).await;
    let list_before = list_messages(store, acme.id, keep_from * DAY_MS, to, 100).await;
    let changes_before = changes_of_day(store, acme.id, keep_from - 1).await;
    let opts = |dry_run| PruneOptions {
        orgs: None,
        grace_days: 7,
        dry_run,
        now_ms: now,
        progress: Arc::new(|line| eprintln!("prune: {line}")),
    };

    let dry = store.prune(&opts(true)).await.unwrap();
    assert_eq!(dry.tables["events"].rows_deleted, 4, "{dry:?}");
    assert_eq!(dry.tables["events"].partitions_dropped.len(), 1, "{dry:?}");
    assert_eq!(
        days_of(store, acme.id).await.len(),
        5,
        "a dry run changes nothing"
    );

    let done = store.prune(&opts(false)).await.unwrap();
    let month = day_to_date((today - 200) as u16).format("%Y%m").to_string();
    assert_eq!(done.tables["events"].partitions_dropped, vec![month]);
    assert_eq!(done.tables["events"].rows_in_dropped_partitions, 4);
    assert_eq!(done.tables["events"].rows_deleted, 4);
    assert_eq!(done.days_bumped, 2);
    assert_eq!(
        days_of(store, acme.id).await,
        BTreeSet::from([keep_from, today - 29, today - 1])
    );
    assert_eq!(
        days_of(store, big.id).await,
        BTreeSet::from([keep_from - 1])
    );
    // No derived row of acme before the cutoff either.
    let cutoff_ms = (keep_from * DAY_MS).to_string();
    let acme_id = acme.id.to_string();
    for (table, time) in [
        ("ingested_events", "toInt64(toUInt16(day)) * 86400000"),
        ("message_timeline", "occurred_ms"),
        ("engaged", "occurred_ms"),
        ("messages", "sent_ms"),
        ("message_recipients", "sent_ms"),
        ("message_index", "sent_ms"),
        ("undeliverable_history", "occurred_ms"),
        ("undeliverable_activity", "ingested_ms"),
    ] {
        let old = count(
            store,
            &format!("SELECT count() FROM {table} WHERE org_id = ? AND {time} < toInt64(?)"),
            &[&acme_id, &cutoff_ms],
        )
        .await;
        assert_eq!(old, 0, "{table} keeps rows before the cutoff");
        let kept = count(
            store,
            &format!("SELECT count() FROM {table} WHERE org_id = ?"),
            &[&acme_id],
        )
        .await;
        assert!(
            kept > 0 || table == "undeliverable_activity",
            "{table} keeps the window"
        );
    }
    let changes_after = changes_of_day(store, acme.id, keep_from - 1).await;
    assert!(
        changes_after.values().sum::<u64>() > changes_before.values().sum::<u64>(),
        "the pruned day's counter moved"
    );
    // The kept window answers as before.
    let reports_after = daily_counts(store, acme.id, from, to).await;
    assert_eq!(format!("{reports_after:?}"), format!("{reports_before:?}"));
    let list_after = list_messages(store, acme.id, keep_from * DAY_MS, to, 100).await;
    assert_eq!(list_after, list_before);
    // A second run finds nothing more.
    let again = store.prune(&opts(false)).await.unwrap();
    assert!(
        again
            .tables
            .values()
            .all(|t| t.rows_deleted == 0 && t.partitions_dropped.is_empty()),
        "{again:?}"
    );
    db.drop().await;
}

#[tokio::test]
async fn erase_and_prune_commands_print_progress_and_a_summary() {
    let db = TestDb::new("retention_cli").await;
    let store = &db.store;
    create_org(store, "acme", "123456789012", Plan::Free).await;
    let now = now_ms();
    ingest(
        store,
        &message("123456789012", "c-1", now - DAY_MS, "Zoe@Example.com"),
    )
    .await;
    let admin = Admin { db: &db };
    let out = admin.run(&["erase", "--org", "acme", "--email", "zoe@example.com"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("sendops-admin erase: "), "{stderr}");
    assert!(
        !stdout.to_lowercase().contains("zoe@example.com"),
        "{stdout}"
    );
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["org"], json!("acme"));
    assert_eq!(
        summary["email_sha256"],
        json!(email_sha256("Zoe@Example.com"))
    );
    assert_eq!(summary["tables"]["events"], json!(4));
    assert_eq!(scan(store, "zoe@example.com").await, BTreeMap::new());
    for bad in [
        vec!["erase", "--org", "nope", "--email", "a@example.com"],
        vec!["erase", "--org", "acme", "--email", "not-an-address"],
        vec!["prune", "--org", "nope"],
    ] {
        let out = admin.run(&bad);
        assert!(!out.status.success(), "{bad:?}");
        assert!(out.stdout.is_empty(), "{bad:?}");
    }
    let out = admin.run(&["prune", "--dry-run"]);
    assert_success(&out);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["dry_run"], json!(true));
    assert_eq!(summary["grace_days"], json!(7));
    assert_eq!(summary["orgs"][0]["retention_days"], json!(30));
    assert_eq!(summary["tables"]["events"]["rows_deleted"], json!(0));
    db.drop().await;
}
