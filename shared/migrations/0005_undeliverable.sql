-- Undeliverable recipients (spec: Undeliverable; DECISIONS §7; design: docs/undeliverable.md).
--
-- undeliverable_history: per-recipient failure history, one row per stored Bounce (Permanent,
--   Transient or Undetermined), Complaint, Reject and DeliveryDelay row of `events` (fed by the
--   view below; `events` only ever receives rows that are not stored yet, so nothing is counted
--   twice), plus one `rule_change` row per address whose row a rule change altered (written by
--   the operator tool). Sorted by okey = '<org id>/<lower-cased address>', and a page reads only
--   `okey` and `payload` (occurred_ms, ingested_ms, kind code, sub-type, diagnostic, sender,
--   tab-separated; tabs inside values become spaces) of the addresses it shows: every column a
--   point lookup touches costs one compressed block per address, so the lookup reads two.
--   `kind` and `occurred_ms` are kept as columns for the operator tool and for maintenance.
-- undeliverable_activity: the same addresses ordered by when something about them changed in
--   SendOps (event ingest time, rule-change time, exclusion time): the candidates of a page
--   sorted by last_changed_at, and of a ?since= poll.
-- undeliverable_exclusions: operator exclusions, append-only and kept forever.
-- undeliverable_rules: the org's configurable rules, one row per version (read with FINAL).

CREATE TABLE IF NOT EXISTS undeliverable_history (
    org_id UUID,
    okey String,
    kind Enum8('permanent' = 1, 'transient' = 2, 'undetermined' = 3, 'complaint' = 4, 'reject' = 5, 'delay' = 6, 'rule_change' = 7, 'exclusion' = 8),
    occurred_ms Int64,
    payload String
) ENGINE = MergeTree()
ORDER BY (okey, occurred_ms)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS undeliverable_history_mv TO undeliverable_history AS
SELECT
    org_id,
    concat(toString(org_id), '/', lower(recipient)) AS okey,
    CAST(multiIf(
        event_type = 'Bounce' AND bounce_type = 'Permanent', 'permanent',
        event_type = 'Bounce' AND bounce_type = 'Transient', 'transient',
        event_type = 'Bounce', 'undetermined',
        event_type = 'Complaint', 'complaint',
        event_type = 'Reject', 'reject',
        'delay') AS Enum8('permanent' = 1, 'transient' = 2, 'undetermined' = 3, 'complaint' = 4, 'reject' = 5, 'delay' = 6, 'rule_change' = 7, 'exclusion' = 8)) AS kind,
    occurred_ms,
    concat(
        toString(occurred_ms), '\t',
        toString(ingested_ms), '\t',
        multiIf(
            event_type = 'Bounce' AND bounce_type = 'Permanent', '1',
            event_type = 'Bounce' AND bounce_type = 'Transient', '2',
            event_type = 'Bounce', '3',
            event_type = 'Complaint', '4',
            event_type = 'Reject', '5',
            '6'), '\t',
        replaceAll(multiIf(event_type = 'Bounce', bounce_sub_type, event_type = 'Complaint', feedback_type, ''), '\t', ' '), '\t',
        replaceAll(diagnostic, '\t', ' '), '\t',
        replaceAll(sender, '\t', ' ')) AS payload
FROM events
WHERE event_type IN ('Bounce', 'Complaint', 'Reject', 'DeliveryDelay')
    AND (event_type != 'Bounce' OR bounce_type IN ('Permanent', 'Transient', 'Undetermined'));

CREATE TABLE IF NOT EXISTS undeliverable_activity (
    org_id UUID,
    ingested_ms Int64,
    email String,
    kind Enum8('permanent' = 1, 'transient' = 2, 'undetermined' = 3, 'complaint' = 4, 'reject' = 5, 'delay' = 6, 'rule_change' = 7, 'exclusion' = 8)
) ENGINE = MergeTree()
PARTITION BY intDiv(ingested_ms, 2592000000)
ORDER BY (org_id, ingested_ms, email);

CREATE MATERIALIZED VIEW IF NOT EXISTS undeliverable_activity_mv TO undeliverable_activity AS
SELECT
    org_id,
    ingested_ms,
    lower(recipient) AS email,
    CAST(multiIf(
        event_type = 'Bounce' AND bounce_type = 'Permanent', 'permanent',
        event_type = 'Bounce' AND bounce_type = 'Transient', 'transient',
        event_type = 'Bounce', 'undetermined',
        event_type = 'Complaint', 'complaint',
        event_type = 'Reject', 'reject',
        'delay') AS Enum8('permanent' = 1, 'transient' = 2, 'undetermined' = 3, 'complaint' = 4, 'reject' = 5, 'delay' = 6, 'rule_change' = 7, 'exclusion' = 8)) AS kind
FROM events
WHERE event_type IN ('Bounce', 'Complaint', 'Reject', 'DeliveryDelay')
    AND (event_type != 'Bounce' OR bounce_type IN ('Permanent', 'Transient', 'Undetermined'));

CREATE TABLE IF NOT EXISTS undeliverable_exclusions (
    id UUID,
    org_id UUID,
    email String,
    excluded_ms Int64,
    excluded_by String,
    reason String
) ENGINE = MergeTree()
ORDER BY (org_id, email, excluded_ms, id);

CREATE TABLE IF NOT EXISTS undeliverable_rules (
    org_id UUID,
    version UInt64,
    repeated_transient_enabled UInt8,
    repeated_transient_events UInt32,
    repeated_transient_window_days UInt32,
    undetermined_enabled UInt8,
    undetermined_events UInt32,
    undetermined_window_days UInt32,
    soft_bounce_accumulation_enabled UInt8,
    soft_bounce_accumulation_events UInt32,
    soft_bounce_accumulation_window_days UInt32,
    updated_ms Int64,
    updated_by String
) ENGINE = ReplacingMergeTree(version)
ORDER BY org_id;
