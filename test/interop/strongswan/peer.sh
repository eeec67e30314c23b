#!/usr/bin/env bash
# peer.sh - a real strongSwan IKEv2/ESP peer in its own network namespace, for
# the SDK's IKEv2 interop tests (test/helpers/strongswan.ts drives it).
#
#   peer.sh start|stop|restart|status|logs|... (see usage below)
#
# Written from the tested recipe in ../shared/interop/strongswan-peer.sh (same
# SWAN_* settings and topology), so that a clean clone of this repository needs
# nothing outside it at run time.  Added here: certificate authentication
# (SWAN_AUTH=pubkey with SWAN_CERT_DIR), SWAN_INITIATE_ON_START.
#
# charon 5.9.x (Debian) runs with the kernel-libipsec plugin: ESP is done in
# userspace (TUN device ipsec0 in the namespace) and always carried in UDP
# (RFC 3948) on port 4500, so nothing depends on kernel ESP support (this
# kernel has XFRM but no ESP).  Nothing under /etc is touched: each instance
# keeps strongswan.conf, swanctl.conf, credentials, the vici socket, the pid
# file, logs and key tables in $SWAN_DIR.  See ../README.md (strongSwan).
set -euo pipefail

PROG=${0##*/}
CHARON=${SWAN_CHARON:-/usr/lib/ipsec/charon}

# ---------------------------------------------------------------- settings
NS=${SWAN_NS:-swan}
LINK=${SWAN_LINK:-veth}                    # veth | none
# Where the caller (the test) lives: a namespace we create (default), or "."
# for the namespace this script runs in (refused if the subnet is in use there)
CALLER_NS=${SWAN_CALLER_NS:-${NS}-client}
[ "$CALLER_NS" != . ] || CALLER_NS=""
DIR=${SWAN_DIR:-/tmp/ipsec-wasm-swan/$NS}
CALLER_IF=${SWAN_CALLER_IF:-${NS:0:12}-c}
PEER_IF=${SWAN_PEER_IF:-${NS:0:12}-p}
LOCAL_ADDR=${SWAN_LOCAL_ADDR:-198.18.0.2}    # strongSwan's outer address
REMOTE_ADDR=${SWAN_REMOTE_ADDR:-198.18.0.1}  # caller's outer address
PREFIX=${SWAN_PREFIX:-24}
MTU=${SWAN_MTU:-1500}
LOCAL_INNER=${SWAN_LOCAL_INNER-203.0.113.2} # put on lo in the namespace
IPV6=${SWAN_IPV6:-no}

ROLE=${SWAN_ROLE:-responder}                # responder | initiator
CONN=${SWAN_CONN:-peer}
CHILD=${SWAN_CHILD:-net}
REMOTE_ADDRS=${SWAN_REMOTE_ADDRS:-}         # default: %any (responder)
PSK=${SWAN_PSK:-interop-test-psk-not-secret}
AUTH=${SWAN_AUTH:-psk}                      # psk | pubkey: how this peer authenticates
REMOTE_AUTH=${SWAN_REMOTE_AUTH:-$AUTH}      # psk | pubkey: what it demands of the caller
# pubkey: our certificate + key, and the CA that signed both sides' certificates
CERT_DIR=${SWAN_CERT_DIR:-}
CERT=${SWAN_CERT:-${CERT_DIR:+$CERT_DIR/swan.crt}}
KEY=${SWAN_KEY:-${CERT_DIR:+$CERT_DIR/swan.key}}
CA=${SWAN_CA:-${CERT_DIR:+$CERT_DIR/ca.crt}}
SEND_CERT=${SWAN_SEND_CERT:-always}         # always | ifasked | never
LOCAL_ID=${SWAN_LOCAL_ID:-swan.example.org}
REMOTE_ID=${SWAN_REMOTE_ID:-client.example.org}
IKE_PROPOSALS=${SWAN_IKE_PROPOSALS:-aes128gcm16-aes256gcm16-chacha20poly1305-prfsha256-prfsha384-prfsha512-x25519-ecp256-ecp384-modp2048-modp3072,aes128-aes256-sha256-sha384-sha512-sha1-x25519-ecp256-ecp384-modp2048-modp3072}
ESP_PROPOSALS=${SWAN_ESP_PROPOSALS:-aes128gcm16-aes256gcm16-chacha20poly1305,aes128-aes256-sha256-sha384-sha512-sha1}
ESN=${SWAN_ESN:-no}                         # no | yes | both
LOCAL_TS=${SWAN_LOCAL_TS:-203.0.113.0/24}
REMOTE_TS=${SWAN_REMOTE_TS:-198.51.100.0/24}
REPLAY_WINDOW=${SWAN_REPLAY_WINDOW:-32}
MOBIKE=${SWAN_MOBIKE:-no}
FRAGMENTATION=${SWAN_FRAGMENTATION:-yes}
UNIQUE=${SWAN_UNIQUE:-no}
REKEY_TIME=${SWAN_REKEY_TIME:-4h}
CHILD_REKEY_TIME=${SWAN_CHILD_REKEY_TIME:-1h}
DPD_DELAY=${SWAN_DPD_DELAY:-0s}
EXTRA_CONN=${SWAN_EXTRA_CONN:-}
EXTRA_CHILD=${SWAN_EXTRA_CHILD:-}
EXTRA_CHARON=${SWAN_EXTRA_CHARON:-}
# plugins loaded after the standard list, e.g. "eap-identity eap-mschapv2 attr"
# (road warrior: EAP-MSCHAPv2 needs MD4/DES, which openssl 3 has in its legacy provider)
EXTRA_PLUGINS=${SWAN_EXTRA_PLUGINS:-}
SWANCTL_CONF=${SWAN_SWANCTL_CONF:-}

LOG_LEVEL=${SWAN_LOG_LEVEL:-2}
ESP_LOG_LEVEL=${SWAN_ESP_LOG_LEVEL:-$LOG_LEVEL}
KEYLOG=${SWAN_KEYLOG:-yes}
RETRANSMIT_TRIES=${SWAN_RETRANSMIT_TRIES:-3}
RETRANSMIT_TIMEOUT=${SWAN_RETRANSMIT_TIMEOUT:-2.0}
# strongSwan defaults are 30 / 3 / 5 (half-open IKE_SAs); relaxed so that test
# suites leaving half-open SAs behind do not get COOKIEs or silent drops
COOKIE_THRESHOLD=${SWAN_COOKIE_THRESHOLD:-1000}
COOKIE_THRESHOLD_IP=${SWAN_COOKIE_THRESHOLD_IP:-1000}
BLOCK_THRESHOLD=${SWAN_BLOCK_THRESHOLD:-1000}
HALF_OPEN_TIMEOUT=${SWAN_HALF_OPEN_TIMEOUT:-30}

# initiator: initiate right after start (the caller namespace is created by
# start, so a test that wants to be initiated must say no and call initiate)
INITIATE_ON_START=${SWAN_INITIATE_ON_START:-yes}

START_TIMEOUT=${SWAN_START_TIMEOUT:-10}
STOP_TIMEOUT=${SWAN_STOP_TIMEOUT:-5}
INITIATE_TIMEOUT=${SWAN_INITIATE_TIMEOUT:-10}
CAPTURE_SECONDS=${SWAN_CAPTURE_SECONDS:-300}
CAPTURE_PACKETS=${SWAN_CAPTURE_PACKETS:-100000}
ARCHIVE_DIR=${SWAN_ARCHIVE_DIR:-}
FORCE=${SWAN_FORCE:-0}

VICI="unix://$DIR/charon.vici"
LOGFILE="$DIR/charon.log"
KEYFILE="$DIR/keys.log"

# ---------------------------------------------------------------- helpers
say() { printf '%s[%s]: %s\n' "$PROG" "$NS" "$*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
	cat <<EOF
usage: $PROG COMMAND [ARGS]

  start              create namespace+veth, start charon, load config (idempotent)
  stop               stop charon (by PID), delete veth/namespace, remove \$SWAN_DIR
  restart            stop, then start
  status             show state and SAs (exit 0 running, 3 not running)
  logs [N | -f [S]]  print charon's log (last N lines, or follow for S seconds)
  swanctl ARGS...    run swanctl against this instance (adds --uri)
  sas                swanctl --list-sas (byte/packet counters per CHILD_SA)
  initiate           initiate \$SWAN_CONN/\$SWAN_CHILD (bounded by \$SWAN_INITIATE_TIMEOUT)
  flush              terminate all IKE_SAs, half-open ones too (no DELETE retransmits)
  crash              SIGKILL charon (no DELETE, all SA state lost); namespaces stay
  revive             start charon again after 'crash', same configuration
  reload             regenerate swanctl.conf from the environment and reload it
  exec CMD...        run CMD inside the peer namespace
  caller CMD...      run CMD in the caller namespace (where a test must run)
  keys [OUTDIR]      write Wireshark key tables (esp_sa, ikev2_decryption_table)
  decrypt PCAP [ARGS...]  run tshark on PCAP with those key tables
  capture-start [IF] start a bounded tcpdump in the namespace -> \$SWAN_DIR/capture.pcap
  capture-stop       stop it (prints the pcap path)
  config             print the generated configuration
  env                print the effective settings

Configuration is taken from SWAN_* environment variables (see ../README.md).
EOF
}

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

valid_name() { [[ $1 =~ ^[A-Za-z0-9_.-]{1,32}$ ]]; }

ns_exists() {
	local n
	for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[ "$n" = "$1" ] && return 0
	done
	return 1
}

# ip, in the caller's namespace
cip() {
	if [ -n "$CALLER_NS" ]; then ip -n "$CALLER_NS" "$@"; else ip "$@"; fi
}
# command, in the caller's namespace
cexec() {
	if [ -n "$CALLER_NS" ]; then ip netns exec "$CALLER_NS" "$@"; else "$@"; fi
}

# PID of our charon if it is running, else nothing (and status 1)
charon_pid() {
	local f pid exe
	for f in "$DIR/run/charon.pid" "$DIR/launcher.pid"; do
		[ -r "$f" ] || continue
		pid=$(tr -dc '0-9' <"$f")
		[ -n "$pid" ] || continue
		exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
		case $exe in
		"$CHARON") echo "$pid"; return 0 ;;
		esac
	done
	return 1
}

vici_ok() { swanctl --stats --uri "$VICI" >/dev/null 2>&1; }

sw() { swanctl "$@" --uri "$VICI"; }

# "a,b , c" -> "a b c"
split_list() { printf '%s\n' "$1" | tr ',' ' '; }

# apply the ESN switch to a comma separated ESP proposal list
esp_with_esn() {
	local suffix p out=""
	case $ESN in
	no) suffix="" ;;
	yes) suffix="-esn" ;;
	both) suffix="-esn-noesn" ;;
	*) die "SWAN_ESN must be no, yes or both" ;;
	esac
	for p in $(split_list "$ESP_PROPOSALS"); do
		case $p in
		*esn*) ;; # explicit in the proposal
		*) p="$p$suffix" ;;
		esac
		out="${out:+$out,}$p"
	done
	printf '%s' "$out"
}

# ---------------------------------------------------------------- configs
gen_strongswan_conf() {
	local v6=yes
	[ "$IPV6" = yes ] || v6=no
	local keylog=""
	if [ "$KEYLOG" = yes ]; then
		keylog="
    # key material for Wireshark tables ('$PROG keys'); test keys only
    keys {
      path = $KEYFILE
      append = no
      flush_line = yes
      ike_name = yes
      default = -1
      ike = 4
      chd = 4
      cfg = 1
      enc = 1
      mgr = 2
    }"
	fi
	cat <<EOF
# generated by $PROG for instance '$NS' - do not edit, re-run start/restart
charon {
  load_modular = no
  # kernel-libipsec before kernel-netlink: userspace ESP via TUN, the
  # netlink plugin only does addresses/routes
  load = random nonce openssl aes sha1 sha2 hmac gcm chapoly curve25519 gmp kdf pem pkcs1 pkcs8 x509 pubkey constraints kernel-libipsec kernel-netlink socket-default vici $EXTRA_PLUGINS
  install_routes = yes
  retransmit_tries = $RETRANSMIT_TRIES
  retransmit_timeout = $RETRANSMIT_TIMEOUT
  cookie_threshold = $COOKIE_THRESHOLD
  cookie_threshold_ip = $COOKIE_THRESHOLD_IP
  block_threshold = $BLOCK_THRESHOLD
  half_open_timeout = $HALF_OPEN_TIMEOUT
  plugins {
    vici {
      socket = $VICI
    }
    socket-default {
      use_ipv6 = $v6
    }
  }
  filelog {
    main {
      path = $LOGFILE
      append = no
      flush_line = yes
      time_format = %F %T
      time_add_ms = yes
      ike_name = yes
      default = 1
      ike = $LOG_LEVEL
      cfg = $LOG_LEVEL
      enc = $LOG_LEVEL
      esp = $ESP_LOG_LEVEL
      chd = $LOG_LEVEL
      knl = $LOG_LEVEL
      net = $LOG_LEVEL
      mgr = 1
      job = 1
    }$keylog
  }
$EXTRA_CHARON
}
EOF
}

# one "local { }" or "remote { }" block body
auth_block() {
	local side=$1 auth=$2 id=$3
	printf '      auth = %s\n      id = %s\n' "$auth" "$id"
	if [ "$auth" = pubkey ]; then
		if [ "$side" = local ]; then
			printf '      certs = %s\n' "$(basename "$CERT")"
		else
			# the caller's certificate must chain to our CA (sent in its CERT payload)
			printf '      cacerts = %s\n' "$(basename "$CA")"
		fi
	fi
}

gen_swanctl_conf() {
	local remote_addrs start_action esp psk_line
	if [ "$ROLE" = initiator ]; then
		remote_addrs=${REMOTE_ADDRS:-$REMOTE_ADDR}
	else
		remote_addrs=${REMOTE_ADDRS:-%any}
	fi
	start_action=none
	esp=$(esp_with_esn)
	if [[ $PSK == *[\"\\]* ]]; then
		die "SWAN_PSK must not contain a double quote or backslash (use 0x<hex> or 0s<base64>)"
	fi
	psk_line="secret = \"$PSK\""
	cat <<EOF
# generated by $PROG for instance '$NS' (role $ROLE, auth $AUTH/$REMOTE_AUTH)
connections {
  $CONN {
    version = 2
    local_addrs = $LOCAL_ADDR
    remote_addrs = $remote_addrs
    encap = yes
    mobike = $MOBIKE
    fragmentation = $FRAGMENTATION
    unique = $UNIQUE
    send_cert = $SEND_CERT
    proposals = $IKE_PROPOSALS
    rekey_time = $REKEY_TIME
    dpd_delay = $DPD_DELAY
    local {
$(auth_block local "$AUTH" "$LOCAL_ID")
    }
    remote {
$(auth_block remote "$REMOTE_AUTH" "$REMOTE_ID")
    }
$EXTRA_CONN
    children {
      $CHILD {
        mode = tunnel
        local_ts = $LOCAL_TS
        remote_ts = $REMOTE_TS
        esp_proposals = $esp
        replay_window = $REPLAY_WINDOW
        rekey_time = $CHILD_REKEY_TIME
        start_action = $start_action
$EXTRA_CHILD
      }
    }
  }
}
secrets {
  ike-$CONN {
    $psk_line
  }
}
EOF
}

check_auth() {
	local a
	for a in "$AUTH" "$REMOTE_AUTH"; do
		case $a in psk | pubkey) ;; *) die "SWAN_AUTH/SWAN_REMOTE_AUTH must be psk or pubkey" ;; esac
	done
	if [ "$AUTH" = pubkey ]; then
		[ -r "$CERT" ] || die "SWAN_AUTH=pubkey needs a certificate: SWAN_CERT_DIR/swan.crt or SWAN_CERT ('$CERT')"
		[ -r "$KEY" ] || die "SWAN_AUTH=pubkey needs a private key: SWAN_CERT_DIR/swan.key or SWAN_KEY ('$KEY')"
	fi
	if [ "$REMOTE_AUTH" = pubkey ]; then
		[ -r "$CA" ] || die "SWAN_REMOTE_AUTH=pubkey needs the CA: SWAN_CERT_DIR/ca.crt or SWAN_CA ('$CA')"
	fi
}

write_configs() {
	mkdir -p "$DIR/swanctl"
	local d
	# swanctl --load-all scans these; empty dirs keep it quiet
	for d in x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12; do
		mkdir -p "$DIR/swanctl/$d"
	done
	# swanctl --load-all --file F reads credentials from the directories next to F
	rm -f "$DIR"/swanctl/x509/* "$DIR"/swanctl/x509ca/* "$DIR"/swanctl/private/*
	[ -z "$CERT" ] || [ ! -r "$CERT" ] || cp "$CERT" "$DIR/swanctl/x509/"
	[ -z "$KEY" ] || [ ! -r "$KEY" ] || cp "$KEY" "$DIR/swanctl/private/"
	[ -z "$CA" ] || [ ! -r "$CA" ] || cp "$CA" "$DIR/swanctl/x509ca/"
	chmod -R go-rwx "$DIR/swanctl/private"
	gen_strongswan_conf >"$DIR/strongswan.conf"
	if [ -n "$SWANCTL_CONF" ]; then
		cp "$SWANCTL_CONF" "$DIR/swanctl/swanctl.conf"
	else
		gen_swanctl_conf >"$DIR/swanctl/swanctl.conf"
	fi
	chmod 600 "$DIR/swanctl/swanctl.conf"
}

load_conf() {
	local out
	if ! out=$(swanctl --load-all --uri "$VICI" --file "$DIR/swanctl/swanctl.conf" 2>&1); then
		printf '%s\n' "$out" >&2
		return 1
	fi
	printf '%s\n' "$out" >"$DIR/swanctl-load.out"
}

# ---------------------------------------------------------------- network
ip2int() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	echo $(((a << 24) | (b << 16) | (c << 8) | d))
}
# do a.b.c.d/p and e.f.g.h/q overlap?
cidr_overlap() {
	local n1=${1%/*} p1=${1#*/} n2=${2%/*} p2=${2#*/} p mask
	[ "$p1" != "$1" ] || p1=32
	[ "$p2" != "$2" ] || p2=32
	p=$((p1 < p2 ? p1 : p2))
	mask=$(((0xffffffff << (32 - p)) & 0xffffffff))
	[ $(($(ip2int "$n1") & mask)) -eq $(($(ip2int "$n2") & mask)) ]
}
# refuse to put our subnet into a namespace that already uses it (the test VMs'
# root namespace has its real uplink on the TEST-NET-1 documentation prefix, hence 198.18.0.0/24 here)
check_caller_subnet() {
	local net="$REMOTE_ADDR/$PREFIX" x
	for x in $(cip -o -4 addr show 2>/dev/null | awk '{print $4}') \
		$(cip -4 route show table all 2>/dev/null | awk '$1 ~ /^[0-9]/ && $1 != "0.0.0.0/0" {print $1}'); do
		case $x in 127.*) continue ;; esac
		if cidr_overlap "$net" "$x"; then
			die "$net overlaps $x already used in the caller namespace (${CALLER_NS:-current});" \
				"use the default SWAN_CALLER_NS or other SWAN_LOCAL_ADDR/SWAN_REMOTE_ADDR/SWAN_PREFIX"
		fi
	done
}

setup_net() {
	if [ "$LINK" = none ]; then
		ns_exists "$NS" || die "SWAN_LINK=none but namespace '$NS' does not exist"
	else
		if ns_exists "$NS"; then
			die "namespace '$NS' already exists but is not a running instance of $PROG" \
				"(remove it: SWAN_NS=$NS SWAN_FORCE=1 $PROG stop)"
		fi
		if [ -n "$CALLER_NS" ] && ! ns_exists "$CALLER_NS"; then
			ip netns add "$CALLER_NS"
			touch "$DIR/created-caller-ns"
			ip -n "$CALLER_NS" link set lo up
			if [ "$IPV6" != yes ]; then
				# shellcheck disable=SC2016
				ip netns exec "$CALLER_NS" sh -c 'for k in all default; do echo 1 >"/proc/sys/net/ipv6/conf/$k/disable_ipv6"; done' 2>/dev/null || true
			fi
		fi
		if cip link show dev "$CALLER_IF" >/dev/null 2>&1; then
			die "interface '$CALLER_IF' already exists in the caller namespace"
		fi
		check_caller_subnet
		ip netns add "$NS"
		touch "$DIR/created-ns"
		ip -n "$NS" link set lo up
		if [ "$IPV6" != yes ]; then
			# shellcheck disable=SC2016
			ip netns exec "$NS" sh -c 'for k in all default; do echo 1 >"/proc/sys/net/ipv6/conf/$k/disable_ipv6"; done' 2>/dev/null || true
		fi
		cip link add "$CALLER_IF" mtu "$MTU" type veth peer name "$PEER_IF" mtu "$MTU" netns "$NS"
		touch "$DIR/created-link"
		if [ "$IPV6" != yes ]; then
			# shellcheck disable=SC2016
			cexec sh -c 'echo 1 >"/proc/sys/net/ipv6/conf/$1/disable_ipv6"' sh "$CALLER_IF" 2>/dev/null || true
		fi
		cip addr add "$REMOTE_ADDR/$PREFIX" dev "$CALLER_IF"
		ip -n "$NS" addr add "$LOCAL_ADDR/$PREFIX" dev "$PEER_IF"
		cip link set "$CALLER_IF" up
		ip -n "$NS" link set "$PEER_IF" up
	fi
	local a
	: >"$DIR/added-addrs"
	for a in $(split_list "$LOCAL_INNER"); do
		case $a in */*) ;; *) a="$a/32" ;; esac
		if ip -n "$NS" addr add "$a" dev lo 2>/dev/null; then
			echo "$a" >>"$DIR/added-addrs"
		fi
	done
}

# ---------------------------------------------------------------- commands
# Settings that later commands (stop, status, caller, ...) must take from the
# running instance rather than from the environment.
STATE_VARS="LINK CALLER_NS CALLER_IF PEER_IF LOCAL_ADDR REMOTE_ADDR PREFIX ROLE CONN CHILD KEYLOG"
save_state() {
	local v
	for v in $STATE_VARS; do
		printf '%s=%q\n' "$v" "${!v}"
	done >"$DIR/state"
}
load_state() {
	# our own file (written by save_state, directory mode 700)
	# shellcheck disable=SC1091
	[ ! -r "$DIR/state" ] || . "$DIR/state"
}

cmd_start() {
	need_root
	valid_name "$NS" || die "bad SWAN_NS '$NS'"
	[ -z "$CALLER_NS" ] || valid_name "$CALLER_NS" || die "bad SWAN_CALLER_NS"
	[ -x "$CHARON" ] || die "$CHARON not found (see .ci/run for the Debian packages)"
	command -v swanctl >/dev/null || die "swanctl not found (see .ci/run for the Debian packages)"
	[ -e /dev/net/tun ] || die "/dev/net/tun missing (kernel-libipsec needs TUN)"
	case $ROLE in responder | initiator) ;; *) die "SWAN_ROLE must be responder or initiator" ;; esac
	case $LINK in veth | none) ;; *) die "SWAN_LINK must be veth or none" ;; esac
	[ -n "$SWANCTL_CONF" ] || check_auth

	local t0 pid
	t0=$(date +%s%N)
	if pid=$(charon_pid) && vici_ok; then
		say "already running (pid $pid); use 'restart' or 'reload' to apply new settings"
		return 0
	fi
	if [ -e "$DIR" ]; then
		say "cleaning up stale instance in $DIR"
		(
			load_state
			cmd_stop quiet
		)
	fi
	mkdir -p "$DIR/run"
	chmod 700 "$DIR"
	# undo a half-done start (network set up, daemon not answering, ...)
	trap 'cmd_stop quiet' EXIT
	env | grep '^SWAN_' | sort >"$DIR/env" || true
	save_state
	setup_net
	write_configs

	launch_charon
	trap - EXIT # from here on, a failure leaves the daemon running for its log
	if ! load_conf; then
		say "loading swanctl.conf failed (instance left running; see '$PROG logs')"
		exit 1
	fi
	local ms=$((($(date +%s%N) - t0) / 1000000))
	say "up in ${ms} ms: pid $(charon_pid || echo '?'), ns $NS, $LOCAL_ADDR (peer) <-> $REMOTE_ADDR (caller), role $ROLE"
	say "vici $VICI, log $LOGFILE"
	if [ "$ROLE" = initiator ] && [ "$INITIATE_ON_START" = yes ]; then
		cmd_initiate
	fi
}

# starts charon in $NS with the instance's files and waits for vici (exits on failure)
launch_charon() {
	# charon's pid file is hard-wired to /var/run/charon.pid: give each
	# instance a private /run (its $DIR/run) in a private mount namespace.
	# shellcheck disable=SC2016
	setsid ip netns exec "$NS" \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin STRONGSWAN_CONF="$DIR/strongswan.conf" \
		unshare --mount --propagation private \
		sh -c 'mount --bind "$1" /run && exec "$2"' sh "$DIR/run" "$CHARON" \
		</dev/null >>"$DIR/charon.stdout" 2>&1 &
	echo $! >"$DIR/launcher.pid"

	local deadline=$((SECONDS + START_TIMEOUT))
	until vici_ok; do
		if ! kill -0 "$(cat "$DIR/launcher.pid")" 2>/dev/null; then
			say "charon exited during startup:"
			tail -n 20 "$DIR/charon.stdout" "$LOGFILE" >&2 2>/dev/null || true
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			say "charon did not answer on $VICI within ${START_TIMEOUT}s"
			tail -n 20 "$LOGFILE" >&2 2>/dev/null || true
			exit 1
		fi
		sleep 0.05
	done
}

# a gateway that crashes: SIGKILL, no DELETE sent, all SA state lost; the
# namespace, veth, TUN config and files stay for 'revive'
cmd_crash() {
	local pid
	pid=$(charon_pid) || die "not running"
	kill -KILL "$pid"
	for _i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	say "killed charon (pid $pid)"
}

# starts charon again after 'crash' (same namespace and configuration)
cmd_revive() {
	if charon_pid >/dev/null && vici_ok; then die "already running"; fi
	# the log is rewritten on start: keep the crashed instance's
	[ ! -e "$LOGFILE" ] || mv -f "$LOGFILE" "$LOGFILE.crashed"
	launch_charon
	load_conf || die "loading swanctl.conf failed (see '$PROG logs')"
	say "revived: pid $(charon_pid || echo '?')"
}

cmd_initiate() {
	local t0 ms
	t0=$(date +%s%N)
	if ! sw --initiate --ike "$CONN" --child "$CHILD" --timeout "$INITIATE_TIMEOUT" >"$DIR/initiate.out" 2>&1; then
		tail -n 15 "$DIR/initiate.out" >&2
		say "initiate failed (see '$PROG logs')"
		return 1
	fi
	ms=$((($(date +%s%N) - t0) / 1000000))
	cat "$DIR/initiate.out"
	say "initiated $CONN/$CHILD in ${ms} ms"
}

capture_stop() {
	local pid
	[ -r "$DIR/capture.pid" ] || return 0
	pid=$(cat "$DIR/capture.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -INT "$pid" 2>/dev/null || true
		local _i
		for _i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$DIR/capture.pid"
}

cmd_stop() {
	local quiet=${1:-}
	local pid lpid _i a
	if [ ! -d "$DIR" ]; then
		if ns_exists "$NS" && [ "$LINK" = veth ]; then
			if [ "$FORCE" = 1 ]; then
				for pid in $(ip netns pids "$NS" 2>/dev/null); do
					[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$CHARON" ] && kill -KILL "$pid" 2>/dev/null
				done
				cip link del "$CALLER_IF" 2>/dev/null || true
				ip netns del "$NS"
				say "force-removed namespace $NS"
			else
				say "namespace $NS exists but $DIR does not; not touching it (SWAN_FORCE=1 to remove)"
			fi
		elif [ -z "$quiet" ]; then
			say "not running"
		fi
		return 0
	fi
	capture_stop
	lpid=""
	[ ! -r "$DIR/launcher.pid" ] || lpid=$(tr -dc '0-9' <"$DIR/launcher.pid")
	if pid=$(charon_pid); then
		kill -TERM "$pid" 2>/dev/null || true
		for _i in $(seq 1 $((STOP_TIMEOUT * 10))); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "charon $pid ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.2
		fi
	elif [ -n "$lpid" ] && kill -0 "$lpid" 2>/dev/null; then
		# still in the launcher chain (ip/env/unshare/sh): ours, started by us
		kill -KILL "$lpid" 2>/dev/null || true
	fi
	if [ -n "$ARCHIVE_DIR" ]; then
		mkdir -p "$ARCHIVE_DIR"
		[ -s "$KEYFILE" ] && { cmd_keys "$ARCHIVE_DIR" >/dev/null 2>&1 || true; }
		cp -f "$DIR"/*.log "$DIR"/*.pcap "$DIR"/strongswan.conf "$DIR"/swanctl/swanctl.conf \
			"$ARCHIVE_DIR"/ 2>/dev/null || true
	fi
	if [ -e "$DIR/added-addrs" ] && [ ! -e "$DIR/created-ns" ] && ns_exists "$NS"; then
		while read -r a; do
			if [ -n "$a" ]; then ip -n "$NS" addr del "$a" dev lo 2>/dev/null || true; fi
		done <"$DIR/added-addrs"
	fi
	if [ -e "$DIR/created-link" ]; then
		cip link del "$CALLER_IF" 2>/dev/null || true
	fi
	if [ -e "$DIR/created-ns" ] && ns_exists "$NS"; then
		ip netns del "$NS"
	fi
	if [ -e "$DIR/created-caller-ns" ] && ns_exists "$CALLER_NS"; then
		ip netns del "$CALLER_NS"
	fi
	rm -rf "$DIR"
	rmdir "$(dirname "$DIR")" 2>/dev/null || true
	[ -n "$quiet" ] || say "stopped${ARCHIVE_DIR:+ (logs/keys archived in $ARCHIVE_DIR)}"
}

cmd_status() {
	local pid
	if pid=$(charon_pid) && vici_ok; then
		echo "instance:  $NS (running, charon pid $pid)"
		echo "dir:       $DIR"
		echo "vici:      $VICI"
		echo "log:       $LOGFILE"
		echo "peer side: $(ip -n "$NS" -br addr show dev "$PEER_IF" 2>/dev/null || echo "$LOCAL_ADDR")"
		echo "caller:    ns ${CALLER_NS:-(current)}: $(cip -br addr show dev "$CALLER_IF" 2>/dev/null || echo "$REMOTE_ADDR")"
		echo "tun:       $(ip -n "$NS" -br link show dev ipsec0 2>/dev/null || echo 'ipsec0 missing')"
		sw --list-sas
		return 0
	fi
	echo "instance:  $NS (not running)"
	return 3
}

cmd_logs() {
	[ -r "$LOGFILE" ] || die "no log at $LOGFILE (instance not started?)"
	case ${1:-} in
	"") cat "$LOGFILE" ;;
	-f) timeout "${2:-60}" tail -n 50 -f "$LOGFILE" || true ;;
	*) tail -n "$1" "$LOGFILE" ;;
	esac
}

cmd_flush() {
	local ids id
	ids=$(sw --list-sas 2>/dev/null | sed -n 's/^[^ ]*: #\([0-9]*\),.*/\1/p')
	for id in $ids; do
		sw --terminate --ike-id "$id" --force --timeout 2 >/dev/null 2>&1 || true
	done
	# shellcheck disable=SC2086
	say "terminated IKE_SAs: $(printf '%s ' ${ids:-none})"
}

cmd_reload() {
	charon_pid >/dev/null || die "not running"
	[ -n "$SWANCTL_CONF" ] || check_auth
	write_configs
	load_conf
	say "reloaded $DIR/swanctl/swanctl.conf"
}

cmd_capture_start() {
	local ifc=${1:-$PEER_IF}
	charon_pid >/dev/null || die "not running"
	command -v tcpdump >/dev/null || die "tcpdump not installed"
	capture_stop
	rm -f "$DIR/capture.pcap" "$DIR/capture.err"
	setsid ip netns exec "$NS" timeout "$CAPTURE_SECONDS" \
		tcpdump -n -U --immediate-mode -Z root -i "$ifc" -c "$CAPTURE_PACKETS" -w "$DIR/capture.pcap" \
		</dev/null >/dev/null 2>"$DIR/capture.err" &
	echo $! >"$DIR/capture.pid"
	local _i
	for _i in $(seq 1 50); do
		grep -q 'listening on' "$DIR/capture.err" 2>/dev/null && break
		sleep 0.1
	done
	grep -q 'listening on' "$DIR/capture.err" || { cat "$DIR/capture.err" >&2; die "tcpdump did not start"; }
	say "capturing on $ifc -> $DIR/capture.pcap (max ${CAPTURE_SECONDS}s / $CAPTURE_PACKETS packets)"
}

cmd_capture_stop() {
	capture_stop
	echo "$DIR/capture.pcap"
}

# Turn keys.log (charon ike/chd level 4) into Wireshark UAT tables.  This
# stands in for strongSwan's save-keys plugin, which Debian does not build.
cmd_keys() {
	local out=${1:-$DIR/wireshark}
	[ -r "$KEYFILE" ] || die "no $KEYFILE (SWAN_KEYLOG=no, or not started)"
	mkdir -p "$out"
	: >"$out/esp_sa"
	: >"$out/ikev2_decryption_table"
	awk -v espf="$out/esp_sa" -v ikef="$out/ikev2_decryption_table" '
	function ws_ike_encr(p,   a, k) {
		if (match(p, /AES_CBC_[0-9]+/)) { k = substr(p, RSTART + 8, RLENGTH - 8); return "AES-CBC-" k " [RFC3602]" }
		if (match(p, /AES_CTR_[0-9]+/)) { k = substr(p, RSTART + 8, RLENGTH - 8); return "AES-CTR-" k " [RFC5930]" }
		if (match(p, /AES_GCM_[0-9]+_[0-9]+/)) { split(substr(p, RSTART, RLENGTH), a, "_"); return "AES-GCM-" a[4] " with " a[3] " octet ICV [RFC5282]" }
		if (match(p, /AES_CCM_[0-9]+_[0-9]+/)) { split(substr(p, RSTART, RLENGTH), a, "_"); return "AES-CCM-" a[4] " with " a[3] " octet ICV [RFC5282]" }
		if (p ~ /3DES_CBC/) return "3DES [RFC2451]"
		return ""
	}
	function ws_ike_integ(p) {
		if (p ~ /HMAC_SHA1_96/) return "HMAC_SHA1_96 [RFC2404]"
		if (p ~ /HMAC_SHA2_256_128/) return "HMAC_SHA2_256_128 [RFC4868]"
		if (p ~ /HMAC_SHA2_384_192/) return "HMAC_SHA2_384_192 [RFC4868]"
		if (p ~ /HMAC_SHA2_512_256/) return "HMAC_SHA2_512_256 [RFC4868]"
		if (p ~ /HMAC_MD5_96/) return "HMAC_MD5_96 [RFC2403]"
		return "NONE [RFC4306]"
	}
	function ws_esp_encr(p,   a) {
		if (p ~ /AES_CBC/) return "AES-CBC [RFC3602]"
		if (p ~ /AES_CTR/) return "AES-CTR [RFC3686]"
		if (match(p, /AES_GCM_[0-9]+/)) { split(substr(p, RSTART, RLENGTH), a, "_"); return "AES-GCM with " a[3] " octet ICV [RFC4106]" }
		if (p ~ /3DES_CBC/) return "TripleDES-CBC [RFC2451]"
		if (p ~ /NULL/) return "NULL"
		return ""
	}
	function ws_esp_integ(p) {
		if (p ~ /HMAC_SHA1_96/) return "HMAC-SHA-1-96 [RFC2404]"
		if (p ~ /HMAC_SHA2_256_128/) return "HMAC-SHA-256-128 [RFC4868]"
		if (p ~ /HMAC_SHA2_384_192/) return "HMAC-SHA-384-192 [RFC4868]"
		if (p ~ /HMAC_SHA2_512_256/) return "HMAC-SHA-512-256 [RFC4868]"
		return "NULL"
	}
	{
		# "NN[GRP] <name|uid> message"
		if (!match($0, /^ *[0-9]+\[[A-Z]+\] /)) next
		hdr = substr($0, RSTART, RLENGTH); msg = substr($0, RSTART + RLENGTH)
		tid = hdr; sub(/\[.*/, "", tid); gsub(/ /, "", tid)
		uid = ""
		if (match(msg, /^<[^>]*> /)) {
			ctx = substr(msg, 2, RLENGTH - 3); msg = substr(msg, RLENGTH + 1)
			uid = ctx; sub(/.*\|/, "", uid)
		}
		if (want[tid] > 0 && match(msg, /^ *[0-9]+: /)) {
			# at most 16 hex bytes per dump line; the ASCII column follows
			n = split(substr(msg, RLENGTH + 1), f, " ")
			for (i = 1; i <= n && i <= 16 && want[tid] > 0 && f[i] ~ /^[0-9A-Fa-f][0-9A-Fa-f]$/; i++) {
				val[tid] = val[tid] tolower(f[i]); want[tid]--
			}
			if (want[tid] == 0) store(tid, uid)
			next
		}
		if (match(msg, /^parsed [A-Z_]+ (request|response)/)) {
			split(msg, f, " "); exch[tid] = f[2]; dir[tid] = f[3]; next
		}
		# IKE proposal: for a new SA in its own context, or (IKE rekeying) for
		# the next SA whose keys this thread derives
		if (match(msg, /^selected proposal: IKE:/)) {
			if (uid in haskeys) pendprop[tid] = substr(msg, RLENGTH - 3)
			else ikeprop[uid] = substr(msg, RLENGTH - 3)
			next
		}
		if (match(msg, /^selected proposal: ESP:/)) { espprop[tid] = substr(msg, RLENGTH - 3); next }
		if (match(msg, /^(Sk_(ai|ar|ei|er) secret|(encryption|integrity) (initiator|responder) key) => [0-9]+ bytes/)) {
			name[tid] = msg; sub(/ =>.*/, "", name[tid])
			len = msg; sub(/.*=> /, "", len); sub(/ bytes.*/, "", len)
			want[tid] = len + 0; val[tid] = ""
			if (want[tid] == 0) store(tid, uid)
			next
		}
		if (match(msg, /^checkin IKEv2 SA .*\[[0-9]+\] with SPIs [0-9a-f]+_i [0-9a-f]+_r/)) {
			s = msg; sub(/ with SPIs.*/, "", s); sub(/.*\[/, "", s); sub(/\].*/, "", s)
			split(msg, f, "SPIs "); split(f[2], g, " ")
			si = g[1]; sub(/_i/, "", si); sr = g[2]; sub(/_r/, "", sr)
			if (sr != "0000000000000000") {
				spii[s] = si; spir[s] = sr
				# Sk_* derived by this thread belong to the first SA without keys
				# that it checks in (IKE_SA_INIT: the SA itself; rekey: the new SA)
				if (pend[tid] && !(s in haskeys)) {
					haskeys[s] = 1; pend[tid] = 0
					ikeprop[s] = (pendprop[tid] != "") ? pendprop[tid] : ikeprop[penduid[tid]]
					pendprop[tid] = ""
					for (k in kn) sk[s, k] = psk[tid, k]
				}
			}
			next
		}
		if (msg ~ /^seed => /) {
			delete ckey[tid, "encryption initiator key"]; delete ckey[tid, "encryption responder key"]
			delete ckey[tid, "integrity initiator key"]; delete ckey[tid, "integrity responder key"]
			next
		}
		# keys belong to SPIs via the "established" line of the deriving thread;
		# the outbound SA may be added later by another thread (rekeying)
		# ("outbound CHILD_SA ... established" is the deferred install: skip)
		if (msg !~ /^outbound / && match(msg, /CHILD_SA [^ ]+ established with SPIs [0-9a-f]+_i [0-9a-f]+_o/)) {
			split(substr(msg, RSTART, RLENGTH), f, " ")
			si = f[6]; sub(/_i/, "", si); so = f[7]; sub(/_o/, "", so)
			# this thread parsed a response: we initiated this CHILD exchange
			role = (dir[tid] == "response") ? "initiator" : "responder"
			other = (role == "initiator") ? "responder" : "initiator"
			kenc[si] = ckey[tid, "encryption " other " key"]; kint[si] = ckey[tid, "integrity " other " key"]
			kenc[so] = ckey[tid, "encryption " role " key"]; kint[so] = ckey[tid, "integrity " role " key"]
			kprop[si] = espprop[tid]; kprop[so] = espprop[tid]
			next
		}
		if (match(msg, /^adding (inbound|outbound) ESP SA/)) { split(msg, f, " "); sadir[tid] = f[2]; next }
		if (sadir[tid] != "" && match(msg, /^ *SPI 0x[0-9a-f]+, src [^ ]+ dst [^ ]+/)) {
			split(msg, f, " "); spi = f[2]; sub(/,/, "", spi); sub(/^0x/, "", spi)
			nsa++; saspi[nsa] = spi; sasrc[nsa] = f[4]; sadst[nsa] = f[6]; sadirn[nsa] = sadir[tid]
			sadir[tid] = ""
			next
		}
	}
	function store(t, u,   nm) {
		nm = name[t]
		if (nm ~ /^Sk_/) {
			# logged order: Sk_d, [Sk_ai, Sk_ar,] Sk_ei, Sk_er, Sk_pi, Sk_pr
			if (nm ~ /^Sk_ai/) { psk[t, "Sk_ar"] = "" }
			if (nm ~ /^Sk_ei/ && !aiseen[t]) { psk[t, "Sk_ai"] = ""; psk[t, "Sk_ar"] = "" }
			aiseen[t] = (nm ~ /^Sk_a/)
			psk[t, substr(nm, 1, 5)] = val[t]
			if (nm ~ /^Sk_er/) { pend[t] = 1; penduid[t] = u }
		} else {
			ckey[t, nm] = val[t]
		}
	}
	BEGIN { kn["Sk_ei"]; kn["Sk_er"]; kn["Sk_ai"]; kn["Sk_ar"] }
	END {
		printf("") >> espf
		printf("") >> ikef
		for (u in haskeys) {
			p = ikeprop[u]; e = ws_ike_encr(p)
			if (e == "") { printf("# IKE_SA %s: %s not decryptable by Wireshark 4.0\n", u, p) >> ikef; continue }
			printf("%s,%s,%s,%s,\"%s\",%s,%s,\"%s\"\n", spii[u], spir[u], sk[u, "Sk_ei"], sk[u, "Sk_er"], e,
			       sk[u, "Sk_ai"], sk[u, "Sk_ar"], ws_ike_integ(p)) >> ikef
			nike++
		}
		for (i = 1; i <= nsa; i++) {
			spi = saspi[i]
			if (!(spi in kenc)) { printf("# SPI 0x%s (%s): no keys found\n", spi, sadirn[i]) >> espf; continue }
			p = kprop[spi]; e = ws_esp_encr(p); a = ws_esp_integ(p)
			if (e == "") { printf("# SPI 0x%s (%s): %s not decryptable by Wireshark 4.0\n", spi, sadirn[i], p) >> espf; continue }
			printf("\"IPv4\",\"%s\",\"%s\",\"0x%s\",\"%s\",\"0x%s\",\"%s\",\"%s\"\n", sasrc[i], sadst[i], spi, e,
			       kenc[spi], a, (a == "NULL" ? "" : "0x" kint[spi])) >> espf
			nesp++
		}
		printf("%d ESP SA(s), %d IKE SA(s)\n", nesp, nike) > "/dev/stderr"
	}' "$KEYFILE" 2>&1 >/dev/null | sed "s|^|${PROG}[${NS}]: keys: |" >&2
	# awk appended; de-duplicate while keeping order (SAs can be listed again)
	local f
	for f in "$out/esp_sa" "$out/ikev2_decryption_table"; do
		awk '!seen[$0]++' "$f" >"$f.tmp" && mv "$f.tmp" "$f"
	done
	echo "$out"
}

cmd_decrypt() {
	local pcap=${1:?usage: decrypt PCAP [tshark args]}
	shift
	local kd
	kd=$(cmd_keys)
	WIRESHARK_CONFIG_DIR="$kd" tshark -n -r "$pcap" \
		-o esp.enable_encryption_decode:TRUE \
		-o esp.enable_authentication_check:TRUE "$@"
}

cmd_env() {
	local v
	for v in NS LINK CALLER_NS DIR CALLER_IF PEER_IF LOCAL_ADDR REMOTE_ADDR PREFIX MTU \
		LOCAL_INNER IPV6 ROLE CONN CHILD REMOTE_ADDRS LOCAL_ID REMOTE_ID AUTH REMOTE_AUTH CERT_DIR CERT KEY CA SEND_CERT IKE_PROPOSALS \
		ESP_PROPOSALS ESN LOCAL_TS REMOTE_TS REPLAY_WINDOW MOBIKE FRAGMENTATION UNIQUE \
		REKEY_TIME CHILD_REKEY_TIME DPD_DELAY LOG_LEVEL ESP_LOG_LEVEL KEYLOG \
		RETRANSMIT_TRIES RETRANSMIT_TIMEOUT COOKIE_THRESHOLD COOKIE_THRESHOLD_IP BLOCK_THRESHOLD HALF_OPEN_TIMEOUT \
		INITIATE_ON_START START_TIMEOUT STOP_TIMEOUT INITIATE_TIMEOUT; do
		printf 'SWAN_%s=%s\n' "$v" "${!v}"
	done
}

main() {
	local cmd=${1:-}
	[ $# -gt 0 ] && shift
	case $cmd in start | restart | stop | config | env | help | -h | --help | "") ;; *) load_state ;; esac
	case $cmd in
	start) cmd_start ;;
	stop) need_root; load_state; cmd_stop ;;
	restart)
		need_root
		(
			load_state
			cmd_stop quiet
		)
		cmd_start
		;;
	status) cmd_status ;;
	logs) cmd_logs "$@" ;;
	swanctl) sw "$@" ;;
	sas) sw --list-sas ;;
	initiate) cmd_initiate ;;
	crash) need_root; cmd_crash ;;
	revive) need_root; cmd_revive ;;
	flush) cmd_flush ;;
	reload) cmd_reload ;;
	exec) [ $# -gt 0 ] || die "exec needs a command"; exec ip netns exec "$NS" "$@" ;;
	caller) [ $# -gt 0 ] || die "caller needs a command"; cexec "$@" ;;
	keys) cmd_keys "$@" ;;
	decrypt) cmd_decrypt "$@" ;;
	capture-start) cmd_capture_start "$@" ;;
	capture-stop) cmd_capture_stop ;;
	config) gen_strongswan_conf; echo; if [ -n "$SWANCTL_CONF" ]; then cat "$SWANCTL_CONF"; else gen_swanctl_conf; fi ;;
	env) cmd_env ;;
	-h | --help | help) usage ;;
	*) usage >&2; exit 2 ;;
	esac
}

main "$@"
