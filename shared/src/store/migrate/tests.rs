use super::*;

#[test]
fn finds_backfills_and_their_targets() {
    assert_eq!(
        backfill_target("INSERT INTO engaged\nSELECT org_id FROM events"),
        Some("engaged")
    );
    assert_eq!(
        backfill_target("insert into t(a, b) SELECT 1, 2"),
        Some("t")
    );
    assert_eq!(
        backfill_target("CREATE TABLE IF NOT EXISTS t (a UInt8)"),
        None
    );
    assert_eq!(backfill_target("INSERTED"), None);
    let backfills: Vec<(&str, String)> = MIGRATIONS
        .iter()
        .flat_map(|m| {
            m.statements()
                .into_iter()
                .filter_map(|s| backfill_target(&s).map(str::to_owned))
                .map(move |t| (m.name, t))
        })
        .collect();
    for (name, target) in [
        ("0007_message_events", "message_events"),
        ("0008_report_uniques", "engaged"),
        ("0009_message_timeline", "message_timeline"),
    ] {
        assert!(
            backfills.contains(&(name, target.to_owned())),
            "{name}: {backfills:?}"
        );
    }
}

#[test]
fn checksums_are_sha256_of_the_text() {
    assert_eq!(
        checksum(""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_ne!(checksum(MIGRATIONS[0].sql), checksum(MIGRATIONS[1].sql));
}
