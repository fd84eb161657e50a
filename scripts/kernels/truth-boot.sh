#!/usr/bin/env bash
# Boots one truth guest under qemu (TCG; KVM does not work here) and unpacks what it sent back.
#   scripts/kernels/truth-boot.sh VMLINUZ INITRD MODE WORK      MODE: dump | restore
# WORK/console.log: the guest console; WORK/vk/: the guest's /var/tmp/vk (uname, criu-version, insmod.log,
# dump.rc + images/ + dump.log, or restore.rc + restore.log + probe-restored.out).
set -euo pipefail
vmlinuz="$1"; initrd="$2"; mode="$3"; work="$4"
qemu=${QEMU:-qemu-system-x86_64}
timeout_s=${BOOT_TIMEOUT:-240}
rm -rf "$work" && mkdir -p "$work"
append="console=ttyS0 panic=-1 vk.mode=$mode"
for attempt in 1 2; do
  timeout "$timeout_s" "$qemu" -accel tcg -cpu max,la57=off -m 1024 -smp 1 -no-reboot -display none \
    -monitor none -kernel "$vmlinuz" -initrd "$initrd" -append "$append" \
    -serial "file:$work/console.log" -serial "file:$work/data.log" </dev/null >"$work/qemu.log" 2>&1 || true
  tr -d '\r' < "$work/data.log" > "$work/data.txt"
  grep -q '^==VK-TAR-END==' "$work/data.txt" && break
  echo "truth-boot.sh: $(basename "$vmlinuz"): attempt $attempt did not finish (see $work/console.log)" >&2
  # Under TCG on a busy host the IO-APIC timer check can fail; no_timer_check only skips it (boot.sh).
  case "$append" in *no_timer_check*) ;; *) append="$append no_timer_check" ;; esac
done
grep -q '^==VK-TAR-END==' "$work/data.txt" || { echo "truth-boot.sh: no result from the guest" >&2; exit 1; }
sed -n '/^==VK-TAR-BEGIN==$/,/^==VK-TAR-END==$/p' "$work/data.txt" | sed '1d;$d' | base64 -d | tar -x -C "$work"
echo "$append" > "$work/vk/append"
