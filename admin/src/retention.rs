//! `prune` and `erase`: retention and erasure (sendops_shared::store::retention).

use std::sync::Arc;

use sendops_shared::Store;
use sendops_shared::address::{AddressRule, EmailAddress};
use sendops_shared::store::housekeeping::RecordsRetention;
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
    /// Days a resolved quarantine entry is kept after its resolution (open entries are kept
    /// whatever their age). Not applied with --org: quarantine belongs to no org.
    #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub quarantine_days: u32,
    /// Days a set-up notice (and its confirmation attempts) is kept after it was received. Not
    /// applied with --org.
    #[arg(long, value_name = "DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub notice_days: u32,
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

/// `prune`: removes rows older than each org's retention plus the grace, and (without `--org`)
/// resolved quarantine entries and notices older than their own retention.
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
    let mut out = serde_json::to_value(store.prune(&opts).await?)?;
    // The operator's records (no org column) are pruned by a whole-platform run only.
    out["records"] = if args.org.is_none() {
        let keep = RecordsRetention {
            quarantine_days: args.quarantine_days,
            notice_days: args.notice_days,
        };
        let pruned = store.prune_records(keep, opts.now_ms, args.dry_run).await?;
        eprintln!(
            "sendops-admin prune: records: {} resolved quarantine rows, {} notices, {} confirmation attempts{}",
            pruned.quarantine_resolved,
            pruned.notices,
            pruned.notice_confirmations,
            if args.dry_run { " (dry run)" } else { "" }
        );
        let mut v = serde_json::to_value(pruned)?;
        v["quarantine_days"] = json!(keep.quarantine_days);
        v["notice_days"] = json!(keep.notice_days);
        v
    } else {
        serde_json::Value::Null
    };
    Ok(out)
}

/// `erase`: removes every row about one recipient address from the org's data.
pub async fn run_erase(store: &Store, args: EraseArgs) -> anyhow::Result<serde_json::Value> {
    let org = org_by_slug(store, &args.org).await?;
    let email = EmailAddress::parse(&args.email, AddressRule::Loose)
        .map_err(|e| anyhow::anyhow!("--email {e}"))?;
    let summary = store
        .erase_address(
            org.id,
            email.as_str(),
            "sendops-admin",
            Arc::new(|line| eprintln!("sendops-admin erase: {line}")),
        )
        .await?;
    let mut out = serde_json::to_value(summary)?;
    out["org"] = json!(org.slug);
    Ok(out)
}
