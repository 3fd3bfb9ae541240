-- Automatic SNS subscription confirmation (issue 15): what sendops-ingest did with each recorded
-- SubscriptionConfirmation notice (`notices.id`). `confirmed`: the SNS ConfirmSubscription API
-- answered (`subscription_arn` is what it returned); `refused`: the check of
-- shared/src/event/sns_confirm.rs failed (`detail` is the reason; nothing was called); `failed`:
-- the call failed (`detail` is the error; the notice can still be confirmed by hand, see
-- `sendops-admin notices list`). One row per attempt; readers take each notice's latest.
-- `sendops-admin prune` removes them with their notices (docs/retention.md).

CREATE TABLE IF NOT EXISTS notice_confirmations (
    notice_id UUID,
    attempted_ms Int64,
    topic_arn String,
    outcome Enum8('confirmed' = 1, 'refused' = 2, 'failed' = 3),
    detail String,
    subscription_arn String
) ENGINE = MergeTree()
ORDER BY (notice_id, attempted_ms);
