#!/usr/bin/env bash
# Every store-backed endpoint at production shape (issue 13): SCALE_EVENTS generated SES events
# (default 100,000,000) across SCALE_ORGS orgs (default 1,000; the largest holds 10 %, the others
# share the rest equally), spread over 90 days, ingested through `sendops-ingest replay` (SNS-
# wrapped, streamed from `sendops-gen`: no file is written), then measured for the largest org
# and a small one over one keep-alive connection (benches/endpoints.py).
#
#   benches/scale.sh                    load (when the scratch database is missing), measure
#   SCALE_RELOAD=1 benches/scale.sh     drop the scratch database and load it again
#   SCALE_EVENTS=1000000 SCALE_ORGS=20 benches/scale.sh   a small run of the same script
#   SCALE_REQUESTS=N                    timed requests per scenario (default 200)
#   SCALE_DB                            scratch database (default sendops_bench_scale)
#   SCALE_SKIP_BUILD=1                  use the release binaries already built
#   SCALE_RESUME_FROM=K                 finish a load that stopped (a full disk, a crash) at org K:
#                                       orgs K.. are sent again (replayed events count once),
#                                       the database and the orgs before K are kept
#
# Measured per org: message list (first page at varied `to`), message detail, timeline,
# recipient lookup, the three reports over 30 days at random second edges (day buckets; template
# performance without), 30-day breakdowns by mailbox provider and by recipient domain, reputation
# over 7 and 30 days, the undeliverable first page and a `?since=` page, the rules. For the
# largest org, four endpoints are also measured as the same SQL sent straight to ClickHouse
# (the statements each request issued, read back from system.query_log). Then the API is
# restarted and the first request of every report is timed (cold start), against the warm p99.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
use_local_clickhouse
db=${SCALE_DB:-sendops_bench_scale}
export CLICKHOUSE_DATABASE=$db
state=.local/bench-scale.env
events=${SCALE_EVENTS:-100000000}
orgs=${SCALE_ORGS:-1000}
requests=${SCALE_REQUESTS:-200}
port=${SCALE_PORT:-18097}
end=${SCALE_END:-$(date -u +%Y-%m-%dT00:00:00Z)}
bin=$CARGO_TARGET_DIR/release

log() { printf 'scale: %s\n' "$*" >&2; }
case "$db" in sendops | sendops_test_*) log "refusing to use database $db"; exit 2 ;; esac

scripts/clickhouse.sh start >/dev/null
[ "${SCALE_SKIP_BUILD:-0}" = 1 ] || cargo build --release -q -p sendops-admin -p sendops-query-api -p sendops-ingest -p sendops-fixtures
py=$(pyenv_bin)/python
mkdir -p .local
work=$(mktemp -d "${TMPDIR:-/tmp}/sendops-scale.XXXXXX")
api_pid=
cleanup() { [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

account() { printf '%012d' $((100000000000 + $1)); }

resume=${SCALE_RESUME_FROM:-}
if [ -n "$resume" ] || [ "${SCALE_RELOAD:-0}" = 1 ] || [ ! -f "$state" ] || ! database_exists "$db"; then
  log "loading $events events across $orgs orgs into $db from org ${resume:-0} (load $(loadavg))"
  if [ -z "$resume" ]; then
    drop_database "$db"
    "$bin/sendops-admin" migrate >/dev/null
    for ((i = 0; i < orgs; i++)); do
      "$bin/sendops-admin" org create --name "Org $i" --slug "org$i" --aws-account "$(account "$i")" \
        --plan enterprise >/dev/null
    done
  fi
  # ~2.6 events per generated message.
  big=$((events / 10 * 10 / 26))
  small=$(((events - events / 10) / (orgs > 1 ? orgs - 1 : 1) * 10 / 26))
  before=0
  [ -n "$resume" ] && before=$(ch_db "SELECT uniqExact(event_id) FROM events")
  t0=$(date +%s)
  {
    for ((i = ${resume:-0}; i < orgs; i++)); do
      m=$small; [ "$i" = 0 ] && m=$big
      "$bin/sendops-gen" --messages "$m" --days 90 --seed $((i + 1)) --end "$end" \
        --account "$(account "$i")" --envelope sns 2>/dev/null
    done
  } | /usr/bin/time -f %M -o "$work/replay.rss" "$bin/sendops-ingest" replay - >"$work/replay.json" 2>"$work/replay.log"
  t1=$(date +%s)
  stored=$(ch_db "SELECT uniqExact(event_id) FROM events")
  log "loaded: $(cat "$work/replay.json") in $((t1 - t0)) s ($(((stored - before) / (t1 - t0 > 0 ? t1 - t0 : 1))) events/s), replay peak RSS $(($(cat "$work/replay.rss") / 1024)) MiB, load $(loadavg)"
  for slug in org0 org1; do
    key=$("$bin/sendops-admin" key create --org "$slug" --env live --name scale \
      --scopes api.messages.view,api.messages.unmask_recipients,analytics.search.recipients,api.reports.view,api.undeliverable.view |
      "$py" -c 'import json,sys; print(json.load(sys.stdin)["key"])')
    echo "key_$slug=$key" >>"$work/keys"
    # No rate limit in the way of the measurement (a newer row version of the org).
    lift_rate_limit "$slug" 1000000
  done
  cp "$work/keys" "$state"
fi
# shellcheck disable=SC1090
source "$state"

start_api() {
  SENDOPS_API_ADDR=127.0.0.1:$port SENDOPS_METRICS_ADDR=127.0.0.1:$((port + 1)) "$bin/sendops-api" >"$work/api.log" 2>&1 &
  api_pid=$!
  wait_for_api "http://127.0.0.1:$port" && return 0
  log "the API did not start"; cat "$work/api.log" >&2; exit 1
}

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

paths_for() { # slug key -> scenarios file
  local slug=$1 key=$2 out=$work/paths.$1 now t i
  now=$(date -d "$end" +%s)
  : >"$out"
  get() { curl -fsS -H "Authorization: Bearer $key" "http://127.0.0.1:$port$1"; }
  for i in $(seq 1 50); do
    t=$((now - RANDOM * 237 % (89 * 86400)))
    printf 'messages\t/v1/messages?to=%s\n' "$(iso "$t")" >>"$out"
  done
  get "/v1/messages?limit=100&to=$(iso $((now - 40 * 86400)))" >"$work/msgs.$slug"
  jq -r '.data[].id' "$work/msgs.$slug" | head -50 | sed 's|^|detail\t/v1/messages/|' >>"$out"
  jq -r '.data[].id' "$work/msgs.$slug" | head -50 | sed 's|^|timeline\t/v1/messages/|; s|$|/events|' >>"$out"
  jq -r '.data[].to // empty' "$work/msgs.$slug" | head -50 |
    "$py" -c 'import sys,urllib.parse; [print("recipient\t/v1/recipients/" + urllib.parse.quote(l.strip(), safe="") + "/messages") for l in sys.stdin if l.strip()]' >>"$out"
  for report in deliverability engagement template-performance; do
    for i in $(seq 1 50); do
      t=$((now - RANDOM % 86400))
      from=$(iso $((t - 30 * 86400)))
      q="from=$from&to=$(iso "$t")"
      [ "$report" != template-performance ] && q="$q&bucket=day"
      printf '%s\t/v1/reports/%s?%s\n' "$report" "$report" "$q" >>"$out"
    done
  done
  for dim in mailbox_provider recipient_domain; do
    for i in $(seq 1 50); do
      t=$((now - RANDOM % 86400))
      printf 'breakdown-%s\t/v1/reports/breakdown?dimension=%s&from=%s&to=%s\n' "$dim" "$dim" \
        "$(iso $((t - 30 * 86400)))" "$(iso "$t")" >>"$out"
    done
  done
  for w in 7 30; do
    for i in $(seq 1 50); do printf 'reputation-%sd\t/v1/reputation?window_days=%s\n' "$w" "$w" >>"$out"; done
  done
  echo "undeliverable	/v1/undeliverable?limit=50" >>"$out"
  for h in 1 6 24 168 720; do
    printf 'undeliverable-since\t/v1/undeliverable?limit=50&since=%s\n' "$(iso $(($(date +%s) - h * 3600)))" >>"$out"
  done
  echo "rules	/v1/undeliverable/rules" >>"$out"
  echo "$out"
}

echo "== scale: $(ch_db "SELECT count() FROM orgs FINAL") orgs, $(ch_db "SELECT uniqExact(event_id) FROM events") events, $(nproc) cores, load $(loadavg)"
start_api
for slug in org0 org1; do
  keyvar=key_$slug
  org_id=$(ch_db "SELECT toString(id) FROM orgs FINAL WHERE slug = '$slug'")
  echo "-- $slug: $(ch_db "SELECT uniqExact(event_id) FROM events WHERE org_id = '$org_id'") events (load $(loadavg))"
  paths=$(paths_for "$slug" "${!keyvar}")
  direct=
  [ "$slug" = org0 ] && direct=messages,detail,timeline,recipient
  "$py" benches/endpoints.py --api "http://127.0.0.1:$port" --key "${!keyvar}" --paths "$paths" \
    --requests "$requests" --direct "$direct" --org-id "$org_id" --database "$db" \
    --clickhouse "$CLICKHOUSE_URL" | tee "$work/warm.$slug.json"
done

echo "-- cold start: the first request of each report after a restart (largest org)"
kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
start_api
grep -P '^(deliverability|engagement|template-performance|breakdown-[a-z_]+|reputation-\d+d)\t' "$work/paths.org0" >"$work/cold.paths"
# As a load balancer gated on readiness would send it: once /ready answers 200 (the background
# prefill of the busiest orgs' indexes is done, at most 120 s after start).
t0=$(date +%s.%N)
for _ in $(seq 1 1300); do curl -fsS "http://127.0.0.1:$((port + 1))/ready" >/dev/null 2>&1 && break; sleep 0.1; done
echo "  ready after $(echo "$(date +%s.%N) - $t0" | bc) s (load $(loadavg))"
"$py" benches/endpoints.py --api "http://127.0.0.1:$port" --key "$key_org0" --paths "$work/cold.paths" --first-only
echo "  load average at end: $(loadavg)"
