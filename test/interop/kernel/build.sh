#!/bin/bash
# build.sh — prepare the Linux kernel peer for test/interop/kernel-seed000.test.ts: Debian's own
# kernel (its ESP/XFRM/crypto modules included) plus a busybox initramfs that run.sh boots under
# QEMU. Idempotent and safe to re-run: installs missing Debian packages, downloads and extracts
# the kernel package once, rebuilds the small initramfs when its inputs changed.
# Adapted from the shared kernel-vm recipe (see SOURCE.md): QEMU only, no UML, no iperf3.
#
# Env:
#   KVM_CACHE        cache dir (default /var/cache/ipsec-wasm-kernel-vm); nothing goes into the repo
#   KVM_KERNEL_PKG   kernel package (default: what linux-image-amd64 depends on)
#   KVM_SKIP_APT=1   never call apt-get (fail if something is missing)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAME=build.sh
# shellcheck source=common.sh
. "$HERE/common.sh"

# Two test processes may find the cache stale at once: one builds, the other waits.
lock .lock

# ---------------------------------------------------------------- 1. packages
need_packages qemu-system-x86 busybox-static dash iproute2 kmod cpio gcc libc6-dev coreutils util-linux

# ---------------------------------------------------------------- 2. kernel package
KPKG=${KVM_KERNEL_PKG:-}
resolve_kpkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
if [ -z "$KPKG" ]; then
	KPKG=$(resolve_kpkg)
	if [ -z "$KPKG" ] && [ "${KVM_SKIP_APT:-0}" != 1 ]; then
		apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
		KPKG=$(resolve_kpkg)
	fi
fi
[ -n "$KPKG" ] || { log "cannot resolve linux-image-amd64 (apt-get update?)"; exit 1; }
KVER=${KPKG#linux-image-}
mkdir -p "$CACHE/deb"
DEB=$(ls "$CACHE"/deb/"${KPKG}"_*_amd64.deb 2>/dev/null | tail -1 || true)
if [ -z "$DEB" ]; then
	[ "${KVM_SKIP_APT:-0}" = 1 ] && { log "kernel package $KPKG not downloaded"; exit 1; }
	log "downloading $KPKG"
	(cd "$CACHE/deb" && apt-get download -q "$KPKG" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
	DEB=$(ls "$CACHE"/deb/"${KPKG}"_*_amd64.deb | tail -1)
fi
KROOT=$CACHE/kroot-$KVER
if [ ! -f "$KROOT/.extracted" ]; then
	log "extracting $DEB"
	rm -rf "$KROOT"; mkdir -p "$KROOT"
	dpkg-deb -x "$DEB" "$KROOT"
	depmod -b "$KROOT" "$KVER"
	touch "$KROOT/.extracted"
fi
cp -f "$KROOT/boot/vmlinuz-$KVER" "$CACHE/vmlinuz"
echo "$KVER" > "$CACHE/kver"

# ---------------------------------------------------------------- 3. initramfs (skipped when current)
# The stamp covers every input that ends up in the image; test/helpers/kernel-vm.ts computes the
# same hash to tell a current cache from a stale one.
STAMP=$(cd "$HERE" && cat build.sh guest-init.sh espudp.c udpio.c | sha256sum | cut -c1-64)
if [ -f "$CACHE/initramfs.cpio" ] && [ "$(cat "$CACHE/stamp" 2>/dev/null)" = "$STAMP $KVER" ]; then
	log "ok (current): kernel $KVER, $CACHE/initramfs.cpio"
	exit 0
fi

for h in espudp udpio; do
	log "compiling $h (static)"
	gcc -O2 -Wall -static -o "$CACHE/$h" "$HERE/$h.c"
done

MD=$KROOT/lib/modules/$KVER
STAGE=$CACHE/initramfs.stage
rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,dev,proc,sys,tmp,run,root,mnt,etc/kvm,kvm,lib/x86_64-linux-gnu,lib64,usr,var}
ln -s bin "$STAGE/sbin"; ln -s ../bin "$STAGE/usr/bin"; ln -s ../bin "$STAGE/usr/sbin"
ln -s ../lib "$STAGE/usr/lib"; ln -s ../tmp "$STAGE/var/tmp"; ln -s ../run "$STAGE/var/run"
cp /bin/busybox "$STAGE/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$STAGE/bin/$a"; done
# Real tools override busybox applets of the same name. /bin/sh is dash and timeout is coreutils:
# Debian's busybox prefers its own applets, so under busybox sh (or busybox timeout) `ip` would be
# busybox's applet, which knows no `ip xfrm`.
REAL_BINS=(/usr/bin/dash /usr/sbin/ip /usr/bin/ss /usr/bin/nstat /usr/bin/timeout)
for b in "${REAL_BINS[@]}"; do
	[ -x "$b" ] || { log "missing $b"; exit 1; }
	cp --remove-destination "$b" "$STAGE/bin/"
	ldd "$b" | awk '/=> \// {print $3} /^\t\/lib64/ {print $1}' | while read -r lib; do
		case "$lib" in
			/lib64/*) cp -L "$lib" "$STAGE/lib64/" ;;
			*) cp -L "$lib" "$STAGE/lib/x86_64-linux-gnu/" ;;
		esac
	done
done
ln -sf dash "$STAGE/bin/sh"
cp -L /lib64/ld-linux-x86-64.so.2 "$STAGE/lib64/"
cp "$CACHE/espudp" "$CACHE/udpio" "$STAGE/bin/"
cp "$HERE/guest-init.sh" "$STAGE/init"; chmod 755 "$STAGE/init"
echo 'root:x:0:0:root:/root:/bin/sh' > "$STAGE/etc/passwd"
echo 'root:x:0:' > "$STAGE/etc/group"
printf '127.0.0.1 localhost\n' > "$STAGE/etc/hosts"
mkdir -p "$STAGE/etc/iproute2"
[ -d /etc/iproute2 ] && cp -r /etc/iproute2/. "$STAGE/etc/iproute2/" 2>/dev/null || true

# Modules: the boot list is loaded in dependency order by /init; the crypto/xfrm/ipv4 pool is only
# copied, so the kernel can load e.g. a template it needs on demand (busybox modprobe).
copy_closure() { # $1 = module name; prints insmod paths (guest) in order
	modprobe -d "$KROOT" -S "$KVER" --show-depends "$1" 2>/dev/null | awk '$1=="insmod" {print $2}' | while read -r p; do
		rel=${p#"$KROOT"}
		mkdir -p "$STAGE$(dirname "$rel")"
		[ -f "$STAGE$rel" ] || cp "$p" "$STAGE$rel"
		echo "$rel"
	done
}
BOOT_MODS=(virtio_pci virtio_net net_failover 9pnet_virtio 9p
	xfrm_user xfrm_algo esp4 esp4_offload
	aesni_intel ghash_clmulni_intel gcm ctr cbc authenc authencesn echainiv seqiv hmac sha256_ssse3)
: > "$STAGE/etc/kvm/insmod.list"
for m in "${BOOT_MODS[@]}"; do
	if ! modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" >/dev/null 2>&1; then
		log "note: module $m not found for $KVER (skipped)"; continue
	fi
	copy_closure "$m" >> "$STAGE/etc/kvm/insmod.list"
done
awk '!seen[$0]++' "$STAGE/etc/kvm/insmod.list" > "$STAGE/etc/kvm/insmod.list.tmp"
mv "$STAGE/etc/kvm/insmod.list.tmp" "$STAGE/etc/kvm/insmod.list"
for d in kernel/crypto kernel/arch/x86/crypto kernel/lib/crypto kernel/net/xfrm; do
	[ -d "$MD/$d" ] || continue
	while IFS= read -r f; do copy_closure "$(basename "$f" .ko)" >/dev/null; done < <(find "$MD/$d" -name '*.ko')
done
for f in "$MD"/kernel/net/ipv4/*.ko; do [ -f "$f" ] && copy_closure "$(basename "$f" .ko)" >/dev/null; done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -f "$MD/$f" ] && cp "$MD/$f" "$STAGE/lib/modules/$KVER/"
done
depmod -b "$STAGE" "$KVER"
echo "$KVER" > "$STAGE/etc/kvm/kver"
(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) > "$CACHE/initramfs.cpio.tmp"
mv "$CACHE/initramfs.cpio.tmp" "$CACHE/initramfs.cpio"
rm -rf "$STAGE"
echo "$STAMP $KVER" > "$CACHE/stamp"
log "ok: kernel $KVER: $CACHE/vmlinuz ($(du -h "$CACHE/vmlinuz" | cut -f1)), $CACHE/initramfs.cpio ($(du -h "$CACHE/initramfs.cpio" | cut -f1))"
