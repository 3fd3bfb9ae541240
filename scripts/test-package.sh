#!/usr/bin/env bash
# `make test-package`: builds the artifacts (scripts/package.sh: release build, Lambda zip, offline
# OCI images) and proves they run (infra/tests/test_package.py): the zip's bootstrap under a fake
# Lambda Runtime API against the local ClickHouse, the API image answering /v1/_health in a chroot
# of its unpacked rootfs, the poller image polling moto_server's SQS. Needs root (umoci, chroot).
# Not part of `make test`: the release build takes minutes on a small machine.
# Arguments go to scripts/package.sh (e.g. --no-build to reuse the release binaries).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_test_services

echo "== package"
scripts/package.sh "$@"
echo "== the packaged artifacts run"
"$venv_bin/python" -m pytest -q -p no:cacheprovider infra/tests/test_package.py
