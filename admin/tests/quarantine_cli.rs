//! `sendops-admin quarantine list` and `quarantine replay` against a per-test database on the
//! real ClickHouse when an entry's record is not UTF-8 (a replayed line kept as its exact
//! bytes): both succeed; list shows it as lossy text with `raw_utf8: false` and its bytes in
//! `raw_base64`; replay leaves it open and resolves the entries that now decode.

mod common;

use common::{Admin, create_acme, keys_of};

use sendops_ingest::replay::replay_paths;
use sendops_ingest::{Pipeline, Source};
use sendops_shared::store::QuarantineRow;
use sendops_shared::store::testing::TestDb;
use sendops_shared::timefmt::now_ms;
use sendops_testkit::quarantine::{NOT_UTF8_BASE64, not_utf8_line};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";

fn ok(db: &TestDb, args: &[&str]) -> Value {
    Admin { db }.ok(args)
}

/// A Send event of the org's account that decodes (one row).
fn good_event(message_id: &str) -> String {
    json!({
        "eventType": "Send",
        "mail": {
            "messageId": message_id,
            "timestamp": "2026-11-17T00:00:12Z",
            "source": "sender@acme.example",
            "sendingAccountId": ACCOUNT,
            "destination": ["a@b.example"],
        },
        "send": {},
    })
    .to_string()
}

const ENTRY_KEYS: [&str; 10] = [
    "account_id",
    "detail",
    "id",
    "raw",
    "raw_base64",
    "raw_utf8",
    "reason",
    "received_at",
    "resolved_at",
    "source",
];

fn entries(list: &Value) -> &Vec<Value> {
    list.as_array()
        .unwrap_or_else(|| panic!("an array: {list}"))
}

#[tokio::test]
async fn list_and_replay_with_an_entry_that_is_not_utf8() {
    let db = TestDb::new("admin_quarantine_bytes").await;
    ok(&db, &create_acme(ACCOUNT, &[]));

    // The entry that is not UTF-8 comes from a replayed file (next to a good line).
    let bad = not_utf8_line();
    let mut file = bad.clone();
    file.push(b'\n');
    file.extend_from_slice(good_event("good-1").as_bytes());
    file.push(b'\n');
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    std::fs::write(&path, &file).unwrap();
    let pipeline = Pipeline::new(db.store.clone(), Source::Replay);
    let report = replay_paths(&pipeline, &[path.to_string_lossy().into_owned()], 100)
        .await
        .unwrap();
    assert_eq!((report.quarantined, report.rows), (1, 1));

    // An invalid_json entry that decodes now (an older release rejected it).
    let decodable = good_event("late-1");
    let now = now_ms();
    db.store
        .insert_quarantine(&[QuarantineRow {
            id: QuarantineRow::id_for("invalid_json", &decodable),
            received_ms: now - 60_000,
            source: "lambda".into(),
            reason: "invalid_json".into(),
            detail: "rejected by an older decoder".into(),
            account_id: String::new(),
            raw: decodable.clone(),
            resolved_ms: 0,
            version: now as u64,
        }])
        .await
        .unwrap();

    // List: exit 0, both entries, with every field they always had plus raw_utf8/raw_base64.
    for args in [
        &["quarantine", "list"][..],
        &["quarantine", "list", "--reason", "invalid_json"],
        &["quarantine", "list", "--all"],
    ] {
        let list = ok(&db, args);
        let list = entries(&list);
        assert_eq!(list.len(), 2, "{args:?}: {list:?}");
        for e in list {
            assert_eq!(keys_of(e), ENTRY_KEYS, "{e}");
        }
        // Newest first: the replayed line.
        let (bytes, text) = (&list[0], &list[1]);
        assert_eq!(bytes["raw_utf8"], false, "{bytes}");
        assert_eq!(bytes["raw_base64"], NOT_UTF8_BASE64);
        assert_eq!(
            bytes["raw"].as_str().unwrap(),
            String::from_utf8_lossy(&bad),
            "lossy text"
        );
        assert!(
            bytes["raw"]
                .as_str()
                .unwrap()
                .contains("bad-\u{fffd}\u{fffd}x")
        );
        assert_eq!(
            bytes["id"],
            QuarantineRow::id_for("invalid_json", &bad).to_string()
        );
        assert_eq!(bytes["source"], "replay");
        assert_eq!(bytes["reason"], "invalid_json");
        assert_eq!(
            bytes["detail"],
            "line 1 is not valid UTF-8 (at byte 45 of the line)"
        );
        assert_eq!(bytes["resolved_at"], Value::Null);
        assert_eq!(text["raw"], decodable.as_str(), "text is exact");
        assert_eq!(text["raw_utf8"], true);
        assert_eq!(text["raw_base64"], Value::Null);
    }

    // Replay: exit 0; the decodable entry is resolved, the bytes stay quarantined.
    let done = ok(&db, &["quarantine", "replay", "--reason", "invalid_json"]);
    assert_eq!(
        done,
        json!({"replayed": 2, "resolved": 1, "still_quarantined": 1, "rows": 1, "duplicates": 0})
    );
    let open = ok(&db, &["quarantine", "list", "--reason", "invalid_json"]);
    let open = entries(&open);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["raw_base64"], NOT_UTF8_BASE64);
    let all = ok(&db, &["quarantine", "list", "--all"]);
    let resolved: Vec<&Value> = entries(&all)
        .iter()
        .filter(|e| !e["resolved_at"].is_null())
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["raw"], decodable.as_str());

    // Again: the bytes entry is still there, nothing else to do.
    let again = ok(&db, &["quarantine", "replay", "--reason", "invalid_json"]);
    assert_eq!(
        again,
        json!({"replayed": 1, "resolved": 0, "still_quarantined": 1, "rows": 0, "duplicates": 0})
    );
    db.drop().await;
}
