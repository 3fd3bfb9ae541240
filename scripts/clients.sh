#!/usr/bin/env bash
# The generated API clients (part of `make test`): serves the API from a small seeded database,
# takes the served OpenAPI document, validates it (openapi-spec-validator), regenerates
# clients/python (openapi-python-client) and clients/typescript/src/schema.d.ts
# (openapi-typescript; openapi-fetch at run time), then runs each client's test and each
# example poller against the live server.
#
# Usage: scripts/clients.sh [generate|check]
#   generate  regenerate and test (default)
#   check     the same, then fail when the committed clients differ from the regenerated ones
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_local_clickhouse
mode=${1:-generate}
export CLICKHOUSE_DATABASE=sendops_clients_$$
port=${SENDOPS_CLIENTS_PORT:-18090}
bin=$CARGO_TARGET_DIR/debug
venv_bin=$(pyenv_bin)
account=555566667777
say() { printf '== %s\n' "$*" >&2; }

cargo build --bins -q
say "seeding $CLICKHOUSE_DATABASE"
"$bin/sendops-admin" migrate >/dev/null 2>&1
"$bin/sendops-admin" org create --name "Clients" --slug clients --aws-account "$account" --plan enterprise >/dev/null
"$bin/sendops-gen" --messages 600 --days 10 --seed 5 --account "$account" --envelope mixed 2>/dev/null \
  | "$bin/sendops-ingest" replay - >/dev/null
"$bin/sendops-admin" org set-rate-limit --org clients --per-minute 1000000 >/dev/null
scopes="api.messages.view,api.messages.unmask_recipients,api.reports.view,api.suppressions.view,api.undeliverable.view,api.channels.view,api.templates.view,api.tracking.view,api.identities.view,api.account.view"
key=$("$bin/sendops-admin" key create --org clients --env live --name clients --scopes "$scopes" \
  | json_field key)

log=$(mktemp)
work=$(mktemp -d)
SENDOPS_API_ADDR=127.0.0.1:$port RUST_LOG=warn "$bin/sendops-api" >"$log" 2>&1 &
api=$!
cleanup() {
  kill "$api" 2>/dev/null || true
  drop_database "$CLICKHOUSE_DATABASE" || true
  rm -rf "$work" "$log"
}
trap cleanup EXIT
export SENDOPS_URL=http://127.0.0.1:$port SENDOPS_KEY=$key
wait_for_api "$SENDOPS_URL" || true

say "the served document"
curl -fsS "$SENDOPS_URL/v1/openapi.json" \
  | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), indent=2, sort_keys=True, ensure_ascii=False))' \
  >clients/openapi.json
"$venv_bin/openapi-spec-validator" clients/openapi.json

say "python client (openapi-python-client)"
"$venv_bin/openapi-python-client" generate --path clients/openapi.json --config clients/python-config.yaml \
  --output-path clients/python --overwrite --fail-on-warning >/dev/null

say "typescript client (openapi-typescript, openapi-fetch)"
(
  cd clients/typescript
  # The pinned packages of package-lock.json, installed again only when the lock changes.
  stamp=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat node_modules/.sendops-stamp 2>/dev/null)" != "$stamp" ]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    echo "$stamp" >node_modules/.sendops-stamp
  fi
  ./node_modules/.bin/openapi-typescript ../openapi.json -o src/schema.d.ts >/dev/null
  ./node_modules/.bin/tsc -p .
)

if [ "$mode" = check ]; then
  say "the committed clients are the generated ones"
  git diff --exit-code --stat -- clients/ || { echo "clients/ is stale: run scripts/clients.sh and commit" >&2; exit 1; }
  untracked=$(git ls-files --others --exclude-standard -- clients/)
  [ -z "$untracked" ] || { echo "clients/ has files not committed:" >&2; echo "$untracked" >&2; exit 1; }
fi

say "python client test"
PYTHONPATH=clients/python "$venv_bin/python" clients/tests/test_python_client.py
say "typescript client test"
(cd clients/typescript && node --import tsx --test test/*.test.ts)

say "example pollers"
tsx=clients/typescript/node_modules/.bin/tsx
expect() { # expect FIELD VALUE JSON
  python3 -c 'import json,sys; d=json.loads(sys.argv[3]); v=d[sys.argv[1]]; sys.exit(0 if str(v)==sys.argv[2] else f"{sys.argv[1]}={v!r}, expected {sys.argv[2]}: {d}")' "$@"
}
# A late permanent bounce for a new address, at noon yesterday: the sync must list it and the
# daily report of yesterday must change (new ETag, new numbers).
late_bounce() { # late_bounce ID ADDRESS
  local ts
  ts=$(date -u -d "yesterday 12:00" +%Y-%m-%dT%H:%M:%S.000Z)
  printf '{"eventType":"Bounce","mail":{"timestamp":"%s","messageId":"%s","source":"ops@clients.example","sendingAccountId":"%s","destination":["%s"],"tags":{}},"bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"%s","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"%s","feedbackId":"%s"}}\n' \
    "$ts" "$1" "$account" "$2" "$2" "$ts" "$1" | "$bin/sendops-ingest" replay - >/dev/null 2>&1
}
for lang in python typescript; do
  if [ $lang = python ]; then run() { PYTHONPATH=clients/python "$venv_bin/python" examples/python/poller.py "$1" --state "$2"; }
  else run() { "$tsx" examples/typescript/poller.ts "$1" "$2"; }; fi
  first=$(run sync "$work/$lang-sync.json"); echo "$lang sync: ${first:0:160}"
  again=$(run sync "$work/$lang-sync.json"); expect changed 0 "$again"
  first=$(run report "$work/$lang-report.json"); expect status 200 "$first"
  again=$(run report "$work/$lang-report.json"); expect status 304 "$again"
  late_bounce "late-$lang" "late-$lang@clients.example"
  sleep 1
  after=$(run sync "$work/$lang-sync.json"); expect changed 1 "$after"
  grep -q "late-$lang@clients.example" "$work/$lang-sync.json"
  after=$(run report "$work/$lang-report.json"); expect status 200 "$after"
  [ "$after" != "$first" ] || { echo "$lang report: the late bounce did not change the numbers" >&2; exit 1; }
  again=$(run report "$work/$lang-report.json"); expect status 304 "$again"
  echo "$lang examples: sync converges and picks up a late bounce; report revalidates (304) and sees it (200)"
done

if grep -q "ERROR" "$log"; then echo "sendops-api logged errors:"; grep "ERROR" "$log" | head -20; exit 1; fi
say "clients ok"
