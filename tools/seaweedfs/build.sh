#!/bin/sh
# Builds the pinned SeaweedFS `weed` server for the S3 Object Lock tests into
# a cache directory and prints its path. A second run with the same pin is a
# no-op (a version stamp next to the binary); a missing or stale cache is
# rebuilt, so nothing depends on the cache being there.
#
#   WXARCHIVE_TOOLS  cache root (default $HOME/.cache/wxarchive-tools);
#                    the binary is $WXARCHIVE_TOOLS/bin/weed.
#
# Use: tools/seaweedfs/build.sh  then  export WXARCHIVE_WEED=<printed path>
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=${WXARCHIVE_TOOLS:-${HOME:?HOME or WXARCHIVE_TOOLS must be set}/.cache/wxarchive-tools}
bin="$root/bin"
weed="$bin/weed"
stamp="$bin/weed.version"

# The pin is the tool line of go.mod (written by `go get -tool`) plus the
# module's own go.sum, so any change to either rebuilds.
mod=github.com/seaweedfs/seaweedfs
version=$(awk -v m="$mod" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$here/go.mod")
if [ -z "$version" ]; then
	echo "build.sh: $here/go.mod requires no $mod (run: go get -tool $mod/weed@VERSION there)" >&2
	exit 1
fi
want="$mod $version go=$(go env GOVERSION) sum=$(cksum <"$here/go.sum" | cut -d' ' -f1)"

if [ -x "$weed" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	echo "$weed"
	exit 0
fi

mkdir -p "$bin"
tmp="$bin/weed.tmp.$$"
trap 'rm -f "$tmp"' EXIT
echo "build.sh: building $mod/weed $version (a cold build takes minutes)" >&2
(cd "$here" && go build -trimpath -o "$tmp" "$mod/weed")
# Rename is atomic: a concurrent or interrupted run never leaves a half-written weed.
mv -f "$tmp" "$weed"
printf '%s\n' "$want" >"$stamp"
echo "$weed"
