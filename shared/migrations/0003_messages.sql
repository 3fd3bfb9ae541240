-- Per-message projection for GET /v1/messages (newest first by sent_ms, keyset cursors), the
-- message-id index for detail and timeline lookups, and the per-recipient index for
-- GET /v1/recipients/{email}/messages. All three are fed from `events` on insert, and `events`
-- only ever receives rows that are not stored yet, so the states count each event once.
-- The mail fields of a message are the same in all its events, so they sit in the sorting key
-- (after the primary key) rather than being aggregated; a query groups by (sent_ms, message_id).

CREATE TABLE IF NOT EXISTS messages (
    org_id UUID,
    sent_ms Int64,
    message_id String,
    channel String,
    channel_id UUID,
    template String,
    source String,
    sender_domain String,
    subject String,
    destination AggregateFunction(any, Array(String)),
    status AggregateFunction(argMax, String, Int64),
    last_event_ms AggregateFunction(max, Int64)
) ENGINE = AggregatingMergeTree()
PARTITION BY intDiv(sent_ms, 2592000000)
PRIMARY KEY (org_id, sent_ms, message_id)
ORDER BY (org_id, sent_ms, message_id, channel_id, channel, sender_domain, template, source, subject);

CREATE MATERIALIZED VIEW IF NOT EXISTS messages_mv TO messages AS
SELECT
    org_id,
    sent_ms,
    message_id,
    any(channel) AS channel,
    any(channel_id) AS channel_id,
    max(template) AS template,
    any(source) AS source,
    any(sender_domain) AS sender_domain,
    max(subject) AS subject,
    anyState(destination) AS destination,
    argMaxState(toString(event_type), multiIf(
        event_type = 'Send', occurred_ms * 8,
        event_type IN ('Delivery', 'DeliveryDelay', 'Bounce', 'Reject'), occurred_ms * 8 + 1,
        event_type = 'Complaint', occurred_ms * 8 + 2,
        event_type = 'Open', occurred_ms * 8 + 3,
        event_type = 'Click', occurred_ms * 8 + 4,
        toInt64(-1))) AS status,
    maxState(occurred_ms) AS last_event_ms
FROM events
GROUP BY org_id, sent_ms, message_id;

CREATE TABLE IF NOT EXISTS message_index (
    org_id UUID,
    message_id String,
    sent_ms Int64
) ENGINE = ReplacingMergeTree()
ORDER BY (org_id, message_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS message_index_mv TO message_index AS
SELECT DISTINCT org_id, message_id, sent_ms
FROM events;

CREATE TABLE IF NOT EXISTS message_recipients (
    org_id UUID,
    recipient String,
    sent_ms Int64,
    message_id String
) ENGINE = ReplacingMergeTree()
PARTITION BY intDiv(sent_ms, 2592000000)
ORDER BY (org_id, recipient, sent_ms, message_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS message_recipients_mv TO message_recipients AS
SELECT DISTINCT org_id, arrayJoin(destination) AS recipient, sent_ms, message_id
FROM events;
