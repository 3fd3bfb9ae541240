//! The operations listener of `sendops-api` and `sendops-ingest poll` (`SENDOPS_METRICS_ADDR`,
//! off by default; `sendops_shared::ops::metrics_addr_from_env`): `/metrics` (Prometheus text
//! exposition rendered by `metrics-exporter-prometheus`'s recorder) and `/ready` (200 when the
//! store answers `SELECT version()` within 2 s and the process is not warming up, 503
//! otherwise). Its own crate because `shared`
//! knows no HTTP, and neither service may depend on the other.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusBuilder;
pub use metrics_exporter_prometheus::{Matcher, PrometheusHandle};
use sendops_shared::Store;

/// Latency buckets (seconds) of every `*_duration_seconds` histogram without buckets of its own
/// (API routes, store queries).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide Prometheus recorder: `buckets` for the metrics they match (a full
/// name wins over a suffix), [`LATENCY_BUCKETS`] for the other `*_duration_seconds`
/// histograms. Its handle renders the exposition.
pub fn install_recorder(buckets: &[(Matcher, &[f64])]) -> Result<PrometheusHandle, String> {
    let mut builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), LATENCY_BUCKETS)
        .map_err(|e| e.to_string())?;
    for (matcher, values) in buckets {
        builder = builder
            .set_buckets_for_metric(matcher.clone(), values)
            .map_err(|e| e.to_string())?;
    }
    builder.install_recorder().map_err(|e| e.to_string())
}

/// Whether the store answers within 2 s.
pub async fn store_ready(store: &Store) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), store.server_version()).await,
        Ok(Ok(_))
    )
}

/// Binds `addr` for [`serve`].
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Set while the process warms up (loads what its first requests would otherwise load
/// themselves): `/ready` answers 503 meanwhile.
pub type Warming = std::sync::Arc<std::sync::atomic::AtomicBool>;

/// Serves `/metrics` and `/ready` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, handle: PrometheusHandle, store: Store) {
    serve_warming(listener, handle, store, None).await
}

/// [`serve`], `/ready` also answering 503 while `warming` is set.
pub async fn serve_warming(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    store: Store,
    warming: Option<Warming>,
) {
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
                let warming = warming.clone();
                async move {
                    if !store_ready(&store).await {
                        (StatusCode::SERVICE_UNAVAILABLE, "store not reachable\n").into_response()
                    } else if warming.is_some_and(|w| w.load(std::sync::atomic::Ordering::Acquire))
                    {
                        (StatusCode::SERVICE_UNAVAILABLE, "warming up\n").into_response()
                    } else {
                        (StatusCode::OK, "ready\n").into_response()
                    }
                }
            }),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "metrics listener stopped");
    }
}

/// Binds `addr` and serves [`serve`] in the background; returns once bound.
pub async fn spawn(
    addr: SocketAddr,
    handle: PrometheusHandle,
    store: Store,
) -> std::io::Result<()> {
    let listener = bind(addr).await?;
    tokio::spawn(serve(listener, handle, store));
    Ok(())
}

/// Resolves on SIGTERM (ECS, Kubernetes) or SIGINT (Ctrl-C); on SIGINT alone where SIGTERM
/// cannot be listened for. Both binaries stop gracefully on it.
pub async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
