#!/usr/bin/env bash
# Fetch axe-core from the npm registry for the dashboard's accessibility test (tests/, not
# served): `npm pack` downloads the published tarball only (no install scripts run); the
# checksums below pin the exact bytes we committed.
set -euo pipefail
VERSION=4.14.1
cd "$(dirname "$0")/.."
dest=tests/vendor/axe-core
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "axe-core@$VERSION" >/dev/null && tar xzf "axe-core-$VERSION.tgz")
mkdir -p "$dest"
cp "$work/package/axe.min.js" "$dest/axe.min.js"
cp "$work/package/LICENSE" "$work/package/LICENSE-3RD-PARTY.txt" "$dest/"
(cd "$dest" && sha256sum -c SHA256SUMS)
echo "vendored axe-core $VERSION into $dest"
