# The nginx baseline of the TOP benchmarks. Source it after lib/common.sh, with D (scratch dir)
# and NGINX_PORT set.
#
# start_nginx FILE CTYPE: nginx (1 worker) on SERVER_CPUS serving FILE as /router/rest with
# content type CTYPE, to GET and POST alike (the static module answers POST with 405, turned into
# the file by `error_page 405 =200`). stop_nginx stops it. alternate_rounds: tradeq and nginx in
# alternating rounds.
NGINX_PID=
start_nginx() {
    local root=$1 ctype=$2
    local dir="$D/nginx"
    rm -rf "$dir"
    mkdir -p "$dir/tmp" "$dir/www/router"
    cp "$root" "$dir/www/router/rest"
    port_free "$NGINX_PORT" || die "port $NGINX_PORT is in use"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  open_file_cache max=16 inactive=300s;
  open_file_cache_valid 300s;
  client_body_temp_path $dir/tmp;
  proxy_temp_path $dir/tmp;
  fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp;
  scgi_temp_path $dir/tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $dir/www;
    location = /router/rest {
      default_type "$ctype";
      # The requests are POSTs with a form body; the static module answers POST with 405.
      error_page 405 =200 \$uri;
    }
  }
}
EOF
    taskset -c "$SERVER_CPUS" nginx -c "$dir/nginx.conf" -p "$dir" &
    NGINX_PID=$!
    wait_port "$NGINX_PORT" || die "nginx did not start: $(cat "$dir/error.log")"
}
stop_nginx() {
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    NGINX_PID=
}

# alternate_rounds NAME FILE NGINX_FILE CHECK: REPS rounds of PEAK_SECS, each tradeq (URL, the
# requests of FILE) then nginx (NGINX_URL, NGINX_FILE), both checked. Sets best_t and best_n (the
# best rates), t_line and n_line (their wrk results), pairs (tradeq over nginx per round, %) and
# paired (their median).
alternate_rounds() {
    local name=$1 file=$2 nginx_file=$3 check=$4 r t n
    best_t=0 best_n=0 t_line="" n_line="" pairs=""
    for r in $(seq 1 "$REPS"); do
        t=$(run_wrk "$name-peak-$r" "$URL" "$file" cycle 0 "$check" "$PEAK_SECS" "$CONNS")
        check_clean "$name-peak-$r" "$t" || die "$name had errors"
        n=$(run_wrk "$name-nginx-$r" "$NGINX_URL" "$nginx_file" cycle 0 "$check" "$PEAK_SECS" "$CONNS")
        check_clean "$name-nginx-$r" "$n" || die "$name nginx baseline had errors"
        log "$name round $r: tradeq $(field "$t" rps)/s (cpu $(field "$t" server_cpu)/$(field "$t" client_cpu)), nginx $(field "$n" rps)/s (cpu $(field "$n" server_cpu)/$(field "$n" client_cpu))"
        pairs="$pairs $(ratio "$(field "$t" rps)" "$(field "$n" rps)")"
        if awk -v a="$(field "$t" rps)" -v b="$best_t" 'BEGIN{exit !(a > b)}'; then best_t=$(field "$t" rps) t_line=$t; fi
        if awk -v a="$(field "$n" rps)" -v b="$best_n" 'BEGIN{exit !(a > b)}'; then best_n=$(field "$n" rps) n_line=$n; fi
    done
    paired=$(tr ' ' '\n' <<<"$pairs" | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
}
