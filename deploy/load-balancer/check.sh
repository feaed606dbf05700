#!/usr/bin/env bash
# Checks that the example nginx configuration loads (`nginx -t`), with a
# throwaway certificate in place of the real one. Needs nginx and openssl.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v nginx >/dev/null || { echo "nginx is not installed" >&2; exit 3; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tls" "$work/logs"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=s3.example.com \
    -keyout "$work/tls/privkey.pem" -out "$work/tls/fullchain.pem" 2>/dev/null
# The same file, with paths moved into the scratch folder.
sed -e "s#/etc/nginx/tls/#$work/tls/#" \
    -e "s#/var/log/nginx/#$work/logs/#" \
    -e "s#/run/nginx.pid#$work/nginx.pid#" \
    "$here/nginx.conf" > "$work/nginx.conf"
nginx -t -q -p "$work" -c "$work/nginx.conf"
echo "deploy/load-balancer/nginx.conf: OK"
if command -v haproxy >/dev/null; then
    sed -e "s#/etc/haproxy/tls/s3.example.com.pem#$work/tls/both.pem#" \
        "$here/haproxy.cfg" > "$work/haproxy.cfg"
    cat "$work/tls/fullchain.pem" "$work/tls/privkey.pem" > "$work/tls/both.pem"
    haproxy -c -q -f "$work/haproxy.cfg"
    echo "deploy/load-balancer/haproxy.cfg: OK"
fi
