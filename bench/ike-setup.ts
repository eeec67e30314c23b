// IKE setup rate: how many IKE_SA + first Child SA setups per second two ipsec-wasm peers manage on
// one core. Both daemons run in this process on the main thread, wired in memory (datagrams handed
// over with setImmediate, the real clock), so the number is IKE work (DH, PRF+, AUTH, SK
// encryption, SA installs) and not the kernel's UDP loopback; `--transport udp` measures over
// sockets on 127.0.0.1 instead. Each setup: A initiates, waits for child-up, deletes, and B must be
// left with nothing. Every group runs twice in the same process, interleaved: with the runtime's
// native DH (node:crypto) and with the pure-JS fallback (@noble/curves, BigInt MODP), and the rate
// is setups per second of this process's CPU time (process.cpuUsage), so other work on the machine
// does not move it. Compares with the previous run stored in bench/ike-results.json.
import { parseArgs } from "node:util";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { ControlCrypto } from "../sdk/dataplane/control-crypto.ts";
import { setNativeDh } from "../sdk/ike/dh.ts";
import { startPeerPair, CONN_A, type PeerPair } from "../sdk/node/ike-pair.ts";
import { startSwanPeer, startSwanInCaller, strongswanAvailable } from "../test/helpers/strongswan.ts";
import { median } from "./measure.ts";

/** One DH group's numbers. */
interface GroupResult {
  group: string;
  /** DH implementation: the runtime's node:crypto, or the pure-JS fallback. */
  dh: "native" | "js";
  ike: string;
  esp: string;
  setups: number;
  /** Setups per second of elapsed time, each cycle including its DELETE. */
  setupsPerSecond: number;
  /** Setups per second of process CPU time (user + system), each cycle including its DELETE. */
  setupsPerCpuSecond: number;
  /** initiate() until the first Child SA is up, in ms. */
  medianMs: number;
  p95Ms: number;
  /** Process CPU time (user + system) per whole cycle, in ms. */
  cpuMsPerSetup: number;
}

/** strongSwan's numbers for one group: two charons, CPU time of both. */
interface SwanResult {
  group: string;
  ike: string;
  esp: string;
  setups: number;
  /** Setups per second of both charons' CPU time (utime + stime of every thread, /proc/PID/stat). */
  setupsPerCpuSecond: number;
  /** Setups per second of elapsed time (each cycle spawns two swanctl processes). */
  setupsPerSecond: number;
  /** `swanctl --initiate` until it returned (the Child SA up), in ms; includes starting swanctl. */
  medianMs: number;
  p95Ms: number;
  /** Both charons' CPU time per whole cycle, in ms. */
  cpuMsPerSetup: number;
  /** Both charons' CPU ms per second while idle (measured for 2 s before the loop). */
  idleCpuMsPerSecond: number;
}

interface IkeBenchResults {
  machine: {
    cpu: string;
    cores: number;
    node: string;
    platform: string;
    arch: string;
    date: string;
    gitCommit?: string;
  };
  config: {
    transport: "memory" | "udp";
    budgetMs: number;
    warmup: number;
    auth: "psk";
    quick: boolean;
    /** Time slices per implementation and group, alternated native / js. */
    slices?: number;
  };
  groups: GroupResult[];
  /** --strongswan: charon's own setup rate, same groups. */
  strongswan?: SwanResult[];
}

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    "budget-ms": { type: "string" },
    group: { type: "string", multiple: true },
    dh: { type: "string", default: "native,js" },
    slices: { type: "string" },
    transport: { type: "string", default: "memory" },
    strongswan: { type: "boolean", default: false },
    out: { type: "string" },
    help: { type: "boolean", default: false },
  },
});

const RESULTS = fileURLToPath(new URL("./ike-results.json", import.meta.url));
const ALL_GROUPS = ["x25519", "ecp256", "ecp384", "modp2048"];

if (flags.help) {
  console.log(`usage: node --import tsx bench/ike-setup.ts [--quick] [--budget-ms MS] [--group x25519,ecp256,ecp384,modp2048]
  [--dh native,js] [--slices N] [--transport memory|udp] [--strongswan] [--out FILE]
  default: 10 s per group and DH implementation (native = node:crypto, js = @noble/curves / BigInt), in
  --slices 4 alternating slices, in memory, results to bench/ike-results.json (--quick: 1.5 s, results to /tmp)
  --strongswan: also two charons (kernel-libipsec, PSK) in network namespaces, swanctl --initiate and
  --terminate in a loop, setups per second of both charons' CPU time (/proc/PID/stat); needs root`);
  process.exit(0);
}

const quick = flags.quick;
const budgetMs = Number(flags["budget-ms"] ?? (quick ? 1500 : 10_000));
const groups = flags.group?.flatMap((g) => g.split(",")).filter(Boolean) ?? ALL_GROUPS;
const dhImpls = flags.dh.split(",").filter(Boolean) as ("native" | "js")[];
for (const d of dhImpls) if (d !== "native" && d !== "js") throw new Error("--dh native,js");
const slices = Number(flags.slices ?? (quick ? 2 : 4));
if (!Number.isInteger(slices) || slices < 1) throw new Error("--slices must be a positive integer");
if (flags.transport !== "memory" && flags.transport !== "udp") throw new Error("--transport memory|udp");
const transport: "memory" | "udp" = flags.transport;
if (!(budgetMs > 0)) throw new Error("--budget-ms must be positive");
const out = flags.out ?? (quick || transport !== "memory" ? "/tmp/ipsec-wasm-ike-setup.json" : RESULTS);
const WARMUP = 5;
// Bounds every loop even if a setup became absurdly fast or a budget absurdly long.
const MAX_SETUPS = 200_000;

const gitCommit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: fileURLToPath(new URL(".", import.meta.url)),
      encoding: "utf8",
    }).trim();
  } catch {
    return undefined;
  }
})();

const previous = ((): IkeBenchResults | undefined => {
  try {
    return JSON.parse(readFileSync(RESULTS, "utf8")) as IkeBenchResults;
  } catch {
    return undefined;
  }
})();

/** One cycle: initiate, child up, DELETE, both peers empty. Returns ms until the child was up. */
async function setupOnce(pair: PeerPair): Promise<number> {
  const t0 = performance.now();
  const { child } = await pair.a.initiate(CONN_A);
  const upMs = performance.now() - t0;
  if (!child) throw new Error("IKE SA came up without its Child SA");
  await pair.a.terminateAll();
  // B tears down before it answers the DELETE; a few turns of the event loop cover a slow socket.
  for (let i = 0; i < 100 && pair.b.sas.size > 0; i++) await new Promise((r) => setImmediate(r));
  if (pair.a.sas.size || pair.b.sas.size || pair.dpA.handles().length || pair.dpB.handles().length) {
    throw new Error(
      `SAs left after DELETE: A ${pair.a.sas.size} IKE / ${pair.dpA.handles().length} ESP, B ${pair.b.sas.size} IKE / ${pair.dpB.handles().length} ESP`,
    );
  }
  return upMs;
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

interface Tally {
  latencies: number[];
  wallMs: number;
  cpuUs: number;
}

/** Runs setups for `ms` of wall time, adding to the tally. */
async function slice(pair: PeerPair, ms: number, t: Tally): Promise<void> {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < ms && t.latencies.length < MAX_SETUPS) t.latencies.push(await setupOnce(pair));
  t.wallMs += performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  t.cpuUs += cpu.user + cpu.system;
}

/**
 * One group with each DH implementation, in alternating slices (native, js, js, native, ...) so
 * that drift in the machine's load hits both alike.
 */
async function measureGroup(group: string, crypto: ControlCrypto): Promise<GroupResult[]> {
  const ike = `aes128gcm16-prfsha256-${group}`,
    esp = "aes128gcm16";
  const pair = await startPeerPair({ ike, esp, transport, crypto });
  const tallies = new Map(dhImpls.map((d) => [d, { latencies: [], wallMs: 0, cpuUs: 0 }]));
  try {
    for (const d of dhImpls) {
      setNativeDh(d === "native");
      for (let i = 0; i < WARMUP; i++) await setupOnce(pair);
    }
    for (let k = 0; k < slices; k++) {
      const order = k % 2 === 0 ? dhImpls : [...dhImpls].reverse();
      for (const d of order) {
        setNativeDh(d === "native");
        await slice(pair, budgetMs / slices, tallies.get(d)!);
      }
    }
  } finally {
    setNativeDh(true);
    await pair.close();
  }
  return dhImpls.map((dh) => {
    const t = tallies.get(dh)!;
    const n = t.latencies.length;
    return {
      group,
      dh,
      ike,
      esp,
      setups: n,
      setupsPerSecond: n / (t.wallMs / 1000),
      setupsPerCpuSecond: n / (t.cpuUs / 1e6),
      medianMs: median(t.latencies),
      p95Ms: percentile(t.latencies, 95),
      cpuMsPerSetup: t.cpuUs / 1000 / n,
    };
  });
}

/** utime + stime of a process (all threads), in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // fields 14 and 15 of proc(5)
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * strongSwan's own setup rate: a responder charon in one namespace and an initiator charon in the
 * other (test/helpers/strongswan.ts, kernel-libipsec: ESP in userspace), PSK, FQDN identities, the
 * same proposals as ours; `swanctl --initiate` (returns once the Child SA is up) and `swanctl
 * --terminate` (returns once the DELETE is answered) in a loop. Rate = cycles per second of both
 * charons' CPU time, read from /proc/PID/stat before and after (every thread; the vici requests
 * of swanctl included, the swanctl processes not).
 */
async function measureStrongswan(group: string): Promise<SwanResult> {
  const ike = `aes128gcm16-prfsha256-${group}`,
    esp = "aes128gcm16";
  const env = {
    SWAN_IKE_PROPOSALS: ike,
    SWAN_ESP_PROPOSALS: esp,
    SWAN_KEYLOG: "no",
    SWAN_LOG_LEVEL: "0",
    SWAN_ESP_LOG_LEVEL: "0",
    SWAN_CHILD_REKEY_TIME: "0",
    SWAN_REKEY_TIME: "0",
  };
  const peer = await startSwanPeer({ env });
  let caller: Awaited<ReturnType<typeof startSwanInCaller>> | undefined;
  try {
    caller = await startSwanInCaller(peer, env);
    const uri = `unix://${caller.dir}/charon.vici`;
    const PATH = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/sbin:/sbin`;
    const sw = (...args: string[]): void => {
      try {
        execFileSync("swanctl", [args[0]!, "--uri", uri, ...args.slice(1)], {
          env: { ...process.env, PATH },
          stdio: "pipe",
          timeout: 15_000,
        });
      } catch (e) {
        const x = e as { stdout?: Buffer; stderr?: Buffer; message: string };
        const out = `${x.stdout?.toString() ?? ""}${x.stderr?.toString() ?? ""}` || x.message;
        throw new Error(`strongSwan: swanctl ${args.join(" ")} failed:\n${out.split("\n").slice(-15).join("\n")}`, {
          cause: e,
        });
      }
    };
    const cycle = (): number => {
      const t0 = performance.now();
      sw("--initiate", "--ike", "peer", "--child", "net", "--timeout", "10");
      const upMs = performance.now() - t0;
      sw("--terminate", "--ike", "peer", "--timeout", "10");
      return upMs;
    };
    for (let i = 0; i < WARMUP; i++) cycle();
    const pids = [peer.charonPid, caller.charonPid];
    // Both charons' own CPU while idle (their housekeeping threads), for the record: the loop's wall
    // time is mostly swanctl starting, and that share of housekeeping is in the rate below.
    const idle0 = pids.reduce((a, p) => a + cpuTicks(p), 0);
    await new Promise((r) => setTimeout(r, 2000));
    const idleMsPerS = ((pids.reduce((a, p) => a + cpuTicks(p), 0) - idle0) / CLK_TCK) * 500;
    const ticks0 = pids.reduce((a, p) => a + cpuTicks(p), 0);
    const latencies: number[] = [];
    const start = performance.now();
    while (performance.now() - start < budgetMs && latencies.length < MAX_SETUPS) latencies.push(cycle());
    const wallMs = performance.now() - start;
    const cpuS = (pids.reduce((a, p) => a + cpuTicks(p), 0) - ticks0) / CLK_TCK;
    const left = await caller.swanctl("--list-sas");
    if (/ESTABLISHED|CONNECTING/.test(left)) throw new Error(`strongSwan: SAs left after the loop:\n${left}`);
    const n = latencies.length;
    return {
      group,
      ike,
      esp,
      setups: n,
      setupsPerCpuSecond: n / cpuS,
      setupsPerSecond: n / (wallMs / 1000),
      medianMs: median(latencies),
      p95Ms: percentile(latencies, 95),
      cpuMsPerSetup: (cpuS * 1000) / n,
      idleCpuMsPerSecond: idleMsPerS,
    };
  } finally {
    await caller?.stop();
    await peer.stop();
  }
}

const crypto = await ControlCrypto.create();
const results: IkeBenchResults = {
  machine: {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    date: new Date().toISOString(),
    gitCommit,
  },
  config: { transport, budgetMs, warmup: WARMUP, auth: "psk", quick, slices },
  groups: [],
};

const m = results.machine;
console.log(
  `IKE_SA + first Child SA setups, PSK, both peers in this process on one core (${transport === "memory" ? "in-memory datagrams" : "UDP on 127.0.0.1"}), ` +
    `${(budgetMs / 1000).toFixed(1)} s per group and DH implementation in ${slices} alternating slices, after ${WARMUP} warm-up setups${quick ? " (--quick: noisy)" : ""}`,
);
console.log(`${m.cpu} (${m.cores} cores), Node ${m.node}, ${m.platform}/${m.arch}, commit ${m.gitCommit ?? "?"}`);
const prevLabel = previous
  ? `previous run (${previous.machine.gitCommit ?? "?"}, ${previous.machine.date.slice(0, 10)}, ${previous.config.transport})`
  : "previous run";
console.log(
  `\n${"group".padEnd(9)} ${"DH".padEnd(6)} ${"setups".padStart(7)} ${"setups/CPU-s".padStart(12)} ${"setups/s".padStart(9)} ${"median ms".padStart(10)} ${"p95 ms".padStart(8)} ${"CPU ms".padStart(8)} ${"native/js".padStart(9)}   ${prevLabel}: setups/s, ratio`,
);
for (const g of groups) {
  const rs = await measureGroup(g, crypto);
  results.groups.push(...rs);
  const js = rs.find((r) => r.dh === "js");
  for (const r of rs) {
    // Older result files have no `dh` field: their rows were the pure-JS code.
    const before = previous?.groups.find((p) => p.group === g && (p.dh ?? "js") === r.dh);
    const cmp = before
      ? `${before.setupsPerSecond.toFixed(1).padStart(8)}  ${(r.setupsPerSecond / before.setupsPerSecond).toFixed(2)}×`
      : "       –";
    const vsJs = r.dh === "native" && js ? `${(r.setupsPerCpuSecond / js.setupsPerCpuSecond).toFixed(2)}×` : "";
    console.log(
      `${g.padEnd(9)} ${r.dh.padEnd(6)} ${String(r.setups).padStart(7)} ${r.setupsPerCpuSecond.toFixed(1).padStart(12)} ${r.setupsPerSecond.toFixed(1).padStart(9)} ${r.medianMs.toFixed(2).padStart(10)} ` +
        `${r.p95Ms.toFixed(2).padStart(8)} ${r.cpuMsPerSetup.toFixed(2).padStart(8)} ${vsJs.padStart(9)}   ${cmp}`,
    );
  }
}
if (flags.strongswan) {
  const avail = strongswanAvailable();
  if (!avail.ok || process.getuid?.() !== 0) {
    console.log(`\nstrongSwan: not measured (${avail.ok ? "needs root" : avail.why})`);
  } else {
    results.strongswan = [];
    console.log(
      `\nstrongSwan (two charons, kernel-libipsec, namespaces; swanctl --initiate / --terminate in a loop, ${(budgetMs / 1000).toFixed(1)} s per group):`,
    );
    console.log(
      `${"group".padEnd(9)} ${"setups".padStart(7)} ${"setups/CPU-s".padStart(12)} ${"setups/s".padStart(9)} ${"median ms".padStart(10)} ${"p95 ms".padStart(8)} ${"CPU ms".padStart(8)} ${"ours/swan".padStart(9)}`,
    );
    for (const g of groups) {
      const r = await measureStrongswan(g);
      results.strongswan.push(r);
      const ours = results.groups.find((x) => x.group === g && x.dh === "native");
      const ratio = ours ? `${(ours.setupsPerCpuSecond / r.setupsPerCpuSecond).toFixed(2)}×` : "";
      console.log(
        `${g.padEnd(9)} ${String(r.setups).padStart(7)} ${r.setupsPerCpuSecond.toFixed(1).padStart(12)} ${r.setupsPerSecond.toFixed(1).padStart(9)} ${r.medianMs.toFixed(2).padStart(10)} ` +
          `${r.p95Ms.toFixed(2).padStart(8)} ${r.cpuMsPerSetup.toFixed(2).padStart(8)} ${ratio.padStart(9)}`,
      );
    }
    console.log(
      "strongSwan setups/CPU-s: cycles per second of both charons' CPU time (/proc/PID/stat, all threads); ours/swan: our native row over it;",
    );
    console.log(
      `both charons idle: ${results.strongswan.map((r) => `${r.group} ${r.idleCpuMsPerSecond.toFixed(1)}`).join(", ")} CPU ms per second (in the rate, at setups/s cycles per second).`,
    );
  }
}
console.log(
  "\nsetups/CPU-s: whole cycles (IKE_SA_INIT, IKE_AUTH with the first Child SA, INFORMATIONAL DELETE) per second of",
);
console.log(
  "process CPU time (both peers; the number to compare on a shared machine); setups/s: per second of elapsed time;",
);
console.log(
  "median/p95: initiate() until the Child SA is installed on both sides; CPU ms: process CPU time per cycle, both peers;",
);
console.log("native/js: setups/CPU-s with node:crypto DH over the pure-JS DH, same group, same run.");
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`results written to ${out}`);
