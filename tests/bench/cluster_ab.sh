#!/usr/bin/env bash
# Two builds of the whole cluster side by side, for a change anywhere on the
# data path (storage node, metadata or edge): throughput and the cluster's
# CPU seconds per GB, for the PUTs and for the first reads, in alternating
# rounds on fresh clusters.
#
#   BASE_EDGE=/path/to/old/edge bash tests/bench/cluster_ab.sh [seconds] [rounds] [loadgen args...]
#
# "base" runs BASE_EDGE (one binary holds every role), "new" this checkout's
# release build. Each round starts a fresh local cluster from one build,
# writes through its edge and reads every object once through a second edge
# with its cache off, so that every read reaches the storage nodes. CPU is
# summed over the cluster's processes (metadata, storage nodes, both edges),
# not the load generator. Default workload: 1 MiB objects, 16 concurrent.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/cluster.sh
bench_args "$@"
[[ ${#LOADGEN_ARGS[@]} -eq 0 ]] && LOADGEN_ARGS=(--size 1MiB --concurrency 16 --max-ops 2048)
: "${BASE_EDGE:?set BASE_EDGE to the edge binary of the build to compare against}"
bench_build
stop() {
    stop_all "${EDGE_PID:-}"
    EDGE_PID=
}
trap 'stop; rm -rf "$WORK"' EXIT

# CPU ticks used so far by the cluster's processes.
ticks() {
    local total=0 pid
    for pid in $CLUSTER $EDGE_PID $(python3 -c '
import json, sys
print(" ".join(str(p["pid"]) for p in json.load(open(sys.argv[1]))["processes"]))' "$WORK/tessera/cluster.json"); do
        [[ -r /proc/$pid/stat ]] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}
RESULTS="$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
    order=(base new)
    ((round % 2 == 0)) && order=(new base)
    for label in "${order[@]}"; do
        if [[ $label == base ]]; then bin=$BASE_EDGE; else bin=$BIN/edge; fi
        rm -rf "$WORK/tessera"
        prime_page_cache
        "$bin" local-cluster --data "$WORK/tessera" --s3-port 19000 --admin-port 19001 \
            --metadata-port 19100 --first-node-port 19101 >"$WORK/cluster.log" 2>&1 &
        CLUSTER=$!
        wait_healthy 19001 120
        extra_edge "$bin" 19010 19011 0
        sleep 2
        start=$(ticks)
        while read -r line; do
            now=$(ticks)
            case "$line" in
                *" PUT "*) per_gb "$line" "$start" "$now" PUT | tee -a "$RESULTS" ;;
                *" GET "*) per_gb "$line" "$start" "$now" GET | tee -a "$RESULTS" ;;
            esac
            start=$now
        done < <("$BIN/loadgen" --label "$label" --endpoint http://127.0.0.1:19000 \
            --get-endpoint http://127.0.0.1:19010 --bucket "ab-$round" --seconds "$SECS" \
            --first-reads "${LOADGEN_ARGS[@]}")
        stop
    done
done
python3 - "$RESULTS" <<'EOF'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, mbs, _, cpu = line.split()[:4]
    op = line.split()[-1]
    runs.setdefault(op, {}).setdefault(label, []).append((float(mbs), float(cpu)))
print()
for op, by in runs.items():
    med = {k: (statistics.median(m for m, _ in v), statistics.median(c for _, c in v)) for k, v in by.items()}
    if "base" in med and "new" in med:
        (bm, bc), (nm, nc) = med["base"], med["new"]
        print(f"{op}: base {bm:.0f} MB/s {bc:.2f} core-s/GB, new {nm:.0f} MB/s {nc:.2f} core-s/GB: "
              f"throughput {nm / bm:.2f}x, CPU per GB {nc / bc:.2f}x (medians of rounds)")
EOF
