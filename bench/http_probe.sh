#!/usr/bin/env bash
# Benchmark: nginx `return 200` vs klerno-node GET /healthz, side by side, same wrk settings.
# Both servers get 2 workers on loopback, access logs off. Prints req/s, p50 and p99 for each and
# the klerno/nginx throughput ratio (target: >= 0.6).
#
#   bench/http_probe.sh [-d SECONDS] [-c CONNECTIONS] [-t WRK_THREADS] [-w WORKERS]
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

duration=10 conns=100 threads=2 workers=2
while getopts "d:c:t:w:" opt; do
  case $opt in
    d) duration=$OPTARG ;;
    c) conns=$OPTARG ;;
    t) threads=$OPTARG ;;
    w) workers=$OPTARG ;;
    *) sed -n '2,7p' "$0"; exit 2 ;;
  esac
done

ensure_packages build bench
build_release --target klerno-node >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# --- nginx: return 200 with the same body as /healthz -------------------------------------------
nginx_port=$(free_port)
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes $workers;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  default_type application/json;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { return 200 '{"status":"ok"}'; }
  }
}
NGINX
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)

# --- klerno-node ----------------------------------------------------------------------------------
PORT=0 BIND_ADDRESS=127.0.0.1 WORKERS=$workers ACCESS_LOG=false LOG_LEVEL=warn \
  PORTS_FILE="$work/klerno.ports" "$(KLERNO_NODE_BIN)" >"$work/klerno.log" 2>&1 &
pids+=($!)
deadline=$((SECONDS + 10))
until [ -s "$work/klerno.ports" ]; do
  [ $SECONDS -lt $deadline ] || die "klerno-node did not start (log: $(cat "$work/klerno.log"))"
  sleep 0.05
done
klerno_port=$(ports_get "$work/klerno.ports" http)
wait_http_ok "http://127.0.0.1:$nginx_port/" 10 || die "nginx did not start: $(cat "$work/nginx/logs/error.log")"
wait_http_ok "http://127.0.0.1:$klerno_port/healthz" 10 || die "klerno-node is not answering"

# run NAME URL -> prints "req/s p50 p99" (latencies in ms)
run() {
  local out
  wrk -t"$threads" -c"$conns" -d2s "$2" >/dev/null # warm-up
  out=$(wrk -t"$threads" -c"$conns" -d"${duration}s" --latency "$2")
  echo "$out" >"$work/$1.wrk"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  echo "$rps $(to_ms "$p50" 3) $(to_ms "$p99" 3) ${errors:-}"
}
# wrk prints latencies like 512.00us, 1.20ms, 1.01s
echo "wrk -t$threads -c$conns -d${duration}s, $workers server workers each, $(nproc) cores"
read -r n_rps n_p50 n_p99 n_err < <(run nginx "http://127.0.0.1:$nginx_port/")
read -r k_rps k_p50 k_p99 k_err < <(run klerno "http://127.0.0.1:$klerno_port/healthz")
printf '%-28s %12s %10s %10s\n' "server" "req/s" "p50 ms" "p99 ms"
printf '%-28s %12.0f %10s %10s %s\n' "nginx return 200" "$n_rps" "$n_p50" "$n_p99" "$n_err"
printf '%-28s %12.0f %10s %10s %s\n' "klerno-node GET /healthz" "$k_rps" "$k_p50" "$k_p99" "$k_err"
awk -v k="$k_rps" -v n="$n_rps" 'BEGIN { printf "ratio klerno/nginx: %.2f (target >= 0.60)\n", k / n }'
