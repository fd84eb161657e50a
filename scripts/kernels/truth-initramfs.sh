#!/usr/bin/env bash
# Builds the initramfs of one truth guest: busybox-static, Debian's criu (from a private root of
# scripts/criu-roots.sh, with every library its loader lists, and the loader), setpriv, vdsoprobe at
# /usr/local/bin/vdsoprobe, the kernel's nfnetlink/nf_tables modules with their dependencies
# (decompressed, insmod order in /modules.order) and, for a restore guest, the images under /in/images.
#   scripts/kernels/truth-initramfs.sh OUT.cpio.gz RELEASE MODULES_DEB CRIU_ROOT VDSOPROBE [IMAGES_DIR [EXE:PATH OUTFILE]]
# EXE:PATH puts another program at the path its images record (an xk fixture's vdsoloop), OUTFILE is its output.
# MODULES_DEB is the package holding lib/modules/RELEASE (linux-image-* up to 6.18, linux-modules-* after).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"; rel="$2"; mdeb="$3"; croot="$4"; probe="$5"; images="${6:-}"; extra="${7:-}"; outfile="${8:-}"
bb=/bin/busybox
[ -x "$bb" ] || { echo "truth-initramfs.sh: needs busybox-static" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,proc,sys,dev,lib64,lib/x86_64-linux-gnu,lib/modules,usr/sbin,usr/bin,usr/local/bin,var/tmp,tmp,run}
cp "$bb" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
install -m 0755 "$here/truth-init.sh" "$root/init"
install -m 0755 "$probe" "$root/usr/local/bin/vdsoprobe"

# criu and setpriv with their libraries, as the root's own loader resolves them.
loader="$croot/usr/lib64/ld-linux-x86-64.so.2"
libpath="$croot/usr/lib/x86_64-linux-gnu:$croot/lib/x86_64-linux-gnu"
for exe in usr/sbin/criu usr/bin/setpriv; do
  cp "$croot/$exe" "$root/$exe"
  "$loader" --library-path "$libpath" --list "$croot/$exe" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' |
    while read -r lib; do cp -L "$lib" "$root/lib/x86_64-linux-gnu/"; done
done
cp -L "$loader" "$root/lib64/ld-linux-x86-64.so.2"

# Modules: nfnetlink and nf_tables plus their "depends=" closure, from the kernel's own package.
mods="$root/lib/modules"
tmp="$root/.mods"
mkdir -p "$tmp"
dpkg-deb --fsys-tarfile "$mdeb" | tar -x -C "$tmp" --wildcards '*/kernel/net/netfilter/*' '*/kernel/lib/*' \
  '*/kernel/crypto/*' '*/kernel/arch/x86/crypto/*' 2>/dev/null || true
find "$tmp" -name '*.ko.xz' -exec xz -d {} + ; find "$tmp" -name '*.ko.zst' -exec zstd -q -d --rm {} +
declare -A path
while read -r f; do b=$(basename "$f" .ko); path[$b]=$f; path[${b//-/_}]=$f; done < <(find "$tmp" -name '*.ko')
order=()
declare -A seen
add() {  # depth-first: dependencies first
  local m="$1" f deps d
  [ -n "${seen[$m]:-}" ] && return 0
  seen[$m]=1
  f="${path[$m]:-}"
  [ -n "$f" ] || { echo "truth-initramfs.sh: $rel: module $m not in $(basename "$mdeb")" >&2; return 1; }
  deps=$(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' ')
  for d in $deps; do add "$d"; done
  cp "$f" "$mods/$m.ko"
  order+=("$m")
}
# libcrc32c finds its algorithm at load time (a soft dependency, not in depends=): load crc32c_generic first.
[ -n "${path[crc32c_generic]:-}" ] && add crc32c_generic
# A module the package does not ship is built into that kernel (7.x has nfnetlink built in).
for m in nfnetlink nf_tables; do
  if [ -n "${path[$m]:-}" ]; then add "$m"; else echo "truth-initramfs.sh: $rel: no $m.ko (built in)" >&2; fi
done
printf '%s\n' "${order[@]}" > "$root/modules.order"
rm -rf "$tmp"

if [ -n "$images" ]; then
  mkdir -p "$root/in/images"
  cp "$images"/*.img "$root/in/images/"
fi
if [ -n "$extra" ]; then
  mkdir -p "$root$(dirname "${extra#*:}")"
  install -m 0755 "${extra%%:*}" "$root${extra#*:}"
  echo "$outfile" > "$root/in/outfile"
fi
mkdir -p "$(dirname "$out")"
( cd "$root" && find . | LC_ALL=C sort | "$bb" cpio -o -H newc 2>/dev/null ) | gzip -n -1 > "$out.tmp"
mv "$out.tmp" "$out"
echo "truth-initramfs: $out ($(stat -c %s "$out") bytes; modules: ${order[*]})"
