#!/usr/bin/env bash
# Alipay v2 (`POST /gateway.do`, alipay.trade.query, RSA2) load test.
#
#   bash bench/alipay-v2.sh
#
# tradeq (release build, SQLite store with BENCH_V2_TRADES generated trades) is pinned to core 0,
# wrk (one thread) to core 1. Requests are pre-signed with the demo app key (bench/lib/presign.py)
# and replayed by bench/lib/replay.lua:
#  (a) distinct trades: every request of a run asks a different trade, so the answer signature
#      cache cannot help (each answer costs one verify and one sign). The server is restarted
#      before each (a) run, which empties the cache, so the runs can reuse the same requests.
#  (b) repeated polls of one unchanged trade (a fresh request signature each time, the same
#      answer): after the first answer every signature comes from the cache.
# Peaks are closed loop (BENCH_CONNS connections); latency is measured at half of the peak rate
# with a paced schedule (BENCH_LAT_CONNS connections). Every answer is checked for
# "code":"10000" and a few are verified with the platform public key.
# Then, for information, (a) with the server on both cores (wrk shares them).
source "$(dirname "$0")/lib/common.sh"
need wrk taskset
cleanup_server_on_exit
ensure_venv
build_tradeq

NTRADES="${BENCH_V2_TRADES:-100000}"
PORT=$((BASE_PORT + 0))
URL="http://127.0.0.1:$PORT"
D="$WORK/v2"
mkdir -p "$D"
CHECK='"code":"10000"'

fresh_data_dir "$D/data" "$NTRADES" 0
TRADES=$(gen_file alipay-trade "$NTRADES")

load=$(wait_quiet)
log "before measuring: $load"
# A first, short measure of the ceiling sizes the request files; the one the results use is
# measured again right before the peak runs.
measure_rsa 1
size_rate=$(awk -v c="$RSA_CEILING" 'BEGIN{print c * 1.3}')
start_server "$D/data" "$PORT"
CREDS="$D/data/demo-credentials.json"

# Enough distinct requests for the longest (a) run even at the RSA ceiling, +20 %; the timestamp
# of a v2 request stays valid for 15 minutes.
n_a=$(awk -v c="$size_rate" -v s="$PEAK_SECS" 'BEGIN{printf "%d", c * s * 1.2}')
both_secs=$(( PEAK_SECS / 2 > 5 ? PEAK_SECS / 2 : 5 ))
n_both=$(awk -v c="$size_rate" -v s="$both_secs" 'BEGIN{printf "%d", 2 * c * s * 1.2}')
n_max=$(( n_a > n_both ? n_a : n_both ))
[ "$n_max" -le "$NTRADES" ] || die "need $n_max distinct trades, have $NTRADES (raise BENCH_V2_TRADES)"
log "pre-signing $n_max distinct-trade requests and 600 polls of one trade"
presign v2 "$CREDS" "$TRADES" "$D/distinct.txt" --count "$n_max" --spread
presign v2 "$CREDS" "$TRADES" "$D/same.txt" --count 600 --same
presign probe "$URL" "$D/distinct.txt" v2 --creds "$CREDS" --n 3 >/dev/null
presign probe "$URL" "$D/same.txt" v2 --creds "$CREDS" --n 3 >/dev/null

restart() { stop_server; start_server "$D/data" "$PORT" "${1:-$SERVER_CPUS}"; }
warm() { run_wrk v2-warm "$URL" "$D/same.txt" cycle 0 "$CHECK" "$WARM_SECS" "$CONNS" >/dev/null; }

# (a) peak: fresh server (empty cache), warmed with polls of one trade that (a) never asks.
restart
warm
measure_rsa 3
ceiling=$RSA_CEILING
log "RSA ceiling now: sign $RSA_SIGN/s, verify $RSA_VERIFY/s -> $ceiling answers/s"
a=$(run_wrk v2-a-peak "$URL" "$D/distinct.txt" once 0 "$CHECK" "$PEAK_SECS" "$CONNS")
check_clean v2-a-peak "$a" || die "v2 (a) had errors"
a_rps=$(field "$a" rps)

# (b) peak: the one trade's answer is cached since the warm-up.
b=$(run_wrk v2-b-peak "$URL" "$D/same.txt" cycle 0 "$CHECK" "$PEAK_SECS" "$CONNS")
check_clean v2-b-peak "$b" || die "v2 (b) had errors"
b_rps=$(field "$b" rps)

# Latency at half of each peak.
restart
warm
a_half=$(awk -v r="$a_rps" 'BEGIN{printf "%.0f", r / 2}')
al=$(run_wrk v2-a-lat "$URL" "$D/distinct.txt" once "$a_half" "$CHECK" "$LAT_SECS" "$LAT_CONNS")
check_clean v2-a-lat "$al" || die "v2 (a) latency run had errors"
b_half=$(awk -v r="$b_rps" 'BEGIN{printf "%.0f", r / 2}')
bl=$(run_wrk v2-b-lat "$URL" "$D/same.txt" cycle "$b_half" "$CHECK" "$LAT_SECS" "$LAT_CONNS")
check_clean v2-b-lat "$bl" || die "v2 (b) latency run had errors"

# For information: (a) with the server on both cores (and wrk sharing them).
both_rps=""
if [ "${BENCH_BOTH_CORES:-1}" = 1 ]; then
    restart "0,1"
    warm
    saved_client=$CLIENT_CPUS saved_server=$SERVER_CPUS
    CLIENT_CPUS="0,1" SERVER_CPUS="0,1"
    ab=$(run_wrk v2-a-both "$URL" "$D/distinct.txt" once 0 "$CHECK" "$both_secs" "$CONNS")
    CLIENT_CPUS=$saved_client SERVER_CPUS=$saved_server
    check_clean v2-a-both "$ab" || die "v2 (a) on both cores had errors"
    both_rps=$(field "$ab" rps)
fi
stop_server

record bench=alipay-v2 load="$load" ceiling="$ceiling" rsa_sign="$RSA_SIGN" rsa_verify="$RSA_VERIFY" trades="$NTRADES" \
    a_rps="$a_rps" a_server_cpu="$(field "$a" server_cpu)" a_client_cpu="$(field "$a" client_cpu)" \
    b_rps="$b_rps" b_server_cpu="$(field "$b" server_cpu)" b_client_cpu="$(field "$b" client_cpu)" \
    a_ratio_pct="$(ratio "$a_rps" "$ceiling")" b_over_a="$(times "$b_rps" "$a_rps")" \
    a_lat_rps="$(field "$al" rps)" a_p50_us="$(field "$al" p50_us)" a_p99_us="$(field "$al" p99_us)" \
    b_lat_rps="$(field "$bl" rps)" b_p50_us="$(field "$bl" p50_us)" b_p99_us="$(field "$bl" p99_us)" \
    a_peak_p50_us="$(field "$a" p50_us)" a_peak_p99_us="$(field "$a" p99_us)" \
    both_rps="${both_rps:-}" both_ratio_pct="$( [ -n "$both_rps" ] && ratio "$both_rps" "$(awk -v c="$ceiling" 'BEGIN{print 2*c}')" )"

printf '\nAlipay v2 alipay.trade.query — server on core %s, wrk on core %s, %s trades, %s\n' \
    "$SERVER_CPUS" "$CLIENT_CPUS" "$NTRADES" "$load"
printf '| %-44s | %10s | %-28s | %-8s |\n' "measure" "value" "vs" "target"
printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "------------" "------------------------------" "----------"
printf '| %-44s | %10s | %-28s | %-8s |\n' "(a) distinct trades, answers/s" "$(fmt_int "$a_rps")" \
    "$(ratio "$a_rps" "$ceiling") % of RSA ceiling $(fmt_int "$ceiling")" ">= 90 %"
printf '| %-44s | %10s | %-28s | %-8s |\n' "(b) one unchanged trade (cache hits), ans/s" "$(fmt_int "$b_rps")" \
    "$(times "$b_rps" "$a_rps") x (a)" ">= 10 x"
printf '| %-44s | %10s | %-28s | %-8s |\n' "(a) p50 / p99 ms at $(fmt_int "$(field "$al" rps)")/s (half peak)" \
    "$(fmt_ms "$(field "$al" p50_us)") / $(fmt_ms "$(field "$al" p99_us)")" "" ""
printf '| %-44s | %10s | %-28s | %-8s |\n' "(b) p50 / p99 ms at $(fmt_int "$(field "$bl" rps)")/s (half peak)" \
    "$(fmt_ms "$(field "$bl" p50_us)") / $(fmt_ms "$(field "$bl" p99_us)")" "" ""
if [ -n "$both_rps" ]; then
    printf '| %-44s | %10s | %-28s | %-8s |\n' "(a) server on both cores (wrk shares them)" "$(fmt_int "$both_rps")" \
        "$(ratio "$both_rps" "$(awk -v c="$ceiling" 'BEGIN{print 2*c}')") % of 2 x ceiling" "info"
fi
printf 'server core busy: (a) %s %%, (b) %s %%; client core busy: (a) %s %%, (b) %s %%\n' \
    "$(field "$a" server_cpu)" "$(field "$b" server_cpu)" "$(field "$a" client_cpu)" "$(field "$b" client_cpu)"
