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
//!   (`ses_suppressions`, whole-list reads), the account snapshots (`account`), and the report
//!   caches recorded in `shared`: day seals (`report_seals`), the engaged index
//!   (`engaged_index`) and the breakdown index (`breakdown_index`), one lookup per past day with
//!   events read.
//! - `sendops_store_queries_total{op,outcome}`, `sendops_store_query_duration_seconds{op}`: every
//!   ClickHouse statement of the store (`sendops_shared::store::metered`).
//!
//! The listener itself is `sendops-ops`, shared with `sendops-ingest poll`.

pub use sendops_ops::{LATENCY_BUCKETS, bind, serve, serve_warming, store_ready};

/// Installs the process-wide Prometheus recorder ([`LATENCY_BUCKETS`] for every
/// `*_duration_seconds` histogram); its handle renders the exposition.
pub fn install_recorder() -> Result<sendops_ops::PrometheusHandle, String> {
    sendops_ops::install_recorder(&[])
}
