#!/usr/bin/env bash
# Undeliverable list latency with 1 M distinct failing recipients, through the real HTTP server.
#
#   benches/undeliverable.sh                  load (when the scratch database is missing), measure
#   BENCH_RELOAD=1 benches/undeliverable.sh   drop the scratch database and load it again
#   BENCH_DROP=1 …                            drop the scratch database at the end (default: keep)
#   BENCH_REQUESTS=N …                        requests per scenario (default 300)
#
# 1. Builds sendops-api and sendops-admin (release), migrates a scratch database
#    ($BENCH_DB, default sendops_bench_undeliverable), creates a pro org (90 days), a key with
#    api.undeliverable.view, lifts the org's rate limit, and sets the strict rule profile.
# 2. Loads synthetic SES failure rows straight into `events` with INSERT … SELECT (so the
#    materialized views do the same work as on ingest): 1 M recipients with one event each,
#    plus 250 K second and 187.5 K further events on repeat failers (1.44 M rows); types
#    45 % permanent, 20 % transient, 8 % undetermined, 7 % complaint, 5 % reject, 15 % delay;
#    event times spread over 90 days; ingest times 1–120 s later (3 % hours to days late; an
#    ingest time that would fall after the load is spread over its last minute);
#    plus 2 000 operator exclusions. Then merges the parts (OPTIMIZE … FINAL).
# 3. Starts sendops-api and times, over one keep-alive connection (Python http.client):
#    - first page: GET /v1/undeliverable?limit=L, L ∈ {20, 50, 100}, 300 requests;
#    - since-poll page: GET /v1/undeliverable?since=S&limit=50 with S 1 h–30 days back,
#      then 0–2 further pages through next_cursor; the timed request is the last page; 300.
#    Prints p50/p90/p99/max per scenario, and the time a full-org rule change takes.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
use_local_clickhouse
db=${BENCH_DB:-sendops_bench_undeliverable}
port=${BENCH_PORT:-18099}
requests=${BENCH_REQUESTS:-300}

scripts/clickhouse.sh start >/dev/null
cargo build --release -q -p sendops-query-api -p sendops-admin
admin="$CARGO_TARGET_DIR/release/sendops-admin"
api="$CARGO_TARGET_DIR/release/sendops-api"
export CLICKHOUSE_DATABASE=$db
state=".local/bench-undeliverable.env"
mkdir -p .local

if [ "${BENCH_RELOAD:-0}" = 1 ]; then
  drop_database "$db"
  rm -f "$state"
fi

if [ ! -f "$state" ] || ! database_exists "$db"; then
  echo "== loading $db"
  # No rate limit in the way of the measurement.
  new_bench_org "$admin" 999999999999 pro api.undeliverable.view 1000000
  SENDOPS_ACTOR=bench "$admin" rules set --org bench --profile strict >/dev/null
  now=$(date +%s%3N)
  day=86400000
  email="concat('r', toString(n), '@d', toString(n % 1000), '.example')"
  # k: which event of the recipient (0: everyone, 1: n % 4 = 0, 2-4: n % 16 = 0).
  load() {
    local k=$1 filter=$2 from=$3 count=$4
    ch_db "INSERT INTO events (org_id, day, event_id, occurred_ms, event_type, message_id, sent_ms, recipient, source, sender, sender_domain, bounce_type, bounce_sub_type, diagnostic, feedback_type, ses_account, ingested_ms)
      SELECT toUUID('$org_id'), toDate(toDateTime(intDiv(at, 1000))), generateUUIDv4(), at,
        CAST(multiIf(r < 73, 'Bounce', r < 80, 'Complaint', r < 85, 'Reject', 'DeliveryDelay') AS Enum8('Send' = 1, 'Delivery' = 2, 'Bounce' = 3, 'Complaint' = 4, 'Reject' = 5, 'Open' = 6, 'Click' = 7, 'DeliveryDelay' = 8, 'RenderingFailure' = 9, 'Subscription' = 10)),
        concat('bench-', toString(n), '-', toString($k)), at - 1000, $email,
        'Acme <ops@acme.example>', 'ops@acme.example', 'acme.example',
        multiIf(r < 45, 'Permanent', r < 65, 'Transient', r < 73, 'Undetermined', ''),
        multiIf(r < 45, 'General', r < 65, 'MailboxFull', ''),
        if(r < 65 OR r >= 85, concat('smtp; 550 5.1.1 code ', toString(r)), ''),
        if(r >= 73 AND r < 80, 'abuse', ''), '999999999999',
        if(late > $now, $now - 60000 + toInt64(h % 60000), late)
      FROM (
        SELECT n, cityHash64(n, $k) AS h, h % 100 AS r,
          $now - 60000 - toInt64(cityHash64(n, $k, 7) % (90 * $day)) AS at,
          at + 1000 + toInt64(h % 120000) + if(h % 100 < 3, toInt64(h % (3 * $day)), 0) AS late
        FROM (SELECT number AS n FROM system.numbers LIMIT $from, $count)
        WHERE $filter
      )"
  }
  start=$(date +%s)
  for from in 0 250000 500000 750000; do load 0 1 "$from" 250000; done
  load 1 "n % 4 = 0" 0 1000000
  for k in 2 3 4; do load "$k" "n % 16 = 0" 0 1000000; done
  # 2 000 exclusions, as sendops-admin exclusion add writes them (exclusion + activity rows).
  xs="SELECT n, $email AS e, $now - 30000 - toInt64(cityHash64(n, 'x') % (90 * $day)) AS x FROM (SELECT number * 499 AS n FROM system.numbers LIMIT 2000)"
  ch_db "INSERT INTO undeliverable_exclusions SELECT generateUUIDv4(), toUUID('$org_id'), e, x, 'ops@acme.example', 'bench' FROM ($xs)"
  ch_db "INSERT INTO undeliverable_activity SELECT toUUID('$org_id'), x, e, CAST('exclusion' AS Enum8('permanent' = 1, 'transient' = 2, 'undetermined' = 3, 'complaint' = 4, 'reject' = 5, 'delay' = 6, 'rule_change' = 7, 'exclusion' = 8)) FROM ($xs)"
  echo "loaded in $(( $(date +%s) - start )) s: $(ch_db "SELECT count() FROM events") events, $(ch_db "SELECT uniqExact(recipient) FROM events") recipients"
  start=$(date +%s)
  for t in undeliverable_history undeliverable_activity undeliverable_exclusions; do ch_db "OPTIMIZE TABLE $t FINAL"; done
  echo "merged in $(( $(date +%s) - start )) s"
  printf 'org_id=%s\nkey=%s\n' "$org_id" "$key" > "$state"
fi
# shellcheck disable=SC1090
. "$state"
echo "== $db: $(ch_db "SELECT count() FROM undeliverable_history") history rows, $(ch_db "SELECT uniqExact(okey) FROM undeliverable_history") addresses, parts: $(ch_db "SELECT table, count() FROM system.parts WHERE database = '$db' AND active AND table LIKE 'undeliverable%' GROUP BY table ORDER BY table FORMAT CSV" | tr '\n' ' ')"

SENDOPS_API_ADDR=127.0.0.1:$port RUST_LOG=warn "$api" &
api_pid=$!
trap 'kill $api_pid 2>/dev/null || true' EXIT
wait_for_api "http://127.0.0.1:$port" 50 || true

python3 - "$port" "$key" "$requests" <<'EOF'
import http.client, json, random, sys, time
from datetime import datetime, timedelta, timezone
port, key, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port)
def get(path):
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": "Bearer " + key})
    r = conn.getresponse()
    body = r.read()
    dt = (time.perf_counter() - t0) * 1000
    assert r.status == 200, (r.status, body[:300])
    return dt, json.loads(body)
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
def report(name, xs, rows):
    print(f"{name:<16} n={len(xs)}  p50={pct(xs,50):6.1f} ms  p90={pct(xs,90):6.1f} ms  "
          f"p99={pct(xs,99):6.1f} ms  max={max(xs):6.1f} ms  rows/page={rows / len(xs):.1f}")
random.seed(7)
for _ in range(20):
    get("/v1/undeliverable?limit=50")
first, rows = [], 0
for _ in range(n):
    dt, body = get(f"/v1/undeliverable?limit={random.choice([20, 50, 100])}")
    first.append(dt); rows += len(body["data"])
report("first page", first, rows)
polls, rows = [], 0
now = datetime.now(timezone.utc)
for _ in range(n):
    since = (now - timedelta(seconds=random.uniform(3600, 30 * 86400))).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = f"/v1/undeliverable?since={since}&limit=50"
    dt, body = get(path)
    for _ in range(random.randint(0, 2)):
        c = body["pagination"]["next_cursor"]
        if not c:
            break
        dt, body = get(path + "&cursor=" + c)
    polls.append(dt); rows += len(body["data"])
report("since-poll page", polls, rows)
EOF

echo "== a full-org rule change (compares every soft-failing address under both rule sets)"
/usr/bin/time -f "rules set --profile standard: %e s, %M KB max RSS" "$admin" rules set --org bench --profile standard | grep rows_changed
/usr/bin/time -f "rules set --profile strict: %e s, %M KB max RSS" "$admin" rules set --org bench --profile strict | grep rows_changed
if [ "${BENCH_DROP:-0}" = 1 ]; then
  drop_database "$db"
  rm -f "$state"
fi
