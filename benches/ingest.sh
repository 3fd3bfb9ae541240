#!/usr/bin/env bash
# End-to-end ingest throughput (`make bench`, or SENDOPS_BENCH_ONLY=ingest): ~1,000,000 generated
# SNS-wrapped SES events replayed with the release `sendops-ingest replay` into scratch databases:
#   1. one consumer, the whole file (then the same file again: must add 0 rows);
#   2. 2 and 4 consumers at once, each replaying its own share of the file (aggregate events/s);
#   3. 4 consumers at once, each replaying the WHOLE file (overlapping input: every event raced
#      4 times): stored distinct events must equal one replay's;
#   4. the store's ceiling for the same rows: what run 1 stored, dumped as RowBinary in chunks of
#      the size one replay batch inserts, re-inserted one after the other into a fresh database
#      (every materialized view firing, no parsing, no bookkeeping); ingest / ceiling is printed;
#   5. the reference Python consumer (scripts/reference_consumer.py) on the same file and server;
#   6. the SQS poller on the same file, served by the in-memory SQS stand-in at 0 and 10 ms per
#      call, beside a replay and the ceiling measured again (benches/poll.sh; ingest / ceiling);
#   7. with SENDOPS_BENCH_BEFORE=DIR (a target dir holding an older release build of
#      sendops-ingest and sendops-admin), that build's single-consumer run on the same file, run
#      before and after the current one (interleaved, so load drifts hit both).
# Every run gets a fresh database; each line names the machine's load average.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
use_local_clickhouse
bin=$CARGO_TARGET_DIR/release
before=${SENDOPS_BENCH_BEFORE:-}
db=sendops_bench_ingest

log() { printf 'bench: %s\n' "$*" >&2; }

cargo build --release --bins -p sendops-fixtures -p sendops-ingest -p sendops-admin
cargo build --release -p sendops-testkit --bin sendops-fake-sqs
work=$(mktemp -d "${TMPDIR:-/tmp}/sendops-bench-ingest.XXXXXX")
trap 'rm -rf "$work"; ch "DROP DATABASE IF EXISTS \`$db\`" >/dev/null || true' EXIT
file=$work/sns.ndjson
# 384,000 messages make ~1,000,000 SES events (~2.6 per message), SNS-wrapped, one per line.
log "generating the input (not timed)"
"$bin/sendops-gen" --messages 384000 --days 30 --seed 1 --end 2026-11-20T00:00:00Z \
  --envelope sns --out "$file" 2>"$work/gen.json"
events=$(jq -r .events "$work/gen.json")
bytes=$(stat -c %s "$file")
lines=$(wc -l <"$file")

# Replays `files` concurrently with the binaries in dir; prints "seconds rows". Each replay's peak
# RSS (KiB) goes to $work/$label.$i.rss.
run() { # dir label files...
  local dir=$1 label=$2; shift 2
  local t0 i=0 pids=()
  t0=$(now)
  for f in "$@"; do
    /usr/bin/time -f %M -o "$work/$label.$i.rss" \
      "$dir/sendops-ingest" replay "$f" >"$work/$label.$i.json" 2>"$work/$label.$i.log" &
    pids+=($!); i=$((i + 1))
  done
  for p in "${pids[@]}"; do wait "$p" || { log "$label: a replay failed"; tail -5 "$work/$label".*.log >&2; exit 1; }; done
  local secs rows; secs=$(since "$t0")
  rows=$(cat "$work/$label".*.json | jq -s 'map(.rows) | add')
  echo "$secs $rows"
}
line() { # label seconds
  awk -v l="$1" -v e="$events" -v s="$2" -v b="$bytes" -v la="$(loadavg)" 'BEGIN {
    printf "%-44s %6.1f s  %7d events/s  %4.0f MB/s   load %s\n", l, s, e / s, b / s / 1e6, la }'
}

echo "== ingest: $events events, $((bytes / 1000000)) MB SNS-wrapped NDJSON, $(nproc) cores, load $(loadavg)"
if [ -n "$before" ]; then
  fresh_bench_db "$before/release"
  read -r s _ <<<"$(run "$before/release" before1 "$file")"
  line "before (1 consumer, whole file)" "$s"
fi
fresh_bench_db "$bin"
read -r s rows <<<"$(run "$bin" single "$file")"
line "now (1 consumer, whole file)" "$s"
single_s=$s
echo "  peak RSS of the replay: $(($(cat "$work/single.0.rss") / 1024)) MiB"
[ "$(distinct_events)" = "$rows" ] || { log "stored distinct events differ from the rows reported"; exit 1; }
stored=$rows

read -r s rows2 <<<"$(run "$bin" again "$file")"
line "now, same file again (adds $rows2 rows)" "$s"
[ "$rows2" = 0 ] || { log "the second replay added rows"; exit 1; }

# The store's ceiling for the same rows: dumped in chunks of one replay batch's size, then
# re-inserted one after the other into a fresh database.
dump_events "$rows" "$work"
fresh_bench_db "$bin"
t0=$(now)
insert_events "$work"
ceiling_s=$(since "$t0")
line "store ceiling ($chunks RowBinary INSERTs, same rows)" "$ceiling_s"
[ "$(distinct_events)" = "$stored" ] || { log "the ceiling run stored a different set of events"; exit 1; }
rm -f "$work"/ceiling.*.bin
echo "  ingest / ceiling: $(awk -v c="$ceiling_s" -v s="$single_s" 'BEGIN { printf "%.2f", c / s }')"

# The reference Python consumer on the same file and server.
fresh_bench_db "$bin"
org=$(ch "SELECT toString(id) FROM \`$db\`.orgs WHERE slug = 'bench' LIMIT 1")
py=$(pyenv_bin)/python
t0=$(now)
/usr/bin/time -f %M -o "$work/reference.rss" \
  "$py" scripts/reference_consumer.py "$file" --org "$org" --url "$CLICKHOUSE_URL" --database "$db" \
  >"$work/reference.json"
ref_s=$(since "$t0")
line "reference Python consumer (1 process)" "$ref_s"
echo "  reference stored $(jq .rows "$work/reference.json") rows; peak RSS $(($(cat "$work/reference.rss") / 1024)) MiB"
echo "  ingest / reference: $(awk -v r="$ref_s" -v s="$single_s" 'BEGIN { printf "%.2f", r / s }')x"
if [ -n "$before" ]; then
  fresh_bench_db "$before/release"
  read -r s _ <<<"$(run "$before/release" before2 "$file")"
  line "before (1 consumer, whole file, again)" "$s"
fi

for n in 2 4; do
  split -n "l/$n" -d "$file" "$work/part$n."
  fresh_bench_db "$bin"
  read -r s rows <<<"$(run "$bin" "split$n" "$work/part$n".*)"
  line "now ($n consumers, a share each)" "$s"
  [ "$(distinct_events)" = "$stored" ] || { log "$n consumers stored a different set of events"; exit 1; }
  rm -f "$work/part$n".*
done

fresh_bench_db "$bin"
read -r s rows <<<"$(run "$bin" overlap4 "$file" "$file" "$file" "$file")"
line "now (4 consumers, each the whole file)" "$s"
echo "  distinct events stored: $(distinct_events) (one replay: $stored); rows inserted: $rows (copies of raced events: $((rows - stored)))"
[ "$(distinct_events)" = "$stored" ] || { log "overlapping consumers stored a different set of events"; exit 1; }
echo "  load average at end: $(loadavg)"

# The poller on the same file (its own replay and ceiling, measured beside it).
echo
SENDOPS_BENCH_FILE=$file SENDOPS_BENCH_NO_BUILD=1 benches/poll.sh
