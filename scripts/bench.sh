#!/usr/bin/env bash
# `make bench`: the benchmarks whose figures are in benches/README.md.
#   parse   criterion: decode_record (parse + transform to rows) against a plain serde_json skim
#           of the same bytes, SNS-wrapped / raw / EventBridge (benches/benches/parse.rs)
#   ingest  end to end: ~1,000,000 generated SNS-wrapped events replayed into scratch databases
#           with the release `sendops-ingest replay` by 1, 2 and 4 concurrent consumers, and by 4
#           consumers on the same file (benches/ingest.sh; SENDOPS_BENCH_BEFORE=DIR compares an
#           older build), then the SQS poller against an in-memory SQS stand-in (benches/poll.sh)
#   poll    only the poller part: replay, store ceiling and `sendops-ingest poll` at 0 and 10 ms
#           per SQS call on ~1,000,000 events (benches/poll.sh)
#   api     API latency with ~10 M events stored (scripts/bench-api.sh)
#   reports report latency with 10 M events over 90 days (benches/reports.sh)
#   undeliverable  undeliverable list latency with 1 M failing recipients (benches/undeliverable.sh)
# Environment:
#   SENDOPS_BENCH_ONLY=parse|ingest|poll|api|reports|undeliverable   run one part (default: all;
#                                         `all` runs the poll part within ingest)
#   SENDOPS_BENCH_SKIP_API=1              skip the API part (its first load takes many minutes)
#   SENDOPS_BENCH_KEEP=1                  keep the scratch databases (and reuse the API one)
# Scratch databases: sendops_bench_ingest, sendops_bench_api; dropped at the end unless kept.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_local_clickhouse
only=${SENDOPS_BENCH_ONLY:-all}
keep=${SENDOPS_BENCH_KEEP:-0}
bin=$CARGO_TARGET_DIR/release

log() { printf 'bench: %s\n' "$*" >&2; }
wants() { [ "$only" = all ] || [ "$only" = "$1" ]; }
machine() { echo "$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, load average $(loadavg)"; }

if ! command -v jq >/dev/null; then apt_install jq; fi
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
  benches/ingest.sh
  echo
fi
if [ "$only" = poll ]; then
  benches/poll.sh
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
