#!/usr/bin/env bash
# Builds the layout initramfs: busybox-static, /init (init.sh) and the probe built static for x86_64,
# i386 (-m32) and x32 (-mx32) when the toolchain can (gcc-multilib). Output: a gzip'd newc cpio.
#   scripts/kernels/initramfs.sh OUT.cpio.gz
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"
bb=/bin/busybox
[ -x "$bb" ] && "$bb" --list | grep -qx cpio || { echo "initramfs.sh: needs busybox-static (apt-get install busybox-static)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev"
cp "$bb" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
install -m 0755 "$here/init.sh" "$root/init"
cc=${CC:-gcc}
"$cc" -static -O2 -o "$root/probe64" "$here/probe.c"
"$cc" -m32 -static -O2 -o "$root/probe32" "$here/probe.c" 2>/dev/null || echo "initramfs.sh: no i386 probe (gcc-multilib missing)" >&2
"$cc" -mx32 -static -O2 -o "$root/probex32" "$here/probe.c" 2>/dev/null || echo "initramfs.sh: no x32 probe (gcc-multilib missing)" >&2
mkdir -p "$(dirname "$out")"
( cd "$root" && find . | LC_ALL=C sort | "$bb" cpio -o -H newc 2>/dev/null ) | gzip -n -9 > "$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs: $out ($(stat -c %s "$out") bytes; probes: $(cd "$root" && ls probe*))"
