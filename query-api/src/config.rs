//! `sendops-api` settings, from the environment (see the README's configuration table).

use std::net::SocketAddr;
use std::time::Duration;

/// Query API settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `SENDOPS_API_ADDR`, default `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// `SENDOPS_PROBLEM_BASE`: base URI of problem `type`s.
    pub problem_base: String,
    /// `SENDOPS_PUBLIC_URL`: scheme and host of absolute URLs in `Link` headers. Without it, `Link`
    /// uses the request's `Host` only when `SENDOPS_ALLOWED_HOSTS` vouches for it, and otherwise a
    /// relative reference (RFC 8288 allows one); never a raw header value.
    pub public_url: Option<String>,
    /// `SENDOPS_ALLOWED_HOSTS` (comma list of `host` or `host:port`, case-insensitive): when set,
    /// a request whose `Host` is not listed is a 400 `invalid_request` (except `/v1/_health`).
    pub allowed_hosts: Vec<String>,
    /// `SENDOPS_KEY_CACHE_SECONDS` (1–5): how long a key lookup is trusted; a revoked key is
    /// rejected by every process within this time.
    pub key_cache_ttl: Duration,
    /// `SENDOPS_AUTH_FAILURES_PER_MINUTE`: per-IP budget of requests without a valid key.
    pub auth_failures_per_minute: u32,
    /// `SENDOPS_TRUSTED_PROXIES` (0–16, default 0): how many proxies in front of the API append to
    /// `X-Forwarded-For`. The client IP is the N-th address from the right (1 behind an ALB); 0
    /// uses the socket peer. A header with fewer than N addresses falls back to the socket peer.
    /// The deprecated `SENDOPS_TRUST_FORWARDED_FOR=1` means 1.
    pub trusted_proxies: usize,
    /// `SENDOPS_COMMIT`: the build identifier `/v1/_health` reports.
    pub commit: String,
    /// `SENDOPS_SES_CACHE_SECONDS` (1–60, default 60): how long an org's SES suppression list and
    /// account snapshot are reused before SES is asked again.
    pub ses_cache_ttl: Duration,
    /// `SENDOPS_UNDELIVERABLE_SETTLE_MS` (0–60000, default 250): extra age a change must have
    /// before a `?since=` poll of /v1/undeliverable returns it, to cover clock differences
    /// between the ingest hosts that stamp rows and the API hosts. Commit latency needs none: a
    /// poll reads only up to what the store proves committed (the oldest in-flight ingest
    /// batch); see docs/undeliverable.md.
    pub undeliverable_settle: Duration,
    /// `SENDOPS_REPORT_INDEX_MB` (1–1048576, default 512): memory budget of the in-process index of
    /// engaged recipients that template performance counts distinct recipients with.
    pub report_index_bytes: usize,
    /// `SENDOPS_BREAKDOWN_INDEX_MB` (0–1048576, default 512; 0 = off): memory budget of the
    /// in-process index that breakdowns and reputation are counted from
    /// (`read::breakdown::index`); a window beyond it, or every window when 0, is counted in
    /// ClickHouse instead (exact, slower).
    pub breakdown_index_bytes: usize,
    /// `SENDOPS_REPORT_PREPARE_SECONDS` (0–3600, default 60; 0 = off): how often the process
    /// seals every org's changed past days and caches their unique counts in the background
    /// (`Store::prepare_reports`), starting at once, so the first report after a restart or a
    /// bulk load does not count `events` itself.
    pub report_prepare_every: Duration,
    /// `SENDOPS_REPUTATION_EVALUATE_SECONDS` (0–3600, default 60; 0 = off): how often every
    /// org's reputation is evaluated and its status transitions recorded.
    pub reputation_evaluate_every: Duration,
    /// `SENDOPS_PROVIDER_REFRESH_SECONDS` (0–86400, default 300; 0 = off): how often recipient
    /// domains due for resolution are asked for their MX records.
    pub provider_refresh_every: Duration,
    /// Connection-layer timeouts and limits.
    pub edge: EdgeLimits,
}

/// Timeouts and limits every listener applies at the connection layer (see [`crate::edge`]).
#[derive(Debug, Clone)]
pub struct EdgeLimits {
    /// `SENDOPS_HEADER_READ_TIMEOUT_SECONDS` (1–300, default 10): a request's headers must be
    /// complete within this time from when the server starts waiting for them, on a new
    /// connection and between requests of a kept-alive one; else the connection is closed.
    pub header_read_timeout: Duration,
    /// `SENDOPS_IDLE_TIMEOUT_SECONDS` (1–3600, default 60): a connection that moves no byte in
    /// either direction for this long is closed (e.g. a client that stops reading its response).
    pub idle_timeout: Duration,
    /// `SENDOPS_REQUEST_TIMEOUT_SECONDS` (1–600, default 30): a request not answered within this
    /// time gets a 503 problem.
    pub request_timeout: Duration,
    /// `SENDOPS_SHUTDOWN_GRACE_SECONDS` (0–600, default 30): after SIGTERM or SIGINT the server
    /// stops accepting and waits this long for requests in flight to finish, then exits 0.
    pub shutdown_grace: Duration,
    /// `SENDOPS_MAX_CONNECTIONS` (1–1000000, default 4096): open connections served at once; a
    /// connection beyond it gets a 503 problem and is closed.
    pub max_connections: usize,
    /// `SENDOPS_MAX_URI_BYTES` (256–65534, default 8192): a longer request target is a 414 problem.
    pub max_uri_bytes: usize,
    /// `SENDOPS_MAX_HEADER_BYTES` (1024–1048576, default 16384): header fields larger in total
    /// (names, values and line overhead) are a 431 problem.
    pub max_header_bytes: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            max_connections: 4096,
            max_uri_bytes: 8192,
            max_header_bytes: 16384,
        }
    }
}

/// An integer variable within `range`, else an error naming it.
fn ranged(
    name: &str,
    value: Option<String>,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, String> {
    match value {
        None => Ok(default),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(format!(
                "{name}={v:?}: must be {} to {}",
                range.start(),
                range.end()
            )),
        },
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            problem_base: "https://api.sendops.dev/problems".into(),
            public_url: None,
            key_cache_ttl: Duration::from_secs(5),
            auth_failures_per_minute: 30,
            allowed_hosts: Vec::new(),
            trusted_proxies: 0,
            commit: option_env!("SENDOPS_COMMIT").unwrap_or("dev").into(),
            ses_cache_ttl: Duration::from_secs(60),
            undeliverable_settle: Duration::from_millis(250),
            report_index_bytes: 512 << 20,
            breakdown_index_bytes: 512 << 20,
            report_prepare_every: Duration::from_secs(60),
            reputation_evaluate_every: Duration::from_secs(60),
            provider_refresh_every: Duration::from_secs(300),
            edge: EdgeLimits::default(),
        }
    }
}

impl ApiConfig {
    /// Reads the environment; a value that does not parse is an error naming the variable.
    pub fn from_env() -> Result<ApiConfig, String> {
        let d = ApiConfig::default();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let addr = match var("SENDOPS_API_ADDR") {
            Some(v) => v
                .parse()
                .map_err(|e| format!("SENDOPS_API_ADDR={v:?}: {e}"))?,
            None => d.addr,
        };
        // A variable read as a number in `range`, or `default` when unset.
        let number = |name: &str, range, default: u64| ranged(name, var(name), range, default);
        let secs = |name: &str, range, default: Duration| {
            number(name, range, default.as_secs()).map(Duration::from_secs)
        };
        let count = |name: &str, range, default: usize| {
            number(name, range, default as u64).map(|n| n as usize)
        };
        // Read in MiB, kept in bytes.
        let mib =
            |name: &str, range, default: usize| count(name, range, default >> 20).map(|n| n << 20);
        let ttl = secs("SENDOPS_KEY_CACHE_SECONDS", 1..=5, d.key_cache_ttl)?;
        let auth = number(
            "SENDOPS_AUTH_FAILURES_PER_MINUTE",
            1..=u64::from(u32::MAX),
            u64::from(d.auth_failures_per_minute),
        )? as u32;
        let ses_cache_ttl = secs("SENDOPS_SES_CACHE_SECONDS", 1..=60, d.ses_cache_ttl)?;
        let settle = number(
            "SENDOPS_UNDELIVERABLE_SETTLE_MS",
            0..=60_000,
            d.undeliverable_settle.as_millis() as u64,
        )
        .map(Duration::from_millis)?;
        let report_index_bytes = mib(
            "SENDOPS_REPORT_INDEX_MB",
            1..=1_048_576,
            d.report_index_bytes,
        )?;
        let breakdown_index_bytes = mib(
            "SENDOPS_BREAKDOWN_INDEX_MB",
            0..=1_048_576,
            d.breakdown_index_bytes,
        )?;
        let trusted_proxies = match var("SENDOPS_TRUSTED_PROXIES") {
            Some(v) => ranged("SENDOPS_TRUSTED_PROXIES", Some(v), 0..=16, 0)? as usize,
            // Deprecated alias, kept because configuration is a contract: on means one proxy.
            None => match var("SENDOPS_TRUST_FORWARDED_FOR").as_deref() {
                Some("1" | "true" | "yes") => 1,
                _ => 0,
            },
        };
        let allowed_hosts = var("SENDOPS_ALLOWED_HOSTS")
            .map(|v| {
                v.split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let report_prepare_every = secs(
            "SENDOPS_REPORT_PREPARE_SECONDS",
            0..=3600,
            d.report_prepare_every,
        )?;
        let reputation_evaluate_every = secs(
            "SENDOPS_REPUTATION_EVALUATE_SECONDS",
            0..=3600,
            d.reputation_evaluate_every,
        )?;
        let provider_refresh_every = secs(
            "SENDOPS_PROVIDER_REFRESH_SECONDS",
            0..=86_400,
            d.provider_refresh_every,
        )?;
        let de = EdgeLimits::default();
        let edge = EdgeLimits {
            header_read_timeout: secs(
                "SENDOPS_HEADER_READ_TIMEOUT_SECONDS",
                1..=300,
                de.header_read_timeout,
            )?,
            idle_timeout: secs("SENDOPS_IDLE_TIMEOUT_SECONDS", 1..=3600, de.idle_timeout)?,
            request_timeout: secs(
                "SENDOPS_REQUEST_TIMEOUT_SECONDS",
                1..=600,
                de.request_timeout,
            )?,
            shutdown_grace: secs("SENDOPS_SHUTDOWN_GRACE_SECONDS", 0..=600, de.shutdown_grace)?,
            max_connections: count("SENDOPS_MAX_CONNECTIONS", 1..=1_000_000, de.max_connections)?,
            max_uri_bytes: count("SENDOPS_MAX_URI_BYTES", 256..=65_534, de.max_uri_bytes)?,
            max_header_bytes: count(
                "SENDOPS_MAX_HEADER_BYTES",
                1024..=1_048_576,
                de.max_header_bytes,
            )?,
        };
        Ok(ApiConfig {
            addr,
            problem_base: var("SENDOPS_PROBLEM_BASE")
                .map(|v| v.trim_end_matches('/').to_owned())
                .unwrap_or(d.problem_base),
            public_url: var("SENDOPS_PUBLIC_URL").map(|v| v.trim_end_matches('/').to_owned()),
            key_cache_ttl: ttl,
            auth_failures_per_minute: auth,
            allowed_hosts,
            trusted_proxies,
            commit: var("SENDOPS_COMMIT").unwrap_or(d.commit),
            ses_cache_ttl,
            undeliverable_settle: settle,
            report_index_bytes,
            breakdown_index_bytes,
            report_prepare_every,
            reputation_evaluate_every,
            provider_refresh_every,
            edge,
        })
    }
}
