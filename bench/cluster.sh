#!/usr/bin/env bash
# Benchmark of the cluster on a real, durable PostgreSQL (fsync on), all on this machine:
#   1. The cost of a remote hop: POST /transactions (unique tx_ids over 1000 wallets, wrk) through
#      a 2-node cluster where every wallet is owned by the other node (A: NODE_ROLE=edge, owns no
#      partition, takes the load; B: NODE_ROLE=worker, owns them all) vs. one plain node
#      (NODE_ROLE=both, no cluster keys). Same connections and duration, each on a fresh database.
#      Target: cluster req/s >= 0.6 x single node. Also the nodes' CPU time per request (steadier
#      than req/s when other work shares the machine).
#   2. Failure detection: 3 nodes (role both), one killed with SIGKILL (and, separately, frozen
#      with SIGSTOP); time until another node's GET /cluster/members lists it "dead" (polled every
#      ~20 ms), fresh nodes and database per trial. Target: <= 3 s with the default
#      CLUSTER_HEARTBEAT_INTERVAL=500ms / CLUSTER_SUSPECT_TIMEOUT=1500ms (both taken from the
#      environment when set).
#
#   bench/cluster.sh [-d SECONDS] [-c CONNECTIONS] [-r DETECTION_TRIALS] [-k]
#     -k keeps the temporary directory (node logs, wrk output) instead of removing it.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

duration=10 conns=64 trials=3 keep=0
while getopts "d:c:r:k" opt; do
  case $opt in
    d) duration=$OPTARG ;;
    c) conns=$OPTARG ;;
    r) trials=$OPTARG ;;
    k) keep=1 ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done

[[ $duration =~ ^[0-9]+$ && $conns =~ ^[0-9]+$ && $trials =~ ^[0-9]+$ && $trials -ge 1 ]] \
  || die "-d, -c and -r take whole numbers (-r at least 1)"

heartbeat=${CLUSTER_HEARTBEAT_INTERVAL:-500ms}
suspect=${CLUSTER_SUSPECT_TIMEOUT:-1500ms}
# Nothing from the caller's environment decides the role or membership of a node here: the single
# node must run without any cluster key.
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(CLUSTER_|NODE_ROLE$|NODE_NAME$)' || true)

ensure_packages build bench pg
build_release --target klerno-node >/dev/null

work=$(mktemp -d /tmp/klerno-bench-cluster.XXXXXX)
chmod 755 "$work" # the PostgreSQL servers may run as the postgres user
declare -A pid_of=() http_of=() cluster_of=()

# stop_pids PID...: SIGTERM (and SIGCONT for a frozen one), SIGKILL after 10 s; reaps them.
stop_pids() {
  local p deadline=$((SECONDS + 10))
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; kill -CONT "$p" 2>/dev/null || true; done
  for p in "$@"; do
    while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    { wait "$p"; } 2>/dev/null || true # (braces: no "Killed" notice from the shell)
  done
}

cleanup() {
  [ ${#pid_of[@]} -gt 0 ] && stop_pids "${pid_of[@]}"
  "$KLERNO_ROOT/scripts/pg" stop "$work/pg" >/dev/null 2>&1 || true
  if [ "$keep" = 1 ]; then
    log "kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

log "starting a durable PostgreSQL (primary only) in $work/pg"
"$KLERNO_ROOT/scripts/pg" start "$work/pg" --no-replica >/dev/null
base_url=$(kv_get "$work/pg/env" DATABASE_URL)

export KLERNO_BENCH_LUA="$KLERNO_ROOT/bench/lua"
export KLERNO_BENCH_KEY=bench-api-key-0123456789
secret=bench-cluster-secret-0123456789
cluster_env=(CLUSTER_PORT=0 CLUSTER_BIND_ADDRESS=127.0.0.1 CLUSTER_SECRET="$secret"
             CLUSTER_HEARTBEAT_INTERVAL="$heartbeat" CLUSTER_SUSPECT_TIMEOUT="$suspect")

psql_db() { "$KLERNO_ROOT/scripts/pg" psql "$work/pg" "$@"; }

# fresh_db NAME: creates an empty database NAME and prints its URL (the node migrates it).
fresh_db() {
  psql_db -qc "CREATE DATABASE \"$1\"" >/dev/null
  printf '%s/%s' "${base_url%/*}" "$1"
}

# start_node NAME DATABASE_URL [KEY=VALUE...]: a node with 2 io threads and 2 actor threads; returns
# once its ports file is written (http_of[NAME], cluster_of[NAME]), not when it is ready.
start_node() {
  local name=$1 db=$2
  shift 2
  rm -f "$work/$name.ports"
  env PORT=0 BIND_ADDRESS=127.0.0.1 WORKERS=2 ACTOR_THREADS=2 ACCESS_LOG=false LOG_LEVEL=warn \
    API_KEY="$KLERNO_BENCH_KEY" SHUTDOWN_GRACE=0 DATABASE_URL="$db" NODE_NAME="$name" \
    PORTS_FILE="$work/$name.ports" "$@" \
    "$(KLERNO_NODE_BIN)" >"$work/$name.log" 2>&1 &
  pid_of[$name]=$!
  local deadline=$((SECONDS + 20))
  until [ -s "$work/$name.ports" ]; do
    kill -0 "${pid_of[$name]}" 2>/dev/null || die "klerno-node $name exited: $(cat "$work/$name.log")"
    [ $SECONDS -lt $deadline ] || die "klerno-node $name did not start: $(cat "$work/$name.log")"
    sleep 0.05
  done
  http_of[$name]=$(ports_get "$work/$name.ports" http)
  cluster_of[$name]=$(ports_get "$work/$name.ports" cluster)
}

wait_ready() {
  wait_http_ok "http://127.0.0.1:${http_of[$1]}/readiness" 60 \
    || die "klerno-node $1 is not ready: $(tail -n 20 "$work/$1.log")"
}

stop_nodes() {
  local n pids=()
  for n in "$@"; do pids+=("${pid_of[$n]}"); done
  stop_pids "${pids[@]}"
  for n in "$@"; do unset "pid_of[$n]"; done
}

members() {
  curl -sS --max-time 2 -H "X-API-Key: $KLERNO_BENCH_KEY" "http://127.0.0.1:${http_of[$1]}/cluster/members"
}

# member_field JSON NAME FIELD: a field of member NAME in a GET /cluster/members answer.
member_field() {
  grep -o "{\"name\":\"$2\"[^}]*}" <<<"$1" | sed -n "s/.*\"$3\":\"\{0,1\}\([^\",}]*\).*/\1/p" || true
}

# wait_members OBSERVER NAME...: until OBSERVER lists every NAME up and connected.
wait_members() {
  local obs=$1 deadline=$((SECONDS + 60)) json n ok
  shift
  while :; do
    json=$(members "$obs" 2>/dev/null || true)
    ok=1
    for n in "$@"; do
      [ "$(member_field "$json" "$n" status)" = up ] && [ "$(member_field "$json" "$n" connected)" = true ] || ok=0
    done
    [ $ok = 1 ] && return 0
    [ $SECONDS -lt $deadline ] || die "$obs does not list $* up and connected: $json"
    sleep 0.1
  done
}

# run NAME PORT: POST /transactions under wrk; prints "req/s p50 p99 non2xx socket_errors requests"
run() {
  local out
  export KLERNO_BENCH_RUN="$1-$RANDOM$RANDOM"
  out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$KLERNO_BENCH_LUA/store.lua" "http://127.0.0.1:$2")
  echo "$out" >"$work/$1.wrk"
  local rps p50 p99 bad errs total
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  errs=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${bad:-0} ${errs:-0} ${total:-0}"
}

# remote_counter NAME OUTCOME: klerno_cluster_remote_requests_total{outcome=OUTCOME} of node NAME
remote_counter() {
  curl -sS --max-time 5 "http://127.0.0.1:${http_of[$1]}/metrics" \
    | awk -v o="klerno_cluster_remote_requests_total{outcome=\"$2\"}" '$1 == o { v = $2 } END { print v + 0 }'
}

# post_one NAME: POSTs one new transaction to node NAME; prints "STATUS OWNER" (OWNER "-" if none).
post_one() {
  local head status owner
  head=$(curl -sS --max-time 10 -D - -o /dev/null -H "X-API-Key: $KLERNO_BENCH_KEY" \
    -H 'Content-Type: application/json' \
    -d "{\"tx_id\":\"probe-$1-$RANDOM$RANDOM\",\"from_addr\":\"rW1\",\"to_addr\":\"rD1\",\"amount\":1.5,\"direction\":\"out\"}" \
    "http://127.0.0.1:${http_of[$1]}/transactions")
  status=$(awk 'NR == 1 {print $2}' <<<"$head")
  owner=$(tr -d '\r' <<<"$head" | awk 'tolower($1) == "x-klerno-owner:" {print $2}')
  echo "$status ${owner:--}"
}

# rows_in DATABASE_URL: rows in its txs table
rows_in() { "$(pg_config --bindir)/psql" "$1" -X -tAc "SELECT count(*) FROM txs"; }

# warnings NAME...: warning/error lines in the nodes' logs (and CAF's "*** ..." complaints on
# stderr), e.g. "edge-a: 0, worker-b: 2"
warnings() {
  local n sep=""
  for n in "$@"; do
    printf '%s%s: %s' "$sep" "$n" "$(grep -c -E 'Z (warn|warning|error|critical) |^\*\*\* ' "$work/$n.log" || true)"
    sep=", "
  done
}

# warning_lines NAME...: the first warning/error lines of each node's log, indented
warning_lines() {
  local n
  for n in "$@"; do
    grep -E 'Z (warn|warning|error|critical) |^\*\*\* ' "$work/$n.log" | head -n 5 | cut -c1-240 | sed "s/^/  $n: /" || true
  done
}

# starved NAME...: how often the nodes logged that they did not run for longer than the suspicion
# timeout (the machine stalled: its figures are disturbed).
starved() {
  local n c=0
  for n in "$@"; do c=$((c + $(grep -c 'did not run for' "$work/$n.log" || true))); done
  echo "$c"
}

# cpu_ticks NAME: CPU time (user + system, clock ticks) the node's process has used so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${pid_of[$1]}/stat"; }
# per_request TICKS REQUESTS: microseconds of CPU per request
per_request() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (n > 0 ? t * 1e6 / hz / n : 0) }'; }

# cpu_snap: "total idle steal" jiffies of the machine (/proc/stat); cpu_use SNAP0 SNAP1: the idle
# and steal shares between two snapshots (steal: time the hypervisor gave to other guests).
cpu_snap() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $5 + $6, $9; exit }' /proc/stat; }
cpu_use() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " "); t = y[1] - x[1]; if (t <= 0) t = 1
    printf "idle %.0f%%, steal %.0f%%", 100 * (y[2] - x[2]) / t, 100 * (y[3] - x[3]) / t }'
}

row() { printf '%-40s %10s %8s %8s %8s %8s %9s %9s\n' "$@"; }

echo "wrk -t2 -c$conns -d${duration}s, POST /transactions (every request stores a new row, 1000 wallets);"
echo "each node: 2 io + 2 actor threads; PostgreSQL 15 durable; wrk, the nodes and PostgreSQL share $(nproc) cores"
echo "(load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg))"
echo

# -- 1. the cost of a remote hop ---------------------------------------------------------------

log "single node (NODE_ROLE=both, no cluster)"
db_single=$(fresh_db bench_single)
start_node single "$db_single" NODE_ROLE=both
wait_ready single
read -r probe_status _ < <(post_one single)
[ "$probe_status" = 201 ] || die "POST /transactions on the single node answered $probe_status"
cpu0=$(cpu_snap) t0=$(cpu_ticks single)
read -r s_rps s_p50 s_p99 s_bad s_err s_total < <(run single "${http_of[single]}")
s_cpu=$(cpu_use "$cpu0" "$(cpu_snap)") s_us=$(per_request $(($(cpu_ticks single) - t0)) "$s_total")
s_warn=$(warnings single) s_lines=$(warning_lines single)
s_starved=$(starved single)
stop_nodes single
s_rows=$(rows_in "$db_single")

log "2-node cluster: edge-a (NODE_ROLE=edge, takes the load) -> worker-b (NODE_ROLE=worker, owns every wallet)"
db_cluster=$(fresh_db bench_cluster)
start_node worker-b "$db_cluster" NODE_ROLE=worker CLUSTER_BOOTSTRAP=true "${cluster_env[@]}"
wait_ready worker-b
start_node edge-a "$db_cluster" NODE_ROLE=edge CLUSTER_SEEDS="127.0.0.1:${cluster_of[worker-b]}" "${cluster_env[@]}"
wait_ready edge-a
wait_members edge-a edge-a worker-b
json=$(members edge-a)
[ "$(member_field "$json" edge-a partitions)" = 0 ] || die "edge-a owns partitions: $json"
read -r probe_status probe_owner < <(post_one edge-a)
[ "$probe_status" = 201 ] || die "POST /transactions through edge-a answered $probe_status"
[ "$probe_owner" = worker-b ] || die "POST /transactions through edge-a: X-Klerno-Owner is $probe_owner, not worker-b"
ok0=$(remote_counter edge-a ok)
failed0=$(remote_counter edge-a failed)
retried0=$(remote_counter edge-a retried)
cpu0=$(cpu_snap) ta=$(cpu_ticks edge-a) tb=$(cpu_ticks worker-b)
read -r c_rps c_p50 c_p99 c_bad c_err c_total < <(run cluster "${http_of[edge-a]}")
c_cpu=$(cpu_use "$cpu0" "$(cpu_snap)")
a_us=$(per_request $(($(cpu_ticks edge-a) - ta)) "$c_total")
b_us=$(per_request $(($(cpu_ticks worker-b) - tb)) "$c_total")
ok_delta=$(( $(remote_counter edge-a ok) - ok0 ))
failed_delta=$(( $(remote_counter edge-a failed) - failed0 ))
retried_delta=$(( $(remote_counter edge-a retried) - retried0 ))
c_warn=$(warnings edge-a worker-b) c_lines=$(warning_lines edge-a worker-b)
c_starved=$(starved edge-a worker-b)
stop_nodes edge-a worker-b
c_rows=$(rows_in "$db_cluster")

row "" "req/s" "p50 ms" "p99 ms" "non-2xx" "sock err" "requests" "rows"
row "single node (both)" "$s_rps" "$s_p50" "$s_p99" "$s_bad" "$s_err" "$s_total" "$s_rows"
row "edge-a -> worker-b (every wallet remote)" "$c_rps" "$c_p50" "$c_p99" "$c_bad" "$c_err" "$c_total" "$c_rows"
awk -v c="$c_rps" -v s="$s_rps" 'BEGIN {
  r = s > 0 ? c / s : 0
  printf "cluster / single node: %.2f (target >= 0.60: %s)\n", r, (r >= 0.6 ? "met" : "NOT met") }'
echo "remote hop check: X-Klerno-Owner of a POST through edge-a = $probe_owner;" \
  "klerno_cluster_remote_requests_total on edge-a during the load: ok +$ok_delta, failed +$failed_delta," \
  "retried +$retried_delta"
echo "requests: completed by wrk; rows: in the table afterwards (the requests + 1 probe; requests still in flight when wrk stops may add a few)"
echo "warning/error log lines: $s_warn, $c_warn"
for lines in "$s_lines" "$c_lines"; do [ -z "$lines" ] || printf '%s\n' "$lines"; done
echo "node CPU per request (user + system, PostgreSQL not counted): single node $s_us us;" \
  "cluster: edge-a $a_us us + worker-b $b_us us = $((a_us + b_us)) us"
echo "machine during the load: single: $s_cpu; cluster: $c_cpu"
if [ $((s_starved + c_starved)) -gt 0 ]; then
  echo "DISTURBED: the nodes logged $((s_starved + c_starved)) stall(s) ('did not run for' > CLUSTER_SUSPECT_TIMEOUT):" \
    "the machine did not run them; compare these figures with care"
fi
echo

# -- 2. failure detection ----------------------------------------------------------------------

now_us() { local t=${EPOCHREALTIME//[.,]/}; echo "$((10#$t))"; }

# detect TRIAL SIGNAL: 3 fresh nodes on a fresh database; sends SIGNAL to one of them and sets
# detect_ms to the milliseconds until another lists it dead ("timeout" after 30 s). (Not run in a
# subshell, so that the cleanup trap knows every node it started.)
detect() {
  local trial=$1 sig=$2 db i names=() victim observer t0 t json st n by attempts=0
  detect_ms=timeout
  db=$(fresh_db "bench_detect_${sig,,}_$trial")
  for i in 1 2 3; do names+=("$sig$trial-n$i"); done
  start_node "${names[0]}" "$db" NODE_ROLE=both CLUSTER_BOOTSTRAP=true "${cluster_env[@]}"
  wait_ready "${names[0]}"
  for i in 1 2; do
    start_node "${names[$i]}" "$db" NODE_ROLE=both CLUSTER_SEEDS="127.0.0.1:${cluster_of[${names[0]}]}" "${cluster_env[@]}"
  done
  for i in 1 2; do wait_ready "${names[$i]}"; done
  for i in 0 1 2; do wait_members "${names[$i]}" "${names[@]}"; done
  # A different victim each trial (the bootstrap node too); the next node watches.
  victim=${names[$(( (trial - 1) % 3 ))]}
  observer=${names[$(( trial % 3 ))]}
  t0=$(now_us)
  kill -"$sig" "${pid_of[$victim]}"
  # (reaped at once: no "Killed" notice from the shell later)
  [ "$sig" = KILL ] && { { wait "${pid_of[$victim]}"; } 2>/dev/null || true; }
  while :; do
    json=$(members "$observer" 2>/dev/null || true)
    t=$(now_us)
    st=$(member_field "$json" "$victim" status)
    if [ "$st" = dead ]; then
      detect_ms=$(( (t - t0) / 1000 ))
      break
    fi
    [ $((t - t0)) -lt 30000000 ] || break
    sleep 0.02
  done
  # How it was declared dead: by the survivors' votes, or because its own heartbeat in the table
  # went stale (the slow path); and how many votes the survivors started against it.
  by=""
  for n in "${names[@]}"; do
    [ "$n" = "$victim" ] && continue
    attempts=$((attempts + $(grep -c "suspecting $victim#" "$work/$n.log" || true)))
    grep -q "declared $victim#[0-9]* dead" "$work/$n.log" && by=votes
    [ -z "$by" ] && grep -q "$victim#[0-9]* has not written its heartbeat" "$work/$n.log" && by="stale heartbeat"
  done
  detect_detail+=("$(printf '%-8s trial %d: victim %s, watched from %s: %6s ms; declared by %s; %d vote attempt(s); %d stall(s)' \
    "SIG$sig" "$trial" "$victim" "$observer" "$detect_ms" "${by:-?}" "$attempts" "$(starved "${names[@]}")")")
  detect_warn+=("$(warnings "${names[@]}")")
  stop_nodes "${names[@]}"
}

# summary VALUE...: "min median max" (a "timeout" among them is reported as such)
summary() {
  printf '%s\n' "$@" | sort -n | awk '
    $1 == "timeout" { t++; next }
    { v[++n] = $1 }
    END {
      if (n == 0) { print "timeout timeout timeout"; exit }
      med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      printf "%s %.0f %s\n", v[1], med, (t ? "timeout" : v[n]) }'
}

kill_ms=() stop_ms=() detect_warn=() detect_detail=() detect_ms=timeout
for i in $(seq 1 "$trials"); do
  log "failure detection, SIGKILL, trial $i of $trials"
  detect "$i" KILL
  kill_ms+=("$detect_ms")
done
for i in $(seq 1 "$trials"); do
  log "failure detection, SIGSTOP, trial $i of $trials"
  detect "$i" STOP
  stop_ms+=("$detect_ms")
done

echo "failure detection: 3 nodes (both), CLUSTER_HEARTBEAT_INTERVAL=$heartbeat CLUSTER_SUSPECT_TIMEOUT=$suspect;"
echo "ms from the signal until another node's GET /cluster/members lists the victim dead (polled every ~20 ms)"
printf '%-22s %8s %8s %8s   %s\n' "" "min" "median" "max" "trials"
read -r k_min k_med k_max < <(summary "${kill_ms[@]}")
read -r p_min p_med p_max < <(summary "${stop_ms[@]}")
printf '%-22s %8s %8s %8s   %s\n' "kill -9 (process gone)" "$k_min" "$k_med" "$k_max" "${kill_ms[*]}"
printf '%-22s %8s %8s %8s   %s\n' "SIGSTOP (frozen)" "$p_min" "$p_med" "$p_max" "${stop_ms[*]}"
awk -v k="$k_max" -v p="$p_max" 'BEGIN {
  printf "target: dead within 3000 ms (kill -9: %s, SIGSTOP: %s)\n",
    (k != "timeout" && k <= 3000 ? "met" : "NOT met"), (p != "timeout" && p <= 3000 ? "met" : "NOT met") }'
printf '%s\n' "${detect_detail[@]}"
echo "(vote attempts: 'suspecting' log lines of the survivors, one per try; a stall: a node did not run"
echo " for longer than the suspicion timeout -- a disturbed trial)"
printf 'warning/error log lines: %s' "${detect_warn[0]}"
printf '; %s' "${detect_warn[@]:1}"
echo
