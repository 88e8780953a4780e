#!/usr/bin/env bash
# TOP (`POST /router/rest`) load test against an nginx static-file baseline.
#
#   bash bench/top.sh
#
# Pre-signed (md5, docs/protocol/top.md §5) requests of tmall.luxury.stage.edi.alipay.trade.query (no
# session) and alibaba.xlife.onsite.trade.query (the demo session), format=json and xml, system
# parameters in the URL and business ones in the form body, as the Java/Python/PHP SDKs send
# them; BENCH_TOP_REQUESTS requests (cycled), each asking another trade of a store of
# BENCH_V2_TRADES alipay and BENCH_TOP_ONSITE onsite trades.
# Baseline, measured in the same run: nginx (1 worker) on the same core serves a static file of
# the same size as tradeq's answers (a real answer padded to the mean answer size) to the very
# same request bytes (POST is answered with the file through `error_page 405 =200`).
# tradeq and nginx on core 0, wrk on core 1; BENCH_REPS alternating rounds. Two ratios: the
# best tradeq round over the best nginx round, and the median over rounds of tradeq's rate over
# the nginx round right after it (a pair runs within half a minute, so a host whose speed drifts
# between rounds moves both alike). Latency of tradeq at half of its peak.
#
# BENCH_TOP_METHODS (default "edi xlife") and BENCH_TOP_FORMATS ("json xml") pick the cases;
# BENCH_TOP_RECORD_CACHE sets the server's record_cache_entries (0: every lookup reads SQLite).
source "$(dirname "$0")/lib/common.sh"
need wrk taskset nginx
cleanup_server_on_exit
ensure_venv
build_tradeq

NTRADES="${BENCH_V2_TRADES:-100000}"
NONSITE="${BENCH_TOP_ONSITE:-10000}"
NREQ="${BENCH_TOP_REQUESTS:-10000}"
REPS="${BENCH_REPS:-2}"
PORT=$((BASE_PORT + 20))
NGINX_PORT=$((BASE_PORT + 25))
URL="http://127.0.0.1:$PORT"
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
D="$WORK/top"
mkdir -p "$D"
rm -f "$D/notes.txt"

fresh_data_dir "$D/data" "$NTRADES" "$NONSITE"
ALIPAY=$(gen_file alipay-trade "$NTRADES")
ONSITE=$(gen_file onsite-trade "$NONSITE")

# shellcheck source=lib/nginx.sh
source "$BENCH_DIR/lib/nginx.sh"
trap 'stop_nginx; stop_server' EXIT INT TERM

load=$(wait_quiet)
log "before measuring: $load"
SERVER_ARGS=()
if [ -n "${BENCH_TOP_RECORD_CACHE:-}" ]; then
    printf 'record_cache_entries = %d\n' "$BENCH_TOP_RECORD_CACHE" >"$D/server.toml"
    SERVER_ARGS=(--config "$D/server.toml")
    log "record_cache_entries = $BENCH_TOP_RECORD_CACHE"
fi
start_server "$D/data" "$PORT" "$SERVER_CPUS" "${SERVER_ARGS[@]}"
CREDS="$D/data/demo-credentials.json"

printf '\nTOP /router/rest — tradeq and nginx on core %s, wrk on core %s, %s%s\n' "$SERVER_CPUS" "$CLIENT_CPUS" "$load" \
    "${BENCH_TOP_RECORD_CACHE:+, record_cache_entries = $BENCH_TOP_RECORD_CACHE}" >"$D/table.txt"
printf '| %-42s | %6s | %10s | %10s | %-9s | %-13s | %-7s | %-17s |\n' "method, format" "bytes" "tradeq/s" "nginx/s" "best/best" "paired median" "target" "p50/p99 ms (half)" >>"$D/table.txt"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' "--------------------------------------------" "--------" "------------" "------------" "-----------" "---------------" "---------" "-------------------" >>"$D/table.txt"

for method in ${BENCH_TOP_METHODS:-edi xlife}; do
    for fmt in ${BENCH_TOP_FORMATS:-json xml}; do
        name="top-$method-$fmt"
        trades=$ALIPAY
        [ "$method" = xlife ] && trades=$ONSITE
        presign top "$CREDS" "$trades" "$D/$name.txt" --count "$NREQ" --method "$method" --format "$fmt" --spread
        probe=$(presign probe "$URL" "$D/$name.txt" "top-$fmt" --n 200 --static "$D/$name.static")
        size=$(sed 's/.*"mean_bytes": \([0-9]*\).*/\1/' <<<"$probe")
        if [ "$fmt" = json ]; then
            check='"trade_no"' ctype="application/json;charset=utf-8"
        else
            check='<trade_no>' ctype="text/xml;charset=utf-8"
        fi
        start_nginx "$D/$name.static" "$ctype"
        # Warm both, then alternate rounds.
        run_wrk "$name-warm" "$URL" "$D/$name.txt" cycle 0 "$check" "$WARM_SECS" "$CONNS" >/dev/null
        run_wrk "$name-nginx-warm" "$NGINX_URL" "$D/$name.txt" cycle 0 "$check" "$WARM_SECS" "$CONNS" >/dev/null
        alternate_rounds "$name" "$D/$name.txt" "$D/$name.txt" "$check"
        stop_nginx
        log "$name paired ratios:$pairs (median $paired %)"
        half=$(awk -v r="$best_t" 'BEGIN{printf "%.0f", r / 2}')
        l=$(run_wrk "$name-lat" "$URL" "$D/$name.txt" cycle "$half" "$check" "$LAT_SECS" "$LAT_CONNS")
        check_clean "$name-lat" "$l" || die "$name latency run had errors"
        record bench=top method="$method" format="$fmt" load="$load" answer_bytes="$size" \
            record_cache="${BENCH_TOP_RECORD_CACHE:-default}" \
            tradeq_rps="$best_t" nginx_rps="$best_n" ratio_pct="$(ratio "$best_t" "$best_n")" \
            paired_ratios_pct="$(sed 's/^ //; s/ /,/g' <<<"$pairs")" paired_median_pct="$paired" \
            tradeq_server_cpu="$(field "$t_line" server_cpu)" tradeq_client_cpu="$(field "$t_line" client_cpu)" \
            nginx_server_cpu="$(field "$n_line" server_cpu)" nginx_client_cpu="$(field "$n_line" client_cpu)" \
            lat_rps="$(field "$l" rps)" p50_us="$(field "$l" p50_us)" p99_us="$(field "$l" p99_us)" \
            peak_p50_us="$(field "$t_line" p50_us)" peak_p99_us="$(field "$t_line" p99_us)"
        full=$( [ "$method" = edi ] && echo "tmall.luxury.stage.edi.alipay.trade.query" || echo "alibaba.xlife.onsite.trade.query")
        printf '| %-42s | %6s | %10s | %10s | %-9s | %-13s | %-7s | %-17s |\n' "$full $fmt" "$size" "$(fmt_int "$best_t")" \
            "$(fmt_int "$best_n")" "$(ratio "$best_t" "$best_n") %" "$paired %" ">= 50 %" \
            "$(fmt_ms "$(field "$l" p50_us)") / $(fmt_ms "$(field "$l" p99_us)")" >>"$D/table.txt"
        printf '%s %s: server core busy tradeq %s %%, nginx %s %%; client core busy %s %% / %s %%\n' \
            "$method" "$fmt" "$(field "$t_line" server_cpu)" "$(field "$n_line" server_cpu)" \
            "$(field "$t_line" client_cpu)" "$(field "$n_line" client_cpu)" >>"$D/notes.txt"
    done
done
stop_server
cat "$D/table.txt" "$D/notes.txt"
