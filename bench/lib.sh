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
