# Shared by the benchmarks (sourced after scripts/lib.sh).

# to_ms VALUE [DECIMALS]: a wrk latency (512.00us, 1.20ms, 1.01s) in milliseconds
to_ms() {
  awk -v v="$1" -v d="${2:-2}" 'BEGIN {
    f = "%." d "f"
    if (v ~ /us$/) { sub(/us$/, "", v); printf f, v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf f, v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf f, v * 1000 }
    else printf "%s", v }'
}

# start_node [KEY=VALUE...]: starts one klerno-node (2 io threads, 2 actor threads, API key
# $KLERNO_BENCH_KEY, DATABASE_URL=$database_url, ports file and log in $work) with the extra
# settings; sets node_pid and port, and waits until it is ready.
start_node() {
  rm -f "$work/ports"
  env PORT=0 BIND_ADDRESS=127.0.0.1 WORKERS=2 ACTOR_THREADS=2 ACCESS_LOG=false LOG_LEVEL=warn \
    API_KEY="$KLERNO_BENCH_KEY" SHUTDOWN_GRACE=0 DATABASE_URL="$database_url" \
    PORTS_FILE="$work/ports" "$@" "$(KLERNO_NODE_BIN)" >>"$work/node.log" 2>&1 &
  node_pid=$!
  local deadline=$((SECONDS + 20))
  until [ -s "$work/ports" ]; do
    [ $SECONDS -lt $deadline ] || die "klerno-node did not start: $(cat "$work/node.log")"
    sleep 0.05
  done
  port=$(ports_get "$work/ports" http)
  wait_http_ok "http://127.0.0.1:$port/readiness" 30 || die "klerno-node is not ready"
}

# stop_node: SIGTERM to the node of start_node, and wait for it.
stop_node() {
  kill -TERM "$node_pid" && wait "$node_pid" || true
  node_pid=""
}

# bench_workdir: a scratch directory $work for the servers and the node of one benchmark; on exit
# the node (start_node), Redis and PostgreSQL started in it are stopped and it is removed.
bench_workdir() {
  work=$(mktemp -d /tmp/klerno-bench.XXXXXX)
  chmod 755 "$work" # the PostgreSQL servers may run as the postgres user
  node_pid=""
  trap bench_cleanup EXIT
}

bench_cleanup() {
  [ -n "${node_pid:-}" ] && kill -TERM "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  "$KLERNO_ROOT/scripts/redis" stop "$work/redis" >/dev/null 2>&1 || true
  "$KLERNO_ROOT/scripts/pg" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}

# start_pg [--fast]: a PostgreSQL primary (durable unless --fast) in $work/pg; sets database_url.
start_pg() {
  log "starting PostgreSQL (primary only${1:+, $1}) in $work/pg"
  "$KLERNO_ROOT/scripts/pg" start "$work/pg" --no-replica "$@" >/dev/null
  database_url=$(kv_get "$work/pg/env" DATABASE_URL)
}

# start_redis: a redis-server in $work/redis; sets redis_url.
start_redis() {
  log "starting Redis in $work/redis"
  "$KLERNO_ROOT/scripts/redis" start "$work/redis" >/dev/null
  redis_url=$(kv_get "$work/redis/env" REDIS_URL)
}
