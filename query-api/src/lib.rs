//! The SendOps public API (v1): read-only, authenticated with API keys, rate limited per org,
//! every error an RFC 7807 problem document. [`router`] builds the whole service; `main` and the
//! tests both use it.

pub mod auth;
pub mod conditional;
pub mod config;
pub mod cursor;
pub mod edge;
pub mod gate;
pub mod listing;
pub mod openapi;
pub mod ops;
pub mod params;
pub mod problem;
pub mod rate_limit;
pub mod request;
pub mod routes;
pub mod ses_views;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use sendops_outbound::ses::SesAccess;
use sendops_shared::Store;
use sendops_shared::read::breakdown::BreakdownIndex;
use sendops_shared::read::engaged_index::EngagedIndex;

use crate::auth::KeyCache;
use crate::config::ApiConfig;
use crate::rate_limit::RateLimits;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    /// Breakdown groups per org and day, for breakdowns and reputation (`None`: off).
    pub breakdowns: Option<BreakdownIndex>,
    /// Set until the background preparation's first prefill of the indexes is done (at most
    /// [`WARMUP_LIMIT`]): `/ready` answers 503 meanwhile.
    pub warming: sendops_ops::Warming,
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
            breakdowns: (config.breakdown_index_bytes > 0)
                .then(|| BreakdownIndex::new(config.breakdown_index_bytes)),
            warming: Default::default(),
            store,
            config,
        }))
    }
}

/// Every route of the API, declared once: the router and the OpenAPI document both come from
/// these `routes!` (a handler's `#[utoipa::path]` gives its method, path and documentation).
pub fn api() -> OpenApiRouter<AppState> {
    use routes::{
        account, breakdown, channels, identities, messages, meta, reports, reputation,
        suppressions, templates, tracking_domains, undeliverable,
    };
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(meta::health))
        .routes(routes!(meta::scopes))
        .routes(routes!(openapi::serve))
        .routes(routes!(messages::list))
        .routes(routes!(messages::get_one))
        .routes(routes!(messages::events))
        .routes(routes!(messages::by_recipient))
        .routes(routes!(reports::deliverability))
        .routes(routes!(reports::engagement))
        .routes(routes!(reports::template_performance))
        .routes(routes!(breakdown::breakdown))
        .routes(routes!(reputation::get))
        .routes(routes!(reputation::alerts))
        .routes(routes!(suppressions::list))
        .routes(routes!(suppressions::get_one))
        .routes(routes!(account::get))
        .routes(routes!(channels::list))
        .routes(routes!(channels::get_one))
        .routes(routes!(identities::list))
        .routes(routes!(identities::get_one))
        .routes(routes!(templates::list))
        .routes(routes!(templates::get_one))
        .routes(routes!(tracking_domains::list))
        .routes(routes!(tracking_domains::get_one))
        .routes(routes!(undeliverable::list))
        .routes(routes!(undeliverable::rules))
}

/// The whole API: the routes of [`api`], the problem documents for unknown routes and methods,
/// and the gate (authentication except on the document's public operations, rate limits).
pub fn router(state: AppState) -> Router {
    let (routes, _) = api().split_for_parts();
    routes
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

/// The longest the first prefill holds `/ready` at 503.
pub const WARMUP_LIMIT: Duration = Duration::from_secs(120);

/// Days of each busy org the breakdown index holds ready: reputation's longest window (30 days),
/// ending at any time since yesterday.
const PREFILL_DAYS: u16 = 31;

/// Days of each busy org the engaged index (template performance's distinct counts) holds
/// ready: a 90-day window ending at any time since yesterday.
const ENGAGED_PREFILL_DAYS: u16 = 91;

/// Prepares reports in the background every `SENDOPS_REPORT_PREPARE_SECONDS` (from start;
/// nothing when 0): the breakdown and engaged indexes of the busiest orgs, then report and
/// breakdown seals (with the breakdown index on, breakdown seals only for the last 31 days: the
/// alert evaluation and the provider refresh read them). `main` spawns it, tests do not.
pub fn spawn_report_preparation(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.config.report_prepare_every;
    if every.is_zero() {
        return None;
    }
    // Not ready until the first prefill is done, or WARMUP_LIMIT has passed, whichever is first.
    state.warming.store(true, Ordering::Release);
    let limit = state.warming.clone();
    tokio::spawn(async move {
        tokio::time::sleep(WARMUP_LIMIT).await;
        if limit.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                seconds = WARMUP_LIMIT.as_secs(),
                "ready before the report indexes were prefilled"
            );
        }
    });
    periodic(every, move || {
        let state = state.clone();
        async move {
            // First the in-process breakdown index (what the first breakdown or reputation
            // request after a start would otherwise load itself), then the store's seals.
            if let Some(index) = &state.breakdowns {
                match index.prefill(&state.store, PREFILL_DAYS).await {
                    Ok(orgs) => tracing::debug!(orgs, "breakdown index prefilled"),
                    Err(e) => tracing::warn!(error = %e, "could not prefill the breakdown index"),
                }
            }
            match state
                .engaged
                .prefill(&state.store, ENGAGED_PREFILL_DAYS)
                .await
            {
                Ok(orgs) => tracing::debug!(orgs, "engaged index prefilled"),
                Err(e) => tracing::warn!(error = %e, "could not prefill the engaged index"),
            }
            if state.warming.swap(false, Ordering::AcqRel) {
                tracing::info!("report indexes prefilled: ready");
            }
            match state.store.prepare_reports().await {
                Ok(done) if done.sealed_days > 0 => tracing::info!(
                    orgs = done.orgs,
                    sealed_days = done.sealed_days,
                    "report days prepared"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not prepare report days"),
            }
            // Breakdowns and reputation read the index; what reads seals is the alert
            // evaluation (7 days), the provider refresh's list of recently seen recipient
            // domains (30 days: `Store::domains_to_resolve`) and a window the index cannot
            // hold. Without the index every day within retention is sealed.
            let days = match &state.breakdowns {
                Some(_) => PREFILL_DAYS,
                None => 366,
            };
            match state.store.prepare_breakdowns(days).await {
                Ok(n) if n > 0 => tracing::info!(sealed_days = n, "breakdown days prepared"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not prepare breakdown days"),
            }
        }
    })
}

/// Evaluates every org's reputation every `SENDOPS_REPUTATION_EVALUATE_SECONDS` (default 60;
/// nothing when 0) and records status transitions (`/v1/reputation/alerts`): `main` spawns it,
/// tests call `Store::evaluate_reputation` themselves.
pub fn spawn_reputation_alerts(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let thresholds = sendops_shared::read::reputation::Thresholds::default();
    periodic(state.config.reputation_evaluate_every, move || {
        let state = state.clone();
        async move {
            match state.store.evaluate_reputations(&thresholds).await {
                Ok(n) if n > 0 => {
                    tracing::info!(transitions = n, "reputation transitions recorded")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not evaluate reputations"),
            }
        }
    })
}

/// Resolves the mailbox providers of recipient domains every `SENDOPS_PROVIDER_REFRESH_SECONDS`
/// (default 300; nothing when 0) through the DNS resolvers of `SENDOPS_DNS_RESOLVER` or
/// /etc/resolv.conf (`sendops_outbound::providers::refresh`).
pub fn spawn_provider_refresh(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.config.provider_refresh_every;
    if every.is_zero() {
        return None;
    }
    let resolver = match sendops_outbound::dns::Resolver::from_env() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "mailbox providers are not resolved: no DNS resolver");
            return None;
        }
    };
    let opts = sendops_outbound::providers::RefreshOptions::default();
    periodic(every, move || {
        let (state, resolver, opts) = (state.clone(), resolver.clone(), opts.clone());
        async move {
            match sendops_outbound::providers::refresh(&state.store, &resolver, &opts, |_| {}).await
            {
                Ok(done) if done.asked > 0 => tracing::info!(
                    asked = done.asked,
                    resolved = done.resolved,
                    no_mx = done.no_mx,
                    failed = done.failed,
                    "mailbox providers refreshed"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not refresh mailbox providers"),
            }
        }
    })
}

/// Runs `work` every `every`, the first time at once (a tick that comes late waits rather than
/// bursting); nothing when `every` is zero.
fn periodic<F, Fut>(every: Duration, mut work: F) -> Option<tokio::task::JoinHandle<()>>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    if every.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            work().await;
        }
    }))
}

/// Periodic work: expire rotated keys whose 24 h grace has ended (writing their audit rows) and
/// trim rate-limiter state. Runs until the process ends.
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
