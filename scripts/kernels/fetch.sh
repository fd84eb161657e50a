#!/usr/bin/env bash
# Downloads one pinned .deb with apt-get download in the PRIVATE apt configuration (apt.sh) and checks
# its size and SHA256 against the lock file before moving it into $KCACHE/debs/.
#   scripts/kernels/fetch.sh KCACHE LOCK RELEASE [--check]
# With --check, only re-checks the cached file's size and SHA256 (no network).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kcache="$1"; lock="$2"; rel="$3"; mode="${4:-}"
read -r _ suite pkg ver size sha pool < <(awk -v r="$rel" '!/^#/ && $1==r' "$lock")
[ -n "${pkg:-}" ] || { echo "fetch.sh: $rel not in $lock" >&2; exit 1; }
out="$kcache/debs/$(basename "$pool")"
if [ "$mode" = --check ]; then
  gsize=$(stat -c %s "$out")
  gsha=$(sha256sum "$out" | cut -d' ' -f1)
  if [ "$gsize" != "$size" ] || [ "$gsha" != "$sha" ]; then
    echo "fetch.sh: cached $out: size/sha256 $gsize/$gsha, pinned $size/$sha" >&2
    exit 1
  fi
  exit 0
fi
[ -f "$out" ] && exit 0
if [ ! -f "$kcache/apt/lists/.updated" ]; then
  "$here/apt.sh" "$kcache" apt-get update -q
  touch "$kcache/apt/lists/.updated"
fi
tmp="$kcache/debs/tmp.$rel.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && "$here/apt.sh" "$kcache" apt-get download -q "$pkg=$ver" )
got=$(ls "$tmp"/*.deb)
gsize=$(stat -c %s "$got")
gsha=$(sha256sum "$got" | cut -d' ' -f1)
if [ "$gsize" != "$size" ] || [ "$gsha" != "$sha" ]; then
  echo "fetch.sh: $pkg=$ver: size/sha256 $gsize/$gsha, pinned $size/$sha" >&2
  exit 1
fi
mv "$got" "$out"
echo "fetched $pkg=$ver ($suite) $size bytes sha256 $sha"
