# shellcheck shell=bash disable=SC2154 # $db is the sourcing bench's
# Shared by the scripts of scripts/ and benches/, sourced right after `set -euo pipefail`:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"               (from scripts/)
#   . "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"    (from benches/)
# Sourcing it sets `root` (the repository), makes it the working directory and exports
# CARGO_TARGET_DIR (default $HOME/.cache/sendops/target). Everything else is a function.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sendops/target}

# The venv of scripts/pyenv.sh (installed when missing): prints its bin directory.
pyenv_bin() { scripts/pyenv.sh | tail -n 1; }

# A field of the JSON object on stdin (python3), e.g. `sendops-admin key create … | json_field key`.
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# Installs a Debian package as root (through sudo when not root).
apt_install() { # package
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ---- ClickHouse -------------------------------------------------------------------------------
# Exports CLICKHOUSE_URL, default the local server of scripts/clickhouse.sh.
use_local_clickhouse() { export CLICKHOUSE_URL=${CLICKHOUSE_URL:-http://127.0.0.1:8123}; }

# One statement to $CLICKHOUSE_URL, in database $2 when given; prints the answer.
ch() { curl -fsS "$CLICKHOUSE_URL/${2:+?database=$2}" --data-binary "$1"; }
# The same in $CLICKHOUSE_DATABASE.
ch_db() { ch "$1" "$CLICKHOUSE_DATABASE"; }
drop_database() { ch "DROP DATABASE IF EXISTS $1" >/dev/null; }
database_exists() { [ "$(ch "SELECT count() FROM system.databases WHERE name = '$1'")" = 1 ]; }

# What `make test` and `make test-package` run against: the local ClickHouse (CLICKHOUSE_URL),
# the venv (sets venv_bin) and moto_server (SENDOPS_MOTO_URL).
start_test_services() {
  use_local_clickhouse
  scripts/clickhouse.sh start
  # shellcheck disable=SC2034 # for the caller
  venv_bin=$(pyenv_bin)
  scripts/moto.sh start
  export SENDOPS_MOTO_URL=${SENDOPS_MOTO_URL:-http://127.0.0.1:${SENDOPS_MOTO_PORT:-5055}}
}

# ---- the API ----------------------------------------------------------------------------------
# Waits until the API at URL answers /v1/_health, polling every 0.2 s; fails after TRIES polls
# (default 100).
wait_for_api() { # url [tries]
  local _
  for _ in $(seq 1 "${2:-100}"); do curl -fsS "$1/v1/_health" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# A newer row version of org SLUG in $CLICKHOUSE_DATABASE with PER_MINUTE requests a minute: no
# rate limit in the way of a measurement.
lift_rate_limit() { # slug per-minute
  ch_db "INSERT INTO orgs SELECT id, slug, name, plan, aws_account_id, region, $2, created_ms, updated_ms + 1 FROM orgs FINAL WHERE slug = '$1'"
}

# A fresh $CLICKHOUSE_DATABASE for a latency bench: dropped, migrated by the sendops-admin ADMIN,
# with the org `bench` (AWS account ACCOUNT, plan PLAN; sets org_id) and a live key of SCOPES
# (sets key), the org's rate limit lifted to PER_MINUTE.
# shellcheck disable=SC2034 # org_id and key are for the caller
new_bench_org() { # admin account plan scopes per-minute
  drop_database "$CLICKHOUSE_DATABASE"
  "$1" migrate >/dev/null
  org_id=$("$1" org create --name Bench --slug bench --aws-account "$2" --plan "$3" | json_field id)
  key=$("$1" key create --org bench --env live --name bench --scopes "$4" | json_field key)
  lift_rate_limit bench "$5"
}

# ---- benches ----------------------------------------------------------------------------------
# The replay benches' scratch database is their $db.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { print a - b }'; } # seconds since $(now) was $1

# Scratch database $db for the replay benches: dropped, migrated by the sendops-admin in DIR, with
# the enterprise org `bench`; exported as CLICKHOUSE_DATABASE.
fresh_bench_db() { # dir
  export CLICKHOUSE_DATABASE=$db
  ch "DROP DATABASE IF EXISTS \`$db\`" >/dev/null
  "$1/sendops-admin" migrate >/dev/null 2>&1
  "$1/sendops-admin" org create --name Bench --slug bench --aws-account 123456789012 --plan enterprise >/dev/null
}
distinct_events() { ch "SELECT uniqExact(event_id) FROM \`$db\`.events"; }

# The store's ceiling for the rows of $db.events: dump_events ROWS DIR writes them as RowBinary in
# `chunks` (set here) files DIR/ceiling.N.bin, of about the size one replay batch inserts (50,000
# records ≈ 55,000 rows); insert_events DIR inserts them again, one after the other.
dump_events() { # rows dir
  local i
  chunks=$((($1 + 54999) / 55000))
  for ((i = 0; i < chunks; i++)); do
    ch "SELECT * FROM \`$db\`.events WHERE cityHash64(toString(event_id)) % $chunks = $i FORMAT RowBinary" >"$2/ceiling.$i.bin"
  done
}
insert_events() { # dir
  local i
  for ((i = 0; i < chunks; i++)); do
    curl -fsS "$CLICKHOUSE_URL/?query=$(jq -rn --arg q "INSERT INTO \`$db\`.events FORMAT RowBinary" '$q|@uri')" \
      --data-binary @"$1/ceiling.$i.bin" >/dev/null
  done
}
