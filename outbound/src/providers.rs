//! Mailbox-provider resolution (docs/deliverability.md#mailbox-providers): the recipient domains
//! seen recently that are not well-known consumer domains and whose answer is missing or older
//! than the refresh age are asked for their MX records, and the answer is recorded in
//! `mailbox_domains` (sendops_shared::read::breakdown::providers). NXDOMAIN and "no MX" record
//! the provider `none`; a timeout or SERVFAIL records a failure, which keeps the domain's
//! previous answer (or `other`) and is retried after `retry_failed_after`. Run in the background
//! by `sendops-api` and on demand by `sendops-admin providers refresh`.

use std::time::Duration;

use sendops_shared::StoreError;
use sendops_shared::read::breakdown::providers::DomainRow;
use sendops_shared::store::Store;
use sendops_shared::timefmt::now_ms;
use uuid::Uuid;

use crate::dns::{MxLookup, Resolver};

/// What one refresh does.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// Only this org's recipient domains (default: every org's).
    pub org: Option<Uuid>,
    /// Domains seen in the last this many days.
    pub seen_days: u16,
    /// An answer older than this is asked again.
    pub refresh_age: Duration,
    /// A failed lookup is retried after this long.
    pub retry_failed_after: Duration,
    /// At most this many domains per refresh (most mail first).
    pub limit: usize,
    /// Lookups in flight at once.
    pub concurrency: usize,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        RefreshOptions {
            org: None,
            seen_days: 30,
            refresh_age: Duration::from_secs(7 * 86_400),
            retry_failed_after: Duration::from_secs(3_600),
            limit: 500,
            concurrency: 8,
        }
    }
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    pub asked: usize,
    pub resolved: usize,
    pub no_mx: usize,
    pub failed: usize,
}

/// The answer to one domain, as a row to record.
pub async fn resolve(resolver: &Resolver, domain: &str) -> DomainRow {
    match resolver.mx(domain).await {
        Ok(MxLookup::Found(hosts)) => {
            // RFC 7505 null MX ("."): the domain accepts no mail.
            let hosts: Vec<String> = hosts.into_iter().filter(|h| !h.is_empty()).collect();
            DomainRow::answered(domain, hosts)
        }
        Ok(MxLookup::NoRecord | MxLookup::NxDomain) => DomainRow::answered(domain, Vec::new()),
        Ok(MxLookup::ServFail) => DomainRow::failed(domain, "SERVFAIL".into()),
        Err(e) => DomainRow::failed(domain, e.to_string()),
    }
}

/// Resolves the domains that are due and records every answer; `progress` sees each row as it
/// is recorded.
pub async fn refresh(
    store: &Store,
    resolver: &Resolver,
    opts: &RefreshOptions,
    mut progress: impl FnMut(&DomainRow),
) -> Result<Refreshed, StoreError> {
    let now = now_ms();
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let due = store
        .domains_to_resolve(
            opts.org,
            opts.seen_days,
            now.saturating_sub(ms(opts.refresh_age)),
            now.saturating_sub(ms(opts.retry_failed_after)),
            opts.limit,
        )
        .await?;
    let mut done = Refreshed::default();
    for chunk in due.chunks(opts.concurrency.max(1)) {
        let mut set = tokio::task::JoinSet::new();
        for domain in chunk {
            let (r, d) = (resolver.clone(), domain.clone());
            set.spawn(async move { resolve(&r, &d).await });
        }
        let mut rows = Vec::with_capacity(chunk.len());
        while let Some(row) = set.join_next().await {
            if let Ok(row) = row {
                rows.push(row);
            }
        }
        rows.sort_by(|a, b| a.domain.cmp(&b.domain));
        store.record_mailbox_domains(&rows).await?;
        for row in &rows {
            done.asked += 1;
            match row.outcome {
                1 => done.resolved += 1,
                2 => done.no_mx += 1,
                _ => done.failed += 1,
            }
            progress(row);
        }
    }
    Ok(done)
}
