//! The cluster translation, statement kind by statement kind.

use crate::store::migrate::cluster::*;
use crate::store::migrations::MIGRATIONS;

fn schema() -> ClusterSchema {
    ClusterSchema::new("sendops", "db1", crate::store::migrate::BOOKKEEPING_DDL)
}

fn one(sql: &str) -> String {
    let mut out = schema().translate(sql).unwrap();
    assert_eq!(out.len(), 1, "{out:?}");
    out.remove(0)
}

const EVENTS: &str = "CREATE TABLE IF NOT EXISTS events (\n    org_id UUID,\n    day Date,\n    \
    event_id UUID,\n    event_type Enum8('Send' = 1, 'Delivery' = 2)\n) ENGINE = ReplacingMergeTree()\n\
    PARTITION BY toYYYYMM(day)\nORDER BY (org_id, day, event_id)";

#[test]
fn a_per_org_table_becomes_a_replicated_local_table_and_a_distributed_one() {
    let out = schema().translate(EVENTS).unwrap();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(
        out[0],
        "CREATE TABLE IF NOT EXISTS `db1`.events_local ON CLUSTER `sendops` (\n    org_id UUID,\n    \
         day Date,\n    event_id UUID,\n    event_type Enum8('Send' = 1, 'Delivery' = 2)\n) ENGINE = \
         ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db1/events_local', '{replica}')\n\
         PARTITION BY toYYYYMM(day)\nORDER BY (org_id, day, event_id)"
    );
    assert_eq!(
        out[1],
        "CREATE TABLE IF NOT EXISTS `db1`.events ON CLUSTER `sendops` AS `db1`.events_local \
         ENGINE = Distributed('sendops', 'db1', 'events_local', cityHash64(toString(org_id)))"
    );
}

#[test]
fn engine_arguments_and_settings_are_kept_after_the_replication_arguments() {
    let out = schema()
        .translate(
            "CREATE TABLE IF NOT EXISTS report_uniques_days (org_id UUID, day Date, computed_ms UInt64) \
             ENGINE = ReplacingMergeTree(computed_ms) ORDER BY (org_id, day) SETTINGS index_granularity = 256",
        )
        .unwrap();
    assert!(
        out[0].contains(
            "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db1/report_uniques_days_local', \
             '{replica}', computed_ms) ORDER BY (org_id, day) SETTINGS index_granularity = 256"
        ),
        "{}",
        out[0]
    );
    let summing = schema()
        .translate("CREATE TABLE day_changes (org_id UUID, day Date, changes UInt64) ENGINE = SummingMergeTree() ORDER BY (org_id, day)")
        .unwrap();
    assert!(summing[0].contains("ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/db1/day_changes_local', '{replica}')"));
}

#[test]
fn control_tables_and_tables_without_an_org_are_replicated_on_every_node() {
    let orgs = one(
        "CREATE TABLE IF NOT EXISTS orgs (id UUID, slug String, updated_ms UInt64) \
         ENGINE = ReplacingMergeTree(updated_ms) ORDER BY id",
    );
    assert_eq!(
        orgs,
        "CREATE TABLE IF NOT EXISTS `db1`.orgs ON CLUSTER `sendops` (id UUID, slug String, updated_ms UInt64) \
         ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/db1/orgs', '{replica}', updated_ms) ORDER BY id"
    );
    // Has an org_id column, but is a control table.
    let keys = one(
        "CREATE TABLE api_keys (id UUID, org_id UUID) ENGINE = ReplacingMergeTree() ORDER BY id",
    );
    assert!(
        keys.contains("'/clickhouse/tables/all/db1/api_keys'"),
        "{keys}"
    );
    // Read in an IN subquery over a Distributed table: sharded (EVERYWHERE's comment).
    assert!(schema().is_distributed("undeliverable_exclusions"));
    // No org_id column: nothing to shard by.
    let domains = one(
        "CREATE TABLE mailbox_domains (domain String, mx Array(String)) ENGINE = ReplacingMergeTree() ORDER BY domain",
    );
    assert!(
        domains.contains("/clickhouse/tables/all/db1/mailbox_domains"),
        "{domains}"
    );
    // An org_id inside another column's type is not an org_id column.
    assert_eq!(
        placement("x", "a Enum8('org_id UUID' = 1), b String"),
        Placement::Everywhere
    );
    for ddl in crate::store::migrate::BOOKKEEPING_DDL {
        let t = one(ddl);
        assert!(
            t.contains("/clickhouse/tables/all/db1/schema_migrations"),
            "{t}"
        );
    }
}

#[test]
fn the_batch_registry_is_pinned_to_one_shard() {
    let out = schema()
        .translate(
            "CREATE TABLE IF NOT EXISTS ingest_batches (at_ms Int64, batch_id UUID, done UInt8) \
             ENGINE = MergeTree() ORDER BY (at_ms, batch_id)",
        )
        .unwrap();
    assert_eq!(out.len(), 2);
    assert!(out[0].contains(
        "ReplicatedMergeTree('/clickhouse/tables/{shard}/db1/ingest_batches_local', '{replica}')"
    ));
    assert!(
        out[1].ends_with("Distributed('sendops', 'db1', 'ingest_batches_local', toUInt64(0))"),
        "{}",
        out[1]
    );
}

#[test]
fn a_view_writes_into_the_local_target_and_reads_the_local_ingest_table() {
    let v = one(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS message_index_mv TO message_index AS\n\
         SELECT DISTINCT org_id, message_id, sent_ms, 'FROM events' AS s\nFROM events\nWHERE event_type IN ('Bounce')",
    );
    assert_eq!(
        v,
        "CREATE MATERIALIZED VIEW IF NOT EXISTS `db1`.message_index_mv ON CLUSTER `sendops` TO \
         `db1`.message_index_local AS SELECT DISTINCT org_id, message_id, sent_ms, 'FROM events' AS s\n\
         FROM `db1`.events_local\nWHERE event_type IN ('Bounce')"
    );
    // A subquery's table too, and a control table keeps its name.
    let v = one(
        "CREATE MATERIALIZED VIEW v TO engaged AS SELECT org_id FROM (SELECT org_id FROM events) \
         WHERE org_id IN (SELECT id FROM orgs)",
    );
    assert!(
        v.ends_with("FROM (SELECT org_id FROM `db1`.events_local) WHERE org_id IN (SELECT id FROM `db1`.orgs)"),
        "{v}"
    );
    let err = schema()
        .translate("CREATE MATERIALIZED VIEW v ENGINE = MergeTree() ORDER BY x AS SELECT 1")
        .unwrap_err();
    assert!(err.contains("TO <table>"), "{err}");
}

#[test]
fn drops_run_on_every_node_and_take_the_local_table_along() {
    let out = schema()
        .translate("DROP TABLE IF EXISTS message_events")
        .unwrap();
    assert_eq!(
        out,
        vec![
            "DROP TABLE IF EXISTS `db1`.message_events ON CLUSTER `sendops`",
            "DROP TABLE IF EXISTS `db1`.message_events_local ON CLUSTER `sendops`",
        ]
    );
    assert_eq!(
        one("DROP TABLE IF EXISTS report_daily_mv"),
        "DROP TABLE IF EXISTS `db1`.report_daily_mv ON CLUSTER `sendops`"
    );
}

#[test]
fn alters_go_to_the_local_table_and_column_changes_to_the_distributed_one_too() {
    let out = schema()
        .translate("ALTER TABLE events ADD COLUMN IF NOT EXISTS tag String")
        .unwrap();
    assert_eq!(
        out,
        vec![
            "ALTER TABLE `db1`.events_local ON CLUSTER `sendops` ADD COLUMN IF NOT EXISTS tag String",
            "ALTER TABLE `db1`.events ON CLUSTER `sendops` ADD COLUMN IF NOT EXISTS tag String",
        ]
    );
    assert_eq!(
        one(
            "ALTER TABLE events DELETE WHERE org_id = toUUID('00000000-0000-0000-0000-000000000000')"
        ),
        "ALTER TABLE `db1`.events_local ON CLUSTER `sendops` DELETE WHERE org_id = toUUID('00000000-0000-0000-0000-000000000000')"
    );
    assert_eq!(
        one("ALTER TABLE orgs ADD COLUMN x String"),
        "ALTER TABLE `db1`.orgs ON CLUSTER `sendops` ADD COLUMN x String"
    );
}

#[test]
fn backfills_run_unchanged_through_the_distributed_tables() {
    let sql = "INSERT INTO engaged SELECT org_id FROM events WHERE event_type IN ('Open')";
    assert_eq!(one(sql), sql);
}

#[test]
fn statements_without_a_cluster_form_are_refused() {
    for sql in [
        "OPTIMIZE TABLE events FINAL",
        "RENAME TABLE a TO b",
        "CREATE VIEW v AS SELECT 1",
        "CREATE TABLE t (org_id UUID) ENGINE = Memory",
        "TRUNCATE TABLE events",
    ] {
        let err = schema().translate(sql).unwrap_err();
        assert!(err.contains("has no cluster form"), "{sql}: {err}");
    }
}

#[test]
fn every_migration_translates_and_no_view_reads_a_distributed_table() {
    let s = schema();
    assert!(s.is_distributed("events"));
    assert!(s.is_distributed("message_events"));
    assert!(!s.is_distributed("orgs"));
    for m in MIGRATIONS {
        for stmt in m.statements() {
            let out = s
                .translate(&stmt)
                .unwrap_or_else(|e| panic!("{}: {e}", m.name));
            for t in &out {
                if t.starts_with("CREATE MATERIALIZED VIEW") {
                    assert!(t.contains(" TO `db1`."), "{t}");
                    assert!(t.contains("FROM `db1`.events_local"), "{}: {t}", m.name);
                    assert!(!t.contains("FROM events"), "{t}");
                }
                if !t.starts_with("INSERT") {
                    assert!(t.contains("ON CLUSTER `sendops`"), "{t}");
                }
            }
        }
    }
}

#[test]
fn a_statement_localized_for_one_shard_reads_local_tables_and_keeps_control_tables() {
    let s = schema();
    let sql = "SELECT count() FROM events FINAL WHERE org_id = ? AND email IN \
               (SELECT email FROM undeliverable_exclusions WHERE org_id = ?) AND x IN \
               (SELECT id FROM orgs) AND note = 'FROM events' \
               AND k IN (SELECT k FROM system.clusters) \
               AND n IN (SELECT n FROM (SELECT 1 AS n)) GLOBAL JOIN message_index AS i USING id";
    assert_eq!(
        s.localize(sql),
        "SELECT count() FROM `db1`.events_local FINAL WHERE org_id = ? AND email IN \
         (SELECT email FROM `db1`.undeliverable_exclusions_local WHERE org_id = ?) AND x IN \
         (SELECT id FROM `db1`.orgs) AND note = 'FROM events' \
         AND k IN (SELECT k FROM system.clusters) \
         AND n IN (SELECT n FROM (SELECT 1 AS n)) GLOBAL JOIN `db1`.message_index_local AS i USING id"
    );
    assert_eq!(s.local_table("events"), "events_local");
    assert_eq!(s.local_table("ingest_batches"), "ingest_batches_local");
    assert_eq!(s.local_table("orgs"), "orgs");
}

#[test]
fn a_statement_localized_for_one_shard_writes_local_tables() {
    let s = schema();
    assert_eq!(
        s.localize("ALTER TABLE events DELETE WHERE org_id = ? AND day < toDate(?)"),
        "ALTER TABLE `db1`.events_local DELETE WHERE org_id = ? AND day < toDate(?)"
    );
    assert_eq!(
        s.localize("ALTER TABLE events DROP PARTITION ?"),
        "ALTER TABLE `db1`.events_local DROP PARTITION ?"
    );
    assert_eq!(
        s.localize("INSERT INTO messages (a, b) SELECT a, b FROM events WHERE org_id = ?"),
        "INSERT INTO `db1`.messages_local (a, b) SELECT a, b FROM `db1`.events_local WHERE org_id = ?"
    );
    assert_eq!(
        s.localize("  optimize table day_changes FINAL"),
        "  optimize table `db1`.day_changes_local FINAL"
    );
    // Control tables keep their names; so do qualified ones.
    assert_eq!(
        s.localize("ALTER TABLE audit_log DELETE WHERE org_id = ?"),
        "ALTER TABLE `db1`.audit_log DELETE WHERE org_id = ?"
    );
    assert_eq!(
        s.localize("INSERT INTO other.events SELECT 1"),
        "INSERT INTO other.events SELECT 1"
    );
}
