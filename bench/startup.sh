#!/usr/bin/env bash
# Benchmark: klerno-node start-to-ready time (process spawn until /readiness answers 200, no
# database) and idle resident memory, over several runs. Targets: ready < 1 s, idle RSS < 50 MB.
#
#   bench/startup.sh [RUNS]
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

runs=${1:-5}
ensure_packages build
build_release --target klerno-node >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '%-5s %14s %14s\n' "run" "ready (ms)" "idle RSS (MB)"
for i in $(seq 1 "$runs"); do
  rm -f "$work/ports"
  start=$(date +%s%N)
  PORT=0 BIND_ADDRESS=127.0.0.1 PORTS_FILE="$work/ports" LOG_LEVEL=warn SHUTDOWN_GRACE=0 \
    "$(KLERNO_NODE_BIN)" >"$work/log" 2>&1 &
  pid=$!
  until [ -s "$work/ports" ]; do sleep 0.002; done
  port=$(ports_get "$work/ports" http)
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/readiness" 2>/dev/null; do sleep 0.002; done
  ready=$(( ($(date +%s%N) - start) / 1000000 ))
  sleep 2 # idle
  rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  awk -v i="$i" -v r="$ready" -v kb="$rss_kb" 'BEGIN { printf "%-5s %14s %14.1f\n", i, r, kb / 1024 }'
done
