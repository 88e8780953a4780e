#!/usr/bin/env bash
# Query latency vs store size (BENCHMARKS.md: flat from 10⁴ to 10⁷ records).
#
#   bash bench/store-size.sh                       # 10⁴ and 10⁶ records
#   BENCH_SIZES="10000 1000000 10000000" bash bench/store-size.sh   # + 10⁷ (~10 min more, 8 GB)
#   BENCH_SIZE_BACKENDS="sqlite postgres" bash bench/store-size.sh   # both backends
#
# One fresh store per backend and size N (N generated alipay-trade records) and one tradeq per
# store, all pinned to core 0 (only the one being measured is busy), wrk on core 1. SQLite
# stores are data dirs; PostgreSQL stores (BENCH_PG, default postgres://postgres@127.0.0.1:5432)
# are databases tradeq_bench_size_N, dropped at the end; PostgreSQL itself is not pinned, so its
# figures include the database's CPU on whichever core is free. Requests ask trades
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
BACKENDS="${BENCH_SIZE_BACKENDS:-sqlite}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
case " $BACKENDS " in *" postgres "*)
    need psql
    psql "$PG/postgres" -Atqc 'select 1' >/dev/null 2>&1 || die "PostgreSQL at $PG is not reachable" ;;
esac
for b in $BACKENDS; do
    case $b in sqlite | postgres) ;; *) die "BENCH_SIZE_BACKENDS: unknown backend $b" ;; esac
done
# Every (backend, size) pair measured, in the order the rounds visit them.
CASES=()
for b in $BACKENDS; do for n in $SIZES; do CASES+=("$b-$n"); done; done
pgdb() { echo "tradeq_bench_size_$1"; }
V2_RATE="${BENCH_SIZE_V2_RATE:-500}"
TOP_RATE="${BENCH_SIZE_TOP_RATE:-2000}"
SECS="${BENCH_SIZE_SECS:-6}"
ROUNDS="${BENCH_SIZE_ROUNDS:-3}"
D="$WORK/size"
mkdir -p "$D"
rm -f "$D/rounds.txt"

declare -A PIDS PORTS MODE
stop_all() {
    local c
    for c in "${!PIDS[@]}"; do
        SERVER_PID=${PIDS[$c]}
        stop_server
    done
}
drop_pg() {
    local n
    case " $BACKENDS " in *" postgres "*)
        for n in $SIZES; do
            psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $(pgdb "$n") WITH (FORCE)" >/dev/null 2>&1 || true
        done ;;
    esac
}
trap 'stop_all; drop_pg' EXIT INT TERM

# 1. Stores (imported before anything is measured).
declare -A DBMB IMPORT
for c in "${CASES[@]}"; do
    b=${c%%-*}
    n=${c#*-}
    t0=$(date +%s.%N)
    if [ "$b" = postgres ]; then
        # A data dir for the server's own files (demo credentials, log), the records in a database.
        rm -rf "$D/data-$c"
        mkdir -p "$D/data-$c"
        db=$(pgdb "$n")
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
        log "importing $n alipay-trade records into PostgreSQL ($db)"
        (cd "$D/data-$c" && "$TQ" import alipay-trade "$(gen_file alipay-trade "$n")" --database-url "$PG/$db" 2>&1 | tail -n 2 >&2)
        psql "$PG/$db" -qc "VACUUM ANALYZE" >/dev/null
        DBMB[$c]=$(( $(psql "$PG/$db" -Atqc "select pg_database_size(current_database())") / 1000000 ))
    else
        # Stores of a million records and more are imported straight into their data dir (no
        # template copy) unless BENCH_KEEP=1 keeps a template for a re-run.
        if [ "$n" -ge 1000000 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
            BENCH_NO_TEMPLATE=1 fresh_data_dir "$D/data-$c" "$n" 0
        else
            fresh_data_dir "$D/data-$c" "$n" 0
        fi
        DBMB[$c]=$(( $(du -sb "$D/data-$c" | cut -f1) / 1000000 ))
    fi
    log "$b, $n records: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b - a}') s to prepare, ${DBMB[$c]} MB"
done

# 2. One server per store, requests pre-signed for each.
load=$(wait_quiet)
log "before measuring: $load"
i=0
for c in "${CASES[@]}"; do
    b=${c%%-*}
    n=${c#*-}
    port=$((BASE_PORT + 30 + 2 * i))
    i=$((i + 1))
    if [ "$b" = postgres ]; then
        start_server "$D/data-$c" "$port" "$SERVER_CPUS" --database-url "$PG/$(pgdb "$n")"
    else
        start_server "$D/data-$c" "$port"
    fi
    PIDS[$c]=$SERVER_PID
    PORTS[$c]=$port
    creds="$D/data-$c/demo-credentials.json"
    trades=$(gen_file alipay-trade "$n")
    nv2=$(( V2_RATE * SECS * ROUNDS * 12 / 10 + 200 ))
    [ "$nv2" -le "$n" ] || nv2=$n
    # Each v2 request of the whole measurement asks a different trade when the store is big
    # enough; otherwise requests repeat and the signature cache helps (flagged in the table).
    MODE[$c]=once
    [ $(( (nv2 - 3) / ROUNDS )) -ge $(( V2_RATE * SECS * 105 / 100 )) ] || MODE[$c]=cycle
    presign v2 "$creds" "$trades" "$D/v2-$c.txt" --count "$nv2" --spread
    presign top "$creds" "$trades" "$D/top-$c.txt" --count 20000 --method edi --format json --spread
    presign probe "http://127.0.0.1:$port" "$D/top-$c.txt" top-json --n 3 >/dev/null
    presign probe "http://127.0.0.1:$port" "$D/v2-$c.txt" v2 --creds "$creds" --n 3 >/dev/null
    # v2 requests are used once each across the rounds: split them per round.
    per=$(( ($(wc -l <"$D/v2-$c.txt") - 3) / ROUNDS ))
    for r in $(seq 1 "$ROUNDS"); do
        sed -n "$((4 + (r - 1) * per)),$((3 + r * per))p" "$D/v2-$c.txt" >"$D/v2-$c-r$r.txt"
    done
    run_wrk "size-$c-warm" "http://127.0.0.1:$port" "$D/top-$c.txt" cycle 0 '"trade_no"' "$WARM_SECS" "$CONNS" >/dev/null
done

# 3. Alternating rounds.
for r in $(seq 1 "$ROUNDS"); do
    for c in "${CASES[@]}"; do
        url="http://127.0.0.1:${PORTS[$c]}"
        v=$(run_wrk "size-$c-v2-r$r" "$url" "$D/v2-$c-r$r.txt" "${MODE[$c]}" "$V2_RATE" '"code":"10000"' "$SECS" "$LAT_CONNS")
        check_clean "size-$c-v2-r$r" "$v" || die "v2 run at $c records had errors"
        t=$(run_wrk "size-$c-top-r$r" "$url" "$D/top-$c.txt" cycle "$TOP_RATE" '"trade_no"' "$SECS" "$LAT_CONNS")
        check_clean "size-$c-top-r$r" "$t" || die "TOP run at $c records had errors"
        p=$(run_wrk "size-$c-peak-r$r" "$url" "$D/top-$c.txt" cycle 0 '"trade_no"' "$SECS" "$CONNS")
        check_clean "size-$c-peak-r$r" "$p" || die "TOP peak at $c records had errors"
        echo "$c $r $(field "$v" rps) $(field "$v" p50_us) $(field "$v" p99_us) $(field "$t" rps) $(field "$t" p50_us) $(field "$t" p99_us) $(field "$p" rps)" >>"$D/rounds.txt"
        log "round $r, $c records: v2 p50 $(fmt_ms "$(field "$v" p50_us)") ms, TOP p50 $(fmt_ms "$(field "$t" p50_us)") ms, TOP peak $(fmt_int "$(field "$p" rps)")/s"
    done
done
stop_all

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
col() { awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$D/rounds.txt" | median; }

printf '\nLatency vs store size — servers on core %s, wrk on core %s, fixed offered load, median of %s alternating rounds (%s)\n' \
    "$SERVER_CPUS" "$CLIENT_CPUS" "$ROUNDS" "$load"
printf '| %-8s | %10s | %8s | %-28s | %-30s | %13s |\n' "backend" "records" "db MB" "v2 p50 / p99 ms @ ${V2_RATE}/s" "TOP EDI p50 / p99 ms @ ${TOP_RATE}/s" "TOP peak /s"
printf '|%s|%s|%s|%s|%s|%s|\n' "----------" "------------" "----------" "------------------------------" "--------------------------------" "---------------"
for c in "${CASES[@]}"; do
    b=${c%%-*}
    n=${c#*-}
    record bench=store-size backend="$b" records="$n" db_mb="${DBMB[$c]}" load="$load" rounds="$ROUNDS" \
        v2_rate="$(col "$c" 3)" v2_p50_us="$(col "$c" 4)" v2_p99_us="$(col "$c" 5)" \
        top_rate="$(col "$c" 6)" top_p50_us="$(col "$c" 7)" top_p99_us="$(col "$c" 8)" \
        top_peak_rps="$(col "$c" 9)"
    note=""
    [ "${MODE[$c]}" = once ] || note=" (repeats)"
    printf '| %-8s | %10s | %8s | %-28s | %-30s | %13s |\n' "$b" "$n" "${DBMB[$c]}" \
        "$(fmt_ms "$(col "$c" 4)") / $(fmt_ms "$(col "$c" 5)")$note" \
        "$(fmt_ms "$(col "$c" 7)") / $(fmt_ms "$(col "$c" 8)")" "$(fmt_int "$(col "$c" 9)")"
    rm -rf "$D/data-$c"
done
for n in $SIZES; do
    if [ "$n" -ge 1000000 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -f "$(gen_file_path alipay-trade "$n")" # gigabytes
    fi
done
drop_pg
mv "$D/rounds.txt" "$RESULTS_DIR/store-size-rounds.txt"
