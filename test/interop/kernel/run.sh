#!/bin/bash
# run.sh SCRIPT [ARGS...] — boot the Debian kernel prepared by build.sh under QEMU, run SCRIPT with
# /bin/sh inside the guest (root, cwd /tmp), stream its output, power off, exit with SCRIPT's status.
# Adapted from the shared kernel-vm recipe (see SOURCE.md): QEMU only, our own address plan.
#
# Exit status: the script's own, 124 if the VM hit KVM_TIMEOUT, 125 if the VM died without
# reporting one (kernel panic, QEMU error), 2 for a usage or cache problem.
#
# Network (QEMU user mode, nothing touches the host's interfaces): the guest is 198.18.0.15/24 on
# eth0 and QEMU's virtual host 198.18.0.2 is the host's 127.0.0.1. With KVM_UDP_FWD=F, host
# 127.0.0.1:F is forwarded to the guest's 198.18.0.15:4500 (its ESP-in-UDP socket); what the guest
# sends to 198.18.0.2:P arrives at the host's 127.0.0.1:P from 127.0.0.1:F, like a NAT-T peer.
#
# Env (all optional):
#   KVM_CACHE    dir with vmlinuz + initramfs.cpio (default /var/cache/ipsec-wasm-kernel-vm)
#   KVM_SMP      vCPUs (default 1)            KVM_MEM   guest RAM in MiB (default 512)
#   KVM_TIMEOUT  wall-clock limit in seconds for the whole VM (default 300)
#   KVM_UDP_FWD  host UDP port forwarded to the guest's 4500 (see above)
#   KVM_HOSTFWD  more QEMU hostfwd rules, comma-separated, e.g.
#                udp:198.18.2.2:500-198.18.0.15:500 (run.sh inside a network namespace binds there)
#   KVM_EXTRA_CPIO  cpio archives appended to the image, space-separated (e.g. the strongSwan
#                part that build-strongswan.sh makes)
#   KVM_SHARE    host directory mounted read-write at /mnt/host in the guest (9p)
#   KVM_VERBOSE  1 = show the kernel log and module load errors
#   KVM_ACCEL    auto (default) | kvm | tcg. auto = kvm only with a real VMX/SVM KVM (kvm_intel or
#                kvm_amd loaded); a nested /dev/kvm that cannot boot a stock kernel gets TCG.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${KVM_CACHE:-/var/cache/ipsec-wasm-kernel-vm}
SMP=${KVM_SMP:-1}
MEM=${KVM_MEM:-512}
TMO=${KVM_TIMEOUT:-300}

[ $# -ge 1 ] || { echo "usage: $0 SCRIPT [ARGS...]" >&2; exit 2; }
SCRIPT=$1; shift
[ -f "$SCRIPT" ] || { echo "run.sh: no such script: $SCRIPT" >&2; exit 2; }
if [ ! -f "$CACHE/vmlinuz" ] || [ ! -f "$CACHE/initramfs.cpio" ]; then
	echo "run.sh: $CACHE not built; run $HERE/build.sh first" >&2; exit 2
fi
command -v qemu-system-x86_64 >/dev/null || { echo "run.sh: qemu-system-x86_64 missing (Debian package qemu-system-x86; build.sh installs it)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/ipsec-wasm-kvm.XXXXXX)
QPID=
cleanup() {
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then kill "$QPID" 2>/dev/null || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Per-run cpio (/kvm/script, /kvm/args) appended to the base initramfs.
mkdir -p "$TMP/extra/kvm"
cp "$SCRIPT" "$TMP/extra/kvm/script"
args=
for a in "$@"; do args="$args '$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'"; done
printf '%s\n' "$args" > "$TMP/extra/kvm/args"
(cd "$TMP/extra" && find kvm | cpio -o -H newc --quiet) > "$TMP/extra.cpio"
for x in ${KVM_EXTRA_CPIO:-}; do
	[ -f "$x" ] || { echo "run.sh: KVM_EXTRA_CPIO: no such file: $x" >&2; exit 2; }
done
# shellcheck disable=SC2086 # a space-separated list of paths
cat "$CACHE/initramfs.cpio" ${KVM_EXTRA_CPIO:-} "$TMP/extra.cpio" > "$TMP/initrd.cpio"

APPEND="console=ttyS0 panic=-1 rdinit=/init"
if [ "${KVM_VERBOSE:-0}" = 1 ]; then APPEND="$APPEND kvm.verbose=1"; else APPEND="$APPEND quiet loglevel=1"; fi

ACCEL=${KVM_ACCEL:-auto}
if [ "$ACCEL" = auto ]; then
	if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then ACCEL=kvm; else ACCEL=tcg; fi
fi
case "$ACCEL" in
	kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
	# -cpu max: AES-NI, PCLMULQDQ and AVX2 are emulated, so the guest uses its x86 crypto drivers
	tcg) ACCEL_ARGS=(-accel tcg,thread=multi,tb-size=256 -cpu max) ;;
	*) echo "run.sh: KVM_ACCEL must be auto, kvm or tcg" >&2; exit 2 ;;
esac
echo "run.sh: accel=$ACCEL smp=$SMP mem=${MEM}M timeout=${TMO}s" >&2

fwd=
[ -n "${KVM_UDP_FWD:-}" ] && fwd=",hostfwd=udp:127.0.0.1:${KVM_UDP_FWD}-198.18.0.15:4500"
if [ -n "${KVM_HOSTFWD:-}" ]; then
	IFS=, read -ra rules <<<"$KVM_HOSTFWD"
	for r in "${rules[@]}"; do fwd="$fwd,hostfwd=$r"; done
fi
# restrict=off: with restrict=on QEMU drops every guest->host datagram, even replies on a hostfwd
# flow. The guest still reaches only 198.18.0.2 (= host loopback): it has no default route and
# its init blackholes .3 (QEMU's DNS forwarder).
QARGS=("${ACCEL_ARGS[@]}" -smp "$SMP" -m "$MEM" -M q35 -nodefaults -no-user-config
	-display none -no-reboot -kernel "$CACHE/vmlinuz" -initrd "$TMP/initrd.cpio"
	-append "$APPEND" -chardev stdio,id=con0,signal=off -serial chardev:con0
	-netdev "user,id=n0,net=198.18.0.0/24,host=198.18.0.2,dhcpstart=198.18.0.15,ipv6=off,restrict=off$fwd"
	-device virtio-net-pci,netdev=n0,romfile=)
if [ -n "${KVM_SHARE:-}" ]; then
	QARGS+=(-virtfs "local,path=$KVM_SHARE,mount_tag=hostshare,security_model=none,id=fs0")
fi

# QEMU and the console filter both in the background: bash runs a signal trap only once the
# foreground command ends, and `wait` is the one place it is interrupted at once, so a SIGTERM
# to run.sh stops QEMU (through the EXIT trap) without waiting for the guest.
mkfifo "$TMP/out"
timeout -k 5 "$TMO" qemu-system-x86_64 "${QARGS[@]}" </dev/null >"$TMP/out" 2>&1 &
QPID=$!
# Strip the console's CRs, keep a log, hide the exit marker.
{ sed -u 's/\r$//' < "$TMP/out" | tee "$TMP/console.log" | grep --line-buffered -Ev '^@@KVM-EXIT@@ |^(\[ *[0-9.]+\] )?reboot: Power down$' || true; } &
FPID=$!
set +e
wait "$QPID"; qrc=$?
wait "$FPID"
set -e
QPID=
rc=$(sed -n 's/^@@KVM-EXIT@@ \([0-9]*\).*/\1/p' "$TMP/console.log" | tail -1)
if [ -n "$rc" ]; then exit "$rc"; fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then echo "run.sh: VM timed out after ${TMO}s" >&2; exit 124; fi
echo "run.sh: VM ended without an exit status (qemu rc=$qrc)" >&2
exit 125
