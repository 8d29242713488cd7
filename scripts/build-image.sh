#!/usr/bin/env bash
# Build the image from the Dockerfile and run the daemon in it the way deploy/ runs it:
# as uid 65532, read-only root filesystem, every capability dropped, no new privileges,
# the git cache on a tmpfs. It syncs the example bundle (re-signed with a fresh key) from a
# git http-backend into the API server emulator, both on the host, then applies a signed
# change with its prune. Exits non-zero on any difference.
#
#   scripts/build-image.sh             the Dockerfile's final stage over the static binary
#                                      of scripts/build-static.sh: `--build-context
#                                      build=DIR` stands in for the `build` stage, so no
#                                      registry is needed (build machines here have none)
#   scripts/build-image.sh --compile   the whole Dockerfile, compiling in rust:1-alpine
#
# Engine: docker when `docker info` answers, else podman (installed with apt-get; run
# with runc, the vfs storage driver and explicit ulimits, which work inside a container).
# Not part of .ci/run: the musl build alone takes minutes. Prints the image id.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=${1:-prebuilt}
TAG=${IMAGE_TAG:-netpol-sync:dev}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

if docker info >/dev/null 2>&1; then
    ENGINE=(docker)
    RUN_FLAGS=()
    BUILD_FLAGS=()
else
    command -v podman >/dev/null || apt-get install -y podman runc >&2
    ENGINE=(podman --storage-driver vfs)
    command -v runc >/dev/null && ENGINE+=(--runtime runc)
    RUN_FLAGS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
    # The build's downloads (apt, rustup, crates.io) trust what this host trusts: build
    # machines behind a TLS-inspecting proxy have its CA only in the host's bundle.
    BUILD_FLAGS=(--isolation chroot --network host "${RUN_FLAGS[@]}"
        --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
fi

WORK=$(mktemp -d)
PIDS=()
CONTAINER=netpol-sync-image-check-$$
cleanup() {
    "${ENGINE[@]}" rm -f "$CONTAINER" >/dev/null 2>&1 || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "build-image: $*" >&2; exit 1; }

# --- the image ---------------------------------------------------------------------------
case "$MODE" in
prebuilt)
    STATIC=$("$ROOT/scripts/build-static.sh" | tail -1)
    # The layout the `build` stage leaves: the binary in /out, Alpine's CA bundle.
    install -D -m 0755 "$STATIC" "$WORK/stage/out/netpol-sync"
    install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$WORK/stage/etc/ssl/certs/ca-certificates.crt"
    "${ENGINE[@]}" build -q --build-context build="$WORK/stage" -t "$TAG" "$ROOT" >&2
    ;;
--compile)
    # The builder's base: pulled, or, where no registry answers, made from Debian's
    # archive with debootstrap and given the name the Dockerfile uses.
    BASE=$(sed -n 's/^FROM \([^ ]*\) AS build$/\1/p' "$ROOT/Dockerfile")
    if ! "${ENGINE[@]}" image inspect "$BASE" >/dev/null 2>&1 \
        && ! "${ENGINE[@]}" pull -q "$BASE" >/dev/null 2>&1; then
        echo "build-image: cannot pull $BASE; making it with debootstrap from deb.debian.org" >&2
        command -v debootstrap >/dev/null || apt-get install -y debootstrap >&2
        debootstrap --variant=minbase bookworm "$WORK/base" http://deb.debian.org/debian >&2
        tar -C "$WORK/base" -c . | "${ENGINE[@]}" import - "$BASE" >&2
    fi
    "${ENGINE[@]}" build "${BUILD_FLAGS[@]}" -t "$TAG" "$ROOT" >&2
    ;;
*) fail "unknown mode $MODE (none, or --compile)" ;;
esac
IMAGE=$("${ENGINE[@]}" image inspect --format '{{.Id}}' "$TAG")

# --- what is in it -----------------------------------------------------------------------
user=$("${ENGINE[@]}" image inspect --format '{{.Config.User}}' "$IMAGE")
[ "$user" = 65532:65532 ] || fail "image runs as '$user', not 65532:65532"
# Only non-empty regular files count: engines add empty mount points (etc/hosts...).
"${ENGINE[@]}" create --name "$CONTAINER" "$IMAGE" >/dev/null
mkdir "$WORK/rootfs"
"${ENGINE[@]}" export "$CONTAINER" | tar -x -C "$WORK/rootfs"
"${ENGINE[@]}" rm "$CONTAINER" >/dev/null
(cd "$WORK/rootfs" && find . -type f -size +0 | sed 's:^\./::' | sort) > "$WORK/regular"
printf '%s\n' etc/group etc/passwd etc/ssl/certs/ca-certificates.crt usr/local/bin/netpol-sync > "$WORK/expected"
diff -u "$WORK/expected" "$WORK/regular" >&2 || fail "the image holds other files than the four it should"
[ ! -e "$WORK/rootfs/bin/sh" ] || fail "the image has a shell"
grep -qx 'netpol-sync:x:65532:65532:netpol-sync:/nonexistent:/sbin/nologin' "$WORK/rootfs/etc/passwd" \
    || fail "etc/passwd does not name uid 65532"

version=$("${ENGINE[@]}" run --rm "${RUN_FLAGS[@]}" --network none --read-only --cap-drop all "$IMAGE" --version)
want="netpol-sync $(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)"
[ "$version" = "$want" ] || fail "--version printed '$version', want '$want'"

# --- the daemon in it, against git and the emulator on the host -------------------------
cargo build --release --manifest-path "$ROOT/Cargo.toml" -p apiserver-emu --bin apiserver-emu >&2
EMU=$TARGET/release/apiserver-emu
. "$ROOT/scripts/lib/signed-repo.sh"
REPO=$WORK/repo
signed_repo_init "$WORK" "$REPO" image@example.com 'namespaces="git,netpol-sync-bundle"'
cp -r "$ROOT/bundles" "$REPO/bundles"
git init -q --bare -b main "$WORK/srv/policies.git"
# The workflow of docs/bundles.md, with the static binary on the host for `bundle seal`.
seal_sign_commit() {
    seal_and_sign "$STATIC_HOST" "$REPO/bundles/shop" "$WORK/key" image
    commit_and_push "$REPO" "$WORK/srv/policies.git" "$1"
}
STATIC_HOST=${STATIC:-$TARGET/x86_64-unknown-linux-musl/release/netpol-sync}
[ -x "$STATIC_HOST" ] || STATIC_HOST=$TARGET/release/netpol-sync
[ -x "$STATIC_HOST" ] || cargo build --release --manifest-path "$ROOT/Cargo.toml" -p netpol-sync --bin netpol-sync >&2
count_documents() { cat "$REPO"/bundles/shop/*/*.yaml | grep -c '^kind: NetworkPolicy'; }
FIRST=$(seal_sign_commit "shop: first revision")
FIRST_COUNT=$(count_documents)

GIT_PORT=$(free_port)
python3 "$ROOT/scripts/git-http-backend-server.py" "$WORK/srv" "$GIT_PORT" >/dev/null 2>&1 &
PIDS+=($!)
EMU_PORT=$(free_port)
"$EMU" --listen "127.0.0.1:$EMU_PORT" --kubeconfig-out "$WORK/kubeconfig" \
    --namespace netpol-sync --namespace frontend --namespace checkout --namespace payments >/dev/null &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/kubeconfig" ] && break; sleep 0.1; done
[ -s "$WORK/kubeconfig" ] || fail "the emulator did not start"
openssl rand -hex 32 > "$WORK/state-key"
chmod 0644 "$WORK/kubeconfig" "$WORK/anchor" "$WORK/state-key"
HTTP_PORT=$(free_port)
# deploy/deployment.yaml's settings, as far as an engine without a cluster can give them.
"${ENGINE[@]}" run -d --name "$CONTAINER" "${RUN_FLAGS[@]}" --network host \
    --read-only --cap-drop all --security-opt no-new-privileges \
    --tmpfs /var/cache/netpol-sync:rw,mode=1777 \
    -v "$WORK/anchor:/etc/netpol-sync/trust/allowed_signers:ro" \
    -v "$WORK/kubeconfig:/etc/netpol-sync/kubeconfig:ro" \
    -v "$WORK/state-key:/etc/netpol-sync/state-key/key:ro" \
    -e NETPOL_SYNC_STATE_KEY=/etc/netpol-sync/state-key/key \
    -e NETPOL_SYNC_REPO="http://127.0.0.1:$GIT_PORT/policies.git" -e NETPOL_SYNC_BRANCH=main \
    -e NETPOL_SYNC_INTERVAL=1s -e NETPOL_SYNC_TRUST_ANCHOR=/etc/netpol-sync/trust/allowed_signers \
    -e NETPOL_SYNC_CACHE_DIR=/var/cache/netpol-sync -e NETPOL_SYNC_LISTEN="127.0.0.1:$HTTP_PORT" \
    -e KUBECONFIG=/etc/netpol-sync/kubeconfig -e RUST_LOG=warn,netpol_sync=info \
    "$IMAGE" run >/dev/null

readyz() { curl -s "http://127.0.0.1:$HTTP_PORT/readyz" || true; }
policies() { KUBECONFIG=$WORK/kubeconfig kubectl get networkpolicies -A --no-headers 2>/dev/null | wc -l; }
wait_enforced() { # revision, expected number of policies
    local deadline=$(( $(date +%s) + 120 ))
    until readyz | grep -q "$1" && [ "$(policies)" = "$2" ]; do
        if [ "$(date +%s)" -ge "$deadline" ] || [ "$("${ENGINE[@]}" inspect --format '{{.State.Running}}' "$CONTAINER")" != true ]; then
            "${ENGINE[@]}" logs "$CONTAINER" 2>&1 | tail -20 >&2
            fail "revision $1 with $2 policies not enforced (readyz: $(readyz); policies: $(policies))"
        fi
        sleep 0.2
    done
}
wait_enforced "$FIRST" "$FIRST_COUNT"
echo "in the image: first revision enforced, $FIRST_COUNT policies" >&2
pid=$("${ENGINE[@]}" inspect --format '{{.State.Pid}}' "$CONTAINER")
uid=$(ps -o uid= -p "$pid" | tr -d ' ')
[ "$uid" = 65532 ] || fail "the daemon runs as uid '$uid', not 65532"
grep -q '^CapEff:[[:space:]]*0*$' "/proc/$pid/status" || fail "the daemon has capabilities: $(grep CapEff "/proc/$pid/status")"

# A signed change that removes one file: the daemon in the image applies it and prunes.
victim=$(find "$REPO/bundles/shop" -name '*.yaml' ! -name bundle.yaml ! -name 'default-deny*' | sort | head -1)
git -C "$REPO" rm -q "$victim"
SECOND=$(seal_sign_commit "shop: drop $(basename "$victim")")
SECOND_COUNT=$(count_documents)
[ "$SECOND_COUNT" -lt "$FIRST_COUNT" ] || fail "the change removed no policy"
wait_enforced "$SECOND" "$SECOND_COUNT"
echo "in the image: signed change enforced with its prune, $SECOND_COUNT policies" >&2
echo "$IMAGE"
