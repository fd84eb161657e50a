#!/usr/bin/env bash
# Downloads one pinned modules package of scripts/kernels/truth-modules.lock into KCACHE/debs (private apt
# configuration, scripts/kernels/apt.sh) and checks its size and SHA256; prints the file's path.
#   scripts/kernels/truth-fetch-modules.sh KCACHE RELEASE
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kcache="$1"; rel="$2"
read -r _r pkg ver size sha pool < <(awk -v r="$rel" '!/^#/ && $1==r' "$here/truth-modules.lock") ||
  { echo "truth-fetch-modules.sh: $rel not in truth-modules.lock" >&2; exit 1; }
out="$kcache/debs/$(basename "$pool")"
if [ ! -f "$out" ]; then
  mkdir -p "$kcache/debs" "$kcache/apt/lists"
  exec 9>"$kcache/apt/.lock"
  flock 9
  if [ ! -f "$out" ]; then
    tmp="$kcache/debs/tmp.$$"
    mkdir -p "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    ( cd "$tmp" && "$here/apt.sh" "$kcache" apt-get download -q "$pkg=$ver" ) >&2
    mv "$tmp/$(basename "$pool")" "$out.part"
    if [ "$(stat -c %s "$out.part")" != "$size" ] || [ "$(sha256sum "$out.part" | cut -d' ' -f1)" != "$sha" ]; then
      rm -f "$out.part"; echo "truth-fetch-modules.sh: $pkg=$ver: size/sha256 differ from the pin" >&2; exit 1
    fi
    mv "$out.part" "$out"
  fi
fi
echo "$out"
