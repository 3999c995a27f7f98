#!/usr/bin/env bash
# Benchmark of the Redis-backed cache layer, all on this machine (durable PostgreSQL, a private
# redis-server, one node with 2 io + 2 actor threads, wrk with 2 threads):
#   1. GET /transactions/{tx_id} over N stored rows: uncached (CACHE_ENABLED=false: every read
#      goes to PostgreSQL) vs. cached (in-process L1 in front of Redis; warmed first) vs. cached
#      from Redis only (CACHE_L1_MAX_BYTES=0: every read is one Redis GET). Target: cached >= 3x
#      uncached.
#   2. The rate limiter's cost per request on POST /analyze/tx (no database): no limiter vs. the
#      token bucket in Redis (one EVALSHA per request, limits too high to deny) vs. the per-node
#      fallback (Redis stopped). Reported as req/s and as the node's CPU per request.
#
#   bench/cache.sh [-d SECONDS] [-c CONNECTIONS] [-n ROWS]
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

duration=10 conns=64 rows=1000
while getopts "d:c:n:" opt; do
  case $opt in
    d) duration=$OPTARG ;;
    c) conns=$OPTARG ;;
    n) rows=$OPTARG ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done

ensure_packages build bench pg redis
build_release --target klerno-node >/dev/null

bench_workdir

start_pg
start_redis

export KLERNO_BENCH_LUA="$KLERNO_ROOT/bench/lua"
export KLERNO_BENCH_KEY=bench-api-key-0123456789
export KLERNO_BENCH_IDS=$rows
export KLERNO_BENCH_ID_PREFIX="c$RANDOM-"

# run NAME SCRIPT: prints "req/s p50 p99 non2xx cpu_us_per_request"
run() {
  local out t0 t1
  export KLERNO_BENCH_RUN="$1-$RANDOM$RANDOM"
  t0=$(awk '{ print $14 + $15 }' "/proc/$node_pid/stat")
  out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$KLERNO_BENCH_LUA/$2" "http://127.0.0.1:$port")
  t1=$(awk '{ print $14 + $15 }' "/proc/$node_pid/stat")
  echo "$out" >"$work/$1.wrk"
  local rps p50 p99 bad total cpu
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$total" \
    'BEGIN { printf "%.1f", (n > 0 ? t / hz / n * 1e6 : 0) }')
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${bad:-0} $cpu"
}

row() { printf '%-52s %10s %8s %8s %8s %12s\n' "$@"; }

# The rows every GET reads: one batch.
start_node REDIS_URL="$redis_url" CACHE_ENABLED=false
log "storing $rows transactions"
awk -v n="$rows" -v p="$KLERNO_BENCH_ID_PREFIX" 'BEGIN {
  printf "["
  for (i = 1; i <= n; i++)
    printf "%s{\"tx_id\":\"%s%d\",\"from_addr\":\"rW%d\",\"to_addr\":\"rD%d\",\"amount\":%d.5,\"direction\":\"out\",\"fee\":0.2,\"memo\":\"payment %d\"}", (i > 1 ? "," : ""), p, i, i % 100, i % 500, i, i
  printf "]"
}' >"$work/batch.json"
stored=$(curl -fsS -H "X-API-Key: $KLERNO_BENCH_KEY" -H 'Content-Type: application/json' \
  --data-binary @"$work/batch.json" "http://127.0.0.1:$port/transactions/batch" |
  sed -n 's/.*"stored":\([0-9]*\).*/\1/p')
[ "${stored:-0}" -eq "$rows" ] || die "stored ${stored:-0} of $rows rows"

echo "wrk -t2 -c$conns -d${duration}s; node: 2 io + 2 actor threads; PostgreSQL 15 durable; Redis $(redis-server --version | awk '{print $3}'); $(nproc) cores"
row "" "req/s" "p50 ms" "p99 ms" "non-2xx" "CPU us/req"
read -r u_rps u_p50 u_p99 u_bad u_cpu < <(run uncached get_tx.lua)
row "GET /transactions/{id}, uncached (PostgreSQL)" "$u_rps" "$u_p50" "$u_p99" "$u_bad" "$u_cpu"
stop_node

start_node REDIS_URL="$redis_url" CACHE_L1_TTL=10m
run warm get_tx.lua >/dev/null
read -r c_rps c_p50 c_p99 c_bad c_cpu < <(run cached get_tx.lua)
row "GET /transactions/{id}, cached (L1, then Redis)" "$c_rps" "$c_p50" "$c_p99" "$c_bad" "$c_cpu"
# Reference: the cheapest route of the same node (no guard, no cache, no database).
read -r h_rps h_p50 h_p99 h_bad h_cpu < <(run healthz healthz.lua)
row "GET /healthz (reference: no guard, no I/O)" "$h_rps" "$h_p50" "$h_p99" "$h_bad" "$h_cpu"
stop_node

start_node REDIS_URL="$redis_url" CACHE_L1_MAX_BYTES=0
run warm2 get_tx.lua >/dev/null
read -r r_rps r_p50 r_p99 r_bad r_cpu < <(run redis-only get_tx.lua)
row "GET /transactions/{id}, cached in Redis only (no L1)" "$r_rps" "$r_p50" "$r_p99" "$r_bad" "$r_cpu"
stop_node

start_node REDIS_URL="$redis_url" RATE_LIMIT_ENABLED=false
read -r n_rps n_p50 n_p99 n_bad n_cpu < <(run no-limit analyze.lua)
row "POST /analyze/tx, no rate limiter" "$n_rps" "$n_p50" "$n_p99" "$n_bad" "$n_cpu"
stop_node

start_node REDIS_URL="$redis_url" RATE_LIMIT_ENABLED=true RATE_LIMIT_PER_MINUTE=100000000 RATE_LIMIT_BURST=100000000
read -r l_rps l_p50 l_p99 l_bad l_cpu < <(run limited analyze.lua)
row "POST /analyze/tx, token bucket in Redis" "$l_rps" "$l_p50" "$l_p99" "$l_bad" "$l_cpu"
"$KLERNO_ROOT/scripts/redis" stop "$work/redis" >/dev/null
read -r f_rps f_p50 f_p99 f_bad f_cpu < <(run fallback analyze.lua)
row "POST /analyze/tx, per-node fallback (Redis down)" "$f_rps" "$f_p50" "$f_p99" "$f_bad" "$f_cpu"
stop_node

echo
awk -v u="$u_rps" -v c="$c_rps" -v h="$h_rps" -v r="$r_rps" -v n="$n_rps" -v l="$l_rps" -v f="$f_rps" \
  -v nc="$n_cpu" -v lc="$l_cpu" -v fc="$f_cpu" 'BEGIN {
  printf "cached / uncached GET:             %.1fx (target >= 3x: %s); Redis-only / uncached: %.1fx\n",
    c / u, (c >= 3 * u ? "met" : "NOT met"), r / u
  printf "cached GET / GET /healthz:         %.0f%%\n", 100 * c / h
  printf "rate limiter in Redis:             %.0f%% of the unlimited req/s, +%.1f us CPU per request\n",
    100 * l / n, lc - nc
  printf "per-node fallback (Redis down):    %.0f%% of the unlimited req/s, +%.1f us CPU per request\n",
    100 * f / n, fc - nc
}'
