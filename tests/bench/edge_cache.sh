#!/usr/bin/env bash
# Edge cache hits side by side with nginx (proxy_cache; the slice module for
# ranges) and Varnish (malloc storage), each in front of the same edge as its
# origin, driven by wrk at 64 connections in one run on one machine.
#
#   apt-get install wrk nginx varnish
#   bash tests/bench/edge_cache.sh [seconds-per-run]
#
# Workloads, all cache hits after a warm-up pass:
#   objects  GET of 100 distinct 1 MiB objects, chosen at random
#   ranges   GET of random 1 MiB ranges of one 256 MiB object
# Saturated, a closed loop puts each server's mean latency at connections
# over throughput, so latencies are compared a second time at one offered
# load for all three: each connection waits PACE_MS (default 20) between
# requests (64 connections: about 3,000 requests per second, below every
# server's capacity here), and the latency is what a viewer waits.
# Then, for the edge only: the first-byte latency of misses (cold objects),
# and origin throughput (an edge with its cache off) with all storage nodes
# up and with one killed.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS="${1:-15}"
CONNS=64
PACE_MS="${PACE_MS:-20}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p edge
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -n "${CLUSTER:-}" ]] && kill -INT "$CLUSTER" 2>/dev/null || true
    [[ -n "${NGINX_CONF:-}" ]] && nginx -c "$NGINX_CONF" -s stop 2>/dev/null || true
    [[ -n "${VARNISH_DIR:-}" ]] && pkill -f "varnishd.*$VARNISH_DIR" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

EDGE=127.0.0.1:19000
NGINX=127.0.0.1:19080
VARNISH=127.0.0.1:19082
ORIGIN_ONLY=127.0.0.1:19010

source tests/bench/cluster.sh
start_cluster

# --- data: a public-read bucket, 100 + 20 objects of 1 MiB, one of 256 MiB.
export AWS_ACCESS_KEY_ID=tessera AWS_SECRET_ACCESS_KEY=tessera-local-secret AWS_DEFAULT_REGION=us-east-1
aws() { command aws --endpoint-url "http://$EDGE" "$@"; }
aws s3api create-bucket --bucket media --acl public-read >/dev/null
head -c $((1 << 20)) /dev/urandom >"$WORK/1m"
head -c $((256 << 20)) /dev/urandom >"$WORK/256m"
for i in $(seq 0 119); do
    aws s3api put-object --bucket media --key "obj-$i" --body "$WORK/1m" >/dev/null
done
aws s3 cp --quiet "$WORK/256m" s3://media/big.mp4

# --- the peers, with the edge as their origin.
NGINX_CONF="$WORK/nginx.conf"
mkdir -p "$WORK/nginx-cache"
# Workers run as the invoking user, so they can use the temp folder.
cat >"$NGINX_CONF" <<EOF
user $(id -un);
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    proxy_cache_path $WORK/nginx-cache levels=1:2 keys_zone=media:64m max_size=4g inactive=1h use_temp_path=off;
    upstream edge { server $EDGE; keepalive 64; }
    server {
        listen $NGINX;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_cache media;
        proxy_cache_valid 200 206 1h;
        location / {
            # Ranges by 1 MiB slices, each cached on its own.
            slice 1m;
            proxy_cache_key \$uri\$slice_range;
            proxy_set_header Range \$slice_range;
            proxy_pass http://edge;
        }
    }
}
EOF
nginx -c "$NGINX_CONF"
VARNISH_DIR="$WORK/varnish"
varnishd -a "$VARNISH" -b "$EDGE" -s malloc,4G -t 3600 -n "$VARNISH_DIR" -P "$WORK/varnish.pid"

# --- wrk scripts; WRK_PACE_MS in the environment makes each connection wait
# that long between requests.
PACING='local pace = tonumber(os.getenv("WRK_PACE_MS") or "0")
if pace > 0 then delay = function() return pace end end'
echo "$PACING" >"$WORK/objects.lua"
cat >>"$WORK/objects.lua" <<'EOF'
math.randomseed(os.time())
request = function()
    return wrk.format("GET", "/media/obj-" .. math.random(0, 99))
end
EOF
echo "$PACING" >"$WORK/ranges.lua"
cat >>"$WORK/ranges.lua" <<'EOF'
math.randomseed(os.time())
local size, len = 256 * 1048576, 1048576
request = function()
    local lo = math.random(0, size - len)
    return wrk.format("GET", "/media/big.mp4", { ["Range"] = "bytes=" .. lo .. "-" .. (lo + len - 1) })
end
EOF

# wrk's summary as one line: requests/s, GB/s, p50, p99.
bench() { # label host script seconds
    wrk -t2 -c"$CONNS" -d"$4" --latency -s "$WORK/$3.lua" "http://$2" >"$WORK/wrk.out" 2>&1
    python3 - "$1" "$WORK/wrk.out" <<'EOF'
import re, sys
label, text = sys.argv[1], open(sys.argv[2]).read()
def unit(v, u):
    return float(v) * {"us": 1e-3, "ms": 1, "s": 1e3}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
tr = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
gbs = float(tr.group(1)) * {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[tr.group(2)] / 1e9
p = {q: unit(v, u) for q, v, u in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)\b", text)}
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errs = int(errs.group(1)) if errs else 0
print(f"{label:<22} {rps:>8.0f} req/s {gbs:>6.2f} GB/s  p50 {p['50']:>7.2f} ms  p99 {p['99']:>7.2f} ms  non-2xx {errs}")
EOF
}

for workload in objects ranges; do
    echo "== $workload: cache hits, $CONNS connections, ${SECS}s"
    for target in "edge $EDGE" "varnish $VARNISH" "nginx $NGINX"; do
        set -- $target
        bench "warm-up" "$2" "$workload" 10 >/dev/null
        bench "$1" "$2" "$workload" "$SECS"
    done
done
for workload in objects ranges; do
    echo "== $workload: cache hits, $CONNS connections, each waiting ${PACE_MS} ms between requests, ${SECS}s"
    for target in "edge $EDGE" "varnish $VARNISH" "nginx $NGINX"; do
        set -- $target
        WRK_PACE_MS="$PACE_MS" bench "$1" "$2" "$workload" "$SECS"
    done
done
grep -o 'x_cache="[a-z]*"} [0-9]*' <(curl -s http://127.0.0.1:19001/metrics) | sed 's/^/edge responses: /'
grep -E '^cache_version_check(s|ed_keys)_total ' <(curl -s http://127.0.0.1:19001/metrics) | sed 's/^/edge version lookups: /'

echo "== misses: first-byte latency of 20 cold 1 MiB objects through the edge"
for i in $(seq 100 119); do
    curl -s -o /dev/null -w '%{time_starttransfer}\n' "http://$EDGE/media/obj-$i"
done | sort -n | python3 -c '
import sys
t = [float(x) * 1000 for x in sys.stdin]
print(f"first byte: min {t[0]:.2f} ms  median {t[len(t)//2]:.2f} ms  max {t[-1]:.2f} ms")'

echo "== origin throughput (an edge with its cache off), objects"
extra_edge "$BIN/edge" "${ORIGIN_ONLY##*:}" 19011 0
PIDS+=("$EDGE_PID")
bench "origin, all nodes up" "$ORIGIN_ONLY" objects "$SECS"
NODE_PID=$(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
print(next(p["pid"] for p in c["processes"] if p["role"] == "node-3"))' "$WORK/tessera/cluster.json")
kill -9 "$NODE_PID"
sleep 4
bench "origin, node-3 killed" "$ORIGIN_ONLY" objects "$SECS"
