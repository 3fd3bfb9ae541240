#!/usr/bin/env bash
# `make run`: migrate, create and seed a demo org (once), create an API key, print it, serve the
# API. Expects the local ClickHouse to answer (the Makefile starts it) and the binaries built.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_local_clickhouse
export CLICKHOUSE_DATABASE=${CLICKHOUSE_DATABASE:-sendops}
export SENDOPS_API_ADDR=${SENDOPS_API_ADDR:-127.0.0.1:8080}
bin=${SENDOPS_BIN_DIR:-$CARGO_TARGET_DIR/debug}
demo_account=${SENDOPS_DEMO_ACCOUNT:-123456789012}
demo_messages=${SENDOPS_DEMO_MESSAGES:-20000}

say() { printf '\n== %s\n' "$*" >&2; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

say "migrating $CLICKHOUSE_DATABASE at $CLICKHOUSE_URL"
"$bin/sendops-admin" migrate >/dev/null

if ! "$bin/sendops-admin" org list | json "" | grep -q "'slug': 'demo'"; then
  say "creating the demo org (SES account $demo_account)"
  "$bin/sendops-admin" org create --name "Demo Org" --slug demo --aws-account "$demo_account" --plan pro >/dev/null
fi

events=$(curl -fsS "$CLICKHOUSE_URL/?database=$CLICKHOUSE_DATABASE" --data-binary "SELECT count() FROM events")
if [ "$events" = "0" ]; then
  say "seeding $demo_messages messages of realistic SES traffic over 30 days (mixed envelopes, 2% duplicates)"
  "$bin/sendops-gen" --messages "$demo_messages" --days 30 --seed 7 --account "$demo_account" \
    --envelope mixed --duplicates 0.02 | "$bin/sendops-ingest" replay -
else
  say "demo data already present ($events rows); skipping the seed"
fi

say "creating an API key for the demo org"
all_scopes="api.messages.view,api.messages.unmask_recipients,api.reports.view,api.suppressions.view,api.undeliverable.view,api.channels.view,api.templates.view,api.tracking.view,api.identities.view,api.account.view"
key=$("$bin/sendops-admin" key create --org demo --env live --name "make run $(date -u +%Y-%m-%dT%H:%M:%SZ)" --scopes "$all_scopes" | json "['key']")

cat >&2 <<MSG

SendOps API for the demo org on http://$SENDOPS_API_ADDR

  API key: $key

  curl -H "Authorization: Bearer $key" http://$SENDOPS_API_ADDR/v1/messages?limit=5
  curl -H "Authorization: Bearer $key" "http://$SENDOPS_API_ADDR/v1/reports/deliverability?group_by=week"
  curl http://$SENDOPS_API_ADDR/v1/openapi.json

MSG
echo "$key"
exec "$bin/sendops-api"
