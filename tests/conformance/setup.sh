#!/usr/bin/env bash
# Installs the official and community SDKs the conformance suites drive, unmodified, from the
# package registries: a Python virtualenv in tests/conformance/.venv and Node packages in
# tests/conformance/node. Idempotent; a stamp file skips the work when nothing changed.
set -euo pipefail
cd "$(dirname "$0")"
stamp_py=.venv/.tradeq-stamp
stamp_node=node/.tradeq-stamp
want_py="$(cat requirements.txt)"
want_node="$(cat node/package.json)"
if [ ! -f "$stamp_py" ] || [ "$(cat "$stamp_py")" != "$want_py" ]; then
  python3 -m venv .venv
  .venv/bin/pip install --disable-pip-version-check -q -r requirements.txt
  printf '%s' "$want_py" > "$stamp_py"
fi
if [ ! -f "$stamp_node" ] || [ "$(cat "$stamp_node")" != "$want_node" ]; then
  (cd node && npm install --no-audit --no-fund --silent)
  printf '%s' "$want_node" > "$stamp_node"
fi
