#!/usr/bin/env bash
# Prepares one machine for the systemd units in deploy/systemd, and can be
# run again at any time (it never overwrites a config or a secret):
# - the `tessera` system user and group, which the services run as;
# - the binary as /usr/local/bin/edge (every role is that one executable);
# - /etc/tessera (root:tessera, 0750) with the example configs, a cluster
#   secret and the example edge key's secret (root:tessera, 0640: the
#   services read them, nobody else can);
# - the state folders the examples name, owned by `tessera`:
#   /var/lib/tessera/metadata and /srv/disk1/tessera;
# - the units, in /etc/systemd/system.
#
# As root, from the repository root, after `cargo build --release -p edge`:
#
#   deploy/install.sh [--binary PATH] [--root DIR]
#
# --root installs under DIR instead of / (for packaging, or to look at the
# result first); then no user is made and nothing changes owner.
#
# Then edit /etc/tessera/*.toml (addresses, data_dir, zone), give every
# machine of the cluster the same /etc/tessera/cluster-secret, and start
# what the machine runs:
#
#   systemctl enable --now tessera-metadata tessera-storage-node@disk1 tessera-edge
#
# A second disk is a second instance: copy storage-node-disk1.toml to
# storage-node-disk2.toml, change its listen port and data_dir, make the
# folder (owned by tessera, 0750), and enable tessera-storage-node@disk2.
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY="${CARGO_TARGET_DIR:-target}/release/edge"
ROOT=/
while (($#)); do
    case "$1" in
        --binary) BINARY="$2"; shift 2 ;;
        --root) ROOT="$2"; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [[ ! -x $BINARY ]]; then
    echo "install.sh: no binary at $BINARY: run \`cargo build --release -p edge\` or pass --binary" >&2
    exit 1
fi
SYSTEM=false
if [[ $ROOT == / ]]; then
    if [[ $(id -u) != 0 ]]; then
        echo "install.sh: run as root (or pass --root DIR to install under DIR)" >&2
        exit 1
    fi
    SYSTEM=true
fi
ROOT="${ROOT%/}"
# owner USER:GROUP PATH...: only for a real install.
owner() {
    if $SYSTEM; then chown "$@"; fi
}

if $SYSTEM && ! getent passwd tessera >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/tessera --shell /usr/sbin/nologin tessera
    echo "made the system user tessera"
fi

install -d -m 0755 "$ROOT/usr/local/bin"
install -m 0755 "$BINARY" "$ROOT/usr/local/bin/edge.new"
mv -f "$ROOT/usr/local/bin/edge.new" "$ROOT/usr/local/bin/edge"

ETC="$ROOT/etc/tessera"
install -d -m 0750 "$ETC"
owner root:tessera "$ETC"
# A private file, made only if missing, readable by the services' group.
private_file() { # path generator...
    local path=$1
    shift
    if [[ ! -e $path ]]; then
        (umask 077 && "$@" >"$path")
        echo "made $path"
    fi
    chmod 0640 "$path"
    owner root:tessera "$path"
}
secret() { head -c 32 /dev/urandom | base64; }
private_file "$ETC/cluster-secret" secret
private_file "$ETC/media-uploader.secret" secret
for example in metadata edge storage-node-disk1; do
    private_file "$ETC/$example.toml" cat "deploy/config/$example.toml"
done

for dir in /var/lib/tessera /var/lib/tessera/metadata /srv/disk1/tessera; do
    install -d -m 0750 "$ROOT$dir"
    owner tessera:tessera "$ROOT$dir"
done

install -d -m 0755 "$ROOT/etc/systemd/system"
for unit in deploy/systemd/*.service; do
    install -m 0644 "$unit" "$ROOT/etc/systemd/system/"
done
if $SYSTEM && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
fi
echo "installed under ${ROOT:-/}; edit $ETC/*.toml, then enable the units (see the top of this script)"
