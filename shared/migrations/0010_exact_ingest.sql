-- Exact ingest under crashes, racing consumers and slow commits (ingest/DESIGN.md).
--
-- An INSERT into `events` feeds every materialized view, but not atomically: a store failure
-- can leave rows in `events` and in none, some or all of the views, and two consumers can insert
-- the same event at once. So (1) an event counts as ingested only once its whole INSERT was
-- acknowledged, recorded afterwards in `ingested_events`; anything else is inserted again, and
-- (2) every table derived from `events` tolerates a second copy of an event's rows: the message
-- projection keeps only any/argMax/max states, the message and timeline indexes collapse on
-- read, distinct counts ignore copies, the undeliverable history carries the event id and is
-- counted per id, and report counts are no longer summed on insert: they are counted from
-- `events` per distinct event id and kept as day seals, valid while the day's change counter in
-- `day_changes` is unchanged.

-- Done markers: one row per event whose INSERT (base table and every view) was acknowledged.
-- Written after the acknowledgement, so a marker proves everything derived from the event is
-- stored. The duplicate check reads only this table.
CREATE TABLE IF NOT EXISTS ingested_events (
    org_id UUID,
    day Date,
    event_id UUID
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, event_id);

-- Every event stored before this migration went through the old check-then-insert path and is
-- treated as done (repairing what the old path damaged is `sendops-admin repair`). Rows that
-- ingest adds meanwhile get their own markers; a marker twice collapses.
INSERT INTO ingested_events SELECT org_id, day, event_id FROM events;

-- Change counter per (org, UTC day): every batch adds 1 to each day it writes before its INSERT
-- and 1 after the acknowledgement. It only grows, so a count taken before reading a day
-- still equal later proves nothing was written to that day in between.
CREATE TABLE IF NOT EXISTS day_changes (
    org_id UUID,
    day Date,
    changes UInt64
) ENGINE = SummingMergeTree()
ORDER BY (org_id, day);

-- Days written before this migration start at 1 (a day with no count was never written).
INSERT INTO day_changes SELECT org_id, day, toUInt64(1) AS changes FROM events GROUP BY org_id, day;

-- In-flight batch registry: a batch registers (done = 0) before it stamps and inserts rows,
-- renews its lease while its INSERT runs, and closes (done = 1) after the acknowledgement. A
-- `?since=` poll reads only up to the oldest live batch's start: everything stamped before it
-- is committed (ingest/DESIGN.md).
CREATE TABLE IF NOT EXISTS ingest_batches (
    at_ms Int64,
    batch_id UUID,
    started_ms Int64,
    lease_until_ms Int64,
    done UInt8
) ENGINE = MergeTree()
ORDER BY (at_ms, batch_id);

-- Report day seals: per (org, whole UTC day), the rows per report group counted from `events`
-- by distinct event id, with the `day_changes` value read before counting. A seal is used while
-- that value is unchanged; the latest seal of a day wins.
CREATE TABLE IF NOT EXISTS report_day_seals (
    org_id UUID,
    day Date,
    seal_id UUID,
    changes UInt64,
    sealed_ms Int64
) ENGINE = ReplacingMergeTree(sealed_ms)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day);

CREATE TABLE IF NOT EXISTS report_day_counts (
    org_id UUID,
    day Date,
    seal_id UUID,
    event_type Enum8('Send' = 1, 'Delivery' = 2, 'Bounce' = 3, 'Complaint' = 4, 'Reject' = 5, 'Open' = 6, 'Click' = 7, 'DeliveryDelay' = 8, 'RenderingFailure' = 9, 'Subscription' = 10),
    channel_id UUID,
    sender_domain String,
    template String,
    n UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, seal_id, event_type, channel_id, sender_domain, template);

-- Cached distinct engaged recipients of whole past days per filter scope, validated by the
-- day's change counter (replaces report_uniques_daily, validated by rollup row counts that no
-- longer exist).
CREATE TABLE IF NOT EXISTS report_uniques_days (
    org_id UUID,
    scope String,
    day Date,
    event_type Enum8('Send' = 1, 'Delivery' = 2, 'Bounce' = 3, 'Complaint' = 4, 'Reject' = 5, 'Open' = 6, 'Click' = 7, 'DeliveryDelay' = 8, 'RenderingFailure' = 9, 'Subscription' = 10),
    changes UInt64,
    uniques UInt64,
    computed_ms UInt64
) ENGINE = ReplacingMergeTree(computed_ms)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, scope, day, event_type);

-- The undeliverable history now carries the event id as a seventh payload field, so a second
-- copy of an event counts once. The new view is created before the old one is dropped: an
-- event ingested in between gets a row from each, which the reader counts once (a row without
-- an id is a copy of a row with one and the same other fields).
CREATE MATERIALIZED VIEW IF NOT EXISTS undeliverable_history_v2_mv TO undeliverable_history AS
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
        replaceAll(sender, '\t', ' '), '\t',
        toString(event_id)) AS payload
FROM events
WHERE event_type IN ('Bounce', 'Complaint', 'Reject', 'DeliveryDelay')
    AND (event_type != 'Bounce' OR bounce_type IN ('Permanent', 'Transient', 'Undetermined'));

DROP TABLE IF EXISTS undeliverable_history_mv;

-- Report counts are sealed from `events` now; summing on insert double-counted racing copies.
-- `report_daily` and `report_uniques_daily` stay until no older API process reads them.
DROP TABLE IF EXISTS report_daily_mv;
