//! Automatic confirmation of customers' SNS subscriptions (issue 15, docs/deploy.md). When a
//! customer's topic is subscribed to the platform queue, SNS sends a `SubscriptionConfirmation`
//! through the queue; the pipeline records it in `notices` and acknowledges it. Once its batch is
//! stored, `sendops-ingest` (Lambda and `poll`, not `replay`) checks it with
//! [`sendops_shared::event::sns_confirm`] (SubscribeURL exactly `https://sns.<topic's
//! region>.amazonaws.com/…`, topic in a known org's account) and confirms it through the SNS
//! `ConfirmSubscription` API (topic ARN + token, in the topic's region). The `SubscribeURL` itself
//! is never fetched, so a forged notice cannot make ingest call an address of its choosing.
//!
//! Every attempt is recorded in `notice_confirmations` (confirmed / refused with the reason /
//! failed with the error), shown by `sendops-admin notices list`. Nothing here can fail or hold
//! back a batch: its messages are already acknowledged, errors are recorded and logged, and each
//! call is bounded by [`CALL_TIMEOUT`].
//!
//! Settings: `SENDOPS_SNS_CONFIRM` (`on` by default, `off` disables it) and
//! `SENDOPS_SNS_ENDPOINT_URL` (an SNS endpoint override, e.g. moto_server in tests).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_sns::config::Region;
use aws_sdk_sns::config::timeout::TimeoutConfig;
use sendops_shared::Store;
use sendops_shared::event::sns_confirm::{Confirmable, check_subscription_confirmation};
use sendops_shared::store::{ConfirmationOutcome, ConfirmationRow, NoticeRow};
use sendops_shared::timefmt::now_ms;
use uuid::Uuid;

/// The `notices.kind` of an SNS SubscriptionConfirmation.
pub const SUBSCRIPTION_CONFIRMATION: &str = "sns_subscription_confirmation";

/// The longest one ConfirmSubscription call (with its retries) may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// `SENDOPS_SNS_CONFIRM` and `SENDOPS_SNS_ENDPOINT_URL`, read once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub enabled: bool,
    pub endpoint_url: Option<String>,
}

impl Settings {
    /// The settings from the environment, or why a value is refused (naming the variable).
    pub fn from_env() -> Result<Settings, String> {
        let enabled = match std::env::var("SENDOPS_SNS_CONFIRM") {
            Err(_) => true,
            Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
                "" | "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => {
                    return Err(format!(
                        "SENDOPS_SNS_CONFIRM={v:?}: must be \"on\" or \"off\""
                    ));
                }
            },
        };
        let endpoint_url = match std::env::var("SENDOPS_SNS_ENDPOINT_URL") {
            Err(_) => None,
            Ok(v) if v.trim().is_empty() => None,
            Ok(v) => {
                let lower = v.trim().to_ascii_lowercase();
                if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                    return Err(format!(
                        "SENDOPS_SNS_ENDPOINT_URL={v:?}: must start with http:// or https://"
                    ));
                }
                Some(v.trim().to_owned())
            }
        };
        Ok(Settings {
            enabled,
            endpoint_url,
        })
    }
}

/// Confirms recorded SubscriptionConfirmations; cheap to clone.
#[derive(Clone)]
pub struct Confirmer {
    aws: aws_config::SdkConfig,
    endpoint_url: Option<String>,
}

impl Confirmer {
    /// A confirmer with the default AWS configuration (the process's credentials), or `None`
    /// when `SENDOPS_SNS_CONFIRM=off`.
    pub async fn from_settings(settings: &Settings) -> Option<Confirmer> {
        if !settings.enabled {
            return None;
        }
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Some(Confirmer::new(aws, settings.endpoint_url.clone()))
    }

    pub fn new(aws: aws_config::SdkConfig, endpoint_url: Option<String>) -> Confirmer {
        Confirmer { aws, endpoint_url }
    }

    /// Checks and confirms the SubscriptionConfirmations among a stored batch's `notices`, records
    /// each outcome and returns the rows recorded. A notice already confirmed (a redelivered
    /// message) is skipped. Never fails: errors become `failed` rows and log lines.
    pub async fn confirm(&self, store: &Store, notices: &[NoticeRow]) -> Vec<ConfirmationRow> {
        self.confirm_until(store, notices, None).await
    }

    /// [`Confirmer::confirm`] for a caller that must answer by `deadline` (a Lambda invocation):
    /// a call that might not end [`CALL_TIMEOUT`] + 1 s before it is not made, and recorded as
    /// failed (the notice stays confirmable by hand).
    pub async fn confirm_until(
        &self,
        store: &Store,
        notices: &[NoticeRow],
        deadline: Option<Instant>,
    ) -> Vec<ConfirmationRow> {
        let pending: Vec<&NoticeRow> = notices
            .iter()
            .filter(|n| n.kind == SUBSCRIPTION_CONFIRMATION)
            .collect();
        if pending.is_empty() {
            return Vec::new();
        }
        let ids: Vec<Uuid> = pending.iter().map(|n| n.id).collect();
        let confirmed: HashSet<Uuid> = match store.latest_confirmations(&ids).await {
            Ok(rows) => rows
                .into_iter()
                .filter(|r| r.outcome() == Some(ConfirmationOutcome::Confirmed))
                .map(|r| r.notice_id)
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read earlier subscription confirmations");
                HashSet::new()
            }
        };
        let accounts: Result<HashMap<String, Uuid>, String> =
            store.account_map().await.map_err(|e| e.to_string());
        let mut rows = Vec::new();
        for notice in pending.into_iter().filter(|n| !confirmed.contains(&n.id)) {
            let (outcome, detail, subscription_arn) = match &accounts {
                Err(e) => (
                    ConfirmationOutcome::Failed,
                    format!("cannot read the org accounts: {e}"),
                    String::new(),
                ),
                Ok(map) => {
                    match check_subscription_confirmation(&notice.raw, |a| map.contains_key(a)) {
                        Err(reason) => (ConfirmationOutcome::Refused, reason, String::new()),
                        Ok(_) if too_late(deadline) => (
                            ConfirmationOutcome::Failed,
                            "not attempted: too close to the invocation's deadline".to_owned(),
                            String::new(),
                        ),
                        Ok(c) => match self.call(&c).await {
                            Ok(arn) => (ConfirmationOutcome::Confirmed, String::new(), arn),
                            Err(e) => (ConfirmationOutcome::Failed, e, String::new()),
                        },
                    }
                }
            };
            match outcome {
                ConfirmationOutcome::Confirmed => {
                    tracing::info!(topic_arn = %notice.topic_arn, subscription_arn = %subscription_arn, "sns subscription confirmed");
                }
                ConfirmationOutcome::Refused => {
                    tracing::warn!(topic_arn = %notice.topic_arn, reason = %detail, "sns subscription confirmation refused");
                }
                ConfirmationOutcome::Failed => {
                    tracing::warn!(topic_arn = %notice.topic_arn, error = %detail, "sns subscription confirmation failed");
                }
            }
            metrics::counter!("sendops_ingest_sns_confirmations_total", "outcome" => outcome.as_str())
                .increment(1);
            rows.push(ConfirmationRow {
                notice_id: notice.id,
                attempted_ms: now_ms(),
                topic_arn: notice.topic_arn.clone(),
                outcome: outcome.code(),
                detail,
                subscription_arn,
            });
        }
        if let Err(e) = store.insert_confirmations(&rows).await {
            tracing::warn!(error = %e, confirmations = rows.len(), "cannot record subscription confirmations");
        }
        rows
    }

    /// ConfirmSubscription in the topic's region; the subscription ARN SNS returned.
    async fn call(&self, c: &Confirmable) -> Result<String, String> {
        let mut conf = aws_sdk_sns::config::Builder::from(&self.aws)
            .region(Region::new(c.region.clone()))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(CALL_TIMEOUT)
                    .build(),
            );
        if let Some(url) = &self.endpoint_url {
            conf = conf.endpoint_url(url);
        }
        let out = aws_sdk_sns::Client::from_conf(conf.build())
            .confirm_subscription()
            .topic_arn(&c.topic_arn)
            .token(&c.token)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "ConfirmSubscription: {}",
                    aws_sdk_sns::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(out.subscription_arn.unwrap_or_default())
    }
}

/// Whether a call started now might end less than a second before `deadline`.
fn too_late(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() + CALL_TIMEOUT + Duration::from_secs(1) > d)
}
