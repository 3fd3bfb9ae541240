-- Undeliverable pages that read a bounded amount of data however the changes arrived.
--
-- `undeliverable_activity` is ordered by (org_id, ingested_ms, email). ClickHouse 18.16 cannot
-- stop reading a key range early for `ORDER BY … LIMIT`, so a page that asked it for "the most
-- recently active addresses" or "the next addresses of this second in email order" read every
-- activity row of its time slice: after a bulk replay or a backlog drain, hundreds of thousands
-- of addresses share one second, and every page and `?since=` poll paid for all of them.
--
-- undeliverable_activity_blocks: one row per write of activity rows that share an ingest time
-- (one INSERT block per (org, ingested_ms)): how many distinct addresses it holds, and every
-- 200th of them in email order (`fences`; 200 = DENSE_CHUNK in
-- shared/src/undeliverable/store.rs). A page walks seconds newest first through this small
-- table and reads activity only for slices it knows hold at most its candidate cap; inside a
-- second holding more, the next 200 addresses after a cursor lie at or before the smallest fence
-- after the cursor, so the activity read is bounded by an email range too.
--
-- Rows may be counted twice (a retried INSERT, a second copy from a racing consumer): that only
-- makes slices narrower. A block row must never be missing for activity that exists, so the view
-- is created before the backfill reads its snapshot. Activity rows the operator tool writes
-- directly (rule-change marks, exclusions) get their block rows from the same code that writes
-- them (ClickHouse 18.16 does not run a view on a table that another view writes into).

CREATE TABLE IF NOT EXISTS undeliverable_activity_blocks (
    org_id UUID,
    second Int64,
    ingested_ms Int64,
    emails UInt32,
    fences Array(String)
) ENGINE = MergeTree()
PARTITION BY intDiv(second, 2592000)
ORDER BY (org_id, second);

CREATE MATERIALIZED VIEW IF NOT EXISTS undeliverable_activity_blocks_mv TO undeliverable_activity_blocks AS
SELECT
    org_id,
    intDiv(ingested_ms, 1000) AS second,
    ingested_ms,
    toUInt32(length(groupUniqArray(lower(recipient)))) AS emails,
    arrayFilter((e, i) -> i % 200 = 0, arraySort(groupUniqArray(lower(recipient))) AS sorted, arrayEnumerate(sorted)) AS fences
FROM events
WHERE event_type IN ('Bounce', 'Complaint', 'Reject', 'DeliveryDelay')
    AND (event_type != 'Bounce' OR bounce_type IN ('Permanent', 'Transient', 'Undetermined'))
GROUP BY org_id, ingested_ms;

INSERT INTO undeliverable_activity_blocks
SELECT
    org_id,
    intDiv(ingested_ms, 1000) AS second,
    ingested_ms,
    toUInt32(length(groupUniqArray(email))) AS emails,
    arrayFilter((e, i) -> i % 200 = 0, arraySort(groupUniqArray(email)) AS sorted, arrayEnumerate(sorted)) AS fences
FROM undeliverable_activity
GROUP BY org_id, ingested_ms;
