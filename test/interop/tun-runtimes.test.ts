// `ipsec-wasm up --tun` under Deno and Bun (issue 15): two peers in two network namespaces joined
// by a veth (198.18.10.1 <-> 198.18.10.2), one run by the real Deno binary (node_modules/.bin/deno,
// the devDependency; Deno.dlopen of libc) or Bun (test/consumers/tools' pinned binary; bun:ffi),
// the other by Node (koffi); the kernel's ping and iperf3 TCP and UDP go through both TUNs both
// ways; the packet worker (node:worker_threads) and its recvmmsg/sendmmsg loop run in that
// runtime. Deno runs with the permission flags the README lists, and without --allow-ffi it exits
// 20 with one line. Bun also runs test/deno/libc-ffi-check.ts. Afterwards no TUN, route,
// namespace or process is left. A runtime that cannot start fails its test (never skipped).
// Needs root, iproute2, iputils-ping, iperf3 and a built dist/ (npm run build).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
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
import { tool } from "../consumers/harness.ts";

const CLI = repoPath("bin/ipsec-wasm.mjs");
const DENO = repoPath("node_modules/.bin/deno");
/** What `deno run` needs for `up --tun` (README): libc, UDP, the conf, the control socket, env, `ip`. */
const DENO_FLAGS = ["--allow-ffi", "--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-run"];
const A_OUT = "198.18.10.1",
  B_OUT = "198.18.10.2";
const A_IN = "10.93.0.1",
  B_IN = "10.93.0.2";
const veth = vethPair(
  "tr",
  `${A_OUT}/24`,
  `${B_OUT}/24`,
  [
    { cmd: "ping", pkg: "iputils-ping" },
    { cmd: "iperf3", pkg: "iperf3" },
  ],
  () => {
    assert.ok(existsSync(repoPath("dist/io/libc-deno.js")), "dist/ is missing or old: npm run build");
  },
);
const { lab, work } = veth;

/** The command that runs the CLI in each runtime. */
const runtimes: Record<"node" | "deno" | "bun", () => Promise<string[]>> = {
  node: () => Promise.resolve([process.execPath, CLI]),
  deno: () => Promise.resolve([DENO, "run", ...DENO_FLAGS, CLI]),
  bun: async () => [await tool("bun"), CLI],
};

/** The runtime's version, or a thrown reason why it cannot start (the test goes red with it). */
function version(bin: string): string {
  if (!existsSync(bin)) throw new Error(`${bin} is missing`);
  const r = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${bin} --version failed: ${r.error?.message ?? r.stderr}`);
  return r.stdout.trim().split("\n")[0]!;
}

const A: TunSide = { out: A_OUT, inner: A_IN, id: "a.example" },
  B: TunSide = { out: B_OUT, inner: B_IN, id: "b.example" };

function conf(name: string, me: TunSide, peer: TunSide): string {
  return writeTunConf(join(work, `${name}.conf`), me, peer, { psk: "tun-runtimes-test-psk" });
}

type Pair = TunPair;

/** Starts B (`--listen`, run by `runB`) and A (initiator, `runA`), each with a TUN; waits for both routes. */
function pair(tag: string, runA: string[], runB: string[], args: string[] = []): Promise<Pair> {
  return startTunPair(
    veth,
    tag,
    (w) =>
      w === "a"
        ? { cmd: runA, conf: conf(`${tag}-a`, A, B), env: { NO_COLOR: "1" } }
        : { cmd: runB, conf: conf(`${tag}-b`, B, A), env: { NO_COLOR: "1" } },
    args,
  );
}

/**
 * `status --json` and then `down --all`, both run by `run` (the runtime under test) against A's `up`
 * (run by the same runtime): the report lists A's established IKE SA with its Child SA, `down`
 * deletes it with the peer's confirmation, and A exits 0 by itself.
 */
async function statusAndDown(p: Pair, run: string[]): Promise<void> {
  const st = await lab.exec(veth.nsA, [...run, "status", "--json"], 30_000, { TMPDIR: p.tmpA, NO_COLOR: "1" });
  assert.equal(st.code, 0, st.stdout + st.stderr);
  const reports = JSON.parse(st.stdout) as { ikeSas: { state: string; children: unknown[] }[] }[];
  assert.equal(reports.length, 1, st.stdout);
  const ikes = reports[0]!.ikeSas.filter((s) => s.state === "ESTABLISHED");
  assert.equal(ikes.length, 1, st.stdout);
  assert.ok(ikes[0]!.children.length >= 1, st.stdout);
  const d = await lab.exec(veth.nsA, [...run, "down", "--all"], 30_000, { TMPDIR: p.tmpA, NO_COLOR: "1" });
  assert.equal(d.code, 0, d.stdout + d.stderr);
  assert.match(d.stdout, /deleted, confirmed by peer/);
  const code = await Promise.race([p.a.exited, new Promise<undefined>((r) => setTimeout(r, 15_000))]);
  assert.equal(code, 0, p.a.out().slice(-3000));
}

/** SIGTERM to both (DELETE is sent): exit 0 and no TUN or route of theirs left. */
async function stopPair(p: Pair): Promise<void> {
  const [ca, cb] = await Promise.all([lab.stop(p.a), lab.stop(p.b)]);
  assert.equal(ca, 0, p.a.out().slice(-3000));
  assert.equal(cb, 0, p.b.out().slice(-3000));
  for (const [ns, tun] of [
    [veth.nsA, p.tunA],
    [veth.nsB, p.tunB],
  ] as const) {
    const st = lab.state(ns);
    assert.deepEqual(st.tuns, [], `no TUN left in ${ns}`);
    assert.ok(
      !st.routes.some((r) => r.includes(tun) || r.includes("10.93.")),
      `no route of ${tun} left:\n${st.routes.join("\n")}`,
    );
  }
}

const ping = (ns: string, dst: string, extra: string[] = []): Promise<string> => lab.ping(ns, dst, extra);
const iperf = (srvNs: string, srv: string, cliNs: string, args: string[]): Promise<IperfEnd> =>
  lab.iperf(srvNs, srv, cliNs, args);

/** Ping, TCP and UDP both ways through the pair; returns a one-line summary. */
async function traffic(p: Pair): Promise<string> {
  assert.match(await ping(veth.nsA, B_IN), /3 packets transmitted, 3 received/, p.a.out().slice(-2000));
  assert.match(await ping(veth.nsB, A_IN), /3 packets transmitted, 3 received/, p.b.out().slice(-2000));
  const tcpAB = await iperf(veth.nsB, B_IN, veth.nsA, []);
  const tcpBA = await iperf(veth.nsB, B_IN, veth.nsA, ["-R"]);
  assert.ok(tcpAB.sum_received!.bytes > 1e6 && tcpBA.sum_received!.bytes > 1e6, JSON.stringify({ tcpAB, tcpBA }));
  const udpAB = await iperf(veth.nsB, B_IN, veth.nsA, ["-u", "-b", "20M", "-l", "1200"]);
  const udpBA = await iperf(veth.nsB, B_IN, veth.nsA, ["-u", "-b", "20M", "-l", "1200", "-R"]);
  for (const u of [udpAB, udpBA]) {
    assert.ok((u.sum!.packets ?? 0) > 1000, JSON.stringify(u.sum));
    assert.ok((u.sum!.lost_percent ?? 100) < 10, `UDP loss ${u.sum!.lost_percent}%`);
  }
  const mbit = (e: IperfEnd): string => (e.sum_received!.bits_per_second / 1e6).toFixed(0);
  return `TCP A->B ${mbit(tcpAB)} Mbit/s, B->A ${mbit(tcpBA)} Mbit/s; UDP 20 Mbit/s loss ${udpAB.sum!.lost_percent?.toFixed(1)}% / ${udpBA.sum!.lost_percent?.toFixed(1)}% (short runs, orientation only)`;
}

/** The worker's counters of the peer `which` run by the runtime under test: packets went through it. */
async function workerMoved(p: Pair, which: "a" | "b"): Promise<void> {
  const j = await tunnelJson((which === "a" ? p.a : p.b).pid, which === "a" ? p.tmpA : p.tmpB);
  const io = j.io as { tunRead: number; tunWritten: number; udpSent: number; udpReceived: number };
  assert.ok(io.tunRead > 1000 && io.tunWritten > 100 && io.udpSent > 1000, JSON.stringify(io));
}

test(
  "Deno runs the initiator (Deno.dlopen, node:worker_threads), Node the responder: ping, TCP and UDP both ways; Deno's `status --json` and `down --all` end it; nothing left",
  { timeout: 150_000 },
  async (t) => {
    t.diagnostic(version(DENO));
    const p = await pair("d", await runtimes.deno(), await runtimes.node());
    t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
    assert.match(p.a.out(), /packet worker started/);
    assert.match(lab.ip(["-n", veth.nsA, "-o", "link", "show", "dev", p.tunA]), /mtu 1438 /);
    t.diagnostic(await traffic(p));
    await workerMoved(p, "a");
    await statusAndDown(p, await runtimes.deno());
    await stopPair(p);
  },
);

test(
  "Deno runs the responder, Node the initiator: ping, TCP and UDP both ways; SIGTERM leaves nothing",
  { timeout: 150_000 },
  async (t) => {
    const p = await pair("e", await runtimes.node(), await runtimes.deno());
    t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
    t.diagnostic(await traffic(p));
    await workerMoved(p, "b");
    await stopPair(p);
  },
);

test("Deno without --allow-ffi: exit 20 and one line naming the flag", { timeout: 60_000 }, async () => {
  const flags = DENO_FLAGS.filter((f) => f !== "--allow-ffi");
  const r = await lab.exec(
    veth.nsA,
    [DENO, "run", ...flags, CLI, "up", "--conf", conf("noffi", A, B), "--tun", `${lab.prefix}nf`],
    30_000,
    { TMPDIR: work, NO_COLOR: "1" },
  );
  assert.equal(r.code, 20, r.stdout + r.stderr);
  assert.match(r.stderr, /needs FFI to libc: run deno with --allow-ffi/);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.deepEqual(lab.state(veth.nsA).tuns, []);
});

test(
  "Bun runs the initiator (bun:ffi, node:worker_threads), Node the responder: ping, TCP and UDP both ways; Bun's `status --json` and `down --all` end it; nothing left",
  { timeout: 600_000 },
  async (t) => {
    const run = await runtimes.bun(); // npm ci of test/consumers/tools on first use
    t.diagnostic(`bun ${version(run[0]!)}`);
    const p = await pair("b", run, await runtimes.node());
    t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
    assert.match(p.a.out(), /packet worker started/);
    t.diagnostic(await traffic(p));
    await workerMoved(p, "a");
    await statusAndDown(p, run);
    await stopPair(p);
  },
);

test(
  "Bun runs the responder, Node the initiator: ping, TCP and UDP both ways; SIGTERM leaves nothing",
  { timeout: 150_000 },
  async (t) => {
    const p = await pair("c", await runtimes.node(), await runtimes.bun());
    t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
    t.diagnostic(await traffic(p));
    await workerMoved(p, "b");
    await stopPair(p);
  },
);

test("Bun: libc through bun:ffi without root (test/deno/libc-ffi-check.ts)", { timeout: 60_000 }, async () => {
  const [bun] = await runtimes.bun();
  const r = spawnSync(bun!, [repoPath("test/deno/libc-ffi-check.ts")], {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  assert.equal(r.status, 0, `${r.error?.message ?? ""}${r.stdout}${r.stderr}`);
  assert.deepEqual(JSON.parse(r.stdout.trim()), { runtime: "bun", failures: [] });
});

for (const rt of ["deno", "bun"] as const) {
  test(
    `${rt} on both sides with --io dgram (node:dgram in the worker) and with --workers 2 (SO_REUSEPORT, ESP steered by SPI): ping both ways and TCP --bidir`,
    { timeout: 150_000 },
    async (t) => {
      const run = await runtimes[rt]();
      for (const [tag, args] of [
        [`${rt[0]}g`, ["--io", "dgram"]],
        [`${rt[0]}w`, ["--workers", "2"]],
      ] as const) {
        const p = await pair(tag, run, run, [...args]);
        t.after(() => lab.stop(p.a, "SIGKILL", 2000).then(() => lab.stop(p.b, "SIGKILL", 2000)));
        if (args[0] === "--workers") assert.match(p.a.out(), /2 packet workers started/);
        else assert.match(p.a.out(), /node:dgram/);
        assert.match(await ping(veth.nsA, B_IN), /3 packets transmitted, 3 received/, p.a.out().slice(-2000));
        assert.match(await ping(veth.nsB, A_IN), /3 packets transmitted, 3 received/, p.b.out().slice(-2000));
        const tcp = await iperf(veth.nsB, B_IN, veth.nsA, ["--bidir"]);
        assert.ok(tcp.sum_received!.bytes > 1e6, JSON.stringify(tcp));
        t.diagnostic(
          `${args.join(" ")}: TCP --bidir ${(tcp.sum_received!.bits_per_second / 1e6).toFixed(0)} Mbit/s received`,
        );
        await stopPair(p);
      }
    },
  );
}

test("afterwards: no TUN device, route, namespace or process of these tests is left", { timeout: 30_000 }, () =>
  assertNothingLeft(veth),
);
