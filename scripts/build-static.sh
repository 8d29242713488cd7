#!/usr/bin/env bash
# A static (musl) netpol-sync without a container engine: the binary the Dockerfile puts
# in its image, built here with musl-gcc and a vendored OpenSSL instead of Alpine's
# static archives. Checks that it is statically linked, and that the demo (its own
# binary, built the same way beside it) runs.
#
#   scripts/build-static.sh            (needs rustup; installs musl-tools with apt-get)
#
# Prints the binary's path. CARGO_TARGET_DIR is honoured (default target/).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-musl
command -v musl-gcc >/dev/null || apt-get install -y musl-tools >&2
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET" >&2
for package in netpol-sync netpol-sync-demo; do
    CC_x86_64_unknown_linux_musl=musl-gcc LIBZ_SYS_STATIC=1 \
        cargo build --release --locked --target "$TARGET" -p "$package" --bin "$package" \
        --features git2/vendored-openssl >&2
done
BIN=$(realpath "${CARGO_TARGET_DIR:-target}/$TARGET/release/netpol-sync")
DEMO="$BIN-demo"
# As the Dockerfile does: refuse a dynamically linked binary.
for b in "$BIN" "$DEMO"; do
    if ldd "$b" 2>/dev/null | grep -q '=>'; then
        echo "$b is dynamically linked" >&2
        exit 1
    fi
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && env -i PATH=/usr/bin:/bin HOME="$WORK" "$DEMO" >"$WORK/demo.log" 2>&1) \
    || { tail -20 "$WORK/demo.log" >&2; echo "the static binary's demo failed" >&2; exit 1; }
echo "$BIN"
