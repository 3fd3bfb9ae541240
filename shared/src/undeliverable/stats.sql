-- Per (address, rule): the rule's qualifying events inside its window, for the addresses the
-- candidate subquery names. Values, in order: Array(Array(UInt8)), the rule ids each history
-- kind feeds (indexed by the kind's Enum8 value); the org id; the candidate subquery's values;
-- Array(Int64), the window start of each rule id. Rule ids: see store.rs. (No question marks in
-- this file other than the placeholders: the client treats each one as a placeholder.)
SELECT
    email,
    rule,
    count() AS n,
    min(occurred_ms) AS first_ms,
    max(occurred_ms) AS last_ms,
    max(ingested_ms) AS ingest_ms,
    argMaxIf(subtype, (occurred_ms, subtype), subtype != '') AS sub,
    argMaxIf(diagnostic, (occurred_ms, diagnostic), diagnostic != '') AS diag,
    argMax(sender, (occurred_ms, sender)) AS snd
FROM undeliverable_history
ARRAY JOIN arrayElement(?, toUInt8(kind)) AS rule
WHERE org_id = ?
    AND email IN (/*candidates*/)
    AND occurred_ms >= arrayElement(?, rule)
GROUP BY email, rule
