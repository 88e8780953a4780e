#!/usr/bin/env bash
# What the request journal costs: the same requests against the same server with the journal on
# (the defaults: 10,000 entries, 64 MiB) and off (journal_max_entries = 0), in alternating rounds.
#
#   bash bench/journal.sh
#
# Cases: TOP `tmall.luxury.stage.edi.alipay.trade.query` JSON (no RSA: the cheapest request, so
# the one where a per-request cost shows most) and v2 `alipay.trade.query` polls of one unchanged
# trade (its answer signature cached). Each round starts the server afresh with one setting,
# warms it (which also fills the journal to its bound, so eviction is part of what is measured),
# then runs wrk closed loop; BENCH_REPS rounds, the order of on/off flipped every round. The
# ratio is on/off: the median over rounds of the pair's ratio, and best over best.
source "$(dirname "$0")/lib/common.sh"
need wrk taskset
cleanup_server_on_exit
ensure_venv
build_tradeq

NTRADES="${BENCH_V2_TRADES:-10000}"
NREQ="${BENCH_TOP_REQUESTS:-5000}"
REPS="${BENCH_REPS:-3}"
PORT=$((BASE_PORT + 40))
URL="http://127.0.0.1:$PORT"
D="$WORK/journal"
mkdir -p "$D"

printf 'journal_max_entries = 0\n' >"$D/off.toml"
printf 'journal_max_entries = 10000\n' >"$D/on.toml"

# One data dir for both settings (demo data and credentials installed on the first start).
fresh_data_dir "$D/data" "$NTRADES" 0
ALIPAY=$(gen_file alipay-trade "$NTRADES")
start_server "$D/data" "$PORT" "$SERVER_CPUS" --config "$D/on.toml"
CREDS="$D/data/demo-credentials.json"
presign top "$CREDS" "$ALIPAY" "$D/top.txt" --count "$NREQ" --method edi --format json --spread
presign v2 "$CREDS" "$ALIPAY" "$D/v2.txt" --count 600 --same
presign probe "$URL" "$D/v2.txt" v2 --creds "$CREDS" --n 3 >/dev/null
stop_server

load=$(wait_quiet)
log "before measuring: $load"
printf '\nRequest journal on vs off — tradeq on core %s, wrk on core %s, %s, %s s rounds\n' \
    "$SERVER_CPUS" "$CLIENT_CPUS" "$load" "$PEAK_SECS" >"$D/table.txt"
printf '| %-34s | %10s | %10s | %-9s | %-13s | %s\n' "case" "on/s" "off/s" "best/best" "paired median" "rounds (on/off %)" >>"$D/table.txt"
printf '|%s|%s|%s|%s|%s|%s\n' "------------------------------------" "------------" "------------" "-----------" "---------------" "---" >>"$D/table.txt"

one_round() { # CASE FILE CHECK SETTING -> RESULT line
    local case=$1 file=$2 check=$3 setting=$4 r=$5
    start_server "$D/data" "$PORT" "$SERVER_CPUS" --config "$D/$setting.toml"
    run_wrk "journal-$case-$setting-warm-$r" "$URL" "$file" cycle 0 "$check" "$WARM_SECS" "$CONNS" >/dev/null
    local line
    line=$(run_wrk "journal-$case-$setting-$r" "$URL" "$file" cycle 0 "$check" "$PEAK_SECS" "$CONNS")
    check_clean "journal-$case-$setting-$r" "$line" || die "$case ($setting) had errors"
    stop_server
    echo "$line"
}

for case in top-edi-json v2-same; do
    if [ "$case" = v2-same ]; then
        file="$D/v2.txt" check='"code":"10000"' label="alipay.trade.query v2 (one trade)"
    else
        file="$D/top.txt" check='"trade_no"' label="tmall…edi.alipay.trade.query json"
    fi
    best_on=0 best_off=0 pairs=""
    for r in $(seq 1 "$REPS"); do
        order="on off"
        [ $((r % 2)) = 0 ] && order="off on"
        declare -A rps=()
        for setting in $order; do
            line=$(one_round "$case" "$file" "$check" "$setting" "$r")
            rps[$setting]=$(field "$line" rps)
            log "$case round $r $setting: $(field "$line" rps)/s (server cpu $(field "$line" server_cpu) %)"
        done
        pairs="$pairs $(ratio "${rps[on]}" "${rps[off]}")"
        if awk -v a="${rps[on]}" -v b="$best_on" 'BEGIN{exit !(a > b)}'; then best_on=${rps[on]}; fi
        if awk -v a="${rps[off]}" -v b="$best_off" 'BEGIN{exit !(a > b)}'; then best_off=${rps[off]}; fi
        unset rps
    done
    paired=$(tr ' ' '\n' <<<"$pairs" | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    record bench=journal case="$case" load="$load" on_rps="$best_on" off_rps="$best_off" \
        ratio_pct="$(ratio "$best_on" "$best_off")" paired_ratios_pct="$(sed 's/^ //; s/ /,/g' <<<"$pairs")" \
        paired_median_pct="$paired" peak_secs="$PEAK_SECS"
    printf '| %-34s | %10s | %10s | %-9s | %-13s | %s\n' "$label" "$(fmt_int "$best_on")" "$(fmt_int "$best_off")" \
        "$(ratio "$best_on" "$best_off") %" "$paired %" "$(sed 's/^ //; s/ /, /g' <<<"$pairs")" >>"$D/table.txt"
done
cat "$D/table.txt"
