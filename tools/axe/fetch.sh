#!/usr/bin/env bash
# Fetches axe-core (MPL-2.0, https://github.com/dequelabs/axe-core), the
# accessibility checker the web interface's browser tests run in every
# page, from npm at a pinned version, checks its integrity, and prints the
# path of axe.min.js. It is a test tool only: nothing of it is served or
# committed. Cached in $WXARCHIVE_TOOLS (default ~/.cache/wxarchive-tools).
set -euo pipefail
VERSION=4.14.1
# The npm registry's sha512 integrity of axe-core-$VERSION.tgz.
INTEGRITY_FILE="$(dirname "$0")/axe-core.integrity"
cache="${WXARCHIVE_TOOLS:-$HOME/.cache/wxarchive-tools}/axe-core-$VERSION"
if [ -s "$cache/axe.min.js" ]; then
  echo "$cache/axe.min.js"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "axe-core@$VERSION" >/dev/null)
tgz="$tmp/axe-core-$VERSION.tgz"
want=$(cat "$INTEGRITY_FILE")
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$want" ]; then
  echo "axe-core $VERSION: integrity $got, want $want" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$tmp"
mkdir -p "$cache"
cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$cache/"
echo "$cache/axe.min.js"
