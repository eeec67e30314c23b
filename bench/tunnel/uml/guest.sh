#!/bin/sh
# bench.sh ALGO MODES SECONDS — inside the UML guest: namespaces a and b joined by a veth
# (198.18.100.1/.2), inner 10.201.3.1/.2 on lo, the kernel's ESP in tunnel mode between them (no
# ESP at all for ALGO=none), then per mode (tcp, udp1372, udp64, comma-separated) one iperf3 run
# from a to b. Markers on the console let the host sample the UML process's CPU around each run:
#   @@TB-BEGIN mode / @@TB-JSON mode / <iperf3 -J output> / @@TB-JSON-END / @@TB-END mode
set -u
algo=$1; modes=$2; t=$3
A="ip netns exec a"; B="ip netns exec b"
ip netns add a; ip netns add b
ip link add va netns a type veth peer name vb netns b
$A ip link set lo up; $B ip link set lo up
$A ip addr add 198.18.100.1/24 dev va; $B ip addr add 198.18.100.2/24 dev vb
$A ip link set va up; $B ip link set vb up
$A ip addr add 10.201.3.1/32 dev lo; $B ip addr add 10.201.3.2/32 dev lo
$A ip route add 10.201.3.2/32 via 198.18.100.2 dev va src 10.201.3.1
$B ip route add 10.201.3.1/32 via 198.18.100.1 dev vb src 10.201.3.2

# fixed benchmark keys (not secret): AES-128 key + 4-byte salt, ChaCha20 key + 4-byte salt
case $algo in
aes128gcm16) a1="rfc4106(gcm(aes)) 0x000102030405060708090a0b0c0d0e0f10111213 128"
	a2="rfc4106(gcm(aes)) 0x202122232425262728292a2b2c2d2e2f30313233 128" ;;
chacha20poly1305) a1="rfc7539esp(chacha20,poly1305) 0x808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3 128"
	a2="rfc7539esp(chacha20,poly1305) 0xb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3 128" ;;
none) a1= ;;
*) echo "@@TB-ERROR unknown algo $algo"; exit 2 ;;
esac
if [ -n "$a1" ]; then
	for ns in a b; do
		# shellcheck disable=SC2086
		ip netns exec $ns ip xfrm state add src 198.18.100.1 dst 198.18.100.2 proto esp spi 0x1001 reqid 1 mode tunnel replay-window 128 aead $a1 || { echo "@@TB-ERROR xfrm state $algo"; exit 3; }
		# shellcheck disable=SC2086
		ip netns exec $ns ip xfrm state add src 198.18.100.2 dst 198.18.100.1 proto esp spi 0x2001 reqid 2 mode tunnel replay-window 128 aead $a2 || exit 3
	done
	$A ip xfrm policy add dir out src 10.201.3.1/32 dst 10.201.3.2/32 tmpl src 198.18.100.1 dst 198.18.100.2 proto esp reqid 1 mode tunnel
	$A ip xfrm policy add dir in src 10.201.3.2/32 dst 10.201.3.1/32 tmpl src 198.18.100.2 dst 198.18.100.1 proto esp reqid 2 mode tunnel
	$B ip xfrm policy add dir out src 10.201.3.2/32 dst 10.201.3.1/32 tmpl src 198.18.100.2 dst 198.18.100.1 proto esp reqid 2 mode tunnel
	$B ip xfrm policy add dir in src 10.201.3.1/32 dst 10.201.3.2/32 tmpl src 198.18.100.1 dst 198.18.100.2 proto esp reqid 1 mode tunnel
fi
$A ping -c 1 -W 5 10.201.3.2 >/dev/null 2>&1 || echo "@@TB-ERROR no ping through $algo"

for mode in $(echo "$modes" | tr ',' ' '); do
	case $mode in
	tcp) args= ;;
	udp*) args="-u -b 0 -l ${mode#udp}" ;;
	*) echo "@@TB-ERROR unknown mode $mode"; continue ;;
	esac
	$B iperf3 -s -1 -B 10.201.3.2 -p 5299 >/dev/null 2>&1 &
	spid=$!
	i=0; while [ $i -lt 50 ] && ! $B ss -Hltn 'sport = :5299' 2>/dev/null | grep -q 5299; do sleep 0.1; i=$((i + 1)); done
	echo "@@TB-BEGIN $mode"
	# shellcheck disable=SC2086
	timeout $((t + 20)) $A iperf3 -c 10.201.3.2 -B 10.201.3.1 -p 5299 -J -t "$t" $args >/tmp/out.json 2>/tmp/err.txt
	echo "@@TB-END $mode"
	echo "@@TB-JSON $mode"; cat /tmp/out.json; echo; echo "@@TB-JSON-END"
	i=0; while kill -0 $spid 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
	kill $spid 2>/dev/null; wait $spid 2>/dev/null
done
# packet counters and failures of ns a's SAs: proof that the traffic went through ESP
[ -n "$a1" ] && $A ip -s xfrm state | grep -E '\(packets\)|failed' | tr -s ' \t' ' ' | sed 's/^/@@TB-INFO xfrm a:/'
exit 0
