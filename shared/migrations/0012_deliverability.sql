-- Deliverability intelligence: breakdowns by recipient domain, mailbox provider, bounce cause,
-- channel, template and sending domain (`/v1/reports/breakdown`), reputation against SES's
-- thresholds (`/v1/reputation`) and its transitions (`/v1/reputation/alerts`). docs/deliverability.md.
--
-- engaged_recipients: one row per stored Open or Click row, like `engaged`, with the recipient's
-- lower-cased domain (the part after the last '@', up to a '>' or a space:
-- shared/src/read/breakdown.rs `recipient_domain`), so distinct openers and clickers per domain
-- over a window read fixed-width hashes of that domain only. Only used for distinct counts, so a
-- second copy of an event (a retried or racing INSERT) changes nothing. The view is created
-- before the backfill reads its snapshot: an event stored in between has two rows, counted once.

CREATE TABLE IF NOT EXISTS engaged_recipients (
    org_id UUID,
    event_type Enum8('Send' = 1, 'Delivery' = 2, 'Bounce' = 3, 'Complaint' = 4, 'Reject' = 5, 'Open' = 6, 'Click' = 7, 'DeliveryDelay' = 8, 'RenderingFailure' = 9, 'Subscription' = 10),
    day Date,
    occurred_ms Int64,
    channel_id UUID,
    sender_domain String,
    template String,
    recipient_domain String,
    recipient_hash FixedString(16)
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, event_type, day, recipient_domain, recipient_hash);

CREATE MATERIALIZED VIEW IF NOT EXISTS engaged_recipients_mv TO engaged_recipients AS
SELECT org_id, event_type, day, occurred_ms, channel_id, sender_domain, template,
    lower(extract(recipient, '@([^@>\\s]*)[^@]*$')) AS recipient_domain,
    sipHash128(lower(recipient)) AS recipient_hash
FROM events
WHERE event_type IN ('Open', 'Click');

INSERT INTO engaged_recipients
SELECT org_id, event_type, day, occurred_ms, channel_id, sender_domain, template,
    lower(extract(recipient, '@([^@>\\s]*)[^@]*$')) AS recipient_domain,
    sipHash128(lower(recipient)) AS recipient_hash
FROM events
WHERE event_type IN ('Open', 'Click');

-- Breakdown day seals, like the report seals (0010): per (org, whole past UTC day), the rows per
-- (event type, bounce type, bounce cause, channel, sending domain, template, recipient domain)
-- counted from `events` by distinct event id, with the day's change counter read before
-- counting and the version of the bounce-cause rules (`rules`) they were classified with. A seal
-- is used while both are unchanged; the latest seal of a day wins.
CREATE TABLE IF NOT EXISTS breakdown_day_seals (
    org_id UUID,
    day Date,
    seal_id UUID,
    changes UInt64,
    rules String,
    sealed_ms Int64
) ENGINE = ReplacingMergeTree(sealed_ms)
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day);

CREATE TABLE IF NOT EXISTS breakdown_day_counts (
    org_id UUID,
    day Date,
    seal_id UUID,
    event_type Enum8('Send' = 1, 'Delivery' = 2, 'Bounce' = 3, 'Complaint' = 4, 'Reject' = 5, 'Open' = 6, 'Click' = 7, 'DeliveryDelay' = 8, 'RenderingFailure' = 9, 'Subscription' = 10),
    bounce_type String,
    bounce_cause String,
    channel_id UUID,
    channel String,
    sender_domain String,
    template String,
    recipient_domain String,
    n UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (org_id, day, seal_id, event_type, recipient_domain);

-- Mailbox providers of recipient domains, resolved from their MX hosts in the background (and
-- by `sendops-admin providers refresh`). Not per org: a domain's MX is the same for everyone.
-- `outcome`: resolved (mx holds the hosts, provider the classification), no_mx (the domain has
-- no MX: provider `none`), failed (timeout, server failure: the reader keeps the latest
-- resolved or no_mx answer, and without one the domain is `other`). The latest answer wins.
CREATE TABLE IF NOT EXISTS mailbox_domains (
    domain String,
    outcome Enum8('resolved' = 1, 'no_mx' = 2, 'failed' = 3),
    provider String,
    mx Array(String),
    error String,
    resolved_ms Int64
) ENGINE = ReplacingMergeTree(resolved_ms)
ORDER BY (domain, outcome);

-- Reputation status transitions (healthy / warning / at_risk / insufficient_volume) of an org
-- (scope 'org', key '') or one of its channels (scope 'channel', key = channel id), with the
-- figures that caused them. `alert_id` is derived from the previous transition of the same
-- scope and the new status, so two evaluators recording the same crossing write the same id
-- (read once). `recorded_ms` is stamped under an in-flight registration (ingest_batches), so
-- `?since=` polls read only what is committed.
CREATE TABLE IF NOT EXISTS reputation_alerts (
    org_id UUID,
    alert_id UUID,
    scope String,
    scope_key String,
    previous_status String,
    status String,
    window_days UInt16,
    sends UInt64,
    deliveries UInt64,
    permanent_bounces UInt64,
    complaints UInt64,
    bounce_rate Float64,
    complaint_rate Float64,
    evaluated_ms Int64,
    recorded_ms Int64
) ENGINE = ReplacingMergeTree()
PARTITION BY intDiv(recorded_ms, 2592000000)
ORDER BY (org_id, recorded_ms, alert_id);
