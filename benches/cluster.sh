#!/usr/bin/env bash
# Ingest throughput and API latency on the local ClickHouse cluster beside the single server
# (issue 17; figures in benches/README.md "On a cluster"). Same box, same file, same requests:
# the cluster (2 shards × 2 replicas, ZooKeeper, all on this machine) cannot be faster here; the
# figure is the cost of replication, synchronous Distributed inserts and distributed DDL.
#   CLUSTER_BENCH_MESSAGES  generated messages (default 80000, ~210 K events)
#   CLUSTER_BENCH_REQUESTS  timed requests per scenario (default 200)
#   CLUSTER_BENCH_ORDER     default "single cluster"
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
bin=$CARGO_TARGET_DIR/release
messages=${CLUSTER_BENCH_MESSAGES:-80000}
requests=${CLUSTER_BENCH_REQUESTS:-200}
db=sendops_bench_cluster
port=${CLUSTER_BENCH_PORT:-18089}
single=${SENDOPS_SINGLE_URL:-http://127.0.0.1:8123}
py=$(pyenv_bin)/python

log() { printf 'bench: %s\n' "$*" >&2; }

scripts/clickhouse.sh start
scripts/cluster.sh start
node1=$(scripts/cluster.sh urls | sed -n 1p)
cargo build --release --bins -p sendops-fixtures -p sendops-ingest -p sendops-admin -p sendops-query-api

work=$(mktemp -d "${TMPDIR:-/tmp}/sendops-bench-cluster.XXXXXX")
api_pid=
cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
  curl -fsS "$single/" --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null || true
  curl -fsS "$node1/" --data-binary "DROP DATABASE IF EXISTS $db ON CLUSTER sendops" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

end=2026-11-20T00:00:00Z
log "generating the input (not timed)"
"$bin/sendops-gen" --messages "$messages" --days 30 --seed 1 --end "$end" \
  --account 123456789012 --envelope sns --out "$work/sns.ndjson" 2>"$work/gen.json"
events=$(jq -r .events "$work/gen.json")

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# target: single | cluster. Sets CLICKHOUSE_* for the binaries.
bench() {
  local target=$1
  if [ "$target" = cluster ]; then
    export CLICKHOUSE_URL=$node1 CLICKHOUSE_CLUSTER=sendops
    curl -fsS "$node1/" --data-binary "DROP DATABASE IF EXISTS $db ON CLUSTER sendops" >/dev/null
  else
    export CLICKHOUSE_URL=$single
    unset CLICKHOUSE_CLUSTER
    curl -fsS "$single/" --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null
  fi
  export CLICKHOUSE_DATABASE=$db
  local t0 t1
  t0=$(date +%s.%N)
  "$bin/sendops-admin" migrate >/dev/null 2>"$work/migrate.$target.log"
  t1=$(date +%s.%N)
  local migrate_s; migrate_s=$(echo "$t1 - $t0" | bc)
  "$bin/sendops-admin" org create --name Bench --slug bench --aws-account 123456789012 --plan enterprise >/dev/null
  local key
  key=$("$bin/sendops-admin" key create --org bench --env live --name bench \
    --scopes api.messages.view,api.messages.unmask_recipients,analytics.search.recipients,api.reports.view,api.undeliverable.view |
    jq -r .key)
  # No rate limit in the way of the measurement.
  lift_rate_limit bench 1000000 >/dev/null
  log "$target: replaying $events events (load $(loadavg))"
  t0=$(date +%s.%N)
  "$bin/sendops-ingest" replay "$work/sns.ndjson" >"$work/replay.$target.json" 2>"$work/replay.$target.log"
  t1=$(date +%s.%N)
  local secs stored
  secs=$(echo "$t1 - $t0" | bc)
  stored=$(ch_db "SELECT uniqExact(event_id) FROM events")
  printf '{"target":"%s","migrate_s":%.1f,"events":%s,"replay_s":%.1f,"events_per_s":%.0f,"load":"%s"}\n' \
    "$target" "$migrate_s" "$stored" "$secs" "$(echo "$stored / $secs" | bc -l)" "$(loadavg)"

  SENDOPS_API_ADDR=127.0.0.1:$port "$bin/sendops-api" >"$work/api.$target.log" 2>&1 &
  api_pid=$!
  wait_for_api "http://127.0.0.1:$port" || true
  local now paths=$work/paths.$target t i
  now=$(date -d "$end" +%s)
  : >"$paths"
  get() { curl -fsS -H "Authorization: Bearer $key" "http://127.0.0.1:$port$1"; }
  for i in $(seq 1 50); do
    t=$((now - (i * 7919 % 29) * 86400 - i * 613))
    printf 'messages\t/v1/messages?to=%s\n' "$(iso "$t")" >>"$paths"
  done
  get "/v1/messages?limit=100&to=$(iso $((now - 10 * 86400)))" >"$work/msgs.$target"
  jq -r '.data[].id' "$work/msgs.$target" | sed -n 1,50p | sed 's|^|detail\t/v1/messages/|' >>"$paths"
  jq -r '.data[].id' "$work/msgs.$target" | sed -n 1,50p | sed 's|^|timeline\t/v1/messages/|; s|$|/events|' >>"$paths"
  jq -r '.data[].to // empty' "$work/msgs.$target" | sed -n 1,50p |
    "$py" -c 'import sys,urllib.parse; [print("recipient\t/v1/recipients/" + urllib.parse.quote(l.strip(), safe="") + "/messages") for l in sys.stdin if l.strip()]' >>"$paths"
  for report in deliverability engagement; do
    for i in $(seq 1 50); do
      t=$((now - i * 1723))
      printf '%s\t/v1/reports/%s?from=%s&to=%s\n' "$report" "$report" "$(iso $((t - 30 * 86400)))" "$(iso "$t")" >>"$paths"
    done
  done
  echo "undeliverable	/v1/undeliverable?limit=50" >>"$paths"
  "$py" benches/endpoints.py --api "http://127.0.0.1:$port" --key "$key" --paths "$paths" \
    --requests "$requests" | sed "s/^{/{\"target\": \"$target\", /"
  kill "$api_pid"; wait "$api_pid" 2>/dev/null || true; api_pid=
}

echo "== cluster bench: $events events, $requests requests per scenario, $(nproc) cores, load $(loadavg)"
# CLUSTER_BENCH_ORDER="cluster single" runs the cluster first (load drifts hit both orders).
for target in ${CLUSTER_BENCH_ORDER:-single cluster}; do bench "$target"; done
