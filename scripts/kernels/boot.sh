#!/usr/bin/env bash
# Boots one pinned kernel under qemu (TCG; KVM does not work on these machines) with the probe initramfs
# and records what the probe saw: OUT/<abi>.maps (verbatim /proc/self/maps) and OUT/layout.json
# (vvar/vvar_vclock/vdso pages and order, and the runtime-vs-carved vDSO comparison outside
# .altinstructions patch sites). Runtime dumps are kept in the cache only (they depend on the CPU model).
#   scripts/kernels/boot.sh DEB RELEASE INITRD CARVED_DIR OUT_DIR VDSOKIT
set -euo pipefail
deb="$1"; rel="$2"; initrd="$3"; carved="$4"; out="$5"; vdsokit="$6"
kcache="$(dirname "$initrd")"
qemu=${QEMU:-qemu-system-x86_64}
timeout_s=${BOOT_TIMEOUT:-180}
work="$kcache/boot/$rel"
rm -rf "$work" && mkdir -p "$work/obs"
vmlinuz="$kcache/vmlinuz/$rel"
if [ ! -f "$vmlinuz" ]; then
  mkdir -p "$kcache/vmlinuz"
  "$vdsokit" kernel vmlinuz "$deb" -o "$vmlinuz" >/dev/null
fi
# Under TCG on a busy host the kernel's IO-APIC timer check can fail ("IO-APIC + timer doesn't work");
# a retry adds no_timer_check (it only skips that check) and is recorded in layout.json.
append="console=ttyS0 panic=-1 syscall.x32=y"
start=$(date +%s.%N)
for attempt in 1 2 3; do
  timeout "$timeout_s" "$qemu" -accel tcg -cpu max -m 512 -smp 1 -nographic -no-reboot \
    -kernel "$vmlinuz" -initrd "$initrd" -append "$append" </dev/null > "$work/serial.log" 2>&1 || true
  tr -d '\r' < "$work/serial.log" > "$work/serial.txt"
  grep -q '^==VK-DONE==' "$work/serial.txt" && break
  echo "boot.sh: $rel: attempt $attempt did not finish (see $work/serial.log)" >&2
  case "$append" in *no_timer_check*) ;; *) append="$append no_timer_check" ;; esac
done
secs=$(echo "$(date +%s.%N) - $start" | bc)
grep -q '^==VK-DONE==' "$work/serial.txt" || { echo "boot.sh: $rel: probe did not finish (see $work/serial.log)" >&2; exit 1; }
uname=$(sed -n 's/^==VK-UNAME \(.*\)==$/\1/p' "$work/serial.txt")
# Split the console output into per-ABI maps and base64 vDSO dumps.
awk -v dir="$work/obs" '
  /^==VK-MAPS [a-z0-9_]+==$/ { abi=$2; sub(/==$/,"",abi); f=dir "/" abi ".maps"; next }
  /^==VK-VDSO / { abi=$2; f=dir "/" abi ".b64"; next }
  /^==VK-END==$/ { f=""; next }
  f != "" { print > f }
' "$work/serial.txt"
for b in "$work"/obs/*.b64; do
  [ -e "$b" ] || continue
  base64 -d "$b" > "${b%.b64}.vdso"
done
grep -h '^==VK-ERROR' "$work/serial.txt" >&2 || true
mkdir -p "$out"
for m in "$work"/obs/*.maps; do cp "$m" "$out/"; done
"$vdsokit" kernel layout --observed "$work/obs" --carved "$carved" -o "$out/layout.json" \
  --meta release="$rel" --meta uname="$uname" --meta append="$append" \
  --meta source="observed: $("$qemu" --version | head -1 | sed 's/ (.*//'), -accel tcg -cpu max, busybox+probe initramfs"
echo "layout $rel: $(grep -o '"equal_outside_patch_sites": [a-z]*' "$out/layout.json" | tail -1) (${secs%.*}s)"
