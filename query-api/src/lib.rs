//! The SendOps public API (v1): read-only, authenticated with API keys, rate limited per org,
//! every error an RFC 7807 problem document. [`router`] builds the whole service; `main` and the
//! tests both use it.

pub mod auth;
pub mod config;
pub mod cursor;
pub mod edge;
pub mod gate;
pub mod listing;
pub mod openapi;
pub mod params;
pub mod problem;
pub mod rate_limit;
pub mod routes;
pub mod ses_views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use sendops_outbound::ses::SesAccess;
use sendops_shared::Store;
use sendops_shared::read::engaged_index::EngagedIndex;

use crate::auth::KeyCache;
use crate::config::ApiConfig;
use crate::rate_limit::RateLimits;

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub config: ApiConfig,
    pub keys: KeyCache,
    pub limits: RateLimits,
    /// SES access and the per-org caches of suppressions and account snapshots.
    pub ses: ses_views::SesViews<routes::account::Account>,
    /// Engaged recipients per org and day, for template performance's distinct counts.
    pub engaged: EngagedIndex,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// A state without SES access (SES-backed routes answer 503, `/v1/account` has no `aws`).
    pub fn new(store: Store, config: ApiConfig) -> AppState {
        AppState::with_ses(store, config, SesAccess::disabled())
    }

    pub fn with_ses(store: Store, config: ApiConfig, ses: SesAccess) -> AppState {
        AppState(Arc::new(Inner {
            keys: auth::key_cache(config.key_cache_ttl),
            limits: RateLimits::new(config.auth_failures_per_minute),
            ses: ses_views::SesViews::new(ses, config.ses_cache_ttl),
            engaged: EngagedIndex::new(config.report_index_bytes),
            store,
            config,
        }))
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/_health", get(routes::meta::health))
        .route("/v1/_scopes", get(routes::meta::scopes))
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/v1/messages", get(routes::messages::list))
        .route("/v1/messages/{id}", get(routes::messages::get_one))
        .route("/v1/messages/{id}/events", get(routes::messages::events))
        .route(
            "/v1/recipients/{email}/messages",
            get(routes::messages::by_recipient),
        )
        .route(
            "/v1/reports/deliverability",
            get(routes::reports::deliverability),
        )
        .route("/v1/reports/engagement", get(routes::reports::engagement))
        .route(
            "/v1/reports/template-performance",
            get(routes::reports::template_performance),
        )
        .route("/v1/suppressions", get(routes::suppressions::list))
        .route(
            "/v1/suppressions/{email}",
            get(routes::suppressions::get_one),
        )
        .route("/v1/account", get(routes::account::get))
        .route("/v1/channels", get(routes::channels::list))
        .route("/v1/channels/{name}", get(routes::channels::get_one))
        .route("/v1/identities", get(routes::identities::list))
        .route(
            "/v1/identities/{identity}",
            get(routes::identities::get_one),
        )
        .route("/v1/templates", get(routes::templates::list))
        .route("/v1/templates/{slug}", get(routes::templates::get_one))
        .route("/v1/tracking-domains", get(routes::tracking_domains::list))
        .route(
            "/v1/tracking-domains/{domain}",
            get(routes::tracking_domains::get_one),
        )
        .route("/v1/undeliverable", get(routes::undeliverable::list))
        .route("/v1/undeliverable/rules", get(routes::undeliverable::rules))
        .fallback(routes::meta::not_found)
        .method_not_allowed_fallback(routes::meta::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ))
        .with_state(state)
}

/// Serves the API on `tcp` through the connection layer ([`edge::serve`]) until `shutdown`
/// resolves; refusals made there are the API's problem documents.
pub async fn serve(
    tcp: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let for_refusals = state.clone();
    let refuse: edge::Refuse =
        Arc::new(move |error, path, peer| gate::refusal(&for_refusals, error, path, peer));
    let limits = state.config.edge.clone();
    edge::serve(tcp, router(state), limits, refuse, shutdown).await;
}

/// Periodic work: expire rotated keys whose 24 h grace has ended (writing their audit rows) and
/// trim rate-limiter state. Runs until the process ends.
/// Prepares report seals in the background every `SENDOPS_REPORT_PREPARE_SECONDS` (from start;
/// nothing when 0): `main` spawns it, tests do not.
pub fn spawn_report_preparation(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.config.report_prepare_every;
    if every.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match state.store.prepare_reports().await {
                Ok(done) if done.sealed_days > 0 => tracing::info!(
                    orgs = done.orgs,
                    sealed_days = done.sealed_days,
                    "report days prepared"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not prepare report days"),
            }
        }
    }))
}

pub fn spawn_housekeeping(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            state.limits.housekeeping();
            match state
                .store
                .expire_rotation_grace(sendops_shared::timefmt::now_ms())
                .await
            {
                Ok(expired) if !expired.is_empty() => {
                    tracing::info!(
                        count = expired.len(),
                        "rotation grace ended; old keys revoked"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not expire rotated keys"),
            }
        }
    })
}
