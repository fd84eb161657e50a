#!/usr/bin/env bash
# Downloads pinned .debs with apt-get download in the PRIVATE apt configuration (apt.sh) and checks each
# one's size and SHA256 against the lock file before moving it into $KCACHE/debs/.
#   scripts/kernels/fetch.sh KCACHE LOCK RELEASE [--check]
# Fetching one missing release fetches every missing pinned release in the same apt-get call (apt
# parses its lists once); a file already in the cache is never fetched again.
# With --check, only re-checks the cached file's size and SHA256 (no network).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kcache="$1"; lock="$2"; rel="$3"; mode="${4:-}"

pinned() { awk -v r="$1" '!/^#/ && $1==r' "$lock"; }
deb_path() { echo "$kcache/debs/$(basename "$(pinned "$1" | awk '{print $7}')")"; }
check() {   # check RELEASE FILE
  local _r suite pkg ver size sha pool gsize gsha
  read -r _r suite pkg ver size sha pool < <(pinned "$1")
  gsize=$(stat -c %s "$2")
  gsha=$(sha256sum "$2" | cut -d' ' -f1)
  if [ "$gsize" != "$size" ] || [ "$gsha" != "$sha" ]; then
    echo "fetch.sh: $2 ($pkg=$ver): size/sha256 $gsize/$gsha, pinned $size/$sha" >&2
    return 1
  fi
}

[ -n "$(pinned "$rel")" ] || { echo "fetch.sh: $rel not in $lock" >&2; exit 1; }
out=$(deb_path "$rel")
if [ "$mode" = --check ]; then check "$rel" "$out"; exit; fi
[ -f "$out" ] && exit 0

# apt runs are serialised (make -j): one private lists/cache dir, no apt locking inside it.
mkdir -p "$kcache/apt/lists" "$kcache/debs"
exec 9>"$kcache/apt/.lock"
flock 9
[ -f "$out" ] && exit 0
if [ ! -f "$kcache/apt/lists/.updated" ]; then
  "$here/apt.sh" "$kcache" apt-get update -q
  touch "$kcache/apt/lists/.updated"
fi
missing=(); specs=()
for r in $(awk '!/^#/ && NF {print $1}' "$lock"); do
  [ -f "$(deb_path "$r")" ] && continue
  missing+=("$r")
  specs+=("$(pinned "$r" | awk '{print $3 "=" $4}')")
done
tmp="$kcache/debs/tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && "$here/apt.sh" "$kcache" apt-get download -q "${specs[@]}" )
for r in "${missing[@]}"; do
  f="$tmp/$(basename "$(deb_path "$r")")"
  [ -f "$f" ] || { echo "fetch.sh: apt-get download gave no $(basename "$f")" >&2; exit 1; }
  check "$r" "$f"
  mv "$f" "$(deb_path "$r")"
  echo "fetched $(pinned "$r" | awk '{print $3 "=" $4 " (" $2 ") " $5 " bytes sha256 " $6}')"
done
