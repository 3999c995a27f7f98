#!/usr/bin/env bash
# Benchmark of the AML API on a real, durable PostgreSQL (fsync on), all on this machine:
#   1. POST /analyze/tx                      req/s, p50, p99   (rule table only; target >= 40k req/s)
#   2. POST /transactions, group commit      tx/s, p50, p99    (target >= 15k tx/s, p99 <= 20 ms)
#      vs. one INSERT per request            (WRITER_BATCH_MAX_ROWS=1, WRITER_BATCH_MAX_DELAY=0)
#   3. POST /transactions/batch              rows/s            (target >= 150k rows/s)
#      vs. psql \copy of the same number of rows into a copy of the table (target: >= 25%)
# Every request stores a new row (unique tx_ids over 1000 wallets).
#
#   bench/api.sh [-d SECONDS] [-c CONNECTIONS] [-b BATCH_ITEMS]
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

duration=10 conns=64 batch=1000
while getopts "d:c:b:" opt; do
  case $opt in
    d) duration=$OPTARG ;;
    c) conns=$OPTARG ;;
    b) batch=$OPTARG ;;
    *) sed -n '2,11p' "$0"; exit 2 ;;
  esac
done

ensure_packages build bench pg
build_release --target klerno-node >/dev/null

bench_workdir
start_pg

export KLERNO_BENCH_LUA="$KLERNO_ROOT/bench/lua"
export KLERNO_BENCH_KEY=bench-api-key-0123456789
export KLERNO_BENCH_BATCH=$batch

# run NAME SCRIPT CONNS: prints "req/s p50 p99 non2xx"
run() {
  local out
  export KLERNO_BENCH_RUN="$1-$RANDOM$RANDOM"
  out=$(wrk -t2 -c"$3" -d"${duration}s" --latency -s "$KLERNO_BENCH_LUA/$2" "http://127.0.0.1:$port")
  echo "$out" >"$work/$1.wrk"
  local rps p50 p99 bad
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${bad:-0}"
}

row() { printf '%-44s %12s %9s %9s %8s\n' "$@"; }

echo "wrk -t2 -d${duration}s; node: 2 io + 2 actor threads; PostgreSQL 15 durable; $(nproc) cores"
row "" "per second" "p50 ms" "p99 ms" "non-2xx"

start_node HTTP_MAX_BATCH_BODY_BYTES=64MiB BATCH_MAX_ITEMS=100000
read -r a_rps a_p50 a_p99 a_bad < <(run analyze analyze.lua "$conns")
row "POST /analyze/tx (c=$conns)" "$a_rps" "$a_p50" "$a_p99" "$a_bad"
read -r g_rps g_p50 g_p99 g_bad < <(run store-group store.lua "$conns")
row "POST /transactions, group commit (c=$conns)" "$g_rps" "$g_p50" "$g_p99" "$g_bad"
batch_conns=4
read -r b_rps b_p50 b_p99 b_bad < <(run batch batch.lua "$batch_conns")
b_rows=$(awk -v r="$b_rps" -v n="$batch" 'BEGIN { printf "%.0f", r * n }')
row "POST /transactions/batch x$batch (c=$batch_conns)" "$b_rows rows" "$b_p50" "$b_p99" "$b_bad"
stop_node

start_node HTTP_MAX_BATCH_BODY_BYTES=64MiB BATCH_MAX_ITEMS=100000 WRITER_BATCH_MAX_ROWS=1 WRITER_BATCH_MAX_DELAY=0
read -r s_rps s_p50 s_p99 s_bad < <(run store-single store.lua "$conns")
row "POST /transactions, 1 INSERT/request (c=$conns)" "$s_rps" "$s_p50" "$s_p99" "$s_bad"
stop_node

# psql \copy of as many rows as the batch run stored per second, times 10 s, into a copy of txs.
copy_rows=$(awk -v r="$b_rows" 'BEGIN { n = r * 10; if (n < 100000) n = 100000; printf "%d", n }')
log "generating $copy_rows rows for psql \\copy"
awk -v n="$copy_rows" 'BEGIN {
  srand(7)
  for (i = 1; i <= n; i++)
    printf "c-%d,2026-11-28 12:00:00+00,XRPL,rW%d,rD%d,%d.%02d,XRP,out,0.2,payment %d,\"\",{bench},false,expense,55,medium,\"{outgoing,medium_outgoing}\"\n",
      i, int(rand() * 1000), int(rand() * 5000), int(rand() * 20000), int(rand() * 100), i
}' >"$work/copy.csv"
"$KLERNO_ROOT/scripts/pg" psql "$work/pg" -qc "CREATE TABLE txs_copy (LIKE txs INCLUDING ALL)" >/dev/null
start=$(date +%s%N)
"$KLERNO_ROOT/scripts/pg" psql "$work/pg" -qc "\\copy txs_copy (tx_id, time, chain, from_addr, to_addr, amount, symbol, direction, fee, memo, notes, tags, is_internal, category, risk_score, risk_bucket, risk_flags) FROM '$work/copy.csv' WITH (FORMAT csv)" >/dev/null
elapsed_ns=$(( $(date +%s%N) - start ))
copy_rps=$(awk -v n="$copy_rows" -v ns="$elapsed_ns" 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
row "psql \\copy (same row shape, same indexes)" "$copy_rps rows" "" "" ""

echo
awk -v g="$g_rps" -v s="$s_rps" -v b="$b_rows" -v c="$copy_rps" -v a="$a_rps" 'BEGIN {
  printf "group commit / one INSERT per request: %.1fx\n", g / s
  printf "batch ingest / psql \\copy:             %.0f%% (target >= 25%%)\n", 100 * b / c
  printf "targets: analyze >= 40000 req/s (%s), stored >= 15000 tx/s (%s), batch >= 150000 rows/s (%s)\n",
    (a >= 40000 ? "met" : "NOT met"), (g >= 15000 ? "met" : "NOT met"), (b >= 150000 ? "met" : "NOT met")
}'
