//! Per-org in-process state under one byte budget, least recently used orgs dropped first: what
//! the engaged index ([`crate::read::engaged_index`]) and the breakdown index
//! ([`crate::read::breakdown::index`]) keep their orgs in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex};

use tokio::sync::Mutex;
use uuid::Uuid;

/// Rows of `table` (with `org_id`, `day` and `event_type` columns) of `org_id` on `days` with an
/// event type in `types` (a quoted list): what loading those days into an index would hold at
/// most, checked against the budget before loading.
pub(crate) async fn rows_on_days(
    store: &crate::store::Store,
    table: &str,
    org_id: Uuid,
    days: &[u16],
    types: &str,
) -> Result<u64, crate::StoreError> {
    use crate::read::report_filter::{date, day_in};
    let (Some(lo), Some(hi)) = (days.iter().min(), days.iter().max()) else {
        return Ok(0);
    };
    Ok(store
        .client()
        .query(&format!(
            "SELECT count() FROM {table} WHERE org_id = ? AND day >= toDate(?) \
             AND day <= toDate(?) AND {} AND event_type IN ({types})",
            day_in(days)
        ))
        .bind(org_id.to_string())
        .bind(date(*lo))
        .bind(date(*hi))
        .fetch_one::<u64>()
        .await?)
}

/// A day an index holds, with the change counter it was loaded under.
pub(crate) trait HeldDay {
    fn changes(&self) -> u64;
}

/// The days of [first, last] with rows (a counter above 0: the days a window reads) and those of
/// them to load now: a held day whose counter moved since it was loaded is dropped from `held`
/// first. Counts each day with rows as a lookup of `cache` and each day to load as a miss
/// (`sendops_api_cache_lookups_total` / `…_misses_total`).
pub(crate) fn days_to_load<D: HeldDay>(
    held: &mut HashMap<u16, Arc<D>>,
    changes: &std::collections::BTreeMap<u16, u64>,
    (first, last): (u16, u16),
    cache: &'static str,
) -> (Vec<u16>, Vec<u16>) {
    let counter = |d: &u16| changes.get(d).copied().unwrap_or(0);
    held.retain(|d, day| !(first..=last).contains(d) || day.changes() == counter(d));
    let wanted: Vec<u16> = (first..=last).filter(|d| counter(d) > 0).collect();
    let load: Vec<u16> = wanted
        .iter()
        .copied()
        .filter(|d| !held.contains_key(d))
        .collect();
    metrics::counter!("sendops_api_cache_lookups_total", "cache" => cache)
        .increment(wanted.len() as u64);
    metrics::counter!("sendops_api_cache_misses_total", "cache" => cache)
        .increment(load.len() as u64);
    (wanted, load)
}

/// Orgs with rows of `types` (a quoted list) in `table` since the day `first`, those with the
/// most rows first: the order a prefill loads orgs in.
pub(crate) async fn busiest_orgs(
    store: &crate::store::Store,
    table: &str,
    types: &str,
    first: crate::timefmt::UtcDay,
) -> Result<Vec<Uuid>, crate::StoreError> {
    #[derive(serde::Deserialize, clickhouse::Row)]
    struct Busiest {
        #[serde(with = "clickhouse::serde::uuid")]
        org_id: Uuid,
        n: u64,
    }
    // Each shard counts its own orgs (a shard that is down only leaves its orgs out).
    let sql = format!(
        "SELECT org_id, count() AS n FROM {table} WHERE event_type IN ({types}) \
         AND day >= toDate(?) GROUP BY org_id"
    );
    let sql = &sql;
    let mut all: Vec<Busiest> = store
        .on_each_shard("prefill", |s| async move {
            Ok(s.client()
                .query(sql)
                .bind(crate::read::report_filter::date(first.0))
                .fetch_all::<Busiest>()
                .await?)
        })
        .await?
        .into_iter()
        .flatten()
        .collect();
    all.sort_by(|a, b| b.n.cmp(&a.n).then(a.org_id.cmp(&b.org_id)));
    Ok(all.into_iter().map(|b| b.org_id).collect())
}

/// Orgs' state `T`, each behind its own async lock.
pub struct OrgCache<T> {
    budget_bytes: usize,
    orgs: SyncMutex<Orgs<T>>,
}

struct Orgs<T> {
    map: HashMap<Uuid, Arc<Mutex<T>>>,
    /// Bytes per org as of its last use, and when that was (a counter), for eviction.
    usage: HashMap<Uuid, (usize, u64)>,
    clock: u64,
}

impl<T: Default> OrgCache<T> {
    pub fn new(budget_bytes: usize) -> OrgCache<T> {
        OrgCache {
            budget_bytes,
            orgs: SyncMutex::new(Orgs {
                map: HashMap::new(),
                usage: HashMap::new(),
                clock: 0,
            }),
        }
    }

    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Orgs<T>> {
        self.orgs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `org_id`'s state (empty at first).
    pub fn org(&self, org_id: Uuid) -> Arc<Mutex<T>> {
        self.lock().map.entry(org_id).or_default().clone()
    }

    /// Records that `org_id` now holds `bytes` and was just used; drops least recently used
    /// orgs while all of them hold more than the budget (an org larger than the whole budget
    /// is dropped itself once it was answered).
    pub fn account(&self, org_id: Uuid, bytes: usize) {
        let mut orgs = self.lock();
        orgs.clock += 1;
        let now = orgs.clock;
        orgs.usage.insert(org_id, (bytes, now));
        let mut total: usize = orgs.usage.values().map(|u| u.0).sum();
        while total > self.budget_bytes {
            let Some((&oldest, &(b, _))) = orgs.usage.iter().min_by_key(|(_, u)| u.1) else {
                break;
            };
            orgs.usage.remove(&oldest);
            orgs.map.remove(&oldest);
            total -= b;
        }
    }

    /// Bytes held across orgs.
    pub fn held(&self) -> usize {
        self.lock().usage.values().map(|u| u.0).sum()
    }

    /// Whether a prefill may load another org: it stops at half the budget, leaving the rest
    /// to what requests ask for.
    pub fn prefill_room(&self) -> bool {
        self.held() < self.budget_bytes / 2
    }

    /// A prefill: the orgs with the most rows of `types` in `table` over the last `days` days
    /// (and today), most first, each loaded by `load` (its own shard's store, the org, the
    /// window; `Ok(true)` when it was loaded) while the cache holds less than half its budget.
    /// An org whose shard is down waits for the next pass. Returns the orgs loaded.
    pub(crate) async fn prefill<F, Fut>(
        &self,
        store: &crate::store::Store,
        (table, types): (&str, &str),
        days: u16,
        load: F,
    ) -> Result<usize, crate::StoreError>
    where
        F: Fn(crate::store::Store, Uuid, crate::timefmt::TimeRange) -> Fut,
        Fut: std::future::Future<Output = Result<bool, crate::StoreError>>,
    {
        let now = crate::timefmt::EpochMs::now();
        let first = now.day().minus(days);
        let mut done = 0;
        for org_id in busiest_orgs(store, table, types, first).await? {
            if !self.prefill_room() {
                break;
            }
            let routed = match store.route(org_id).await {
                Ok(r) => r,
                Err(crate::StoreError::Unavailable(_)) => continue,
                Err(e) => return Err(e),
            };
            let window = crate::timefmt::TimeRange::new(first.start(), now);
            if load(routed, org_id, window).await? {
                done += 1;
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(cache: &OrgCache<u8>) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = cache.lock().map.keys().copied().collect();
        ids.sort();
        ids
    }

    #[test]
    fn least_recently_used_orgs_are_dropped_beyond_the_budget() {
        let cache: OrgCache<u8> = OrgCache::new(100);
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        for org in [a, b] {
            cache.org(org);
        }
        cache.account(a, 60);
        cache.account(b, 30);
        assert_eq!(kept(&cache), vec![a, b]);
        assert_eq!(cache.held(), 90);
        // a used again (most recent now), then b grows past the budget together with a.
        cache.account(a, 60);
        cache.org(b);
        cache.account(b, 50);
        assert_eq!(kept(&cache), vec![b]);
        // An org larger than the whole budget is not kept either.
        cache.org(c);
        cache.account(c, 500);
        assert_eq!(kept(&cache), Vec::<Uuid>::new());
        assert_eq!(cache.held(), 0);
    }
}
