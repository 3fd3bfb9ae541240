#!/usr/bin/env bash
# Report latency with 10 M events over 90 days (3 channels, 20 templates, 5 sending domains),
# through the real HTTP server.
#
#   benches/reports.sh                 load (if the scratch database is missing) and measure
#   BENCH_RELOAD=1 benches/reports.sh  drop the scratch database and load again
#   BENCH_DROP=1 benches/reports.sh    drop the scratch database afterwards (default: kept)
#   BENCH_ONLY=template-performance benches/reports.sh   only the reports whose path contains it
#
# 1. Builds sendops-api and sendops-admin (release), migrates a scratch database ($BENCH_DB,
#    default sendops_bench_reports), creates an enterprise org, a key with api.reports.view, and
#    lifts the org's rate limit (a row version of `orgs` with an override).
# 2. Loads 10 M synthetic event rows straight into `events` with INSERT … SELECT in 10 blocks, so
#    the materialized views (report rollup, message projection, indexes) do the same work as on
#    ingest: per 100 rows 38 Send, 36 Delivery, 1 Bounce, 1 Reject, 19 Open, 4 Click, 1 Complaint;
#    event times spread over the last 90 days; 2 M distinct recipients, 60 % at five consumer
#    domains and the rest over 20,000 company domains; bounces with six kinds of diagnostic.
#    Then OPTIMIZE … FINAL.
# 3. Starts sendops-api and times, over one keep-alive connection (Python http.client), each
#    report over 30 and 90 days with day and week buckets (template performance has no buckets),
#    BENCH_REQUESTS requests each (default 200) with window edges at random seconds, so every
#    request reads different partial edge days. Each series starts without day seals
#    (`report_day_seals`/`report_day_counts`) and with an empty `report_uniques_days` (the cache of
#    whole past days' distinct counts), so its first request counts every day from `events` and
#    `engaged`: that extra request is printed as `first`, and the
#    percentiles are over the BENCH_REQUESTS requests after it. Prints p50/p90/p99/max/first.
#    Then the breakdown by mailbox provider and by recipient domain (first page of 50) over 30
#    days, and the reputation report (7 and 30 days), each series starting without breakdown
#    seals (report seals kept). They are counted from sendops-api's in-process breakdown index,
#    so the first such request of the (freshly started) process waits for the index to load the
#    window's days (the background prefill's load or its own): that is its `first`.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
use_local_clickhouse
db=${BENCH_DB:-sendops_bench_reports}
state=.local/bench-reports.env
export CLICKHOUSE_DATABASE=$db
port=${BENCH_PORT:-18098}
requests=${BENCH_REQUESTS:-200}
rows=${BENCH_ROWS:-10000000}

scripts/clickhouse.sh start
cargo build --release -q -p sendops-admin -p sendops-query-api
admin=$CARGO_TARGET_DIR/release/sendops-admin
api=$CARGO_TARGET_DIR/release/sendops-api
mkdir -p .local

if [ "${BENCH_RELOAD:-0}" = 1 ] || [ ! -f "$state" ] || ! database_exists "$db"; then
  echo "== loading $rows events into $db"
  new_bench_org "$admin" 888888888888 enterprise api.reports.view 100000000
  channels=$(python3 -c "
import uuid
org = uuid.UUID('$org_id')
print(','.join(\"toUUID('%s')\" % uuid.uuid5(org, n) for n in ['transactional', 'marketing', 'alerts']))")
  now=$(date +%s%3N)
  span=$((90 * 86400000))
  block=$((rows / 10))
  start=$(date +%s)
  for b in $(seq 0 9); do
    ch_db "INSERT INTO events (org_id, day, event_id, occurred_ms, event_type, message_id, sent_ms, recipient, source, sender,
          sender_domain, channel, channel_id, template, subject, destination, bounce_type, bounce_sub_type, diagnostic,
          ingested_ms, ses_account)
        SELECT toUUID('$org_id'), toDate(toDateTime(intDiv(ts, 1000))), generateUUIDv4(), ts,
          multiIf(t < 38, 'Send', t < 74, 'Delivery', t < 75, 'Bounce', t < 76, 'Reject', t < 95, 'Open', t < 99, 'Click', 'Complaint'),
          concat('m', toString(intDiv(n, 3))), ts - 1000, r, concat('Ops <ops@', dom, '>'), concat('ops@', dom),
          dom, ['transactional', 'marketing', 'alerts'][n % 3 + 1], [$channels][n % 3 + 1],
          concat('template-', toString(n % 20)), 'Hello', [r],
          if(t = 74, if(n % 7 = 0, 'Transient', 'Permanent'), ''), if(t = 74, 'General', ''),
          if(t = 74, ['smtp; 550 5.1.1 user unknown', 'smtp; 552 5.2.2 mailbox full', 'smtp; 550 5.7.1 blocked using spamhaus',
                      'smtp; 421 4.7.0 try again later', 'smtp; 554 5.4.4 unable to route', 'smtp; 550 rejected'][n % 6 + 1], ''),
          $now, '888888888888'
        FROM (SELECT number + $((b * block)) AS n, n % 100 AS t,
                     $now - toInt64(cityHash64(n) % $span) AS ts,
                     cityHash64(n, 7) % 2000000 AS u,
                     concat('u', toString(u), '@', multiIf(u % 100 < 30, 'gmail.com', u % 100 < 40, 'yahoo.com',
                       u % 100 < 50, 'outlook.com', u % 100 < 55, 'hotmail.com', u % 100 < 60, 'icloud.com',
                       concat('corp', toString(u % 20000), '.example'))) AS r,
                     concat('d', toString(n % 5), '.example') AS dom
              FROM system.numbers LIMIT $block)" >/dev/null
    printf '.'
  done
  echo
  echo "loaded in $(( $(date +%s) - start )) s; merging parts"
  # Rows inserted here bypass the pipeline, which counts every day it writes (day_changes):
  # count them as it would, so reports see these days.
  ch_db "INSERT INTO day_changes SELECT org_id, day, toUInt64(1) FROM events GROUP BY org_id, day" >/dev/null
  for t in events messages; do ch_db "OPTIMIZE TABLE $t FINAL" >/dev/null || true; done
  printf 'key=%s\n' "$key" >"$state"
fi
# shellcheck disable=SC1090
. "$state"
echo "== $(ch_db "SELECT count() FROM events") events, $(ch_db "SELECT count() FROM day_changes") counted days"

log=$(mktemp)
SENDOPS_API_ADDR=127.0.0.1:$port RUST_LOG=warn "$api" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; [ "${BENCH_DROP:-0}" = 1 ] && drop_database "$db"; true' EXIT
wait_for_api "http://127.0.0.1:$port" || true

python3 - "$port" "$key" "$requests" "$CLICKHOUSE_URL" "$db" "${BENCH_ONLY:-}" <<'PY'
import http.client, json, random, sys, time, urllib.request
from datetime import datetime, timedelta, timezone
port, key, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ch_url, db, only = sys.argv[4], sys.argv[5], sys.argv[6]
def clear_cache(path):
    # Each mix starts with no day seals and no cached per-day distinct counts of its own, so its
    # first request pays for them (a breakdown mix keeps the report seals: clearing them would
    # make the API's background preparation re-seal 90 days during the measurement).
    breakdown = "breakdown" in path or "reputation" in path
    tables = (b"breakdown_day_seals", b"breakdown_day_counts") if breakdown else (b"report_uniques_days", b"report_day_seals", b"report_day_counts", b"breakdown_day_seals", b"breakdown_day_counts")
    for t in tables:
        urllib.request.urlopen(urllib.request.Request(f"{ch_url}/?database={db}", data=b"TRUNCATE TABLE " + t)).read()
conn = http.client.HTTPConnection("127.0.0.1", port)
rng = random.Random(1)
now = datetime.now(timezone.utc)
def fmt(t): return t.strftime("%Y-%m-%dT%H:%M:%SZ")
def run(path, days, group, extra=None):
    if only not in path:
        return
    clear_cache(path)
    times = []
    for _ in range(n + 1):
        to = now - timedelta(seconds=rng.randrange(0, 86400))
        frm = to - timedelta(days=days) + timedelta(seconds=rng.randrange(0, 3600))
        if extra is None:
            q = f"{path}?from={fmt(frm)}&to={fmt(to)}" + (f"&group_by={group}" if group else "")
        elif extra.startswith("window_days"):
            q = f"{path}?{extra}"
        else:
            q = f"{path}?from={fmt(frm)}&to={fmt(to)}&{extra}"
        t0 = time.perf_counter()
        conn.request("GET", q, headers={"Authorization": f"Bearer {key}"})
        r = conn.getresponse(); body = r.read()
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status == 200, (r.status, body[:300])
    # The first request fills the cache (its cost is printed as `first`); the others are the
    # steady state, since the cache is shared by every API process and outlives them.
    first = times.pop(0)
    times.sort()
    pct = lambda p: times[min(len(times) - 1, int(p * len(times)))]
    doc = json.loads(body)
    rows = len(doc["data"]) if "data" in doc else len(doc["channels"])
    label = path + (f"?{extra}" if extra else "")
    print(f"{label:58} {days:3}d {group or '-':5} p50 {pct(0.5):6.1f} ms  p90 {pct(0.9):6.1f} ms  p99 {pct(0.99):6.1f} ms  max {times[-1]:6.1f} ms  first {first:6.1f} ms  ({rows} rows)")
for path in ["/v1/reports/deliverability", "/v1/reports/engagement"]:
    for days in (30, 90):
        for group in ("day", "week"):
            run(path, days, group)
for days in (30, 90):
    run("/v1/reports/template-performance", days, None)
for dim in ("mailbox_provider", "recipient_domain"):
    run("/v1/reports/breakdown", 30, None, f"dimension={dim}")
for days in (7, 30):
    run("/v1/reputation", days, None, f"window_days={days}")
PY
if grep -q ERROR "$log"; then echo "sendops-api logged errors:"; grep ERROR "$log" | head; exit 1; fi
