#!/usr/bin/env python3
"""Dialect check: does every SQL statement SendOps issues also run on current ClickHouse?

The project runs against ClickHouse 18.16 locally (scripts/clickhouse.sh, with log_queries=1),
and this script replays its SQL on the ClickHouse embedded in chdb (25.x/26.x):

  1. a fresh chdb session: CREATE DATABASE sendops; USE sendops; then every statement of
     shared/migrations/*.sql in file-name order (statements end with a line ending in `;`,
     `--` comment lines are ignored). A failing migration stops the check.
  2. unless --migrations-only: every distinct statement that succeeded on the local server
     (system.query_log, type QueryFinish, initial queries only) since --since UNIX_SECONDS,
     normalised (trailing FORMAT clause and `;` stripped, `sendops_test_*` database names
     mapped to `sendops`), in order of first appearance:
       - skipped: CREATE/DROP/ATTACH/DETACH/RENAME, EXISTS, SHOW, DESC[RIBE], USE, SYSTEM, KILL,
         schema-only ALTERs, anything touching `system.` tables or the migration bookkeeping
         table, and statements identical to a migration statement;
       - `INSERT INTO t [(cols)] FORMAT X` / `INSERT ... VALUES` without logged data (18.16 logs
         HTTP inserts without their data): checked as `SELECT cols|* FROM t LIMIT 0`;
       - `SET a = 1, ...`: checked as `SELECT 1 SETTINGS a = 1, ...` (nothing persists);
       - everything else (SELECT, INSERT ... VALUES (...)/SELECT, ALTER ... UPDATE/DELETE,
         OPTIMIZE, TRUNCATE, ...) runs as is against the session's (small or empty) tables.

  3. with --node URL (repeatable; scripts/test.sh passes the local cluster's nodes): the same
     for the statements logged on those ClickHouse cluster nodes, after mapping the cluster
     forms back to the single-server names (`ON CLUSTER x` dropped, `t_local` → `t`, which is
     what a routed store sends): they run on the session like the others. What only a cluster
     can execute — DDL (Replicated* engines with ZooKeeper paths, Distributed tables) and reads
     through the `remote()` / `cluster()` table functions — is checked by current ClickHouse's
     parser (`EXPLAIN AST`), since chdb has neither ZooKeeper nor remote servers.

Prints each failure (statement truncated to ~500 chars, and chdb's error), then the line
`chdb dialect check: N statements, M failed`; exits 1 if M > 0 (or the log can't be read), else 0.

Run it with the venv of scripts/pyenv.sh, e.g.
    "$(scripts/pyenv.sh | tail -n 1)/python" scripts/chdb_check.py --since "$start"
    scripts/chdb_check.py --migrations-only
(when chdb is not importable it re-executes itself with that venv's python if it exists).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_DB_RE = re.compile(r"\bsendops_test_\w+")
TARGET_DB = "sendops"
MAX_SHOW = 500

# Leading SQL comments (line and block) before the first keyword.
LEADING_COMMENTS_RE = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)
TRAILING_FORMAT_RE = re.compile(r"\s+FORMAT\s+\w+\s*\Z", re.I)
SKIP_KEYWORDS = {
    "CREATE", "DROP", "ATTACH", "DETACH", "RENAME", "EXISTS", "SHOW", "DESC", "DESCRIBE",
    "USE", "SYSTEM", "KILL", "CHECK", "GRANT", "REVOKE", "EXPLAIN", "WATCH",
}
SYSTEM_TABLE_RE = re.compile(r"(?<![\w.`\"])[`\"]?system[`\"]?\s*\.\s*[`\"]?\w", re.I)
# An ALTER that changes data (run it) rather than the schema (skip it: migrations cover that).
ALTER_DATA_RE = re.compile(r"\b(UPDATE|DELETE|PARTITION|FREEZE)\b", re.I)
IDENT = r"(?:`[^`]+`|\"[^\"]+\"|[A-Za-z_][\w$]*)"
INSERT_RE = re.compile(
    rf"\AINSERT\s+INTO\s+(?:TABLE\s+)?(?P<table>{IDENT}(?:\s*\.\s*{IDENT})?)\s*"
    rf"(?:\((?P<cols>[^()]*)\))?\s*(?P<rest>.*)\Z",
    re.I | re.S,
)
CREATE_DB_RE = re.compile(rf"\ACREATE\s+DATABASE\s+(?:IF\s+NOT\s+EXISTS\s+)?({IDENT})", re.I)
SET_RE = re.compile(r"\ASET\s+(?P<assign>.+)\Z", re.I | re.S)


def ensure_chdb() -> None:
    """Import chdb, or re-exec with the project venv's python when it's available there."""
    try:
        import chdb  # noqa: F401
    except ImportError:
        venv = os.environ.get("SENDOPS_VENV") or os.path.expanduser("~/.cache/sendops/venv")
        py = Path(venv) / "bin" / "python"
        if py.exists() and Path(sys.executable).resolve() != py.resolve() \
                and not os.environ.get("SENDOPS_CHDB_REEXEC"):
            os.environ["SENDOPS_CHDB_REEXEC"] = "1"
            os.execv(str(py), [str(py), *sys.argv])
        sys.exit("chdb_check: chdb is not installed; run scripts/pyenv.sh and use its python")


# ---------------------------------------------------------------------------------------------
# Migrations


def split_statements(text: str) -> list[str]:
    """Split a migration file: a statement ends at a line ending with `;`; `--` lines ignored."""
    statements: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("--"):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current).rstrip().rstrip(";").strip())
            current = []
    statements.append("\n".join(current).strip())
    return [s for s in statements if s.strip().strip(";").strip()]


def load_migrations(directory: Path) -> list[tuple[str, str]]:
    files = sorted(p for p in directory.glob("*.sql") if p.is_file())
    out = []
    for path in files:
        for stmt in split_statements(path.read_text(encoding="utf-8")):
            out.append((path.name, stmt))
    return out


# ---------------------------------------------------------------------------------------------
# The query log


def ch_query(url: str, sql: str, timeout: float = 30.0) -> str:
    req = urllib.request.Request(url, data=sql.encode("utf-8"), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace").strip()
        raise RuntimeError(f"{url}: {body or e}") from None
    except OSError as e:
        raise RuntimeError(f"{url}: {e}") from None


@dataclass
class Logged:
    query: str
    database: str  # '' when the server does not log current_database (18.16 doesn't)


def fetch_logged(url: str, since: int) -> tuple[list[Logged], set[str]]:
    """The distinct statements that succeeded since `since`, in order of first appearance,
    and the names of other databases (on the server now or created in that window)."""
    # The log is flushed every second; force it so the statements just issued are there.
    ch_query(url, "SYSTEM FLUSH LOGS")
    cols = dict(
        line.split("\t", 1)
        for line in ch_query(
            url,
            "SELECT name, type FROM system.columns WHERE database = 'system' "
            "AND table = 'query_log' FORMAT TabSeparated",
        ).splitlines()
        if "\t" in line
    )
    if not cols:
        print("chdb_check: system.query_log does not exist (nothing logged yet?)", file=sys.stderr)
        return [], set()
    # 18.16: `type` is UInt8 (2 = QueryFinish) and there is no current_database column.
    finish = "type = 'QueryFinish'" if cols.get("type", "").startswith("Enum") else "type = 2"
    db_expr = "current_database" if "current_database" in cols else "''"
    initial = " AND is_initial_query = 1" if "is_initial_query" in cols else ""
    sql = (
        f"SELECT query, {db_expr} AS db, min(event_time) AS first_time "
        f"FROM system.query_log "
        f"WHERE event_date >= toDate(toDateTime({since})) AND event_time >= toDateTime({since}) "
        f"AND {finish}{initial} "
        f"GROUP BY query, db ORDER BY first_time FORMAT JSONEachRow"
    )
    # Rows end at "\n" only: a logged query may hold U+2028, U+0085 or other characters that
    # str.splitlines() would also split on (JSONEachRow does not escape them).
    rows = [json.loads(line) for line in ch_query(url, sql, timeout=120).split("\n") if line]
    logged = [Logged(r["query"], r["db"]) for r in rows]
    # 18.16 does not log the current database, so queries someone ran by hand against another
    # database on the same server can only be told apart by naming it: collect those names.
    names = set(ch_query(url, "SELECT name FROM system.databases FORMAT TabSeparated").split())
    for entry in logged:
        m = CREATE_DB_RE.match(strip_leading_comments(entry.query))
        if m:
            names.add(m.group(1).strip('`"'))
    return logged, {n for n in names if not is_project_db(n) and n != "system"}


QUALIFIED_RE = re.compile(r"\b(?:FROM|INTO|JOIN|TABLE|EXISTS)\s+`?([A-Za-z_]\w*)`?\.`?[A-Za-z_]", re.IGNORECASE)


def names_foreign_db(sql: str) -> bool:
    """The project's statements never qualify tables with a database (they run in the session's
    database); one that reads or writes `db.table` of another database was run by someone else
    on the same server (18.16 does not log the current database, so this is how to tell)."""
    return any(not is_project_db(m) and m != "system" for m in QUALIFIED_RE.findall(sql))


def is_project_db(name: str) -> bool:
    return name == TARGET_DB or name.startswith("sendops_test_")


# ---------------------------------------------------------------------------------------------
# Normalising and classifying statements


def strip_leading_comments(sql: str) -> str:
    return sql[LEADING_COMMENTS_RE.match(sql).end():]


def normalise(sql: str) -> str:
    sql = strip_leading_comments(sql).strip()
    while sql.endswith(";"):
        sql = sql[:-1].rstrip()
    sql = TEST_DB_RE.sub(TARGET_DB, sql)
    if not sql.upper().startswith("INSERT"):  # INSERT's FORMAT is handled by classify()
        sql = TRAILING_FORMAT_RE.sub("", sql)
    return sql


ON_CLUSTER_RE = re.compile(r"\s+ON\s+CLUSTER\s+(?:`[^`]+`|\"[^\"]+\"|[A-Za-z_][\w$]*)", re.I)
LOCAL_RE = re.compile(r"\b([A-Za-z_]\w*)_local\b")
REMOTE_RE = re.compile(r"\b(?:remote|remoteSecure|cluster|clusterAllReplicas)\s*\(", re.I)
DDL_WORDS = {"CREATE", "DROP", "ATTACH", "DETACH", "RENAME"}


def cluster_plan(sql: str) -> tuple[str, str]:
    """How a statement logged on a cluster node is checked: ("run", single-server form) or
    ("parse", statement) for what needs a cluster to execute."""
    first = (sql.split(None, 1) or [""])[0].upper()
    if first in DDL_WORDS or (ON_CLUSTER_RE.search(sql) and first == "ALTER" \
            and not ALTER_DATA_RE.search(sql)) or REMOTE_RE.search(sql):
        return "parse", sql
    return "run", LOCAL_RE.sub(r"\1", ON_CLUSTER_RE.sub("", sql))


def dedupe_key(sql: str) -> str:
    return " ".join(sql.split())


@dataclass
class Plan:
    action: str  # "run" or "skip"
    sql: str = ""  # what to run on chdb
    reason: str = ""  # why skipped, or how it's checked


def classify(sql: str, bookkeeping: re.Pattern[str], migration_keys: set[str]) -> Plan:
    if dedupe_key(sql) in migration_keys:
        return Plan("skip", reason="migration statement")
    words = sql.split(None, 2)
    first = words[0].upper() if words else ""
    if first in SKIP_KEYWORDS:
        return Plan("skip", reason=f"{first} statement")
    if SYSTEM_TABLE_RE.search(sql):
        return Plan("skip", reason="uses system tables")
    if bookkeeping.search(sql):
        return Plan("skip", reason="migration bookkeeping")
    if first == "ALTER" and not ALTER_DATA_RE.search(sql):
        return Plan("skip", reason="schema ALTER (migrations cover the schema)")
    if first == "SET":
        m = SET_RE.match(sql)
        return Plan("run", f"SELECT 1 SETTINGS {m.group('assign')}" if m else sql, "SET as SETTINGS")
    if first == "INSERT":
        m = INSERT_RE.match(sql)
        if m:
            rest = m.group("rest").strip()
            rest_up = rest.upper()
            no_data = (
                rest_up.startswith("FORMAT")
                or re.fullmatch(r"VALUES\s*", rest_up) is not None
                or (rest_up.startswith("SETTINGS") and re.search(r"\bFORMAT\s+\w+", rest_up))
            )
            if no_data:
                cols = (m.group("cols") or "").strip() or "*"
                return Plan("run", f"SELECT {cols} FROM {m.group('table')} LIMIT 0",
                            "INSERT header checked as SELECT ... LIMIT 0")
        return Plan("run", sql)
    return Plan("run", sql)


def shorten(text: str, limit: int = MAX_SHOW) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f" ... [{len(text) - limit} more chars]"


# ---------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--since", type=int, help="UNIX seconds: replay queries logged from then on")
    ap.add_argument("--migrations-dir", type=Path, default=ROOT / "shared" / "migrations")
    ap.add_argument("--migrations-only", action="store_true", help="check just the migrations")
    ap.add_argument("--clickhouse-url",
                    default=os.environ.get("CLICKHOUSE_URL", "http://127.0.0.1:8123"))
    ap.add_argument("--node", action="append", default=[], metavar="URL",
                    help="also check the statements logged on this cluster node (repeatable)")
    ap.add_argument("--bookkeeping-table", default=r"\w*migrations\w*",
                    help="regex of the migration bookkeeping table name(s); statements "
                         "naming it are skipped (default: %(default)s)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every statement checked or skipped")
    args = ap.parse_args()
    if not args.migrations_only and args.since is None:
        ap.error("--since UNIX_SECONDS is required unless --migrations-only")

    ensure_chdb()
    import chdb
    from chdb import session as chs

    bookkeeping = re.compile(rf"(?<![\w]){args.bookkeeping_table}(?![\w])", re.I)
    checked = 0
    failures: list[tuple[str, str, str]] = []  # (origin, statement, error)

    def run(sess, origin: str, sql: str) -> bool:
        nonlocal checked
        checked += 1
        try:
            sess.query(sql, "Null")
        except Exception as e:  # chdb raises ChdbError (a RuntimeError) on any server error
            failures.append((origin, sql, str(e)))
            return False
        if args.verbose:
            print(f"ok   [{origin}] {shorten(' '.join(sql.split()), 160)}")
        return True

    def report() -> int:
        for origin, sql, err in failures:
            print(f"FAIL [{origin}]\n  statement: {shorten(sql)}\n  chdb: {shorten(err)}")
        print(f"chdb dialect check: {checked} statements, {len(failures)} failed")
        return 1 if failures else 0

    migrations_dir = args.migrations_dir.resolve()
    if not migrations_dir.is_dir():
        print(f"chdb_check: no migrations directory {migrations_dir}", file=sys.stderr)
        return 2
    migrations = load_migrations(migrations_dir)
    if not migrations:
        print(f"chdb_check: warning: no statements in {migrations_dir}/*.sql", file=sys.stderr)

    sess = chs.Session()  # temporary directory, removed on close
    try:
        print(f"chdb_check: chdb {chdb.__version__}, ClickHouse "
              f"{str(sess.query('SELECT version()', 'TabSeparated')).strip()}", file=sys.stderr)
        sess.query(f"CREATE DATABASE {TARGET_DB}", "Null")
        sess.query(f"USE {TARGET_DB}", "Null")

        for name, stmt in migrations:
            if not run(sess, f"migration {name}", stmt):
                print(f"chdb_check: migration {name} failed; not checking anything after it",
                      file=sys.stderr)
                return report()
        if args.migrations_only:
            return report()

        try:
            logged, foreign_dbs = fetch_logged(args.clickhouse_url, args.since)
        except RuntimeError as e:
            print(f"chdb_check: cannot read the query log: {e}", file=sys.stderr)
            report()
            return 2

        migration_keys = {dedupe_key(normalise(s)) for _, s in migrations}
        foreign_re = (
            re.compile(r"(?<![\w.])[`\"]?(?:" + "|".join(map(re.escape, sorted(foreign_dbs)))
                       + r")[`\"]?\s*\.\s*[`\"]?[A-Za-z_]")
            if foreign_dbs else None
        )
        seen: set[str] = set()
        skipped = duplicates = 0
        for entry in logged:
            if entry.database and not is_project_db(entry.database):
                skipped += 1
                if args.verbose:
                    print(f"skip [database {entry.database}] {shorten(entry.query, 160)}")
                continue
            sql = normalise(entry.query)
            key = dedupe_key(sql)
            if not key or key in seen:
                duplicates += 1
                continue
            seen.add(key)
            plan = classify(sql, bookkeeping, migration_keys)
            if plan.action == "run" and ((foreign_re and foreign_re.search(sql)) or names_foreign_db(sql)):
                plan = Plan("skip", reason="names a database other than sendops/sendops_test_*")
            if plan.action == "skip":
                skipped += 1
                if args.verbose:
                    print(f"skip [{plan.reason}] {shorten(' '.join(sql.split()), 160)}")
                continue
            origin = "query_log" if plan.sql == sql else f"query_log, {plan.reason}: {shorten(sql, 300)}"
            run(sess, origin, plan.sql)
        print(f"chdb_check: {len(logged)} logged statements since {args.since}: "
              f"{duplicates} duplicates, {skipped} skipped (DDL/system/bookkeeping/other database)",
              file=sys.stderr)
        for node in args.node:
            try:
                logged, _ = fetch_logged(node, args.since)
            except RuntimeError as e:
                print(f"chdb_check: cannot read the query log of {node}: {e}", file=sys.stderr)
                report()
                return 2
            ran = parsed = skipped = 0
            for entry in logged:
                sql = normalise(entry.query)
                how, sql = cluster_plan(sql)
                key = dedupe_key(sql)
                if not key or key in seen:
                    continue
                seen.add(key)
                if SYSTEM_TABLE_RE.search(sql) or bookkeeping.search(sql) or names_foreign_db(sql):
                    skipped += 1
                    continue
                if how == "parse":
                    parsed += 1
                    run(sess, f"cluster node {node}, parsed", f"EXPLAIN AST {sql}")
                    continue
                plan = classify(sql, bookkeeping, migration_keys)
                if plan.action == "skip":
                    skipped += 1
                    continue
                ran += 1
                origin = f"cluster node {node}" if plan.sql == sql else \
                    f"cluster node {node}, {plan.reason}: {shorten(sql, 300)}"
                run(sess, origin, plan.sql)
            print(f"chdb_check: {node}: {len(logged)} logged statements, {ran} new ones run, "
                  f"{parsed} parsed only (cluster DDL, remote()), {skipped} skipped",
                  file=sys.stderr)
        return report()
    finally:
        sess.close()


if __name__ == "__main__":
    sys.exit(main())
