//! Who is calling: `Authorization: Bearer sk_(live|test)_…` → SHA-256 → key record, looked up
//! through a short-lived cache that coalesces concurrent misses and caches misses too, so a
//! revoked key is refused by every process within the cache TTL (≤ 5 s). Only the key prefix is
//! ever logged.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sendops_shared::control::api_key::{ApiKey, KeyEnv, hash_secret, parse_secret};
use sendops_shared::control::org::Org;
use sendops_shared::control::scopes::Scope;
use sendops_shared::timefmt::now_ms;
use sendops_shared::{Store, StoreError};

use crate::problem::ApiError;

/// The authenticated caller: a usable key and its org.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key: ApiKey,
    pub org: Org,
}

impl Principal {
    pub fn has(&self, scope: Scope) -> bool {
        self.key.scopes.contains(&scope)
    }

    /// 403 unless the key holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::MissingScope(scope.canonical()))
        }
    }

    pub fn is_test(&self) -> bool {
        self.key.environment == KeyEnv::Test
    }

    /// Requests per minute for this key's environment (docs/semantics.md#time-windows): 600 for live keys unless
    /// the org has an override, 10 % of that for test keys.
    pub fn requests_per_minute(&self) -> u32 {
        let live = self.org.rate_limit_override.unwrap_or(600).max(1);
        if self.is_test() {
            (live / 10).max(1)
        } else {
            live
        }
    }
}

/// The authenticated principal, as a request extension.
#[derive(Debug, Clone)]
pub struct Auth(pub Arc<Principal>);

pub type KeyCache = moka::future::Cache<String, Option<Arc<Principal>>>;

pub fn key_cache(ttl: std::time::Duration) -> KeyCache {
    moka::future::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(ttl)
        .build()
}

/// Why authentication failed (never shown to the client).
#[derive(Debug)]
pub enum AuthFailure {
    /// No, malformed, unknown, revoked or expired key: 401.
    Invalid,
    /// The store could not be asked: 503.
    Store(Arc<StoreError>),
}

/// The bearer token of the request, if it has the shape of a SendOps key.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    parse_secret(token).map(|_| token)
}

/// The caller of a request: the key checked by [`Store::authenticate`] (the one implementation
/// of parse, hash, look-up, constant-time compare, revocation and expiry), with its org, through
/// the cache (keyed by the secret's hash; misses are cached too).
pub async fn authenticate(
    store: &Store,
    cache: &KeyCache,
    headers: &HeaderMap,
) -> Result<Arc<Principal>, AuthFailure> {
    let secret = bearer(headers).ok_or(AuthFailure::Invalid)?;
    let lookup = {
        let store = store.clone();
        let secret = secret.to_owned();
        async move {
            metrics::counter!("sendops_api_cache_misses_total", "cache" => "api_keys").increment(1);
            let Some(key) = store.authenticate(&secret, now_ms()).await? else {
                return Ok(None);
            };
            let Some(org) = store.org_by_id(key.org_id).await? else {
                return Ok(None);
            };
            Ok::<_, StoreError>(Some(Arc::new(Principal { key, org })))
        }
    };
    metrics::counter!("sendops_api_cache_lookups_total", "cache" => "api_keys").increment(1);
    let found = cache
        .try_get_with(hash_secret(secret), lookup)
        .await
        .map_err(AuthFailure::Store)?;
    match found {
        // Expiry is a point in time, so a cached key is checked again on every request.
        Some(p) if p.key.is_usable_at(now_ms()) => Ok(p),
        _ => Err(AuthFailure::Invalid),
    }
}
