# Sourced by the benchmarks: a release local cluster on 127.0.0.1 (S3 19000,
# admin 19001, metadata 19100, storage nodes from 19101) and more edges on
# it. bench_build sets BIN (the release binaries) and WORK (a scratch
# folder), which the others expect.

# Builds the release binaries (the edge and the load generator); sets BIN
# and WORK.
bench_build() {
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
    cargo build --release -q -p edge -p tests --bins
    BIN="$CARGO_TARGET_DIR/release"
    WORK="$(mktemp -d)"
}

# bench_args "$@": SECS and ROUNDS from a script's first two arguments
# (default 10 and 3), LOADGEN_ARGS from the rest.
bench_args() {
    SECS="${1:-10}"
    ROUNDS="${2:-3}"
    shift $(($# < 2 ? $# : 2))
    LOADGEN_ARGS=("$@")
}

# Waits until the admin port $1 answers /health (at most ${2:-60} tries,
# half a second apart).
wait_healthy() {
    for _ in $(seq 1 "${2:-60}"); do
        curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0
        sleep 0.5
    done
}

# Starts the local cluster in $WORK/tessera (its pid in CLUSTER) and waits
# for its edge.
start_cluster() {
    "$BIN/edge" local-cluster --data "$WORK/tessera" --s3-port 19000 --admin-port 19001 \
        --metadata-port 19100 --first-node-port 19101 >"$WORK/cluster.log" 2>&1 &
    CLUSTER=$!
    wait_healthy 19001 120
}

# extra_edge BINARY S3_PORT ADMIN_PORT CACHE_SIZE: one more edge on the
# cluster, with the local cluster's key, its pid in EDGE_PID, its log in
# $WORK/edge-S3_PORT.log. Returns once it is healthy.
extra_edge() {
    TESSERA_ACCESS_KEY=tessera TESSERA_SECRET_KEY=tessera-local-secret \
        "$1" serve --listen "127.0.0.1:$2" --admin-listen "127.0.0.1:$3" \
        --metadata-url http://127.0.0.1:19100 \
        --cluster-secret-file "$WORK/tessera/cluster-secret" \
        --cache-size "$4" >"$WORK/edge-$2.log" 2>&1 &
    EDGE_PID=$!
    wait_healthy "$3"
}

# Starts SeaweedFS in $WORK/weed (`weed server` with its filer and S3 API on
# 127.0.0.1:18333; its defaults: one copy, no erasure coding), its pid in
# WEED, and waits until it can create a bucket: its S3 port answers before
# its volume server has registered (it runs without credentials).
start_seaweedfs() {
    mkdir -p "$WORK/weed"
    weed server -dir="$WORK/weed" -ip=127.0.0.1 -master.port=19333 -volume.port=19080 \
        -filer -s3 -s3.port=18333 -volume.max=100 >"$WORK/weed.log" 2>&1 &
    WEED=$!
    for _ in $(seq 1 120); do
        curl -sf -o /dev/null -X PUT http://127.0.0.1:18333/ready-probe && break
        sleep 0.5
    done
    curl -s -o /dev/null -X DELETE http://127.0.0.1:18333/ready-probe || true
}

# warm_up URL...: two unmeasured seconds of 1 MiB uploads and reads through
# each endpoint, so that whichever runs first does not pay a fresh store's
# first writes (directories made, connections opened) in its measured run.
warm_up() {
    local url
    for url in "$@"; do
        "$BIN/loadgen" --endpoint "$url" --bucket warm-up --seconds 2 --size 1MiB \
            --concurrency 16 --first-reads >/dev/null
    done
}

# Fills the page cache until less than 1 GiB of memory is free, by reading
# the build folder's larger files (and any folders in PRIME_DIRS). A server
# that has run for a while has its memory full of page cache, and every new
# page (a cached shard, a written file) reuses one. A machine with free
# memory instead hands out pages it has never touched: on a virtual
# machine whose host backs guest memory lazily that costs 1 to 2 seconds
# of CPU per GB, which a benchmark would charge to whichever process grows
# fastest. PRIME=0 skips this, to measure that state on purpose.
prime_page_cache() {
    [[ "${PRIME:-1}" == 0 ]] && return 0
    local f free_kb
    while read -r -d '' f; do
        free_kb=$(awk '/^MemFree:/{print $2}' /proc/meminfo)
        ((free_kb < 1048576)) && break
        cat -- "$f" >/dev/null 2>&1 || true
    done < <(find "$CARGO_TARGET_DIR" ${PRIME_DIRS:-} -type f -size +1M -print0 2>/dev/null)
    echo "page cache primed: $(awk '/^MemFree:/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) of memory free" >&2
}

# stop_all PID...: stops the given extra processes and the local cluster
# (SIGINT, so that it stops its own children), and waits for them; whatever
# still runs after 10 seconds is killed, so that the next round's ports are
# free.
stop_all() {
    local p
    for p in "$@" "${CLUSTER:-}"; do
        [[ -n "$p" ]] || continue
        if [[ "$p" == "${CLUSTER:-}" ]]; then kill -INT "$p"; else kill "$p"; fi 2>/dev/null || true
    done
    for p in "$@" "${CLUSTER:-}"; do
        [[ -n "$p" ]] || continue
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    CLUSTER=
}

# per_gb LINE TICKS_BEFORE TICKS_AFTER WHAT: the load generator's LINE as
# "label MB/s core-s per GB WHAT", the CPU ticks counted against the bytes
# the line moved.
per_gb() {
    python3 - "$@" "$(getconf CLK_TCK)" <<'EOF_PY'
import re, sys
line, before, after, what, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
ops = int(re.search(r"ops=(\d+)", line).group(1))
size = int(re.search(r"size=(\d+)", line).group(1))
mbs = float(re.search(r"([\d.]+) MB/s", line).group(1))
if ops == 0:
    sys.exit(f"nothing completed: {line}")
print(f"{line.split()[0]:<7} {mbs:>7.1f} MB/s  {(after - before) / hz / (ops * size / 1e9):.2f} core-s per GB {what}")
EOF_PY
}
