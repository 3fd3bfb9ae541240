//! `prune` and `erase`: retention and erasure (sendops_shared::store::retention).

use std::sync::Arc;

use sendops_shared::Store;
use sendops_shared::store::retention::{DEFAULT_GRACE_DAYS, PruneOptions};
use sendops_shared::timefmt::now_ms;
use serde_json::json;

use crate::org_by_slug;

#[derive(clap::Args)]
pub struct PruneArgs {
    /// Only this org (default: every org).
    #[arg(long)]
    pub org: Option<String>,
    /// Days kept after the plan's retention before rows are removed.
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_GRACE_DAYS)]
    pub grace_days: u32,
    /// Count what would be removed and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(clap::Args)]
pub struct EraseArgs {
    /// The org's slug.
    #[arg(long)]
    pub org: String,
    /// The recipient address to erase (any case).
    #[arg(long)]
    pub email: String,
}

/// `prune`: removes rows older than each org's retention plus the grace.
pub async fn run_prune(store: &Store, args: PruneArgs) -> anyhow::Result<serde_json::Value> {
    let orgs = match &args.org {
        Some(slug) => Some(vec![org_by_slug(store, slug).await?]),
        None => None,
    };
    let opts = PruneOptions {
        orgs,
        grace_days: args.grace_days,
        dry_run: args.dry_run,
        now_ms: now_ms(),
        progress: Arc::new(|line| eprintln!("sendops-admin prune: {line}")),
    };
    Ok(serde_json::to_value(store.prune(&opts).await?)?)
}

/// `erase`: removes every row about one recipient address from the org's data.
pub async fn run_erase(store: &Store, args: EraseArgs) -> anyhow::Result<serde_json::Value> {
    let org = org_by_slug(store, &args.org).await?;
    if !args.email.contains('@') {
        anyhow::bail!("--email must be an email address");
    }
    let summary = store
        .erase_address(
            org.id,
            &args.email,
            "sendops-admin",
            Arc::new(|line| eprintln!("sendops-admin erase: {line}")),
        )
        .await?;
    let mut out = serde_json::to_value(summary)?;
    out["org"] = json!(org.slug);
    Ok(out)
}
