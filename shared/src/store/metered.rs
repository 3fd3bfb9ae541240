//! The one door of the Store's ClickHouse queries: [`Client`] wraps the `clickhouse` crate's
//! client with the same methods (`query` → `bind`/`fetch_*`/`execute`, `insert` → `write`/`end`)
//! and measures every statement it runs (issue 16: store query latency and errors):
//!
//! - `sendops_store_queries_total{op,outcome}`: statements finished; `outcome` is `ok`, `error`
//!   (ClickHouse refused it, the network failed, a row did not decode) or `cancelled` (the caller
//!   dropped it first: a timeout, a shutdown, a cursor not read to its end).
//! - `sendops_store_query_duration_seconds{op}`: histogram, from the call to the last row read
//!   (or the INSERT's acknowledgement).
//!
//! `op` is the statement's verb and first table as the code wrote them, e.g. `select:events`,
//! `insert:ingested_events`, `alter:events`, `select` for a statement without a table
//! (`SELECT version()`). Table names come from code, never from requests, so the label set stays
//! small. Nothing is recorded unless the binary installed a metrics recorder.
//!
//! The crate's HTTP client cannot be wrapped instead: `clickhouse::HttpClient` is sealed to
//! hyper-util's own client, whose per-connection connector never sees where one request ends.

use std::sync::Arc;
use std::time::Instant;

use clickhouse::error::Result;
use clickhouse::sql::Bind;
use clickhouse::{Row, RowOwned, RowRead, RowWrite};

use crate::store::migrate::cluster::ClusterSchema;

/// Counter of finished statements, by `op` and `outcome`.
pub const QUERIES_TOTAL: &str = "sendops_store_queries_total";
/// Histogram of statement durations in seconds, by `op`.
pub const QUERY_DURATION: &str = "sendops_store_query_duration_seconds";

/// The measured ClickHouse client of a [`crate::Store`]; cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: clickhouse::Client,
    /// Set on a client routed to one shard's node (`crate::store::shards`): every Distributed
    /// table a statement names is replaced by its local table on that node.
    local: Option<Arc<ClusterSchema>>,
}

impl Client {
    pub fn new(inner: clickhouse::Client) -> Client {
        Client { inner, local: None }
    }

    /// This client reading and writing the local tables of `schema`'s Distributed tables (a
    /// client of one shard's node).
    pub fn localized(self, schema: Arc<ClusterSchema>) -> Client {
        Client {
            inner: self.inner,
            local: Some(schema),
        }
    }

    /// The statement as sent: with local table names on a routed client.
    fn text<'a>(&self, sql: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.local {
            Some(schema) => std::borrow::Cow::Owned(schema.localize(sql)),
            None => std::borrow::Cow::Borrowed(sql),
        }
    }

    /// The unmeasured client underneath (for what the wrapper does not offer).
    pub fn inner(&self) -> &clickhouse::Client {
        &self.inner
    }

    /// A statement, measured when it runs.
    pub fn query(&self, sql: &str) -> Query {
        Query {
            inner: self.inner.query(&self.text(sql)),
            op: op_of(sql),
        }
    }

    /// An INSERT into `table`, measured from now to its acknowledgement.
    pub async fn insert<T: Row>(&self, table: &str) -> Result<Insert<T>> {
        let timing = Timing::start(format!("insert:{}", table_label(table)));
        let target = match &self.local {
            Some(schema) => schema.local_table(table),
            None => table.to_owned(),
        };
        match self.inner.insert::<T>(&target).await {
            Ok(inner) => Ok(Insert { inner, timing }),
            Err(e) => {
                timing.finish(Outcome::Error);
                Err(e)
            }
        }
    }

    pub fn with_setting(self, name: impl Into<String>, value: impl Into<String>) -> Client {
        Client {
            inner: self.inner.with_setting(name, value),
            local: self.local,
        }
    }

    pub fn with_database(self, database: impl Into<String>) -> Client {
        Client {
            inner: self.inner.with_database(database),
            local: self.local,
        }
    }
}

/// A statement of [`Client::query`].
#[must_use]
pub struct Query {
    inner: clickhouse::query::Query,
    op: String,
}

impl Query {
    pub fn bind(self, value: impl Bind) -> Query {
        Query {
            inner: self.inner.bind(value),
            op: self.op,
        }
    }

    pub fn with_setting(self, name: impl Into<String>, value: impl Into<String>) -> Query {
        Query {
            inner: self.inner.with_setting(name, value),
            op: self.op,
        }
    }

    pub async fn execute(self) -> Result<()> {
        let timing = Timing::start(self.op);
        timing.result(self.inner.execute().await)
    }

    pub async fn fetch_one<T: RowOwned + RowRead>(self) -> Result<T> {
        let timing = Timing::start(self.op);
        timing.result(self.inner.fetch_one::<T>().await)
    }

    pub async fn fetch_optional<T: RowOwned + RowRead>(self) -> Result<Option<T>> {
        let timing = Timing::start(self.op);
        timing.result(self.inner.fetch_optional::<T>().await)
    }

    pub async fn fetch_all<T: RowOwned + RowRead>(self) -> Result<Vec<T>> {
        let timing = Timing::start(self.op);
        timing.result(self.inner.fetch_all::<T>().await)
    }

    /// A cursor over the rows; measured until it returns the end or an error (dropped before,
    /// it counts as `cancelled`).
    pub fn fetch<T: Row>(self) -> Result<Cursor<T>> {
        let timing = Timing::start(self.op);
        match self.inner.fetch::<T>() {
            Ok(inner) => Ok(Cursor {
                inner,
                timing: Some(timing),
            }),
            Err(e) => {
                timing.finish(Outcome::Error);
                Err(e)
            }
        }
    }
}

/// The rows of [`Query::fetch`].
pub struct Cursor<T> {
    inner: clickhouse::query::RowCursor<T>,
    timing: Option<Timing>,
}

impl<T: Row> Cursor<T> {
    pub async fn next(&mut self) -> Result<Option<T::Value<'_>>>
    where
        T: RowRead,
    {
        let row = self.inner.next().await;
        match &row {
            Ok(Some(_)) => {}
            Ok(None) => {
                if let Some(t) = self.timing.take() {
                    t.finish(Outcome::Ok);
                }
            }
            Err(_) => {
                if let Some(t) = self.timing.take() {
                    t.finish(Outcome::Error);
                }
            }
        }
        row
    }
}

/// An INSERT of [`Client::insert`].
#[must_use]
pub struct Insert<T> {
    inner: clickhouse::insert::Insert<T>,
    timing: Timing,
}

impl<T: Row> Insert<T> {
    pub fn with_timeouts(
        self,
        send_timeout: Option<std::time::Duration>,
        end_timeout: Option<std::time::Duration>,
    ) -> Insert<T> {
        Insert {
            inner: self.inner.with_timeouts(send_timeout, end_timeout),
            timing: self.timing,
        }
    }

    pub fn with_setting(self, name: impl Into<String>, value: impl Into<String>) -> Insert<T> {
        Insert {
            inner: self.inner.with_setting(name, value),
            timing: self.timing,
        }
    }

    /// Writes a row (an error ends the INSERT: it is counted as an `error` once dropped or
    /// ended).
    pub fn write<'a>(
        &'a mut self,
        row: &T::Value<'_>,
    ) -> impl Future<Output = Result<()>> + 'a + Send
    where
        T: RowWrite,
    {
        // As the crate's: the row is serialised now, the future holds no reference to it.
        let written = self.inner.write(row);
        let failed = &mut self.timing.failed;
        async move {
            let written = written.await;
            if written.is_err() {
                *failed = true;
            }
            written
        }
    }

    /// Ends the INSERT: the server acknowledges it (rows, views) or refuses it.
    pub async fn end(self) -> Result<()> {
        let Insert { inner, timing } = self;
        timing.result(inner.end().await)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Error,
    Cancelled,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// One statement's clock; recorded once, when finished or dropped (`cancelled`, or `error`
/// after a failed write).
struct Timing {
    op: String,
    started: Instant,
    done: bool,
    failed: bool,
}

impl Timing {
    fn start(op: String) -> Timing {
        Timing {
            op,
            started: Instant::now(),
            done: false,
            failed: false,
        }
    }

    fn result<R>(self, result: Result<R>) -> Result<R> {
        self.finish(if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Error
        });
        result
    }

    fn finish(mut self, outcome: Outcome) {
        self.record(outcome);
    }

    fn record(&mut self, outcome: Outcome) {
        if self.done {
            return;
        }
        self.done = true;
        let outcome = if self.failed { Outcome::Error } else { outcome };
        let op = std::mem::take(&mut self.op);
        metrics::histogram!(QUERY_DURATION, "op" => op.clone())
            .record(self.started.elapsed().as_secs_f64());
        metrics::counter!(QUERIES_TOTAL, "op" => op, "outcome" => outcome.as_str()).increment(1);
    }
}

impl Drop for Timing {
    fn drop(&mut self) {
        self.record(Outcome::Cancelled);
    }
}

/// The `op` label of a statement: `verb:table` (first table as written, database prefix dropped
/// except `system.`), or the verb alone.
pub fn op_of(sql: &str) -> String {
    let words: Vec<String> = words(sql).take(4_000).collect();
    let Some(verb) = words.first().map(String::as_str) else {
        return "other".into();
    };
    let after = |keyword: &str, skip: &[&str]| -> Option<&str> {
        let mut it = words.iter().skip_while(|w| *w != keyword);
        it.next()?;
        it.map(String::as_str).find(|w| !skip.contains(w))
    };
    let table = match verb {
        "select" | "with" => words
            .windows(2)
            .find(|w| w[0] == "from" && w[1] != "(")
            .map(|w| w[1].as_str()),
        "insert" => after("into", &["table"]),
        "alter" | "optimize" | "truncate" | "drop" | "rename" | "attach" | "detach" => {
            after("table", &["if", "exists"])
        }
        "create" => words
            .iter()
            .position(|w| w == "table" || w == "view" || w == "database")
            .and_then(|i| {
                words[i + 1..]
                    .iter()
                    .map(String::as_str)
                    .find(|w| !["if", "not", "exists"].contains(w))
            }),
        _ => None,
    };
    let verb = match verb {
        "with" => "select",
        v if v.bytes().all(|b| b.is_ascii_lowercase()) && v.len() <= 16 => v,
        _ => "other",
    };
    match table.map(table_label) {
        Some(t) => format!("{verb}:{t}"),
        None => verb.to_owned(),
    }
}

/// A table name as a label: lower case, backquotes and a database prefix dropped (`system.` kept),
/// `other` when it is not a plain identifier.
fn table_label(table: &str) -> String {
    let t = table.trim_matches('`').to_ascii_lowercase();
    let t = match t.split_once('.') {
        Some(("system", _)) => t.clone(),
        Some((_, name)) => name.trim_matches('`').to_owned(),
        None => t,
    };
    if !t.is_empty()
        && t.len() <= 64
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
    {
        t
    } else {
        "other".into()
    }
}

/// Lower-cased words of SQL text: identifiers (with dots and backquotes), and `(` alone.
/// String literals and `--` comments are skipped.
fn words(sql: &str) -> impl Iterator<Item = String> + '_ {
    let mut chars = sql.chars().peekable();
    std::iter::from_fn(move || {
        loop {
            let c = chars.next()?;
            match c {
                '(' => return Some("(".to_owned()),
                '\'' => {
                    // A string literal: up to the closing quote (backslash escapes).
                    while let Some(c) = chars.next() {
                        if c == '\\' {
                            chars.next();
                        } else if c == '\'' {
                            break;
                        }
                    }
                }
                '-' if chars.peek() == Some(&'-') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                c if c.is_ascii_alphanumeric() || c == '_' || c == '`' => {
                    let mut w = String::new();
                    w.push(c.to_ascii_lowercase());
                    while let Some(&n) = chars.peek() {
                        if n.is_ascii_alphanumeric() || n == '_' || n == '`' || n == '.' {
                            w.push(n.to_ascii_lowercase());
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    return Some(w);
                }
                _ => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::op_of;

    #[test]
    fn ops_name_the_verb_and_the_first_table() {
        let cases = [
            ("SELECT version()", "select"),
            (
                "SELECT ?fields FROM notices FINAL WHERE x = ?",
                "select:notices",
            ),
            (
                "SELECT a FROM (SELECT b FROM `ingested_events` WHERE c IN (SELECT 1)) GROUP BY a",
                "select:ingested_events",
            ),
            (
                "  select count() from sendops_test_x.events final",
                "select:events",
            ),
            (
                "SELECT * FROM system.mutations WHERE is_done = 0",
                "select:system.mutations",
            ),
            (
                "WITH 1 AS x SELECT x FROM report_day_seals",
                "select:report_day_seals",
            ),
            ("SELECT 'from evil' AS s FROM orgs", "select:orgs"),
            ("-- FROM comment\nSELECT 1 FROM api_keys", "select:api_keys"),
            (
                "INSERT INTO `events`(a, b) FORMAT RowBinary",
                "insert:events",
            ),
            ("ALTER TABLE events DELETE WHERE org_id = ?", "alter:events"),
            ("OPTIMIZE TABLE messages FINAL", "optimize:messages"),
            (
                "CREATE TABLE IF NOT EXISTS notices (id UUID)",
                "create:notices",
            ),
            (
                "CREATE MATERIALIZED VIEW IF NOT EXISTS m_mv TO m AS SELECT 1 FROM events",
                "create:m_mv",
            ),
            ("DROP TABLE IF EXISTS staging", "drop:staging"),
            ("", "other"),
            ("???", "other"),
        ];
        for (sql, op) in cases {
            assert_eq!(op_of(sql), op, "{sql}");
        }
    }
}
