#!/usr/bin/env bash
# Runs moto_server (AWS service mocks: SQS, SES, ...) from the scripts/pyenv.sh venv on loopback.
#   scripts/moto.sh start     start in the background unless it already answers; wait until it does
#   scripts/moto.sh stop      stop the server this script started (pid in .local/moto/moto.pid)
#   scripts/moto.sh status    print whether it answers (exit 1 if not)
#   scripts/moto.sh reset     drop all mocked state (POST /moto-api/reset)
#   scripts/moto.sh selftest  the SQS checks below, against the running server
# Port: $SENDOPS_MOTO_PORT (default 5055). Pid and log: .local/moto/ in the repo ($SENDOPS_MOTO_DIR).
# Point AWS SDKs at it with AWS_ENDPOINT_URL=http://127.0.0.1:5055 AWS_REGION=us-east-1
# AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing (moto accepts any credentials).
#
# Verified (moto 5.2.5, boto3 1.44, via `selftest`): GET /moto-api/ answers 200 once ready;
# CreateQueue, GetQueueUrl, SendMessage, ReceiveMessage (body and MessageAttributes round-trip,
# ApproximateReceiveCount counts receives), DeleteMessage; a queue whose RedrivePolicy names a
# DLQ with maxReceiveCount=2 hands a message out twice (receive count 1, then 2) when it is not
# deleted, and on the third ReceiveMessage the message is gone from the source queue and is in
# the DLQ (same body). With VisibilityTimeout=0 on the receive, a message is visible again at
# once, so this takes no sleeping. The state is in memory only: a restart or `reset` empties it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
dir=${SENDOPS_MOTO_DIR:-$root/.local/moto}
port=${SENDOPS_MOTO_PORT:-5055}
url="http://127.0.0.1:${port}"
pidfile="$dir/moto.pid"
logfile="$dir/moto.log"

log() { printf 'moto: %s\n' "$*" >&2; }

answers() { curl -fsS --max-time 2 -o /dev/null "$url/moto-api/" 2>/dev/null; }

our_pid() {
  # The pid from the pid file, if that process is still alive.
  [ -f "$pidfile" ] || return 1
  local pid; pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

venv_bin() { "$here/pyenv.sh" | tail -n 1; }

start() {
  if answers; then log "already answering at $url"; return 0; fi
  local bin; bin=$(venv_bin)
  [ -x "$bin/moto_server" ] || { log "no moto_server in $bin"; exit 1; }
  mkdir -p "$dir"
  if pid=$(our_pid); then
    log "pid $pid is starting or hung; waiting for it"
  else
    log "starting moto_server on $url (log: $logfile)"
    nohup "$bin/moto_server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pidfile"
  fi
  for _ in $(seq 1 120); do
    if answers; then log "ready"; return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "moto_server exited; last log lines:"; tail -n 20 "$logfile" >&2 || true
      rm -f "$pidfile"; exit 1
    fi
    sleep 0.25
  done
  log "moto_server did not answer within 30 s"; exit 1
}

stop() {
  local pid
  if pid=$(our_pid); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    log "stopped pid $pid"
  elif answers; then
    log "something answers at $url but was not started by this script; leaving it"
  fi
  rm -f "$pidfile"
}

selftest() {
  answers || { log "not answering at $url (run: $0 start)"; exit 1; }
  local bin; bin=$(venv_bin)
  MOTO_URL="$url" "$bin/python" - <<'PY'
import os, uuid
import boto3

sqs = boto3.client("sqs", endpoint_url=os.environ["MOTO_URL"], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
tag = uuid.uuid4().hex[:8]

def recv(url):
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                            AttributeNames=["ApproximateReceiveCount"],
                            MessageAttributeNames=["All"], WaitTimeSeconds=0)
    return r.get("Messages", [])

# Plain queue: send, receive, delete.
q = sqs.create_queue(QueueName=f"selftest-plain-{tag}")["QueueUrl"]
assert sqs.get_queue_url(QueueName=f"selftest-plain-{tag}")["QueueUrl"] == q
sqs.send_message(QueueUrl=q, MessageBody='{"hello":"world"}',
                 MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
[m] = recv(q)
assert m["Body"] == '{"hello":"world"}', m
assert m["MessageAttributes"]["k"]["StringValue"] == "v", m
sqs.delete_message(QueueUrl=q, ReceiptHandle=m["ReceiptHandle"])
assert recv(q) == [], "deleted message came back"

# Redrive: maxReceiveCount=2 moves a message to the DLQ after two receives without delete.
dlq = sqs.create_queue(QueueName=f"selftest-dlq-{tag}")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
src = sqs.create_queue(QueueName=f"selftest-src-{tag}", Attributes={
    "RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}'})["QueueUrl"]
sqs.send_message(QueueUrl=src, MessageBody="poison")
counts = []
for _ in range(2):
    [m] = recv(src)
    counts.append(int(m["Attributes"]["ApproximateReceiveCount"]))
assert counts == [1, 2], counts
assert recv(src) == [], "message still in the source queue after maxReceiveCount receives"
[d] = recv(dlq)
assert d["Body"] == "poison", d
for u in (q, src, dlq):
    sqs.delete_queue(QueueUrl=u)
print("moto selftest: SQS send/receive/delete and redrive to a DLQ after 2 receives: ok")
PY
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if answers; then echo "up at $url"; else echo "down"; exit 1; fi ;;
  reset) curl -fsS -X POST "$url/moto-api/reset" >/dev/null && log "state reset" ;;
  selftest) selftest ;;
  *) echo "usage: $0 start|stop|status|reset|selftest" >&2; exit 2 ;;
esac
