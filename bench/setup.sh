#!/usr/bin/env bash
# Installs what the benchmarks need: wrk, nginx and hyperfine from Debian, and a Python venv
# (bench/.venv, git-ignored) with `cryptography` for pre-signing requests.
#
#   bash bench/setup.sh
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v taskset >/dev/null || missing+=(util-linux)
command -v openssl >/dev/null || missing+=(openssl)
command -v psql >/dev/null || missing+=(postgresql-client)
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
if [ ! -x "$BENCH_DIR/.venv/bin/python" ]; then
    python3 -m venv "$BENCH_DIR/.venv"
fi
"$BENCH_DIR/.venv/bin/pip" install -q -r "$BENCH_DIR/requirements.txt"
echo "bench tools ready: $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), $(nginx -v 2>&1), $(hyperfine --version)"
