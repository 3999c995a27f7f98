#!/usr/bin/env bash
# Benchmark of /metrics against its target: rendering it costs under 1 ms with the full metric set.
#   1. bench_metrics_render (bench/metrics_render.cpp): registry::render() of a synthetic
#      node-sized registry, in process (min and median of N renders).
#   2. GET /metrics of a live node with the full metric set: one klerno-node (2 io + 2 actor
#      threads, a one-node cluster, rate limits on) on a private PostgreSQL and Redis
#      (scripts/pg, scripts/redis in a temporary directory), first exercised on every route
#      family so the labelled series exist; then, on one keep-alive connection (-c1, what a
#      Prometheus scrape is), GET /healthz as the reference and GET /metrics:
#        - N sequential curl requests: server time per request (time to first byte after the
#          request was sent; the node renders the whole body before it sends the first byte),
#          median and p99;
#        - wrk -c1 for D seconds: requests/s, latency and the node's CPU time per request.
#      The render cost is /metrics minus /healthz (the same HTTP path, an empty handler).
#
#   bench/metrics.sh [-n REQUESTS] [-d SECONDS] [-i ITERATIONS]
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

requests=1000 duration=5 iterations=2000
while getopts "n:d:i:" opt; do
  case $opt in
    n) requests=$OPTARG ;;
    d) duration=$OPTARG ;;
    i) iterations=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done

ensure_packages build bench pg redis
build_release --target klerno-node bench_metrics_render >/dev/null

bench_workdir

echo "== 1. registry::render() in process ($iterations renders; synthetic node-sized registry)"
"$KLERNO_BUILD_DIR/bench/bench_metrics_render" "$iterations" | sed 's/^/   /'

start_pg --fast
start_redis

KLERNO_BENCH_KEY=bench-api-key-0123456789
start_node REDIS_URL="$redis_url" REDIS_KEY_PREFIX="bench$RANDOM:" RATE_LIMIT_ENABLED=true \
  RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_BURST=100000 NODE_NAME=bench1 \
  CLUSTER_BOOTSTRAP=true CLUSTER_PORT=0 CLUSTER_SECRET=bench-cluster-secret-0123456789
base="http://127.0.0.1:$port"
K="X-API-Key: $KLERNO_BENCH_KEY"

# Every route family once or more: HTTP series per route and status, scoring buckets, stores,
# duplicates, alerts, wallets, the pools and writer, the cache (misses, L1 and Redis hits), the
# rate limiter, sessions, real-time counters, errors (404, 422, 401).
log "exercising the node (every route family) so the labelled series exist"
{
  for i in $(seq 1 40); do
    amount=$((i * 97))
    echo "POST /transactions {\"tx_id\":\"m$i\",\"from_addr\":\"rW$((i % 7))\",\"to_addr\":\"rX\",\"amount\":$amount,\"direction\":\"out\",\"memo\":\"$([ $((i % 5)) = 0 ] && echo 'mixer launder sanction' || echo rent)\",\"tags\":[$([ $((i % 5)) = 0 ] && echo '"sanctioned"')]}"
    echo "POST /analyze/tx {\"tx_id\":\"a$i\",\"amount\":$amount,\"direction\":\"in\",\"fee\":2}"
  done
  echo 'POST /transactions {"tx_id":"m1","amount":97,"direction":"out"}'
  echo 'POST /analyze/tx {"amount":"x"}'
  echo 'POST /analyze/batch [{"tx_id":"b1","amount":5},{"tx_id":"b2","amount":50000,"direction":"out"}]'
  for r in 1 2 3; do
    for i in 1 2 3 4 5; do
      echo "GET /transactions/m$i"
      echo "GET /transactions?wallet=rW$i&limit=5"
    done
    echo "GET /alerts?limit=5"
    echo "GET /analytics/summary?days=2"
    echo "GET /analytics/realtime?minutes=5"
    echo "GET /cluster/members"
    echo "GET /health"
    echo "GET /nope"
    echo "GET /readiness"
    echo "GET /liveness"
    echo "GET /export/csv?wallet=rW1"
  done
  echo "POST /auth/session"
} | while read -r method path body; do
  if [ "$method" = POST ]; then
    curl -s -o /dev/null -H "$K" -H 'Content-Type: application/json' -d "${body:-}" "$base$path"
  else
    curl -s -o /dev/null -H "$K" "$base$path"
  fi
done
curl -s -o /dev/null "$base/transactions" # 401
sleep 1 # the health actor samples the process and the dependencies at least once

curl -s "$base/metrics" >"$work/metrics.txt"
bytes=$(wc -c <"$work/metrics.txt")
series=$(grep -vc '^#' "$work/metrics.txt")
families=$(grep -c '^# TYPE' "$work/metrics.txt")
echo
echo "== 2. GET /metrics on a live node: $families families, $series series, $bytes bytes"

# ttfb PATH: N requests on one keep-alive connection; prints "median p99" of the server time
# (time_starttransfer - time_pretransfer) in microseconds.
ttfb() {
  local args=() i
  for i in $(seq 1 "$requests"); do args+=(-o /dev/null "$base$1"); done
  curl -s -w '%{time_pretransfer} %{time_starttransfer}\n' "${args[@]}" |
    awk '{ printf "%.1f\n", ($2 - $1) * 1e6 }' | sort -n |
    awk '{ v[NR] = $1 } END { printf "%s %s", v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.5)] }'
}
# cpu_ticks: the node's user + system CPU time in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$node_pid/stat"; }
hz=$(getconf CLK_TCK)
# wrk1 PATH: wrk -c1; prints "req/s avg_latency_ms cpu_us_per_request".
wrk1() {
  local out t0 t1 total rps lat
  t0=$(cpu_ticks)
  out=$(wrk -t1 -c1 -d"${duration}s" "$base$1")
  t1=$(cpu_ticks)
  total=$(echo "$out" | awk '/requests in/ { print $1 }')
  rps=$(echo "$out" | awk '/^Requests\/sec/ { print $2 }')
  lat=$(echo "$out" | awk '/Latency/ { print $2 }')
  printf '%s %s %s' "$rps" "$(to_ms "$lat" 3)" \
    "$(awk -v d=$((t1 - t0)) -v n="$total" -v hz="$hz" 'BEGIN { printf "%.1f", d / hz * 1e6 / n }')"
}

read -r h_med h_p99 <<<"$(ttfb /healthz)"
read -r m_med m_p99 <<<"$(ttfb /metrics)"
read -r h_rps h_lat h_cpu <<<"$(wrk1 /healthz)"
read -r m_rps m_lat m_cpu <<<"$(wrk1 /metrics)"

printf '   %-34s %12s %12s\n' "" "GET /healthz" "GET /metrics"
printf '   %-34s %12s %12s\n' "server time, median (us)" "$h_med" "$m_med"
printf '   %-34s %12s %12s\n' "server time, p99 (us)" "$h_p99" "$m_p99"
printf '   %-34s %12s %12s\n' "wrk -c1 req/s" "$h_rps" "$m_rps"
printf '   %-34s %12s %12s\n' "wrk -c1 avg latency (ms)" "$h_lat" "$m_lat"
printf '   %-34s %12s %12s\n' "node CPU per request (us)" "$h_cpu" "$m_cpu"
awk -v hm="$h_med" -v mm="$m_med" -v hc="$h_cpu" -v mc="$m_cpu" -v b="$bytes" -v s="$series" 'BEGIN {
  r = mm - hm; c = mc - hc
  printf "\n   render cost (/metrics - /healthz): %.1f us server time, %.1f us node CPU per scrape\n", r, c
  printf "   (%d series, %d bytes: %.2f us per series); target < 1000 us: %s\n", s, b, r / s,
    (r < 1000 && c < 1000) ? "met" : "NOT met"
}'
