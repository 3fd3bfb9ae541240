//! The live SES reads behind `/v1/suppressions` and `/v1/account`, each through a per-org cache
//! of at most `SENDOPS_SES_CACHE_SECONDS` (60 s by default, docs/semantics.md#ses-views):
//!
//! - the org's whole account-level suppression list (every ListSuppressedDestinations page),
//!   sorted newest first once when it is fetched; lists, filters, cursors and case-insensitive
//!   lookups are answered from it;
//! - single-address GetSuppressedDestination answers, for lookups while the list is not cached;
//! - the composed `/v1/account` snapshot. A snapshot whose GetAccount failed is kept for at
//!   most 5 s, so SES recovering shows up quickly without every poll reaching a failing SES.
//!
//! Concurrent misses for the same org share one SES round trip (`try_get_with`). SES failures are
//! never cached as lists; they surface as [`ApiError::Unavailable`] (503 with Retry-After).

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use sendops_outbound::ses::{SesAccess, SesError, SesTarget, Suppression};
use sendops_shared::Store;
use sendops_shared::StoreError;
use sendops_shared::address::EmailAddress;
use sendops_shared::control::org::Org;
use uuid::Uuid;

use crate::problem::ApiError;

/// How long a snapshot whose SES read failed is kept.
const FAILED_SNAPSHOT_TTL: Duration = Duration::from_secs(5);

/// A failure while reading SES for an org.
#[derive(Debug, Clone)]
pub enum ViewError {
    Ses(SesError),
    Store(Arc<StoreError>),
}

impl From<SesError> for ViewError {
    fn from(e: SesError) -> Self {
        ViewError::Ses(e)
    }
}

impl From<StoreError> for ViewError {
    fn from(e: StoreError) -> Self {
        ViewError::Store(Arc::new(e))
    }
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> Self {
        match e {
            // Not something a retry fixes: the org has no AWS account connected yet.
            ViewError::Ses(SesError::NotConnected { .. }) => ApiError::NotFound {
                resource: "aws_connection",
            },
            ViewError::Ses(e) => ApiError::Unavailable {
                retry_after: e.retry_after(),
                cause: e.to_string(),
            },
            ViewError::Store(e) => match Arc::try_unwrap(e) {
                Ok(e) => e.into(),
                Err(shared) => ApiError::Unavailable {
                    retry_after: 5,
                    cause: shared.to_string(),
                },
            },
        }
    }
}

/// A cached value that knows whether SES answered while it was built.
pub trait SesOutcome {
    fn ses_ok(&self) -> bool;
}

struct ByOutcome {
    ttl: Duration,
}

impl<V: SesOutcome> Expiry<Uuid, Arc<V>> for ByOutcome {
    fn expire_after_create(&self, _: &Uuid, value: &Arc<V>, _: Instant) -> Option<Duration> {
        Some(if value.ses_ok() {
            self.ttl
        } else {
            self.ttl.min(FAILED_SNAPSHOT_TTL)
        })
    }
}

/// The org's suppression list, newest first (then address descending), as SES had it.
pub type SuppressionList = Arc<Vec<Suppression>>;

/// SES access plus the per-org caches.
pub struct SesViews<A> {
    pub access: SesAccess,
    pub ttl: Duration,
    suppressions: Cache<Uuid, SuppressionList>,
    lookups: Cache<(Uuid, String), Arc<Suppression>>,
    accounts: Cache<Uuid, Arc<A>>,
}

impl<A: SesOutcome + Send + Sync + 'static> SesViews<A> {
    pub fn new(access: SesAccess, ttl: Duration) -> SesViews<A> {
        SesViews {
            access,
            ttl,
            suppressions: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
            lookups: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            accounts: Cache::builder()
                .max_capacity(100_000)
                .expire_after(ByOutcome { ttl })
                .build(),
        }
    }

    pub async fn target(&self, store: &Store, org: &Org) -> Result<SesTarget, ViewError> {
        if !self.access.is_configured() {
            return Err(SesError::NotConfigured.into());
        }
        let settings = store.org_settings(org.id).await?;
        Ok(SesTarget::for_org(org, &settings)?)
    }

    /// The org's whole suppression list, from the cache or SES.
    pub async fn suppressions(
        &self,
        store: &Store,
        org: &Org,
    ) -> Result<SuppressionList, ViewError> {
        metrics::counter!("sendops_api_cache_lookups_total", "cache" => "ses_suppressions")
            .increment(1);
        let load = async {
            metrics::counter!("sendops_api_cache_misses_total", "cache" => "ses_suppressions")
                .increment(1);
            let target = self.target(store, org).await?;
            let mut list = self.access.suppressions(&target).await?;
            list.sort_by(|a, b| (b.last_update_ms, &b.email).cmp(&(a.last_update_ms, &a.email)));
            Ok::<_, ViewError>(Arc::new(list))
        };
        self.suppressions
            .try_get_with(org.id, load)
            .await
            .map_err(|e| (*e).clone())
    }

    /// One address, matched case-insensitively; the entry keeps SES's casing. Answered from the
    /// cached list when there is one; otherwise SES is asked for the address as given, and when
    /// SES does not know that spelling, the list is fetched (and cached) and searched.
    pub async fn suppression(
        &self,
        store: &Store,
        org: &Org,
        email: &EmailAddress,
    ) -> Result<Option<Suppression>, ViewError> {
        let email = email.as_str();
        let wanted = email.to_lowercase();
        let find = |list: &SuppressionList| {
            list.iter()
                .find(|s| s.email.to_lowercase() == wanted)
                .cloned()
        };
        if let Some(list) = self.suppressions.get(&org.id).await {
            return Ok(find(&list));
        }
        let key = (org.id, wanted.clone());
        if let Some(hit) = self.lookups.get(&key).await {
            return Ok(Some((*hit).clone()));
        }
        let target = self.target(store, org).await?;
        if let Some(found) = self.access.suppression(&target, email).await? {
            self.lookups.insert(key, Arc::new(found.clone())).await;
            return Ok(Some(found));
        }
        let list = self.suppressions(store, org).await?;
        Ok(find(&list))
    }

    /// The org's account snapshot from the cache, or built by `build` (which reads the store and
    /// SES) and cached.
    pub async fn account<F>(&self, org_id: Uuid, build: F) -> Result<Arc<A>, ViewError>
    where
        F: Future<Output = Result<A, ViewError>>,
    {
        metrics::counter!("sendops_api_cache_lookups_total", "cache" => "account").increment(1);
        self.accounts
            .try_get_with(org_id, async {
                metrics::counter!("sendops_api_cache_misses_total", "cache" => "account")
                    .increment(1);
                build.await.map(Arc::new)
            })
            .await
            .map_err(|e| (*e).clone())
    }
}
