//! The operations listener (`SENDOPS_METRICS_ADDR`, off by default): `/metrics` (Prometheus text
//! exposition rendered by `metrics-exporter-prometheus`'s recorder) and `/ready` (200 when the
//! store answers `SELECT version()` within 2 s, 503 otherwise). `/v1/_health` on the API listener
//! stays the static liveness answer.
//!
//! Metric names (all recorded through the `metrics` facade; nothing is recorded until `main`
//! installs the recorder):
//! - `sendops_api_requests_total{route,method,status}`: every response of the gate; `route` is
//!   the route template (axum's `MatchedPath`), `unmatched` for unknown paths, never the raw path.
//! - `sendops_api_request_duration_seconds{route,method}`: histogram.
//! - `sendops_api_rate_limited_total{route}`: 429 refusals.
//! - `sendops_api_auth_failures_total`: requests refused with 401 (no, unknown, revoked key).
//! - `sendops_api_cache_lookups_total{cache}`, `sendops_api_cache_misses_total{cache}`: hit ratio
//!   = 1 − misses / lookups of the key cache (`api_keys`), the SES suppression lists
//!   (`ses_suppressions`, whole-list reads) and the account snapshots (`account`).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sendops_shared::Store;

/// Latency buckets (seconds) for every `*_duration_seconds` histogram.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide Prometheus recorder; its handle renders the exposition.
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), LATENCY_BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())
}

/// Whether the store answers within 2 s.
pub async fn store_ready(store: &Store) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), store.server_version()).await,
        Ok(Ok(_))
    )
}

/// Serves `/metrics` and `/ready` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, handle: PrometheusHandle, store: Store) {
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move {
                    handle.run_upkeep();
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        handle.render(),
                    )
                }
            }),
        )
        .route(
            "/ready",
            get(move || {
                let store = store.clone();
                async move {
                    if store_ready(&store).await {
                        (StatusCode::OK, "ready\n").into_response()
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "store not reachable\n").into_response()
                    }
                }
            }),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "metrics listener stopped");
    }
}

/// Binds `addr` for [`serve`].
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
