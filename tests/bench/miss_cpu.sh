#!/usr/bin/env bash
# What a cache miss costs an edge: CPU seconds per GB of first reads,
# measured on the edge's own process, for two edges of one cluster.
# Throughput on a shared 2-core machine is noisy; the reader's CPU per byte
# is much less so, and it is what a miss path change should move.
#
#   bash tests/bench/miss_cpu.sh [seconds-per-phase] [rounds] [loadgen args...]
#   SECOND_EDGE_BIN=/path/to/other/edge SECOND_CACHE=6GiB bash tests/bench/miss_cpu.sh 10 3
#   FIRST_EDGE_BIN=/path/to/old/edge FIRST_CACHE=0 bash tests/bench/miss_cpu.sh 10 3
#
# Edge "first" is the local cluster's (default cache), or with
# FIRST_EDGE_BIN an extra edge running that build with --cache-size
# FIRST_CACHE (default 0); edge "second" runs SECOND_EDGE_BIN (default: the
# same build) with --cache-size SECOND_CACHE (default 0, cache off). Each
# round PUTs through another edge and reads every object once through the
# reader, so the reader's CPU is the GETs' alone.
# Default workload: 1 MiB objects, 16 concurrent. PERF=first (or second)
# records a 2 s `perf record -g` of that reader in the last round.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/cluster.sh
bench_args "$@"
[[ ${#LOADGEN_ARGS[@]} -eq 0 ]] && LOADGEN_ARGS=(--size 1MiB --concurrency 16)
bench_build
cleanup() {
    stop_all "${SECOND:-}" "${EXTRA_FIRST:-}"
    rm -rf "$WORK"
}
trap cleanup EXIT

prime_page_cache
start_cluster
extra_edge "${SECOND_EDGE_BIN:-$BIN/edge}" 19010 19011 "${SECOND_CACHE:-0}"
SECOND=$EDGE_PID
if [[ -n "${FIRST_EDGE_BIN:-}" ]]; then
    extra_edge "$FIRST_EDGE_BIN" 19020 19021 "${FIRST_CACHE:-0}"
    FIRST=$EDGE_PID EXTRA_FIRST=$EDGE_PID FIRST_PORT=19020 FIRST_ADMIN=19021 FIRST_WRITER=19000
else
    FIRST=$(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
print(next(p["pid"] for p in c["processes"] if p["role"] == "edge"))' "$WORK/tessera/cluster.json")
    FIRST_PORT=19000 FIRST_ADMIN=19001 FIRST_WRITER=19010
fi

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for round in $(seq 1 "$ROUNDS"); do
    for reader in first second; do
        if [[ $reader == first ]]; then pid=$FIRST writer=$FIRST_WRITER port=$FIRST_PORT; else pid=$SECOND writer=19000 port=19010; fi
        if [[ "${PERF:-}" == "$reader" && $round == "$ROUNDS" ]]; then
            (sleep "$SECS.7"; perf record -g -p "$pid" -o "perf-$reader.data" -- sleep 2 >/dev/null 2>&1) &
        fi
        before=$(ticks "$pid")
        line=$("$BIN/loadgen" --label "$reader" --endpoint "http://127.0.0.1:$writer" \
            --get-endpoint "http://127.0.0.1:$port" --bucket "miss-$round-$reader" \
            --seconds "$SECS" --first-reads "${LOADGEN_ARGS[@]}" | grep ' GET ')
        after=$(ticks "$pid")
        per_gb "$line" "$before" "$after" read
    done
done
# Resident memory against what each cache says it holds: a cache that pins
# more than the bytes it counts shows here.
for reader in first second; do
    if [[ $reader == first ]]; then pid=$FIRST port=$FIRST_ADMIN; else pid=$SECOND port=19011; fi
    metrics=$(curl -s "http://127.0.0.1:$port/metrics")
    held=$(awk '/^cache_size_bytes /{print $2}' <<<"$metrics")
    echo "$reader: $(grep -E 'VmHWM|VmRSS' "/proc/$pid/status" | tr -s ' \t\n' ' ')cache holds ${held:-0} bytes"
    # Reads that asked a second node (hedged) or decoded from parity, with
    # every node up: each costs extra fetches, hashing and decoding.
    grep -E '^gateway_(hedged_shard_reads|degraded_stripe_reads)_total ' <<<"$metrics" | sed "s/^/$reader: /" || true
done

