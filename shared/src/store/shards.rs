//! Per-org routing on a cluster (`CLICKHOUSE_NODES`, docs/scale-out.md "When servers stop").
//!
//! ClickHouse 18.16 sends a query over a Distributed table to every shard, whatever its
//! `org_id = …` condition says, so one shard down would fail every org's reads and every ingest
//! batch. With the nodes' HTTP URLs known, a per-org statement instead runs on one node of the
//! org's own shard, on that node's local tables ([`ClusterSchema::localize`]): the same SQL as
//! on one server, over a table that holds every row of every org of the shard. Orgs on live
//! shards never depend on another shard; an org whose shard has no live replica gets
//! [`StoreError::Unavailable`] (503, or a retryable ingest failure) — never an answer computed
//! without its shard.
//!
//! - **Which shard** an org is on is computed exactly as the Distributed engine computes it:
//!   the shard key `cityHash64(toString(org_id))` (evaluated by ClickHouse, cached per org)
//!   modulo the sum of the shard weights, mapped to shards in `system.clusters` order, each
//!   shard taking as many slots as its weight.
//! - **Which node** is which replica is not trusted to configuration order: each URL is asked
//!   for the address its replicas registered in ZooKeeper (`host` and `tcp_port` of its
//!   `events_local` replica, what other replicas fetch from), and that address is matched to
//!   `remote_servers` (`system.clusters`: host and native port). A URL that cannot say is not
//!   used (asked again at most every [`RESOLVE_EVERY`]).
//! - **Which replica**: the first live one in `remote_servers` order, as `load_balancing =
//!   in_order` picks for the Distributed tables, so reads see acknowledged writes as they do
//!   there (docs/scale-out.md#consistency); every routed process, ingest and API alike, picks
//!   the same one. A replica is live when it answered a probe within [`LIVENESS_TTL`] (a
//!   replica found down is not asked again for [`DOWN_TTL`]); one
//!   that answers but is behind (read-only, or inserts waiting to be fetched for more than
//!   [`MAX_DELAY_S`], e.g. just restarted and still fetching what the other replica took
//!   meanwhile) is passed over while another is current.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clickhouse::Row;
use serde::Deserialize;
use uuid::Uuid;

use crate::StoreError;
use crate::store::migrate::cluster::ClusterSchema;

/// How long a probe's answer (live or not) is trusted.
pub const LIVENESS_TTL: Duration = Duration::from_secs(1);

/// How long a probe that found a replica down is trusted (a down host may take the whole
/// [`PROBE_TIMEOUT`] to fail, which no request should wait for every second).
pub const DOWN_TTL: Duration = Duration::from_secs(5);

/// How often a URL that could not say which replica it is may be asked again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(2);

/// A replica whose oldest insert still to fetch is older than this (seconds) is behind.
pub const MAX_DELAY_S: u64 = 1;

/// The longest a probe or an identity question may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The cluster's shards and which configured node is which replica of which.
pub struct Shards {
    cluster: String,
    database: String,
    urls: Vec<String>,
    schema: Arc<ClusterSchema>,
    state: Mutex<State>,
    resolving: tokio::sync::Mutex<()>,
    hashes: Mutex<HashMap<Uuid, u64>>,
}

#[derive(Default)]
struct State {
    /// (shard_num, weight) in `system.clusters` order; empty until a node answered.
    weights: Vec<(u32, u64)>,
    /// Per URL: (shard_num, replica_num) once it said which replica it is.
    identity: Vec<Option<(u32, u32)>>,
    resolved_at: Option<Instant>,
    /// Per URL: the last probe's answer and when.
    live: Vec<Option<(Health, Instant)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Current,
    Behind,
    Down,
}

#[derive(Row, Deserialize)]
struct ClusterRow {
    shard_num: u32,
    shard_weight: u32,
    replica_num: u32,
    host_name: String,
    host_address: String,
    port: u16,
}

impl Shards {
    pub fn new(cluster: &str, database: &str, urls: &[String]) -> Shards {
        Shards {
            cluster: cluster.to_owned(),
            database: database.to_owned(),
            urls: urls.to_vec(),
            schema: Arc::new(ClusterSchema::new(cluster, database, &[])),
            state: Mutex::new(State {
                identity: vec![None; urls.len()],
                live: vec![None; urls.len()],
                ..State::default()
            }),
            resolving: tokio::sync::Mutex::new(()),
            hashes: Mutex::new(HashMap::new()),
        }
    }

    /// The translator whose Distributed tables a routed client reads locally.
    pub fn schema(&self) -> Arc<ClusterSchema> {
        self.schema.clone()
    }

    /// The shard key of `org_id` as the Distributed tables compute it (`SHARD_KEY`), asked of
    /// ClickHouse through `entry` once per org.
    async fn key_of(&self, entry: &clickhouse::Client, org_id: Uuid) -> Result<u64, StoreError> {
        if let Some(k) = self
            .hashes
            .lock()
            .ok()
            .and_then(|h| h.get(&org_id).copied())
        {
            return Ok(k);
        }
        let k = entry
            .query("SELECT cityHash64(toString(toUUID(?)))")
            .bind(org_id.to_string())
            .fetch_one::<u64>()
            .await?;
        if let Ok(mut h) = self.hashes.lock() {
            h.insert(org_id, k);
        }
        Ok(k)
    }

    /// Asks the URLs that have not said which replica they are (at most every
    /// [`RESOLVE_EVERY`]).
    async fn resolve(&self, base: &clickhouse::Client) {
        // One resolution at a time: a caller arriving meanwhile waits for its answers rather
        // than finding the map still empty (a spurious 503 for the first requests).
        // Once the map is known, a caller does not wait for another's attempt at a node that
        // is still missing.
        let known = self.state.lock().is_ok_and(|st| !st.weights.is_empty());
        let _one = if known {
            match self.resolving.try_lock() {
                Ok(guard) => guard,
                Err(_) => return,
            }
        } else {
            self.resolving.lock().await
        };
        let todo: Vec<usize> = {
            let Ok(mut st) = self.state.lock() else {
                return;
            };
            let due = st.resolved_at.is_none_or(|t| t.elapsed() >= RESOLVE_EVERY);
            let missing: Vec<usize> = (0..self.urls.len())
                .filter(|&i| st.identity[i].is_none())
                .collect();
            if !due || (missing.is_empty() && !st.weights.is_empty()) {
                return;
            }
            st.resolved_at = Some(Instant::now());
            missing
        };
        let asks = todo.iter().map(|&i| async move {
            let node = base.clone().with_url(&self.urls[i]);
            let answer = tokio::time::timeout(PROBE_TIMEOUT, self.identify(&node)).await;
            (i, answer)
        });
        for (i, answer) in futures::future::join_all(asks).await {
            match answer {
                Ok(Ok((rows, me))) => {
                    let Ok(mut st) = self.state.lock() else {
                        return;
                    };
                    if st.weights.is_empty() {
                        let mut w: Vec<(u32, u64)> = Vec::new();
                        for r in &rows {
                            if w.last().map(|l| l.0) != Some(r.shard_num) {
                                w.push((r.shard_num, u64::from(r.shard_weight)));
                            }
                        }
                        st.weights = w;
                    }
                    st.identity[i] = me;
                    if me.is_none() {
                        tracing::warn!(url = %self.urls[i], cluster = %self.cluster, "CLICKHOUSE_NODES: this node's replica address matches no replica of the cluster in system.clusters; it is not used");
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!(url = %self.urls[i], error = %e, "node did not say which replica it is")
                }
                Err(_) => tracing::debug!(url = %self.urls[i], "node did not answer in time"),
            }
        }
    }

    /// The cluster's replicas and which of them `node` is: the address its `events_local`
    /// replica registered in ZooKeeper, matched to `system.clusters`.
    async fn identify(
        &self,
        node: &clickhouse::Client,
    ) -> Result<(Vec<ClusterRow>, Option<(u32, u32)>), StoreError> {
        let rows = node
            .query(
                "SELECT ?fields FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num",
            )
            .bind(&self.cluster)
            .fetch_all::<ClusterRow>()
            .await?;
        let replica_path = node
            .query(
                "SELECT replica_path FROM system.replicas WHERE database = ? AND table = 'events_local'",
            )
            .bind(&self.database)
            .fetch_optional::<String>()
            .await?
            .ok_or_else(|| StoreError::Invalid("no events_local replica on this node".into()))?;
        let host = node
            .query("SELECT value FROM system.zookeeper WHERE path = ? AND name = 'host'")
            .bind(replica_path)
            .fetch_one::<String>()
            .await?;
        let field = |name: &str| {
            host.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
                .map(str::trim)
                .unwrap_or("")
                .to_owned()
        };
        let (h, port) = (field("host"), field("tcp_port"));
        let me = rows
            .iter()
            .find(|r| r.port.to_string() == port && (r.host_name == h || r.host_address == h))
            .map(|r| (r.shard_num, r.replica_num));
        Ok((rows, me))
    }

    /// The shard holding `org_id`'s rows: slot = key mod total weight, slots given to shards in
    /// order, each as many as its weight (the Distributed engine's `slot_to_shard`).
    pub fn shard_of_key(weights: &[(u32, u64)], key: u64) -> Option<u32> {
        let total: u64 = weights.iter().map(|w| w.1).sum();
        if total == 0 {
            return None;
        }
        let mut slot = key % total;
        for &(shard, weight) in weights {
            if slot < weight {
                return Some(shard);
            }
            slot -= weight;
        }
        None
    }

    /// The URL of the first live replica of `org_id`'s shard, and the shard; `base` is the
    /// store's server client (settings, credentials, HTTP client), `entry` the node the store
    /// was configured with.
    pub async fn route(
        &self,
        base: &clickhouse::Client,
        org_id: Uuid,
    ) -> Result<(String, u32), StoreError> {
        let key = self.key_of(base, org_id).await?;
        self.resolve(base).await;
        let shard = {
            let st = self.known()?;
            Shards::shard_of_key(&st.weights, key).ok_or_else(|| {
                StoreError::Unavailable(format!("cluster {} has no shard weight", self.cluster))
            })?
        };
        Ok((self.replica_of(base, shard).await?, shard))
    }

    /// The cluster's shard numbers, in `system.clusters` order.
    pub async fn shard_nums(&self, base: &clickhouse::Client) -> Result<Vec<u32>, StoreError> {
        self.resolve(base).await;
        Ok(self.known()?.weights.iter().map(|w| w.0).collect())
    }

    /// The URL of the first live replica of `shard` (as [`Shards::route`] picks it).
    pub async fn route_shard(
        &self,
        base: &clickhouse::Client,
        shard: u32,
    ) -> Result<String, StoreError> {
        self.resolve(base).await;
        self.replica_of(base, shard).await
    }

    /// The state, once some node said what the shards are.
    fn known(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        let st = self
            .state
            .lock()
            .map_err(|_| StoreError::Unavailable("shard map poisoned".into()))?;
        if st.weights.is_empty() {
            return Err(StoreError::Unavailable(format!(
                "no node of CLICKHOUSE_NODES answers: the shards of cluster {} are unknown",
                self.cluster
            )));
        }
        Ok(st)
    }

    /// The first replica of `shard` that answers and is not behind; failing that, the first
    /// that answers (as the Distributed engine falls back to stale replicas).
    async fn replica_of(
        &self,
        base: &clickhouse::Client,
        shard: u32,
    ) -> Result<String, StoreError> {
        let replicas: BTreeMap<u32, usize> = {
            let st = self.known()?;
            let mut replicas = BTreeMap::new();
            for (i, id) in st.identity.iter().enumerate() {
                if let Some((s, r)) = id
                    && *s == shard
                {
                    replicas.insert(*r, i);
                }
            }
            replicas
        };
        let mut stale = None;
        for (_, i) in replicas {
            match self.probe(base, i).await {
                Health::Current => return Ok(self.urls[i].clone()),
                Health::Behind => {
                    stale.get_or_insert(i);
                }
                Health::Down => {}
            }
        }
        if let Some(i) = stale {
            return Ok(self.urls[i].clone());
        }
        Err(StoreError::Unavailable(format!(
            "shard {shard} of cluster {}: no replica answers (or none is in CLICKHOUSE_NODES)",
            self.cluster
        )))
    }

    /// Whether replica `i` answers, and whether its replicated tables of this database are
    /// current: none read-only (no ZooKeeper session, or still starting), none with an insert
    /// queued for fetching for more than [`MAX_DELAY_S`] s (a restarted replica that has not
    /// yet fetched what the other took meanwhile; reading it would miss acknowledged writes).
    /// Not stricter than that: the first replica takes the writes and has nothing to fetch in
    /// steady state, but any process's short detour to the second gives it a few fetches, and
    /// treating those as "behind" would send everyone to the second in turn.
    async fn probe(&self, base: &clickhouse::Client, i: usize) -> Health {
        if let Some((health, at)) = self.state.lock().ok().and_then(|st| st.live[i])
            && at.elapsed()
                < if health == Health::Down {
                    DOWN_TTL
                } else {
                    LIVENESS_TTL
                }
        {
            return health;
        }
        let node = base.clone().with_url(&self.urls[i]);
        let answer = tokio::time::timeout(
            PROBE_TIMEOUT,
            node.query(
                "SELECT toUInt8(count() = 0 OR (max(is_readonly) = 0 AND max(absolute_delay) <= ?)) \
                 FROM system.replicas WHERE database = ?",
            )
            .bind(MAX_DELAY_S)
            .bind(&self.database)
            .fetch_one::<u8>(),
        )
        .await;
        let health = match answer {
            Ok(Ok(1)) => Health::Current,
            Ok(Ok(_)) => Health::Behind,
            _ => Health::Down,
        };
        if let Ok(mut st) = self.state.lock() {
            st.live[i] = Some((health, Instant::now()));
        }
        health
    }
}

#[cfg(test)]
mod tests {
    use super::Shards;

    #[test]
    fn slots_go_to_shards_by_weight_in_order() {
        let two = [(1, 1), (2, 1)];
        assert_eq!(Shards::shard_of_key(&two, 0), Some(1));
        assert_eq!(Shards::shard_of_key(&two, 1), Some(2));
        assert_eq!(Shards::shard_of_key(&two, u64::MAX), Some(2));
        let weighted = [(1, 1), (2, 3)];
        let got: Vec<_> = (0..8)
            .map(|k| Shards::shard_of_key(&weighted, k).unwrap())
            .collect();
        assert_eq!(got, [1, 2, 2, 2, 1, 2, 2, 2]);
        assert_eq!(Shards::shard_of_key(&[], 5), None);
    }
}
