#!/usr/bin/env bash
# API latency bench (issue 3): ~10 M generated events in a scratch database, the release
# `sendops-api` on loopback, and wrk driving three request mixes, each with varied parameters:
#   first   GET /v1/messages?to=T                      (first page, T varies per request)
#   deep    GET /v1/messages?to=T&cursor=C             (cursors ~100 pages into the list)
#   events  GET /v1/messages/{id}/events               (timelines of varied messages)
# Prints p50/p99 latency and requests/s per mix. Called by scripts/bench.sh; runs alone too.
#
# Environment:
#   SENDOPS_BENCH_KEEP=1          keep the loaded database, and reuse it when it is there (a load
#                                 takes minutes); otherwise it is loaded afresh and dropped
#   SENDOPS_BENCH_API_DB          scratch database (default sendops_bench_api)
#   SENDOPS_BENCH_API_EVENTS      events to load (default 10000000)
#   SENDOPS_BENCH_DURATION        seconds per mix (default 20), after a 3 s warm-up
#   SENDOPS_BENCH_CONNECTIONS     wrk connections (default 4, on 2 wrk threads)
#   SENDOPS_BENCH_API_PORT        loopback port of the API (default 18089)
#   SENDOPS_BENCH_SKIP_BUILD=1    use the release binaries already built
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_local_clickhouse
db=${SENDOPS_BENCH_API_DB:-sendops_bench_api}
case "$db" in
  sendops | sendops_test_*) echo "bench-api: refusing to use database $db" >&2; exit 2 ;;
esac
target_events=${SENDOPS_BENCH_API_EVENTS:-10000000}
duration=${SENDOPS_BENCH_DURATION:-20}
connections=${SENDOPS_BENCH_CONNECTIONS:-4}
port=${SENDOPS_BENCH_API_PORT:-18089}
keep=${SENDOPS_BENCH_KEEP:-0}
bin=$CARGO_TARGET_DIR/release
api="http://127.0.0.1:$port"

log() { printf 'bench-api: %s\n' "$*" >&2; }

scripts/clickhouse.sh start
if [ "${SENDOPS_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --bins -p sendops-fixtures -p sendops-ingest -p sendops-admin -p sendops-query-api
fi
for tool in wrk jq; do
  if ! command -v "$tool" >/dev/null; then
    log "installing $tool (Debian package)"
    apt_install "$tool"
  fi
done

export CLICKHOUSE_DATABASE=$db
work=$(mktemp -d "${TMPDIR:-/tmp}/sendops-bench-api.XXXXXX")
api_pid=""
cleanup() {
  if [ -n "$api_pid" ]; then kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  if [ "$keep" != 1 ]; then ch "DROP DATABASE IF EXISTS \`$db\`" >/dev/null || true; fi
}
trap cleanup EXIT

# ---- data: one big enterprise tenant (85 % of events) and three pro tenants (5 % each) ---------
# Tenants: slug account plan share-of-events seed
tenants=(
  "bench-big 100000000001 enterprise 85 101"
  "bench-a 100000000002 pro 5 102"
  "bench-b 100000000003 pro 5 103"
  "bench-c 100000000004 pro 5 104"
)
loaded=$(ch "SELECT count() FROM system.tables WHERE database = '$db' AND name = 'bench_info'")
if [ "$keep" = 1 ] && [ "$loaded" = 1 ] && [ "$(ch "SELECT count() FROM \`$db\`.bench_info")" = 1 ]; then
  log "reusing the loaded database $db (SENDOPS_BENCH_KEEP=1)"
else
  ch "DROP DATABASE IF EXISTS \`$db\`" >/dev/null
  "$bin/sendops-admin" migrate >/dev/null
  # Sends end at the current minute and spread over the 90 days before it.
  end_s=$(( $(date -u +%s) / 60 * 60 ))
  end=$(date -u -d "@$end_s" +%Y-%m-%dT%H:%M:%SZ)
  load_start=$(date +%s)
  for t in "${tenants[@]}"; do
    read -r slug account plan share seed <<<"$t"
    "$bin/sendops-admin" org create --name "$slug" --slug "$slug" --aws-account "$account" --plan "$plan" >/dev/null
    # ~2.6 SES events per generated message.
    messages=$(( target_events * share / 100 * 10 / 26 ))
    log "loading $slug: $messages messages over 90 days"
    "$bin/sendops-gen" --messages "$messages" --days 90 --seed "$seed" --account "$account" \
      --end "$end" --envelope raw 2>/dev/null | "$bin/sendops-ingest" replay - >"$work/load-$slug.json"
    log "  $(cat "$work/load-$slug.json")"
  done
  ch "CREATE TABLE \`$db\`.bench_info (events UInt64, end_ms Int64, load_seconds UInt32) ENGINE = TinyLog" >/dev/null
  ch "INSERT INTO \`$db\`.bench_info SELECT count(), $end_s * 1000, $(( $(date +%s) - load_start )) FROM \`$db\`.events" >/dev/null
fi
read -r events end_ms load_seconds <<<"$(ch "SELECT events, end_ms, load_seconds FROM \`$db\`.bench_info")"
big_events=$(ch "SELECT count() FROM \`$db\`.events WHERE org_id IN (SELECT id FROM \`$db\`.orgs FINAL WHERE slug = 'bench-big')")
messages_big=$(ch "SELECT count() FROM \`$db\`.message_index WHERE org_id IN (SELECT id FROM \`$db\`.orgs FINAL WHERE slug = 'bench-big')")
log "database $db: $events rows stored ($big_events for bench-big, ~$messages_big messages), loaded in ${load_seconds}s"

# ---- the API, a live key, and no throttling ---------------------------------------------------
"$bin/sendops-admin" org set-rate-limit --org bench-big --per-minute 10000000 >/dev/null
token=$("$bin/sendops-admin" key create --org bench-big --env live --name "bench $(date -u +%FT%TZ)" \
  --scopes messages.view --actor bench | jq -r .key)
export SENDOPS_BENCH_TOKEN=$token
SENDOPS_API_ADDR=127.0.0.1:$port RUST_LOG=warn "$bin/sendops-api" >"$work/api.log" 2>&1 &
api_pid=$!
for i in $(seq 1 300); do
  curl -fsS "$api/v1/_health" >/dev/null 2>&1 && break
  if [ "$i" = 300 ] || ! kill -0 "$api_pid" 2>/dev/null; then
    log "sendops-api did not come up on $api:"; tail -n 20 "$work/api.log" >&2; exit 1
  fi
  sleep 0.1
done
get() { curl -fsS -H "Authorization: Bearer $token" "$api$1"; }

# ---- request mixes ----------------------------------------------------------------------------
# Window ends spread over the last 60 days of the data (default window: 30 days before `to`).
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
ends() { # count seed -> epoch seconds, deterministic
  awk -v n="$1" -v seed="$2" -v end="$((end_ms / 1000))" \
    'BEGIN { srand(seed); for (i = 0; i < n; i++) print int(end - rand() * 60 * 86400) }'
}
for t in $(ends 500 1); do echo "/v1/messages?to=$(iso "$t")"; done >"$work/first.txt"

log "following cursors 100 pages deep from 6 window ends (600 requests)"
: >"$work/deep.txt"
for t in $(ends 6 2); do
  to=$(iso "$t")
  cursor=""
  for page in $(seq 1 100); do
    cursor=$(get "/v1/messages?to=$to&limit=100${cursor:+&cursor=$cursor}" | jq -r '.pagination.next_cursor // empty')
    [ -n "$cursor" ] || break
    # Pages 95-100 (9,500-10,000 messages in) are the deep pages the mix requests (at limit 50).
    if [ "$page" -ge 95 ]; then echo "/v1/messages?to=$to&cursor=$cursor" >>"$work/deep.txt"; fi
  done
done

log "collecting message ids from 40 first pages"
for t in $(ends 40 3); do get "/v1/messages?to=$(iso "$t")" | jq -r '.data[].id'; done |
  sort -u | sed 's|^|/v1/messages/|; s|$|/events|' >"$work/events.txt"

threads=$(( connections < 2 ? connections : 2 ))
run_mix() { # name paths-file
  local name=$1 file=$2 out=$work/wrk-$1.txt
  wrk -t"$threads" -c"$connections" -d3s -s scripts/bench-api.lua "$api" -- "$file" >/dev/null
  wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s scripts/bench-api.lua "$api" -- "$file" >"$out"
  awk -v name="$name" -v paths="$(wc -l <"$file")" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /Requests\/sec/ { rps = $2 } /Non-2xx/ { bad = $NF }
    /requests in/ { total = $1 }
    END { printf "%-7s %6d paths %8d requests %9.1f req/s   p50 %7.1f ms   p99 %7.1f ms   non-2xx %d\n", name, paths, total, rps, p50, p99, bad + 0 }
  ' "$out"
}
echo
echo "== API latency: wrk -t$threads -c$connections, ${duration}s per mix (after 3 s warm-up), $events rows in $db"
echo "   machine: $(nproc) cores, load average $(loadavg) at start"
run_mix first "$work/first.txt"
run_mix deep "$work/deep.txt"
run_mix events "$work/events.txt"
echo "   load average $(loadavg) at end"
if grep -q "Non-2xx" "$work"/wrk-*.txt; then
  log "some requests did not answer 2xx; API log:"; tail -n 20 "$work/api.log" >&2
  exit 1
fi
