#!/bin/sh
# /init of the kernel peer's initramfs (build.sh copies it there; runs as PID 1 in the guest).
# Loads the modules in /etc/kvm/insmod.list, configures lo + eth0, mounts the optional 9p share,
# runs /kvm/script with the arguments in /kvm/args (both from the per-run cpio that run.sh
# appends), prints "@@KVM-EXIT@@ <rc>" and powers off.
# Adapted from the shared kernel-vm recipe (see SOURCE.md): our address plan, QEMU only.
export PATH=/bin HOME=/root TERM=dumb
umask 022
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
# on-demand module loading (crypto templates, xfrm types) via busybox modprobe
echo /bin/modprobe > /proc/sys/kernel/modprobe

verbose=0
grep -q 'kvm.verbose=1' /proc/cmdline && verbose=1

# Modules in dependency order (computed on the host with kmod).
while read -r ko; do
	[ -n "$ko" ] || continue
	out=$(insmod "$ko" 2>&1) || case "$out" in
		*"File exists"*) ;;
		*) [ $verbose = 1 ] && echo "kvm-init: insmod $ko: $out" ;;
	esac
done < /etc/kvm/insmod.list

hostname kernel-peer
ip link set lo up
# QEMU user networking (run.sh): guest 198.18.0.15/24, QEMU's virtual host 198.18.0.2 = the
# host's 127.0.0.1. No default route on purpose: the guest can reach nothing but host loopback.
if [ -e /sys/class/net/eth0 ]; then
	ip link set eth0 up
	ip addr add 198.18.0.15/24 dev eth0
	ip route add blackhole 198.18.0.3/32   # QEMU's DNS forwarder: never used
fi

# Optional share (run.sh KVM_SHARE=DIR) -> /mnt/host
mkdir -p /mnt/host
for t in /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag; do
	[ -e "$t" ] || continue
	if [ "$(tr -d '\0' < "$t")" = hostshare ]; then
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 hostshare /mnt/host
	fi
done

rc=127
if [ -f /kvm/script ]; then
	cd /tmp
	if [ -f /kvm/args ]; then
		eval "set -- $(cat /kvm/args)"
	else
		set --
	fi
	/bin/sh /kvm/script "$@" </dev/null
	rc=$?
	cd /
else
	echo "kvm-init: no /kvm/script given"
fi
sync
echo "@@KVM-EXIT@@ $rc"
umount /mnt/host 2>/dev/null
poweroff -f
sleep 5
