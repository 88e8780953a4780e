#!/usr/bin/env bash
# Soak: many keep-alive connections for a long time, every answer checked, the server's memory
# watched.
#
#   bash bench/soak.sh                                   # 1,000 connections, 10 minutes
#   BENCH_SOAK_SECS=60 bash bench/soak.sh                # a short check run
#   BENCH_SOAK_FAULT=top-secret BENCH_SOAK_SECS=30 bash bench/soak.sh   # must end in FAIL
#
# tradeq (release build, `serve --demo` on a SQLite store of generated trades) runs on core
# SERVER_CPUS (0); two wrk processes run on core CLIENT_CPUS (1), each one thread: half of the
# connections replay pre-signed Alipay v2 `alipay.trade.query` requests on `/gateway.do`, the
# other half pre-signed TOP requests on `/router/rest` (EDI and xlife queries, JSON, alternating).
# Without `taskset` nothing is pinned. bench/lib/soak.lua checks every answer: HTTP 200 and the
# success envelope (v2: `alipay_trade_query_response` with "code":"10000" and a `sign`; TOP: the
# method's `_response` key and no `error_response`); wrk's socket errors (connect, read, write,
# timeout) count as errors too. A warm-up with the same load goes first (its answers are checked
# as well), then the measured run, while the server's VmRSS and open descriptors are sampled.
#
# Verdict `soak: PASS` (exit 0) only when
# - there was no error of any kind, in the warm-up or the run;
# - RSS grew by at most BENCH_SOAK_RSS_TOLERANCE_PCT between the mean of the run's first and
#   last minute (for runs under 4 minutes: first and last quarter). Why a growth bound works:
#   the warm-up replays every pre-signed request at least once, so every cache of the server
#   (v2 answer signatures, records, credentials) is already at its final size and the
#   connections' buffers exist when the run starts; nothing legitimate grows after that. What
#   still moves is the allocator keeping or returning pages and per-connection buffers resizing,
#   a few per cent. A leak, even of 100 bytes per request, adds ~1 MB/s at ~10,000 answers/s,
#   hundreds of MB over a 10-minute run: far beyond 20 % of a process of a few tens of MB;
# - the server is still running, and after the load stops its open descriptors fall back to
#   what it held before the load (every connection released) within 30 s.
# Otherwise `soak: FAIL` and exit 1.
#
# Variables (besides common.sh's BENCH_WORK, BENCH_PORT, SERVER_CPUS, CLIENT_CPUS,
# BENCH_SKIP_BUILD, RESULTS_DIR):
#   BENCH_SOAK_SECS               length of the measured run, seconds (600)
#   BENCH_SOAK_CONNECTIONS        connections in all, half v2, half TOP (1000)
#   BENCH_SOAK_FILL_CONNS         connections per protocol of the fill that goes before the
#                                 warm-up: every pre-signed request once, so that the server's
#                                 caches hold the working set before the 1,000 connections
#                                 arrive (32; 0 skips it: the warm-up then meets a cold server)
#   BENCH_SOAK_WARM_SECS          warm-up before it, same load (30)
#   BENCH_SOAK_REQUESTS           distinct pre-signed requests per protocol, cycled (20000); the
#                                 warm-up must get through all of them (it says so if not)
#   BENCH_SOAK_TRADES             generated alipay trades in the store (100000)
#   BENCH_SOAK_ONSITE             generated onsite trades in the store (10000)
#   BENCH_SOAK_SAMPLE_SECS        RSS sampling period (10)
#   BENCH_SOAK_RSS_TOLERANCE_PCT  allowed RSS growth, first to last minute (20)
#   BENCH_SOAK_TIMEOUT_SECS       wrk's per-request timeout (10)
#   BENCH_SOAK_FAULT              break one half on purpose, to see the checker catch it:
#                                 top-secret  TOP requests signed with a wrong app secret
#                                 stale       v2 requests signed 20 minutes ago and the server's
#                                             timestamp windows left at their defaults
#
# Timestamps: requests are signed once, before the run, and replayed for its whole length, so
# their timestamps age with it. The server's defaults (±15 min v2, ±10 min TOP) would start
# rejecting them part-way through a 10-minute run plus pre-signing and warm-up, so the server
# gets a config file whose `v2_timestamp_window_secs` and `top_timestamp_window_secs` cover the
# warm-up, the run and 15 minutes of slack (at most 24 h, the server's limit).
#
# Output: a table, the verdict line, raw files under RESULTS_DIR (wrk-soak-*.txt, soak-rss.tsv:
# seconds since the run started, VmRSS kB, open descriptors) and a row in summary.jsonl.
source "$(dirname "$0")/lib/common.sh"
need wrk python3

SECS="${BENCH_SOAK_SECS:-600}"
CONNECTIONS="${BENCH_SOAK_CONNECTIONS:-1000}"
WARM="${BENCH_SOAK_WARM_SECS:-30}"
FILL_CONNS="${BENCH_SOAK_FILL_CONNS:-32}"
NREQ="${BENCH_SOAK_REQUESTS:-20000}"
NTRADES="${BENCH_SOAK_TRADES:-100000}"
NONSITE="${BENCH_SOAK_ONSITE:-10000}"
EVERY="${BENCH_SOAK_SAMPLE_SECS:-10}"
TOLERANCE="${BENCH_SOAK_RSS_TOLERANCE_PCT:-20}"
TIMEOUT="${BENCH_SOAK_TIMEOUT_SECS:-10}"
FAULT="${BENCH_SOAK_FAULT:-}"

positive() {
    [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "${3:-1}" ] || die "$1 must be a whole number >= ${3:-1}, not '$2'"
}
positive BENCH_SOAK_SECS "$SECS" 10
positive BENCH_SOAK_CONNECTIONS "$CONNECTIONS" 2
positive BENCH_SOAK_WARM_SECS "$WARM" 1
positive BENCH_SOAK_REQUESTS "$NREQ" 2
positive BENCH_SOAK_TRADES "$NTRADES" 1
positive BENCH_SOAK_ONSITE "$NONSITE" 1
positive BENCH_SOAK_SAMPLE_SECS "$EVERY" 1
positive BENCH_SOAK_RSS_TOLERANCE_PCT "$TOLERANCE" 0
positive BENCH_SOAK_TIMEOUT_SECS "$TIMEOUT" 1
case $FAULT in "" | top-secret | stale) ;; *) die "BENCH_SOAK_FAULT must be top-secret or stale, not '$FAULT'" ;; esac
[ "$NREQ" -le "$NTRADES" ] || die "BENCH_SOAK_REQUESTS ($NREQ) needs as many trades (BENCH_SOAK_TRADES is $NTRADES)"
[ "$EVERY" -lt "$SECS" ] || die "BENCH_SOAK_SAMPLE_SECS ($EVERY) must be below BENCH_SOAK_SECS ($SECS)"
WINDOW_SECS=$((SECS + WARM + 900))
[ "$WINDOW_SECS" -le 86400 ] || die "BENCH_SOAK_SECS + BENCH_SOAK_WARM_SECS must stay under 85,500 s (timestamp windows end at 24 h)"

V2_CONNS=$((CONNECTIONS / 2))
TOP_CONNS=$((CONNECTIONS - V2_CONNS))

# Connections a closing wrk left behind may linger a moment while the next one connects, so the
# server may hold more than CONNECTIONS at once; above max_connections it would answer 503.
MAX_CONNS=$((CONNECTIONS + CONNECTIONS / 2 + 100))
# Every connection is a descriptor in the server and in the wrk holding it. The limit is per
# process and inherited; the server wants max_connections plus the admin listener's 256 and a
# reserve for its store, and would otherwise lower its cap under the limit (and say so).
want_fds=$((MAX_CONNS + 512))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want_fds" ]; then
    ulimit -n "$want_fds" 2>/dev/null ||
        die "open files limit is $(ulimit -n) (hard $(ulimit -Hn)); $CONNECTIONS connections need $want_fds: raise it (ulimit -Hn / limits.conf)"
fi

PORT=$((BASE_PORT + 40))
URL="http://127.0.0.1:$PORT"
D="$WORK/soak"
SOAK_LUA="$BENCH_DIR/lib/soak.lua"
RSS_FILE="$RESULTS_DIR/soak-rss.tsv"
mkdir -p "$D"

WRK_PIDS=()
SAMPLER_PID=
stop_all() {
    local p
    for p in "${WRK_PIDS[@]}" $SAMPLER_PID; do
        kill "$p" 2>/dev/null || true
    done
    stop_server
}
trap stop_all EXIT INT TERM

ensure_venv
build_tradeq
fresh_data_dir "$D/data" "$NTRADES" "$NONSITE"
ALIPAY=$(gen_file alipay-trade "$NTRADES")
ONSITE=$(gen_file onsite-trade "$NONSITE")

{
    echo "max_connections = $MAX_CONNS"
    if [ "$FAULT" != stale ]; then
        echo "v2_timestamp_window_secs = $WINDOW_SECS"
        echo "top_timestamp_window_secs = $WINDOW_SECS"
    fi
} >"$D/server.toml"
start_server "$D/data" "$PORT" "$SERVER_CPUS" --config "$D/server.toml"
CREDS="$D/data/demo-credentials.json"
if grep -q 'descriptor limit' "$D/data/server.log"; then
    die "the server lowered its connection cap: $(grep 'descriptor limit' "$D/data/server.log")"
fi

V2_ARGS=()
TOP_CREDS=$CREDS
case $FAULT in
stale) V2_ARGS=(--age 1200) ;;
top-secret)
    TOP_CREDS="$D/wrong-secret.json"
    python3 - "$CREDS" "$TOP_CREDS" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["top"]["app_secret"] = "0" * len(c["top"]["app_secret"])
json.dump(c, open(sys.argv[2], "w"))
EOF
    ;;
esac
if [ -n "$FAULT" ]; then log "BENCH_SOAK_FAULT=$FAULT: this run must end in FAIL"; fi

log "pre-signing $NREQ v2 and $NREQ TOP requests"
presign v2 "$CREDS" "$ALIPAY" "$D/v2.txt" --count "$NREQ" --spread "${V2_ARGS[@]}"
presign top "$TOP_CREDS" "$ALIPAY" "$D/top-edi.txt" --count $((NREQ / 2)) --method edi --format json --spread
presign top "$TOP_CREDS" "$ONSITE" "$D/top-xlife.txt" --count $((NREQ - NREQ / 2)) --method xlife --format json --spread
# One file, EDI and xlife alternating, so that both methods run all along.
paste -d '\n' "$D/top-edi.txt" "$D/top-xlife.txt" | sed '/^$/d' >"$D/top.txt"
if [ "$FAULT" != stale ]; then presign probe "$URL" "$D/v2.txt" v2 --creds "$CREDS" --n 3 >/dev/null; fi
if [ "$FAULT" != top-secret ]; then presign probe "$URL" "$D/top.txt" top-json --n 4 >/dev/null; fi

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# run_load NAME SECS: both wrk processes at once; waits for them and checks each printed RESULT.
run_load() {
    local name=$1 secs=$2 kind conns file rc=0 p
    WRK_PIDS=()
    pin_to "$CLIENT_CPUS"
    for kind in v2 top; do
        if [ "$kind" = v2 ]; then conns=$V2_CONNS file=$D/v2.txt; else conns=$TOP_CONNS file=$D/top.txt; fi
        "${PIN[@]}" wrk -t1 -c"$conns" -d"${secs}s" --timeout "${TIMEOUT}s" -s "$SOAK_LUA" "$URL" \
            -- "$file" "$kind" >"$RESULTS_DIR/wrk-soak-$name-$kind.txt" 2>&1 &
        WRK_PIDS+=($!)
    done
    for p in "${WRK_PIDS[@]}"; do
        wait "$p" || rc=$?
    done
    WRK_PIDS=()
    for kind in v2 top; do
        grep -q '^RESULT ' "$RESULTS_DIR/wrk-soak-$name-$kind.txt" ||
            die "wrk ($name, $kind) printed no result (exit $rc): $(head -c 600 "$RESULTS_DIR/wrk-soak-$name-$kind.txt")"
    done
}
result() { grep '^RESULT ' "$RESULTS_DIR/wrk-soak-$1-$2.txt" | tail -n 1; }
errors_of() {
    local line=$1 k v sum=0
    for k in connect read write timeout non200 body; do v=$(field "$line" "$k"); sum=$((sum + ${v:-0})); done
    echo "$sum"
}

# sampler PID SECS EVERY OUT: VmRSS and descriptors at 0, EVERY, 2×EVERY … and at SECS-1, all
# while the load runs (the last one before wrk stops and the connections close).
sampler() {
    local pid=$1 secs=$2 every=$3 out=$4 t start now
    start=$(date +%s.%N)
    for t in $( (seq 0 "$every" $((secs - 1)); echo $((secs - 1))) | sort -nu); do
        now=$(date +%s.%N)
        sleep "$(awk -v s="$start" -v t="$t" -v n="$now" 'BEGIN{d = s + t - n; print (d > 0 ? d : 0)}')"
        kill -0 "$pid" 2>/dev/null || break
        printf '%d\t%s\t%s\n' "$t" "$(rss_kb "$pid")" "$(fd_count "$pid")" >>"$out"
    done
}

busy=$(busy_now)
idle_fds=$(fd_count "$SERVER_PID")
# The fill: each pre-signed request once, FILL_CONNS connections per protocol, both protocols at
# once. A cold server signs every v2 answer (about 1 ms of CPU on some hosts, where the
# answer-signature cache makes a repeat nearly free), so 1,000 connections meeting a cold server
# measure a server at many times its capacity, not a soak; BENCHMARKS.md ("Soak") has that case
# measured on its own. Its answers are checked like the others, and its errors count.
fill_errors=0
fill_line() { grep '^RESULT ' "$RESULTS_DIR/soak-fill-$1.txt" | tail -n 1; }
if [ "$FILL_CONNS" -gt 0 ]; then
    log "fill: every request once, $FILL_CONNS connections per protocol"
    pin_to "$CLIENT_CPUS"
    "${PIN[@]}" "$PY" "$BENCH_DIR/lib/presign.py" fill "$URL" "$D/v2.txt" v2 --conns "$FILL_CONNS" \
        --timeout "$TIMEOUT" >"$RESULTS_DIR/soak-fill-v2.txt" 2>&1 &
    fill_v2=$!
    "${PIN[@]}" "$PY" "$BENCH_DIR/lib/presign.py" fill "$URL" "$D/top.txt" top-json --conns "$FILL_CONNS" \
        --timeout "$TIMEOUT" >"$RESULTS_DIR/soak-fill-top.txt" 2>&1 &
    fill_top=$!
    wait "$fill_v2" || true
    wait "$fill_top" || true
    for kind in v2 top; do
        line=$(fill_line "$kind")
        [ -n "$line" ] || die "the fill ($kind) printed no result: $(head -c 600 "$RESULTS_DIR/soak-fill-$kind.txt")"
        fill_errors=$((fill_errors + $(field "$line" bad) + $(field "$line" errors)))
    done
fi

log "warm-up: $WARM s, $V2_CONNS v2 + $TOP_CONNS TOP connections"
run_load warm "$WARM"
warm_v2=$(result warm v2)
warm_top=$(result warm top)
warm_errors=$(($(errors_of "$warm_v2") + $(errors_of "$warm_top") + fill_errors))
for kind in v2 top; do
    line=$(result warm "$kind")
    if [ "$FILL_CONNS" -eq 0 ] && [ "$(field "$line" requests)" -lt "$NREQ" ]; then
        log "warning: the warm-up answered $(field "$line" requests) $kind requests, fewer than the $NREQ distinct ones: caches may still fill during the run (raise BENCH_SOAK_WARM_SECS)"
    fi
done

log "soak: $SECS s, $CONNECTIONS connections, RSS sampled every $EVERY s into $RSS_FILE"
printf 't_s\trss_kb\tfds\n' >"$RSS_FILE"
sampler "$SERVER_PID" "$SECS" "$EVERY" "$RSS_FILE" &
SAMPLER_PID=$!
run_load run "$SECS"
wait "$SAMPLER_PID" || true
SAMPLER_PID=
v2=$(result run v2)
top=$(result run top)

# After the load: every connection must be released (descriptors back to the idle count, a few
# of slack for the store's files).
alive=1
released=""
after_fds=""
for _ in $(seq 1 30); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then alive=0; break; fi
    after_fds=$(fd_count "$SERVER_PID")
    if [ "$after_fds" -le $((idle_fds + 8)) ]; then released=1; break; fi
    sleep 1
done

read -r rss_start rss_max rss_end first_mean last_mean growth window <<<"$(awk -v secs="$SECS" 'NR > 1 {
        t[++n] = $1; r[n] = $2
    } END {
        if (n == 0) { print "0 0 0 0 0 0 0"; exit }
        w = secs >= 240 ? 60 : int(secs / 4)
        max = 0; fs = 0; fn = 0; ls = 0; ln = 0
        for (i = 1; i <= n; i++) {
            if (r[i] > max) max = r[i]
            if (t[i] <= w) { fs += r[i]; fn++ }
            if (t[i] >= secs - 1 - w) { ls += r[i]; ln++ }
        }
        f = fs / fn; l = ls / ln
        printf "%d %d %d %.0f %.0f %.1f %d\n", r[1], max, r[n], f, l, 100 * (l - f) / f, w
    }' "$RSS_FILE")"
load_fds=$(awk 'NR > 1 && $3 > m {m = $3} END {print m + 0}' "$RSS_FILE")

requests=$(($(field "$v2" requests) + $(field "$top" requests)))
run_errors=$(($(errors_of "$v2") + $(errors_of "$top")))
duration=$(awk -v a="$(field "$v2" duration_s)" -v b="$(field "$top" duration_s)" 'BEGIN{print (a > b ? a : b)}')
rps=$(awk -v r="$requests" -v d="$duration" 'BEGIN{printf "%.0f", r / d}')
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'; }
# Bytes the server grew per answer between the windows: a leak's size, if there is one.
per_req=$(awk -v f="$first_mean" -v l="$last_mean" -v r="$requests" -v s="$SECS" -v w="$window" 'BEGIN{
    span = s - 1 - w; if (span <= 0 || r == 0) { print "n/a"; exit }
    printf "%.1f", (l - f) * 1024 / (r * span / s) }')

verdict=PASS
reasons=()
if [ "$warm_errors" -ne 0 ] || [ "$run_errors" -ne 0 ]; then
    verdict=FAIL
    reasons+=("$((warm_errors + run_errors)) errors")
fi
if awk -v g="$growth" -v t="$TOLERANCE" 'BEGIN{exit !(g > t)}'; then
    verdict=FAIL
    reasons+=("RSS grew $growth % > $TOLERANCE %")
fi
if [ "$alive" = 0 ]; then
    verdict=FAIL
    reasons+=("the server died")
elif [ -z "$released" ]; then
    verdict=FAIL
    reasons+=("descriptors still $after_fds 30 s after the load (idle: $idle_fds)")
fi
stop_server

row() {
    local name=$1 line=$2 extra=${3:-}
    printf '| %-22s | %10s | %9s | %15s | %7s | %4s | %5s | %7s | %7s | %8s |\n' "$name$extra" \
        "$(field "$line" requests)" "$(fmt_int "$(field "$line" rps)")" \
        "$(fmt_ms "$(field "$line" p50_us)") / $(fmt_ms "$(field "$line" p99_us)")" \
        "$(field "$line" connect)" "$(field "$line" read)" "$(field "$line" write)" \
        "$(field "$line" timeout)" "$(field "$line" non200)" "$(field "$line" body)"
}
{
    printf '\nSoak: %s connections (%s v2 + %s TOP) for %s s after a %s s warm-up; server on core %s, wrk on core %s; %s %% of the cores busy before%s\n' \
        "$CONNECTIONS" "$V2_CONNS" "$TOP_CONNS" "$SECS" "$WARM" "$SERVER_CPUS" "$CLIENT_CPUS" "$busy" \
        "${FAULT:+; BENCH_SOAK_FAULT=$FAULT}"
    printf '| %-22s | %10s | %9s | %15s | %7s | %4s | %5s | %7s | %7s | %8s |\n' \
        "run" "requests" "answers/s" "p50 / p99 ms" "connect" "read" "write" "timeout" "non-200" "bad body"
    printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "------------------------" "------------" "-----------" \
        "-----------------" "---------" "------" "-------" "---------" "---------" "----------"
    row "v2 /gateway.do" "$v2"
    row "TOP /router/rest" "$top"
    row "warm-up v2" "$warm_v2"
    row "warm-up TOP" "$warm_top"
    for kind in v2 top; do
        line=$(fill_line "$kind" 2>/dev/null || true)
        [ -z "$line" ] || printf 'fill %s: %s requests once over %s connections in %s s (%s/s), %s bad answers, %s socket errors\n' \
            "$kind" "$(field "$line" requests)" "$FILL_CONNS" "$(field "$line" duration_s)" \
            "$(fmt_int "$(field "$line" rps)")" "$(field "$line" bad)" "$(field "$line" errors)"
    done
    printf 'TOP good answers: %s EDI, %s xlife\n' "$(field "$top" ok_edi)" "$(field "$top" ok_xlife)"
    printf 'requests: %s, answers/s: %s, errors: %s in the run, %s in the fill and warm-up\n' \
        "$requests" "$rps" "$run_errors" "$warm_errors"
    printf 'RSS: start %s MiB (after warm-up), max %s MiB, end %s MiB; mean of the first %s s %s MiB, of the last %s s %s MiB: %s %% (tolerance %s %%; %s bytes per answer)\n' \
        "$(mib "$rss_start")" "$(mib "$rss_max")" "$(mib "$rss_end")" "$window" "$(mib "$first_mean")" \
        "$window" "$(mib "$last_mean")" "$growth" "$TOLERANCE" "$per_req"
    printf 'descriptors: %s before the load, up to %s under it, %s after it\n' "$idle_fds" "$load_fds" "${after_fds:-?}"
    for kind in v2 top; do
        grep -h '^SAMPLE ' "$RESULTS_DIR/soak-fill-$kind.txt" "$RESULTS_DIR/wrk-soak-warm-$kind.txt" "$RESULTS_DIR/wrk-soak-run-$kind.txt" 2>/dev/null |
            head -n 1 | cut -c1-300 | sed "s/^SAMPLE/first bad $kind answer:/" || true
    done
} | tee "$D/table.txt"

record bench=soak secs="$SECS" warm_secs="$WARM" connections="$CONNECTIONS" fault="${FAULT:-none}" \
    busy_before_pct="$busy" requests="$requests" rps="$rps" errors="$run_errors" warm_errors="$warm_errors" \
    v2_requests="$(field "$v2" requests)" top_requests="$(field "$top" requests)" \
    v2_p99_us="$(field "$v2" p99_us)" top_p99_us="$(field "$top" p99_us)" \
    rss_start_kb="$rss_start" rss_max_kb="$rss_max" rss_end_kb="$rss_end" rss_growth_pct="$growth" \
    idle_fds="$idle_fds" load_fds="$load_fds" after_fds="${after_fds:-}" verdict="$verdict"

if [ "$verdict" = PASS ]; then
    echo "soak: PASS"
else
    printf 'soak: FAIL (%s)\n' "$(IFS=';'; echo "${reasons[*]}" | sed 's/;/; /g')"
    exit 1
fi
