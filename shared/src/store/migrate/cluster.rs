//! The cluster form of the schema (`sendops-admin migrate --cluster NAME`, `CLICKHOUSE_CLUSTER`;
//! docs/scale-out.md): every migration statement is translated at run time, so the numbered
//! files (and their checksums) stay the single-node schema.
//!
//! Where a table lives ([`Placement`]):
//! - **Sharded** (every table with an `org_id` column that is not a control table): `X_local`,
//!   a `Replicated*MergeTree` under `/clickhouse/tables/{shard}/<db>/X_local` on every node,
//!   and `X`, a `Distributed` table over it sharded by `cityHash64(toString(org_id))` (18.16 has
//!   no `cityHash64(UUID)`), so one org's rows and every rollup of them live on one shard.
//!   Materialized views are created on every node `TO X_local … FROM events_local`: a view fires
//!   for the local table the Distributed INSERT writes into on each shard (and views do not fire
//!   for rows another view writes, so every view reads the ingest table itself).
//! - **Everywhere** (control tables: orgs, keys, audit, rules, exclusions, entities, settings,
//!   quarantine, notices, provider cache, the runner's bookkeeping): one `Replicated*MergeTree`
//!   on every node under `/clickhouse/tables/all/<db>/X` (the `{replica}` macro is unique
//!   cluster-wide). Small, read by every shard's queries (an `IN` over them runs locally).
//! - **Pinned** (`ingest_batches`, the in-flight registry that `?since=` polls must read with
//!   the writes of every consumer): replicated per shard like a sharded table and `Distributed`
//!   with a constant key, so every row written through it lands on the first shard and every
//!   reader, whatever node it reaches, reads the same replica (`load_balancing = in_order`).
//!   Routed by org (`CLICKHOUSE_NODES`, `crate::store::shards`), each shard's batches write and
//!   read the shard's own `ingest_batches_local` instead; a read through the Distributed table
//!   reads every shard's.
//!
//! Statements: `CREATE TABLE`, `CREATE MATERIALIZED VIEW`, `DROP TABLE` and `ALTER TABLE` run
//! `ON CLUSTER` with database-qualified names; `INSERT … SELECT` (backfills) runs unchanged
//! through the Distributed tables. Anything else has no cluster form and is refused, naming the
//! statement, rather than run on one node.

use std::collections::HashSet;

use crate::store::migrations::{MIGRATIONS, split_statements};

/// Control tables: replicated on every node (module docs). A table that a per-org read names in a
/// subquery of a query over a Distributed table must not be one of these but sharded itself:
/// 18.16 sends the subquery to each shard as written, and the shard resolves an unqualified
/// table in its default database, not SendOps's (a sharded table's subquery is rewritten to the
/// qualified local table by `distributed_product_mode = local`). So `undeliverable_exclusions`,
/// read in `email IN (SELECT email FROM undeliverable_exclusions …)` over
/// `undeliverable_activity`, is sharded with the org's other rows.
const EVERYWHERE: &[&str] = &[
    "orgs",
    "org_accounts",
    "org_settings",
    "api_keys",
    "audit_log",
    "undeliverable_rules",
    "channels",
    "identities",
    "templates",
    "tracking_domains",
    "quarantine",
    "notices",
    "notice_confirmations",
    "mailbox_domains",
];

/// Tables every reader must read from one replica set whatever node it reaches (module docs).
const PINNED: &[&str] = &["ingest_batches"];

/// A client for a cluster-spread schema (docs/scale-out.md#consistency):
/// - `insert_distributed_sync = 1`: an INSERT into a Distributed table is acknowledged only
///   once every shard stored its rows (and ran its views), as on one server.
/// - `load_balancing = in_order`, `prefer_localhost_replica = 0`: every process, whatever node
///   it reaches, reads and writes the first live replica of each shard, so a read sees what an
///   acknowledged write stored (the duplicate check, `day_changes`, the batch registry) while
///   that replica lives.
/// - `insert_deduplicate = 0`: a replicated table drops a block identical to a recent one; two
///   `day_changes` bumps of the same days are identical blocks and must both count.
/// - `skip_unavailable_shards = 0`: a shard that is down fails the query (503), never a partial
///   answer.
/// - `distributed_product_mode = local`: an `IN (SELECT … FROM <distributed>)` inside a query
///   over a Distributed table reads the shard's local table (an org's rows are on one shard).
pub fn with_cluster_settings(client: clickhouse::Client) -> clickhouse::Client {
    CLUSTER_SETTINGS
        .iter()
        .fold(client, |c, (k, v)| c.with_setting(*k, *v))
}

/// The settings of [`with_cluster_settings`].
pub const CLUSTER_SETTINGS: &[(&str, &str)] = &[
    ("insert_distributed_sync", "1"),
    ("load_balancing", "in_order"),
    ("prefer_localhost_replica", "0"),
    ("insert_deduplicate", "0"),
    ("skip_unavailable_shards", "0"),
    ("distributed_product_mode", "local"),
];

/// The shard key of sharded tables.
pub const SHARD_KEY: &str = "cityHash64(toString(org_id))";

/// Where a table lives on a cluster (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Sharded,
    Everywhere,
    Pinned,
}

/// Translates migration statements for one cluster and database.
#[derive(Debug, Clone)]
pub struct ClusterSchema {
    cluster: String,
    database: String,
    /// Tables created local + Distributed (sharded or pinned) by any migration.
    distributed: HashSet<String>,
}

impl ClusterSchema {
    /// The translator for `cluster` and `database`, knowing every table of [`MIGRATIONS`] and
    /// `extra` statements (the runner's bookkeeping DDL).
    pub fn new(cluster: &str, database: &str, extra: &[&str]) -> ClusterSchema {
        let statements = MIGRATIONS
            .iter()
            .flat_map(|m| m.statements())
            .chain(extra.iter().flat_map(|s| split_statements(s)));
        ClusterSchema::with_statements(cluster, database, statements)
    }

    /// The translator knowing the tables that `statements` create.
    pub fn with_statements(
        cluster: &str,
        database: &str,
        statements: impl IntoIterator<Item = String>,
    ) -> ClusterSchema {
        let distributed = statements
            .into_iter()
            .filter_map(|s| {
                let t = parse_create_table(&s)?;
                (placement(t.name, t.columns) != Placement::Everywhere).then(|| t.name.to_owned())
            })
            .collect();
        ClusterSchema {
            cluster: cluster.to_owned(),
            database: database.to_owned(),
            distributed,
        }
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Whether `table` is a Distributed table over `table_local`.
    pub fn is_distributed(&self, table: &str) -> bool {
        self.distributed.contains(table)
    }

    /// `sql` as it runs on one node of a shard: every Distributed table it reads (after `FROM`
    /// or `JOIN`, unqualified) replaced by that node's local table, which holds all the rows of
    /// every org of the shard. Control tables keep their names (every node has them).
    /// The table a statement writes (`INSERT INTO t`, `ALTER TABLE t` — mutations and partition
    /// drops —, `OPTIMIZE TABLE t`, `TRUNCATE TABLE t`) becomes the local table too: 18.16's
    /// Distributed tables take no mutations, and a routed store writes its node's shard only.
    pub fn localize(&self, sql: &str) -> String {
        let target = [
            ["INSERT", "INTO"],
            ["ALTER", "TABLE"],
            ["OPTIMIZE", "TABLE"],
            ["TRUNCATE", "TABLE"],
        ]
        .iter()
        .find_map(|words| {
            let rest = after_words(sql, words)?;
            let (table, tail) = take_ident(rest)?;
            (!table.contains('.')).then(|| {
                let head = &sql[..sql.len() - rest.len()];
                format!("{head} {}{tail}", self.local_name(table))
            })
        });
        match target {
            Some(t) => self.local_sources(&t),
            None => self.local_sources(sql),
        }
    }

    /// The table an INSERT into `table` writes on one node of a shard (its local table when
    /// `table` is Distributed).
    pub fn local_table(&self, table: &str) -> String {
        if self.is_distributed(table) {
            format!("{table}_local")
        } else {
            table.to_owned()
        }
    }

    fn q(&self, table: &str) -> String {
        format!("{}.{table}", ident(&self.database))
    }

    fn on(&self) -> String {
        format!("ON CLUSTER {}", ident(&self.cluster))
    }

    /// The statements that do on the cluster what `stmt` does on one server.
    pub fn translate(&self, stmt: &str) -> Result<Vec<String>, String> {
        let s = stmt.trim();
        let words: Vec<String> = s
            .split_whitespace()
            .take(3)
            .map(str::to_ascii_uppercase)
            .collect();
        let w = |i: usize| words.get(i).map_or("", String::as_str);
        match (w(0), w(1), w(2)) {
            ("INSERT", _, _) | ("SELECT", _, _) => Ok(vec![s.to_owned()]),
            ("CREATE", "TABLE", _) => self.create_table(s),
            ("CREATE", "MATERIALIZED", "VIEW") => self.create_view(s),
            ("DROP", "TABLE", _) => self.drop_table(s),
            ("ALTER", "TABLE", _) => self.alter_table(s),
            _ => Err(no_form(s)),
        }
    }

    fn create_table(&self, s: &str) -> Result<Vec<String>, String> {
        let t = parse_create_table(s).ok_or_else(|| no_form(s))?;
        let engine = |path: &str| {
            let args = if t.engine_args.trim().is_empty() {
                String::new()
            } else {
                format!(", {}", t.engine_args.trim())
            };
            format!("Replicated{}('{path}', '{{replica}}'{args})", t.engine_name)
        };
        let db = zk_segment(&self.database);
        match placement(t.name, t.columns) {
            Placement::Everywhere => Ok(vec![format!(
                "CREATE TABLE IF NOT EXISTS {} {} ({}) ENGINE = {}{}",
                self.q(t.name),
                self.on(),
                t.columns,
                engine(&format!("/clickhouse/tables/all/{db}/{}", t.name)),
                t.rest
            )]),
            p => {
                let local = format!("{}_local", t.name);
                let key = if p == Placement::Pinned {
                    "toUInt64(0)"
                } else {
                    SHARD_KEY
                };
                Ok(vec![
                    format!(
                        "CREATE TABLE IF NOT EXISTS {} {} ({}) ENGINE = {}{}",
                        self.q(&local),
                        self.on(),
                        t.columns,
                        engine(&format!("/clickhouse/tables/{{shard}}/{db}/{local}")),
                        t.rest
                    ),
                    format!(
                        "CREATE TABLE IF NOT EXISTS {} {} AS {} ENGINE = Distributed('{}', '{}', '{local}', {key})",
                        self.q(t.name),
                        self.on(),
                        self.q(&local),
                        literal(&self.cluster),
                        literal(&self.database),
                    ),
                ])
            }
        }
    }

    /// `CREATE MATERIALIZED VIEW [IF NOT EXISTS] v TO t AS SELECT …`: on every node, into the
    /// target's local table, reading the local tables of sharded sources.
    fn create_view(&self, s: &str) -> Result<Vec<String>, String> {
        let rest = after_words(s, &["CREATE", "MATERIALIZED", "VIEW"]).ok_or_else(|| no_form(s))?;
        let rest = after_words(rest, &["IF", "NOT", "EXISTS"]).unwrap_or(rest);
        let (name, rest) = take_ident(rest).ok_or_else(|| no_form(s))?;
        let rest = after_words(rest, &["TO"]).ok_or_else(|| {
            format!(
                "{}: a materialized view needs `TO <table>` on a cluster",
                no_form(s)
            )
        })?;
        let (target, rest) = take_ident(rest).ok_or_else(|| no_form(s))?;
        let select = after_words(rest, &["AS"])
            .ok_or_else(|| no_form(s))?
            .trim_start();
        Ok(vec![format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {} {} TO {} AS {}",
            self.q(name),
            self.on(),
            self.local_name(target),
            self.local_sources(select)
        )])
    }

    /// The table a view on a node writes into: the local table of a distributed one.
    fn local_name(&self, table: &str) -> String {
        if self.is_distributed(table) {
            self.q(&format!("{table}_local"))
        } else {
            self.q(table)
        }
    }

    /// `select` with every `FROM`/`JOIN` table qualified, local tables for distributed ones.
    fn local_sources(&self, select: &str) -> String {
        let mut out = String::with_capacity(select.len() + 32);
        let mut rest = select;
        while let Some((before, kw, after)) = next_source_keyword(rest) {
            out.push_str(before);
            out.push_str(kw);
            let trimmed = after.trim_start();
            out.push_str(&after[..after.len() - trimmed.len()]);
            match take_ident(trimmed) {
                Some((table, tail)) if !table.contains('.') => {
                    out.push_str(&self.local_name(table));
                    rest = tail;
                }
                _ => rest = trimmed,
            }
        }
        out.push_str(rest);
        out
    }

    fn drop_table(&self, s: &str) -> Result<Vec<String>, String> {
        let rest = after_words(s, &["DROP", "TABLE"]).ok_or_else(|| no_form(s))?;
        let rest = after_words(rest, &["IF", "EXISTS"]).unwrap_or(rest);
        let (name, tail) = take_ident(rest).ok_or_else(|| no_form(s))?;
        if !tail.trim().is_empty() {
            return Err(no_form(s));
        }
        let mut out = vec![format!(
            "DROP TABLE IF EXISTS {} {}",
            self.q(name),
            self.on()
        )];
        if self.is_distributed(name) {
            out.push(format!(
                "DROP TABLE IF EXISTS {} {}",
                self.q(&format!("{name}_local")),
                self.on()
            ));
        }
        Ok(out)
    }

    /// `ALTER TABLE t …`: on the local table of a distributed one (column changes on the
    /// Distributed table too), on the table itself otherwise.
    fn alter_table(&self, s: &str) -> Result<Vec<String>, String> {
        let rest = after_words(s, &["ALTER", "TABLE"]).ok_or_else(|| no_form(s))?;
        let (name, tail) = take_ident(rest).ok_or_else(|| no_form(s))?;
        let tail = tail.trim();
        if !self.is_distributed(name) {
            return Ok(vec![format!(
                "ALTER TABLE {} {} {tail}",
                self.q(name),
                self.on()
            )]);
        }
        let mut out = vec![format!(
            "ALTER TABLE {} {} {tail}",
            self.q(&format!("{name}_local")),
            self.on()
        )];
        let upper = tail.to_ascii_uppercase();
        let column_change = [
            "ADD COLUMN",
            "DROP COLUMN",
            "MODIFY COLUMN",
            "RENAME COLUMN",
        ]
        .iter()
        .any(|k| upper.starts_with(k));
        if column_change {
            out.push(format!("ALTER TABLE {} {} {tail}", self.q(name), self.on()));
        }
        Ok(out)
    }
}

/// Where `name` lives, given its column list (module docs).
pub fn placement(name: &str, columns: &str) -> Placement {
    if PINNED.contains(&name) {
        Placement::Pinned
    } else if EVERYWHERE.contains(&name) || name.starts_with("schema_migrations") {
        Placement::Everywhere
    } else if has_org_id(columns) {
        Placement::Sharded
    } else {
        Placement::Everywhere
    }
}

fn has_org_id(columns: &str) -> bool {
    split_top_level(columns)
        .iter()
        .any(|c| c.split_whitespace().next() == Some("org_id"))
}

/// The bytes of `s` outside single quotes (backslash escapes inside them skipped), each with its
/// offset and the parenthesis depth after it, counted from `depth`.
fn unquoted(s: &str, mut depth: i32) -> impl Iterator<Item = (usize, u8, i32)> + '_ {
    let bytes = s.as_bytes();
    let (mut i, mut quote) = (0, false);
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let (at, b) = (i, bytes[i]);
            i += 1;
            match b {
                b'\\' if quote => i += 1,
                b'\'' => quote = !quote,
                _ if quote => {}
                _ => {
                    depth += match b {
                        b'(' => 1,
                        b')' => -1,
                        _ => 0,
                    };
                    return Some((at, b, depth));
                }
            }
        }
        None
    })
}

/// Splits at commas outside parentheses and quotes.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b, depth) in unquoted(s, 0) {
        if b == b',' && depth == 0 {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// A parsed `CREATE TABLE [IF NOT EXISTS] name (columns) ENGINE = XMergeTree(args) rest`.
struct CreateTable<'a> {
    name: &'a str,
    columns: &'a str,
    /// `MergeTree`, `ReplacingMergeTree`, …
    engine_name: &'a str,
    engine_args: &'a str,
    /// PARTITION BY / ORDER BY / SETTINGS …, with its leading whitespace.
    rest: &'a str,
}

fn parse_create_table(s: &str) -> Option<CreateTable<'_>> {
    let rest = after_words(s.trim(), &["CREATE", "TABLE"])?;
    let rest = after_words(rest, &["IF", "NOT", "EXISTS"]).unwrap_or(rest);
    let (name, rest) = take_ident(rest)?;
    let rest = rest.trim_start().strip_prefix('(')?;
    let close = matching_paren(rest)?;
    let columns = &rest[..close];
    let rest = after_words(&rest[close + 1..], &["ENGINE"])?;
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let open = rest.find('(')?;
    let engine_name = rest[..open].trim();
    if !engine_name.ends_with("MergeTree") || engine_name.starts_with("Replicated") {
        return None;
    }
    let args_len = matching_paren(&rest[open + 1..])?;
    let engine_args = &rest[open + 1..open + 1 + args_len];
    Some(CreateTable {
        name,
        columns,
        engine_name,
        engine_args,
        rest: &rest[open + 2 + args_len..],
    })
}

/// The byte offset of the `)` closing an already opened `(` at the start of `s`.
fn matching_paren(s: &str) -> Option<usize> {
    unquoted(s, 1)
        .find(|&(_, b, depth)| b == b')' && depth == 0)
        .map(|(i, _, _)| i)
}

/// `s` after the keywords `words` (case-insensitive, whitespace-separated), or None.
fn after_words<'a>(s: &'a str, words: &[&str]) -> Option<&'a str> {
    let mut rest = s;
    for w in words {
        let t = rest.trim_start();
        let head = t.get(..w.len())?;
        let after = &t[w.len()..];
        if !head.eq_ignore_ascii_case(w)
            || after
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return None;
        }
        rest = after;
    }
    Some(rest)
}

/// A leading (possibly `db.`-qualified) identifier and the text after it.
fn take_ident(s: &str) -> Option<(&str, &str)> {
    let t = s.trim_start();
    let end = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(t.len());
    (end > 0).then(|| (&t[..end], &t[end..]))
}

/// The next ` FROM ` / ` JOIN ` keyword outside quotes: (text before, keyword, text after).
fn next_source_keyword(s: &str) -> Option<(&str, &str, &str)> {
    let bytes = s.as_bytes();
    let mut quote = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote => i += 1,
            b'\'' => quote = !quote,
            _ if !quote => {
                let boundary_before = i == 0 || !is_word(bytes[i - 1]);
                for kw in ["FROM", "JOIN"] {
                    let end = i + kw.len();
                    if boundary_before
                        && s.get(i..end).is_some_and(|w| w.eq_ignore_ascii_case(kw))
                        && bytes.get(end).is_some_and(|b| b.is_ascii_whitespace())
                    {
                        return Some((&s[..i], &s[i..end], &s[end..]));
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn no_form(s: &str) -> String {
    let head: String = s.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
    format!("statement `{head} …` has no cluster form (docs/scale-out.md)")
}

/// A backquoted identifier.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', ""))
}

/// Text for inside a single-quoted literal.
fn literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

/// A database name as a ZooKeeper path segment.
fn zk_segment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
