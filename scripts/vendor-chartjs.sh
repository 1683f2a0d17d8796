#!/usr/bin/env bash
# Fetch Chart.js from the npm registry and vendor its UMD build into the package, so that the
# admin page needs no CDN and works offline. `npm pack` downloads the published tarball only
# (no install scripts run); the checksums below pin the exact bytes we committed.
set -euo pipefail
VERSION=4.6.1
cd "$(dirname "$0")/.."
dest=web/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "chart.js@$VERSION" >/dev/null && tar xzf "chart.js-$VERSION.tgz")
mkdir -p "$dest"
cp "$work/package/dist/chart.umd.min.js" "$dest/chart.umd.min.js"
cp "$work/package/LICENSE.md" "$dest/chart.js-LICENSE.md"
(cd "$dest" && sha256sum -c SHA256SUMS)
echo "vendored chart.js $VERSION into $dest"
