//! `sendops-api`: serves the SendOps public API.
//!
//! Configuration (environment): SENDOPS_API_ADDR (default 127.0.0.1:8080), CLICKHOUSE_URL,
//! CLICKHOUSE_DATABASE, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_CLUSTER (a ClickHouse
//! cluster: docs/scale-out.md), SENDOPS_PUBLIC_URL,
//! SENDOPS_PROBLEM_BASE, SENDOPS_KEY_CACHE_SECONDS, SENDOPS_AUTH_FAILURES_PER_MINUTE,
//! SENDOPS_TRUSTED_PROXIES (SENDOPS_TRUST_FORWARDED_FOR, deprecated), SENDOPS_ALLOWED_HOSTS,
//! SENDOPS_HEADER_READ_TIMEOUT_SECONDS, SENDOPS_IDLE_TIMEOUT_SECONDS,
//! SENDOPS_REQUEST_TIMEOUT_SECONDS, SENDOPS_MAX_CONNECTIONS, SENDOPS_MAX_URI_BYTES,
//! SENDOPS_MAX_HEADER_BYTES, SENDOPS_COMMIT, SENDOPS_SES_CACHE_SECONDS, SENDOPS_SES_ENDPOINT_URL
//! (with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), SENDOPS_UNDELIVERABLE_SETTLE_MS,
//! SENDOPS_REPORT_INDEX_MB, SENDOPS_BREAKDOWN_INDEX_MB, SENDOPS_REPORT_PREPARE_SECONDS, SENDOPS_REPUTATION_EVALUATE_SECONDS,
//! SENDOPS_PROVIDER_REFRESH_SECONDS, SENDOPS_DNS_RESOLVER, SENDOPS_SHUTDOWN_GRACE_SECONDS,
//! SENDOPS_LOG_FORMAT (text|json), SENDOPS_METRICS_ADDR (/metrics and /ready), RUST_LOG.

use std::process::ExitCode;

use clap::Parser;
use sendops_outbound::ses::SesAccess;
use sendops_query_api::config::ApiConfig;
use sendops_query_api::{
    AppState, edge, ops, serve, spawn_housekeeping, spawn_provider_refresh,
    spawn_report_preparation, spawn_reputation_alerts,
};
use sendops_shared::Store;
use sendops_shared::store::config::ClickHouseConfig;

/// Serves the SendOps public REST API (read-only). All settings come from the environment; see
/// the README's configuration table.
#[derive(Parser)]
#[command(name = "sendops-api", version)]
struct Cli {
    /// Print the OpenAPI document and exit.
    #[arg(long)]
    openapi: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.openapi {
        sendops_shared::print_line(
            &serde_json::to_string_pretty(&sendops_query_api::openapi::document())
                .unwrap_or_default(),
        );
        return ExitCode::SUCCESS;
    }
    let (log_format, metrics_addr) = match (
        sendops_shared::ops::LogFormat::from_env(),
        sendops_shared::ops::metrics_addr_from_env(),
    ) {
        (Ok(f), Ok(a)) => (f, a),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("sendops-api: {e}");
            return ExitCode::from(2);
        }
    };
    sendops_shared::ops::init_logging(log_format, "info");
    let mut config = match ApiConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sendops-api: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os("SENDOPS_TRUSTED_PROXIES").is_none()
        && std::env::var_os("SENDOPS_TRUST_FORWARDED_FOR").is_some()
    {
        tracing::warn!(
            trusted_proxies = config.trusted_proxies,
            "SENDOPS_TRUST_FORWARDED_FOR is deprecated; set SENDOPS_TRUSTED_PROXIES"
        );
    }
    match edge::raise_open_files_limit() {
        Ok((before, after)) => {
            tracing::info!(before, after, "open-files limit raised to the hard limit");
            // Keep descriptors for the store client, logs and refusals.
            let room = usize::try_from(after.saturating_sub(128))
                .unwrap_or(usize::MAX)
                .max(1);
            if config.edge.max_connections > room {
                tracing::warn!(
                    configured = config.edge.max_connections,
                    lowered_to = room,
                    "SENDOPS_MAX_CONNECTIONS exceeds the open-files limit; lowered"
                );
                config.edge.max_connections = room;
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not raise the open-files limit"),
    }
    let cfg = ClickHouseConfig::from_env();
    let store = match Store::connect(&cfg) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("sendops-api: {e}");
            return ExitCode::from(2);
        }
    };
    let tls = store.tls();
    match store.server_version().await {
        Ok(v) => tracing::info!(
            clickhouse = %v,
            tls,
            database = store.database(),
            "store reachable"
        ),
        Err(e) => tracing::warn!(
            error = %e,
            tls,
            "store not reachable yet; requests will answer 503 until it is"
        ),
    }
    let ses = SesAccess::from_env().await;
    tracing::info!(ses = ?ses, "ses access");
    let mut ops_listener = None;
    if let Some(addr) = metrics_addr {
        let handle = match ops::install_recorder() {
            Ok(h) => h,
            Err(e) => {
                eprintln!("sendops-api: SENDOPS_METRICS_ADDR: {e}");
                return ExitCode::from(2);
            }
        };
        let listener = match ops::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("sendops-api: SENDOPS_METRICS_ADDR: cannot listen on {addr}: {e}");
                return ExitCode::from(2);
            }
        };
        tracing::info!(%addr, "metrics and readiness listener (/metrics, /ready)");
        ops_listener = Some((listener, handle));
    }
    let state = AppState::with_ses(store.clone(), config.clone(), ses);
    spawn_housekeeping(state.clone());
    spawn_report_preparation(state.clone());
    if let Some((listener, handle)) = ops_listener {
        // After the preparation started: /ready waits for its first prefill.
        tokio::spawn(ops::serve_warming(
            listener,
            handle,
            store,
            Some(state.warming.clone()),
        ));
    }
    spawn_reputation_alerts(state.clone());
    spawn_provider_refresh(state.clone());
    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sendops-api: cannot listen on {}: {e}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %config.addr, edge = ?config.edge, "serving");
    // SIGTERM (ECS, Kubernetes) or SIGINT: stop accepting, let open requests finish.
    let shutdown = async {
        sendops_ops::termination().await;
        tracing::info!("termination signal: finishing open requests");
    };
    serve(listener, state, shutdown).await;
    ExitCode::SUCCESS
}
