//! The migration runner on the real ClickHouse: concurrent runs, runs interrupted at each kind of
//! point and rerun, edited migrations, databases migrated before checksums, and the lock itself.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sendops_shared::Store;
use sendops_shared::store::migrate::{MigrateOptions, StopPoint, checksum};
use sendops_shared::store::migration_lock::{LOCK_TABLE_DDL, Lease};
use sendops_shared::store::migrations::MIGRATIONS;
use sendops_shared::store::testing::{TestDb, exec};

/// Seeded events: half of them Opens, spread over 90 days (three monthly partitions).
const EVENTS: u64 = 30_000;
const OPENS: u64 = EVENTS / 2;

fn opts() -> MigrateOptions {
    let mut o = MigrateOptions::default();
    o.lease.ttl = Duration::from_secs(2);
    o.lease.poll = Duration::from_millis(50);
    o.lease.wait = Duration::from_secs(120);
    o.progress = Arc::new(|_| {});
    o
}

fn up_to(version: u32) -> MigrateOptions {
    let mut o = opts();
    o.target = Some(version);
    o
}

async fn count(store: &Store, sql: &str) -> u64 {
    store
        .client()
        .query(sql)
        .fetch_one::<u64>()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Inserts `n` events (every other one an Open) into `events`.
pub async fn seed_events(store: &Store, n: u64) {
    exec(
        store,
        &format!(
            "INSERT INTO events (org_id, day, event_id, occurred_ms, event_type, message_id, sent_ms, \
             recipient, destination, ingested_ms) \
             SELECT toUUID('00000000-0000-0000-0000-0000000000aa'), toDate('2024-01-01') + (number % 90), \
             generateUUIDv4(), toInt64(number), \
             CAST(if(number % 2 = 0, 'Open', 'Send') AS Enum8('Send' = 1, 'Delivery' = 2, 'Bounce' = 3, \
             'Complaint' = 4, 'Reject' = 5, 'Open' = 6, 'Click' = 7, 'DeliveryDelay' = 8, \
             'RenderingFailure' = 9, 'Subscription' = 10)), \
             concat('m', toString(intDiv(number, 2))), toInt64(0), concat('r', toString(number), '@x.test'), \
             [concat('r', toString(number), '@x.test')], toInt64(1) FROM numbers({n})"
        ),
    )
    .await;
}

/// A database migrated up to `version` (before the first backfill when 6) with seeded events.
async fn seeded_at(name: &str, version: u32) -> TestDb {
    let db = TestDb::unmigrated(name);
    db.store.migrate_with(&up_to(version)).await.unwrap();
    seed_events(&db.store, EVENTS).await;
    db
}

/// A database seeded at `version - 1` whose run was then stopped at `point` of `version`'s
/// statement `statement` (the run fails).
async fn stopped_in(name: &str, version: u32, statement: usize, point: StopPoint) -> TestDb {
    let db = seeded_at(name, version - 1).await;
    let stopped = db
        .store
        .migrate_with(&opts().stop_at(version, statement, point))
        .await;
    assert!(stopped.is_err());
    db
}

/// Reruns the migrations to the end, checks the result with [`assert_complete`] (seeded) and
/// drops the database.
async fn rerun_completes(db: TestDb) {
    db.store.migrate_with(&opts()).await.unwrap();
    assert_complete(&db, true).await;
    db.drop().await;
}

/// The error of a migrate run that must fail.
async fn refused_run(db: &TestDb) -> String {
    let run = db.store.migrate_with(&opts()).await;
    run.unwrap_err().to_string()
}

/// The last migration version applied.
async fn last_applied(store: &Store) -> Option<u32> {
    store.applied_migrations().await.unwrap().last().copied()
}

/// The names of the database's tables.
async fn tables(store: &Store) -> BTreeSet<String> {
    let names = store
        .client()
        .query("SELECT name FROM system.tables WHERE database = ?")
        .bind(store.database())
        .fetch_all::<String>()
        .await;
    BTreeSet::from_iter(names.unwrap())
}

/// A new database holding only the migration lock's table.
async fn lock_table_only(name: &str) -> TestDb {
    let db = TestDb::unmigrated(name);
    db.store.create_database().await.unwrap();
    exec(&db.store, LOCK_TABLE_DDL).await;
    db
}

/// Every migration applied and recorded once, every statement completed once, the schema equal
/// to a plain migrate's, no staging table left, and no backfilled row doubled.
async fn assert_complete(db: &TestDb, seeded: bool) {
    let store = &db.store;
    let status = store.migration_status().await.unwrap();
    assert!(status.pending.is_empty(), "{status:?}");
    assert!(status.mismatches.is_empty(), "{status:?}");
    let versions: Vec<u32> = status.applied.iter().map(|a| a.version).collect();
    let all: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(versions, all);
    assert_eq!(
        count(store, "SELECT count() FROM schema_migrations").await,
        MIGRATIONS.len() as u64,
        "each migration recorded once"
    );
    assert_eq!(
        count(
            store,
            "SELECT count() FROM (SELECT version, statement FROM schema_migrations_steps \
             WHERE step = 'done' GROUP BY version, statement HAVING count() > 1)"
        )
        .await,
        0,
        "a statement completed twice"
    );
    let statements: usize = MIGRATIONS.iter().map(|m| m.statements().len()).sum();
    assert_eq!(
        count(
            store,
            "SELECT uniqExact(version, statement) FROM schema_migrations_steps WHERE step = 'done'"
        )
        .await,
        statements as u64
    );
    let reference = TestDb::new("migrations_reference").await;
    assert_eq!(tables(store).await, tables(&reference.store).await);
    reference.drop().await;
    if seeded {
        // `engaged` is a plain MergeTree: a doubled backfill row would stay counted.
        assert_eq!(count(store, "SELECT count() FROM engaged").await, OPENS);
        assert_eq!(
            count(store, "SELECT count() FROM message_timeline").await,
            EVENTS
        );
        let t = tables(store).await;
        if t.contains("day_changes") {
            assert_eq!(
                count(store, "SELECT sum(changes) FROM day_changes").await,
                90
            );
        }
        if t.contains("ingested_events") {
            assert_eq!(
                count(store, "SELECT count() FROM ingested_events").await,
                EVENTS
            );
        }
    }
}

#[tokio::test]
async fn two_runs_started_together_on_an_empty_database() {
    let db = TestDb::unmigrated("two_runs_empty");
    let other = Store::new(&db.config);
    let o = opts();
    let (a, b) = tokio::join!(db.store.migrate_with(&o), other.migrate_with(&o));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), MIGRATIONS.len(), "{a:?} {b:?}");
    assert!(a.iter().all(|m| !b.contains(m)), "{a:?} {b:?}");
    assert_complete(&db, false).await;
    db.drop().await;
}

#[tokio::test]
async fn three_runs_started_together_backfill_once() {
    let db = seeded_at("three_runs_backfill", 6).await;
    let (b, c) = (Store::new(&db.config), Store::new(&db.config));
    let o = opts();
    let (x, y, z) = tokio::join!(
        db.store.migrate_with(&o),
        b.migrate_with(&o),
        c.migrate_with(&o)
    );
    let applied: Vec<&str> = [x.unwrap(), y.unwrap(), z.unwrap()].concat();
    assert_eq!(applied.len(), MIGRATIONS.len() - 6, "{applied:?}");
    assert_complete(&db, true).await;
    db.drop().await;
}

#[tokio::test]
async fn a_run_stopped_after_a_completed_backfill_does_not_repeat_it() {
    // 0009 statement 3 is its backfill into message_timeline.
    let db = stopped_in("stopped_after_backfill", 9, 3, StopPoint::AfterStatement).await;
    assert_eq!(last_applied(&db.store).await, Some(8));
    // The rerun waits for the dead run's lease to expire, then resumes at statement 4.
    let applied = db.store.migrate_with(&opts()).await.unwrap();
    assert_eq!(applied.first(), Some(&"0009_message_timeline"));
    assert_eq!(
        count(&db.store, "SELECT count() FROM message_timeline").await,
        EVENTS
    );
    // `engaged` was backfilled by 0008 before the seed: only the view fed it.
    assert_eq!(count(&db.store, "SELECT count() FROM engaged").await, OPENS);
    db.drop().await;
}

#[tokio::test]
async fn a_backfill_killed_before_it_was_staged_is_redone_from_scratch() {
    // 0008 statement 3 is its backfill into `engaged`: stop after the rows were staged but before
    // that was recorded, as a process killed during the INSERT would leave it.
    let db = stopped_in("killed_mid_staging", 8, 3, StopPoint::AfterStaging).await;
    assert!(
        tables(&db.store)
            .await
            .contains("schema_migrations_staging_0008_3")
    );
    assert_eq!(count(&db.store, "SELECT count() FROM engaged").await, 0);
    rerun_completes(db).await;
}

#[tokio::test]
async fn a_backfill_killed_between_partitions_resumes_with_the_rest() {
    let db = stopped_in(
        "killed_between_partitions",
        8,
        3,
        StopPoint::AfterFirstAttach,
    )
    .await;
    let partial = count(&db.store, "SELECT count() FROM engaged").await;
    assert!(partial > 0 && partial < OPENS, "{partial}");
    rerun_completes(db).await;
}

#[tokio::test]
async fn an_unknown_attach_outcome_is_refused_not_guessed() {
    let db = stopped_in("unknown_attach", 8, 3, StopPoint::AfterStaging).await;
    // As if a run had recorded `staged` and `attaching:202401` and died before `attached`.
    for step in ["staged", "attaching:202401"] {
        db.store
            .client()
            .query(
                "INSERT INTO schema_migrations_steps (version, statement, step, checksum, owner, at_ms) \
                 VALUES (8, 3, ?, ?, 'test', 1)",
            )
            .bind(step)
            .bind(checksum(MIGRATIONS[7].sql))
            .execute()
            .await
            .unwrap();
    }
    let err = refused_run(&db).await;
    assert!(err.contains("partition 202401"), "{err}");
    assert!(err.contains("schema_migrations_staging_0008_3"), "{err}");
    // The operator finds the partition did not arrive and attaches it; the rerun completes.
    exec(
        &db.store,
        "ALTER TABLE engaged ATTACH PARTITION ID '202401' FROM schema_migrations_staging_0008_3",
    )
    .await;
    exec(
        &db.store,
        "ALTER TABLE schema_migrations_staging_0008_3 DROP PARTITION ID '202401'",
    )
    .await;
    rerun_completes(db).await;
}

#[tokio::test]
async fn an_edited_applied_migration_is_refused() {
    let db = TestDb::new("edited_migration").await;
    // As if 0003's file had changed since it was applied.
    exec(
        &db.store,
        "INSERT INTO schema_migrations_checksums (version, checksum, recorded_ms) \
         VALUES (3, 'deadbeef', 9000000000000)",
    )
    .await;
    let err = refused_run(&db).await;
    let current = checksum(MIGRATIONS[2].sql);
    for part in ["0003_messages", "deadbeef", current.as_str()] {
        assert!(err.contains(part), "{part} missing from: {err}");
    }
    let status = db.store.migration_status().await.unwrap();
    assert_eq!(status.mismatches.len(), 1);
    assert_eq!(status.mismatches[0].recorded, "deadbeef");
    assert_eq!(status.mismatches[0].current, current);
    db.drop().await;
}

#[tokio::test]
async fn databases_migrated_before_checksums_record_them_on_the_first_run() {
    let db = TestDb::new("legacy_checksums").await;
    exec(&db.store, "DROP TABLE schema_migrations_checksums").await;
    exec(&db.store, "DROP TABLE schema_migrations_steps").await;
    let status = db.store.migration_status().await.unwrap();
    assert!(status.applied.iter().all(|a| a.checksum.is_none()));
    assert!(status.mismatches.is_empty() && status.pending.is_empty());
    assert!(db.store.migrate_with(&opts()).await.unwrap().is_empty());
    let status = db.store.migration_status().await.unwrap();
    for (a, m) in status.applied.iter().zip(MIGRATIONS) {
        assert_eq!(a.checksum.as_deref(), Some(checksum(m.sql).as_str()));
    }
    db.drop().await;
}

#[tokio::test]
async fn dry_run_and_status_change_nothing() {
    let db = TestDb::unmigrated("dry_run_empty");
    let plan = db.store.migration_plan(None).await.unwrap();
    assert_eq!(plan.len(), MIGRATIONS.len());
    let status = db.store.migration_status().await.unwrap();
    assert_eq!(status.pending.len(), MIGRATIONS.len());
    let databases = db
        .store
        .client()
        .clone()
        .with_database("system")
        .query("SELECT count() FROM system.databases WHERE name = ?")
        .bind(db.store.database())
        .fetch_one::<u64>()
        .await
        .unwrap();
    assert_eq!(databases, 0, "nothing created");
    db.store.migrate_with(&up_to(8)).await.unwrap();
    let plan = db.store.migration_plan(None).await.unwrap();
    assert_eq!(plan[0].name, "0009_message_timeline");
    assert_eq!(
        plan[0].statements[2].backfill.as_deref(),
        Some("message_timeline")
    );
    assert!(plan[0].statements.iter().all(|s| !s.done));
    assert_eq!(last_applied(&db.store).await, Some(8));
    db.drop().await;
}

/// Many processes' worth of leases taken at once: never two holders at the same time.
#[tokio::test]
async fn the_lock_admits_one_holder_at_a_time() {
    let db = lock_table_only("lock_exclusion").await;
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (store, inside, most) = (Store::new(&db.config), inside.clone(), most.clone());
        let o = opts();
        tasks.push(tokio::spawn(async move {
            for _ in 0..3 {
                let lease = Lease::acquire(store.client(), o.lease, &o.progress)
                    .await
                    .unwrap();
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                lease.check().await.unwrap();
                inside.fetch_sub(1, Ordering::SeqCst);
                lease.release().await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 1);
    db.drop().await;
}

#[tokio::test]
async fn a_held_lock_makes_others_wait_and_a_dead_holders_lock_expires() {
    let db = lock_table_only("lock_wait").await;
    let mut o = opts();
    let held = Lease::acquire(db.store.client(), o.lease, &o.progress)
        .await
        .unwrap();
    o.lease.wait = Duration::from_millis(500);
    let err = Lease::acquire(db.store.client(), o.lease, &o.progress)
        .await
        .err()
        .expect("the lock is held");
    assert!(err.to_string().contains("still held"), "{err}");
    // The holder dies without releasing: its claim expires after the lease (2 s).
    held.abandon();
    o.lease.wait = Duration::from_secs(10);
    let started = std::time::Instant::now();
    let lease = Lease::acquire(db.store.client(), o.lease, &o.progress)
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    lease.release().await;
    db.drop().await;
}
