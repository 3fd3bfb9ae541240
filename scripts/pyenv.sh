#!/usr/bin/env bash
# Creates (if missing) the Python virtualenv for the project's test tooling and installs the
# pinned packages of scripts/requirements-test.txt into it (chdb, moto[server], schemathesis).
#
# Usage:  bin=$(scripts/pyenv.sh | tail -n 1)      # e.g. "$bin/python", "$bin/moto_server"
#         PATH="$(scripts/pyenv.sh | tail -n 1):$PATH"
# The last (and only) line on stdout is the venv's bin directory; progress goes to stderr.
# Runs from any cwd. Idempotent and fast once installed: the sha256 of requirements-test.txt
# and the venv's python version are kept in $venv/.sendops-stamp; a mismatch reinstalls.
#
# Env: SENDOPS_VENV   venv location (default: $HOME/.cache/sendops/venv)
#      SENDOPS_PYTHON interpreter to create it with (default: python3; needs >= 3.10)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
req="$here/requirements-test.txt"
venv=${SENDOPS_VENV:-${HOME:-/root}/.cache/sendops/venv}
py=${SENDOPS_PYTHON:-python3}
stamp="$venv/.sendops-stamp"

log() { printf 'pyenv: %s\n' "$*" >&2; }

[ -f "$req" ] || { log "missing $req"; exit 1; }

want() {
  # Hash of the requirements plus the interpreter version the venv was built with.
  { sha256sum "$req" | cut -d' ' -f1; "$venv/bin/python" -c 'import sys; print(sys.version)'; } 2>/dev/null
}

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(want)" ]; then
  echo "$venv/bin"
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  command -v "$py" >/dev/null || { log "no $py on PATH (set SENDOPS_PYTHON)"; exit 1; }
  log "creating virtualenv at $venv"
  mkdir -p "$(dirname "$venv")"
  if ! "$py" -m venv "$venv" >&2; then
    # Debian/Ubuntu system pythons ship venv without ensurepip in a separate package.
    log "python -m venv failed; trying to install the python3-venv package"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
      rm -rf "$venv"
      "$py" -m venv "$venv" >&2
    else
      exit 1
    fi
  fi
fi

log "installing $(grep -cE '^[A-Za-z]' "$req") pinned packages from $req"
"$venv/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip >&2
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req" >&2
# Fail here rather than later if an entry point or module is missing.
"$venv/bin/python" -c 'import chdb, moto, boto3, schemathesis' >&2
for exe in moto_server schemathesis; do
  [ -x "$venv/bin/$exe" ] || { log "$venv/bin/$exe is missing after install"; exit 1; }
done
want >"$stamp"
log "ready"
echo "$venv/bin"
