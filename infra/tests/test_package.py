"""The artifacts of `make package` (scripts/package.sh) run: the Lambda zip's `bootstrap` under a
fake Lambda Runtime API, and the offline OCI images unpacked with umoci and started in a chroot.

Run by `make test-package` (scripts/test-package.sh), after scripts/package.sh. Needs root (umoci
unpack and chroot as uid 10001), the local ClickHouse (CLICKHOUSE_URL) and moto_server
(SENDOPS_MOTO_URL); the script starts both.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("SENDOPS_DIST", ROOT / ".local" / "dist"))
CLICKHOUSE_URL = os.environ.get("CLICKHOUSE_URL", "http://127.0.0.1:8123")
MOTO_URL = os.environ.get("SENDOPS_MOTO_URL", "http://127.0.0.1:5055")
ACCOUNT = "123456789012"
DOWN = "http://127.0.0.1:1"  # nothing listens on port 1
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"  # run with the image's PATH, not ours

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="umoci unpack and chroot need root")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clickhouse(sql: str) -> str:
    req = urllib.request.Request(CLICKHOUSE_URL + "/", data=sql.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


# ---- the Lambda zip ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory) -> Path:
    """The zip's only entry, extracted with its mode, as Lambda does into /var/task."""
    zpath = DIST / "sendops-ingest-lambda-x86_64.zip"
    assert zpath.is_file(), f"{zpath} missing: run scripts/package.sh"
    with zipfile.ZipFile(zpath) as z:
        [info] = z.infolist()
        assert info.filename == "bootstrap"
        assert (info.external_attr >> 16) & 0o777 == 0o755
        task = tmp_path_factory.mktemp("task")
        z.extract(info, task)
    path = task / "bootstrap"
    path.chmod(0o755)
    return path


class FakeRuntime:
    """The Lambda Runtime API (2018-06-01): hands out the queued events, records the answers."""

    def __init__(self, events):
        self.events = list(events)
        self.answers = []
        self.lock = threading.Lock()
        rt = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    self.send_error(404)
                    return
                while True:
                    with rt.lock:
                        item = rt.events.pop(0) if rt.events else None
                        n = len(rt.answers) + len(rt.events)
                    if item is not None:
                        break
                    time.sleep(0.02)
                body = json.dumps(item).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", f"req-{n}")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sendops-ingest")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                parts = self.path.split("/")
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                with rt.lock:
                    rt.answers.append((parts[-2], parts[-1], body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addr = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()


def invoke(bootstrap: Path, event: dict, env: dict) -> tuple[str, dict]:
    """Runs `bootstrap` as Lambda does (cwd /var/task, a bare environment) for one event."""
    rt = FakeRuntime([event])
    lambda_env = {
        "AWS_LAMBDA_RUNTIME_API": rt.addr,
        "AWS_LAMBDA_FUNCTION_NAME": "sendops-ingest",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(bootstrap.parent),
        "PATH": "/usr/local/bin:/usr/bin/:/bin",
        **env,
    }
    proc = subprocess.Popen([str(bootstrap)], cwd=bootstrap.parent, env=lambda_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with rt.lock:
                if rt.answers:
                    break
            assert proc.poll() is None, f"bootstrap exited: {proc.stdout.read().decode()}"
            time.sleep(0.05)
        else:
            pytest.fail("bootstrap posted no answer within 60 s")
        # After answering, the runtime loop asks for the next invocation and waits: still alive.
        time.sleep(0.3)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
        rt.close()
    [(request_id, kind, body)] = rt.answers
    assert request_id == "req-0"
    return kind, json.loads(body)


def sqs_event(bodies: list[str]) -> dict:
    return {"Records": [
        {"messageId": f"msg-{i}", "receiptHandle": f"rh-{i}", "body": b, "attributes": {},
         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
         "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:sendops-events", "awsRegion": "us-east-1"}
        for i, b in enumerate(bodies)]}


def ses_event() -> str:
    return (ROOT / "fixtures" / "samples" / "event-delivery.json").read_text()


def test_bootstrap_reports_every_record_while_the_store_is_down(bootstrap):
    kind, answer = invoke(bootstrap, sqs_event([ses_event(), "not json"]),
                          {"CLICKHOUSE_URL": DOWN})
    assert kind == "response"
    assert answer == {"batchItemFailures": [{"itemIdentifier": "msg-0"},
                                            {"itemIdentifier": "msg-1"}]}


@pytest.fixture
def database():
    """A migrated database with one org for ACCOUNT, made by the packaged sendops-admin."""
    name = f"sendops_test_pkg_{uuid.uuid4().hex[:12]}"
    admin = str(DIST / "bin" / "x86_64" / "sendops-admin")
    env = {**os.environ, "CLICKHOUSE_URL": CLICKHOUSE_URL, "CLICKHOUSE_DATABASE": name}
    subprocess.run([admin, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([admin, "org", "create", "--name", "Package test", "--slug", "pkg",
                    "--aws-account", ACCOUNT], env=env, check=True, capture_output=True)
    yield name
    clickhouse(f"DROP DATABASE IF EXISTS `{name}`")


def test_bootstrap_stores_a_batch_and_quarantines_poison(bootstrap, database):
    kind, answer = invoke(bootstrap, sqs_event([ses_event(), "not json"]),
                          {"CLICKHOUSE_URL": CLICKHOUSE_URL, "CLICKHOUSE_DATABASE": database})
    assert kind == "response"
    assert answer == {"batchItemFailures": []}
    assert clickhouse(f"SELECT count() FROM `{database}`.events").strip() == "1"
    assert clickhouse(f"SELECT reason FROM `{database}`.quarantine").strip() == "invalid_json"


# ---- the OCI images ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    """umoci unpack of each tag: (rootfs, OCI runtime config) as a container runtime gets them."""
    assert shutil.which("umoci"), "umoci missing: run scripts/package.sh"
    out = {}
    for tag in ("api", "poller"):
        bundle = tmp_path_factory.mktemp("bundle") / tag
        subprocess.run(["umoci", "unpack", "--image", f"{DIST / 'oci'}:{tag}", str(bundle)],
                       check=True, capture_output=True)
        out[tag] = (bundle / "rootfs", json.loads((bundle / "config.json").read_text()))
    return out


def chroot_cmd(rootfs: Path, config: dict, args: list[str]) -> list[str]:
    user = config["process"]["user"]
    return [CHROOT, f"--userspec={user['uid']}:{user['gid']}", str(rootfs), *args]


def image_env(config: dict, **overrides) -> dict:
    env = dict(e.split("=", 1) for e in config["process"]["env"])
    env.update(overrides)
    return env


def test_images_run_as_uid_10001_with_the_api_address_set(unpacked):
    for tag in ("api", "poller"):
        rootfs, config = unpacked[tag]
        assert config["process"]["user"]["uid"] == 10001, tag
        assert config["process"]["user"]["gid"] == 10001, tag
        assert (rootfs / "etc/ssl/certs/ca-certificates.crt").stat().st_size > 100_000
    _, api = unpacked["api"]
    assert image_env(api)["SENDOPS_API_ADDR"] == "0.0.0.0:8080"
    assert api["process"]["args"] == ["sendops-api"]
    _, poller = unpacked["poller"]
    assert poller["process"]["args"] == ["sendops-ingest", "poll"]


def test_api_image_answers_health_and_its_healthcheck_passes(unpacked):
    rootfs, config = unpacked["api"]
    port = free_port()
    # Loopback and a free port instead of 0.0.0.0:8080, which `make run` may hold here.
    env = image_env(config, SENDOPS_API_ADDR=f"127.0.0.1:{port}", CLICKHOUSE_URL=DOWN,
                    SENDOPS_COMMIT="package-test", SENDOPS_REPORT_PREPARE_SECONDS="0")
    proc = subprocess.Popen(chroot_cmd(rootfs, config, config["process"]["args"]), env=env,
                            cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        body = None
        deadline = time.time() + 30
        while time.time() < deadline and body is None:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/_health", timeout=2) as r:
                    assert r.status == 200
                    body = json.loads(r.read())
            except OSError:
                time.sleep(0.1)
        assert body is not None, "no answer on /v1/_health within 30 s"
        assert body["status"] == "ok" and body["commit"] == "package-test"
        # The image's health check script (the ECS task definition's HealthCheck), in the image.
        ok = subprocess.run(chroot_cmd(rootfs, config, ["/usr/local/bin/healthcheck"]), env=env)
        assert ok.returncode == 0
        wrong = subprocess.run(chroot_cmd(rootfs, config, ["/usr/local/bin/healthcheck"]),
                               env={**env, "SENDOPS_API_ADDR": f"127.0.0.1:{free_port()}"},
                               capture_output=True)
        assert wrong.returncode != 0
        # The admin CLI shipped in the same image starts too.
        admin = subprocess.run(chroot_cmd(rootfs, config, ["sendops-admin", "--version"]),
                               env=env, capture_output=True, text=True)
        assert admin.returncode == 0 and admin.stdout.startswith("sendops-admin"), admin
    finally:
        proc.terminate()  # SIGTERM, as ECS stops a task
        try:
            assert proc.wait(timeout=15) == 0
        finally:
            proc.kill()


def test_poller_image_runs_the_poll_loop_against_sqs(unpacked):
    import boto3

    rootfs, config = unpacked["poller"]
    sqs = boto3.client("sqs", endpoint_url=MOTO_URL, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    queue = sqs.create_queue(QueueName=f"package-test-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    try:
        env = image_env(config, CLICKHOUSE_URL=DOWN, AWS_REGION="us-east-1",
                        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        args = config["process"]["args"] + ["--queue-url", queue, "--endpoint-url", MOTO_URL,
                                            "--until-empty", "--wait-time-seconds", "0"]
        run = subprocess.run(chroot_cmd(rootfs, config, args), env=env, cwd="/",
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        summary = json.loads(run.stdout.strip().splitlines()[-1])
        assert isinstance(summary, dict), run.stdout
    finally:
        sqs.delete_queue(QueueUrl=queue)
