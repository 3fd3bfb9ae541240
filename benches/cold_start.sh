#!/usr/bin/env bash
# First request after a restart vs warm (issue 13 item 4), on the reports bench database
# (benches/reports.sh loads it): starts a fresh release sendops-api (default background
# preparation: its first pass prefills the breakdown and engaged indexes), waits for that pass to
# log "engaged index prefilled", then times the first request of each report and 40 warm ones.
#   BENCH_DB (default sendops_bench_reports), BENCH_PORT (default 18099)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
db=${BENCH_DB:-sendops_bench_reports}
port=${BENCH_PORT:-18099}
# shellcheck disable=SC1091
source .local/bench-reports.env
cargo build --release -q -p sendops-query-api
log=$(mktemp)
t0=$(date +%s.%N)
CLICKHOUSE_DATABASE=$db SENDOPS_API_ADDR=127.0.0.1:$port RUST_LOG=info,sendops_query_api=debug \
  SENDOPS_PROVIDER_REFRESH_SECONDS=0 SENDOPS_REPUTATION_EVALUATE_SECONDS=0 \
  "$CARGO_TARGET_DIR/release/sendops-api" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 1500); do grep -q 'engaged index prefilled' "$log" && break; sleep 0.2; done
echo "background prefill done $(echo "$(date +%s.%N) - $t0" | bc) s after start"
python3 - "$port" "$key" <<'PY'
import http.client, random, sys, time
from datetime import datetime, timedelta, timezone
port, key = int(sys.argv[1]), sys.argv[2]
conn = http.client.HTTPConnection("127.0.0.1", port)
now = datetime.now(timezone.utc)
rng = random.Random(3)
def fmt(t): return t.strftime("%Y-%m-%dT%H:%M:%SZ")
def q(path, days, extra):
    if path == "/v1/reputation":
        return f"{path}?window_days={days}"
    to = now - timedelta(seconds=rng.randrange(0, 86400))
    frm = to - timedelta(days=days) + timedelta(seconds=rng.randrange(0, 3600))
    return f"{path}?from={fmt(frm)}&to={fmt(to)}{extra}"
def get(u):
    t = time.perf_counter()
    conn.request("GET", u, headers={"Authorization": f"Bearer {key}"})
    r = conn.getresponse(); r.read()
    assert r.status == 200, (r.status, u)
    return (time.perf_counter() - t) * 1000
series = [("/v1/reports/template-performance", 30, ""), ("/v1/reports/template-performance", 90, ""),
          ("/v1/reports/deliverability", 30, "&group_by=day"), ("/v1/reports/engagement", 30, "&group_by=day"),
          ("/v1/reports/breakdown", 30, "&dimension=mailbox_provider"), ("/v1/reports/breakdown", 30, "&dimension=recipient_domain"),
          ("/v1/reputation", 7, ""), ("/v1/reputation", 30, "")]
firsts = [get(q(*s)) for s in series]
for s, f in zip(series, firsts):
    warm = sorted(get(q(*s)) for _ in range(40))
    print(f"{s[0]}{s[2]:30} {s[1]:3}d first {f:7.1f} ms  warm p50 {warm[20]:6.1f} ms  max {warm[-1]:6.1f} ms  first/max {f / warm[-1]:.1f}x")
PY
