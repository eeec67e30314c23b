// `npm run bench:tunnel`: iperf3 TCP and UDP (1372 and 64-byte payloads, -b 0) between two network
// namespaces through each path (plain veth, wireguard-go, strongSwan kernel-libipsec, ipsec-wasm,
// the kernel's ESP in UML), repetitions interleaved across paths so load drift hits all of them;
// writes bench/tunnel/results.json, then report.ts writes the table, the plot and the README parts.
// A bench, not a test: nothing is asserted about speed. Needs root (namespaces, TUN).
import { cpus } from "node:os";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type Measurement, MODES, type Mode, measure, waitLoad } from "./iperf.ts";
import { kernelUml, type GuestPathDef } from "./kernel.ts";
import { ours } from "./ours.ts";
import { type PathDef, strongswan, veth, wireguardGo } from "./paths.ts";
import type { PathResult, TunnelResults } from "./results.ts";
import { writeReports } from "./report.ts";
import { Cleanup, load1, run } from "./sys.ts";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export const ALL_PATHS: PathDef[] = [
  veth,
  wireguardGo,
  strongswan("aes128gcm16"),
  strongswan("chacha20poly1305"),
  ...(["aes128gcm16", "chacha20poly1305"] as const).flatMap((esp) =>
    (["dgram", "mmsg"] as const).flatMap((io) => ([1, 2] as const).map((workers) => ours({ esp, io, workers }))),
  ),
  // the same without TUN offloads (IPSEC_WASM_TUN_OFFLOAD=off): today's one packet per TUN read/write
  ...(["aes128gcm16", "chacha20poly1305"] as const).flatMap((esp) =>
    ([1, 2] as const).map((workers) => ours({ esp, io: "mmsg", workers, offload: false })),
  ),
  kernelUml("none"),
  kernelUml("aes128gcm16"),
  kernelUml("chacha20poly1305"),
];

const { values: flags } = parseArgs({
  options: {
    reps: { type: "string", default: "3" },
    time: { type: "string", short: "t", default: "5" },
    only: { type: "string", multiple: true },
    modes: { type: "string" },
    out: { type: "string", default: here("./results.json") },
    "wait-load": { type: "string", default: "1.5" },
    "no-report": { type: "boolean", default: false },
    list: { type: "boolean", default: false },
    verbose: { type: "boolean", short: "v", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (flags.help) {
  console.log(`usage: node --import tsx bench/tunnel/run.ts [--reps N] [--time S] [--only ID|PREFIX]... [--modes tcp,udp1372,udp64]
  [--out FILE] [--wait-load L] [--no-report] [--list] [-v]
  --only        paths whose id starts with this (comma lists work): veth, wireguard-go, strongswan,
                ipsec-wasm (or ipsec-wasm-aes128gcm16-mmsg-w2 …), kernel-uml; see --list
  --wait-load   before each path, wait (at most 60 s) until load1 <= L
  With --only, paths not measured keep their previous entry of --out (each entry has its own date).`);
  process.exit(0);
}
if (flags.list) {
  for (const p of ALL_PATHS) console.log(`${p.id.padEnd(42)} ${p.label}`);
  process.exit(0);
}

const reps = Number(flags.reps),
  seconds = Number(flags.time),
  maxLoad = Number(flags["wait-load"]);
if (!(Number.isInteger(reps) && reps >= 1 && reps <= 20)) throw new Error("--reps: 1..20");
if (!(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60)) throw new Error("--time: 1..60 seconds");
const modes = (flags.modes?.split(",") ?? [...MODES]) as Mode[];
for (const m of modes) if (!MODES.includes(m)) throw new Error(`--modes: ${m} is not one of ${MODES.join(", ")}`);
const only = flags.only?.flatMap((s) => s.split(",")).filter(Boolean);
const paths = ALL_PATHS.filter((p) => !only || only.some((o) => p.id.startsWith(o)));
if (paths.length === 0) throw new Error(`--only ${only?.join(",")} matches no path (see --list)`);
if (process.getuid?.() !== 0) throw new Error("bench:tunnel needs root (network namespaces, veth, TUN)");

const commit = run("git", ["rev-parse", "--short", "HEAD"]).out.trim() || "unknown";
const tag = String(process.pid % 100000);
let current: Cleanup | null = null;
// Ctrl-C or SIGTERM: undo what the current path created (kill by PID, delete its namespaces), then exit
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: cleaning up`);
    void (current?.run() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

const version = (cmd: string, args: string[], re: RegExp): string => {
  const r = run(cmd, args, 10_000);
  return (re.exec(r.out + r.err)?.[0] ?? "?").trim();
};
const results: TunnelResults = {
  machine: {
    cpu: cpus()[0]?.model.trim() ?? "?",
    cores: cpus().length,
    kernel: run("uname", ["-r"]).out.trim(),
    node: process.version,
    tools: {
      iperf3: version("iperf3", ["--version"], /iperf \S+/),
      "wireguard-go": version("wireguard-go", ["--version"], /v?\d[\w.+-]*/),
      charon: version("/usr/lib/ipsec/charon", ["--version"], /\d+\.\d+\.\d+/),
      "linux.uml": run("cat", ["/var/cache/ipsec-wasm-bench-uml/kver"]).out.trim() || "?",
    },
  },
  settings: { seconds, reps, modes, waitLoad: maxLoad },
  startedAt: new Date().toISOString(),
  finishedAt: "",
  commit,
  load: { before: load1(), after: 0 },
  paths: [],
};

const byId = new Map<string, PathResult>();
for (const p of paths) {
  const why = p.unavailable();
  const r: PathResult = {
    id: p.id,
    label: p.label,
    note: p.note,
    errors: [],
    runs: [],
    measuredAt: results.startedAt,
    commit,
  };
  if (why) r.unavailable = why;
  byId.set(p.id, r);
  console.log(`${p.id}: ${why ? `not available: ${why}` : "ok"}`);
}

const fmt = (m: Measurement) =>
  m.ok
    ? `${m.gbps.toFixed(3)} Gbit/s ${m.kpps.toFixed(1)} kpps${m.tunnelUsPerPkt !== null ? ` tunnel ${m.tunnelUsPerPkt.toFixed(1)} µs/pkt` : ""} machine ${m.machineUsPerPkt.toFixed(1)} µs/pkt load ${m.load1Before}->${m.load1After}`
    : `FAILED: ${m.error}`;

for (let rep = 1; rep <= reps; rep++) {
  for (const p of paths) {
    const r = byId.get(p.id)!;
    if (r.unavailable) continue;
    await waitLoad(maxLoad, 60);
    const cleanup = new Cleanup();
    current = cleanup;
    const t0 = Date.now();
    try {
      const ms: Measurement[] = [];
      if ("measureAll" in p) {
        ms.push(...(await (p as GuestPathDef).measureAll(cleanup, modes, rep, seconds, flags.verbose)));
      } else {
        const ep = await p.setup(cleanup, { tag, verbose: flags.verbose });
        for (const mode of modes) ms.push(await measure(cleanup, ep, mode, rep, seconds));
      }
      for (const m of ms) console.log(`rep ${rep} ${p.id} ${m.mode}: ${fmt(m)}`);
      r.runs.push(...ms);
    } catch (e) {
      const msg = (e as Error).message;
      console.log(`rep ${rep} ${p.id}: setup failed: ${msg}`);
      r.errors.push(`rep ${rep}: ${msg.slice(0, 2000)}`);
    } finally {
      await cleanup.run();
      current = null;
    }
    if (flags.verbose) console.log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
}

results.finishedAt = new Date().toISOString();
results.load.after = load1();
// --only: keep the other paths' previous entries (each says when it was measured)
const previous: TunnelResults | undefined =
  only && existsSync(flags.out) ? (JSON.parse(readFileSync(flags.out, "utf8")) as TunnelResults) : undefined;
results.paths = ALL_PATHS.map((p) => byId.get(p.id) ?? previous?.paths.find((q) => q.id === p.id)).filter(
  (x): x is PathResult => !!x,
);
writeFileSync(flags.out, JSON.stringify(results, null, 2) + "\n");
console.log(`wrote ${flags.out} (load1 ${results.load.before} -> ${results.load.after})`);
if (!flags["no-report"]) writeReports(results, flags.out);
