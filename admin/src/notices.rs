//! `sendops-admin notices list`: the set-up messages ingest acknowledged and recorded in
//! `notices` (SNS subscription and unsubscribe confirmations, non-email EventBridge events).
//!
//! Each SNS `SubscriptionConfirmation` is checked as it is listed
//! ([`sendops_shared::event::sns_confirm`]): `confirmable` when its `SubscribeURL` is
//! `https://sns.<topic's region>.amazonaws.com/…` and its topic is in a known org's account (the
//! URL is shown then, for the operator to open once), otherwise `refused` with the reason.
//! Nothing confirms automatically yet (docs/deploy.md).

use std::collections::HashMap;

use anyhow::Context;
use clap::Subcommand;
use sendops_shared::Store;
use sendops_shared::event::sns_confirm::check_subscription_confirmation;
use sendops_shared::timefmt::format_ms;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum NoticesCommand {
    /// Recorded notices, newest first, each SubscriptionConfirmation with its check
    /// (confirmable + SubscribeURL, or refused + reason).
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
            }
            v
        })
        .collect();
    Ok(json!({ "notices": notices }))
}
