//! `sendops-admin repair` on the real ClickHouse: an org's traffic is ingested through the
//! pipeline and read through the shared read functions; then every derived table is damaged the
//! ways the old ingest path could (rows missing from some or all views, derived rows doubled,
//! doubled undeliverable rows without an event id, missing done markers, caches computed from
//! the damaged tables); after `repair` every read answers exactly as before the damage, a second
//! repair changes nothing, and another org is untouched.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use sendops_shared::Store;
use sendops_shared::control::org::{Org, Plan};
use sendops_shared::read::engaged_index::EngagedIndex;
use sendops_shared::read::messages::{MessageFilter, MessageRow};
use sendops_shared::read::reports::{Counts, ReportFilter};
use sendops_shared::store::testing::{TestDb, exec};
use sendops_shared::timefmt::{
    DAY_MS, EpochMs, UtcDay, day_of_ms, day_to_date, format_ms_precise, now_ms,
};
use sendops_shared::undeliverable::{Entry, Profile, Rule, RuleSet};
use serde_json::Value;
use uuid::Uuid;

use common::{
    Admin, RECIPIENTS, all_measures, all_undeliverable, create_org, daily_counts, ingest_valid,
    list_messages, query_u64, range, traffic,
};

/// Runs an `ALTER TABLE … DELETE` and waits until the mutation is done (18.16 has no
/// synchronous mutations).
async fn delete_where(store: &Store, table: &str, condition: &str) {
    exec(
        store,
        &format!("ALTER TABLE {table} DELETE WHERE {condition}"),
    )
    .await;
    // Until the rows are gone (a replicated table lists the mutation only once the replica
    // has read it back from ZooKeeper) and no mutation is pending.
    for _ in 0..600 {
        let left = query_u64(
            store,
            &format!(
                "SELECT count() + (SELECT count() FROM system.mutations \
                 WHERE database = currentDatabase() AND is_done = 0) FROM {table} WHERE {condition}"
            ),
            &[],
        )
        .await;
        if left == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("mutation on {table} did not finish");
}

/// Everything the read functions answer about the org.
#[derive(Debug, PartialEq)]
struct Seen {
    /// `messages` (list_messages).
    messages: Vec<MessageRow>,
    /// `message_index` (message_by_id).
    by_id: Vec<Option<MessageRow>>,
    /// `message_recipients` (recipient_message_keys, and the list's recipient filter).
    by_recipient: Vec<Vec<(i64, String)>>,
    filtered: Vec<Vec<MessageRow>>,
    /// `message_timeline` (message_events), each sorted.
    timelines: Vec<Vec<String>>,
    /// `engaged`, `report_uniques_days`, seals (daily_counts).
    daily: Counts<u16>,
    /// `engaged` through the in-process index (template_counts).
    templates: Counts<String>,
    /// `undeliverable_history` and `undeliverable_activity` (list_undeliverable).
    undeliverable: Vec<Entry>,
}

struct Reader<'a> {
    store: &'a Store,
    org: &'a Org,
    /// The messages as first ingested: whose ids, recipients and timelines are read.
    keys: Vec<MessageRow>,
    from_ms: i64,
    to_ms: i64,
    now_ms: i64,
    rules: RuleSet,
}

impl Seen {
    /// The names of the parts in which `self` and `other` differ.
    fn differing_parts(&self, other: &Seen) -> Vec<&'static str> {
        [
            ("messages", self.messages != other.messages),
            ("by_id", self.by_id != other.by_id),
            ("by_recipient", self.by_recipient != other.by_recipient),
            ("filtered", self.filtered != other.filtered),
            ("timelines", self.timelines != other.timelines),
            ("daily", self.daily != other.daily),
            ("templates", self.templates != other.templates),
            ("undeliverable", self.undeliverable != other.undeliverable),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect()
    }
}

/// Every part of [`Seen`], by name.
const ALL_PARTS: [&str; 8] = [
    "messages",
    "by_id",
    "by_recipient",
    "filtered",
    "timelines",
    "daily",
    "templates",
    "undeliverable",
];

impl Reader<'_> {
    async fn seen(&self, index: &EngagedIndex) -> Seen {
        let (store, org) = (self.store, self.org.id);
        let messages = list_messages(store, org, self.from_ms, self.to_ms, 10_000).await;
        let mut by_id = Vec::new();
        let mut timelines = Vec::new();
        for m in &self.keys {
            by_id.push(
                store
                    .message_by_id(org, &m.message_id, EpochMs(0))
                    .await
                    .unwrap(),
            );
            let mut rows: Vec<String> = store
                .message_events(org, m)
                .await
                .unwrap()
                .iter()
                .map(|r| format!("{r:?}"))
                .collect();
            rows.sort();
            timelines.push(rows);
        }
        let mut by_recipient = Vec::new();
        let mut filtered = Vec::new();
        for r in RECIPIENTS {
            by_recipient.push(
                store
                    .recipient_message_keys(org, r, range(self.from_ms, self.to_ms), None, 10_000)
                    .await
                    .unwrap(),
            );
            let filter = MessageFilter {
                recipient: Some(r.to_owned()),
                ..MessageFilter::default()
            };
            filtered.push(
                store
                    .list_messages(org, range(self.from_ms, self.to_ms), None, &filter, 10_000)
                    .await
                    .unwrap(),
            );
        }
        let daily = daily_counts(store, org, self.from_ms, self.to_ms).await;
        let templates = store
            .template_counts(
                index,
                org,
                range(self.from_ms, self.to_ms),
                &ReportFilter::default(),
                all_measures(),
            )
            .await
            .unwrap();
        let q = all_undeliverable(self.now_ms, self.org.plan.retention_days());
        let undeliverable = store
            .list_undeliverable(org, &self.rules, &q)
            .await
            .unwrap();
        Seen {
            messages,
            by_id,
            by_recipient,
            filtered,
            timelines,
            daily,
            templates,
            undeliverable,
        }
    }
}

/// Distinct rows per derived table (and markers) of one org: a repair that only adds copies
/// leaves these unchanged.
async fn fingerprint(store: &Store, org: Uuid) -> BTreeMap<&'static str, u64> {
    let org = org.to_string();
    let mut out = BTreeMap::new();
    for table in [
        "message_index",
        "message_recipients",
        "message_timeline",
        "engaged",
        "engaged_recipients",
        "undeliverable_history",
        "undeliverable_activity",
        "ingested_events",
    ] {
        let sql = format!("SELECT count() FROM (SELECT DISTINCT * FROM {table} WHERE org_id = ?)");
        out.insert(table, query_u64(store, &sql, &[&org]).await);
    }
    let sql = "SELECT count() FROM (SELECT sent_ms, message_id FROM messages WHERE org_id = ? \
               GROUP BY sent_ms, message_id)";
    out.insert("messages", query_u64(store, sql, &[&org]).await);
    out
}

async fn day_changes(store: &Store, org: Uuid) -> BTreeMap<u16, u64> {
    store
        .day_changes(
            org,
            UtcDay(0),
            UtcDay(sendops_shared::store::repair::LAST_DAY),
        )
        .await
        .unwrap()
}

async fn distinct_events(store: &Store, org: Uuid) -> u64 {
    let sql = "SELECT uniqExact(event_id) FROM events WHERE org_id = ?";
    query_u64(store, sql, &[&org.to_string()]).await
}

const DAYS: u64 = 4;

#[tokio::test]
async fn repair_restores_every_read_and_twice_changes_nothing() {
    let db = TestDb::new("repair_all").await;
    let store = &db.store;
    let admin = Admin { db: &db };
    let org = create_org(store, "acme", "123456789012", Plan::Pro).await;
    let other = create_org(store, "other", "210987654321", Plan::Pro).await;
    let bodies = traffic("123456789012", "acme", 160, DAYS, 0x5EED_0001);
    let stored = ingest_valid(store, &bodies).await;
    assert!(stored > 400, "{stored} rows");
    ingest_valid(
        store,
        &traffic("210987654321", "other", 30, DAYS, 0x5EED_0002),
    )
    .await;

    let now = now_ms();
    let today = now.div_euclid(DAY_MS);
    let mut rules = RuleSet::of_profile(Profile::Strict).unwrap();
    rules = rules
        .with_rule(Rule::SoftBounceAccumulation, Some(true), Some(1), Some(30))
        .unwrap();
    let mut reader = Reader {
        store,
        org: &org,
        keys: Vec::new(),
        from_ms: (today - DAYS as i64 - 1) * DAY_MS,
        to_ms: now,
        now_ms: now,
        rules,
    };
    reader.keys = list_messages(store, org.id, reader.from_ms, reader.to_ms, 10_000).await;
    assert_eq!(reader.keys.len(), 160);
    let before = reader.seen(&EngagedIndex::new(64 << 20)).await;
    assert!(
        before.undeliverable.len() >= 5,
        "{:?}",
        before.undeliverable
    );
    assert!(before.timelines.iter().all(|t| !t.is_empty()));
    let other_before = fingerprint(store, other.id).await;
    let other_changes = day_changes(store, other.id).await;
    let events = distinct_events(store, org.id).await;

    // Damage, the ways the old path could, where the org's rows are (on a cluster: its shard's
    // local tables; 18.16's Distributed tables take no mutations).
    let damage = &store.route(org.id).await.unwrap();
    let acme = format!("org_id = toUUID('{}')", org.id);
    // (b) racing consumers: a second copy of a third of the events, through the views.
    exec(
        damage,
        &format!(
            "INSERT INTO events SELECT * FROM events WHERE {acme} \
             AND cityHash64(toString(event_id)) % 3 = 0"
        ),
    )
    .await;
    // (a) rows missing from some views…
    delete_where(
        damage,
        "messages",
        &format!("{acme} AND cityHash64(message_id) % 2 = 0"),
    )
    .await;
    delete_where(
        damage,
        "message_index",
        &format!("{acme} AND cityHash64(message_id) % 3 = 0"),
    )
    .await;
    delete_where(
        damage,
        "engaged",
        &format!("{acme} AND cityHash64(recipient_hash) % 2 = 0"),
    )
    .await;
    delete_where(
        damage,
        "engaged_recipients",
        &format!("{acme} AND cityHash64(recipient_hash) % 3 = 0"),
    )
    .await;
    delete_where(damage, "ingested_events", &acme).await;
    // …and from all rows of others (this database holds the other org too, so re-feed it by
    // hand after truncating: its rows must come out unchanged).
    for table in [
        "message_timeline",
        "message_recipients",
        "undeliverable_history",
        "undeliverable_activity",
        "undeliverable_activity_blocks",
    ] {
        exec(damage, &format!("TRUNCATE TABLE {table}")).await;
    }
    // The other org's rows back, as its views wrote them.
    let other_id = other.id.to_string();
    for d in sendops_shared::store::repair::DERIVED
        .iter()
        .filter(|d| d.table.starts_with("message_") || d.table.starts_with("undeliverable_"))
        .filter(|d| d.table != "message_index")
    {
        damage
            .client()
            .query(&d.repair_sql())
            .bind(other_id.as_str())
            .bind("1970-01-01")
            .bind("2105-12-30")
            .execute()
            .await
            .unwrap();
    }
    // Old undeliverable rows (0005's view: no event id), twice: two consumers raced.
    let old_view = "INSERT INTO undeliverable_history (org_id, okey, kind, occurred_ms, payload) \
        SELECT org_id, concat(toString(org_id), '/', lower(recipient)) AS okey, \
        CAST(multiIf(event_type = 'Bounce' AND bounce_type = 'Permanent', 'permanent', \
            event_type = 'Bounce' AND bounce_type = 'Transient', 'transient', \
            event_type = 'Bounce', 'undetermined', event_type = 'Complaint', 'complaint', \
            event_type = 'Reject', 'reject', 'delay') AS Enum8('permanent' = 1, 'transient' = 2, \
            'undetermined' = 3, 'complaint' = 4, 'reject' = 5, 'delay' = 6, 'rule_change' = 7, \
            'exclusion' = 8)) AS kind, occurred_ms, \
        concat(toString(occurred_ms), '\\t', toString(ingested_ms), '\\t', \
            multiIf(event_type = 'Bounce' AND bounce_type = 'Permanent', '1', \
                event_type = 'Bounce' AND bounce_type = 'Transient', '2', event_type = 'Bounce', '3', \
                event_type = 'Complaint', '4', event_type = 'Reject', '5', '6'), '\\t', \
            replaceAll(multiIf(event_type = 'Bounce', bounce_sub_type, event_type = 'Complaint', \
                feedback_type, ''), '\\t', ' '), '\\t', \
            replaceAll(diagnostic, '\\t', ' '), '\\t', replaceAll(sender, '\\t', ' ')) AS payload \
        FROM (SELECT * FROM events FINAL) \
        WHERE event_type IN ('Bounce', 'Complaint', 'Reject', 'DeliveryDelay') \
            AND (event_type != 'Bounce' OR bounce_type IN ('Permanent', 'Transient', 'Undetermined')) \
            AND org_id = ?";
    for _ in 0..2 {
        damage
            .client()
            .query(old_view)
            .bind(org.id.to_string())
            .execute()
            .await
            .unwrap();
    }
    // A report cached from the damaged tables (distinct counts of whole past days).
    exec(damage, "TRUNCATE TABLE report_uniques_days").await;
    assert_eq!(fingerprint(store, other.id).await, other_before);

    // An API process that loaded the damaged days into its engaged index.
    let live = EngagedIndex::new(64 << 20);
    let damaged = reader.seen(&live).await;
    assert_eq!(
        damaged.differing_parts(&before),
        ALL_PARTS,
        "every part damaged"
    );
    // Damaged and cached again: still damaged.
    assert_eq!(reader.seen(&live).await, damaged);

    // Unknown org, bad dates: a clear message and a non-zero exit, no panic.
    assert!(
        admin
            .fails(&["repair", "--org", "nope"])
            .contains("no org with slug \"nope\"")
    );
    let err = admin.fails(&["repair", "--org", "acme", "--from", "yesterday"]);
    assert!(err.contains("not an RFC 3339 timestamp"), "{err}");
    let err = admin.fails(&["repair", "--org", "acme", "--to", "1969-12-31T00:00:00Z"]);
    assert!(err.contains("outside the days events can have"), "{err}");
    let err = admin.fails(&[
        "repair",
        "--org",
        "acme",
        "--from",
        "2024-03-02T00:00:00Z",
        "--to",
        "2024-03-01T23:59:59Z",
    ]);
    assert!(err.contains("is after --to"), "{err}");
    assert_eq!(
        reader.seen(&live).await,
        damaged,
        "a refused repair changes nothing"
    );

    // One day only: the day of the oldest messages (sent just before midnight, opened after it:
    // their opens are on the next day and stay damaged).
    let first_day = (today - DAYS as i64) as u16;
    let day_arg = format_ms_precise(i64::from(first_day) * DAY_MS + 3_600_000);
    let (one, _) = admin.ok_logged(&[
        "repair", "--org", "acme", "--from", &day_arg, "--to", &day_arg,
    ]);
    assert_eq!(one["days"], 1);
    assert_eq!(one["from"], one["to"]);
    let partly = reader.seen(&live).await;
    assert_ne!(partly.timelines, before.timelines);

    // The whole history, in chunks of at most 150 rows.
    let changes_before = day_changes(store, org.id).await;
    let (summary, progress) = admin.ok_logged(&["repair", "--org", "acme", "--chunk-rows", "150"]);
    assert_eq!(summary["org"], "acme");
    assert_eq!(summary["org_id"], org.id.to_string());
    assert_eq!(summary["days"], DAYS + 1, "{summary}");
    assert_eq!(summary["events"], events);
    let chunks = summary["chunks"].as_u64().unwrap();
    assert!(chunks > DAYS, "{summary}");
    // Per chunk: one INSERT per derived table (9), the markers and the counters.
    assert_eq!(summary["statements"], 2 + 12 * chunks);
    assert_eq!(summary["tables"].as_array().unwrap().len(), 9);
    assert!(
        progress.contains("sendops-admin repair: chunk 1/"),
        "{progress}"
    );
    assert!(progress.contains(": undeliverable_history"), "{progress}");

    let after = reader.seen(&live).await;
    assert_eq!(
        after.differing_parts(&before),
        Vec::<&str>::new(),
        "every part repaired"
    );
    // A fresh process (nothing cached) agrees.
    assert_eq!(reader.seen(&EngagedIndex::new(64 << 20)).await, before);

    // Each day with events was counted once more, after its rows were back.
    let changes_after = day_changes(store, org.id).await;
    assert_eq!(changes_after.len(), changes_before.len());
    for (day, n) in &changes_before {
        assert_eq!(changes_after[day], n + 1, "day {day}");
    }
    // Every event has its done marker again: ingesting the traffic again stores nothing.
    assert_eq!(ingest_valid(store, &bodies).await, 0);

    // Twice: nothing changes but the counters.
    let tables = fingerprint(store, org.id).await;
    let (again, _) = admin.ok_logged(&["repair", "--org", "acme"]);
    assert_eq!(again["days"], DAYS + 1);
    let month = |d: u16| day_to_date(d).to_string()[..7].to_owned();
    let months = if month(first_day) == month(today as u16) {
        1
    } else {
        2
    };
    assert_eq!(again["chunks"], months, "{again}");
    assert_eq!(fingerprint(store, org.id).await, tables);
    assert_eq!(reader.seen(&live).await, before);

    // The other org was never touched.
    assert_eq!(fingerprint(store, other.id).await, other_before);
    assert_eq!(day_changes(store, other.id).await, other_changes);
    assert!(day_of_ms(now) > first_day);
    db.drop().await;
}

#[tokio::test]
async fn repair_of_an_org_without_events_does_nothing() {
    let db = TestDb::new("repair_empty").await;
    let admin = Admin { db: &db };
    create_org(&db.store, "quiet", "123456789012", Plan::Pro).await;
    let (out, _) = admin.ok_logged(&["repair", "--org", "quiet"]);
    assert_eq!(out["days"], 0);
    assert_eq!(out["events"], 0);
    assert_eq!(out["chunks"], 0);
    assert_eq!(out["from"], Value::Null);
    assert_eq!(out["statements"], 2);
    let (out, _) = admin.ok_logged(&[
        "repair",
        "--org",
        "quiet",
        "--from",
        "2024-02-28T10:00:00+02:00",
        "--to",
        "2024-03-01T00:00:00Z",
    ]);
    assert_eq!(out["from"], "2024-02-28");
    assert_eq!(out["to"], "2024-03-01");
    assert_eq!(out["days"], 0);
    db.drop().await;
}
