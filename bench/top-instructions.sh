#!/usr/bin/env bash
# Instructions per TOP EDI JSON answer, and per Alipay v2 poll (valgrind --tool=callgrind): a
# count, not a time, so it repeats on a busy host and suits before/after claims of small changes.
#
#   bash bench/top-instructions.sh
#
# The release binary runs under callgrind on a store of BENCH_V2_TRADES (100,000) generated
# trades. Per case: start the server, send the warming requests, zero the counters
# (`callgrind_control -z`), send BENCH_INSTR_N (2,000) requests of distinct trades one after
# another on one keep-alive connection, dump the counters (`callgrind_control -d`). The figure is
# the dump's instructions (every thread of the server) divided by N; the client is another
# process and not counted. Cases (BENCH_INSTR_CASES, default "warm cold miss"):
#   warm  default record cache; the N requests were sent once before: every lookup is a hit.
#   cold  record_cache_entries = 0: every lookup reads SQLite and decodes the stored document.
#   miss  default record cache, full of BENCH_INSTR_OTHERS (20,000) other trades asked before:
#         every lookup misses, reads, decodes, and its record is inserted (evicting another).
#   v2-poll  `/gateway.do` alipay.trade.query, N polls of one trade, each signed anew (a polling
#         client, bench/alipay-v2.sh case (b)): the request's RSA verification every time, the
#         answer's signature from the cache (warmed by 200 polls first).
# One request at a time is not wrk's 32 connections (no batching of wake-ups), so the counts are
# for comparing builds, not for dividing a core's speed by. Annotated profiles (inclusive, per
# function) go to RESULTS_DIR/callgrind-top-CASE.txt.
source "$(dirname "$0")/lib/common.sh"
need valgrind callgrind_control callgrind_annotate
ensure_venv
build_tradeq

NTRADES="${BENCH_V2_TRADES:-100000}"
N="${BENCH_INSTR_N:-2000}"
OTHERS="${BENCH_INSTR_OTHERS:-20000}"
CASES="${BENCH_INSTR_CASES:-warm cold miss}"
PORT=$((BASE_PORT + 60))
URL="http://127.0.0.1:$PORT"
D="$WORK/top-instructions"
mkdir -p "$D"

VG_PID=
stop_vg() {
    if [ -n "$VG_PID" ] && kill -0 "$VG_PID" 2>/dev/null; then
        kill "$VG_PID" 2>/dev/null || true
        wait "$VG_PID" 2>/dev/null || true
    fi
    VG_PID=
}
trap 'stop_vg; stop_server' EXIT INT TERM

start_vg() { # CONFIG
    port_free "$PORT" || die "port $PORT is in use"
    rm -f "$D/data/demo-credentials.json" "$D"/cg.*
    valgrind --tool=callgrind --callgrind-out-file="$D/cg.%p" \
        "$TQ" serve --demo --data-dir "$D/data" --config "$1" \
        --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$((PORT + 1))" \
        >"$D/server.log" 2>&1 &
    VG_PID=$!
    local i
    for i in $(seq 1 600); do
        if [ -s "$D/data/demo-credentials.json" ] && ! port_free "$PORT"; then return 0; fi
        kill -0 "$VG_PID" 2>/dev/null || break
        sleep 0.5
    done
    cat "$D/server.log" >&2
    die "tradeq did not start under valgrind"
}

fresh_data_dir "$D/data" "$NTRADES" 0
ALIPAY=$(gen_file alipay-trade "$NTRADES")
printf 'top_timestamp_window_secs = 86400\n' >"$D/default.toml"
printf 'top_timestamp_window_secs = 86400\nrecord_cache_entries = 0\n' >"$D/off.toml"

# Requests: N measured ones, then OTHERS more (distinct trades, random order). The first start
# creates the demo credentials (RSA key generation, far too slow under valgrind): natively.
start_server "$D/data" "$PORT" "$SERVER_CPUS" --config "$D/default.toml"
presign top "$D/data/demo-credentials.json" "$ALIPAY" "$D/all.txt" --count $((N + OTHERS)) \
    --method edi --format json --spread
case " $CASES " in *" v2-poll "*)
    presign v2 "$D/data/demo-credentials.json" "$ALIPAY" "$D/v2-poll.txt" --count "$N" --same ;;
esac
stop_server
head -n "$N" "$D/all.txt" >"$D/measured.txt"
tail -n +"$((N + 1))" "$D/all.txt" >"$D/others.txt"

printf '\nInstructions per answer (callgrind, %s answers one at a time, store of %s trades, commit %s)\n' \
    "$N" "$NTRADES" "$(cat "$WORK/bin/commit")" >"$D/table.txt"
for case in $CASES; do
    case $case in
        warm) conf=default warm="$D/measured.txt" nwarm=$N ;;
        cold) conf=off warm="$D/others.txt" nwarm=200 ;;
        miss) conf=default warm="$D/others.txt" nwarm=$OTHERS ;;
        v2-poll) conf=default warm="$D/v2-poll.txt" nwarm=200 ;;
        *) die "unknown case $case (warm, cold, miss, v2-poll)" ;;
    esac
    measured="$D/measured.txt" check='"trade_no"'
    if [ "$case" = v2-poll ]; then measured="$D/v2-poll.txt" check='"code":"10000"'; fi
    start_vg "$D/$conf.toml"
    presign replay "$URL" "$warm" --n "$nwarm" --check "$check" >/dev/null
    callgrind_control -z "$VG_PID" >/dev/null
    presign replay "$URL" "$measured" --n "$N" --check "$check" >/dev/null
    callgrind_control -d "$VG_PID" >/dev/null
    sleep 1
    out=$(ls -t "$D"/cg.*.* 2>/dev/null | sed -n 1p)
    [ -n "$out" ] || die "callgrind wrote no dump"
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
    callgrind_annotate --inclusive=yes "$out" >"$RESULTS_DIR/callgrind-top-$case.txt" 2>/dev/null || true
    cp "$out" "$RESULTS_DIR/callgrind-top-$case.out"
    stop_vg
    per=$(awk -v t="$total" -v n="$N" 'BEGIN{printf "%d", t / n}')
    log "$case: $total instructions for $N answers: $per per answer"
    record bench=top-instructions method="$case" answers="$N" instructions="$total" per_answer="$per"
    printf '| %-5s | %12s instructions per answer |\n' "$case" "$per" >>"$D/table.txt"
done
cat "$D/table.txt"
