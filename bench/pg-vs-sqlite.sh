#!/usr/bin/env bash
# PostgreSQL against SQLite: the same binary and the same generated trades on each store, in one
# run, rounds alternating between the two.
#
#   bash bench/pg-vs-sqlite.sh
#
# Two `tradeq serve --demo` processes run side by side, both pinned to core 0 (only the one
# under load works): one on a SQLite data dir, one on a PostgreSQL database (BENCH_PG, default
# postgres://postgres@127.0.0.1:5432, database tradeq_bench_query, dropped at the end), each
# holding BENCH_V2_TRADES alipay trades. PostgreSQL itself is not pinned: its backends take
# whatever core is free, wrk's included, so the PostgreSQL figure pays for the database's CPU
# too (on a dedicated database host it would not). wrk (one thread) on core 1.
# Cases (BENCH_PGQ_CASES, default "top-warm top-cold v2"):
#   top-warm  TOP tmall.luxury.stage.edi.alipay.trade.query, JSON, cycling through
#             BENCH_TOP_REQUESTS (10,000) distinct trades: the working set fits the record cache;
#   top-cold  the same through BENCH_PGQ_COLD (50,000) distinct trades: it does not (16,384);
#   v2        alipay.trade.query (RSA2), every request a different trade, each server restarted
#             before its round (an empty answer-signature cache).
# BENCH_REPS rounds per case (default 3); the figure is the median over rounds of the
# PostgreSQL/SQLite ratio of one round (the two runs of a round are back to back).
source "$(dirname "$0")/lib/common.sh"
need wrk taskset psql
ensure_venv
build_tradeq

NTRADES="${BENCH_V2_TRADES:-100000}"
NWARM="${BENCH_TOP_REQUESTS:-10000}"
NCOLD="${BENCH_PGQ_COLD:-50000}"
REPS="${BENCH_REPS:-3}"
V2_SECS="${BENCH_PGQ_V2_SECS:-8}"
NV2="${BENCH_PGQ_V2_REQUESTS:-36000}"
PG="${BENCH_PG-postgres://postgres@127.0.0.1:5432}"
PGDB=tradeq_bench_query
S_PORT=$((BASE_PORT + 40))
G_PORT=$((BASE_PORT + 44))
D="$WORK/pgq"
mkdir -p "$D"

psql "$PG/postgres" -Atqc 'select 1' >/dev/null 2>&1 || die "PostgreSQL at $PG is not reachable"

S_PID= G_PID=
start_pair() {
    start_server "$D/sqlite" "$S_PORT" "$SERVER_CPUS"
    S_PID=$SERVER_PID
    start_server "$D/pgdir" "$G_PORT" "$SERVER_CPUS" --database-url "$PG/$PGDB"
    G_PID=$SERVER_PID
    SERVER_PID=
}
stop_pair() {
    local p
    for p in $S_PID $G_PID; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    S_PID= G_PID=
}
trap 'stop_pair; psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT INT TERM

# The same trades in both stores.
fresh_data_dir "$D/sqlite" "$NTRADES" 0
TRADES=$(gen_file alipay-trade "$NTRADES")
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" -c "CREATE DATABASE $PGDB" >/dev/null
rm -rf "$D/pgdir"
mkdir -p "$D/pgdir"
log "importing $NTRADES alipay-trade records into PostgreSQL"
(cd "$D/pgdir" && "$TQ" import alipay-trade "$TRADES" --database-url "$PG/$PGDB" 2>&1 | tail -n 1 >&2)
psql "$PG/$PGDB" -qc "VACUUM ANALYZE" >/dev/null

load=$(wait_quiet)
log "before measuring: $load"
start_pair
S_URL="http://127.0.0.1:$S_PORT" G_URL="http://127.0.0.1:$G_PORT"
S_CREDS="$D/sqlite/demo-credentials.json" G_CREDS="$D/pgdir/demo-credentials.json"

printf '\nPostgreSQL / SQLite — tradeq on core %s, wrk on core %s, PostgreSQL unpinned, %s\n' \
    "$SERVER_CPUS" "$CLIENT_CPUS" "$load" >"$D/table.txt"
printf '| %-44s | %10s | %10s | %-22s | %-13s | %-7s |\n' "case" "SQLite/s" "PG/s" "rounds PG/SQLite %" "median" "target" >>"$D/table.txt"
printf '|%s|%s|%s|%s|%s|%s|\n' "----------------------------------------------" "------------" "------------" "------------------------" "---------------" "---------" >>"$D/table.txt"

median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for c in ${BENCH_PGQ_CASES:-top-warm top-cold v2}; do
    case $c in
    top-warm | top-cold)
        n=$NWARM
        [ "$c" = top-cold ] && n=$NCOLD
        check='"trade_no"' mode=cycle secs=$PEAK_SECS
        presign top "$S_CREDS" "$TRADES" "$D/$c-s.txt" --count "$n" --method edi --format json --spread
        presign top "$G_CREDS" "$TRADES" "$D/$c-g.txt" --count "$n" --method edi --format json --spread
        presign probe "$S_URL" "$D/$c-s.txt" top-json --n 50 >/dev/null
        presign probe "$G_URL" "$D/$c-g.txt" top-json --n 50 >/dev/null
        # Warm both: every record of the working set read once.
        run_wrk "$c-s-warm" "$S_URL" "$D/$c-s.txt" cycle 0 "$check" "$WARM_SECS" "$CONNS" >/dev/null
        run_wrk "$c-g-warm" "$G_URL" "$D/$c-g.txt" cycle 0 "$check" "$WARM_SECS" "$CONNS" >/dev/null
        name="TOP edi json, $n distinct trades"
        ;;
    v2)
        check='"code":"10000"' mode=once secs=$V2_SECS
        presign v2 "$S_CREDS" "$TRADES" "$D/v2-s.txt" --count "$NV2" --spread
        presign v2 "$G_CREDS" "$TRADES" "$D/v2-g.txt" --count "$NV2" --spread
        presign v2 "$S_CREDS" "$TRADES" "$D/v2-s-same.txt" --count 300 --same
        presign v2 "$G_CREDS" "$TRADES" "$D/v2-g-same.txt" --count 300 --same
        name="v2 alipay.trade.query, distinct trades"
        ;;
    *) die "unknown case $c" ;;
    esac
    pairs="" s_all="" g_all=""
    for r in $(seq 1 "$REPS"); do
        if [ "$c" = v2 ]; then
            stop_pair
            start_pair
            # Open each server's connections (PostgreSQL's pool starts empty) with requests
            # the round does not make: v2 polls of one trade.
            run_wrk "$c-s-$r-warm" "$S_URL" "$D/v2-s-same.txt" cycle 0 "$check" "$WARM_SECS" "$CONNS" >/dev/null
            run_wrk "$c-g-$r-warm" "$G_URL" "$D/v2-g-same.txt" cycle 0 "$check" "$WARM_SECS" "$CONNS" >/dev/null
        fi
        s=$(run_wrk "$c-s-$r" "$S_URL" "$D/$c-s.txt" "$mode" 0 "$check" "$secs" "$CONNS")
        check_clean "$c-s-$r" "$s" || die "$c on SQLite had errors"
        g=$(run_wrk "$c-g-$r" "$G_URL" "$D/$c-g.txt" "$mode" 0 "$check" "$secs" "$CONNS")
        check_clean "$c-g-$r" "$g" || die "$c on PostgreSQL had errors"
        log "$c round $r: SQLite $(field "$s" rps)/s (cpu $(field "$s" server_cpu)), PostgreSQL $(field "$g" rps)/s (cpu $(field "$g" server_cpu))"
        pairs="$pairs $(ratio "$(field "$g" rps)" "$(field "$s" rps)")"
        s_all="$s_all $(field "$s" rps)" g_all="$g_all $(field "$g" rps)"
    done
    m=$(median "$pairs")
    record bench=pg-vs-sqlite method="$c" name="$name" load="$load" sqlite_rps="$(median "$s_all")" pg_rps="$(median "$g_all")" \
        ratios_pct="$(sed 's/^ //; s/ /,/g' <<<"$pairs")" median_pct="$m"
    printf '| %-44s | %10s | %10s | %-22s | %-13s | %-7s |\n' "$name" "$(fmt_int "$(median "$s_all")")" \
        "$(fmt_int "$(median "$g_all")")" "$(sed 's/^ //; s/ /, /g' <<<"$pairs")" "$m %" ">= 60 %" >>"$D/table.txt"
done
stop_pair
cat "$D/table.txt"
