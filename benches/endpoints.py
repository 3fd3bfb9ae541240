#!/usr/bin/env python3
"""Latency of API endpoints over one keep-alive connection, and of the same SQL sent straight to
ClickHouse (benches/scale.sh; usable alone).

    endpoints.py --api URL --key KEY --paths FILE [--requests N] [--first-only]
                 [--direct NAME,... --org-id UUID] [--clickhouse URL] [--database DB]

FILE holds one scenario per line: `name<TAB>path`, several lines per name (the requests cycle
through a scenario's paths). For each scenario: one untimed warm-up request, then N timed
requests; prints p50/p90/p99/max in ms and non-2xx count as one JSON line per scenario.

--direct NAME,...: for those scenarios, also the same SQL sent straight to ClickHouse. Each of
the scenario's paths is requested once more alone, the statements the API issued for it are read
back from system.query_log (every query that started during that request: the API is the only
client, one request at a time), then each request's statements are re-sent straight to
ClickHouse over one keep-alive connection, one after the other (where the API overlaps
statements, this is slower than the API: compare endpoints that issue one or two). The two are
timed side by side on the same (first 20) paths: alternating blocks of one API request per path
and one re-sent statement set per path, about N of each, so both read equally warm data. Their
percentiles are printed as api_same_paths_* and direct_*, with the statements of the first path.
"""
import argparse
import collections
import http.client
import json
import statistics
import sys
import time
import urllib.parse


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary(name, times, bad, extra=None):
    out = {"scenario": name, "requests": len(times),
           "p50_ms": round(pct(times, 50), 2), "p90_ms": round(pct(times, 90), 2),
           "p99_ms": round(pct(times, 99), 2), "max_ms": round(max(times), 2), "non_2xx": bad}
    if extra:
        out.update(extra)
    return out


class Connection:
    """One keep-alive HTTP connection to `url` (default_port when the URL names none)."""

    def __init__(self, url, default_port, timeout):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = u.hostname, u.port or default_port, timeout
        self.connect()

    def connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)


class Api(Connection):
    def __init__(self, url, key):
        super().__init__(url, 80, 120)
        self.key = key

    def get(self, path):
        t0 = time.perf_counter()
        for attempt in range(2):
            try:
                self.conn.request("GET", path, headers={"Authorization": f"Bearer {self.key}"})
                resp = self.conn.getresponse()
                body = resp.read()
                break
            except (http.client.HTTPException, ConnectionError):
                if attempt:
                    raise
                self.conn.close()
                self.connect()
                t0 = time.perf_counter()
        return resp.status, body, (time.perf_counter() - t0) * 1000


class ClickHouse(Connection):
    def __init__(self, url, database):
        super().__init__(url, 8123, 300)
        self.database = database

    def query(self, sql, database=None):
        qs = urllib.parse.urlencode({"database": database or self.database})
        self.conn.request("POST", f"/?{qs}", body=sql.encode())
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"ClickHouse {resp.status}: {body[:300]!r}")
        return body


def statements_during(ch, t_start, t_end, org_id):
    """The statements naming `org_id` that started in [t_start, t_end] (unix seconds), in start
    order (every per-org statement names its org; other clients of the server are left out)."""
    rows = ch.query(
        "SELECT query FROM system.query_log WHERE type = 1 AND event_date >= yesterday() "
        f"AND query_start_time >= toDateTime({int(t_start)}) AND query_start_time <= toDateTime({int(t_end)}) "
        f"AND position(query, '{org_id}') > 0 "
        "AND query NOT LIKE '%system.query_log%' AND query NOT LIKE 'INSERT%' "
        "ORDER BY query_start_time FORMAT JSONEachRow", database="system")
    return [json.loads(line)["query"] for line in rows.decode().splitlines() if line]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--paths", required=True)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--direct", default="")
    ap.add_argument("--clickhouse", default="http://127.0.0.1:8123")
    ap.add_argument("--database", default="default")
    ap.add_argument("--org-id", default="", help="the org's UUID (to find its statements; --direct)")
    ap.add_argument("--first-only", action="store_true",
                    help="time only the first request of each scenario (cold start)")
    args = ap.parse_args()

    scenarios = collections.OrderedDict()
    with open(args.paths) as f:
        for line in f:
            if line.strip():
                name, path = line.rstrip("\n").split("\t", 1)
                scenarios.setdefault(name, []).append(path)

    api = Api(args.api, args.key)
    direct = {n for n in args.direct.split(",") if n}
    for name, paths in scenarios.items():
        if args.first_only:
            status, _, ms = api.get(paths[0])
            print(json.dumps({"scenario": name, "first_ms": round(ms, 2), "status": status}), flush=True)
            continue
        api.get(paths[0])
        times, bad = [], 0
        for i in range(args.requests):
            status, _, ms = api.get(paths[i % len(paths)])
            times.append(ms)
            bad += status // 100 != 2
        extra = None
        if name in direct:
            ch = ClickHouse(args.clickhouse, args.database)
            per_path = []
            for path in paths[: min(len(paths), 20)]:
                time.sleep(1.2)  # this request starts in a later second than the last one ended
                t0 = time.time()
                api.get(path)
                t1 = time.time()
                per_path.append((t0, t1))
            time.sleep(8.5)  # the query log is flushed every 7.5 s by default
            statements = []
            for t0, t1 in per_path:
                statements.append(statements_during(ch, t0, t1, args.org_id))
            if not any(statements):
                extra = {"direct": "no statements found in system.query_log"}
            else:
                # Side by side on the same paths: blocks of the API and of its statements sent
                # straight to ClickHouse, alternated, so both read the same data equally warm
                # (the timed run above cycles over every path; this uses the first 20).
                sample = paths[: len(statements)]
                for sql in statements[0]:  # warm-up
                    ch.query(sql)
                atimes, dtimes = [], []
                rounds = max(1, args.requests // len(statements))
                for r in range(rounds):
                    for turn in ((0, 1) if r % 2 == 0 else (1, 0)):
                        for i, stmts in enumerate(statements):
                            t0 = time.perf_counter()
                            if turn == 0:
                                api.get(sample[i])
                            else:
                                for sql in stmts:
                                    ch.query(sql)
                            (atimes if turn == 0 else dtimes).append((time.perf_counter() - t0) * 1000)
                extra = {"same_paths": len(sample),
                         "api_same_paths_p50_ms": round(pct(atimes, 50), 2),
                         "api_same_paths_p99_ms": round(pct(atimes, 99), 2),
                         "direct_p50_ms": round(pct(dtimes, 50), 2),
                         "direct_p99_ms": round(pct(dtimes, 99), 2),
                         "statements_per_request": round(statistics.mean(len(s) for s in statements), 1),
                         "sql": statements[0]}
        print(json.dumps(summary(name, times, bad, extra)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
