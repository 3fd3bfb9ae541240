//! `sendops-admin providers refresh`: resolves now the mailbox providers of recipient domains
//! (docs/deliverability.md#mailbox-providers) through the DNS resolvers of
//! `SENDOPS_DNS_RESOLVER` (or /etc/resolv.conf), one line per domain on stderr, a summary on
//! stdout. `sendops-api` does the same in the background (`SENDOPS_PROVIDER_REFRESH_SECONDS`).

use anyhow::Context;
use clap::Subcommand;
use sendops_outbound::dns::Resolver;
use sendops_outbound::providers::{RefreshOptions, refresh};
use sendops_shared::Store;
use sendops_shared::read::breakdown::providers::OTHER;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum ProvidersCommand {
    /// Ask DNS now for the MX records of recipient domains seen in the last --days days whose
    /// answer is missing or older than --max-age-hours (failed lookups: older than 1 h), most
    /// mail first, and record each answer (resolved → provider by MX host, no MX or NXDOMAIN →
    /// none, timeout or SERVFAIL → failed, keeping the previous answer). Well-known consumer
    /// domains (gmail.com, outlook.com, …) are never asked. Breakdowns re-attribute history at
    /// once.
    Refresh {
        /// Only this org's recipient domains (default: every org's).
        #[arg(long)]
        org: Option<String>,
        /// Domains seen in the last this many days (1–400).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=400))]
        days: u16,
        /// Ask again when the answer is older than this (0 = ask every due domain again).
        #[arg(long, default_value_t = 168)]
        max_age_hours: u64,
        /// At most this many domains (1–100000).
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        limit: u64,
    },
}

pub async fn run_providers(store: &Store, command: ProvidersCommand) -> anyhow::Result<Value> {
    let ProvidersCommand::Refresh {
        org,
        days,
        max_age_hours,
        limit,
    } = command;
    let org = match org {
        Some(slug) => Some(crate::org_by_slug(store, &slug).await?.id),
        None => None,
    };
    let resolver = Resolver::from_env().context("cannot resolve mailbox providers")?;
    let age = std::time::Duration::from_secs(max_age_hours.saturating_mul(3600));
    let opts = RefreshOptions {
        org,
        seen_days: days,
        refresh_age: age,
        retry_failed_after: age.min(std::time::Duration::from_secs(3600)),
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
        ..RefreshOptions::default()
    };
    let done = refresh(store, &resolver, &opts, |row| {
        let detail = match row.outcome {
            1 => format!("{} ({})", row.provider, row.mx.join(", ")),
            2 => "none (no MX)".to_owned(),
            _ => format!("failed: {} (stays {})", row.error, OTHER),
        };
        eprintln!("{} → {detail}", row.domain);
    })
    .await?;
    Ok(json!({
        "asked": done.asked,
        "resolved": done.resolved,
        "no_mx": done.no_mx,
        "failed": done.failed,
    }))
}
