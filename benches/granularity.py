#!/usr/bin/env python3
"""One org's first message-list page straight from ClickHouse, on `messages` and on a copy of it
with other granules (benches/README.md, "At 100 M events", session 11).

  benches/granularity.py --database sendops_bench_scale --org-id UUID [--copy messages_g1024]
      [--rounds 60] [--slice-hours 4]

The copy must exist (`CREATE TABLE <copy> AS messages ENGINE = … SETTINGS index_granularity =
1024`, then `INSERT INTO <copy> SELECT * FROM messages`). Each round picks a random day of the
org's range, sends the list statement for a slice ending there to both tables in turn and times
it end to end; prints p50 / p90 / max per table.
"""
import argparse
import random
import time
import urllib.request

PROJECTION = ("message_id, sent_ms, any(channel) AS ch, max(template) AS tpl, any(source) AS src, "
              "max(subject) AS subj, anyMerge(destination) AS dest, argMaxMerge(status) AS st, "
              "maxMerge(last_event_ms) AS last_ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8123")
    ap.add_argument("--database", required=True)
    ap.add_argument("--org-id", required=True)
    ap.add_argument("--copy", default="messages_g1024")
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--slice-hours", type=float, default=4)
    a = ap.parse_args()

    def send(sql):
        req = urllib.request.Request(f"{a.url}/?database={a.database}", data=sql.encode())
        t = time.perf_counter()
        with urllib.request.urlopen(req) as r:
            body = r.read()
        return (time.perf_counter() - t) * 1000, body

    _, span = send(f"SELECT min(sent_ms), max(sent_ms) FROM messages WHERE org_id = '{a.org_id}'")
    first, last = (int(x) for x in span.decode().split())
    days = max(1, (last - first) // 86_400_000)
    rng = random.Random(1)
    times = {"messages": [], a.copy: []}
    for _ in range(a.rounds):
        upper = last - rng.randint(0, days - 1) * 86_400_000
        lower = upper - int(a.slice_hours * 3_600_000)
        for table, out in times.items():
            ms, _ = send(
                f"SELECT {PROJECTION} FROM {table} WHERE org_id = '{a.org_id}' "
                f"AND sent_ms >= {lower} AND sent_ms < {upper} GROUP BY sent_ms, message_id "
                "ORDER BY sent_ms DESC, message_id DESC LIMIT 51 FORMAT RowBinary")
            out.append(ms)
    for table, v in times.items():
        v.sort()
        print(f"{table}: p50 {v[len(v) // 2]:.1f} / p90 {v[int(len(v) * 0.9)]:.1f} / "
              f"max {v[-1]:.1f} ms ({len(v)} statements)")


if __name__ == "__main__":
    main()
