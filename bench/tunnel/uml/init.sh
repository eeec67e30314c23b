#!/bin/sh
# /init of the bench's UML initramfs (PID 1 in the guest): mounts, loads the modules listed by
# build.sh, runs /bench.sh with the tb.* arguments of the kernel command line, prints
# "@@TB-EXIT <rc>" and powers off. The host (bench/tunnel/kernel.ts) reads the console.
export PATH=/bin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
while read -r ko; do
	[ -n "$ko" ] && { out=$(insmod "$ko" 2>&1) || echo "@@TB-INFO insmod $ko: $out"; }
done </etc/insmod.list
ip link set lo up
algo=none; modes=tcp; t=1
for a in $(cat /proc/cmdline); do
	case "$a" in
	tb.algo=*) algo=${a#tb.algo=} ;;
	tb.modes=*) modes=${a#tb.modes=} ;;
	tb.t=*) t=${a#tb.t=} ;;
	esac
done
cd /tmp
/bin/sh /bench.sh "$algo" "$modes" "$t" </dev/null
echo "@@TB-EXIT $?"
poweroff -f
sleep 5
