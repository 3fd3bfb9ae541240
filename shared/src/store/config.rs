//! Configuration read from the environment (see the README's configuration table).

use std::env;
use std::path::PathBuf;

/// Where the ClickHouse server is and which database SendOps owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseConfig {
    /// `CLICKHOUSE_URL`, default `http://127.0.0.1:8123`.
    pub url: String,
    /// `CLICKHOUSE_DATABASE`, default `sendops`.
    pub database: String,
    /// `CLICKHOUSE_USER` (optional).
    pub user: Option<String>,
    /// `CLICKHOUSE_PASSWORD` (optional).
    pub password: Option<String>,
    /// `CLICKHOUSE_CA_FILE` (optional): PEM CA certificates trusted for an `https://` URL, in
    /// addition to the system's.
    pub ca_file: Option<PathBuf>,
    /// `CLICKHOUSE_CLUSTER` (optional): the cluster (a `remote_servers` name) the schema is
    /// spread over; unset for one server (docs/scale-out.md).
    pub cluster: Option<String>,
    /// `CLICKHOUSE_NODES` (optional, with `CLICKHOUSE_CLUSTER`): the HTTP(S) URLs of the
    /// cluster's nodes, comma-separated, in any order. Set, per-org statements run on a live
    /// replica of the org's own shard, so a stopped shard stops only its own orgs
    /// (docs/scale-out.md "When servers stop"); unset, every per-org read goes to every shard.
    pub nodes: Vec<String>,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: "http://127.0.0.1:8123".into(),
            database: "sendops".into(),
            user: None,
            password: None,
            ca_file: None,
            cluster: None,
            nodes: Vec::new(),
        }
    }
}

impl ClickHouseConfig {
    pub fn from_env() -> Self {
        let non_empty = |name: &str| env::var(name).ok().filter(|v| !v.is_empty());
        let d = ClickHouseConfig::default();
        ClickHouseConfig {
            url: non_empty("CLICKHOUSE_URL").unwrap_or(d.url),
            database: non_empty("CLICKHOUSE_DATABASE").unwrap_or(d.database),
            user: non_empty("CLICKHOUSE_USER"),
            password: non_empty("CLICKHOUSE_PASSWORD"),
            ca_file: non_empty("CLICKHOUSE_CA_FILE").map(PathBuf::from),
            cluster: non_empty("CLICKHOUSE_CLUSTER"),
            nodes: non_empty("CLICKHOUSE_NODES")
                .map(|v| {
                    v.split(',')
                        .map(|u| u.trim().trim_end_matches('/').to_owned())
                        .filter(|u| !u.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The same server with another database (tests use one database each).
    pub fn with_database(&self, database: &str) -> Self {
        ClickHouseConfig {
            database: database.to_owned(),
            ..self.clone()
        }
    }
}
