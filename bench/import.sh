#!/usr/bin/env bash
# Import rate: `tradeq import alipay-trade` of BENCH_IMPORT_COUNT (default 100,000) generated
# records into a fresh SQLite data dir and into a fresh PostgreSQL database, then a second import
# of the same file into each (every record must come back `unchanged`).
#
#   bash bench/import.sh
#
# Timed with hyperfine (BENCH_IMPORT_RUNS runs, each on a fresh store made in --prepare).
# Not pinned: the importer and, for PostgreSQL, the database server share both cores.
# PostgreSQL: BENCH_PG (default postgres://postgres@127.0.0.1:5432), database tradeq_bench
# (dropped and created here; set BENCH_PG= to skip).
# BENCH_IMPORT_AGAIN=0 skips the second imports (at 10^7 each is as long as a first one).
# Big runs fit the disk: the file is generated once for both stores, the SQLite store is
# deleted before PostgreSQL loads, and on exit the PostgreSQL database goes, and so does the
# file when it holds more than 10^6 records (BENCH_IMPORT_KEEP_FILE=1 keeps it).
source "$(dirname "$0")/lib/common.sh"
need hyperfine
ensure_venv
build_tradeq

COUNT="${BENCH_IMPORT_COUNT:-100000}"
RUNS="${BENCH_IMPORT_RUNS:-3}"
AGAIN="${BENCH_IMPORT_AGAIN:-1}"
PG="${BENCH_PG-postgres://postgres@127.0.0.1:5432}"
PGDB=tradeq_bench
D="$WORK/import"
mkdir -p "$D"
cd "$D" # --database-url imports keep their checkpoint under ./tradeq-data
FILE=$(gen_file alipay-trade "$COUNT" 7)
cleanup() {
    rm -rf "$D/sqlite"
    if [ -n "$PG" ]; then
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1 || true
    fi
    if [ "$COUNT" -gt 1000000 ] && [ "${BENCH_IMPORT_KEEP_FILE:-0}" != 1 ]; then
        rm -f "$FILE"
    fi
}
trap cleanup EXIT

# mean seconds of a hyperfine JSON export
mean_of() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$1"; }
stddev_of() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["stddev"] or 0)' "$1"; }

# The importer's own summary of one run, checked.
import_once() {
    local out
    out=$("$TQ" import alipay-trade "$FILE" "$@" --restart 2>&1)
    grep -E '^(inserted|[0-9]+ records in)' <<<"$out" >&2
    tail -n 1 <<<"$out"
}

# time_imports NAME LABEL PREPARE FLAG STORE: hyperfine of $RUNS imports into a fresh store
# (PREPARE runs before each); then, unless BENCH_IMPORT_AGAIN=0, a check that one more import
# finds every record unchanged, and hyperfine of such imports. Sets FIRST and AGAIN_S (mean
# seconds; AGAIN_S empty when not measured).
time_imports() {
    local name=$1 label=$2 prepare=$3 flag=$4 store=$5 summary
    local cmd="'$TQ' import alipay-trade '$FILE' $flag '$store' --restart"
    hyperfine --style basic --runs "$RUNS" --export-json "$RESULTS_DIR/import-$name.json" \
        --prepare "$prepare" "$cmd" >"$RESULTS_DIR/import-$name.txt" 2>&1
    FIRST=$(mean_of "$RESULTS_DIR/import-$name.json")
    AGAIN_S=""
    if [ "$AGAIN" = 1 ]; then
        summary=$(import_once "$flag" "$store")
        [ "$summary" = "inserted 0, updated 0, unchanged $COUNT, rejected 0" ] || die "second $label import: $summary"
        hyperfine --style basic --runs "$RUNS" --export-json "$RESULTS_DIR/import-$name-again.json" \
            "$cmd" >"$RESULTS_DIR/import-$name-again.txt" 2>&1
        AGAIN_S=$(mean_of "$RESULTS_DIR/import-$name-again.json")
    fi
}

load=$(wait_quiet)
log "before measuring: $load"

# --- SQLite ---------------------------------------------------------------------------------
log "SQLite: $RUNS imports of $COUNT records into a fresh data dir"
time_imports sqlite SQLite "rm -rf '$D/sqlite'" --data-dir "$D/sqlite"
s_first=$FIRST s_again=$AGAIN_S
s_bytes=$(du -sb "$D/sqlite" | cut -f1)
rm -rf "$D/sqlite"

# --- PostgreSQL -----------------------------------------------------------------------------
p_first="" p_again=""
if [ -n "$PG" ]; then
    need psql
    if psql "$PG/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
        recreate="psql '$PG/postgres' -qc 'DROP DATABASE IF EXISTS $PGDB' -c 'CREATE DATABASE $PGDB' >/dev/null"
        log "PostgreSQL: $RUNS imports of $COUNT records into a fresh database $PGDB"
        time_imports pg PostgreSQL "$recreate" --database-url "$PG/$PGDB"
        p_first=$FIRST p_again=$AGAIN_S
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PGDB" >/dev/null
    else
        log "PostgreSQL at $PG is not reachable: skipped"
    fi
fi

rate() { awk -v n="$COUNT" -v s="$1" 'BEGIN{ if (s > 0) printf "%d", n / s; else print "n/a" }'; }
record bench=import load="$load" count="$COUNT" runs="$RUNS" \
    sqlite_s="$s_first" sqlite_rps="$(rate "$s_first")" sqlite_again_s="$s_again" sqlite_again_rps="$(rate "$s_again")" \
    sqlite_bytes="$s_bytes" pg_s="$p_first" pg_rps="$( [ -n "$p_first" ] && rate "$p_first")" \
    pg_again_s="$p_again" pg_again_rps="$( [ -n "$p_again" ] && rate "$p_again")"

printf '\nImport of %s alipay-trade records (%s MB JSONL), mean of %s runs, %s\n' \
    "$COUNT" "$(( $(stat -c %s "$FILE") / 1000000 ))" "$RUNS" "$load"
printf '| %-41s | %9s | %10s | %-12s |\n' "store, run" "seconds" "records/s" "target"
printf '|%s|%s|%s|%s|\n' "-------------------------------------------" "-----------" "------------" "--------------"
printf '| %-41s | %9.2f | %10s | %-12s |\n' "SQLite, fresh data dir" "$s_first" "$(rate "$s_first")" ">= 50,000/s"
[ -n "$s_again" ] && printf '| %-41s | %9.2f | %10s | %-12s |\n' "SQLite, same file again (all unchanged)" "$s_again" "$(rate "$s_again")" ""
if [ -n "$p_first" ]; then
    printf '| %-41s | %9.2f | %10s | %-12s |\n' "PostgreSQL, fresh database" "$p_first" "$(rate "$p_first")" ""
    [ -n "$p_again" ] && printf '| %-41s | %9.2f | %10s | %-12s |\n' "PostgreSQL, same file again (unchanged)" "$p_again" "$(rate "$p_again")" ""
fi
log "after measuring: load $(load1)"
