# common.sh — sourced by build.sh and build-strongswan.sh: the cache directory, a log prefix, a
# lock so that two test processes never build the same part at once, and the Debian packages a
# part needs (installed unless KVM_SKIP_APT=1).
#
# Before sourcing, set NAME (the script's name for log lines).

CACHE=${KVM_CACHE:-/var/cache/ipsec-wasm-kernel-vm}
mkdir -p "$CACHE"
log() { echo "$NAME: $*" >&2; }

# lock FILE: holds $CACHE/FILE on fd 9 for the rest of the script; another builder waits (600 s).
lock() {
	exec 9>"$CACHE/$1"
	flock -w 600 9 || { log "cannot lock $CACHE/$1"; exit 1; }
}

# need_packages PKG...: installs the ones that are missing (or fails with KVM_SKIP_APT=1).
need_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "${KVM_SKIP_APT:-0}" = 1 ] && { log "missing Debian packages: ${missing[*]}"; exit 1; }
	log "installing: ${missing[*]}"
	apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
}
