#!/usr/bin/env bash
# Installs (when missing) and runs a project-local ClickHouse server on loopback.
#   scripts/clickhouse.sh start   install if needed, start, wait until it answers
#   scripts/clickhouse.sh stop    stop the server this script started
#   scripts/clickhouse.sh status  print whether it answers
# Data, logs and config live under $SENDOPS_CH_DIR (default: .local/clickhouse in the repo).
# The HTTP port is $SENDOPS_CH_HTTP_PORT (default 8123), the native port $SENDOPS_CH_TCP_PORT (9000).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${SENDOPS_CH_DIR:-$root/.local/clickhouse}
http_port=${SENDOPS_CH_HTTP_PORT:-8123}
tcp_port=${SENDOPS_CH_TCP_PORT:-9000}
url="http://127.0.0.1:${http_port}"

log() { printf 'clickhouse: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to install packages: run '$*' as root"; exit 1; fi
}

server_bin() {
  for b in /usr/sbin/clickhouse-server /usr/bin/clickhouse-server /usr/bin/clickhouse; do
    [ -x "$b" ] && { echo "$b"; return 0; }
  done
  command -v clickhouse-server 2>/dev/null || return 1
}

install() {
  if server_bin >/dev/null; then return 0; fi
  log "installing Debian's clickhouse-server"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
  server_bin >/dev/null || { log "clickhouse-server is still missing after apt-get install"; exit 1; }
}

answers() { curl -fsS --max-time 2 "$url/ping" >/dev/null 2>&1; }

write_config() {
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/log" "$dir/format_schemas"
  sed -e "s#@DIR@#$dir#g" -e "s#@HTTP_PORT@#$http_port#g" -e "s#@TCP_PORT@#$tcp_port#g" \
    "$root/infra/clickhouse/config.xml" >"$dir/config.xml"
  cp "$root/infra/clickhouse/users.xml" "$dir/users.xml"
}

start() {
  if answers; then log "already answering at $url"; return 0; fi
  install
  write_config
  local bin; bin=$(server_bin)
  log "starting $bin on $url (data in $dir)"
  # The server refuses to run as root with files owned by someone else; everything here is ours.
  nohup "$bin" --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 &
  echo $! >"$dir/server.pid"
  for _ in $(seq 1 120); do
    if answers; then log "ready"; return 0; fi
    if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
      log "server exited; last log lines:"; tail -n 30 "$dir/log/stdout.log" "$dir/log/server.err.log" 2>/dev/null >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  log "server did not answer within 60 s"; exit 1
}

stop() {
  if [ -f "$dir/server.pid" ]; then
    kill "$(cat "$dir/server.pid")" 2>/dev/null || true
    rm -f "$dir/server.pid"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if answers; then echo "up at $url"; else echo "down"; exit 1; fi ;;
  install) install ;;
  *) echo "usage: $0 start|stop|status|install" >&2; exit 2 ;;
esac
