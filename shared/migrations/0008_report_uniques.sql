-- Engaged recipients as plain rows, and a cache of settled per-day distinct counts.
--
-- Merging uniqExact states of the engaged recipients in `report_daily` is what made the
-- engagement and template reports slow on ClickHouse 18.16 (about 0.25 s for 30 days of a
-- 10 M-event tenant; benches/README.md). `engaged` keeps one row per stored Open or Click row with
-- the 128-bit SipHash of the lower-cased recipient (the same hash uniqExact keeps for a string),
-- sorted by type and day, so a distinct count reads fixed-width hashes and never deserialises a
-- state. It is fed from `events` like every other view; the INSERT backfills what was stored
-- before this migration.

CREATE TABLE IF NOT EXISTS engaged (
    org_id UUID,
    event_type Enum8('Send' = 1, 'Delivery' = 2, 'Bounce' = 3, 'Complaint' = 4, 'Reject' = 5, 'Open' = 6, 'Click' = 7, 'DeliveryDelay' = 8, 'RenderingFailure' = 9, 'Subscription' = 10),
    day Date,
    occurred_ms Int64,
    channel_id UUID,
    sender_domain String,
    template String,
    recipient_hash FixedString(16)
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, event_type, day, channel_id, sender_domain, template, recipient_hash);

CREATE MATERIALIZED VIEW IF NOT EXISTS engaged_mv TO engaged AS
SELECT org_id, event_type, day, occurred_ms, channel_id, sender_domain, template,
    sipHash128(lower(recipient)) AS recipient_hash
FROM events
WHERE event_type IN ('Open', 'Click');

INSERT INTO engaged
SELECT org_id, event_type, day, occurred_ms, channel_id, sender_domain, template,
    sipHash128(lower(recipient)) AS recipient_hash
FROM events
WHERE event_type IN ('Open', 'Click');

-- Distinct engaged recipients of one whole past UTC day under one filter (`scope`), written by
-- the API the first time a report needs that day, with the number of `engaged` rows it counted
-- (`engaged_rows`). Stored rows are only ever added, so a day whose row count in `report_daily`
-- still equals `engaged_rows` still has exactly `uniques` distinct recipients; a day that gained
-- a late event no longer matches and is counted again. The latest computation wins.

CREATE TABLE IF NOT EXISTS report_uniques_daily (
    org_id UUID,
    scope String,
    day Date,
    event_type Enum8('Send' = 1, 'Delivery' = 2, 'Bounce' = 3, 'Complaint' = 4, 'Reject' = 5, 'Open' = 6, 'Click' = 7, 'DeliveryDelay' = 8, 'RenderingFailure' = 9, 'Subscription' = 10),
    engaged_rows UInt64,
    uniques UInt64,
    computed_ms UInt64
) ENGINE = ReplacingMergeTree(computed_ms)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, scope, day, event_type);
