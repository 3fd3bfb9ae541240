-- API keys and the org audit log (spec: Authentication; DECISIONS §1, §9).
-- api_keys: one row per key, replaced on every change (scopes, rotation, revocation); read with
-- FINAL. Only the SHA-256 of the secret and its display prefix (sk_live_ + 8 chars) are stored.
-- revoked_ms / expires_ms are 0 when unset; rotated_to is the nil UUID when the key was not rotated.
-- audit_log: append-only lifecycle events (api_key.created, .scopes_updated, .rotated, .revoked,
-- .grace_expired); details is JSON text.

CREATE TABLE IF NOT EXISTS api_keys (
    id UUID,
    org_id UUID,
    name String,
    prefix String,
    key_hash String,
    environment Enum8('live' = 1, 'test' = 2),
    scopes Array(String),
    created_ms Int64,
    revoked_ms Int64,
    expires_ms Int64,
    rotated_to UUID,
    updated_ms UInt64
) ENGINE = ReplacingMergeTree(updated_ms)
ORDER BY id;

CREATE TABLE IF NOT EXISTS audit_log (
    id UUID,
    org_id UUID,
    at_ms Int64,
    action String,
    actor String,
    key_id UUID,
    details String
) ENGINE = MergeTree()
ORDER BY (org_id, at_ms, id);
