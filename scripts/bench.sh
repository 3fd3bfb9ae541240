#!/usr/bin/env bash
# `make bench`: the benchmarks whose figures are in benches/README.md.
#   parse   criterion: decode_record (parse + transform to rows) against a plain serde_json skim
#           of the same bytes, SNS-wrapped / raw / EventBridge (benches/benches/parse.rs)
#   ingest  end to end: ~1,000,000 generated SNS-wrapped events replayed into a scratch database
#           with the release `sendops-ingest replay`, then replayed again (must add 0 rows)
#   api     API latency with ~10 M events stored (scripts/bench-api.sh)
#   reports report latency with 10 M events over 90 days (benches/reports.sh)
#   undeliverable  undeliverable list latency with 1 M failing recipients (benches/undeliverable.sh)
# Environment:
#   SENDOPS_BENCH_ONLY=parse|ingest|api|reports|undeliverable   run one part (default: all)
#   SENDOPS_BENCH_SKIP_API=1              skip the API part (its first load takes many minutes)
#   SENDOPS_BENCH_KEEP=1                  keep the scratch databases (and reuse the API one)
# Scratch databases: sendops_bench_ingest, sendops_bench_api; dropped at the end unless kept.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sendops/target}
export CLICKHOUSE_URL=${CLICKHOUSE_URL:-http://127.0.0.1:8123}
only=${SENDOPS_BENCH_ONLY:-all}
keep=${SENDOPS_BENCH_KEEP:-0}
bin=$CARGO_TARGET_DIR/release

log() { printf 'bench: %s\n' "$*" >&2; }
ch() { curl -fsS "$CLICKHOUSE_URL/" --data-binary "$1"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
wants() { [ "$only" = all ] || [ "$only" = "$1" ]; }
machine() { echo "$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, load average $(cut -d' ' -f1-3 /proc/loadavg)"; }

if ! command -v jq >/dev/null; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
fi
scripts/clickhouse.sh start

# ---- parse + transform vs skim (criterion) ---------------------------------------------------
if wants parse; then
  echo "== parse: cargo bench -p sendops-benches --bench parse ($(machine))"
  cargo bench -p sendops-benches --bench parse 2>&1 | grep -E '^(parse/|Benchmarking .*: Collecting)|time:|thrpt:' || true
  echo
  echo "envelope     decode_record (median)           serde_json skim (median)         decode/skim"
  for envelope in sns raw eventbridge; do
    dir=$CARGO_TARGET_DIR/criterion/parse_$envelope
    jq -rn --arg env "$envelope" \
      --slurpfile d "$dir/decode_record/new/estimates.json" --slurpfile db "$dir/decode_record/new/benchmark.json" \
      --slurpfile s "$dir/serde_json_skim/new/estimates.json" '
      ($db[0].throughput.ElementsAndBytes) as $t
      | ($d[0].median.point_estimate / 1e9) as $dt | ($s[0].median.point_estimate / 1e9) as $st
      | "\($env | . + "            " | .[0:12]) "
        + "\($t.elements / $dt / 1000 | floor) k events/s \($t.bytes / $dt / 1e6 | floor) MB/s    "
        + "\($t.elements / $st / 1000 | floor) k events/s \($t.bytes / $st / 1e6 | floor) MB/s    "
        + "\($dt / $st * 100 | round / 100)x"'
  done
  echo
fi

# ---- end-to-end replay ------------------------------------------------------------------------
if wants ingest; then
  db=sendops_bench_ingest
  cargo build --release --bins -p sendops-fixtures -p sendops-ingest -p sendops-admin
  work=$(mktemp -d "${TMPDIR:-/tmp}/sendops-bench-ingest.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  file=$work/sns.ndjson
  # 384,000 messages make ~1,000,000 SES events (~2.6 per message), SNS-wrapped, one per line.
  log "generating the input (not timed)"
  "$bin/sendops-gen" --messages 384000 --days 30 --seed 1 --end 2026-11-20T00:00:00Z \
    --envelope sns --out "$file" 2>"$work/gen.json"
  events=$(jq -r .events "$work/gen.json")
  bytes=$(stat -c %s "$file")
  export CLICKHOUSE_DATABASE=$db
  ch "DROP DATABASE IF EXISTS \`$db\`" >/dev/null
  "$bin/sendops-admin" migrate >/dev/null
  "$bin/sendops-admin" org create --name "Bench" --slug bench --aws-account 123456789012 --plan enterprise >/dev/null
  replay() { # label -> prints "seconds user_s sys_s" and leaves the report in $work/$label.json
    local TIMEFORMAT='%R %U %S'
    { time "$bin/sendops-ingest" replay "$file" >"$work/$1.json" 2>"$work/$1.log"; } 2>"$work/$1.time"
    cat "$work/$1.time"
  }
  echo "== ingest: sendops-ingest replay (default chunk) of $events events, $((bytes / 1000000)) MB SNS-wrapped NDJSON ($(machine))"
  read -r secs user sys <<<"$(replay first)"
  rows=$(jq -r .rows "$work/first.json")
  stored=$(ch "SELECT count() FROM \`$db\`.events FINAL")
  distinct=$(ch "SELECT uniqExact(event_id) FROM \`$db\`.events")
  awk -v e="$events" -v r="$rows" -v s="$secs" -v u="$user" -v y="$sys" -v b="$bytes" 'BEGIN {
    printf "first replay:  %.1f s   %d events/s   %d rows/s   %.0f MB/s   (replay CPU %.1f s user + %.1f s sys)\n", s, e / s, r / s, b / s / 1e6, u, y }'
  echo "  report: $(cat "$work/first.json")"
  echo "  stored rows: $stored (distinct event ids $distinct; the replay reported $rows)"
  [ "$stored" = "$rows" ] && [ "$distinct" = "$rows" ] || { log "stored rows differ from the report"; exit 1; }
  read -r secs2 user2 sys2 <<<"$(replay second)"
  rows2=$(jq -r .rows "$work/second.json")
  stored2=$(ch "SELECT count() FROM \`$db\`.events FINAL")
  awk -v e="$events" -v s="$secs2" -v u="$user2" -v y="$sys2" 'BEGIN {
    printf "second replay: %.1f s   %d events/s   (replay CPU %.1f s user + %.1f s sys)\n", s, e / s, u, y }'
  echo "  report: $(cat "$work/second.json")"
  echo "  stored rows: $stored2"
  [ "$rows2" = 0 ] && [ "$stored2" = "$stored" ] || { log "the second replay added rows"; exit 1; }
  echo "  load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  [ "$keep" = 1 ] || ch "DROP DATABASE IF EXISTS \`$db\`" >/dev/null
  rm -rf "$work"
  trap - EXIT
  echo
fi

# ---- API latency ------------------------------------------------------------------------------
if wants api && [ "${SENDOPS_BENCH_SKIP_API:-0}" != 1 ]; then
  scripts/bench-api.sh
fi

# ---- reports and undeliverable latency -----------------------------------------------------------
if wants reports; then
  benches/reports.sh
fi
if wants undeliverable; then
  benches/undeliverable.sh
fi
