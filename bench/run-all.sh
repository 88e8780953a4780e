#!/usr/bin/env bash
# Every benchmark, in order, then one results table (the one BENCHMARKS.md quotes).
#
#   bash bench/run-all.sh
#
# Takes about 40 minutes on the 2-core reference machine (more with BENCH_SIZES including
# 10000000, or when it has to wait for the machine to become quiet). Knobs (environment):
#   BENCH_PEAK_SECS, BENCH_LAT_SECS, BENCH_WARM_SECS  run lengths (15, 15, 3)
#   BENCH_CONNS, BENCH_LAT_CONNS                      connections (32 closed loop, 16 paced)
#   BENCH_SIZES                                       store sizes ("10000 1000000")
#   BENCH_SIZE_BACKENDS                               stores measured by size ("sqlite postgres";
#                                                     "sqlite" when BENCH_PG is "")
#   BENCH_TOP_WORKING_SETS, BENCH_CURVE_MODES         TOP curve points ("1000 10000 100000 1000000",
#                                                     "warm cold default")
#   BENCH_MAX_LOAD, BENCH_MAX_WAIT_SECS               wait for 1-min load < 0.5, at most 900 s in all
#   BENCH_NICE                                        priority of every benchmark process (e.g. -15,
#                                                     root; run under `setsid`): for a shared host
#   BENCH_SKIP_BUILD=1                                reuse the last snapshot of the binary
#   BENCH_WORK                                        scratch dir (/tmp/tradeq-bench)
#   BENCH_PG                                          PostgreSQL URL without db, "" to skip
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
bash "$BENCH_DIR/setup.sh"
# shellcheck source=lib/common.sh
source "$BENCH_DIR/lib/common.sh"
build_tradeq
export BENCH_SKIP_BUILD=1 # built once above: every script measures the same binary
# One budget for waiting for a quiet machine, shared by all the scripts.
export BENCH_WAIT_DEADLINE=$(($(date +%s) + MAX_WAIT_SECS))

if [ -s "$RESULTS_DIR/summary.jsonl" ]; then
    mv "$RESULTS_DIR/summary.jsonl" "$RESULTS_DIR/summary-$(date +%Y%m%d-%H%M%S).jsonl"
fi
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(cat "$WORK/bin/commit")"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
    echo "memory: $(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "kernel: $(uname -r)"
    echo "openssl: $(openssl version)"
    echo "tools: $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2); $(nginx -v 2>&1); $(hyperfine --version)"
} >"$RESULTS_DIR/machine.txt"
cat "$RESULTS_DIR/machine.txt"

if [ -n "${BENCH_PG-postgres://postgres@127.0.0.1:5432}" ]; then
    export BENCH_SIZE_BACKENDS="${BENCH_SIZE_BACKENDS:-sqlite postgres}"
fi
for script in rsa-ceiling alipay-v2 alipay-v3 top top-curve import store-size; do
    log "=== $script"
    bash "$BENCH_DIR/$script.sh"
done
if [ -n "${BENCH_PG-postgres://postgres@127.0.0.1:5432}" ]; then
    log "=== pg-vs-sqlite"
    bash "$BENCH_DIR/pg-vs-sqlite.sh"
fi

echo
echo "Summary ($RESULTS_DIR/summary.jsonl):"
python3 "$BENCH_DIR/lib/summary.py" "$RESULTS_DIR/summary.jsonl"
