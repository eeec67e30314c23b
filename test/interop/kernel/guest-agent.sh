#!/bin/sh
# guest-agent.sh LIFETIME_SECONDS [noespudp] — runs INSIDE the VM (run.sh's SCRIPT) so that one boot
# serves every scenario of a test: a command loop over the 9p share that test/helpers/kernel-vm.ts
# drives. `noespudp`: UDP 4500 is left free (for charon, which holds it itself).
#
#   /mnt/host/ready            written once espudp holds UDP 4500 (content: the kernel release)
#                              (at once with noespudp)
#   /mnt/host/cmd/ID.sh        a command; first line "# timeout N" bounds it (default 30 s)
#   /mnt/host/out/ID.out       its stdout+stderr, then /mnt/host/out/ID.rc its exit status
#   /mnt/host/stop             ends the loop (exit 0)
# The host writes every file under a temporary name and renames it, and so does the agent, so
# neither side ever reads half a file. The loop ends by itself after LIFETIME_SECONDS (exit 124).
set -u
LIFE=${1:?usage: guest-agent.sh LIFETIME_SECONDS [noespudp]}
ESP=${2:-espudp}
S=/mnt/host
grep -q " $S 9p " /proc/mounts || { echo "guest-agent: $S is not mounted (KVM_SHARE)"; exit 3; }
mkdir -p $S/cmd $S/out

# The kernel decapsulates ESP-in-UDP only while a UDP_ENCAP_ESPINUDP socket holds the port.
ESPUDP=
if [ "$ESP" != noespudp ]; then
	espudp -p 4500 -t $((LIFE + 5)) > /tmp/espudp.log 2>&1 &
	ESPUDP=$!
	i=0
	while ! grep -q ready /tmp/espudp.log && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	grep -q ready /tmp/espudp.log || { cat /tmp/espudp.log; exit 3; }
fi

uname -r > $S/ready.tmp && mv $S/ready.tmp $S/ready
echo "guest-agent: ready ($(uname -r)), lifetime ${LIFE}s"

end=$(($(date +%s) + LIFE))
rc=124
while [ "$(date +%s)" -lt $end ]; do
	if [ -e $S/stop ]; then rc=0; break; fi
	for f in $S/cmd/*.sh; do
		[ -e "$f" ] || continue
		id=$(basename "$f" .sh)
		mv "$f" /tmp/cmd.sh
		t=$(sed -n '1s/^# timeout \([0-9][0-9]*\)$/\1/p' /tmp/cmd.sh)
		[ -n "$t" ] && [ "$t" -le 300 ] || t=30
		timeout -k 2 "$t" /bin/sh /tmp/cmd.sh > /tmp/cmd.out 2>&1 < /dev/null
		crc=$?
		cp /tmp/cmd.out $S/out/$id.out.tmp && mv $S/out/$id.out.tmp $S/out/$id.out
		echo $crc > $S/out/$id.rc.tmp && mv $S/out/$id.rc.tmp $S/out/$id.rc
	done
	sleep 0.2
done
[ -n "$ESPUDP" ] && kill $ESPUDP 2>/dev/null
echo "guest-agent: done (rc $rc)"
exit $rc
