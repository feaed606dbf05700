#!/usr/bin/env bash
# What an upload costs an edge: CPU seconds per GB written, measured on the
# edge's own process, for two edges of one cluster running two builds.
# Throughput on a shared 2-core machine is noisy; the writer's CPU per byte
# is much less so, and it is what a change to the upload path (body
# digests, striping, encoding) should move.
#
#   BASE_EDGE=/path/to/old/edge bash tests/bench/put_cpu.sh [seconds-per-phase] [rounds] [loadgen args...]
#
# Edge "base" runs BASE_EDGE, edge "new" this checkout's release build,
# both with their caches off, on one local cluster (this checkout's build).
# Rounds alternate which edge writes first; each PUT phase writes fresh
# objects. Default workload: 1 MiB objects, 16 concurrent.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/cluster.sh
bench_args "$@"
[[ ${#LOADGEN_ARGS[@]} -eq 0 ]] && LOADGEN_ARGS=(--size 1MiB --concurrency 16 --max-ops 2048)
: "${BASE_EDGE:?set BASE_EDGE to the edge binary of the build to compare against}"
bench_build
cleanup() {
    stop_all "${BASE:-}" "${NEW:-}"
    rm -rf "$WORK"
}
trap cleanup EXIT

prime_page_cache
start_cluster
extra_edge "$BASE_EDGE" 19010 19011 0
BASE=$EDGE_PID
extra_edge "$BIN/edge" 19020 19021 0
NEW=$EDGE_PID

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
RESULTS="$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
    order=(base new)
    ((round % 2 == 0)) && order=(new base)
    for label in "${order[@]}"; do
        if [[ $label == base ]]; then pid=$BASE port=19010; else pid=$NEW port=19020; fi
        before=$(ticks "$pid")
        # The PUT phase's line comes first; take the ticks as it arrives
        # (the GET phase after it is not measured, but --first-reads keeps
        # it short).
        while read -r line; do
            [[ "$line" == *" PUT "* ]] || continue
            after=$(ticks "$pid")
            per_gb "$line" "$before" "$after" written | tee -a "$RESULTS"
        done < <("$BIN/loadgen" --label "$label" --endpoint "http://127.0.0.1:$port" \
            --bucket "put-$round-$label" --seconds "$SECS" --first-reads "${LOADGEN_ARGS[@]}")
    done
done
python3 - "$RESULTS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, mbs, _, cpu = line.split()[:4]
    runs.setdefault(label, []).append((float(mbs), float(cpu)))
med = {k: (statistics.median(m for m, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}
(bm, bc), (nm, nc) = med["base"], med["new"]
print(f"\nPUT: base {bm:.0f} MB/s {bc:.2f} core-s/GB, new {nm:.0f} MB/s {nc:.2f} core-s/GB: "
      f"throughput {nm / bm:.2f}x, edge CPU per GB {nc / bc:.2f}x (medians of rounds)")
PY
