#!/usr/bin/env bash
# Rebuild rate, and foreground reads during the rebuild, on the local cluster.
#
# Starts a release local cluster (8 nodes, 4+2) in a temp folder with repair
# 10 s after a node goes silent, fills it with FILL_GIB GiB of 64 MiB objects
# (each node then holds about FILL_GIB * 1.5 / 8 GiB), and runs the drill:
# a baseline of reads and writes, then `kill -9` of node-3 under the same
# traffic until repair has rebuilt everything node-3 held on the other
# seven. A poller records the cluster status every second; the rebuild rate
# is the bytes rebuilt over the time from the first rebuilt shard to the
# last. Read latency is reported per window: before the fault, degraded
# before repair starts (the kill, its detection and the grace period:
# reads decode from parity), while the rebuild runs (first to last rebuilt
# shard), and after it; each window's p99 as a ratio of the baseline's.
# The storage nodes take TESSERA_REPAIR_BANDWIDTH and
# TESSERA_REPAIR_CONCURRENCY from the environment.
#
#   cargo build --release -p edge -p tests --bins
#   bash tests/bench/rebuild.sh 6          # GiB to fill with
#   TESSERA_REPAIR_BANDWIDTH=128MiB bash tests/bench/rebuild.sh 6
set -euo pipefail

FILL_GIB=${1:-6}
BIN=${CARGO_TARGET_DIR:-target}/release
DATA=$(mktemp -d)
# Logs outlive the cluster's data.
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

"$BIN/edge" local-cluster --data "$DATA/cluster" --repair-after 10s >"$OUT/cluster.log" 2>&1 &
CLUSTER=$!
POLLER=
cleanup() {
    [ -n "$POLLER" ] && kill "$POLLER" 2>/dev/null || true
    kill "$CLUSTER" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT

for _ in $(seq 1 120); do
    [ -f "$DATA/cluster/cluster.json" ] && curl -fs http://127.0.0.1:9001/health >/dev/null && break
    sleep 0.5
done

status() {
    "$BIN/edge" admin --json --metadata-url http://127.0.0.1:9100 \
        --cluster-secret-file "$DATA/cluster/cluster-secret" status
}

echo "filling with $FILL_GIB GiB ..."
"$BIN/loadgen" --bucket fill --size 64MiB --concurrency 4 \
    --max-ops $((FILL_GIB * 16)) --seconds 900 --label fill

(
    while true; do
        s=$(status 2>/dev/null) || { sleep 1; continue; }
        echo "$(date +%s.%N) $(echo "$s" | python3 -c '
import json, sys
s = json.load(sys.stdin)
r = s["repair"]
print(r["rebuilt_bytes"], r["queued"], r["in_flight"], s["redundancy"]["degraded_bytes"])')"
        sleep 1
    done
) >"$OUT/status.log" &
POLLER=$!

"$BIN/drill" --cluster "$DATA/cluster/cluster.json" --kill node-3 --objects 50 \
    --baseline 20s --readers 4 --read-rate 100 --writers 1 --write-rate 2 \
    --repair-timeout 20m --latency-log "$OUT/ops.log" | tee "$OUT/drill.txt"

python3 - "$OUT/status.log" "$OUT/ops.log" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 5]
rows = [(float(t), int(b)) for t, b, *_ in rows]
first = next((i for i in range(1, len(rows)) if rows[i][1] > rows[i - 1][1]), None)
if first is None:
    sys.exit("no rebuild seen")
last = max(i for i in range(1, len(rows)) if rows[i][1] > rows[i - 1][1])
start_t, start_b = rows[first - 1]
end_t, end_b = rows[last]
mb = (end_b - start_b) / 1e6
print(f"rebuilt {mb:.0f} MB in {end_t - start_t:.1f} s: {mb / (end_t - start_t):.1f} MB/s")

# Read latency per window, from the drill's per-operation log.
ops = [l.split() for l in open(sys.argv[2])]
reads = [(float(t), float(ms), phase) for t, op, ms, ok, phase in ops if op == "read" and ok == "ok"]
fault_t = min((t for t, _, p in reads if p == "fault"), default=None)
def pct(xs, p):
    xs = sorted(xs)
    return xs[max(1, -(-int(p * len(xs) * 1000) // 1000)) - 1] if xs else float("nan")
windows = [
    ("before the fault", lambda t, p: p == "baseline"),
    ("degraded, before repair", lambda t, p: p == "fault" and t < start_t),
    ("during the rebuild", lambda t, p: p == "fault" and start_t <= t <= end_t),
    ("after the rebuild", lambda t, p: p == "fault" and t > end_t),
]
base = None
print(f"{'read latency (ms)':<26} {'reads':>6} {'p50':>7} {'p99':>7} {'p99 / before':>13}")
for name, inside in windows:
    xs = [ms for t, ms, p in reads if inside(t, p)]
    p50, p99 = pct(xs, 0.50), pct(xs, 0.99)
    if base is None:
        base = p99
    print(f"{name:<26} {len(xs):>6} {p50:>7.1f} {p99:>7.1f} {p99 / base:>12.2f}x")
EOF
echo "logs in $OUT"
