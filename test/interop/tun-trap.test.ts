// start_action = trap with `up --tun` (issue 13), in two network namespaces joined by a veth: A
// installs the trap, its TUN comes up with a route for the trapped selector before any SA; the
// kernel's first ping to B's inner address reaches the packet worker, which finds no SA and
// reports it, and the daemon initiates (that packet is lost, as with the kernel's acquire); once
// the Child SA is up the TUN has the inner address, the kernel picks it as the source and pings go
// through. `status` counts the acquire. Needs root, iproute2, iputils-ping and a built dist/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { vethPair } from "../helpers/netns.ts";
import { repoPath } from "../helpers/interop.ts";
import { writeTunConf, type TunSide } from "../helpers/tun-conf.ts";

const CLI = repoPath("bin/ipsec-wasm.mjs");
const A_OUT = "198.18.9.1",
  B_OUT = "198.18.9.2";
const A_IN = "10.92.0.1",
  B_IN = "10.92.0.2";
const veth = vethPair("tt", `${A_OUT}/24`, `${B_OUT}/24`, [{ cmd: "ping", pkg: "iputils-ping" }]);
const { lab, work } = veth;

function conf(name: string, me: [string, string, string], peer: [string, string, string], child: string): string {
  const side = ([out, inner, id]: [string, string, string]): TunSide => ({ out, inner, id });
  return writeTunConf(join(work, `${name}.conf`), side(me), side(peer), { child, psk: "tun-trap-test-psk" });
}

test(
  "start_action = trap with --tun: the first ping starts the IKE SA, the next ones go through",
  { timeout: 90_000 },
  async (t) => {
    const A: [string, string, string] = [A_OUT, A_IN, "a.example"],
      B: [string, string, string] = [B_OUT, B_IN, "b.example"];
    const tmpA = join(work, "a"),
      tmpB = join(work, "b");
    mkdirSync(tmpA);
    mkdirSync(tmpB);
    const tunA = `${lab.prefix}a`,
      tunB = `${lab.prefix}b`;
    const b = lab.spawn(
      veth.nsB,
      [process.execPath, CLI, "up", "--listen", "--conf", conf("b", B, A, ""), "--tun", tunB],
      {
        TMPDIR: tmpB,
      },
    );
    await b.waitFor(/listening on/, 15_000);
    const a = lab.spawn(
      veth.nsA,
      [process.execPath, CLI, "up", "--conf", conf("a", A, B, "start_action = trap"), "--tun", tunA],
      { TMPDIR: tmpA },
    );
    t.after(() => lab.stop(a, "SIGKILL", 2000).then(() => lab.stop(b, "SIGKILL", 2000)));
    await a.waitFor(/up: trap installed for CHILD_SA net \(10\.92\.0\.2\/32\)/, 15_000);
    await a.waitFor(new RegExp(`${tunA}: routes 10\\.92\\.0\\.2/32 \\(trapped\\)`), 15_000);
    assert.doesNotMatch(a.out(), /initiating IKE_SA/, "a trap sends nothing by itself");
    // The trigger: lost (dropped at the trap), but it starts the negotiation.
    await lab.exec(veth.nsA, ["ping", "-c", "1", "-W", "1", B_IN], 10_000);
    await a.waitFor(/acquire: packet to 10\.92\.0\.2 hit the trap of CHILD_SA net/, 10_000);
    await a.waitFor(/up: CHILD_SA net/, 15_000);
    await b.waitFor(new RegExp(`${tunB}: routes`), 10_000);
    assert.match(lab.ip(["-n", veth.nsA, "-o", "addr", "show", "dev", tunA]), new RegExp(`inet ${A_IN}/32`));
    const r = await lab.exec(veth.nsA, ["ping", "-c", "3", "-i", "0.2", "-W", "2", B_IN], 20_000);
    assert.match(r.stdout, /3 packets transmitted, 3 received/, r.stdout + r.stderr + a.out());
    const st = await lab.exec(veth.nsA, [process.execPath, CLI, "status"], 20_000, { TMPDIR: tmpA });
    assert.match(st.stdout, /^t\/net, TRAP, reqid 1, 1 acquires, \d+ packets dropped$/m, st.stdout);
    assert.equal(await lab.stop(a), 0, a.out());
    assert.equal(await lab.stop(b), 0, b.out());
  },
);
