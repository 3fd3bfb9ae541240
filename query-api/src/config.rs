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
    /// `SENDOPS_PUBLIC_URL`: scheme and host used in `Link` headers; the request's `Host` when unset.
    pub public_url: Option<String>,
    /// `SENDOPS_KEY_CACHE_SECONDS` (1–5): how long a key lookup is trusted; a revoked key is
    /// rejected by every process within this time.
    pub key_cache_ttl: Duration,
    /// `SENDOPS_AUTH_FAILURES_PER_MINUTE`: per-IP budget of requests without a valid key.
    pub auth_failures_per_minute: u32,
    /// `SENDOPS_TRUST_FORWARDED_FOR`: take the client IP from `X-Forwarded-For` (behind a load balancer).
    pub trust_forwarded_for: bool,
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
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            problem_base: "https://api.sendops.dev/problems".into(),
            public_url: None,
            key_cache_ttl: Duration::from_secs(5),
            auth_failures_per_minute: 30,
            trust_forwarded_for: false,
            commit: option_env!("SENDOPS_COMMIT").unwrap_or("dev").into(),
            ses_cache_ttl: Duration::from_secs(60),
            undeliverable_settle: Duration::from_millis(250),
            report_index_bytes: 512 << 20,
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
        let ttl = match var("SENDOPS_KEY_CACHE_SECONDS") {
            Some(v) => match v.parse::<u64>() {
                Ok(n @ 1..=5) => Duration::from_secs(n),
                _ => return Err(format!("SENDOPS_KEY_CACHE_SECONDS={v:?}: must be 1 to 5")),
            },
            None => d.key_cache_ttl,
        };
        let auth = match var("SENDOPS_AUTH_FAILURES_PER_MINUTE") {
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(format!(
                        "SENDOPS_AUTH_FAILURES_PER_MINUTE={v:?}: must be a positive integer"
                    ));
                }
            },
            None => d.auth_failures_per_minute,
        };
        let ses_cache_ttl = match var("SENDOPS_SES_CACHE_SECONDS") {
            Some(v) => match v.parse::<u64>() {
                Ok(n @ 1..=60) => Duration::from_secs(n),
                _ => return Err(format!("SENDOPS_SES_CACHE_SECONDS={v:?}: must be 1 to 60")),
            },
            None => d.ses_cache_ttl,
        };
        let settle = match var("SENDOPS_UNDELIVERABLE_SETTLE_MS") {
            Some(v) => match v.parse::<u64>() {
                Ok(n @ 0..=60_000) => Duration::from_millis(n),
                _ => {
                    return Err(format!(
                        "SENDOPS_UNDELIVERABLE_SETTLE_MS={v:?}: must be 0 to 60000"
                    ));
                }
            },
            None => d.undeliverable_settle,
        };
        let report_index_bytes = match var("SENDOPS_REPORT_INDEX_MB") {
            None => d.report_index_bytes,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(mb @ 1..=1_048_576) => mb << 20,
                _ => {
                    return Err(format!(
                        "SENDOPS_REPORT_INDEX_MB={v:?}: must be 1 to 1048576"
                    ));
                }
            },
        };
        Ok(ApiConfig {
            addr,
            problem_base: var("SENDOPS_PROBLEM_BASE")
                .map(|v| v.trim_end_matches('/').to_owned())
                .unwrap_or(d.problem_base),
            public_url: var("SENDOPS_PUBLIC_URL").map(|v| v.trim_end_matches('/').to_owned()),
            key_cache_ttl: ttl,
            auth_failures_per_minute: auth,
            trust_forwarded_for: matches!(
                var("SENDOPS_TRUST_FORWARDED_FOR").as_deref(),
                Some("1" | "true" | "yes")
            ),
            commit: var("SENDOPS_COMMIT").unwrap_or(d.commit),
            ses_cache_ttl,
            undeliverable_settle: settle,
            report_index_bytes,
        })
    }
}
