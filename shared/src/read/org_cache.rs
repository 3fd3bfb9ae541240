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
