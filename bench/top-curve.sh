#!/usr/bin/env bash
# TOP against nginx over working sets of distinct records: the curve from 10³ to 10⁶.
#
#   bash bench/top-curve.sh
#   BENCH_TOP_WORKING_SETS="50000" BENCH_CURVE_MODES=default bash bench/top-curve.sh
#
# One SQLite store of BENCH_CURVE_TRADES generated alipay trades (default: the largest working
# set). Requests are tmall.luxury.stage.edi.alipay.trade.query (BENCH_TOP_FORMATS, default
# "json"), pre-signed once for the largest working set: every trade of a uniform random sample of
# the store, in random order. The working set of W records is the first W requests of that file,
# cycled by wrk, so each point asks W distinct trades again and again. The requests are signed
# once for the whole run, so the server accepts TOP timestamps a day old
# (`top_timestamp_window_secs`; the check costs the same whatever the window).
#
# Per working set W (BENCH_TOP_WORKING_SETS, default "1000 10000 100000 1000000") and mode
# (BENCH_CURVE_MODES, default "warm cold default"), one server start:
#   warm     record_cache_entries = W + W/4: the record cache holds the working set; the server
#            is warmed with one pass through it (at BENCH_CURVE_WARM_RATE, 5,000 requests/s,
#            assumed: keep it under the host's cold rate, or the first round is partly cold), so
#            every measured lookup is a cache hit.
#   cold     record_cache_entries = 0: every lookup reads SQLite (through the page cache; the
#            file was written just before) and decodes the stored document.
#   default  the default record cache (DEFAULT_RECORD_CACHE_ENTRIES, 16,384), only for W larger
#            than it: the configuration a node runs with, its working set beyond the cache
#            (misses pay the read and the decode, plus the cache's own upkeep).
# Baseline, in the same run: nginx (1 worker) on the same core serving a real answer padded to
# the mean answer size (as bench/top.sh), to the first min(W, 10,000) of the same requests.
# BENCH_REPS alternating rounds per point; best/best and the median of the paired ratios.
source "$(dirname "$0")/lib/common.sh"
need wrk taskset nginx
ensure_venv
build_tradeq

SETS="${BENCH_TOP_WORKING_SETS:-1000 10000 100000 1000000}"
MODES="${BENCH_CURVE_MODES:-warm cold default}"
FORMATS="${BENCH_TOP_FORMATS:-json}"
REPS="${BENCH_REPS:-3}"
WARM_RATE="${BENCH_CURVE_WARM_RATE:-5000}"
DEFAULT_CACHE=16384
MAXW=0
for w in $SETS; do [ "$w" -gt "$MAXW" ] && MAXW=$w; done
NTRADES="${BENCH_CURVE_TRADES:-$MAXW}"
[ "$NTRADES" -ge "$MAXW" ] || die "BENCH_CURVE_TRADES ($NTRADES) is smaller than the largest working set ($MAXW)"
PORT=$((BASE_PORT + 50))
NGINX_PORT=$((BASE_PORT + 55))
URL="http://127.0.0.1:$PORT"
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
D="$WORK/top-curve"
mkdir -p "$D"

# shellcheck source=lib/nginx.sh
source "$BENCH_DIR/lib/nginx.sh"
trap 'stop_nginx; stop_server' EXIT INT TERM

# A store of a million records and more is imported straight into its data dir.
t0=$(date +%s)
if [ "$NTRADES" -ge 1000000 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
    BENCH_NO_TEMPLATE=1 fresh_data_dir "$D/data" "$NTRADES" 0
else
    fresh_data_dir "$D/data" "$NTRADES" 0
fi
log "store of $NTRADES trades ready in $(($(date +%s) - t0)) s, $(($(du -sb "$D/data" | cut -f1) / 1000000)) MB"
ALIPAY=$(gen_file alipay-trade "$NTRADES")

server_conf() { # ENTRIES -> writes $D/server.toml
    printf 'record_cache_entries = %d\ntop_timestamp_window_secs = 86400\n' "$1" >"$D/server.toml"
}
server_conf "$DEFAULT_CACHE"
# The first start installs the demo credentials; later starts reuse them (and the data dir).
start_server "$D/data" "$PORT" "$SERVER_CPUS" --config "$D/server.toml"
CREDS="$D/data/demo-credentials.json"
declare -A SIZE
for fmt in $FORMATS; do
    t0=$(date +%s)
    presign top "$CREDS" "$ALIPAY" "$D/all-$fmt.txt" --count "$MAXW" --method edi --format "$fmt" --spread
    log "pre-signed $MAXW $fmt requests in $(($(date +%s) - t0)) s"
    probe=$(presign probe "$URL" "$D/all-$fmt.txt" "top-$fmt" --n 200 --static "$D/$fmt.static")
    SIZE[$fmt]=$(sed 's/.*"mean_bytes": \([0-9]*\).*/\1/' <<<"$probe")
done
stop_server

load=$(wait_quiet)
log "before measuring: $load"
printf '\nTOP EDI over working sets — tradeq and nginx on core %s, wrk on core %s, store of %s trades, %s, %s rounds of %s s\n' \
    "$SERVER_CPUS" "$CLIENT_CPUS" "$NTRADES" "$load" "$REPS" "$PEAK_SECS" >"$D/table.txt"
printf '| %-6s | %9s | %-7s | %14s | %10s | %10s | %-9s | %-13s | %7s | %s\n' "format" "distinct" "mode" "record cache" \
    "tradeq/s" "nginx/s" "best/best" "paired median" "anon MB" "paired rounds (%)" >>"$D/table.txt"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "--------" "-----------" "---------" "----------------" "------------" \
    "------------" "-----------" "---------------" "---------" "---" >>"$D/table.txt"

for fmt in $FORMATS; do
    if [ "$fmt" = json ]; then
        check='"trade_no"' ctype="application/json;charset=utf-8"
    else
        check='<trade_no>' ctype="text/xml;charset=utf-8"
    fi
    for w in $SETS; do
        head -n "$w" "$D/all-$fmt.txt" >"$D/ws.txt"
        head -n "$((w < 10000 ? w : 10000))" "$D/all-$fmt.txt" >"$D/ws-nginx.txt"
        for mode in $MODES; do
            case $mode in
                warm) entries=$((w + w / 4)) warm_secs=$((WARM_SECS + w / WARM_RATE)) ;;
                cold) entries=0 warm_secs=$WARM_SECS ;;
                default)
                    [ "$w" -gt "$DEFAULT_CACHE" ] || continue
                    entries=$DEFAULT_CACHE warm_secs=$((WARM_SECS + w / WARM_RATE))
                    ;;
                *) die "unknown mode $mode (warm, cold, default)" ;;
            esac
            name="curve-$fmt-$w-$mode"
            server_conf "$entries"
            start_server "$D/data" "$PORT" "$SERVER_CPUS" --config "$D/server.toml"
            start_nginx "$D/$fmt.static" "$ctype"
            run_wrk "$name-warm" "$URL" "$D/ws.txt" cycle 0 "$check" "$warm_secs" "$CONNS" >/dev/null
            run_wrk "$name-nginx-warm" "$NGINX_URL" "$D/ws-nginx.txt" cycle 0 "$check" "$WARM_SECS" "$CONNS" >/dev/null
            alternate_rounds "$name" "$D/ws.txt" "$D/ws-nginx.txt" "$check"
            stop_nginx
            # Anonymous resident memory (not the mapped database) after the rounds: with the
            # warm cache full, (warm - cold) / W is about what a cached record costs.
            rss_mb=$(awk '/^RssAnon:/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER_PID/status" 2>/dev/null || echo n/a)
            stop_server
            record bench=top-curve method="$mode" format="$fmt" records="$w" store_records="$NTRADES" \
                record_cache_entries="$entries" load="$load" answer_bytes="${SIZE[$fmt]}" rss_mb="$rss_mb" \
                tradeq_rps="$best_t" nginx_rps="$best_n" ratio_pct="$(ratio "$best_t" "$best_n")" \
                paired_ratios_pct="$(sed 's/^ //; s/ /,/g' <<<"$pairs")" paired_median_pct="$paired"
            printf '| %-6s | %9s | %-7s | %14s | %10s | %10s | %-9s | %-13s | %7s | %s\n' "$fmt" "$w" "$mode" "$entries" \
                "$(fmt_int "$best_t")" "$(fmt_int "$best_n")" "$(ratio "$best_t" "$best_n") %" "$paired %" "$rss_mb" \
                "$(sed 's/^ //; s/ /, /g' <<<"$pairs")" >>"$D/table.txt"
        done
    done
done
if [ "$NTRADES" -ge 1000000 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
    rm -rf "$D/data" "$(gen_file_path alipay-trade "$NTRADES")" "$D"/all-*.txt # gigabytes
fi
rm -f "$D/ws.txt" "$D/ws-nginx.txt"
cat "$D/table.txt"
