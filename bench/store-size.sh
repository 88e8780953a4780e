#!/usr/bin/env bash
# Query latency vs store size (DESIGN §4: flat from 10⁴ to 10⁷ records).
#
#   bash bench/store-size.sh                       # 10⁴ and 10⁶ records
#   BENCH_SIZES="10000 1000000 10000000" bash bench/store-size.sh
#
# For each size N: a fresh SQLite store with N generated alipay-trade records; tradeq on core 0,
# wrk on core 1; requests ask trades sampled uniformly from all N (so large stores are really
# searched, not just their first pages), each a different trade. At the same fixed offered load
# for every N (BENCH_SIZE_V2_RATE v2 answers/s, BENCH_SIZE_TOP_RATE TOP EDI answers/s, well below
# the peaks) we record p50/p99, plus the TOP EDI closed-loop peak.
source "$(dirname "$0")/lib/common.sh"
need wrk taskset
cleanup_server_on_exit
ensure_venv
build_tradeq

SIZES="${BENCH_SIZES:-10000 1000000}"
V2_RATE="${BENCH_SIZE_V2_RATE:-500}"
TOP_RATE="${BENCH_SIZE_TOP_RATE:-2000}"
SECS="${BENCH_SIZE_SECS:-15}"
PORT=$((BASE_PORT + 30))
URL="http://127.0.0.1:$PORT"
D="$WORK/size"
mkdir -p "$D"

printf '\nLatency vs store size — server on core %s, wrk on core %s, fixed offered load\n' "$SERVER_CPUS" "$CLIENT_CPUS" >"$D/table.txt"
printf '| %10s | %8s | %-26s | %-26s | %13s |\n' "records" "db MB" "v2 p50 / p99 ms @ ${V2_RATE}/s" "TOP EDI p50 / p99 ms @ ${TOP_RATE}/s" "TOP peak /s" >>"$D/table.txt"
printf '|%s|%s|%s|%s|%s|\n' "------------" "----------" "----------------------------" "----------------------------" "---------------" >>"$D/table.txt"

for n in $SIZES; do
    # Stores of a million records and more are imported straight into the data dir (no template
    # copy) unless BENCH_KEEP=1 keeps them for a re-run.
    if [ "$n" -ge 1000000 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        BENCH_NO_TEMPLATE=1 fresh_data_dir "$D/data" "$n" 0
    else
        fresh_data_dir "$D/data" "$n" 0
    fi
    trades=$(gen_file alipay-trade "$n")
    db_mb=$(( $(du -sb "$D/data" | cut -f1) / 1000000 ))
    load=$(wait_quiet)
    log "$n records ($db_mb MB), $load"
    start_server "$D/data" "$PORT"
    creds="$D/data/demo-credentials.json"
    nv2=$(( V2_RATE * SECS * 12 / 10 + 200 ))
    [ "$nv2" -le "$n" ] || nv2=$n
    presign v2 "$creds" "$trades" "$D/v2.txt" --count "$nv2" --spread
    presign top "$creds" "$trades" "$D/top.txt" --count 20000 --method edi --format json --spread
    presign probe "$URL" "$D/top.txt" top-json --n 3 >/dev/null
    presign probe "$URL" "$D/v2.txt" v2 --creds "$creds" --n 3 >/dev/null
    # Warm up with TOP (it shares the trade lookup), then v2 distinct trades (cycling only if N is
    # smaller than the run: then the signature cache would help, which the table notes).
    run_wrk size-warm "$URL" "$D/top.txt" cycle 0 '"trade_no"' "$WARM_SECS" "$CONNS" >/dev/null
    v=$(run_wrk "size-$n-v2" "$URL" "$D/v2.txt" cycle "$V2_RATE" '"code":"10000"' "$SECS" "$LAT_CONNS")
    check_clean "size-$n-v2" "$v" || die "v2 run at $n records had errors"
    t=$(run_wrk "size-$n-top" "$URL" "$D/top.txt" cycle "$TOP_RATE" '"trade_no"' "$SECS" "$LAT_CONNS")
    check_clean "size-$n-top" "$t" || die "TOP run at $n records had errors"
    p=$(run_wrk "size-$n-top-peak" "$URL" "$D/top.txt" cycle 0 '"trade_no"' "$SECS" "$CONNS")
    check_clean "size-$n-top-peak" "$p" || die "TOP peak at $n records had errors"
    stop_server
    record bench=store-size records="$n" db_mb="$db_mb" load="$load" \
        v2_rate="$(field "$v" rps)" v2_p50_us="$(field "$v" p50_us)" v2_p99_us="$(field "$v" p99_us)" \
        top_rate="$(field "$t" rps)" top_p50_us="$(field "$t" p50_us)" top_p99_us="$(field "$t" p99_us)" \
        top_peak_rps="$(field "$p" rps)"
    printf '| %10s | %8s | %-26s | %-26s | %13s |\n' "$n" "$db_mb" \
        "$(fmt_ms "$(field "$v" p50_us)") / $(fmt_ms "$(field "$v" p99_us)")" \
        "$(fmt_ms "$(field "$t" p50_us)") / $(fmt_ms "$(field "$t" p99_us)")" \
        "$(fmt_int "$(field "$p" rps)")" >>"$D/table.txt"
    rm -rf "$D/data"
    if [ "$n" -ge 1000000 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -f "$trades" # gigabytes; BENCH_KEEP=1 keeps it (and a template store) for a re-run
    fi
done
cat "$D/table.txt"
