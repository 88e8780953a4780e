#!/usr/bin/env bash
# Alipay v3 (`POST /v3/alipay/trade/query`, ALIPAY-SHA256withRSA) load test.
#
#   bash bench/alipay-v3.sh
#
# Nonces are single-use, so every request is pre-signed with its own nonce (timestamp = signing
# time, valid ±10 minutes) and replay.lua sends each at most once (running out is an error).
# Every v3 answer is signed afresh (its own timestamp and nonce), so there is no cache: one
# verify and one sign per answer, compared with the same RSA ceiling as v2.
# tradeq on core 0, wrk on core 1; peak closed loop, latency at half of the peak rate.
source "$(dirname "$0")/lib/common.sh"
need wrk taskset
cleanup_server_on_exit
ensure_venv
build_tradeq

NTRADES="${BENCH_V2_TRADES:-100000}"
PORT=$((BASE_PORT + 10))
URL="http://127.0.0.1:$PORT"
D="$WORK/v3"
mkdir -p "$D"
CHECK='"trade_no"'

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

# At most the RSA ceiling can be answered per second: +20 % covers every run.
n_warm=$(awk -v c="$size_rate" -v s="$WARM_SECS" 'BEGIN{printf "%d", c * s * 1.2 + 100}')
n_peak=$(awk -v c="$size_rate" -v s="$PEAK_SECS" 'BEGIN{printf "%d", c * s * 1.2}')
n_lat=$(awk -v c="$size_rate" -v s="$LAT_SECS" 'BEGIN{printf "%d", c * s * 0.5 * 1.2 + 100}')
log "pre-signing $((n_warm + n_peak + n_lat)) v3 requests (one nonce each)"
presign v3 "$CREDS" "$TRADES" "$D/all.txt" --count $((n_warm + n_peak + n_lat)) --spread
head -n "$n_warm" "$D/all.txt" >"$D/warm.txt"
sed -n "$((n_warm + 1)),$((n_warm + n_peak))p" "$D/all.txt" >"$D/peak.txt"
tail -n "$n_lat" "$D/all.txt" >"$D/lat.txt"
# The probe (which also verifies the answers' signatures) spends the first 3 nonces of the
# warm-up file: drop them.
presign probe "$URL" "$D/warm.txt" v3 --creds "$CREDS" --n 3 >/dev/null
sed -i '1,3d' "$D/warm.txt"

run_wrk v3-warm "$URL" "$D/warm.txt" once 0 "$CHECK" "$WARM_SECS" "$CONNS" >/dev/null
measure_rsa 3
ceiling=$RSA_CEILING
log "RSA ceiling now: sign $RSA_SIGN/s, verify $RSA_VERIFY/s -> $ceiling answers/s"
p=$(run_wrk v3-peak "$URL" "$D/peak.txt" once 0 "$CHECK" "$PEAK_SECS" "$CONNS")
check_clean v3-peak "$p" || die "v3 peak had errors"
rps=$(field "$p" rps)
half=$(awk -v r="$rps" 'BEGIN{printf "%.0f", r / 2}')
l=$(run_wrk v3-lat "$URL" "$D/lat.txt" once "$half" "$CHECK" "$LAT_SECS" "$LAT_CONNS")
check_clean v3-lat "$l" || die "v3 latency run had errors"
stop_server

record bench=alipay-v3 load="$load" ceiling="$ceiling" rsa_sign="$RSA_SIGN" rsa_verify="$RSA_VERIFY" rps="$rps" ratio_pct="$(ratio "$rps" "$ceiling")" \
    server_cpu="$(field "$p" server_cpu)" client_cpu="$(field "$p" client_cpu)" \
    lat_rps="$(field "$l" rps)" p50_us="$(field "$l" p50_us)" p99_us="$(field "$l" p99_us)"

printf '\nAlipay v3 /v3/alipay/trade/query — server on core %s, wrk on core %s, %s\n' \
    "$SERVER_CPUS" "$CLIENT_CPUS" "$load"
printf '| %-40s | %13s | %-28s | %-7s |\n' "measure" "value" "vs" "target"
printf '|%s|%s|%s|%s|\n' "------------------------------------------" "---------------" "------------------------------" "---------"
printf '| %-40s | %13s | %-28s | %-7s |\n' "answers/s (each a fresh nonce)" "$(fmt_int "$rps")" \
    "$(ratio "$rps" "$ceiling") % of RSA ceiling $(fmt_int "$ceiling")" ">= 90 %"
printf '| %-40s | %13s | %-28s | %-7s |\n' "p50 / p99 ms at $(fmt_int "$(field "$l" rps)")/s (half peak)" \
    "$(fmt_ms "$(field "$l" p50_us)") / $(fmt_ms "$(field "$l" p99_us)")" "" ""
printf 'server core busy %s %%, client core busy %s %%\n' "$(field "$p" server_cpu)" "$(field "$p" client_cpu)"
