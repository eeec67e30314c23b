#!/usr/bin/env bash
# build.sh — the initramfs for the "Linux kernel ESP" rows: Debian's user-mode Linux (linux.uml, a
# kernel that runs as an ordinary host process at native speed, 1 CPU, generic C crypto only: no
# AES-NI in UML) with busybox, iproute2, iperf3 and the ESP/veth/crypto modules. Written from the
# tested recipe of the shared kernel-vm folder (its UML backend), so the bench needs nothing outside
# the repo at run time. Idempotent: rebuilds only when an input changed (stamp).
#   UML_CACHE (default /var/cache/ipsec-wasm-bench-uml)   UML_SKIP_APT=1: never call apt-get
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${UML_CACHE:-/var/cache/ipsec-wasm-bench-uml}
log() { echo "uml/build.sh: $*" >&2; }

PKGS=(user-mode-linux busybox-static iperf3 iproute2 dash coreutils kmod cpio)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "${UML_SKIP_APT:-0}" = 1 ] && { log "missing Debian packages: ${missing[*]}"; exit 1; }
	log "installing: ${missing[*]}"
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
UML=/usr/bin/linux.uml
KVER=$(ls /usr/lib/uml/modules | sort -V | tail -1)
[ -n "$KVER" ] || { log "no modules under /usr/lib/uml/modules"; exit 1; }

stamp=$( (cat "$HERE/build.sh" "$HERE/init.sh" "$HERE/guest.sh"; echo "$KVER"; ls -l --time-style=+%s "$UML" /usr/bin/iperf3 /bin/busybox) | sha256sum | cut -c1-16)
if [ -f "$CACHE/initramfs.cpio" ] && [ "$(cat "$CACHE/stamp" 2>/dev/null)" = "$stamp" ]; then exit 0; fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"; flock -w 120 9   # two builds at once would race on the stage dir
STAGE=$(mktemp -d "$CACHE/stage.XXXXXX")
KROOT=$(mktemp -d "$CACHE/kroot.XXXXXX")
trap 'rm -rf "$STAGE" "$KROOT"' EXIT
mkdir -p "$STAGE"/{bin,dev,proc,sys,tmp,run,root,etc,lib/x86_64-linux-gnu,lib64,usr,var}
ln -s bin "$STAGE/sbin"; ln -s ../bin "$STAGE/usr/bin"; ln -s ../bin "$STAGE/usr/sbin"
ln -s ../lib "$STAGE/usr/lib"; ln -s ../tmp "$STAGE/var/tmp"; ln -s ../run "$STAGE/var/run"
cp /bin/busybox "$STAGE/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$STAGE/bin/$a"; done
# Real tools replace busybox applets of the same name: busybox prefers its own applets, so under
# busybox sh even /bin/ip would be busybox's ip. dash is /bin/sh.
for b in /usr/bin/dash /usr/sbin/ip /usr/bin/iperf3 /usr/bin/timeout; do
	cp --remove-destination "$b" "$STAGE/bin/"
	ldd "$b" | awk '/=> \// {print $3} /^\t\/lib64/ {print $1}' | while read -r lib; do
		case "$lib" in /lib64/*) cp -L "$lib" "$STAGE/lib64/" ;; *) cp -L "$lib" "$STAGE/lib/x86_64-linux-gnu/" ;; esac
	done
done
ln -sf dash "$STAGE/bin/sh"
cp "$HERE/init.sh" "$STAGE/init"; cp "$HERE/guest.sh" "$STAGE/bench.sh"; chmod 755 "$STAGE/init" "$STAGE/bench.sh"
echo 'root:x:0:0:root:/root:/bin/sh' >"$STAGE/etc/passwd"; echo 'root:x:0:' >"$STAGE/etc/group"
printf '127.0.0.1 localhost\n' >"$STAGE/etc/hosts"

# Modules in dependency order (kmod on the host computes it); the guest insmods the list.
mkdir -p "$KROOT/lib"; ln -s /usr/lib/uml/modules "$KROOT/lib/modules"
: >"$STAGE/etc/insmod.list"
# seqiv/echainiv seed from "stdrng" (drbg over hmac(sha512)): without drbg, hmac and sha512 the ESP SA
# cannot be built ("Kernel was unable to initialize cryptographic operations")
for m in hmac sha512_generic drbg jitterentropy_rng veth xfrm_user esp4 gcm ghash-generic ctr seqiv echainiv chacha20poly1305 chacha_generic poly1305_generic; do
	modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" {print $2}' | while read -r p; do
		rel=/lib/modules/$KVER/${p#*/lib/modules/"$KVER"/}
		mkdir -p "$STAGE$(dirname "$rel")"; cp -L "$p" "$STAGE$rel"; echo "$rel"
	done >>"$STAGE/etc/insmod.list"
done
awk '!seen[$0]++' "$STAGE/etc/insmod.list" >"$STAGE/etc/insmod.tmp"; mv "$STAGE/etc/insmod.tmp" "$STAGE/etc/insmod.list"
(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$CACHE/initramfs.cpio.tmp"
mv "$CACHE/initramfs.cpio.tmp" "$CACHE/initramfs.cpio"
echo "$stamp" >"$CACHE/stamp"; echo "$KVER" >"$CACHE/kver"
log "ok: $CACHE/initramfs.cpio ($(du -h "$CACHE/initramfs.cpio" | cut -f1)) for UML $KVER"
