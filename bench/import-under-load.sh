#!/usr/bin/env bash
# TOP latency while `tradeq import` writes into the same embedded store.
#
#   bash bench/import-under-load.sh
#
# The server (core 0) answers a paced TOP load (alibaba.xlife.onsite.trade.query, format=json,
# BENCH_IMPORT_RATE requests/s, wrk on core 1) twice for BENCH_LAT_SECS: once alone, once while a
# `tradeq import` of BENCH_IMPORT_COUNT new alipay-trade records (also on core 1) commits batch
# after batch into the server's tradeq.db. Every commit empties the server's record cache, and a
# point read that meets a lock waits at most read_busy_timeout_ms: the run reports p50/p99, errors
# (any answer without a trade_no counts as bad) and how long the import took under load.
source "$(dirname "$0")/lib/common.sh"
need wrk taskset
cleanup_server_on_exit
ensure_venv
build_tradeq

NONSITE="${BENCH_TOP_ONSITE:-10000}"
NREQ="${BENCH_TOP_REQUESTS:-10000}"
RATE="${BENCH_IMPORT_RATE:-2000}"
# Enough records that the import outlasts the measured window on a fast host (~100,000/s).
NIMPORT="${BENCH_IMPORT_COUNT:-1000000}"
PORT=$((BASE_PORT + 40))
URL="http://127.0.0.1:$PORT"
D="$WORK/import-under-load"
mkdir -p "$D"

fresh_data_dir "$D/data" 1000 "$NONSITE"
ONSITE=$(gen_file onsite-trade "$NONSITE")
# Records the store does not hold yet (another seed), so every batch really writes.
EXTRA=$(gen_file alipay-trade "$NIMPORT" 99)

load=$(wait_quiet)
log "before measuring: $load"
start_server "$D/data" "$PORT" "$SERVER_CPUS"
CREDS="$D/data/demo-credentials.json"
presign top "$CREDS" "$ONSITE" "$D/top.txt" --count "$NREQ" --method xlife --format json --spread
check='"trade_no"'
run_wrk import-load-warm "$URL" "$D/top.txt" cycle 0 "$check" "$WARM_SECS" "$CONNS" >/dev/null

alone=$(run_wrk import-load-alone "$URL" "$D/top.txt" cycle "$RATE" "$check" "$LAT_SECS" "$LAT_CONNS")
check_clean import-load-alone "$alone" || die "TOP alone had errors"

# The import starts with the measured run and is timed on its own.
(
    started=$(date +%s.%N)
    taskset -c "$CLIENT_CPUS" "$TQ" import alipay-trade "$EXTRA" --data-dir "$D/data" >"$D/import.log" 2>&1
    echo "$(date +%s.%N) $started" >"$D/import.time"
) &
IMPORT_PID=$!
during=$(run_wrk import-load-during "$URL" "$D/top.txt" cycle "$RATE" "$check" "$LAT_SECS" "$LAT_CONNS")
wait "$IMPORT_PID" || die "the import failed: $(tail -n 3 "$D/import.log")"
import_secs=$(awk '{printf "%.1f", $1 - $2}' "$D/import.time")
stop_server

errors() { echo $(($(field "$1" status) + $(field "$1" timeout) + $(field "$1" bad) + $(field "$1" read))); }
printf '\nTOP xlife json at %s req/s on core %s, %s\n' "$RATE" "$SERVER_CPUS" "$load"
printf '| %-36s | %10s | %8s | %8s | %6s |\n' "run" "answered/s" "p50 ms" "p99 ms" "errors"
printf '|%s|%s|%s|%s|%s|\n' "--------------------------------------" "------------" "----------" "----------" "--------"
for pair in "alone:$alone" "during an import of $NIMPORT records:$during"; do
    name=${pair%%:*} line=${pair#*:}
    printf '| %-36s | %10s | %8s | %8s | %6s |\n' "$name" "$(fmt_int "$(field "$line" rps)")" \
        "$(fmt_ms "$(field "$line" p50_us)")" "$(fmt_ms "$(field "$line" p99_us)")" "$(errors "$line")"
done
printf 'import: %s records in %s s under load (%s)\n' "$NIMPORT" "$import_secs" "$(tail -n 1 "$D/import.log")"
if awk -v i="$import_secs" -v w="$LAT_SECS" 'BEGIN{exit !(i < w)}'; then
    printf 'warning: the import took %s s of the %s s window, so part of the "during" run had no import beside it (raise BENCH_IMPORT_COUNT)\n' "$import_secs" "$LAT_SECS"
fi
record bench=import-under-load rate="$RATE" load="$load" import_records="$NIMPORT" import_secs="$import_secs" \
    alone_p50_us="$(field "$alone" p50_us)" alone_p99_us="$(field "$alone" p99_us)" \
    during_p50_us="$(field "$during" p50_us)" during_p99_us="$(field "$during" p99_us)" \
    during_errors="$(errors "$during")"
