//! The ClickHouse client ([`Store`]) and the ingest write path: events (with the duplicate check
//! that keeps rollups exact), quarantine and notices. Each domain's store access lives beside
//! its domain (orgs in `control::org`, keys in `control::api_key`, …).
//!
//! Every value that comes from outside is bound; the only text formatted into SQL is what code
//! produced from typed values (UUIDs, day numbers), never request or file input.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use clickhouse::Row;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::row::EventRow;
use crate::store::config::ClickHouseConfig;
use crate::store::error::StoreError;
use crate::store::metered;
use crate::store::shards::Shards;
use crate::timefmt::day_to_date;

/// How many event ids one duplicate-check query carries. At ~39 characters an id the query text
/// stays under 100,000 characters, ClickHouse's default `log_queries_cut_to_length`, so the
/// statements in `system.query_log` are whole (the chdb dialect check replays them), and far
/// under `max_query_size`.
const ID_CHECK_CHUNK: usize = 2_400;

/// How many duplicate-check queries run at once.
const ID_CHECKS_IN_FLIGHT: usize = 4;

/// The longest an events INSERT may take to send its rows, and again to be acknowledged.
pub const INSERT_TIMEOUT: Duration = Duration::from_secs(60);

/// A handle to the SendOps database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// Every statement goes through [`metered::Client`] (query counts, errors, latency).
    client: metered::Client,
    server: metered::Client,
    /// Whether the URL is `https://`.
    tls: bool,
    database: String,
    /// `CLICKHOUSE_CLUSTER`: the schema is sharded and replicated over this cluster.
    cluster: Option<String>,
    /// `CLICKHOUSE_NODES` on a cluster: per-org statements run on the org's shard
    /// ([`Store::route`], `crate::store::shards`).
    shards: Option<Arc<Shards>>,
    /// The shard this store is routed to ([`Store::route`]); None for the whole store.
    shard: Option<u32>,
    /// Message rates learned per org for the message list's first slice (`read::messages`),
    /// shared by routed copies.
    slice_hints: Arc<crate::read::messages::SliceHints>,
}

/// The `quarantine` table row: one type for text and for bytes.
///
/// `raw` is the record as it was received. The pipeline quarantines text (`QuarantineRow`, i.e.
/// `QuarantineRow<String>`); a replayed line that is not UTF-8 is kept as its exact bytes, so
/// rows are read back as `QuarantineRow<Vec<u8>>` ([`Store::list_quarantine`]), which never
/// fails on bytes: the column is a ClickHouse `String`, which holds any bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Row)]
pub struct QuarantineRow<R = String> {
    #[serde(with = "clickhouse::serde::uuid")]
    pub id: Uuid,
    pub received_ms: i64,
    /// `lambda`, `poll` or `replay`.
    pub source: String,
    pub reason: String,
    pub detail: String,
    pub account_id: String,
    #[serde(with = "raw_record", bound = "R: RawRecord")]
    pub raw: R,
    /// When it was re-ingested (0 while it is open).
    pub resolved_ms: i64,
    pub version: u64,
}

impl QuarantineRow {
    /// A stable id: the same record quarantined twice for the same reason is one entry. Hashes
    /// the record's bytes, so text and the same bytes quarantined as bytes get the same id.
    pub fn id_for(reason: &str, raw: &(impl AsRef<[u8]> + ?Sized)) -> Uuid {
        const NS: Uuid = Uuid::from_u128(0x9a1f_3c2e_44b0_4d7e_8c61_0f5b_2e9d_7a13);
        // UUIDv5 of `reason \n raw`, hashed in pieces.
        let mut h = crate::event::event_id::V5Hasher::new(&NS);
        h.update(reason.as_bytes());
        h.update(b"\n");
        h.update(raw.as_ref());
        h.finish()
    }
}

impl QuarantineRow<Vec<u8>> {
    /// The record as text; `None` when its bytes are not UTF-8 (it can never decode).
    pub fn raw_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.raw).ok()
    }

    /// The record as text, bytes that are not UTF-8 shown as U+FFFD.
    pub fn raw_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.raw)
    }

    /// The record's exact bytes in standard base64 (with padding).
    pub fn raw_base64(&self) -> String {
        data_encoding::BASE64.encode(&self.raw)
    }
}

/// What a [`QuarantineRow`]'s `raw` can be: `String` (text) or `Vec<u8>` (any bytes).
pub trait RawRecord: AsRef<[u8]> + Sized {
    /// Writes the record: text as a string, bytes as bytes (a ClickHouse `String` column takes
    /// either, length then the bytes).
    fn serialize_raw<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
    /// The record from the column's bytes; text refuses bytes that are not UTF-8.
    fn from_raw_bytes(bytes: Vec<u8>) -> Result<Self, std::str::Utf8Error>;
}

impl RawRecord for String {
    fn serialize_raw<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }

    fn from_raw_bytes(bytes: Vec<u8>) -> Result<Self, std::str::Utf8Error> {
        String::from_utf8(bytes).map_err(|e| e.utf8_error())
    }
}

impl RawRecord for Vec<u8> {
    fn serialize_raw<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self)
    }

    fn from_raw_bytes(bytes: Vec<u8>) -> Result<Self, std::str::Utf8Error> {
        Ok(bytes)
    }
}

/// Serde for `QuarantineRow::raw`. Read as a byte buffer: the clickhouse crate reads a `String`
/// column as bytes without checking UTF-8 (as text it refuses the whole result on one bad
/// byte); a plain `Vec<u8>` would be read as an `Array(UInt8)` and refused by the schema check.
mod raw_record {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{self, Deserializer, Visitor};
    use serde::ser::Serializer;

    use super::RawRecord;

    pub fn serialize<R: RawRecord, S: Serializer>(raw: &R, s: S) -> Result<S::Ok, S::Error> {
        raw.serialize_raw(s)
    }

    pub fn deserialize<'de, R: RawRecord, D: Deserializer<'de>>(d: D) -> Result<R, D::Error> {
        struct Bytes<R>(PhantomData<R>);
        impl<R: RawRecord> Visitor<'_> for Bytes<R> {
            type Value = R;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or bytes")
            }

            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<R, E> {
                R::from_raw_bytes(v).map_err(E::custom)
            }

            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<R, E> {
                self.visit_byte_buf(v.to_vec())
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<R, E> {
                self.visit_byte_buf(v.into_bytes())
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<R, E> {
                self.visit_byte_buf(v.as_bytes().to_vec())
            }
        }
        d.deserialize_byte_buf(Bytes(PhantomData))
    }
}

/// The `notices` table row (acknowledged set-up messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Row)]
pub struct NoticeRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub id: Uuid,
    pub received_ms: i64,
    pub kind: String,
    pub topic_arn: String,
    pub raw: String,
}

#[derive(Row, Deserialize)]
struct IdRow {
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
}

impl Store {
    /// A store for `cfg` (nothing is contacted until the first call). Panics when the TLS
    /// settings are unusable: the binaries call [`Store::connect`], which says why instead.
    pub fn new(cfg: &ClickHouseConfig) -> Store {
        match Store::connect(cfg) {
            Ok(store) => store,
            Err(e) => panic!("{e}"),
        }
    }

    /// A store for `cfg` (nothing is contacted until the first call), or why its URL or TLS
    /// settings (`CLICKHOUSE_URL`, `CLICKHOUSE_CA_FILE`) cannot work, naming the variable.
    pub fn connect(cfg: &ClickHouseConfig) -> Result<Store, StoreError> {
        let http = super::tls::client(cfg).map_err(StoreError::Invalid)?;
        let tls = super::tls::uses_tls(&cfg.url).unwrap_or(false);
        let mut server = http
            .with_url(&cfg.url)
            .with_validation(false)
            // Duplicate checks carry a few thousand ids.
            .with_setting("max_query_size", "16777216");
        if let Some(user) = &cfg.user {
            server = server.with_user(user);
        }
        if let Some(password) = &cfg.password {
            server = server.with_password(password);
        }
        if cfg.cluster.is_some() {
            server = super::migrate::cluster::with_cluster_settings(server);
        }
        let client = server.clone().with_database(&cfg.database);
        Ok(Store {
            client: metered::Client::new(client),
            server: metered::Client::new(server),
            database: cfg.database.clone(),
            tls,
            shards: match &cfg.cluster {
                Some(c) if !cfg.nodes.is_empty() => {
                    Some(Arc::new(Shards::new(c, &cfg.database, &cfg.nodes)))
                }
                _ => None,
            },
            cluster: cfg.cluster.clone(),
            shard: None,
            slice_hints: Arc::default(),
        })
    }

    pub(crate) fn slice_hints(&self) -> &crate::read::messages::SliceHints {
        &self.slice_hints
    }

    /// Whether the store is reached over TLS (`https://`).
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// The database's client; its statements are measured (`store::metered`).
    pub fn client(&self) -> &metered::Client {
        &self.client
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// The cluster the schema is spread over (`CLICKHOUSE_CLUSTER`), if any.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// The store for `org_id`'s per-org statements. On one server, or on a cluster without
    /// `CLICKHOUSE_NODES`, this store itself. With them, a store on the first live replica of
    /// the org's shard whose statements read and write that node's local tables instead of the
    /// Distributed ones (`crate::store::shards`): the org's answers never wait for, nor are
    /// computed without, its own shard, and never involve another. Its shard down:
    /// [`StoreError::Unavailable`]. Control tables keep their names (a replica on every node);
    /// statements over several orgs must not use it.
    pub async fn route(&self, org_id: Uuid) -> Result<Store, StoreError> {
        let Some(shards) = &self.shards else {
            return Ok(self.clone());
        };
        let (url, shard) = shards.route(self.server.inner(), org_id).await?;
        Ok(self.on_node(shards, url, shard))
    }

    /// A store on `url` whose statements read and write that node's local tables.
    fn on_node(&self, shards: &Shards, url: String, shard: u32) -> Store {
        let server = metered::Client::new(self.server.inner().clone().with_url(url))
            .localized(shards.schema());
        Store {
            client: server.clone().with_database(&self.database),
            server,
            tls: self.tls,
            database: self.database.clone(),
            cluster: self.cluster.clone(),
            shards: self.shards.clone(),
            shard: Some(shard),
            slice_hints: self.slice_hints.clone(),
        }
    }

    /// The table `table`'s rows are in on this store's node: on a store routed to a shard, the
    /// local table of a Distributed one (for `system.parts` / `system.mutations`, which know
    /// tables by name); otherwise `table`.
    pub fn physical_table(&self, table: &str) -> String {
        match (&self.shards, self.shard) {
            (Some(shards), Some(_)) => shards.schema().local_table(table),
            _ => table.to_owned(),
        }
    }

    /// The store an operator command that mutates `org_id`'s rows (erase, repair) runs on:
    /// this one on one server or once routed; on a cluster, the org's shard's local tables
    /// (18.16's Distributed tables take no mutations), which needs `CLICKHOUSE_NODES`.
    pub async fn for_mutations(&self, org_id: Uuid, what: &str) -> Result<Store, StoreError> {
        self.mutations_allowed(what)?;
        self.route(org_id).await
    }

    /// Refuses a mutating command on a cluster without per-shard routing.
    pub fn mutations_allowed(&self, what: &str) -> Result<(), StoreError> {
        if self.cluster.is_some() && self.shards.is_none() {
            return Err(StoreError::Invalid(format!(
                "{what} on cluster {} needs CLICKHOUSE_NODES (every node's HTTP URL): it \
                 deletes rows on each shard's local tables, which the Distributed tables \
                 cannot do (docs/scale-out.md)",
                self.cluster.as_deref().unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// One store per shard for work over many orgs (report and breakdown preparation, the
    /// index prefills, the provider refresh's domains, prune, erase, repair): with
    /// `CLICKHOUSE_NODES`, each shard's first live replica on its local tables, so a shard that
    /// is down costs only its own orgs (its entry is the error); otherwise this store once.
    pub async fn shard_stores(&self) -> Vec<Result<Store, StoreError>> {
        let Some(shards) = &self.shards else {
            return vec![Ok(self.clone())];
        };
        let nums = match shards.shard_nums(self.server.inner()).await {
            Ok(n) => n,
            Err(e) => return vec![Err(e)],
        };
        let mut out = Vec::with_capacity(nums.len());
        for shard in nums {
            out.push(
                shards
                    .route_shard(self.server.inner(), shard)
                    .await
                    .map(|url| self.on_node(shards, url, shard)),
            );
        }
        out
    }

    /// `f` on every store of [`Store::shard_stores`], in shard order. A shard that is down or
    /// whose `f` fails is logged (`what`) and skipped while another shard succeeds; the error
    /// is returned when none did (on one server: its error).
    pub async fn on_each_shard<T, F, Fut>(&self, what: &str, f: F) -> Result<Vec<T>, StoreError>
    where
        F: Fn(Store) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut done = Vec::new();
        let mut first_error = None;
        for store in self.shard_stores().await {
            let shard = store.as_ref().ok().and_then(Store::shard);
            match async { f(store?).await }.await {
                Ok(t) => done.push(t),
                Err(e) => {
                    tracing::warn!(shard, error = %e, "{what}: a shard was skipped");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if done.is_empty() => Err(e),
            _ => Ok(done),
        }
    }

    /// Whether [`Store::route`] sends per-org statements to the org's shard (a cluster with
    /// `CLICKHOUSE_NODES`).
    pub fn routes_by_org(&self) -> bool {
        self.shards.is_some()
    }

    /// The shard a [`Store::route`]d store runs on (None: the whole store).
    pub fn shard(&self) -> Option<u32> {
        self.shard
    }

    /// This store on cluster `name` (`sendops-admin migrate --cluster`, which wins over
    /// `CLICKHOUSE_CLUSTER`): cluster-form migrations and the cluster's query settings.
    pub fn with_cluster(mut self, name: &str) -> Store {
        if self.cluster.is_none() {
            let settled = |c: &metered::Client| {
                metered::Client::new(super::migrate::cluster::with_cluster_settings(
                    c.inner().clone(),
                ))
            };
            self.server = settled(&self.server);
            self.client = settled(&self.client);
        }
        self.cluster = Some(name.to_owned());
        self
    }

    /// ` ON CLUSTER <name>` on a cluster, empty otherwise.
    fn on_cluster(&self) -> String {
        self.cluster.as_deref().map_or(String::new(), |c| {
            format!(" ON CLUSTER {}", super::migrate::cluster::ident(c))
        })
    }

    /// The server's version string (e.g. `18.16.1`, `25.8.2.1`).
    pub async fn server_version(&self) -> Result<String, StoreError> {
        Ok(self
            .server
            .query("SELECT version()")
            .fetch_one::<String>()
            .await?)
    }

    /// Adapts the client to the server it reaches: from 21.11 on, ClickHouse knows
    /// `async_insert` (26.2+ turns it on by default), and SendOps batches itself and relies on an
    /// INSERT's acknowledgement meaning its rows and every view's are stored, so it asks for
    /// plain synchronous inserts. Older servers reject the setting's name, so it is only sent to
    /// servers that know it. A server that cannot be asked is left as it is (the first real
    /// query reports the outage).
    pub async fn adapted_to_server(mut self) -> Store {
        let tls = self.tls;
        let version = match self.server_version().await {
            Ok(version) => version,
            Err(e) => {
                tracing::warn!(tls, error = %e, "ClickHouse is not answering at start; going on");
                return self;
            }
        };
        tracing::info!(version = %version, tls, "ClickHouse server");
        if knows_async_insert(&version) {
            self.client = self.client.with_setting("async_insert", "0");
            self.server = self.server.with_setting("async_insert", "0");
        }
        self
    }

    /// Creates the database when missing.
    pub async fn create_database(&self) -> Result<(), StoreError> {
        self.database_ddl("CREATE DATABASE IF NOT EXISTS").await
    }

    /// Drops the database (tests only).
    pub async fn drop_database(&self) -> Result<(), StoreError> {
        self.database_ddl("DROP DATABASE IF EXISTS").await
    }

    /// `<verb> `<database>`` (on the cluster, when there is one).
    async fn database_ddl(&self, verb: &str) -> Result<(), StoreError> {
        let sql = format!(
            "{verb} `{}`{}",
            self.database.replace('`', ""),
            self.on_cluster()
        );
        self.server.query(&sql).execute().await?;
        Ok(())
    }

    // ---- events -----------------------------------------------------------------------------

    /// Which of `events` (event ids of `org_id`, each with its day) are already ingested: their
    /// done marker in `ingested_events` exists, which is written only after the INSERT that
    /// carried them (base table and every view) was acknowledged (crate::store::ledger). An
    /// event's day follows from its id (both come from the event time), so each id is looked up
    /// on its own day only. Ids go a day at a time in sorted runs, so a query reads only the
    /// granules its run spans (the sorting key is (org_id, day, event_id)), and each run travels
    /// as one array literal, which ClickHouse parses far faster than a list of literals.
    pub async fn existing_event_ids(
        &self,
        org_id: Uuid,
        events: &[(u16, Uuid)],
    ) -> Result<HashSet<Uuid>, StoreError> {
        let mut sorted = events.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let runs = sorted
            .chunk_by(|a, b| a.0 == b.0)
            .flat_map(|same_day| same_day.chunks(ID_CHECK_CHUNK));
        let org = org_id.to_string();
        let checks = runs.map(|run| {
            let date = day_to_date(run[0].0).to_string();
            let ids: Vec<Uuid> = run.iter().map(|(_, id)| *id).collect();
            self.client
                .query(
                    "SELECT event_id AS id FROM ingested_events WHERE org_id = ? AND day = toDate(?) \
                     AND event_id IN (SELECT toUUID(arrayJoin(?)))",
                )
                .bind(org.as_str())
                .bind(date)
                .bind(ids)
                .fetch_all::<IdRow>()
        });
        // A few queries in flight keep the server's cores busy while each answer travels back.
        let mut found = HashSet::new();
        let mut answers = futures::stream::iter(checks).buffer_unordered(ID_CHECKS_IN_FLIGHT);
        while let Some(rows) = answers.next().await {
            found.extend(rows?.into_iter().map(|r| r.id));
        }
        Ok(found)
    }

    /// Inserts event rows in one INSERT that must finish within `timeout` (sending the rows and
    /// waiting for the acknowledgement, each; [`INSERT_TIMEOUT`] unless the caller has less time).
    /// The INSERT runs as `query_id`, so a consumer that lost its connection can ask whether it is
    /// still running ([`Store::query_running`]).
    pub async fn insert_events(
        &self,
        rows: &[EventRow],
        timeout: Duration,
        query_id: &str,
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .client
            .insert::<EventRow>("events")
            .await?
            .with_setting("query_id", query_id)
            .with_timeouts(Some(timeout), Some(timeout));
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await?;
        Ok(())
    }

    // ---- quarantine and notices ---------------------------------------------------------------

    /// Stores quarantine rows, text (`QuarantineRow`) or bytes (`QuarantineRow<Vec<u8>>`).
    pub async fn insert_quarantine<R>(&self, rows: &[QuarantineRow<R>]) -> Result<(), StoreError>
    where
        R: RawRecord + 'static,
    {
        self.insert_rows("quarantine", rows).await
    }

    /// Open quarantine entries (all when `include_resolved`), newest first. Entries are read as
    /// bytes: a record that is not UTF-8 is listed like any other
    /// ([`QuarantineRow::raw_text`] tells).
    pub async fn list_quarantine(
        &self,
        reason: Option<&str>,
        include_resolved: bool,
        limit: u64,
    ) -> Result<Vec<QuarantineRow<Vec<u8>>>, StoreError> {
        let sql = "SELECT ?fields FROM quarantine FINAL WHERE (? = '' OR reason = ?) AND (? = 1 OR resolved_ms = 0) \
             ORDER BY received_ms DESC, id LIMIT ?";
        let reason = reason.unwrap_or("");
        Ok(self
            .client
            .query(sql)
            .bind(reason)
            .bind(reason)
            .bind(u8::from(include_resolved))
            .bind(limit)
            .fetch_all::<QuarantineRow<Vec<u8>>>()
            .await?)
    }

    pub async fn insert_notices(&self, rows: &[NoticeRow]) -> Result<(), StoreError> {
        self.insert_rows("notices", rows).await
    }

    /// Recorded notices, newest first; `topic_account` keeps those whose topic ARN is in that AWS
    /// account.
    pub async fn list_notices(
        &self,
        topic_account: Option<&str>,
        limit: u64,
    ) -> Result<Vec<NoticeRow>, StoreError> {
        let sql = "SELECT ?fields FROM notices FINAL \
             WHERE (? = '' OR splitByChar(':', topic_arn)[5] = ?) \
             ORDER BY received_ms DESC, id DESC LIMIT ?";
        let account = topic_account.unwrap_or("");
        Ok(self
            .client
            .query(sql)
            .bind(account)
            .bind(account)
            .bind(limit)
            .fetch_all::<NoticeRow>()
            .await?)
    }

    /// Inserts rows into a table of this database in one INSERT (nothing for no rows).
    pub async fn insert_rows<T>(&self, table: &str, rows: &[T]) -> Result<(), StoreError>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self.client.insert::<T>(table).await?;
        for row in rows {
            insert.write(row).await?;
        }
        insert.end().await?;
        Ok(())
    }

    /// Row count of a table of this database (operator summaries and tests).
    pub async fn count(&self, table: Table) -> Result<u64, StoreError> {
        let sql = format!("SELECT count() FROM {} FINAL", table.name());
        Ok(self.client.query(&sql).fetch_one::<u64>().await?)
    }
}

/// Whether a server of `version` (`version()`, e.g. `18.16.1`, `26.9.1.5`) knows the
/// `async_insert` setting (added in 21.11).
fn knows_async_insert(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (21, 11)
}

/// Tables whose size operators and tests ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Events,
    Quarantine,
    Notices,
    Orgs,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::Quarantine => "quarantine",
            Table::Notices => "notices",
            Table::Orgs => "orgs",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::knows_async_insert;

    #[test]
    fn async_insert_is_only_named_to_servers_that_know_it() {
        assert!(!knows_async_insert("18.16.1"));
        assert!(!knows_async_insert("21.10.3.9"));
        assert!(knows_async_insert("21.11.1.1"));
        assert!(knows_async_insert("26.9.1.5"));
        assert!(!knows_async_insert("garbage"));
    }
}
