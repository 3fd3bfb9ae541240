//! Replay through the real pipeline into the real ClickHouse: AWS samples and generated traffic,
//! in every envelope, replayed again and again, change no number.

mod common;

use std::io::Write;

use common::{ACCOUNT, acme_db, acme_pipeline, create_org, expected_rows, stored_by_type, traffic};
use sendops_fixtures::{Envelope, Wrapper};
use sendops_ingest::replay::replay_paths;
use sendops_ingest::{Pipeline, Source};
use sendops_shared::store::Table;
use sendops_shared::store::testing::TestDb;
use sendops_shared::write::pipeline::replay_quarantine;

fn sample_paths() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(sendops_fixtures::samples_dir())
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .filter(|p| p.ends_with(".json"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn aws_samples_store_once_however_often_replayed() {
    let db = TestDb::new("samples_replay").await;
    create_org(&db.store, "docs", "123456789012").await;
    create_org(&db.store, "simulator", "032756942992").await;
    let pipeline = Pipeline::new(db.store.clone(), Source::Replay);
    let paths = sample_paths();

    let first = replay_paths(&pipeline, &paths, 1000).await.unwrap();
    assert_eq!(
        first.records, 41,
        "one record per sample file, Lambda events split into their records"
    );
    assert_eq!(first.acknowledged, 5);
    // Samples of the two mapped accounts: 16 files of 123456789012 (the legacy bounce without DSN
    // names two recipients) and 5 simulator captures of 032756942992.
    let by_type = stored_by_type(&db.store).await;
    let want: Vec<(String, u64)> = [
        ("Bounce", 7),
        ("Click", 1),
        ("Complaint", 4),
        ("Delivery", 3),
        ("DeliveryDelay", 1),
        ("Open", 1),
        ("Reject", 1),
        ("RenderingFailure", 1),
        ("Send", 1),
        ("Subscription", 1),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_owned(), n))
    .collect();
    assert_eq!(by_type, want);
    assert_eq!(first.rows, 21);
    let quarantined = db.store.count(Table::Quarantine).await.unwrap();

    for _ in 0..2 {
        let again = replay_paths(&pipeline, &paths, 7).await.unwrap();
        assert_eq!(again.rows, 0);
        assert_eq!(again.duplicates, first.rows);
        assert_eq!(stored_by_type(&db.store).await, by_type);
        assert_eq!(
            db.store.count(Table::Quarantine).await.unwrap(),
            quarantined,
            "same quarantine entries"
        );
    }
    db.drop().await;
}

#[tokio::test]
async fn generated_traffic_counts_once_across_every_envelope() {
    let db = acme_db("envelopes").await;
    let events = traffic(7, 400, ACCOUNT);
    let expected = expected_rows(&events);
    let pipeline = Pipeline::new(db.store.clone(), Source::Replay);
    let dir = tempfile::tempdir().unwrap();
    let mut wrapper = Wrapper::new(99);

    let mut write = |name: &str, envelope: Option<Envelope>| {
        let path = dir.path().join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        match envelope {
            Some(env) => {
                for e in &events {
                    writeln!(f, "{}", wrapper.wrap(e, env)).unwrap();
                }
            }
            None => {
                for batch in events.chunks(10) {
                    writeln!(f, "{}", wrapper.lambda_batch(batch)).unwrap();
                }
            }
        }
        path.to_string_lossy().into_owned()
    };
    let raw = write("raw.ndjson", Some(Envelope::Raw));
    let sns = write("sns.ndjson", Some(Envelope::Sns));
    let eb = write("eventbridge.ndjson", Some(Envelope::EventBridge));
    let lambda = write("lambda.ndjson", None);
    // The same events as one pretty-printed JSON array.
    let array = dir.path().join("array.json");
    std::fs::write(&array, serde_json::to_string_pretty(&events).unwrap()).unwrap();

    let first = replay_paths(&pipeline, &[sns], 97).await.unwrap();
    assert_eq!(first.quarantined, 0);
    assert_eq!(first.rows as usize, expected.len());
    let by_type = stored_by_type(&db.store).await;
    for path in [raw, eb, lambda, array.to_string_lossy().into_owned()] {
        let r = replay_paths(&pipeline, std::slice::from_ref(&path), 50)
            .await
            .unwrap();
        assert_eq!((r.rows, r.quarantined), (0, 0), "{path}");
        assert_eq!(r.duplicates as usize, expected.len(), "{path}");
    }
    assert_eq!(stored_by_type(&db.store).await, by_type);
    db.drop().await;
}

#[tokio::test]
async fn unknown_account_is_quarantined_then_replayed_once_the_org_exists() {
    let db = TestDb::new("unknown_account").await;
    let events = traffic(11, 30, "210987654321");
    let expected = expected_rows(&events);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let pipeline = Pipeline::new(db.store.clone(), Source::Replay);

    let r = replay_paths(&pipeline, &[path.to_string_lossy().into_owned()], 1000)
        .await
        .unwrap();
    assert_eq!(r.rows, 0);
    assert_eq!(r.quarantined as usize, events.len());
    let open = db
        .store
        .list_quarantine(Some("unknown_account"), false, 10_000)
        .await
        .unwrap();
    assert_eq!(open.len(), events.len());
    assert!(open.iter().all(|q| q.account_id == "210987654321"));

    // Nothing to attribute yet: replay keeps them.
    let still = replay_quarantine(&db.store, "unknown_account", 10_000)
        .await
        .unwrap();
    assert_eq!((still.resolved, still.rows), (0, 0));

    create_org(&db.store, "late", "210987654321").await;
    let done = replay_quarantine(&db.store, "unknown_account", 10_000)
        .await
        .unwrap();
    assert_eq!(done.resolved as usize, events.len());
    assert_eq!(done.rows as usize, expected.len());
    assert!(
        db.store
            .list_quarantine(Some("unknown_account"), false, 10_000)
            .await
            .unwrap()
            .is_empty()
    );
    // A second replay finds nothing open and changes nothing.
    let again = replay_quarantine(&db.store, "unknown_account", 10_000)
        .await
        .unwrap();
    assert_eq!(again.replayed, 0);
    assert_eq!(
        db.store.count(Table::Events).await.unwrap() as usize,
        expected.len()
    );
    db.drop().await;
}

#[tokio::test]
async fn events_repeated_in_the_next_chunk_are_stored_and_reported_once() {
    // A replay checks chunk N+1 against the done markers while chunk N is still being stored,
    // then drops what N stored: an event in both counts once, as a duplicate.
    let (db, pipeline) = acme_pipeline("replay_adjacent_chunks", Source::Replay).await;
    let events = traffic(41, 30, ACCOUNT);
    let lines: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    let rows = expected_rows(&events).len() as u64;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adjacent.ndjson");
    let mut f = std::fs::File::create(&path).unwrap();
    // Chunks of 10 lines; every chunk after the first starts with the previous chunk's lines.
    let chunk = 10;
    for part in lines.chunks(chunk / 2).collect::<Vec<_>>().windows(2) {
        for line in part[0].iter().chain(part[1]) {
            writeln!(f, "{line}").unwrap();
        }
    }
    drop(f);
    let path = path.to_string_lossy().into_owned();
    let report = replay_paths(&pipeline, &[path], chunk).await.unwrap();
    assert_eq!(report.rows, rows, "each event stored once");
    assert_eq!(db.store.count(Table::Events).await.unwrap(), rows);
    assert!(report.duplicates > 0);
    db.drop().await;
}
