//! Quarantine entries whose record is not UTF-8 (a replayed line kept as its exact bytes) on
//! the real ClickHouse: listing them never fails and gives the bytes back exactly; replaying the
//! quarantine skips them (they can never decode, so they stay open) and resolves the entries
//! that now decode.

mod common;

use common::{ACCOUNT, acme_pipeline, expected_rows, traffic};
use sendops_ingest::Source;
use sendops_ingest::replay::replay_paths;
use sendops_shared::store::testing::TestDb;
use sendops_shared::store::{QuarantineRow, Table};
use sendops_shared::timefmt::now_ms;
use sendops_shared::write::pipeline::replay_quarantine;

/// JSON but for two bytes that are not UTF-8 (in a string).
fn not_utf8_line() -> Vec<u8> {
    let mut line = br#"{"eventType":"Send","mail":{"messageId":"bad-"#.to_vec();
    line.extend_from_slice(&[0xff, 0xfe, b'x']);
    line.extend_from_slice(br#"","timestamp":"2026-11-17T00:00:11Z","sendingAccountId":"123456789012","destination":["a@b.example"]}}"#);
    line
}

/// The line's bytes in standard base64 (computed apart from the code under test).
const NOT_UTF8_BASE64: &str = "eyJldmVudFR5cGUiOiJTZW5kIiwibWFpbCI6eyJtZXNzYWdlSWQiOiJiYWQt//54IiwidGltZXN0YW1wIjoiMjAyNi0xMS0xN1QwMDowMDoxMVoiLCJzZW5kaW5nQWNjb3VudElkIjoiMTIzNDU2Nzg5MDEyIiwiZGVzdGluYXRpb24iOlsiYUBiLmV4YW1wbGUiXX19";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// ClickHouse's own hex of a stored entry's `raw` (an independent reading of the bytes).
async fn stored_hex(db: &TestDb, id: uuid::Uuid) -> String {
    db.store
        .client()
        .query("SELECT hex(raw) FROM quarantine FINAL WHERE id = toUUID(?)")
        .bind(id.to_string())
        .fetch_one::<String>()
        .await
        .unwrap()
}

#[tokio::test]
async fn entries_that_are_not_utf8_are_listed_and_stay_open_on_replay() {
    let (db, pipeline) = acme_pipeline("quarantine_not_utf8", Source::Replay).await;

    // A file with a line that is not UTF-8, one that is not JSON, and a good event.
    let events = traffic(31, 1, ACCOUNT);
    let bad = not_utf8_line();
    let mut file = bad.clone();
    file.extend_from_slice(b"\n{not json\n");
    file.extend_from_slice(events[0].to_string().as_bytes());
    file.push(b'\n');
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.ndjson");
    std::fs::write(&path, &file).unwrap();
    let report = replay_paths(&pipeline, &[path.to_string_lossy().into_owned()], 100)
        .await
        .unwrap();
    assert_eq!(report.quarantined, 2);
    let stored_rows = db.store.count(Table::Events).await.unwrap();
    assert!(stored_rows > 0);

    // An entry an older release quarantined as invalid_json that decodes now (written as text).
    let decodable = traffic(32, 1, ACCOUNT).remove(0);
    let now = now_ms();
    let text = decodable.to_string();
    db.store
        .insert_quarantine(&[QuarantineRow {
            id: QuarantineRow::id_for("invalid_json", &text),
            received_ms: now - 60_000,
            source: "lambda".into(),
            reason: "invalid_json".into(),
            detail: "rejected by an older decoder".into(),
            account_id: String::new(),
            raw: text.clone(),
            resolved_ms: 0,
            version: now as u64,
        }])
        .await
        .unwrap();

    // Listing reads every entry, the one that is not UTF-8 with its exact bytes.
    let open = db
        .store
        .list_quarantine(Some("invalid_json"), false, 100)
        .await
        .expect("listing never fails on bytes");
    assert_eq!(open.len(), 3);
    let bytes_entry = open.iter().find(|q| q.raw_text().is_none()).unwrap();
    assert_eq!(bytes_entry.raw, bad, "the bytes come back exactly");
    assert_eq!(bytes_entry.id, QuarantineRow::id_for("invalid_json", &bad));
    assert_eq!(bytes_entry.source, "replay");
    assert_eq!(
        bytes_entry.detail,
        "line 1 is not valid UTF-8 (at byte 45 of the line)"
    );
    assert!(bytes_entry.raw_lossy().contains("bad-\u{fffd}\u{fffd}x"));
    assert_eq!(stored_hex(&db, bytes_entry.id).await, hex(&bad));
    assert_eq!(bytes_entry.raw_base64(), NOT_UTF8_BASE64);
    let mut texts: Vec<&str> = open.iter().filter_map(|q| q.raw_text()).collect();
    texts.sort_unstable();
    let mut want = vec!["{not json", text.as_str()];
    want.sort_unstable();
    assert_eq!(texts, want);
    // Every reason at once, too.
    assert_eq!(
        db.store
            .list_quarantine(None, true, 100)
            .await
            .unwrap()
            .len(),
        3
    );

    // Replay: the decodable entry is resolved; the bytes and the bad JSON stay open.
    let done = replay_quarantine(&db.store, "invalid_json", 100)
        .await
        .expect("replay never fails on bytes");
    assert_eq!(
        (done.replayed, done.resolved, done.still_quarantined),
        (3, 1, 2)
    );
    let decodable_rows = expected_rows(&[decodable]).len() as u64;
    assert_eq!((done.rows, done.duplicates), (decodable_rows, 0));
    assert_eq!(
        db.store.count(Table::Events).await.unwrap(),
        stored_rows + decodable_rows
    );
    let still = db
        .store
        .list_quarantine(Some("invalid_json"), false, 100)
        .await
        .unwrap();
    let mut raws: Vec<&[u8]> = still.iter().map(|q| q.raw.as_slice()).collect();
    raws.sort_unstable();
    let mut want: Vec<&[u8]> = vec![b"{not json", &bad];
    want.sort_unstable();
    assert_eq!(raws, want);
    // The resolved entry keeps its text; the bytes entry is unchanged.
    let all = db
        .store
        .list_quarantine(Some("invalid_json"), true, 100)
        .await
        .unwrap();
    let resolved: Vec<_> = all.iter().filter(|q| q.resolved_ms > 0).collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].raw_text(), Some(text.as_str()));
    assert_eq!(resolved[0].source, "lambda");
    assert_eq!(stored_hex(&db, bytes_entry.id).await, hex(&bad));

    // Again: nothing more to resolve, nothing stored twice.
    let again = replay_quarantine(&db.store, "invalid_json", 100)
        .await
        .unwrap();
    assert_eq!(
        (
            again.replayed,
            again.resolved,
            again.still_quarantined,
            again.rows
        ),
        (2, 0, 2, 0)
    );
    db.drop().await;
}
