#!/usr/bin/env bash
# `make test-package`: builds the artifacts (scripts/package.sh: release build, Lambda zip, offline
# OCI images) and proves they run (infra/tests/test_package.py): the zip's bootstrap under a fake
# Lambda Runtime API against the local ClickHouse, the API image answering /v1/_health in a chroot
# of its unpacked rootfs, the poller image polling moto_server's SQS. Needs root (umoci, chroot).
# Not part of `make test`: the release build takes minutes on a small machine.
# Arguments go to scripts/package.sh (e.g. --no-build to reuse the release binaries).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sendops/target}
export CLICKHOUSE_URL=${CLICKHOUSE_URL:-http://127.0.0.1:8123}

scripts/clickhouse.sh start
venv_bin=$(scripts/pyenv.sh | tail -n 1)
scripts/moto.sh start
export SENDOPS_MOTO_URL=${SENDOPS_MOTO_URL:-http://127.0.0.1:${SENDOPS_MOTO_PORT:-5055}}

echo "== package"
scripts/package.sh "$@"
echo "== the packaged artifacts run"
"$venv_bin/python" -m pytest -q -p no:cacheprovider infra/tests/test_package.py
