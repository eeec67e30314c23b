// Two ipsec-wasm peers as a VPN (`up --tun`, issue 15) in two network namespaces joined by a veth
// (198.18.8.1 <-> 198.18.8.2): the kernel's own ping, TCP and UDP (iperf3) go through both TUNs,
// both ways, with recvmmsg/sendmmsg and with node:dgram; the TUN MTU follows --mtu-path and a
// larger packet with DF gets ICMP "fragmentation needed" from the tunnel; a child rekey under a
// ping stream loses nothing; afterwards no TUN, route, namespace or process is left. Needs root,
// iproute2, iputils-ping, iperf3 and a built dist/ (npm run build).
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
const A_OUT = "198.18.8.1",
  B_OUT = "198.18.8.2";
const A_IN = "10.91.0.1",
  B_IN = "10.91.0.2";
const veth = vethPair("tp", `${A_OUT}/24`, `${B_OUT}/24`, [
  { cmd: "ping", pkg: "iputils-ping" },
  { cmd: "iperf3", pkg: "iperf3" },
]);
const { lab, work } = veth;

function conf(name: string, me: TunSide, peer: TunSide, extra = ""): string {
  return writeTunConf(join(work, `${name}.conf`), me, peer, { child: extra, psk: "tun-peers-test-psk" });
}

const A = { out: A_OUT, inner: A_IN, id: "a.example" },
  B = { out: B_OUT, inner: B_IN, id: "b.example" };

type Pair = TunPair;

/** Starts B (`--listen`) and A, each with a TUN; waits for both routes. */
function pair(tag: string, args: string[] = [], childExtra = "", sides: [typeof A, typeof B] = [A, B]): Promise<Pair> {
  const [sa, sb] = sides;
  return startTunPair(
    veth,
    tag,
    (w) => ({
      cmd: [process.execPath, CLI],
      conf: w === "a" ? conf(`${tag}-a`, sa, sb, childExtra) : conf(`${tag}-b`, sb, sa, childExtra),
    }),
    args,
  );
}

/**
 * Stops both (DELETE is sent): with SIGTERM, or A with `ipsec-wasm down --all` and B with SIGINT;
 * expects exit 0 and nothing of theirs left in the namespaces.
 */
async function stopPair(p: Pair, how: "SIGTERM" | "down+SIGINT" = "SIGTERM"): Promise<void> {
  let ca: number | undefined, cb: number | undefined;
  if (how === "SIGTERM") {
    [ca, cb] = await Promise.all([lab.stop(p.a), lab.stop(p.b)]);
  } else {
    const d = await lab.exec(veth.nsA, [process.execPath, CLI, "down", "--all"], 20_000, { TMPDIR: p.tmpA });
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stdout, /deleted, confirmed by peer/);
    ca = await Promise.race([p.a.exited, new Promise<undefined>((r) => setTimeout(r, 10_000))]);
    cb = await lab.stop(p.b, "SIGINT");
  }
  assert.equal(ca, 0, p.a.out());
  assert.equal(cb, 0, p.b.out());
  for (const [ns, tun] of [
    [veth.nsA, p.tunA],
    [veth.nsB, p.tunB],
  ]) {
    const st = lab.state(ns!);
    assert.deepEqual(st.tuns, [], `no TUN left in ${ns}`);
    assert.ok(
      !st.routes.some((r) => r.includes(tun!) || r.includes("10.91.") || r.includes("fd00:91")),
      `no route of ${tun} left:\n${st.routes.join("\n")}`,
    );
  }
}

const ping = (ns: string, dst: string, extra: string[] = []): Promise<string> => lab.ping(ns, dst, extra);
const iperf = (srvNs: string, srv: string, cliNs: string, args: string[]): Promise<IperfEnd> =>
  lab.iperf(srvNs, srv, cliNs, args);

for (const io of ["mmsg", "dgram"] as const) {
  test(
    `two ipsec-wasm peers, --io ${io}: the system's ping, TCP and UDP through both TUNs, both ways; nothing left after SIGTERM`,
    { timeout: 120_000 },
    async (t) => {
      const p = await pair(io, ["--io", io]);
      t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
      assert.match(lab.ip(["-n", veth.nsA, "-o", "addr", "show", "dev", p.tunA]), new RegExp(`inet ${A_IN}/32`));
      assert.match(
        lab.ip(["-n", veth.nsA, "-o", "link", "show", "dev", p.tunA]),
        /mtu 1438 /,
        "innerMtu(aes128gcm16, 1500, UDP) = 1438",
      );
      assert.match(lab.ip(["-n", veth.nsA, "route", "get", B_IN]), new RegExp(`dev ${p.tunA} src ${A_IN}`));
      assert.match(await ping(veth.nsA, B_IN), /3 packets transmitted, 3 received/);
      assert.match(await ping(veth.nsB, A_IN), /3 packets transmitted, 3 received/);
      // ipsec-wasm answers nothing itself: a ping to an address nobody has in B's namespace is lost.
      const tcpAB = await iperf(veth.nsB, B_IN, veth.nsA, []);
      const tcpBA = await iperf(veth.nsB, B_IN, veth.nsA, ["-R"]);
      assert.ok(tcpAB.sum_received!.bytes > 1e6 && tcpBA.sum_received!.bytes > 1e6, JSON.stringify({ tcpAB, tcpBA }));
      const udpAB = await iperf(veth.nsB, B_IN, veth.nsA, ["-u", "-b", "20M", "-l", "1200"]);
      const udpBA = await iperf(veth.nsB, B_IN, veth.nsA, ["-u", "-b", "20M", "-l", "1200", "-R"]);
      for (const u of [udpAB, udpBA]) {
        assert.ok((u.sum!.packets ?? 0) > 1000, JSON.stringify(u.sum));
        assert.ok((u.sum!.lost_percent ?? 100) < 10, `UDP loss ${u.sum!.lost_percent}%`);
      }
      const j = await tunnelJson(p.a.pid, p.tmpA);
      assert.equal(j.tun, p.tunA);
      const ioA = j.io as { tunRead: number; udpSent: number; noRoute: number; policyDrops: number };
      assert.ok(ioA.tunRead > 1000 && ioA.udpSent >= ioA.tunRead - ioA.noRoute, JSON.stringify(ioA));
      t.diagnostic(
        `${io}: TCP A->B ${(tcpAB.sum_received!.bits_per_second / 1e6).toFixed(0)} Mbit/s, B->A ${(tcpBA.sum_received!.bits_per_second / 1e6).toFixed(0)} Mbit/s (short runs, orientation only)`,
      );
      await stopPair(p);
    },
  );
}

test(
  "two packet workers (--workers 2): the TUN reader encrypts, ESP is steered by SPI to the other worker, which decrypts; ping and TCP both ways",
  { timeout: 120_000 },
  async (t) => {
    const p = await pair("w2", ["--workers", "2"]);
    t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
    assert.match(p.a.out(), /2 packet workers started/);
    assert.match(await ping(veth.nsA, B_IN), /3 packets transmitted, 3 received/);
    assert.match(await ping(veth.nsB, A_IN), /3 packets transmitted, 3 received/);
    const tcp = await iperf(veth.nsB, B_IN, veth.nsA, ["--bidir"]);
    assert.ok(tcp.sum_received!.bytes > 1e6, JSON.stringify(tcp));
    const j = (await tunnelJson(p.a.pid, p.tmpA)) as unknown as {
      workers: { tunRead: number; tunWritten: number; udpReceived: number; ikeReceived: number }[];
    };
    const [out, inn] = j.workers;
    assert.ok(
      out!.tunRead > 1000 && out!.tunWritten === 0,
      `worker 0 reads the TUN and decrypts nothing: ${JSON.stringify(out)}`,
    );
    assert.ok(
      inn!.tunRead === 0 && inn!.tunWritten > 1000 && inn!.ikeReceived === 0,
      `worker 1 gets the ESP, no IKE: ${JSON.stringify(inn)}`,
    );
    t.diagnostic(
      `2 workers: TCP --bidir ${(tcp.sum_received!.bits_per_second / 1e6).toFixed(0)} Mbit/s received (2 s, orientation only)`,
    );
    await stopPair(p);
  },
);

test(
  "IPv6 inside (fd00:91::1/128 <-> fd00:91::2/128 over IPv4): ping -6 both ways and TCP through the TUNs",
  { timeout: 60_000 },
  async (t) => {
    const a6 = { ...A, inner: "fd00:91::1" },
      b6 = { ...B, inner: "fd00:91::2" };
    const p = await pair("v6", [], "", [a6, b6]);
    t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
    assert.match(
      lab.ip(["-n", veth.nsA, "-6", "route", "get", b6.inner]),
      new RegExp(`dev ${p.tunA} .*src ${a6.inner}`),
    );
    assert.match(await ping(veth.nsA, b6.inner, ["-6"]), /3 packets transmitted, 3 received/);
    assert.match(await ping(veth.nsB, a6.inner, ["-6"]), /3 packets transmitted, 3 received/);
    const tcp = await iperf(veth.nsB, b6.inner, veth.nsA, ["-6"]);
    assert.ok(tcp.sum_received!.bytes > 1e6, JSON.stringify(tcp));
    await stopPair(p);
  },
);

test(
  "MTU: --mtu-path 1400 gives the TUN innerMtu (1338 for aes128gcm16 in UDP); a larger packet with DF gets ICMP fragmentation-needed",
  { timeout: 60_000 },
  async (t) => {
    const p = await pair("mtu", ["--mtu-path", "1400"]);
    t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
    assert.match(lab.ip(["-n", veth.nsA, "-o", "link", "show", "dev", p.tunA]), /mtu 1338 /);
    assert.match(await ping(veth.nsA, B_IN, ["-M", "do", "-s", "1310"]), /3 received/, "1338-byte packets fit");
    // The host would never send more than the TUN MTU: raise it, as a misconfigured host might.
    lab.ip(["-n", veth.nsA, "link", "set", "dev", p.tunA, "mtu", "1500"]);
    const big = await lab.exec(veth.nsA, ["ping", "-c", "1", "-W", "2", "-M", "do", "-s", "1400", B_IN], 10_000);
    assert.match(big.stdout + big.stderr, /[Ff]rag(mentation)? needed.*mtu = 1338/, big.stdout + big.stderr);
    await stopPair(p);
  },
);

test(
  "a child rekey every 3 s under a ping stream through the TUNs: no loss, the worker gets the new SAs before the old go; `down` and SIGINT remove everything",
  { timeout: 60_000 },
  async (t) => {
    const p = await pair("rk", [], "rekey_time = 3s");
    t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
    const r = await lab.exec(veth.nsA, ["ping", "-c", "40", "-i", "0.2", "-W", "2", B_IN], 30_000);
    assert.match(r.stdout, /40 packets transmitted, 40 received, 0% packet loss/, r.stdout + p.a.out().slice(-3000));
    assert.match(p.a.out() + p.b.out(), /rekeying CHILD_SA|peer rekeys CHILD_SA/);
    await stopPair(p, "down+SIGINT");
  },
);

test(
  "`up --tun` refuses bad input with one line and exit 2: unknown option, bad name, --io without --tun, bad --mtu-path",
  { timeout: 30_000 },
  async () => {
    const c = conf("refuse", A, B);
    const cases: [string[], RegExp][] = [
      [["--tun", "x", "--bogus"], /unknown option '--bogus'/],
      [["--tun", "bad/name"], /not a usable interface name/],
      [["--tun", "0123456789abcdefg"], /not a usable interface name/],
      [["--io", "mmsg"], /--io mmsg needs --tun/],
      [["--tun", "x", "--io", "fast"], /--io must be mmsg or dgram/],
      [["--tun", "x", "--mtu-path", "100"], /--mtu-path must be an integer 576\.\.65535/],
      [["--tun", "x", "--workers", "3"], /--workers must be 1 or 2/],
      [["--tun", "x", "--workers", "2", "--io", "dgram"], /--workers 2 needs --io mmsg/],
    ];
    for (const [args, re] of cases) {
      const r = await lab.exec(veth.nsA, [process.execPath, CLI, "up", "--conf", c, ...args], 15_000);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  },
);

test("afterwards: no TUN device, route, namespace or process of these tests is left", { timeout: 30_000 }, () =>
  assertNothingLeft(veth),
);
