#!/usr/bin/env bash
# A local ClickHouse test cluster on loopback: Debian's ZooKeeper and SHARDS × REPLICAS
# clickhouse-server processes, the cluster named `sendops` in every node's remote_servers.
#   scripts/cluster.sh start    install what is missing (zookeeper, clickhouse-server), start all
#   scripts/cluster.sh stop     stop everything this script started
#   scripts/cluster.sh status   one line per process
#   scripts/cluster.sh urls     the nodes' HTTP URLs, one per line (shard-major order)
#   scripts/cluster.sh stop-node N / start-node N   stop or restart node N (1-based, urls order)
# Shape: SENDOPS_CLUSTER_SHARDS (default 2) × SENDOPS_CLUSTER_REPLICAS (default 2). Ports: node
# N serves HTTP on SENDOPS_CLUSTER_HTTP_BASE+N (default 8130+N), native on 9130+N, interserver on
# 9230+N; ZooKeeper on SENDOPS_ZK_PORT (default 2191). Everything lives under $SENDOPS_CLUSTER_DIR
# (default .local/cluster in the repo). Node N's macros: shard = 0S (its shard), replica = sSrR.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${SENDOPS_CLUSTER_DIR:-$root/.local/cluster}
shards=${SENDOPS_CLUSTER_SHARDS:-2}
replicas=${SENDOPS_CLUSTER_REPLICAS:-2}
http_base=${SENDOPS_CLUSTER_HTTP_BASE:-8130}
tcp_base=${SENDOPS_CLUSTER_TCP_BASE:-9130}
inter_base=${SENDOPS_CLUSTER_INTERSERVER_BASE:-9230}
zk_port=${SENDOPS_ZK_PORT:-2191}
nodes=$((shards * replicas))

log() { printf 'cluster: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to install packages: run '$*' as root"; exit 1; fi
}

install() {
  "$root/scripts/clickhouse.sh" install
  if [ ! -f /usr/share/java/zookeeper.jar ]; then
    log "installing Debian's zookeeper"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
  fi
}

server_bin() {
  for b in /usr/sbin/clickhouse-server /usr/bin/clickhouse-server /usr/bin/clickhouse; do
    [ -x "$b" ] && { echo "$b"; return 0; }
  done
  return 1
}

# Serving, not just running: `ruok` answers `imok` before the database is loaded (a node that
# starts then fails its ZooKeeper handshake and exits); `srvr` names the mode only once serving.
zk_answers() { echo srvr | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$zk_port; cat >&3; cat <&3" 2>/dev/null | grep -q '^Mode: '; }

start_zk() {
  if zk_answers; then return 0; fi
  mkdir -p "$dir/zk/data" "$dir/zk/log"
  cat >"$dir/zk/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/zk/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
maxClientCnxns=0
CFG
  local cp="/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
  nohup java -Xmx256m -Dzookeeper.log.dir="$dir/zk/log" -Dzookeeper.root.logger=WARN,CONSOLE \
    -cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zk/zoo.cfg" \
    >"$dir/zk/log/stdout.log" 2>&1 &
  echo $! >"$dir/zk/pid"
  for _ in $(seq 1 60); do
    zk_answers && { log "zookeeper ready on 127.0.0.1:$zk_port"; return 0; }
    kill -0 "$(cat "$dir/zk/pid")" 2>/dev/null || { log "zookeeper exited:"; tail -20 "$dir/zk/log/stdout.log" >&2; exit 1; }
    sleep 0.5
  done
  log "zookeeper did not answer within 30 s"; exit 1
}

remote_servers() {
  local s r n=0
  for ((s = 1; s <= shards; s++)); do
    echo "            <shard><internal_replication>true</internal_replication>"
    for ((r = 1; r <= replicas; r++)); do
      n=$((n + 1))
      echo "                <replica><host>127.0.0.1</host><port>$((tcp_base + n))</port></replica>"
    done
    echo "            </shard>"
  done
}

node_dir() { echo "$dir/node$1"; }
node_url() { echo "http://127.0.0.1:$((http_base + $1))"; }
node_answers() { curl -fsS --max-time 2 "$(node_url "$1")/ping" >/dev/null 2>&1; }

write_node() { # n shard replica
  local n=$1 d; d=$(node_dir "$1")
  mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/log" "$d/format_schemas" "$d/config.d"
  sed -e "s#@DIR@#$d#g" -e "s#@HTTP_PORT@#$((http_base + n))#g" -e "s#@TCP_PORT@#$((tcp_base + n))#g" \
    "$root/infra/clickhouse/config.xml" >"$d/config.xml"
  cp "$root/infra/clickhouse/users.xml" "$d/users.xml"
  local servers; servers=$(remote_servers)
  awk -v servers="$servers" '{ if ($0 ~ /@REMOTE_SERVERS@/) print servers; else print }' \
    "$root/infra/clickhouse/cluster/cluster.xml" |
    sed -e "s#@SHARD@#$(printf %02d "$2")#g" -e "s#@REPLICA@#s$2r$3#g" \
      -e "s#@INTERSERVER_PORT@#$((inter_base + n))#g" -e "s#@ZK_PORT@#$zk_port#g" \
      >"$d/config.d/cluster.xml"
}

start_node() { # n
  local n=$1 d; d=$(node_dir "$n")
  if node_answers "$n"; then return 0; fi
  local shard=$(((n - 1) / replicas + 1)) replica=$(((n - 1) % replicas + 1))
  write_node "$n" "$shard" "$replica"
  nohup "$(server_bin)" --config-file="$d/config.xml" >"$d/log/stdout.log" 2>&1 &
  echo $! >"$d/pid"
}

wait_node() {
  local n=$1 d; d=$(node_dir "$1")
  for _ in $(seq 1 120); do
    node_answers "$n" && return 0
    kill -0 "$(cat "$d/pid")" 2>/dev/null || { log "node $n exited:"; tail -20 "$d/log/server.err.log" >&2; exit 1; }
    sleep 0.5
  done
  log "node $n did not answer within 60 s"; exit 1
}

stop_pid() { # pidfile
  [ -f "$1" ] || return 0
  local p; p=$(cat "$1")
  kill "$p" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$p" 2>/dev/null || true
  rm -f "$1"
}

start() {
  install
  mkdir -p "$dir"
  start_zk
  local n
  for ((n = 1; n <= nodes; n++)); do start_node "$n"; done
  for ((n = 1; n <= nodes; n++)); do wait_node "$n"; done
  log "$nodes nodes ready ($shards shards × $replicas replicas, cluster 'sendops'): $(urls | tr '\n' ' ')"
}

stop() {
  local n
  for ((n = 1; n <= nodes; n++)); do stop_pid "$(node_dir "$n")/pid"; done
  stop_pid "$dir/zk/pid"
}

urls() { local n; for ((n = 1; n <= nodes; n++)); do node_url "$n"; done; }

status() {
  local n rc=0
  if zk_answers; then echo "zookeeper up on 127.0.0.1:$zk_port"; else echo "zookeeper down"; rc=1; fi
  for ((n = 1; n <= nodes; n++)); do
    if node_answers "$n"; then echo "node $n up at $(node_url "$n")"; else echo "node $n down"; rc=1; fi
  done
  return $rc
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  urls) urls ;;
  install) install ;;
  stop-node) stop_pid "$(node_dir "${2:?node number}")/pid" ;;
  start-node) start_node "${2:?node number}"; wait_node "$2" ;;
  *) echo "usage: $0 start|stop|status|urls|install|stop-node N|start-node N" >&2; exit 2 ;;
esac
