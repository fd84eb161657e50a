#!/bin/busybox sh
# /init of the truth initramfs (scripts/kernels/truth-initramfs.sh): a qemu guest that either dumps
# vdsoprobe with Debian's CRIU 4.2.1 (vk.mode=dump) or restores the images under /in (vk.mode=restore),
# then sends /var/tmp/vk as a base64 tar on the second serial port and powers off.
# Facts (modules for CRIU's nftables probe, rseq on 5.10, root mode, CAP_SYS_RESOURCE): real-restores.md §2, §5.
/bin/busybox mkdir -p /proc /sys /dev /tmp /var/tmp /run /usr/bin /usr/sbin /sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo 1 > /proc/sys/kernel/printk
chmod 0755 /
# CRIU's kerndat probes TCP repair on a loopback connection.
ifconfig lo 127.0.0.1 up
chmod 1777 /tmp /var/tmp
out=/var/tmp/vk
mkdir -p "$out"
uname -r > "$out/uname"
mode=$(sed -n 's/.*vk\.mode=\([a-z]*\).*/\1/p' /proc/cmdline)
# nfnetlink + nf_tables (and what they depend on) so that CRIU's kerndat nftables probe does not exit.
for m in $(cat /modules.order 2>/dev/null); do
  insmod "/lib/modules/$m.ko" >> "$out/insmod.log" 2>&1 || echo "insmod $m failed" >> "$out/insmod.log"
done
/usr/sbin/criu --version > "$out/criu-version" 2>&1
if [ "$mode" = dump ]; then
  # A high pid, so that a restore in another guest (where low pids belong to kernel threads) finds it free.
  echo 20000 > /proc/sys/kernel/ns_last_pid
  GLIBC_TUNABLES=glibc.pthread.rseq=0 /usr/bin/setpriv --bounding-set -sys_resource -- \
    /usr/local/bin/vdsoprobe /var/tmp/vdsoprobe.out 50 < /dev/null > /dev/null 2>&1 &
  pid=$!
  sleep 1
  mkdir -p "$out/images"
  /usr/sbin/criu dump -t "$pid" -D "$out/images" -v4 -o "$out/dump.log"
  echo $? > "$out/dump.rc"
  cp /var/tmp/vdsoprobe.out "$out/probe-dumped.out"
elif [ "$mode" = restore ]; then
  # The restored program's output file: vdsoprobe's, or the one /in/outfile names (e.g. an xk fixture's).
  of=/var/tmp/vdsoprobe.out
  [ -f /in/outfile ] && of=$(cat /in/outfile)
  : > "$of"
  /usr/sbin/criu restore -D /in/images -d -v4 -o "$out/restore.log"
  echo $? > "$out/restore.rc"
  sleep 2
  cp "$of" "$out/probe-restored.out"
fi
echo "==VK-TAR-BEGIN==" > /dev/ttyS1
tar -C /var/tmp -c vk | base64 > /dev/ttyS1
echo "==VK-TAR-END==" > /dev/ttyS1
echo "==VK-DONE=="
poweroff -f
