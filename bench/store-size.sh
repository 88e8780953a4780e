#!/usr/bin/env bash
# Query latency vs store size (BENCHMARKS.md: flat from 10⁴ to 10⁷ records).
#
#   bash bench/store-size.sh                       # 10⁴ and 10⁶ records
#   BENCH_SIZES="10000 1000000 10000000" bash bench/store-size.sh   # + 10⁷ (~10 min more, 8 GB)
#
# One fresh SQLite store per size N (N generated alipay-trade records) and one tradeq per store,
# all pinned to core 0 (only the one being measured is busy), wrk on core 1. Requests ask trades
# sampled uniformly from all N (so big stores are really searched, not just their first pages),
# each v2 request a different trade (no signature-cache hits). The sizes are measured in
# alternating rounds (BENCH_SIZE_ROUNDS, median reported), so that drift in the machine's speed
# does not masquerade as an effect of size. Per round and size, at the same fixed offered load
# for every N: v2 p50/p99 at BENCH_SIZE_V2_RATE answers/s, TOP EDI p50/p99 at
# BENCH_SIZE_TOP_RATE answers/s (both well below the peaks), and the TOP EDI closed-loop peak.
source "$(dirname "$0")/lib/common.sh"
need wrk taskset
ensure_venv
build_tradeq

SIZES="${BENCH_SIZES:-10000 1000000}"
V2_RATE="${BENCH_SIZE_V2_RATE:-500}"
TOP_RATE="${BENCH_SIZE_TOP_RATE:-2000}"
SECS="${BENCH_SIZE_SECS:-6}"
ROUNDS="${BENCH_SIZE_ROUNDS:-3}"
D="$WORK/size"
mkdir -p "$D"
rm -f "$D/rounds.txt"

declare -A PIDS PORTS MODE
stop_all() {
    local n
    for n in "${!PIDS[@]}"; do
        SERVER_PID=${PIDS[$n]}
        stop_server
    done
}
trap stop_all EXIT INT TERM

# 1. Stores (imported before anything is measured).
declare -A DBMB IMPORT
for n in $SIZES; do
    # Stores of a million records and more are imported straight into their data dir (no
    # template copy) unless BENCH_KEEP=1 keeps a template for a re-run.
    t0=$(date +%s.%N)
    if [ "$n" -ge 1000000 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        BENCH_NO_TEMPLATE=1 fresh_data_dir "$D/data-$n" "$n" 0
    else
        fresh_data_dir "$D/data-$n" "$n" 0
    fi
    DBMB[$n]=$(( $(du -sb "$D/data-$n" | cut -f1) / 1000000 ))
    log "$n records: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b - a}') s to prepare, ${DBMB[$n]} MB"
done

# 2. One server per store, requests pre-signed for each.
load=$(wait_quiet)
log "before measuring: $load"
i=0
for n in $SIZES; do
    port=$((BASE_PORT + 30 + 2 * i))
    i=$((i + 1))
    start_server "$D/data-$n" "$port"
    PIDS[$n]=$SERVER_PID
    PORTS[$n]=$port
    creds="$D/data-$n/demo-credentials.json"
    trades=$(gen_file alipay-trade "$n")
    nv2=$(( V2_RATE * SECS * ROUNDS * 12 / 10 + 200 ))
    [ "$nv2" -le "$n" ] || nv2=$n
    # Each v2 request of the whole measurement asks a different trade when the store is big
    # enough; otherwise requests repeat and the signature cache helps (flagged in the table).
    MODE[$n]=once
    [ $(( (nv2 - 3) / ROUNDS )) -ge $(( V2_RATE * SECS * 105 / 100 )) ] || MODE[$n]=cycle
    presign v2 "$creds" "$trades" "$D/v2-$n.txt" --count "$nv2" --spread
    presign top "$creds" "$trades" "$D/top-$n.txt" --count 20000 --method edi --format json --spread
    presign probe "http://127.0.0.1:$port" "$D/top-$n.txt" top-json --n 3 >/dev/null
    presign probe "http://127.0.0.1:$port" "$D/v2-$n.txt" v2 --creds "$creds" --n 3 >/dev/null
    # v2 requests are used once each across the rounds: split them per round.
    per=$(( ($(wc -l <"$D/v2-$n.txt") - 3) / ROUNDS ))
    for r in $(seq 1 "$ROUNDS"); do
        sed -n "$((4 + (r - 1) * per)),$((3 + r * per))p" "$D/v2-$n.txt" >"$D/v2-$n-r$r.txt"
    done
    run_wrk "size-$n-warm" "http://127.0.0.1:$port" "$D/top-$n.txt" cycle 0 '"trade_no"' "$WARM_SECS" "$CONNS" >/dev/null
done

# 3. Alternating rounds.
for r in $(seq 1 "$ROUNDS"); do
    for n in $SIZES; do
        url="http://127.0.0.1:${PORTS[$n]}"
        v=$(run_wrk "size-$n-v2-r$r" "$url" "$D/v2-$n-r$r.txt" "${MODE[$n]}" "$V2_RATE" '"code":"10000"' "$SECS" "$LAT_CONNS")
        check_clean "size-$n-v2-r$r" "$v" || die "v2 run at $n records had errors"
        t=$(run_wrk "size-$n-top-r$r" "$url" "$D/top-$n.txt" cycle "$TOP_RATE" '"trade_no"' "$SECS" "$LAT_CONNS")
        check_clean "size-$n-top-r$r" "$t" || die "TOP run at $n records had errors"
        p=$(run_wrk "size-$n-peak-r$r" "$url" "$D/top-$n.txt" cycle 0 '"trade_no"' "$SECS" "$CONNS")
        check_clean "size-$n-peak-r$r" "$p" || die "TOP peak at $n records had errors"
        echo "$n $r $(field "$v" rps) $(field "$v" p50_us) $(field "$v" p99_us) $(field "$t" rps) $(field "$t" p50_us) $(field "$t" p99_us) $(field "$p" rps)" >>"$D/rounds.txt"
        log "round $r, $n records: v2 p50 $(fmt_ms "$(field "$v" p50_us)") ms, TOP p50 $(fmt_ms "$(field "$t" p50_us)") ms, TOP peak $(fmt_int "$(field "$p" rps)")/s"
    done
done
stop_all

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
col() { awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$D/rounds.txt" | median; }

printf '\nLatency vs store size — servers on core %s, wrk on core %s, fixed offered load, median of %s alternating rounds (%s)\n' \
    "$SERVER_CPUS" "$CLIENT_CPUS" "$ROUNDS" "$load"
printf '| %10s | %8s | %-28s | %-30s | %13s |\n' "records" "db MB" "v2 p50 / p99 ms @ ${V2_RATE}/s" "TOP EDI p50 / p99 ms @ ${TOP_RATE}/s" "TOP peak /s"
printf '|%s|%s|%s|%s|%s|\n' "------------" "----------" "------------------------------" "--------------------------------" "---------------"
for n in $SIZES; do
    record bench=store-size records="$n" db_mb="${DBMB[$n]}" load="$load" rounds="$ROUNDS" \
        v2_rate="$(col "$n" 3)" v2_p50_us="$(col "$n" 4)" v2_p99_us="$(col "$n" 5)" \
        top_rate="$(col "$n" 6)" top_p50_us="$(col "$n" 7)" top_p99_us="$(col "$n" 8)" \
        top_peak_rps="$(col "$n" 9)"
    note=""
    [ "${MODE[$n]}" = once ] || note=" (repeats)"
    printf '| %10s | %8s | %-28s | %-30s | %13s |\n' "$n" "${DBMB[$n]}" \
        "$(fmt_ms "$(col "$n" 4)") / $(fmt_ms "$(col "$n" 5)")$note" \
        "$(fmt_ms "$(col "$n" 7)") / $(fmt_ms "$(col "$n" 8)")" "$(fmt_int "$(col "$n" 9)")"
    if [ "$n" -ge 1000000 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -rf "$D/data-$n" "$(gen_file_path alipay-trade "$n")" # gigabytes
    else
        rm -rf "$D/data-$n"
    fi
done
mv "$D/rounds.txt" "$RESULTS_DIR/store-size-rounds.txt"
