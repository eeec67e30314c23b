// `npm run bench`: per suite (aes128gcm16, aes128-sha256, chacha20poly1305, aes128ctr-sha256) and inner
// size, encap and decap pps / Gbit/s of node:crypto, @noble and our batch path (64 and 256),
// interleaved repetitions, medians; then the SPI lookup cost at 1M SAs.
// Writes bench/results.json; bench/report.ts turns it into the README table and bench/plot-*.svg.
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createNodeCryptoEsp } from "./baselines/node-crypto-esp.ts";
import { createNobleEsp } from "./baselines/noble-esp.ts";
import { BENCH_SUITES, type BenchSuite, type PerPacketEsp, randomBaselineSa } from "./baselines/esp-layout.ts";
import { packetRing } from "./packets.ts";
import { type Step, Progress, gbps, median, packetsPerSecond, setClock } from "./measure.ts";
import type { BenchResults, BenchRow, Direction, Impl } from "./results.ts";
import { IMPLS } from "./results.ts";
import { machineLine, profileLines, spiLookupLine, targetLines, textTable } from "./format.ts";
import { evaluateTargets } from "./targets.ts";

const ALL_SUITES: readonly BenchSuite[] = BENCH_SUITES;
const ALL_SIZES = [64, 256, 512, 1024, 1400];
const RING = 1024; // distinct packets cycled through per measurement

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    suite: { type: "string", multiple: true },
    size: { type: "string", multiple: true },
    impl: { type: "string", multiple: true },
    reps: { type: "string" },
    "slice-ms": { type: "string" },
    sas: { type: "string" },
    "no-spi-lookup": { type: "boolean", default: false },
    clock: { type: "string", default: "wall" },
    profile: { type: "boolean", default: false },
    out: { type: "string", default: fileURLToPath(new URL("./results.json", import.meta.url)) },
    help: { type: "boolean", default: false },
  },
});

if (flags.help) {
  console.log(`usage: node --import tsx bench/run.ts [--quick] [--suite ${ALL_SUITES.join("|")}]... [--size N]...
  [--impl node:crypto|noble|ours-b64|ours-b256|ours-wasm-b256]... [--reps N] [--slice-ms MS] [--sas N] [--no-spi-lookup]
  [--clock wall|cpu] [--profile] [--out FILE]      (comma-separated lists work too)
  --clock cpu divides by this process's CPU time instead of elapsed time (for a machine shared with other work)`);
  process.exit(0);
}

const list = (v: string[] | undefined): string[] | undefined => v?.flatMap((s) => s.split(",")).filter(Boolean);
const suites = (list(flags.suite) ?? ALL_SUITES) as BenchSuite[];
for (const s of suites)
  if (!ALL_SUITES.includes(s)) throw new Error(`unknown suite ${s}; one of ${ALL_SUITES.join(", ")}`);
const sizes = (list(flags.size) ?? ALL_SIZES.map(String)).map(Number);
for (const s of sizes) if (!Number.isInteger(s) || s < 28 || s > 1500) throw new Error(`--size ${s}: 28..1500`);
const impls = (list(flags.impl) ?? [...IMPLS]) as Impl[];
for (const i of impls) if (!IMPLS.includes(i)) throw new Error(`unknown impl ${i}; one of ${IMPLS.join(", ")}`);
const quick = flags.quick;
const reps = Number(flags.reps ?? (quick ? 1 : 5));
const sliceMs = Number(flags["slice-ms"] ?? (quick ? 15 : 200));
if (flags.clock !== "wall" && flags.clock !== "cpu") throw new Error("--clock wall|cpu");
const clock = flags.clock;
setClock(clock);
const withOurs = impls.some((i) => i.startsWith("ours"));
const ours = withOurs ? await import("./ours.ts") : undefined;
const wasmSha256 = ours ? await ours.pinDataplaneModule() : undefined;
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

function perPacketStep(esp: PerPacketEsp, ring: readonly Uint8Array[], direction: Direction): Step {
  let next = 0;
  const mask = ring.length - 1;
  if (direction === "encap")
    return () => {
      esp.encapsulate(ring[next++ & mask]!);
      return 1;
    };
  return () => {
    esp.decapsulate(ring[next++ & mask]!);
    return 1;
  };
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Suites this dataplane build rejects (e.g. an older build/dataplane.wasm): their rows are measured for
 * the baselines only, and the run says so loudly instead of dying, so `bench:quick` keeps working.
 */
const unsupported = new Map<BenchSuite, string>();
async function ourEndpointOrNote(suite: BenchSuite, sa: ReturnType<typeof randomBaselineSa>) {
  try {
    return await ours!.createOurEndpoint(suite, sa);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    unsupported.set(suite, why);
    progress.done();
    console.error(`NOTE: our dataplane rejects ${suite}; measuring the baselines only for it (${why.split(";")[0]})`);
    return undefined;
  }
}

const rows: BenchRow[] = [];
const total = suites.length * sizes.length * 2 * impls.length * reps;
const progress = new Progress(total);
let done = 0;

for (const suite of suites) {
  for (const size of sizes) {
    const sa = randomBaselineSa(suite, 0x1000 + (crypto.getRandomValues(new Uint8Array(1))[0]! << 8));
    const inners = packetRing(size, RING);
    const endpoint = ours && !unsupported.has(suite) ? await ourEndpointOrNote(suite, sa) : undefined;
    // The same SAs with the native AES assist off: the pure-wasm AES, beside the default dispatch.
    const wasmEndpoint =
      endpoint && impls.includes("ours-wasm-b256") ? await ours!.createOurEndpoint(suite, sa, false) : undefined;
    const baselines: Partial<Record<Impl, PerPacketEsp>> = {
      "node:crypto": createNodeCryptoEsp(suite, sa),
      noble: createNobleEsp(suite, sa),
    };
    // The decap ring comes from our encoder when it is measured (every decoder must accept it),
    // else from node:crypto. Replay protection is off on our inbound SA (replayWindow 0) and the
    // baselines do no replay check, so the ring can be replayed for the whole time slice.
    const espRing =
      endpoint && ours
        ? ours.encapsulateRing(endpoint, inners)
        : inners.map((p) => baselines["node:crypto"]!.encapsulate(p));
    for (const [name, esp] of Object.entries(baselines)) {
      if (!equal(esp.decapsulate(espRing[0]!).inner, inners[0]!))
        throw new Error(`${name} does not decapsulate the ring`);
    }
    if (endpoint) {
      const back = endpoint.dp.decapsulate(baselines["node:crypto"]!.encapsulate(inners[1]!));
      if (back.status !== "ok" || !back.payload || !equal(back.payload, inners[1]!))
        throw new Error(`our decap of node:crypto ESP: ${back.status}`);
    }
    for (const direction of ["encap", "decap"] as const) {
      const ring = direction === "encap" ? inners : espRing;
      const steps = new Map<Impl, Step>();
      for (const impl of impls) {
        if (impl === "ours-b64" || impl === "ours-b256" || impl === "ours-wasm-b256") {
          const ep = impl === "ours-wasm-b256" ? wasmEndpoint : endpoint;
          if (!ep) continue;
          const batch = impl === "ours-b64" ? 64 : 256;
          steps.set(
            impl,
            direction === "encap" ? ours!.ourEncapStep(ep, ring, batch) : ours!.ourDecapStep(ep, ring, batch),
          );
        } else {
          steps.set(impl, perPacketStep(baselines[impl]!, ring, direction));
        }
      }
      for (const step of steps.values()) packetsPerSecond(step, sliceMs / 2); // JIT warm-up, not recorded
      const measured = impls.filter((i) => steps.has(i));
      const samples = new Map<Impl, number[]>(measured.map((i) => [i, []]));
      for (let rep = 0; rep < reps; rep++) {
        // Interleave: every repetition runs every implementation, starting at a different one.
        for (let k = 0; k < measured.length; k++) {
          const impl = measured[(k + rep) % measured.length];
          progress.show(++done, `${suite} ${size} B ${direction} ${impl} rep ${rep + 1}/${reps}`);
          samples.get(impl!)!.push(packetsPerSecond(steps.get(impl!)!, sliceMs));
        }
      }
      const reference = samples.has("node:crypto") ? median(samples.get("node:crypto")!) : undefined;
      done += (impls.length - measured.length) * reps;
      for (const impl of measured) {
        const pps = median(samples.get(impl)!);
        rows.push({
          suite,
          size,
          direction,
          impl,
          pps,
          gbps: gbps(pps, size),
          ratio: reference ? pps / reference : null,
          samples: samples.get(impl)!,
        });
      }
    }
    for (const ep of [endpoint, wasmEndpoint]) {
      if (!ep) continue;
      ep.dp.removeSa(ep.out);
      ep.dp.removeSa(ep.in);
    }
  }
}
progress.done();

const results: BenchResults = {
  machine: {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    date: new Date().toISOString(),
    gitCommit,
    wasmSha256,
  },
  config: {
    sliceMs,
    repetitions: reps,
    quick,
    suites,
    sizes,
    clock,
    decapRing: `${RING} packets from ${withOurs ? "our" : "the node:crypto"} encoder, replayed; our inbound SA has replayWindow 0, the baselines check no replay`,
  },
  rows,
  targets: [],
};

if (withOurs && !flags["no-spi-lookup"]) {
  const { measureSpiLookup } = await import("./spi-lookup.ts");
  results.spiLookup = await measureSpiLookup({
    sas: Number(flags.sas ?? 1_000_000),
    sliceMs,
    // Single 200 ms samples of this memory-bound row dip by up to 25% at random on a VM: with 3
    // samples two dips set the median (bench/README.md, SPI lookup). 9 at least, except --quick.
    reps: quick ? reps : Math.max(reps, 9),
    onProgress: (t) => progress.note(t),
  });
  progress.done();
}
if (flags.profile) {
  const { profileOurPath } = await import("./profile.ts");
  results.profile = await profileOurPath({ sliceMs, reps, onProgress: (t) => progress.note(t) });
  progress.done();
}
results.targets = evaluateTargets(results);

console.log(machineLine(results));
console.log(textTable(results));
if (results.spiLookup) console.log(spiLookupLine(results));
if (results.profile) {
  console.log(
    "Profile of our path (ns per packet of CPU time; batch-path parts are differences of medians, so noisy):",
  );
  const width = Math.max(...results.profile.map((p) => p.what.length));
  for (const p of results.profile)
    console.log(
      `  ${p.what.padEnd(width)} ${String(p.size).padStart(5)} B  ${p.nsPerPacket.toFixed(0).padStart(7)} ns  ${p.note}`,
    );
}
for (const line of profileLines(results)) console.log(line);
for (const line of targetLines(results)) console.log(line);
for (const [suite, why] of unsupported) console.log(`NOT MEASURED  ours for ${suite}: ${why.split(";")[0]}`);
writeFileSync(flags.out, JSON.stringify(results, null, 2) + "\n");
console.log(`wrote ${flags.out}`);
