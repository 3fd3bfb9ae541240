#!/usr/bin/env bash
# `make test-cluster` (`scripts/test-cluster.sh [subset]`): the storage-touching test suites
# against the local ClickHouse cluster
# (scripts/cluster.sh: ZooKeeper + 2 shards × 2 replicas of clickhouse-server 18.16), then the
# cluster's own tests (query-api/tests/cluster.rs): the same replay into the single server and
# into the cluster with every answer compared, a replica stopped mid-replay, a shard stopped.
# docs/scale-out.md says what runs where and why some suites stay single-server.
#
# Test databases are created ON CLUSTER and migrated in cluster form because the environment
# names the cluster: CLICKHOUSE_URL is node 1, CLICKHOUSE_CLUSTER=sendops, CLICKHOUSE_NODES every
# node's URL (testkit reads them).
# SENDOPS_SINGLE_URL is the single server the comparison replays into.
# `subset` (what `make test` runs, ~5 min): only the cluster's own tests and the operator's
# prune/erase/repair suites, not the other suites.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scripts/clickhouse.sh start
export SENDOPS_SINGLE_URL=${SENDOPS_SINGLE_URL:-http://127.0.0.1:8123}
scripts/cluster.sh start
node1=$(scripts/cluster.sh urls | sed -n 1p)
export CLICKHOUSE_URL=$node1
export CLICKHOUSE_CLUSTER=${CLICKHOUSE_CLUSTER:-sendops}
# Per-org routing (docs/scale-out.md "When servers stop"): every node's HTTP URL.
export CLICKHOUSE_NODES=${CLICKHOUSE_NODES-$(scripts/cluster.sh urls | paste -sd, -)}

# Every node must be up (an earlier run may have died with one stopped).
n=$(scripts/cluster.sh urls | wc -l)
for i in $(seq 1 "$n"); do scripts/cluster.sh start-node "$i"; done

# Leftovers of crashed runs, on the cluster and on the single server.
for db in $(curl -fsS "$CLICKHOUSE_URL/" --data-binary "SELECT name FROM system.databases WHERE name LIKE 'sendops\\_test\\_%'"); do
  curl -fsS "$CLICKHOUSE_URL/" --data-binary "DROP DATABASE IF EXISTS \`$db\` ON CLUSTER $CLICKHOUSE_CLUSTER" >/dev/null
done
for db in $(curl -fsS "$SENDOPS_SINGLE_URL/" --data-binary "SELECT name FROM system.databases WHERE name LIKE 'sendops\\_test\\_cluster\\_%'"); do
  curl -fsS "$SENDOPS_SINGLE_URL/" --data-binary "DROP DATABASE IF EXISTS \`$db\`" >/dev/null
done

start=$(date +%s)
failed=
if [ "${1:-}" != subset ]; then
  echo "== storage suites on the cluster ($CLICKHOUSE_URL, cluster $CLICKHOUSE_CLUSTER)"
  # The API suites that read and write the store through the real router and ingest pipeline
  # (exactness includes the 20-round four-concurrent-replays stress test, ~15 min here).
  # Distributed DDL makes each test database cost ~10 s to create, so these run with fewer
  # threads than the single-server suite would allow.
  # A failing suite does not stop the others; the run fails at the end.
  cargo nextest run -p sendops-query-api --no-fail-fast --test-threads 4 \
    --test api --test reports --test undeliverable --test exactness --test conditional || failed="$failed query-api"
  cargo nextest run -p sendops-ingest --no-fail-fast --test-threads 4 --test replay || failed="$failed ingest"
fi

echo "== prune, erase and repair on the cluster (mutations on each shard's local tables)"
cargo nextest run -p sendops-admin --no-fail-fast --test-threads 2 --test retention --test repair || failed="$failed admin"

echo "== cluster tests: single server vs cluster, replica down, shard down (one at a time)"
cargo nextest run -p sendops-query-api --test cluster --run-ignored only --test-threads 1 --no-fail-fast || failed="$failed cluster"

if [ -n "$failed" ]; then
  echo "== cluster suite FAILED ($failed) after $(($(date +%s) - start)) s"
  exit 1
fi
echo "== cluster suite passed in $(($(date +%s) - start)) s"
