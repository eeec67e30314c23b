// ipsec-wasm as a VPN (`up --tun`, issue 15) with the Linux kernel's XFRM as the far end: Debian's
// kernel under QEMU (test/interop/kernel, TCG) runs strongSwan's charon with the kernel-netlink
// plugin, so the guest kernel does the ESP (in UDP 4500) and charon only the IKE. QEMU runs in a
// network namespace of this test, and so does `up --tun`: the TUN, its routes and QEMU's forwards
// never touch the root namespace.
//
//   ns <lab> (this test)                                     guest (QEMU user net 198.18.0.0/24)
//   lo 198.18.2.1  up --tun: IKE 500/4500, TUN, 10.1.0.1/32
//   lo 198.18.2.2  QEMU hostfwd udp 500, 4500  ----------->  eth0 198.18.0.15: charon, XFRM
//                                                            lo 10.2.0.1 (answers ping)
//
// QEMU's NAT makes the guest see our packets from 198.18.2.1 (kept: not loopback) and our replies
// come back from the forward's 198.18.2.2; the NAT-D hashes tell charon it is behind NAT, and our
// side floats to 4500 anyway (it always forces NAT-T), so ESP is ESP-in-UDP 4500 both ways.
//
// The system's ping runs from the namespace through our TUN to 10.2.0.1 for 44 s, spanning two
// Child SA rekeys (rekey_time 20 s) and an IKE SA rekey (30 s), rand_time 0 so the schedule is
// exact. Every echo must be answered: both ends make before they break (RFC 7296 §2.8; charon puts
// the new SAs in the kernel, our daemon in the packet worker, before the old ones are deleted), so
// the loss bound is 0 (measured: 0 of 220 in every run). Then the guest's `ip -s xfrm state` must
// hold exactly the SPIs our status shows (not the first ones) and its packet counters must grow by
// exactly the 10 echoes of a second ping. SIGTERM must leave no TUN, route or XFRM state; the VM
// powers off (or run.sh, QEMU's parent, is killed by its PID) and the namespace is deleted, also
// when the test fails. Needs root, QEMU + the kernel image (test/interop/kernel/build.sh),
// strongSwan (build-strongswan.sh), iputils-ping and a built dist/: a missing piece is a red test.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KernelVm, GUEST_ADDR, HOST_ADDR_IN_GUEST, type XfrmState } from "../helpers/kernel-vm.ts";
import { NetnsLab, requireNetns, type Spawned } from "../helpers/netns.ts";
import { repoPath } from "../helpers/interop.ts";

const CLI = repoPath("bin/ipsec-wasm.mjs");
/** Our outer address and QEMU's forward (both on the namespace's lo). */
const OURS = "198.18.2.1";
const FWD = "198.18.2.2";
const OUR_INNER = "10.1.0.1";
const GUEST_INNER = "10.2.0.1";
const PSK = "kernel-tun-psk-not-secret";
/** Echoes of the rekey-spanning ping (0.2 s apart: 44 s, past both Child SA rekeys and the IKE rekey). */
const ECHOES = 220;

const work = mkdtempSync(join(tmpdir(), "ipsec-wasm-kernel-tun-"));
const lab = new NetnsLab("kt");
let vm: KernelVm | undefined;
let up: Spawned | undefined;

after(async () => {
  if (up) await lab.stop(up, "SIGKILL", 2000);
  await vm?.stop().catch(() => undefined);
  await lab.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const STRONGSWAN_CONF = `charon {
  load_modular = no
  load = random nonce aes sha1 sha2 hmac gcm curve25519 kdf kernel-netlink socket-default vici
  install_routes = yes
  plugins {
    socket-default {
      use_ipv6 = no
    }
  }
  filelog {
    main {
      path = /tmp/charon.log
      append = no
      flush_line = yes
      default = 1
      ike = 2
      knl = 2
      chd = 2
    }
  }
}
swanctl {
  load = random
}
`;

/** The guest's side: a responder that never rekeys first (1 h), ESP in the kernel. */
const GUEST_SWANCTL = `connections {
  wasm {
    version = 2
    local_addrs = ${GUEST_ADDR}
    remote_addrs = %any
    proposals = aes128gcm16-prfsha256-x25519
    rekey_time = 1h
    mobike = no
    local {
      auth = psk
      id = kernel.example.org
    }
    remote {
      auth = psk
      id = wasm.example.org
    }
    children {
      net {
        local_ts = 10.2.0.0/24
        remote_ts = ${OUR_INNER}/32
        esp_proposals = aes128gcm16
        rekey_time = 1h
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = kernel.example.org
    id-2 = wasm.example.org
    secret = "${PSK}"
  }
}
`;

/** Ours: the initiator, rekeying the Child SA every 20 s and the IKE SA every 30 s, no jitter. */
const OUR_SWANCTL = `connections {
  kernel {
    local_addrs = ${OURS}
    remote_addrs = ${FWD}
    proposals = aes128gcm16-prfsha256-x25519
    rekey_time = 30s
    rand_time = 0s
    local {
      auth = psk
      id = wasm.example.org
    }
    remote {
      auth = psk
      id = kernel.example.org
    }
    children {
      net {
        local_ts = ${OUR_INNER}/32
        remote_ts = 10.2.0.0/24
        esp_proposals = aes128gcm16
        rekey_time = 20s
        rand_time = 0s
      }
    }
  }
}
secrets {
  ike-1 {
    id-1 = wasm.example.org
    id-2 = kernel.example.org
    secret = "${PSK}"
  }
}
`;

interface OurChild {
  uniqueId: number;
  in: { spi: string; packets: string };
  out: { spi: string; packets: string };
}
interface OurIke {
  uniqueId: number;
  state: string;
  children: OurChild[];
}

/** `ipsec-wasm status --json` of our one `up`: its IKE SA and Child SA. */
function status(tmp: string): { ike: OurIke; child: OurChild } {
  const r = spawnSync(process.execPath, [CLI, "status", "--json"], {
    env: { ...process.env, TMPDIR: tmp },
    encoding: "utf8",
    timeout: 15_000,
  });
  assert.equal(r.status, 0, `status --json: ${r.stdout}${r.stderr}`);
  const reports = JSON.parse(r.stdout) as { ikeSas: OurIke[] }[];
  assert.equal(reports.length, 1, r.stdout);
  const ikes = reports[0]!.ikeSas.filter((s) => s.state === "ESTABLISHED");
  assert.equal(ikes.length, 1, r.stdout);
  const ike = ikes[0]!;
  const child = ike.children.reduce((a, b) => (b.uniqueId > a.uniqueId ? b : a));
  return { ike, child };
}

const spiHex = (s: XfrmState): string => s.spi.toString(16).padStart(8, "0");

/** The guest's SA pair for our Child SA: its inbound is our outbound and the other way round. */
function guestPair(states: XfrmState[], child: OurChild): { gin: XfrmState; gout: XfrmState } {
  const gin = states.find((s) => s.dst === GUEST_ADDR && spiHex(s) === child.out.spi);
  const gout = states.find((s) => s.src === GUEST_ADDR && spiHex(s) === child.in.spi);
  assert.ok(
    gin && gout,
    `guest XFRM has no SAs ${child.out.spi}/${child.in.spi}: ${JSON.stringify(states.map(spiHex))}`,
  );
  return { gin, gout };
}

test(
  "the Linux kernel's XFRM (charon + kernel-netlink in Debian's kernel under QEMU) as the far end of `up --tun`: system ping through our TUN across two Child SA rekeys and an IKE rekey, no loss; the kernel counts on the new SAs; nothing left after SIGTERM",
  { timeout: 240_000 },
  async (t) => {
    const t0 = Date.now();
    requireNetns([{ cmd: "ping", pkg: "iputils-ping" }]);
    const ns = lab.netns();
    lab.ip(["-n", ns, "addr", "add", `${OURS}/32`, "dev", "lo"]);
    lab.ip(["-n", ns, "addr", "add", `${FWD}/32`, "dev", "lo"]);

    vm = await KernelVm.boot({
      netns: ns,
      hostfwd: [`udp:${FWD}:500-${GUEST_ADDR}:500`, `udp:${FWD}:4500-${GUEST_ADDR}:4500`],
      strongswan: true,
      lifetimeSec: 200,
    });
    const booted = Date.now();
    const release = vm.kernelRelease;
    const conf = vm.putFile("strongswan.conf", STRONGSWAN_CONF);
    const swanctl = vm.putFile("swanctl.conf", GUEST_SWANCTL);
    const charonLog = async (): Promise<string> =>
      vm ? (await vm.exec("tail -n 60 /tmp/charon.log /tmp/charon.out 2>&1")).out : "";
    // 10.2.0.1 behind the guest; a route to our outer address through QEMU's virtual host.
    const started = await vm.sh(
      `ip addr add ${GUEST_INNER}/32 dev lo
ip route add 198.18.2.0/24 via ${HOST_ADDR_IN_GUEST} dev eth0
cp ${swanctl} /etc/swanctl/swanctl.conf
export STRONGSWAN_CONF=${conf}
setsid charon > /tmp/charon.out 2>&1 < /dev/null &
i=0; while [ ! -S /run/charon.vici ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
swanctl --load-all`,
      40,
    );
    assert.match(started, /loaded connection 'wasm'/, started);

    const tmp = mkdtempSync(join(work, "up-"));
    const ourConf = join(work, "swanctl.conf");
    writeFileSync(ourConf, OUR_SWANCTL);
    const tun = `${lab.prefix}t`;
    const u = lab.spawn(ns, [process.execPath, CLI, "up", "--conf", ourConf, "--tun", tun], { TMPDIR: tmp });
    up = u;
    t.after(() => lab.stop(u, "SIGKILL", 2000));
    try {
      await u.waitFor(new RegExp(`${tun}: routes 10\\.2\\.0\\.0/24`), 30_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- charon:\n${await charonLog()}`, { cause: e });
    }
    const established = Date.now();
    const first = status(tmp);
    assert.equal(first.child.uniqueId, 1);
    const firstStates = await vm.xfrmStates();
    const firstPair = guestPair(firstStates, first.child);
    assert.equal(firstPair.gin.aead?.name, "rfc4106(gcm(aes))");
    assert.match(vm.consoleLog(), /ready/);
    const rekeyLines = (): { child: number; ike: number } => ({
      child: (u.out().match(/rekeying CHILD_SA net\{\d+\}/g) ?? []).length,
      ike: (u.out().match(/IKE_SA kernel\[\d+\] rekeyed to kernel\[\d+\]/g) ?? []).length,
    });
    assert.deepEqual(rekeyLines(), { child: 0, ike: 0 }, "no rekey before the ping starts");

    // Before, during and after the rekeys: every echo answered.
    const pingStart = Date.now();
    const ping = await lab.exec(ns, ["ping", "-c", String(ECHOES), "-i", "0.2", "-W", "2", GUEST_INNER], 70_000);
    const pingSec = (Date.now() - pingStart) / 1000;
    assert.match(
      ping.stdout,
      new RegExp(`${ECHOES} packets transmitted, ${ECHOES} received, 0% packet loss`),
      `${ping.stdout}${ping.stderr}\n--- up:\n${u.out().slice(-4000)}\n--- charon:\n${await charonLog()}`,
    );
    const rekeys = rekeyLines();
    assert.ok(rekeys.child >= 2 && rekeys.ike >= 1, `rekeys during the ping: ${JSON.stringify(rekeys)}\n${u.out()}`);

    // The new SAs: ours (status) and the guest kernel's agree, and are not the first ones.
    const now = status(tmp);
    assert.ok(now.ike.uniqueId > first.ike.uniqueId, `IKE SA rekeyed: #${first.ike.uniqueId} -> #${now.ike.uniqueId}`);
    assert.ok(now.child.uniqueId >= 3, `Child SA #${now.child.uniqueId}`);
    assert.notEqual(now.child.in.spi, first.child.in.spi);
    assert.notEqual(now.child.out.spi, first.child.out.spi);
    const s1 = guestPair(await vm.xfrmStates(), now.child);
    assert.ok(s1.gin.packets > 0 && s1.gout.packets > 0, `kernel counters on the new SAs: ${JSON.stringify(s1)}`);
    // Exactly the next 10 echoes on those SAs, both ways (the next Child SA rekey is ~10 s away).
    const ping2 = await lab.exec(ns, ["ping", "-c", "10", "-i", "0.2", "-W", "2", GUEST_INNER], 20_000);
    assert.match(ping2.stdout, /10 packets transmitted, 10 received, 0% packet loss/, ping2.stdout + ping2.stderr);
    const s2 = guestPair(await vm.xfrmStates(), now.child);
    assert.equal(status(tmp).child.uniqueId, now.child.uniqueId, "no rekey during the counted ping");
    assert.equal(s2.gin.packets - s1.gin.packets, 10, "the kernel decrypted our 10 echo requests on the new SA");
    assert.equal(s2.gout.packets - s1.gout.packets, 10, "the kernel encrypted its 10 echo replies on the new SA");
    assert.equal(s2.gin.replayDrops + s2.gin.failed, 0);
    const stat = await vm.xfrmStat();
    const bad = Object.entries(stat).filter(([, v]) => v > 0);
    assert.deepEqual(bad, [], `guest /proc/net/xfrm_stat: ${JSON.stringify(stat)}`);
    const guestChildren = Number(
      (await vm.sh("grep -o 'CHILD_SA net{[0-9]*} established' /tmp/charon.log | sort -u | wc -l")).trim(),
    );
    assert.equal(guestChildren, now.child.uniqueId, "charon established as many Child SAs as we did");

    // SIGTERM: DELETE to charon, TUN and routes gone, the guest kernel's SAs removed.
    assert.equal(await lab.stop(u, "SIGTERM"), 0, u.out().slice(-3000));
    assert.match(u.out(), /deleted, confirmed by peer/);
    const left = lab.state(ns);
    assert.deepEqual(left.tuns, []);
    assert.deepEqual(
      left.routes.filter((r) => /^10\./.test(r)),
      [],
      left.routes.join("\n"),
    );
    let guestStates = await vm.xfrmStates();
    for (let i = 0; i < 20 && guestStates.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      guestStates = await vm.xfrmStates();
    }
    assert.deepEqual(guestStates, [], "charon removed the kernel's SAs after our DELETE");

    // QEMU: the agent powers off; stop() kills run.sh (and QEMU under it) by PID if it does not.
    const share = vm.shareDir;
    assert.equal(await vm.stop(), 0, "the VM powered off cleanly");
    vm = undefined;
    const qemuLeft = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/cmdline`, "utf8").includes(share);
        } catch {
          return false;
        }
      });
    assert.deepEqual(qemuLeft, [], "no QEMU of this test left");
    await lab.cleanup();
    assert.deepEqual(lab.leftovers(), { namespaces: [], pids: [] });

    const spis = (c: OurChild): string => `in ${c.in.spi} out ${c.out.spi}`;
    t.diagnostic(
      `kernel ${release} boot ${((booted - t0) / 1000).toFixed(1)} s, IKE+Child SA up ${((established - booted) / 1000).toFixed(1)} s later; ` +
        `ping ${ECHOES}/${ECHOES} in ${pingSec.toFixed(1)} s across ${rekeys.child} Child SA rekeys and ${rekeys.ike} IKE rekey(s); ` +
        `Child SA #1 ${spis(first.child)} -> #${now.child.uniqueId} ${spis(now.child)}, IKE SA #${first.ike.uniqueId} -> #${now.ike.uniqueId}; ` +
        `guest kernel on the new SAs: in ${s1.gin.packets} -> ${s2.gin.packets} packets, out ${s1.gout.packets} -> ${s2.gout.packets}; ` +
        `wall ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  },
);
