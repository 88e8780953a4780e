# Shared helpers of the benchmark scripts. Source it; do not run it.
#
# Conventions
# - The server under test is pinned to SERVER_CPUS (default core 0) and the load generator to
#   CLIENT_CPUS (default core 1), so "the cores the server used" is exactly one.
# - Everything listens on 127.0.0.1 only, every run is bounded in time and request count.
# - Raw results go to bench/results/ (git-ignored); each script prints its own table.

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
RESULTS_DIR="${RESULTS_DIR:-$BENCH_DIR/results}"
# Scratch space: data dirs, request files, a private copy of the binary.
WORK="${BENCH_WORK:-/tmp/tradeq-bench}"
SERVER_CPUS="${SERVER_CPUS:-0}"
CLIENT_CPUS="${CLIENT_CPUS:-1}"
# Base port; each script uses a few ports above it.
BASE_PORT="${BENCH_PORT:-18480}"
# Load (1-minute average) above which we wait before measuring, and for how long at most.
MAX_LOAD="${BENCH_MAX_LOAD:-0.5}"
MAX_WAIT_SECS="${BENCH_MAX_WAIT_SECS:-900}"
# Durations of the measured runs (seconds).
PEAK_SECS="${BENCH_PEAK_SECS:-15}"
LAT_SECS="${BENCH_LAT_SECS:-15}"
WARM_SECS="${BENCH_WARM_SECS:-3}"
# Connections of the closed-loop (peak) runs and of the paced (latency) runs.
CONNS="${BENCH_CONNS:-32}"
LAT_CONNS="${BENCH_LAT_CONNS:-16}"

PY="$BENCH_DIR/.venv/bin/python"
TQ="$WORK/bin/tradeq"
LUA="$BENCH_DIR/lib/replay.lua"

mkdir -p "$RESULTS_DIR" "$WORK/bin"

# BENCH_NICE (e.g. -15, needs root): run this benchmark, and everything it starts, at that
# priority, for a host where other work cannot be stopped. Where the kernel groups processes by
# session (autogroups, /proc/sys/kernel/sched_autogroup_enabled = 1), a process's nice value
# only ranks it within its own session, so a build started from another terminal keeps half the
# CPU whatever the nice value; the session's group priority is set too. Run the script under
# `setsid` so that only the benchmark's own session is raised, not the shell's.
if [ -n "${BENCH_NICE:-}" ] && [ -z "${BENCH_NICE_SET:-}" ]; then
    renice -n "$BENCH_NICE" -p $$ >/dev/null || { echo "BENCH_NICE: renice failed (root needed for a negative value)" >&2; exit 1; }
    if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo 0)" = 1 ]; then
        echo "$BENCH_NICE" >/proc/self/autogroup || { echo "BENCH_NICE: could not set the session's group priority" >&2; exit 1; }
    fi
    export BENCH_NICE_SET=1
fi

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 ||
            die "$tool is missing: run bash bench/setup.sh (Debian: apt-get install -y wrk nginx-light hyperfine)"
    done
}

# The Python venv with `cryptography` (bench/setup.sh makes it).
ensure_venv() {
    if [ ! -x "$PY" ] || ! "$PY" -c 'import cryptography' 2>/dev/null; then
        log "creating bench/.venv"
        python3 -m venv "$BENCH_DIR/.venv"
        "$BENCH_DIR/.venv/bin/pip" install -q -r "$BENCH_DIR/requirements.txt"
    fi
}

# Builds the release binary and snapshots it, so that a concurrent rebuild in the repo cannot
# swap the binary under a running benchmark. BENCH_SKIP_BUILD=1 reuses the last snapshot.
build_tradeq() {
    if [ "${BENCH_SKIP_BUILD:-0}" = 1 ] && [ -x "$TQ" ]; then
        return
    fi
    log "cargo build --release"
    (cd "$REPO_DIR" && cargo build --release --quiet)
    # Cargo puts the binary under CARGO_TARGET_DIR when it is set (relative to the repo, where
    # cargo ran), else under the repo's target/.
    local target=${CARGO_TARGET_DIR:-$REPO_DIR/target}
    case $target in /*) ;; *) target=$REPO_DIR/$target ;; esac
    cp "$target/release/tradeq" "$TQ.new"
    mv "$TQ.new" "$TQ"
    git -C "$REPO_DIR" rev-parse --short HEAD >"$WORK/bin/commit" 2>/dev/null || echo unknown >"$WORK/bin/commit"
    if ! git -C "$REPO_DIR" diff --quiet HEAD -- crates src Cargo.toml Cargo.lock 2>/dev/null; then
        echo "$(cat "$WORK/bin/commit")+dirty" >"$WORK/bin/commit"
    fi
}

load1() { cut -d' ' -f1 /proc/loadavg; }

# busy_now: % of all cores busy over the next 5 seconds (what the machine is doing right now; the
# 1-minute load average still counts our own previous run for a minute or two).
busy_now() {
    local before after
    before=$(grep '^cpu[0-9]' /proc/stat)
    sleep 5
    after=$(grep '^cpu[0-9]' /proc/stat)
    cpu_busy "$before" "$after" "$(seq -s, 0 $(($(nproc) - 1)))"
}

# Waits (polling every minute) until the machine is quiet — the 1-minute load below MAX_LOAD, or
# less than a quarter of the cores busy over 5 s (our own previous run inflates the load average
# for a while) — since other work on the machine skews every number, but never past
# BENCH_WAIT_DEADLINE (epoch seconds; run-all.sh sets one for the whole run, a script run alone
# waits at most MAX_WAIT_SECS). Prints "load <1-min load>, <busy> % busy".
wait_quiet() {
    local deadline=${BENCH_WAIT_DEADLINE:-$(($(date +%s) + MAX_WAIT_SECS))} load busy
    load=$(load1)
    busy=$(busy_now)
    while awk -v l="$load" -v m="$MAX_LOAD" -v b="$busy" 'BEGIN{exit !(l > m && b > 25)}'; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "still busy (load $load, $busy % of the cores busy); measuring anyway (noted in the results)"
            break
        fi
        log "machine busy (1-minute load $load > $MAX_LOAD, $busy % of the cores busy): waiting a minute"
        sleep 55
        load=$(load1)
        busy=$(busy_now)
    done
    echo "load $load, $busy % busy"
}

# pin_to CPUS: sets PIN to the command prefix that runs a command on CPUS (`taskset -c CPUS`), or
# to nothing where taskset is missing (only scripts that compare against no baseline allow that;
# the others `need taskset`). `"${PIN[@]}" cmd &` keeps $! the pid of cmd itself.
pin_to() {
    PIN=()
    if command -v taskset >/dev/null 2>&1; then
        PIN=(taskset -c "$1")
    fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
    local port=$1 i
    for i in $(seq 1 300); do
        if ! port_free "$port"; then return 0; fi
        sleep 0.1
    done
    return 1
}

# start_server DATA_DIR PORT [CPUS] [extra args…]: starts `tradeq serve --demo` pinned to CPUS
# and sets SERVER_PID. Its log is DATA_DIR/server.log.
start_server() {
    local dir=$1 port=$2 cpus=${3:-$SERVER_CPUS}
    shift 3 || shift $#
    port_free "$port" || die "port $port is in use"
    port_free $((port + 1)) || die "port $((port + 1)) is in use"
    mkdir -p "$dir"
    rm -f "$dir/demo-credentials.json"
    pin_to "$cpus"
    "${PIN[@]}" "$TQ" serve --demo --data-dir "$dir" \
        --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$((port + 1))" "$@" \
        >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    local i
    for i in $(seq 1 300); do
        # The listener is bound before the demo credentials are written.
        if ! port_free "$port" && [ -s "$dir/demo-credentials.json" ] &&
            grep -q '"gateway_url": "http://127.0.0.1:'"$port"'"' "$dir/demo-credentials.json"; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$dir/server.log" >&2
    stop_server
    die "tradeq did not start"
}

stop_server() {
    if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}

# Imports a JSONL file into a data dir (no server running on it).
import_file() {
    local kind=$1 file=$2 dir=$3
    "$TQ" import "$kind" "$file" --data-dir "$dir" 2>&1 | tail -n 2 >&2
}

# run_wrk NAME URL FILE MODE RATE CHECK SECS CONNS: one wrk run (one thread on CLIENT_CPUS)
# replaying the pre-built requests of FILE. MODE is `cycle` or `once`; RATE 0 is closed loop,
# otherwise a paced schedule of RATE requests/s. CHECK is a byte string every answer must
# contain ("-" for none). Prints the `RESULT k=v…` line of replay.lua (and keeps wrk's output).
run_wrk() {
    local name=$1 url=$2 file=$3 mode=$4 rate=$5 check=$6 secs=$7 conns=$8
    local out="$RESULTS_DIR/wrk-$name.txt" before after line
    before=$(grep '^cpu[0-9]' /proc/stat)
    taskset -c "$CLIENT_CPUS" wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s \
        -s "$LUA" "$url" -- "$file" "$mode" "$rate" "$check" >"$out" 2>&1 || {
        cat "$out" >&2
        die "wrk failed ($name)"
    }
    after=$(grep '^cpu[0-9]' /proc/stat)
    line=$(grep '^RESULT ' "$out" | tail -n 1) || die "no RESULT from wrk ($name): $(cat "$out")"
    # How busy the server's and the client's cores were: a server core below ~95 % at "peak"
    # means the client, not the server, was the limit.
    echo "$line server_cpu=$(cpu_busy "$before" "$after" "$SERVER_CPUS") client_cpu=$(cpu_busy "$before" "$after" "$CLIENT_CPUS")"
}

# cpu_busy BEFORE AFTER CPUS: busy % (average over the listed cores, e.g. "0" or "0,1") between
# two snapshots of the cpuN lines of /proc/stat.
cpu_busy() {
    awk -v cpus="$3" -v before="$1" -v after="$2" 'BEGIN {
        n = split(cpus, want, ",")
        for (i = 1; i <= n; i++) sel["cpu" want[i]] = 1
        m = split(before, b, "\n"); for (i = 1; i <= m; i++) { split(b[i], f, " "); if (f[1] in sel) { t = 0; for (j = 2; j <= 9; j++) t += f[j]; tot0 += t; idle0 += f[5] + f[6] } }
        m = split(after, a, "\n"); for (i = 1; i <= m; i++) { split(a[i], f, " "); if (f[1] in sel) { t = 0; for (j = 2; j <= 9; j++) t += f[j]; tot1 += t; idle1 += f[5] + f[6] } }
        dt = tot1 - tot0; if (dt <= 0) { print "n/a"; exit }
        printf "%.0f", 100 * (dt - (idle1 - idle0)) / dt
    }'
}

# field LINE KEY: the value of key=value in a RESULT line.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# A RESULT line must show no socket errors, no HTTP errors and no bad answers.
check_clean() {
    local name=$1 line=$2 k v bad=0
    for k in connect read write status timeout bad; do
        v=$(field "$line" "$k")
        if [ "${v:-0}" != 0 ]; then
            log "$name: $k errors = $v"
            bad=1
        fi
    done
    if [ "$(field "$line" exhausted)" = 1 ]; then
        log "$name: ran out of single-use requests"
        bad=1
    fi
    if [ "$bad" = 1 ]; then
        grep '^SAMPLE ' "$RESULTS_DIR/wrk-$name.txt" | head -c 600 >&2 || true
        return 1
    fi
}

fmt_int() { awk -v x="$1" 'BEGIN{printf "%d", x + 0.5}'; }
fmt_ms() { awk -v x="$1" 'BEGIN{printf "%.2f", x / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.1f", 100 * a / b; else print "n/a" }'; }
times() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }

# Appends one JSON object (from key=value pairs) to RESULTS_DIR/summary.jsonl.
record() {
    python3 - "$RESULTS_DIR/summary.jsonl" "$@" <<'EOF'
import json, sys, time
path, pairs = sys.argv[1], sys.argv[2:]
row = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
for p in pairs:
    k, _, v = p.partition("=")
    try:
        v = float(v) if "." in v or "e" in v.lower() else int(v)
    except ValueError:
        pass
    row[k] = v
with open(path, "a") as f:
    f.write(json.dumps(row, ensure_ascii=False) + "\n")
EOF
}

# measure_rsa [SECS]: `openssl speed -seconds SECS rsa2048` on the server's core. Sets RSA_SIGN,
# RSA_VERIFY (per second) and RSA_CEILING = 1 / (1/sign + 1/verify), the answers/s one core can
# give when each answer costs one verify and one sign. The v2/v3 scripts call it right before
# their peak runs, so the ratio compares numbers measured under the same conditions.
measure_rsa() {
    local secs=${1:-3} out
    out=$(taskset -c "${SERVER_CPUS%%,*}" openssl speed -seconds "$secs" rsa2048 2>/dev/null)
    echo "$out" >"$RESULTS_DIR/openssl-speed.txt"
    # "rsa 2048 bits 0.000258s 0.000017s   3880.9  57582.1"
    read -r RSA_SIGN RSA_VERIFY < <(awk '/^rsa +2048 bits/ {print $(NF-1), $NF}' <<<"$out")
    [ -n "${RSA_SIGN:-}" ] || die "cannot read openssl speed output: $out"
    RSA_CEILING=$(awk -v s="$RSA_SIGN" -v v="$RSA_VERIFY" 'BEGIN{printf "%.1f", 1 / (1/s + 1/v)}')
}

# gen_file KIND COUNT [SEED]: path of a generated JSONL file (made once, then reused).
gen_file_path() { echo "$WORK/gen/$1-$2-s${3:-1}.jsonl"; }
gen_file() {
    local kind=$1 count=$2 seed=${3:-1}
    local f
    f=$(gen_file_path "$kind" "$count" "$seed")
    if [ ! -s "$f" ]; then
        mkdir -p "$WORK/gen"
        log "tradeq demo generate $kind --count $count --seed $seed"
        "$TQ" demo generate "$kind" --count "$count" --seed "$seed" --out "$f.tmp"
        mv "$f.tmp" "$f"
    fi
    echo "$f"
}

# fresh_data_dir DEST N_ALIPAY N_ONSITE: DEST becomes a fresh SQLite data dir holding N_ALIPAY
# generated alipay-trade and N_ONSITE onsite-trade records (imported once into a template that
# later runs copy; the demo data and credentials are installed when the server first starts).
fresh_data_dir() {
    local dest=$1 na=$2 no=$3
    local tpl="$WORK/tpl/a$na-o$no"
    if [ "${BENCH_NO_TEMPLATE:-0}" = 1 ]; then
        tpl=$dest # big one-off stores: import straight into DEST
        rm -rf "$tpl"
    fi
    if [ ! -f "$tpl/.complete" ]; then
        rm -rf "$tpl"
        mkdir -p "$tpl"
        local fa fo
        fa=$(gen_file alipay-trade "$na")
        log "importing $na alipay-trade records into $tpl"
        "$TQ" import alipay-trade "$fa" --data-dir "$tpl" 2>&1 | tail -n 2 >&2
        if [ "$no" -gt 0 ]; then
            fo=$(gen_file onsite-trade "$no")
            log "importing $no onsite-trade records"
            "$TQ" import onsite-trade "$fo" --data-dir "$tpl" 2>&1 | tail -n 2 >&2
        fi
        touch "$tpl/.complete"
    fi
    if [ "$tpl" = "$dest" ]; then
        rm -f "$dest/.complete"
        return
    fi
    rm -rf "$dest"
    mkdir -p "$(dirname "$dest")"
    cp -a "$tpl" "$dest"
    rm -f "$dest/.complete"
}

presign() { "$PY" "$BENCH_DIR/lib/presign.py" "$@"; }

# Stops the server when the calling script exits, however it exits.
cleanup_server_on_exit() { trap 'stop_server' EXIT INT TERM; }
