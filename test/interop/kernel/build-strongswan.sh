#!/bin/bash
# build-strongswan.sh — the optional strongSwan part of the kernel peer's initramfs, for
# test/interop/kernel-tun.test.ts: the host's charon and swanctl, the few plugins a PSK peer with
# kernel XFRM needs (kernel-netlink: ESP is done by the guest kernel, not by libipsec) and their
# shared libraries (ldd closure), packed as $KVM_CACHE/strongswan.cpio. run.sh appends it to the
# base image (built by build.sh, whose stamp this script leaves alone) when KVM_EXTRA_CPIO names it.
# Idempotent: rebuilt only when this script or the installed strongSwan changed (strongswan.stamp).
#
# Env:
#   KVM_CACHE        cache dir (default /var/cache/ipsec-wasm-kernel-vm)
#   KVM_SKIP_APT=1   never call apt-get (fail if strongSwan is missing)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAME=build-strongswan.sh
# shellcheck source=common.sh
. "$HERE/common.sh"

lock .lock-strongswan
need_packages strongswan-charon strongswan-swanctl libstrongswan libstrongswan-standard-plugins cpio

CHARON=/usr/lib/ipsec/charon
SWANCTL=/usr/sbin/swanctl
PLUGDIR=/usr/lib/ipsec/plugins
# PSK, AES-GCM/CBC + SHA-1/2, X25519; kernel-netlink installs the SAs and policies in the guest's
# XFRM; socket-default holds UDP 500/4500 (and sets UDP_ENCAP_ESPINUDP on 4500); vici for swanctl.
PLUGINS=(random nonce aes sha1 sha2 hmac gcm curve25519 kdf kernel-netlink socket-default vici)

# The stamp: this script and the installed strongSwan version (test/helpers/kernel-vm.ts runs this
# script before every boot that needs the part: a current stamp makes that a no-op).
VER=$(dpkg-query -W -f='${Version}' strongswan-charon)
STAMP="$(sha256sum < "$HERE/build-strongswan.sh" | cut -c1-64) $VER"
if [ -f "$CACHE/strongswan.cpio" ] && [ "$(cat "$CACHE/strongswan.stamp" 2>/dev/null)" = "$STAMP" ]; then
	log "ok (current): strongSwan $VER, $CACHE/strongswan.cpio"
	exit 0
fi

STAGE=$CACHE/strongswan.stage
rm -rf "$STAGE"
# Paths as the base image has them: /usr/lib -> /lib, /usr/sbin -> /bin (symlinks there), so
# charon's RUNPATH /usr/lib/ipsec and its compiled-in plugin dir resolve to /lib/ipsec.
mkdir -p "$STAGE"/{bin,lib/ipsec/plugins,lib/x86_64-linux-gnu}
# swanctl --load-all reads /etc/swanctl/swanctl.conf and warns about each missing credential dir
mkdir -p "$STAGE"/etc/swanctl/{x509,x509ca,x509ocsp,x509aa,x509ac,x509crl,pubkey,private,rsa,ecdsa,bliss,pkcs8,pkcs12}
libs_of() { ldd "$1" | awk '/=> \// {print $3}'; }
copy_libs() {
	local lib
	for lib in $(libs_of "$1"); do
		case "$lib" in
			/usr/lib/ipsec/*) cp -L "$lib" "$STAGE/lib/ipsec/" ;;
			*) cp -L "$lib" "$STAGE/lib/x86_64-linux-gnu/" ;;
		esac
	done
}
for b in "$CHARON" "$SWANCTL"; do
	[ -x "$b" ] || { log "missing $b"; exit 1; }
	copy_libs "$b"
done
cp "$CHARON" "$STAGE/lib/ipsec/charon"
ln -s ../lib/ipsec/charon "$STAGE/bin/charon"
cp "$SWANCTL" "$STAGE/bin/swanctl"
# glibc dlopens libgcc_s for pthread_cancel (charon's and swanctl's thread pools); not in ldd's list
GCC_S=$(ldconfig -p | awk '/libgcc_s\.so\.1 .*x86-64/ {print $NF; exit}')
[ -n "$GCC_S" ] || { log "libgcc_s.so.1 not found (Debian package libgcc-s1)"; exit 1; }
cp -L "$GCC_S" "$STAGE/lib/x86_64-linux-gnu/"
for p in "${PLUGINS[@]}"; do
	f=$PLUGDIR/libstrongswan-$p.so
	[ -f "$f" ] || { log "missing plugin $f"; exit 1; }
	cp "$f" "$STAGE/lib/ipsec/plugins/"
	copy_libs "$f"
done
# The test writes the real strongswan.conf (STRONGSWAN_CONF); this one only keeps a bare `charon`
# from loading plugins that are not in the image.
cat > "$STAGE/etc/strongswan.conf" <<EOF
charon {
  load_modular = no
  load = ${PLUGINS[*]}
}
swanctl {
  load = random
}
EOF
(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) > "$CACHE/strongswan.cpio.tmp"
mv "$CACHE/strongswan.cpio.tmp" "$CACHE/strongswan.cpio"
rm -rf "$STAGE"
echo "$STAMP" > "$CACHE/strongswan.stamp"
log "ok: strongSwan $VER: $CACHE/strongswan.cpio ($(du -h "$CACHE/strongswan.cpio" | cut -f1))"
