#!/usr/bin/env bash
# `make test`: lint, every test against the real local ClickHouse and moto_server, schemathesis,
# the OpenAPI document's validation and the generated clients (scripts/clients.sh), then the chdb
# dialect check of every statement the tests issued. Installs what it needs.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_test_services

# Leftovers of crashed runs.
for db in $(curl -fsS "$CLICKHOUSE_URL/" --data-binary "SELECT name FROM system.databases WHERE name LIKE 'sendops\\_test\\_%'"); do
  curl -fsS "$CLICKHOUSE_URL/" --data-binary "DROP DATABASE IF EXISTS \`$db\`" >/dev/null
done

start=$(date +%s)
echo "== lint"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
"$venv_bin/cfn-lint" infra/cloudformation/*.yaml

echo "== CloudFormation: every template created on moto_server, wiring asserted (infra/tests)"
# The packaged artifacts (release build, zip, images) are tested by `make test-package` instead.
"$venv_bin/python" -m pytest -q -p no:cacheprovider infra/tests/test_stacks.py

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

echo "== schemathesis against the served OpenAPI document"
scripts/schemathesis.sh

echo "== OpenAPI document (openapi-spec-validator), generated clients (stale check, tests) and examples"
scripts/clients.sh check

echo "== ClickHouse cluster: one server vs a 2x2 cluster, a replica and a shard stopped (the cluster's own tests; make test-cluster runs every storage suite there: docs/scale-out.md)"
scripts/test-cluster.sh subset

echo "== chdb dialect check (current ClickHouse)"
# The cluster nodes' statements too (routed SQL on `_local` tables, cluster DDL parsed).
nodes=()
for url in $(scripts/cluster.sh urls); do nodes+=(--node "$url"); done
"$venv_bin/python" scripts/chdb_check.py --since "$start" "${nodes[@]}"
