#!/usr/bin/env bash
# Client compatibility: mainstream S3 clients, each at its default settings,
# against a running cluster. Every step checks the bytes that come back.
#
#   S3_ENDPOINT=http://127.0.0.1:9000 AWS_ACCESS_KEY_ID=tessera \
#   AWS_SECRET_ACCESS_KEY=tessera-local-secret bash tests/compat/clients.sh
#
#   bash tests/compat/clients.sh rclone s3cmd    # only these clients
#   bash tests/compat/clients.sh --check-tools   # exit 3 and name what is missing
#
# Needs aws-cli (v1, from PyPI `awscli`), python3 with boto3, rclone, s3cmd and
# curl on PATH (.ci/run installs them). Each client gets a fresh bucket; the
# script removes them again. Nothing is read from or written to $HOME: each
# client's configuration and caches live in a temp folder removed at exit.
# A non-zero exit, a command that stalls, an error printed by a client or a
# byte mismatch fails that client's run with a FAIL line naming the step; the
# other clients still run, and the script exits non-zero at the end.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MIB=$((1024 * 1024))

missing_tools() {
    local missing=()
    local tool
    for tool in aws rclone s3cmd curl python3 cmp diff timeout; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import boto3' >/dev/null 2>&1; then
        missing+=("boto3 (for python3)")
    fi
    if ((${#missing[@]})); then
        local IFS=,
        echo "${missing[*]}"
    fi
}

if [[ "${1:-}" == "--check-tools" ]]; then
    m="$(missing_tools)"
    if [[ -n "$m" ]]; then
        echo "missing client tools: $m"
        exit 3
    fi
    echo "all client tools present"
    exit 0
fi

ALL_CLIENTS=(aws-cli boto3 rclone s3cmd)
CLIENTS=("$@")
((${#CLIENTS[@]})) || CLIENTS=("${ALL_CLIENTS[@]}")
for client in "${CLIENTS[@]}"; do
    case " ${ALL_CLIENTS[*]} " in
    *" $client "*) ;;
    *)
        echo "unknown client '$client' (known: ${ALL_CLIENTS[*]})" >&2
        exit 2
        ;;
    esac
done

: "${S3_ENDPOINT:?set S3_ENDPOINT, e.g. http://127.0.0.1:9000}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
S3_ENDPOINT="${S3_ENDPOINT%/}"

m="$(missing_tools)"
if [[ -n "$m" ]]; then
    echo "FAIL: missing client tools: $m (.ci/run installs them)" >&2
    exit 3
fi

# --- environment: defaults only, nothing from $HOME ------------------------

# Settings a developer may have exported would make a client not run at its
# defaults; only the two keys stay.
for v in $(compgen -e); do
    case "$v" in
    AWS_ACCESS_KEY_ID | AWS_SECRET_ACCESS_KEY) ;;
    AWS_* | BOTO_* | RCLONE_* | S3CMD_*) unset "$v" ;;
    esac
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tessera-compat.XXXXXX")"
cleanup() {
    local rc=$?
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

# Python packages installed with `pip --user` stay importable after HOME moves.
if [[ -z "${PYTHONUSERBASE:-}" ]]; then
    PYTHONUSERBASE="$(python3 -c 'import site; print(site.getuserbase())' 2>/dev/null || true)"
    [[ -n "$PYTHONUSERBASE" ]] && export PYTHONUSERBASE
fi
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_CACHE_HOME="$WORK/home/.cache"
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"

# The endpoint is reached directly, never through a proxy from the environment.
ENDPOINT_HOST="${S3_ENDPOINT#*://}"
ENDPOINT_HOST="${ENDPOINT_HOST%%/*}"
ENDPOINT_HOST="${ENDPOINT_HOST%:*}"
ENDPOINT_HOST="${ENDPOINT_HOST#[}"
ENDPOINT_HOST="${ENDPOINT_HOST%]}"
export NO_PROXY="$ENDPOINT_HOST,127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

export AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
# aws-cli v1 presigns with SigV2 unless told otherwise; Tessera speaks SigV4
# only (a SigV2 URL is 400 InvalidRequest), as the README says.
printf '[default]\nregion = us-east-1\ns3 =\n    signature_version = s3v4\n' >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export S3_ENDPOINT

# rclone: one remote named "tessera", configured only through the environment.
export RCLONE_CONFIG="$WORK/rclone.conf" RCLONE_CACHE_DIR="$WORK/rclone-cache"
: >"$RCLONE_CONFIG"
export RCLONE_CONFIG_TESSERA_TYPE=s3 RCLONE_CONFIG_TESSERA_PROVIDER=Other
export RCLONE_CONFIG_TESSERA_ENV_AUTH=false
export RCLONE_CONFIG_TESSERA_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
export RCLONE_CONFIG_TESSERA_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export RCLONE_CONFIG_TESSERA_ENDPOINT="$S3_ENDPOINT"
export RCLONE_CONFIG_TESSERA_REGION=us-east-1
export RCLONE_CONFIG_TESSERA_FORCE_PATH_STYLE=true

# s3cmd: a config file in the temp folder; host_bucket equal to host_base
# means path-style requests. No region: s3cmd then signs with its default,
# S3's legacy name `US`, which the store must take as us-east-1.
HOSTPORT="${S3_ENDPOINT#*://}"
HOSTPORT="${HOSTPORT%%/*}"
if [[ "$S3_ENDPOINT" == https://* ]]; then S3CMD_HTTPS=True; else S3CMD_HTTPS=False; fi
S3CMD_CFG="$WORK/s3cmd.cfg"
cat >"$S3CMD_CFG" <<EOF
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $HOSTPORT
host_bucket = $HOSTPORT
use_https = $S3CMD_HTTPS
signature_v2 = False
EOF

# --- helpers -----------------------------------------------------------------

STEP=""
step() {
    STEP="$*"
    printf '==> [%3ss] %s\n' "$SECONDS" "$*"
}

fail() {
    echo "FAIL: [$STEP] $*" >&2
    echo "  [$STEP] $*" >>"$WORK/failures"
    exit 1
}

# Longest any one client command may take. Below botocore's 60 s read
# timeout, so a request the server never answers fails the step instead of
# hiding behind a silent client retry.
CMD_TIMEOUT="${COMPAT_COMMAND_TIMEOUT:-50}"

# run CMD...: runs a client command; on a non-zero exit or a time-out shows
# the command and its output and fails. The output stays in $WORK/out.
run() {
    local rc=0
    timeout --kill-after=5 "$CMD_TIMEOUT" "$@" >"$WORK/out" 2>&1 || rc=$?
    if ((rc == 0)); then
        return 0
    fi
    echo "---- command (exit $rc): $*" >&2
    tail -c 20000 "$WORK/out" >&2
    printf '\n----\n' >&2
    if ((rc == 124 || rc == 137)); then
        fail "command did not finish within ${CMD_TIMEOUT}s (a stalled request?): $*"
    fi
    fail "command exited with status $rc: $*"
}

# run_expect_fail CMD...: the command must fail (e.g. HEAD of a deleted key).
run_expect_fail() {
    local rc=0
    timeout --kill-after=5 "$CMD_TIMEOUT" "$@" >"$WORK/out" 2>&1 || rc=$?
    if ((rc == 0)); then
        cat "$WORK/out" >&2
        fail "command should have failed but succeeded: $*"
    fi
    if ((rc == 124 || rc == 137)); then
        fail "command did not finish within ${CMD_TIMEOUT}s: $*"
    fi
}

# no_errors CLIENT REGEX: the last command printed no error or warning lines
# (a client that carries on after an error still shows it to its user).
no_errors() {
    if grep -E "$2" "$WORK/out" >"$WORK/errors"; then
        cat "$WORK/errors" >&2
        fail "$1 reported the errors above"
    fi
}

run_rclone() {
    run rclone "$@"
    no_errors rclone 'ERROR *:'
}

run_s3cmd() {
    run "${S3CMD[@]}" "$@"
    no_errors s3cmd '^(ERROR|WARNING):'
}

# bucket_gone BUCKET: HEAD of the bucket answers 404.
bucket_gone() {
    run_expect_fail "${AWS[@]}" s3api head-bucket --bucket "$1"
    grep -qE "404|Not Found" "$WORK/out" || fail "bucket $1 still there after its removal: $(cat "$WORK/out")"
}

same_file() { # expected actual
    [[ -f "$2" ]] || fail "missing file $2 (expected a copy of $1)"
    if ! cmp -s "$1" "$2"; then
        fail "bytes differ: $1 ($(stat -c %s "$1") bytes, sha256 $(sha256sum <"$1" | cut -c1-16)...) vs $2 ($(stat -c %s "$2") bytes, sha256 $(sha256sum <"$2" | cut -c1-16)...)"
    fi
}

same_tree() { # expected-dir actual-dir
    [[ -d "$2" ]] || fail "missing folder $2"
    if ! diff -r "$1" "$2" >"$WORK/diff" 2>&1; then
        cat "$WORK/diff" >&2
        fail "folders differ: $1 vs $2"
    fi
}

# same_lines EXPECTED-FILE ACTUAL-FILE: equal as sorted sets of lines.
same_lines() {
    LC_ALL=C sort "$1" >"$WORK/lines.expected"
    LC_ALL=C sort "$2" >"$WORK/lines.actual"
    if ! diff "$WORK/lines.expected" "$WORK/lines.actual" >"$WORK/diff"; then
        echo "---- expected (<) vs actual (>):" >&2
        cat "$WORK/diff" >&2
        fail "listing differs from the expected one"
    fi
}

# "SIZE KEY" for every file under DIR, keys prefixed with PREFIX.
tree_listing() { # dir prefix
    (cd "$1" && find . -type f -printf '%s %P\n') | sed "s|^\([0-9]*\) |\1 $2|"
}

md5_of() { md5sum <"$1" | cut -d' ' -f1; }

AWS=(aws --endpoint-url "$S3_ENDPOINT")
S3CMD=(s3cmd -c "$S3CMD_CFG")
BOTO=(python3 "$HERE/boto3_transfer.py")

# --- test data -----------------------------------------------------------------

SUFFIX="$(date +%s)-$$"
DATA="$WORK/data"
mkdir -p "$DATA"
step "making test data in $WORK"
head -c $((50 * MIB)) /dev/urandom >"$DATA/big50.bin"
head -c $((40 * MIB + 123)) /dev/urandom >"$DATA/big40.bin"
head -c $((30 * MIB + 7)) /dev/urandom >"$DATA/big30.bin"
head -c 70000 /dev/urandom >"$DATA/small.bin"
TREE="$DATA/tree"
mkdir -p "$TREE/nested/deeper" "$TREE/with space"
echo "hello from the client compatibility test" >"$TREE/a.txt"
head -c 1000 /dev/urandom >"$TREE/small.bin"
: >"$TREE/empty.txt"
head -c $((5 * MIB + 3)) /dev/urandom >"$TREE/nested/medium.bin"
head -c 100000 /dev/urandom >"$TREE/nested/deeper/c.bin"
UNICODE_NAME="with space/ünïcödé fïlé ✓.txt"
echo "a name with spaces and unicode" >"$TREE/$UNICODE_NAME"
# Empty files sorted before non-empty ones: each client's next PUT may reuse
# the connection that just carried an empty PUT.
EMPTIES="$DATA/empties"
mkdir -p "$EMPTIES"
for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
    : >"$EMPTIES/0-empty-$i.txt"
    head -c 2000 /dev/urandom >"$EMPTIES/1-data-$i.bin"
done
OUT="$WORK/out-files"
mkdir -p "$OUT"

echo "endpoint $S3_ENDPOINT"
echo "aws: $(aws --version 2>&1)"
echo "boto3: $(python3 -c 'import boto3, botocore; print(boto3.__version__, "botocore", botocore.__version__)')"
echo "rclone: $(rclone version 2>/dev/null | head -1)"
echo "s3cmd: $(s3cmd --version 2>&1)"
echo "curl: $(curl --version | head -1)"

# --- aws-cli ---------------------------------------------------------------

client_awscli() {
    local B="compat-awscli-$SUFFIX"
    step "aws-cli: s3 mb s3://$B"
    run "${AWS[@]}" s3 mb "s3://$B"

    step "aws-cli: s3 ls lists the bucket"
    run "${AWS[@]}" s3 ls
    grep -qE " $B\$" "$WORK/out" || fail "bucket $B not in 'aws s3 ls': $(cat "$WORK/out")"

    step "aws-cli: s3 cp of a 50 MiB file up (multipart, default checksums)"
    run "${AWS[@]}" s3 cp "$DATA/big50.bin" "s3://$B/big50.bin"
    run "${AWS[@]}" s3api head-object --bucket "$B" --key big50.bin --query '[ContentLength, ETag]' --output text
    read -r size etag <"$WORK/out"
    [[ "$size" == $((50 * MIB)) ]] || fail "head-object ContentLength $size, expected $((50 * MIB))"
    [[ "$etag" == *-7\" ]] || fail "ETag $etag: expected a 7-part multipart ETag"

    step "aws-cli: s3 cp of the 50 MiB file back down"
    run "${AWS[@]}" s3 cp "s3://$B/big50.bin" "$OUT/awscli-big50.bin"
    same_file "$DATA/big50.bin" "$OUT/awscli-big50.bin"

    step "aws-cli: s3 cp of the 50 MiB file up and down with AWS_REQUEST_CHECKSUM_CALCULATION=when_required"
    AWS_REQUEST_CHECKSUM_CALCULATION=when_required run "${AWS[@]}" s3 cp "$DATA/big50.bin" "s3://$B/big50-nosum.bin"
    AWS_REQUEST_CHECKSUM_CALCULATION=when_required run "${AWS[@]}" s3 cp "s3://$B/big50-nosum.bin" "$OUT/awscli-big50-nosum.bin"
    same_file "$DATA/big50.bin" "$OUT/awscli-big50-nosum.bin"

    step "aws-cli: s3 sync of a folder up (nested folders, empty file, spaces and unicode in a name)"
    run "${AWS[@]}" s3 sync "$TREE" "s3://$B/tree/"

    step "aws-cli: s3 sync of the same folder again uploads nothing"
    run "${AWS[@]}" s3 sync "$TREE" "s3://$B/tree/"
    if grep -q "upload:" "$WORK/out"; then
        cat "$WORK/out" >&2
        fail "a second sync of unchanged files uploaded again"
    fi

    step "aws-cli: s3 sync down into an empty folder"
    run "${AWS[@]}" s3 sync "s3://$B/tree/" "$OUT/awscli-tree"
    same_tree "$TREE" "$OUT/awscli-tree"

    step "aws-cli: s3 ls --recursive shows every key with its size"
    run "${AWS[@]}" s3 ls --recursive "s3://$B"
    sed -E 's/^[0-9-]+ [0-9:]+ +//' "$WORK/out" >"$WORK/listed"
    {
        echo "$((50 * MIB)) big50.bin"
        echo "$((50 * MIB)) big50-nosum.bin"
        tree_listing "$TREE" "tree/"
    } >"$WORK/expected"
    same_lines "$WORK/expected" "$WORK/listed"

    step "aws-cli: s3 ls of the bucket root shows the folder and the files"
    run "${AWS[@]}" s3 ls "s3://$B/"
    sed -E 's/^ +PRE /PRE /; s/^[0-9-]+ [0-9:]+ +[0-9]+ /OBJ /' "$WORK/out" >"$WORK/listed"
    printf 'OBJ big50.bin\nOBJ big50-nosum.bin\nPRE tree/\n' >"$WORK/expected"
    same_lines "$WORK/expected" "$WORK/listed"

    step "aws-cli: s3 ls of a nested prefix"
    run "${AWS[@]}" s3 ls "s3://$B/tree/with space/"
    grep -qF " ünïcödé fïlé ✓.txt" "$WORK/out" || fail "unicode key not listed: $(cat "$WORK/out")"

    step "aws-cli: s3 presign a GET, then curl the URL"
    run "${AWS[@]}" s3 presign "s3://$B/tree/nested/medium.bin" --expires-in 300
    url="$(cat "$WORK/out")"
    run curl -fsS -o "$OUT/presigned-medium.bin" "$url"
    same_file "$TREE/nested/medium.bin" "$OUT/presigned-medium.bin"

    step "aws-cli: s3 presign a key with spaces and unicode, then curl the URL"
    run "${AWS[@]}" s3 presign "s3://$B/tree/$UNICODE_NAME" --expires-in 300
    url="$(cat "$WORK/out")"
    run curl -fsS -o "$OUT/presigned-unicode.txt" "$url"
    same_file "$TREE/$UNICODE_NAME" "$OUT/presigned-unicode.txt"

    step "aws-cli: s3api put-object, head-object and get-object of a small object"
    run "${AWS[@]}" s3api put-object --bucket "$B" --key "api/small.bin" --body "$DATA/small.bin" \
        --content-type application/x-compat --metadata origin=compat-test
    run "${AWS[@]}" s3api head-object --bucket "$B" --key "api/small.bin" \
        --query '[ContentLength, ETag, ContentType, Metadata.origin]' --output text
    read -r size etag ctype origin <"$WORK/out"
    [[ "$size" == 70000 ]] || fail "ContentLength $size, expected 70000"
    [[ "$etag" == "\"$(md5_of "$DATA/small.bin")\"" ]] || fail "ETag $etag, expected the body's MD5 $(md5_of "$DATA/small.bin")"
    [[ "$ctype" == application/x-compat ]] || fail "ContentType $ctype, expected application/x-compat"
    [[ "$origin" == compat-test ]] || fail "metadata origin=$origin, expected compat-test"
    run "${AWS[@]}" s3api get-object --bucket "$B" --key "api/small.bin" "$OUT/api-small.bin"
    same_file "$DATA/small.bin" "$OUT/api-small.bin"

    step "aws-cli: s3 rm of one key"
    run "${AWS[@]}" s3 rm "s3://$B/big50.bin"
    run_expect_fail "${AWS[@]}" s3api head-object --bucket "$B" --key big50.bin
    grep -qE "404|Not Found" "$WORK/out" || fail "head-object after rm: expected 404, got: $(cat "$WORK/out")"

    step "aws-cli: s3 rm --recursive of a prefix"
    run "${AWS[@]}" s3 rm --recursive "s3://$B/tree/"
    run "${AWS[@]}" s3 ls --recursive "s3://$B"
    sed -E 's/^[0-9-]+ [0-9:]+ +[0-9]+ //' "$WORK/out" >"$WORK/listed"
    printf 'api/small.bin\nbig50-nosum.bin\n' >"$WORK/expected"
    same_lines "$WORK/expected" "$WORK/listed"

    step "aws-cli: s3 sync of a folder of empty files followed by non-empty ones, up and down"
    run "${AWS[@]}" s3 sync "$EMPTIES" "s3://$B/empties/"
    run "${AWS[@]}" s3 sync "s3://$B/empties/" "$OUT/awscli-empties"
    same_tree "$EMPTIES" "$OUT/awscli-empties"

    step "aws-cli: s3 rm --recursive of the rest, then s3 rb"
    run "${AWS[@]}" s3 rm --recursive "s3://$B"
    run "${AWS[@]}" s3 ls --recursive "s3://$B"
    [[ ! -s "$WORK/out" ]] || fail "bucket not empty after rm --recursive: $(cat "$WORK/out")"
    run "${AWS[@]}" s3 rb "s3://$B"

    step "aws-cli: the bucket is gone"
    bucket_gone "$B"
}

# --- boto3 -----------------------------------------------------------------

client_boto3() {
    local B="compat-boto3-$SUFFIX"
    step "boto3: create_bucket $B"
    run "${BOTO[@]}" make-bucket "$B"

    step "boto3: upload_file of a 40 MiB file (transfer manager, multipart, default checksums)"
    run "${BOTO[@]}" upload "$DATA/big40.bin" "$B" big40.bin
    run "${BOTO[@]}" head "$B" big40.bin
    read -r size etag <"$WORK/out"
    [[ "$size" == $((40 * MIB + 123)) ]] || fail "ContentLength $size, expected $((40 * MIB + 123))"
    [[ "$etag" == *-6\" ]] || fail "ETag $etag: expected a 6-part multipart ETag"

    step "boto3: download_file of the 40 MiB file"
    run "${BOTO[@]}" download "$B" big40.bin "$OUT/boto3-big40.bin"
    same_file "$DATA/big40.bin" "$OUT/boto3-big40.bin"

    step "boto3: upload_file and download_file of a small file"
    run "${BOTO[@]}" upload "$DATA/small.bin" "$B" small.bin
    run "${BOTO[@]}" head "$B" small.bin
    read -r size etag <"$WORK/out"
    [[ "$etag" == "\"$(md5_of "$DATA/small.bin")\"" ]] || fail "ETag $etag, expected the body's MD5"
    run "${BOTO[@]}" download "$B" small.bin "$OUT/boto3-small.bin"
    same_file "$DATA/small.bin" "$OUT/boto3-small.bin"

    step "boto3: upload_file and download_file, 40 MiB and small, with request_checksum_calculation=when_required"
    run "${BOTO[@]}" --no-checksums upload "$DATA/big40.bin" "$B" nosum/big40.bin
    run "${BOTO[@]}" --no-checksums download "$B" nosum/big40.bin "$OUT/boto3-nosum-big40.bin"
    same_file "$DATA/big40.bin" "$OUT/boto3-nosum-big40.bin"
    run "${BOTO[@]}" --no-checksums upload "$DATA/small.bin" "$B" nosum/small.bin
    run "${BOTO[@]}" --no-checksums download "$B" nosum/small.bin "$OUT/boto3-nosum-small.bin"
    same_file "$DATA/small.bin" "$OUT/boto3-nosum-small.bin"

    step "boto3: upload_file of empty files followed by non-empty ones on one client, then download_file of each"
    run "${BOTO[@]}" upload-dir "$EMPTIES" "$B" empties/
    run "${BOTO[@]}" download-dir "$B" empties/ "$OUT/boto3-empties"
    same_tree "$EMPTIES" "$OUT/boto3-empties"

    step "boto3: delete the objects and the bucket"
    run "${BOTO[@]}" remove-bucket "$B"

    step "boto3: the bucket is gone"
    bucket_gone "$B"
}

# --- rclone ----------------------------------------------------------------

client_rclone() {
    local B="compat-rclone-$SUFFIX"
    local RTREE="$WORK/rclone-tree"
    cp -r "$TREE" "$RTREE"
    cp "$DATA/big30.bin" "$RTREE/big30.bin"

    step "rclone: mkdir tessera:$B"
    run_rclone mkdir "tessera:$B"

    step "rclone: copy a folder up (incl. a 30 MiB file, default settings)"
    run_rclone copy "$RTREE" "tessera:$B/tree"

    step "rclone: check the folder against the bucket (sizes and MD5s)"
    run_rclone check "$RTREE" "tessera:$B/tree"

    step "rclone: ls lists every file with its size"
    run_rclone ls "tessera:$B/tree"
    sed -E 's/^ *//' "$WORK/out" >"$WORK/listed"
    tree_listing "$RTREE" "" >"$WORK/expected"
    same_lines "$WORK/expected" "$WORK/listed"

    step "rclone: copy the folder back down"
    run_rclone copy "tessera:$B/tree" "$OUT/rclone-tree"
    same_tree "$RTREE" "$OUT/rclone-tree"

    step "rclone: multipart copy up (--s3-upload-cutoff 5M --s3-chunk-size 5M), check, copy back"
    mkdir -p "$WORK/rclone-mp"
    cp "$DATA/big30.bin" "$WORK/rclone-mp/big30.bin"
    run_rclone copy --s3-upload-cutoff 5M --s3-chunk-size 5M "$WORK/rclone-mp" "tessera:$B/multipart"
    run_rclone check "$WORK/rclone-mp" "tessera:$B/multipart"
    run_rclone copy "tessera:$B/multipart" "$OUT/rclone-mp"
    same_tree "$WORK/rclone-mp" "$OUT/rclone-mp"

    step "rclone: purge the bucket"
    run_rclone purge "tessera:$B"

    step "rclone: the bucket is gone"
    bucket_gone "$B"
}

# --- s3cmd -----------------------------------------------------------------

client_s3cmd() {
    local B="compat-s3cmd-$SUFFIX"
    step "s3cmd: mb s3://$B"
    run_s3cmd mb "s3://$B"

    step "s3cmd: put a small file and a 30 MiB file (multipart at s3cmd's 15 MiB chunks)"
    run_s3cmd put "$DATA/small.bin" "s3://$B/small.bin"
    run_s3cmd put "$DATA/big30.bin" "s3://$B/dir/big30.bin"

    step "s3cmd: ls and ls --recursive show the keys"
    run_s3cmd ls "s3://$B"
    grep -qF "s3://$B/small.bin" "$WORK/out" || fail "small.bin not in s3cmd ls: $(cat "$WORK/out")"
    grep -qE "DIR +s3://$B/dir/" "$WORK/out" || fail "dir/ not in s3cmd ls: $(cat "$WORK/out")"
    run_s3cmd ls --recursive "s3://$B"
    grep -qE " 70000 +s3://$B/small.bin\$" "$WORK/out" || fail "small.bin (70000 bytes) not in s3cmd ls --recursive: $(cat "$WORK/out")"
    grep -qE " $((30 * MIB + 7)) +s3://$B/dir/big30.bin\$" "$WORK/out" || fail "dir/big30.bin not in s3cmd ls --recursive: $(cat "$WORK/out")"

    step "s3cmd: get both back"
    run_s3cmd get "s3://$B/small.bin" "$OUT/s3cmd-small.bin"
    same_file "$DATA/small.bin" "$OUT/s3cmd-small.bin"
    run_s3cmd get "s3://$B/dir/big30.bin" "$OUT/s3cmd-big30.bin"
    same_file "$DATA/big30.bin" "$OUT/s3cmd-big30.bin"

    step "s3cmd: del, then rb"
    run_s3cmd del "s3://$B/small.bin" "s3://$B/dir/big30.bin"
    run_s3cmd rb "s3://$B"

    step "s3cmd: the bucket is gone"
    bucket_gone "$B"
}

# --- run ------------------------------------------------------------------------

# Each client runs on its own (own bucket, own subshell), so one client's
# failure still lets the others be checked; the run fails if any did.
FAILED=()
: >"$WORK/failures"
for client in "${CLIENTS[@]}"; do
    before="$(wc -l <"$WORK/failures")"
    echo
    echo "=== $client"
    set +e
    (
        set -e
        "client_${client//-/}"
    )
    rc=$?
    set -e
    if ((rc != 0)); then
        FAILED+=("$client")
        if [[ "$(wc -l <"$WORK/failures")" == "$before" ]]; then
            echo "  [$client] stopped with status $rc (see the output above)" >>"$WORK/failures"
        fi
        # Best effort, so hand runs against a long-lived cluster stay tidy.
        timeout 30 "${BOTO[@]}" remove-bucket "compat-${client//-/}-$SUFFIX" >/dev/null 2>&1 || true
    fi
done

echo
if ((${#FAILED[@]})); then
    echo "FAIL: ${#FAILED[@]} of ${#CLIENTS[@]} clients failed (${FAILED[*]}):"
    cat "$WORK/failures"
    exit 1
fi
echo "PASS: ${CLIENTS[*]}: every step passed and every byte round-tripped"
