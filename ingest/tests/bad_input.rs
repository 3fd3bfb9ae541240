//! Input that must neither stop nor swell a replay (issue 11): a line or document that is not
//! UTF-8 is quarantined as `invalid_json` with its bytes kept and the rest of the file stored;
//! events with more recipients than `MAX_RECIPIENTS`, or dated outside what the store holds,
//! are quarantined as `invalid_event`.

mod common;

use std::collections::BTreeMap;

use common::{ACCOUNT, acme_pipeline, expected_rows, traffic};
use sendops_ingest::Source;
use sendops_ingest::replay::replay_paths;
use sendops_shared::event::envelope::MAX_RECIPIENTS;
use sendops_shared::store::Table;
use sendops_shared::store::testing::TestDb;
use serde_json::{Value, json};

/// Open quarantine entries of a reason: `hex(raw)` → detail.
async fn quarantined(db: &TestDb, reason: &str) -> BTreeMap<String, String> {
    db.store
        .client()
        .query("SELECT hex(raw) AS raw, detail FROM quarantine FINAL WHERE reason = ?")
        .bind(reason)
        .fetch_all::<(String, String)>()
        .await
        .unwrap()
        .into_iter()
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A record that is JSON but for one byte that is not UTF-8 (in a string).
fn invalid_line(n: u8) -> Vec<u8> {
    let mut line = br#"{"eventType":"Send","mail":{"messageId":"bad-"#.to_vec();
    line.extend_from_slice(&[b'0' + n, 0xff, 0xfe, b'x']);
    line.extend_from_slice(br#"","timestamp":"2026-11-17T00:00:11Z","sendingAccountId":"123456789012","destination":["a@b.example"]}}"#);
    line
}

#[tokio::test]
async fn a_line_that_is_not_utf8_is_quarantined_with_its_bytes_and_the_rest_is_stored() {
    let (db, pipeline) = acme_pipeline("replay_not_utf8", Source::Replay).await;
    let events = traffic(5, 40, ACCOUNT);
    let expected = expected_rows(&events);
    let dir = tempfile::tempdir().unwrap();

    // The bad lines: one in the middle, one first (a file that still reads as NDJSON), and one
    // with a CR LF ending; blank lines around them.
    let mut file = Vec::new();
    let (bad_first, bad_middle, bad_crlf) = (invalid_line(1), invalid_line(2), invalid_line(3));
    file.extend_from_slice(&bad_first);
    file.extend_from_slice(b"\n\n");
    for (i, e) in events.iter().enumerate() {
        file.extend_from_slice(e.to_string().as_bytes());
        file.push(b'\n');
        if i == events.len() / 2 {
            file.extend_from_slice(&bad_middle);
            file.extend_from_slice(b"\n   \n");
        }
        if i == events.len() / 3 {
            file.extend_from_slice(&bad_crlf);
            file.extend_from_slice(b"\r\n");
        }
    }
    let path = dir.path().join("events.ndjson");
    std::fs::write(&path, &file).unwrap();
    let path = path.to_string_lossy().into_owned();

    // Chunks of 7 (bad lines in several batches) and one chunk for the whole file.
    let report = replay_paths(&pipeline, std::slice::from_ref(&path), 7)
        .await
        .expect("a line that is not UTF-8 does not stop the replay");
    assert_eq!(report.records as usize, events.len() + 3);
    assert_eq!(report.quarantined, 3);
    assert_eq!(report.rows as usize, expected.len());
    assert_eq!(
        db.store.count(Table::Events).await.unwrap() as usize,
        expected.len()
    );
    let want: Vec<String> = [&bad_first, &bad_middle, &bad_crlf]
        .iter()
        .map(|b| hex(b))
        .collect();
    let got = quarantined(&db, "invalid_json").await;
    let mut keys: Vec<&String> = got.keys().collect();
    keys.sort();
    let mut want_sorted: Vec<&String> = want.iter().collect();
    want_sorted.sort();
    assert_eq!(keys, want_sorted, "the original bytes are kept");
    assert!(
        got.values().all(|d| d.contains("is not valid UTF-8")),
        "{got:?}"
    );
    assert_eq!(
        got[&want[0]],
        "line 1 is not valid UTF-8 (at byte 46 of the line)"
    );

    let again = replay_paths(&pipeline, std::slice::from_ref(&path), 100_000)
        .await
        .unwrap();
    assert_eq!((again.rows, again.quarantined), (0, 3));
    assert_eq!(again.duplicates as usize, expected.len());
    assert_eq!(
        quarantined(&db, "invalid_json").await.len(),
        3,
        "replaying the file again adds no quarantine entry"
    );

    // The command itself: exit 0, the counts on stdout.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sendops-ingest"))
        .args(["replay", &path, "--chunk", "5"])
        .env("CLICKHOUSE_URL", &db.config.url)
        .env("CLICKHOUSE_DATABASE", &db.config.database)
        .output()
        .expect("run sendops-ingest");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let summary: Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    assert_eq!(summary["quarantined"], 3, "{summary}");
    assert_eq!(summary["records"], events.len() + 3, "{summary}");
    db.drop().await;
}

#[tokio::test]
async fn a_document_that_is_not_utf8_is_quarantined_whole_with_its_bytes() {
    let (db, pipeline) = acme_pipeline("replay_doc_not_utf8", Source::Replay).await;
    let dir = tempfile::tempdir().unwrap();
    let events = traffic(6, 3, ACCOUNT);
    // A pretty-printed array (its first line is not a whole value) with one byte broken.
    let mut doc = serde_json::to_vec_pretty(&events).unwrap();
    let at = doc.len() / 2;
    doc.insert(at, 0xc3);
    doc.insert(at, b'"');
    let mut file = b"\n".to_vec();
    file.extend_from_slice(&doc);
    file.extend_from_slice(b"\n\n");
    let path = dir.path().join("doc.json");
    std::fs::write(&path, &file).unwrap();
    let report = replay_paths(&pipeline, &[path.to_string_lossy().into_owned()], 10)
        .await
        .unwrap();
    assert_eq!((report.records, report.quarantined, report.rows), (1, 1, 0));
    let got = quarantined(&db, "invalid_json").await;
    assert_eq!(got.keys().collect::<Vec<_>>(), vec![&hex(&doc)]);
    db.drop().await;
}

/// `n` distinct addresses.
fn addresses(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("r{i}@x.example")).collect()
}

fn mail(id: &str, ts: &str, destination: &[String]) -> Value {
    json!({"timestamp": ts, "messageId": id, "source": "a@acme.example",
        "sendingAccountId": ACCOUNT, "destination": destination})
}

#[tokio::test]
async fn too_many_recipients_and_unstorable_dates_are_invalid_events() {
    let (db, pipeline) = acme_pipeline("replay_invalid_events", Source::Replay).await;
    let ok = "2026-11-17T00:00:11Z";
    let one = addresses(1);
    let over = addresses(MAX_RECIPIENTS + 1);
    let at_bound = addresses(MAX_RECIPIENTS);
    let bad: Vec<(Value, &str)> = vec![
        (
            json!({"eventType": "Send", "mail": mail("m-dest", ok, &over)}),
            "mail.destination names 1001 recipients",
        ),
        (
            json!({"eventType": "Delivery", "mail": mail("m-del", ok, &one),
                "delivery": {"timestamp": ok, "recipients": over}}),
            "Delivery event names 1001 recipients",
        ),
        (
            json!({"eventType": "Bounce", "mail": mail("m-bounce", ok, &one),
                "bounce": {"bounceType": "Permanent", "timestamp": ok, "bouncedRecipients":
                    over.iter().map(|a| json!({"emailAddress": a})).collect::<Vec<_>>()}}),
            "Bounce event names 1001 recipients",
        ),
        (
            json!({"eventType": "Send", "mail": mail("m-1969", "1969-12-31T23:59:59.999Z", &one)}),
            "mail.timestamp \"1969-12-31T23:59:59.999Z\" is outside what can be stored",
        ),
        (
            json!({"eventType": "Send", "mail": mail("m-2105", "2105-12-31T00:00:00Z", &one)}),
            "mail.timestamp \"2105-12-31T00:00:00Z\" is outside what can be stored",
        ),
        (
            json!({"eventType": "Open", "mail": mail("m-open", ok, &one),
                "open": {"timestamp": "2106-02-07T06:28:16Z"}}),
            "open.timestamp \"2106-02-07T06:28:16Z\" is outside what can be stored",
        ),
    ];
    let good = [
        // At the bound: stored, one row per recipient.
        json!({"eventType": "Delivery", "mail": mail("m-bound", ok, &one),
            "delivery": {"timestamp": ok, "recipients": at_bound}}),
        // The first and the last storable millisecond.
        json!({"eventType": "Send", "mail": mail("m-1970", "1970-01-01T00:00:00Z", &one)}),
        json!({"eventType": "Send", "mail": mail("m-2105-end", "2105-12-30T23:59:59.999Z", &one)}),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let text: String = bad
        .iter()
        .map(|(e, _)| e)
        .chain(&good)
        .map(|e| format!("{e}\n"))
        .collect();
    std::fs::write(&path, text).unwrap();
    let report = replay_paths(&pipeline, &[path.to_string_lossy().into_owned()], 4)
        .await
        .unwrap();
    assert_eq!(report.quarantined as usize, bad.len());
    assert_eq!(report.rows as usize, MAX_RECIPIENTS + 2);
    let got = quarantined(&db, "invalid_event").await;
    assert_eq!(got.len(), bad.len());
    for (event, detail) in &bad {
        let d = &got[&hex(event.to_string().as_bytes())];
        assert!(d.starts_with(detail), "{d:?} should start with {detail:?}");
    }
    assert_eq!(
        db.store.count(Table::Quarantine).await.unwrap() as usize,
        bad.len()
    );
    db.drop().await;
}
