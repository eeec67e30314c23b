// TUN offloads (IFF_VNET_HDR, TUNSETOFFLOAD: TSO/USO super-packets read and split, decrypted
// segments coalesced into GRO writes) between two ipsec-wasm peers in two network namespaces joined
// by a veth (198.18.10.1 <-> 198.18.10.2): ping, iperf3 TCP and UDP (1200 and 64-byte datagrams)
// both ways, IPv6 inside, with the offloads on, off (IPSEC_WASM_TUN_OFFLOAD=off, with
// IPSEC_WASM_UDP_GRO=off) and on at one end only (the wire format does not change); the workers'
// counters show super-packets read and written, and runs of ESP datagrams received whole on the
// UDP_GRO socket, only when on; afterwards no TUN, route, namespace or process is left. Needs
// root, iproute2, iputils-ping, iperf3 and a built dist/ (npm run build).
import { test } from "node:test";
import assert from "node:assert/strict";

import { join } from "node:path";
import {
  tunnelJson,
  type IperfEnd,
  vethPair,
  startTunPair,
  assertNothingLeft,
  type TunPair,
} from "../helpers/netns.ts";
import { repoPath } from "../helpers/interop.ts";
import { writeTunConf, type TunSide } from "../helpers/tun-conf.ts";

const CLI = repoPath("bin/ipsec-wasm.mjs");
const A_OUT = "198.18.10.1",
  B_OUT = "198.18.10.2";
const veth = vethPair("to", `${A_OUT}/24`, `${B_OUT}/24`, [
  { cmd: "ping", pkg: "iputils-ping" },
  { cmd: "iperf3", pkg: "iperf3" },
]);
const { lab, work } = veth;

const A: TunSide = { out: A_OUT, inner: "10.92.0.1", id: "a.example" },
  B: TunSide = { out: B_OUT, inner: "10.92.0.2", id: "b.example" };

function conf(name: string, me: TunSide, peer: TunSide): string {
  return writeTunConf(join(work, `${name}.conf`), me, peer, { esp: "chacha20poly1305", psk: "tun-offload-test-psk" });
}

type Pair = TunPair;

const OFF = { IPSEC_WASM_TUN_OFFLOAD: "off", IPSEC_WASM_UDP_GRO: "off" };

/** Starts B (`--listen`, environment `envB`) and A (`envA`), each with a TUN; waits for both routes. */
function pair(tag: string, envA: Record<string, string>, envB: Record<string, string>, sides = [A, B]): Promise<Pair> {
  const [sa, sb] = sides as [TunSide, TunSide];
  return startTunPair(veth, tag, (w) =>
    w === "a"
      ? { cmd: [process.execPath, CLI], conf: conf(`${tag}-a`, sa, sb), env: envA }
      : { cmd: [process.execPath, CLI], conf: conf(`${tag}-b`, sb, sa), env: envB },
  );
}

async function stopPair(p: Pair): Promise<void> {
  const [ca, cb] = await Promise.all([lab.stop(p.a), lab.stop(p.b)]);
  assert.equal(ca, 0, p.a.out());
  assert.equal(cb, 0, p.b.out());
  for (const [ns, tun] of [
    [veth.nsA, p.tunA],
    [veth.nsB, p.tunB],
  ] as const) {
    const st = lab.state(ns);
    assert.deepEqual(st.tuns, [], `no TUN left in ${ns}`);
    assert.ok(
      !st.routes.some((r) => r.includes(tun) || r.includes("10.92.") || r.includes("fd00:92")),
      st.routes.join("\n"),
    );
  }
}

const ping = (ns: string, dst: string, extra: string[] = []): Promise<string> => lab.ping(ns, dst, extra);
const iperf = (srvNs: string, srv: string, cliNs: string, args: string[]): Promise<IperfEnd> =>
  lab.iperf(srvNs, srv, cliNs, args);

interface Io {
  tunRead: number;
  tunWritten: number;
  tunGsoRead: number;
  tunGsoErrors: number;
  tunGroWritten: number;
  tunGroPackets: number;
  tunWriteErrors: number;
  policyDrops: number;
  udpReceived: number;
  udpGroRuns: number;
}
const io = async (pid: number, tmp: string): Promise<Io> => (await tunnelJson(pid, tmp)).io as unknown as Io;

/** Ping, TCP both ways, UDP 1200 B and 64 B both ways; returns TCP Mbit/s (A->B, B->A). */
async function traffic(p: Pair, a: TunSide, b: TunSide): Promise<[number, number]> {
  const v6 = a.inner.includes(":") ? ["-6"] : [];
  assert.match(await ping(veth.nsA, b.inner, v6), /3 packets transmitted, 3 received/);
  assert.match(await ping(veth.nsB, a.inner, v6), /3 packets transmitted, 3 received/);
  // a ping as large as the TUN MTU (1438 - 28 bytes of headers)
  assert.match(await ping(veth.nsA, b.inner, [...v6, "-s", v6.length ? "1390" : "1410"]), /3 received/);
  const ab = await iperf(veth.nsB, b.inner, veth.nsA, v6);
  const ba = await iperf(veth.nsB, b.inner, veth.nsA, [...v6, "-R"]);
  assert.ok(ab.sum_received!.bytes > 1e6 && ba.sum_received!.bytes > 1e6, JSON.stringify({ ab, ba }));
  for (const len of ["1200", "64"])
    for (const dir of [[], ["-R"]]) {
      const u = await iperf(veth.nsB, b.inner, veth.nsA, [
        ...v6,
        "-u",
        "-b",
        len === "64" ? "5M" : "20M",
        "-l",
        len,
        ...dir,
      ]);
      assert.ok((u.sum!.packets ?? 0) > 1000, JSON.stringify(u.sum));
      assert.ok((u.sum!.lost_percent ?? 100) < 10, `UDP ${len} B ${dir.join("")}: loss ${u.sum!.lost_percent}%`);
    }
  return [ab.sum_received!.bits_per_second / 1e6, ba.sum_received!.bits_per_second / 1e6];
}

for (const [tag, sides] of [
  ["v4", [A, B]],
  [
    "v6",
    [
      { ...A, inner: "fd00:92::1" },
      { ...B, inner: "fd00:92::2" },
    ],
  ],
] as const) {
  test(
    `offloads on at both ends (${tag} inside): TSO super-packets are split, decrypted segments go out as GRO writes; ping, TCP and UDP both ways`,
    { timeout: 180_000 },
    async (t) => {
      const p = await pair(`on${tag}`, {}, {}, [...sides]);
      t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
      const [ab, ba] = await traffic(p, sides[0], sides[1]);
      const ia = await io(p.a.pid, p.tmpA),
        ib = await io(p.b.pid, p.tmpB);
      for (const [name, x] of [
        ["A", ia],
        ["B", ib],
      ] as const) {
        assert.ok(x.tunGsoRead > 0, `${name} read TSO super-packets: ${JSON.stringify(x)}`);
        assert.ok(
          x.tunGroWritten > 0 && x.tunGroPackets > x.tunGroWritten,
          `${name} wrote GRO super-packets: ${JSON.stringify(x)}`,
        );
        assert.equal(x.tunGsoErrors, 0, JSON.stringify(x));
        assert.equal(x.tunWriteErrors, 0, JSON.stringify(x));
        assert.equal(x.policyDrops, 0, JSON.stringify(x));
        // the peer sends runs of equal-size ESP datagrams with UDP GSO; over the veth they reach the
        // UDP_GRO socket whole
        assert.ok(x.udpGroRuns > 0, `${name} received GRO runs: ${JSON.stringify(x)}`);
      }
      t.diagnostic(
        `offload on (${tag}): TCP A->B ${ab.toFixed(0)} Mbit/s, B->A ${ba.toFixed(0)} Mbit/s; A read ${ia.tunGsoRead} super-packets, B wrote ${ib.tunGroWritten} holding ${ib.tunGroPackets} packets, B received ${ib.udpReceived} datagrams in ${ib.udpGroRuns} GRO runs and others (short runs, orientation only)`,
      );
      await stopPair(p);
    },
  );
}

test(
  "IPSEC_WASM_TUN_OFFLOAD=off at both ends: no super-packet either way, traffic as before",
  { timeout: 180_000 },
  async (t) => {
    const p = await pair("off", OFF, OFF);
    t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
    const [ab, ba] = await traffic(p, A, B);
    for (const x of [await io(p.a.pid, p.tmpA), await io(p.b.pid, p.tmpB)]) {
      assert.equal(x.tunGsoRead + x.tunGroWritten + x.udpGroRuns, 0, JSON.stringify(x));
      assert.ok(x.tunRead > 1000 && x.tunWritten > 1000, JSON.stringify(x));
    }
    t.diagnostic(`offload off: TCP A->B ${ab.toFixed(0)} Mbit/s, B->A ${ba.toFixed(0)} Mbit/s (orientation only)`);
    await stopPair(p);
  },
);

test(
  "offloads on at one end only (A on, B off): the wire does not change, traffic flows both ways",
  { timeout: 180_000 },
  async () => {
    const p = await pair("mix", {}, OFF);
    await traffic(p, A, B);
    const ia = await io(p.a.pid, p.tmpA),
      ib = await io(p.b.pid, p.tmpB);
    assert.ok(ia.tunGsoRead > 0 && ia.tunGroWritten > 0, JSON.stringify(ia));
    assert.equal(ib.tunGsoRead + ib.tunGroWritten, 0, JSON.stringify(ib));
    await stopPair(p);
  },
);

test("afterwards: no TUN device, route, namespace or process of these tests is left", { timeout: 30_000 }, () =>
  assertNothingLeft(veth),
);
