#!/usr/bin/env bash
# The SQS poller against the store's ceiling (issue 13 item 1; `SENDOPS_BENCH_ONLY=poll`, and the
# last part of benches/ingest.sh, which passes its file). On the same file and server, in one run:
#   1. `sendops-ingest replay` of the whole file (one consumer) into a fresh database;
#   2. the store's ceiling for the same rows: what run 1 stored, dumped as RowBinary in chunks of
#      the size one replay batch inserts, re-inserted one after the other into a fresh database;
#   3. for each per-call latency in SENDOPS_BENCH_LATENCIES (ms, default "0 10"): the file served
#      one message per line by `sendops-fake-sqs` (the in-memory SQS stand-in of
#      testkit/src/sqs.rs, AWS JSON 1.0 like SQS, each call answered that much later), and
#      `sendops-ingest poll --until-empty --wait-time-seconds 0` (default --receivers,
#      --deleters, --max-messages) timed from its start to its exit, into a fresh database: it
#      must store the same distinct events, and the stand-in must have deleted every message,
#      none received twice.
# With SENDOPS_BENCH_ROUNDS=N (default 1) steps 1–3 repeat N times, interleaved, the dump reused.
# Prints events/s and ingest / ceiling for each run, with the load average, and the CPU seconds
# each process used in it (the consumer, the stand-in, the local ClickHouse server): on a
# machine that runs all three, their sum is what bounds the wall time.
# Environment: SENDOPS_BENCH_FILE (an SNS-wrapped NDJSON file to use instead of generating one),
# SENDOPS_BENCH_MESSAGES (messages to generate, default 384000 ≈ 1,000,000 events),
# SENDOPS_BENCH_POLL_ARGS (extra `sendops-ingest poll` arguments, e.g. "--receivers 32").
# Scratch database: sendops_bench_poll (dropped at the end).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
use_local_clickhouse
bin=$CARGO_TARGET_DIR/release
db=sendops_bench_poll
rounds=${SENDOPS_BENCH_ROUNDS:-1}
latencies=${SENDOPS_BENCH_LATENCIES:-0 10}
poll_args=${SENDOPS_BENCH_POLL_ARGS:-}

log() { printf 'bench: %s\n' "$*" >&2; }
# CPU seconds (user + system) a process has used so far; the ClickHouse server's pid from
# scripts/clickhouse.sh (SENDOPS_BENCH_CH_PID for another server; empty: not reported).
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
ch_pid=${SENDOPS_BENCH_CH_PID:-$(cat "$root/.local/clickhouse/server.pid" 2>/dev/null || true)}
ch_cpu() { [ -n "$ch_pid" ] && cpu_of "$ch_pid" || echo 0; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }

if [ -z "${SENDOPS_BENCH_NO_BUILD:-}" ]; then
  cargo build --release -p sendops-fixtures -p sendops-ingest -p sendops-admin \
    -p sendops-testkit --bin sendops-gen --bin sendops-ingest --bin sendops-admin --bin sendops-fake-sqs
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sendops-bench-poll.XXXXXX")
fake_pid=
cleanup() {
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null || true
  rm -rf "$work"
  ch "DROP DATABASE IF EXISTS \`$db\`" >/dev/null || true
}
trap cleanup EXIT
file=${SENDOPS_BENCH_FILE:-}
if [ -z "$file" ]; then
  file=$work/sns.ndjson
  log "generating the input (not timed)"
  "$bin/sendops-gen" --messages "${SENDOPS_BENCH_MESSAGES:-384000}" --days 30 --seed 1 \
    --end 2026-11-20T00:00:00Z --envelope sns --out "$file" 2>"$work/gen.json"
fi
lines=$(grep -c . "$file")
bytes=$(stat -c %s "$file")

line() { # label seconds
  awk -v l="$1" -v e="$events" -v s="$2" -v b="$bytes" -v la="$(loadavg)" 'BEGIN {
    printf "%-46s %6.1f s  %7d events/s  %4.0f MB/s   load %s\n", l, s, e / s, b / s / 1e6, la }'
}
ratio() { awk -v c="$1" -v s="$2" 'BEGIN { printf "%.2f", c / s }'; }

# 1. replay: its rows are the reference set (and the ceiling's input).
replay() {
  fresh_bench_db "$bin"
  local t0 c0; t0=$(now); c0=$(ch_cpu)
  /usr/bin/time -f '%U %S' -o "$work/replay.cpu" \
    "$bin/sendops-ingest" replay "$file" >"$work/replay.json" 2>"$work/replay.log" \
    || { tail -5 "$work/replay.log" >&2; exit 1; }
  replay_s=$(since "$t0")
  replay_detail="CPU: replay $(awk '{ printf "%.1f", $1 + $2 }' "$work/replay.cpu") s, ClickHouse $(minus "$(ch_cpu)" "$c0") s"
  events=$(jq .events "$work/replay.json")
  rows=$(jq .rows "$work/replay.json")
  [ "$(distinct_events)" = "$rows" ] || { log "replay: stored distinct events differ from the rows reported"; exit 1; }
}

# 2. the store's ceiling for the same rows (dumped once: dump_events).
ceiling() {
  fresh_bench_db "$bin"
  local t0 c0; t0=$(now); c0=$(ch_cpu)
  insert_events "$work"
  ceiling_s=$(since "$t0")
  ceiling_detail="CPU: ClickHouse $(minus "$(ch_cpu)" "$c0") s"
  [ "$(distinct_events)" = "$rows" ] || { log "the ceiling run stored a different set of events"; exit 1; }
}

# 3. the poller against the stand-in with `latency` ms per call.
poll() { # latency
  fresh_bench_db "$bin"
  log "loading $lines messages into the SQS stand-in (not timed)"
  "$bin/sendops-fake-sqs" --latency-ms "$1" "$file" >"$work/fake.out" 2>"$work/fake.log" &
  fake_pid=$!
  local i ready=
  for ((i = 0; i < 1200; i++)); do
    ready=$(head -n 1 "$work/fake.out" 2>/dev/null || true)
    [ -n "$ready" ] && break
    kill -0 "$fake_pid" 2>/dev/null || { cat "$work/fake.log" >&2; exit 1; }
    sleep 0.5
  done
  [ -n "$ready" ] || { log "the stand-in did not start"; exit 1; }
  [ "$(jq .messages <<<"$ready")" = "$lines" ] || { log "the stand-in loaded $(jq .messages <<<"$ready") of $lines messages"; exit 1; }
  local t0 c0 f0; t0=$(now); c0=$(ch_cpu); f0=$(cpu_of "$fake_pid")
  # shellcheck disable=SC2086 # word splitting of the extra arguments is wanted
  /usr/bin/time -f '%M %U %S' -o "$work/poll.rss" \
    env AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
    "$bin/sendops-ingest" poll --queue-url "$(jq -r .queue_url <<<"$ready")" \
    --endpoint-url "$(jq -r .endpoint <<<"$ready")" --until-empty --wait-time-seconds 0 $poll_args \
    >"$work/poll.json" 2>"$work/poll.log" || { tail -5 "$work/poll.log" >&2; exit 1; }
  poll_s=$(since "$t0")
  local stats; stats=$(curl -fsS "$(jq -r .endpoint <<<"$ready")/_stats")
  # CPU seconds of the stand-in while the poller ran (loading excluded), before it stops.
  local fake_cpu; fake_cpu=$(minus "$(cpu_of "$fake_pid")" "$f0")
  local ch_used; ch_used=$(minus "$(ch_cpu)" "$c0")
  kill "$fake_pid"; wait "$fake_pid" 2>/dev/null || true; fake_pid=
  [ "$(distinct_events)" = "$rows" ] || { log "poll ($1 ms): stored $(distinct_events) distinct events, replay $rows"; exit 1; }
  [ "$(jq .deleted <<<"$stats")" = "$lines" ] || { log "poll ($1 ms): deleted $(jq .deleted <<<"$stats") of $lines: $stats"; exit 1; }
  poll_detail="receives $(jq .receive_calls <<<"$stats") (max $(jq .max_concurrent_receives <<<"$stats") at once), redelivered $(jq .redelivered <<<"$stats"), deletes $(jq .delete_calls <<<"$stats") (max $(jq .max_concurrent_deletes <<<"$stats") at once), $(jq .flushes "$work/poll.json") batches, peak RSS $(($(cut -d' ' -f1 "$work/poll.rss") / 1024)) MiB, CPU: poller $(awk '{ printf "%.1f", $2 + $3 }' "$work/poll.rss") s, stand-in $fake_cpu s, ClickHouse $ch_used s"
}

echo "== poll vs ceiling: $lines messages, $((bytes / 1000000)) MB SNS-wrapped NDJSON, $(nproc) cores, load $(loadavg)"
for ((round = 1; round <= rounds; round++)); do
  replay
  line "replay, 1 consumer (round $round)" "$replay_s"
  echo "  $replay_detail"
  [ "$round" = 1 ] && dump_events "$rows" "$work"
  ceiling
  line "store ceiling ($chunks RowBinary INSERTs, round $round)" "$ceiling_s"
  echo "  $ceiling_detail"
  echo "  replay / ceiling: $(ratio "$ceiling_s" "$replay_s")"
  for ms in $latencies; do
    poll "$ms"
    line "poll, stand-in ${ms} ms per call (round $round)" "$poll_s"
    echo "  poll ($ms ms) / ceiling: $(ratio "$ceiling_s" "$poll_s"); $poll_detail"
  done
done
echo "  load average at end: $(loadavg)"
