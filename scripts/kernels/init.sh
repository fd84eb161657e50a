#!/bin/busybox sh
# /init of the layout initramfs: mount proc/sys/dev, silence the kernel on the console, run the probes.
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev 2>/dev/null
echo 1 > /proc/sys/kernel/printk
echo "==VK-UNAME $(/bin/busybox uname -r)=="
for p in /probe64 /probe32 /probex32; do
  [ -x "$p" ] && "$p"
done
echo "==VK-DONE=="
/bin/busybox poweroff -f
