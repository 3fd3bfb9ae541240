-- Core tables: events (one row per SES event and recipient), quarantine, set-up notices,
-- orgs and the SES account → org mapping. Runs on ClickHouse 18.16 and current releases:
-- no LowCardinality, no DateTime64, no TTL, no Map (see ARCHITECTURE.md).

CREATE TABLE IF NOT EXISTS events (
    org_id UUID,
    day Date,
    event_id UUID,
    occurred_ms Int64,
    event_type Enum8('Send' = 1, 'Delivery' = 2, 'Bounce' = 3, 'Complaint' = 4, 'Reject' = 5, 'Open' = 6, 'Click' = 7, 'DeliveryDelay' = 8, 'RenderingFailure' = 9, 'Subscription' = 10),
    message_id String,
    sent_ms Int64,
    recipient String,
    source String,
    sender String,
    sender_domain String,
    channel String,
    channel_id UUID,
    template String,
    subject String,
    destination Array(String),
    bounce_type String,
    bounce_sub_type String,
    diagnostic String,
    smtp_response String,
    processing_time_ms Nullable(UInt32),
    feedback_type String,
    delay_type String,
    reject_reason String,
    ip_address String,
    user_agent String,
    click_url String,
    error_message String,
    contact_list String,
    ses_account String,
    ingested_ms Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, event_id);

CREATE TABLE IF NOT EXISTS quarantine (
    id UUID,
    received_ms Int64,
    source String,
    reason String,
    detail String,
    account_id String,
    raw String,
    resolved_ms Int64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY id;

CREATE TABLE IF NOT EXISTS notices (
    id UUID,
    received_ms Int64,
    kind String,
    topic_arn String,
    raw String
) ENGINE = ReplacingMergeTree()
ORDER BY id;

CREATE TABLE IF NOT EXISTS orgs (
    id UUID,
    slug String,
    name String,
    plan Enum8('free' = 1, 'pro' = 2, 'enterprise' = 3),
    aws_account_id String,
    region String,
    rate_limit_override Nullable(UInt32),
    created_ms Int64,
    updated_ms UInt64
) ENGINE = ReplacingMergeTree(updated_ms)
ORDER BY id;

CREATE TABLE IF NOT EXISTS org_accounts (
    aws_account_id String,
    org_id UUID,
    updated_ms UInt64
) ENGINE = ReplacingMergeTree(updated_ms)
ORDER BY aws_account_id;
