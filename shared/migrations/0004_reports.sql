-- Daily report rollup: per org, UTC day, event type and the report filters (channel, sending
-- domain, template), the number of stored rows and the exact set of engaged recipients
-- (lower-cased, only for Open and Click). Fed from `events`, which only ever receives rows that
-- are not stored yet, so a replayed batch adds nothing here either. Reports read whole days from
-- here and the partial days at the edges of a [from, to) window from `events`, merging the same
-- aggregate states, so every number is exact to the millisecond.

CREATE TABLE IF NOT EXISTS report_daily (
    org_id UUID,
    day Date,
    event_type Enum8('Send' = 1, 'Delivery' = 2, 'Bounce' = 3, 'Complaint' = 4, 'Reject' = 5, 'Open' = 6, 'Click' = 7, 'DeliveryDelay' = 8, 'RenderingFailure' = 9, 'Subscription' = 10),
    channel_id UUID,
    sender_domain String,
    template String,
    n AggregateFunction(sum, UInt64),
    engaged AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, event_type, channel_id, sender_domain, template);

CREATE MATERIALIZED VIEW IF NOT EXISTS report_daily_mv TO report_daily AS
SELECT
    org_id,
    day,
    event_type,
    channel_id,
    sender_domain,
    template,
    sumState(toUInt64(1)) AS n,
    uniqExactState(if(event_type IN ('Open', 'Click'), lower(recipient), '')) AS engaged
FROM events
GROUP BY org_id, day, event_type, channel_id, sender_domain, template;
