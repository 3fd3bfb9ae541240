#!/usr/bin/env bash
# Property-based API check (part of `make test`): serves the API from a small seeded database and
# runs schemathesis from the served OpenAPI document. Fails on any 5xx or any response that does
# not match the document (status codes, content types, headers, bodies).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_local_clickhouse
export CLICKHOUSE_DATABASE=sendops_schemathesis
port=${SENDOPS_SCHEMATHESIS_PORT:-18080}
bin=$CARGO_TARGET_DIR/debug
venv_bin=$(pyenv_bin)
account=444455556666

cargo build --bins -q
drop_database "$CLICKHOUSE_DATABASE"
"$bin/sendops-admin" migrate >/dev/null
"$bin/sendops-admin" org create --name "Schemathesis" --slug schemathesis --aws-account "$account" --plan enterprise >/dev/null
"$bin/sendops-gen" --messages 2000 --days 20 --seed 3 --account "$account" --envelope mixed 2>/dev/null \
  | "$bin/sendops-ingest" replay - >/dev/null
scopes="api.messages.view,api.messages.unmask_recipients,api.reports.view,api.suppressions.view,api.undeliverable.view,api.channels.view,api.templates.view,api.tracking.view,api.identities.view,api.account.view"
# Lift the org's rate limit: otherwise most generated requests are answered 429 before they
# reach the handlers and their validation (rate limiting has its own tests in query-api/tests).
"$bin/sendops-admin" org set-rate-limit --org schemathesis --per-minute 1000000 >/dev/null
key=$("$bin/sendops-admin" key create --org schemathesis --env live --name schemathesis --scopes "$scopes" \
  | json_field key)

log=$(mktemp)
SENDOPS_API_ADDR=127.0.0.1:$port RUST_LOG=warn "$bin/sendops-api" >"$log" 2>&1 &
api=$!
trap 'kill $api 2>/dev/null || true; drop_database "$CLICKHOUSE_DATABASE" || true' EXIT
wait_for_api "http://127.0.0.1:$port" || true

"$venv_bin/schemathesis" run "http://127.0.0.1:$port/v1/openapi.json" \
  --header "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "${SENDOPS_SCHEMATHESIS_EXAMPLES:-40}" \
  --workers 1 \
  --seed 1 \
  --suppress-health-check all \
  --no-color
status=$?
if grep -q "ERROR" "$log"; then echo "sendops-api logged errors:"; grep "ERROR" "$log" | head -20; exit 1; fi
exit $status
