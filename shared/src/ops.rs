//! Operations settings every binary shares: the log format (`SENDOPS_LOG_FORMAT`) and the
//! metrics listener's address (`SENDOPS_METRICS_ADDR`). Each is read once at start; a value that
//! does not parse is an error naming the variable (the binaries exit 2 with it).

use std::net::SocketAddr;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line (tracing-subscriber's JSON layout: `timestamp`, `level`,
    /// `fields`, `target`).
    Json,
}

impl LogFormat {
    /// `SENDOPS_LOG_FORMAT`: `text` (default) or `json`.
    pub fn from_env() -> Result<LogFormat, String> {
        match std::env::var("SENDOPS_LOG_FORMAT") {
            Err(_) => Ok(LogFormat::Text),
            Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
                "" | "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err(format!(
                    "SENDOPS_LOG_FORMAT={v:?}: must be \"text\" or \"json\""
                )),
            },
        }
    }
}

/// Installs the process's log subscriber: stderr, `RUST_LOG` filter (else `default`, e.g.
/// `info`), in `format`.
pub fn init_logging(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

/// `SENDOPS_METRICS_ADDR`: where `/metrics` and `/ready` are served (`host:port`), or `None`
/// (the default: no metrics listener).
pub fn metrics_addr_from_env() -> Result<Option<SocketAddr>, String> {
    match std::env::var("SENDOPS_METRICS_ADDR") {
        Err(_) => Ok(None),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v.trim().parse().map(Some).map_err(|e| {
            format!("SENDOPS_METRICS_ADDR={v:?}: {e} (expected host:port, e.g. 127.0.0.1:9090)")
        }),
    }
}
