//! `sendops-admin notices list`: the set-up messages ingest acknowledged and recorded in
//! `notices` (SNS subscription and unsubscribe confirmations, non-email EventBridge events).
//!
//! Each SNS `SubscriptionConfirmation` is checked as it is listed
//! ([`sendops_shared::event::sns_confirm`]): `confirmable` when its `SubscribeURL` is
//! `https://sns.<topic's region>.amazonaws.com/…` and its topic is in a known org's account (the
//! URL is shown then, for the operator to open once), otherwise `refused` with the reason.
//! `sendops-ingest` confirms them automatically (ingest/src/sns_confirm.rs): what it did last
//! with each one is shown as `auto_confirmation` (`confirmed` with the subscription ARN,
//! `refused` with the reason, `failed` with the error; `null` when it never tried, e.g. with
//! `SENDOPS_SNS_CONFIRM=off` or for a notice recorded before it existed).

use std::collections::HashMap;

use anyhow::Context;
use clap::Subcommand;
use sendops_shared::Store;
use sendops_shared::event::sns_confirm::check_subscription_confirmation;
use sendops_shared::store::{ConfirmationOutcome, ConfirmationRow};
use sendops_shared::timefmt::format_ms;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum NoticesCommand {
    /// Recorded notices, newest first, each SubscriptionConfirmation with its check
    /// (confirmable + SubscribeURL, or refused + reason) and what ingest's automatic
    /// confirmation did with it (auto_confirmation: confirmed, refused or failed, or null).
    List {
        /// Only notices whose topic is in this org's AWS account.
        #[arg(long)]
        org: Option<String>,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10000))]
        limit: u64,
    },
}

pub async fn run_notices(store: &Store, command: NoticesCommand) -> anyhow::Result<Value> {
    let NoticesCommand::List { org, limit } = command;
    let orgs = store.list_orgs().await?;
    // Account → org slugs (an account may serve several orgs, one per region).
    let mut by_account: HashMap<String, Vec<String>> = HashMap::new();
    for o in &orgs {
        by_account
            .entry(o.aws_account_id.clone())
            .or_default()
            .push(o.slug.clone());
    }
    let account = match &org {
        Some(slug) => Some(
            orgs.iter()
                .find(|o| &o.slug == slug)
                .with_context(|| format!("no org with slug {slug:?}"))?
                .aws_account_id
                .clone(),
        ),
        None => None,
    };
    let rows = store.list_notices(account.as_deref(), limit).await?;
    let ids: Vec<uuid::Uuid> = rows
        .iter()
        .filter(|n| n.kind == "sns_subscription_confirmation")
        .map(|n| n.id)
        .collect();
    let attempts: HashMap<uuid::Uuid, ConfirmationRow> = store
        .latest_confirmations(&ids)
        .await?
        .into_iter()
        .map(|c| (c.notice_id, c))
        .collect();
    let notices: Vec<Value> = rows
        .iter()
        .map(|n| {
            let topic_account = n.topic_arn.split(':').nth(4).unwrap_or("");
            let mut v = json!({
                "id": n.id.to_string(),
                "received_at": format_ms(n.received_ms),
                "kind": n.kind,
                "topic_arn": n.topic_arn,
                "orgs": by_account.get(topic_account).cloned().unwrap_or_default(),
            });
            if n.kind == "sns_subscription_confirmation" {
                v["confirmation"] =
                    match check_subscription_confirmation(&n.raw, |a| by_account.contains_key(a)) {
                        Ok(c) => json!({"state": "confirmable", "subscribe_url": c.subscribe_url}),
                        Err(reason) => json!({"state": "refused", "reason": reason}),
                    };
                v["auto_confirmation"] = attempts.get(&n.id).map_or(Value::Null, |c| {
                    let outcome = c.outcome().map_or("unknown", |o| o.as_str());
                    let mut a = json!({
                        "outcome": outcome,
                        "attempted_at": format_ms(c.attempted_ms),
                    });
                    match c.outcome() {
                        Some(ConfirmationOutcome::Confirmed) => {
                            a["subscription_arn"] = c.subscription_arn.clone().into();
                        }
                        Some(ConfirmationOutcome::Refused) => a["reason"] = c.detail.clone().into(),
                        _ => a["error"] = c.detail.clone().into(),
                    }
                    a
                });
            }
            v
        })
        .collect();
    Ok(json!({ "notices": notices }))
}
