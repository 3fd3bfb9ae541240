-- SES-backed and configuration views (DECISIONS §8): per-org AWS access and onboarding state,
-- and the entities operators sync or register: channels (SES configuration sets), identities,
-- templates (from a git manifest) and tracking domains.
-- Every table is a small ReplacingMergeTree keyed by (org_id, natural key) with a UInt64
-- row_version that each write raises; reads collapse versions with argMax(…, row_version) and
-- GROUP BY the key (not FINAL + WHERE, so a filter can never see an older version of a row).
-- A removed entity is a row with deleted = 1. Times are epoch milliseconds (0 = unset).

CREATE TABLE IF NOT EXISTS org_settings (
    org_id UUID,
    role_arn String,
    external_id String,
    production_access_status String,
    production_access_granted_ms Int64,
    cf_stack_name String,
    cf_template_version UInt32,
    cf_drift_status String,
    updated_ms UInt64
) ENGINE = ReplacingMergeTree(updated_ms)
ORDER BY org_id;

CREATE TABLE IF NOT EXISTS channels (
    org_id UUID,
    slug String,
    channel_id UUID,
    display_name String,
    sending_enabled UInt8,
    tracking_domain String,
    suppression_policy Array(String),
    bound_identities Array(String),
    created_ms Int64,
    synced_ms Int64,
    deleted UInt8,
    row_version UInt64
) ENGINE = ReplacingMergeTree(row_version)
ORDER BY (org_id, slug);

CREATE TABLE IF NOT EXISTS identities (
    org_id UUID,
    identity_key String,
    identity_name String,
    identity_type String,
    verification_status String,
    dkim_status String,
    mail_from_domain String,
    configuration_set String,
    created_ms Int64,
    synced_ms Int64,
    deleted UInt8,
    row_version UInt64
) ENGINE = ReplacingMergeTree(row_version)
ORDER BY (org_id, identity_key);

CREATE TABLE IF NOT EXISTS templates (
    org_id UUID,
    slug String,
    display_name String,
    subject String,
    channel String,
    file_path String,
    commit_sha String,
    last_modified_ms Int64,
    synced_ms Int64,
    deleted UInt8,
    row_version UInt64
) ENGINE = ReplacingMergeTree(row_version)
ORDER BY (org_id, slug);

CREATE TABLE IF NOT EXISTS tracking_domains (
    org_id UUID,
    domain String,
    cname_target String,
    ses_identity String,
    ses_status String,
    dkim_tokens Array(String),
    dns_status String,
    dns_detail String,
    created_ms Int64,
    checked_ms Int64,
    verified_ms Int64,
    deleted UInt8,
    row_version UInt64
) ENGINE = ReplacingMergeTree(row_version)
ORDER BY (org_id, domain);
