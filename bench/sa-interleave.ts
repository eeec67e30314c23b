// Batches that interleave a few SAs (a gateway with several tunnels, several Child SAs of one
// peer) against batches on one SA: per-packet cost of encap and decap when each packet of a batch
// of 256 belongs to the next of 4 SAs, round-robin. Issue 11: keys keep compact forms whose fast
// forms are expanded into one-key caches (aes.ts, ghash.ts), and a batch is processed grouped by
// SA (assembly/esp/batch-order.ts). With `--base <dataplane.wasm>` the same rows run on that
// build too, in the same process, interleaved (e.g. `git worktree add /tmp/base HEAD~1` and build).
// Usage: node --import tsx bench/sa-interleave.ts [--base path] [--reps N] [--slice-ms MS]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Dataplane } from "../sdk/dataplane/dataplane.ts";
import { ipv4UdpPacket } from "./packets.ts";
import { type Step, median, packetsPerSecond, setClock } from "./measure.ts";

const { values: flags } = parseArgs({
  options: {
    base: { type: "string" },
    reps: { type: "string", default: "5" },
    "slice-ms": { type: "string", default: "200" },
  },
  strict: true,
});
setClock("cpu");
const reps = Number(flags.reps);
const sliceMs = Number(flags["slice-ms"]);
const BATCH = 256;
const SAS = 4;

const mod = (path: string) => new WebAssembly.Module(readFileSync(path));
const builds: [string, WebAssembly.Module][] = [
  ["this build", mod(fileURLToPath(new URL("../dist/wasm/dataplane.wasm", import.meta.url)))],
];
if (flags.base) builds.unshift(["base", mod(flags.base)]);

const SUITES = {
  aes128gcm16: { encKey: 20, integKey: 0 },
  "aes128-sha256": { encKey: 16, integKey: 32 },
} as const;
type Suite = keyof typeof SUITES;

/** Encap and decap steps for `sas` SA pairs of `suite`; packet i of a batch goes to SA i mod sas. */
async function steps(module: WebAssembly.Module, suite: Suite, size: number, sas: number, nativeAes: boolean) {
  const dp = await Dataplane.create({ maxSas: 2 * SAS, batchSize: BATCH, module, nativeAes });
  const k = SUITES[suite];
  const pairs = Array.from({ length: sas }, (_, i) => {
    const common = {
      spi: 0x3000 + i,
      mode: "tunnel",
      esp: suite,
      encKey: crypto.getRandomValues(new Uint8Array(k.encKey)),
      integKey: crypto.getRandomValues(new Uint8Array(k.integKey)),
      ...(k.integKey ? { icvLength: 16 as const } : {}),
    } as const;
    return {
      out: dp.addSa({ ...common, direction: "out" }),
      in: dp.addSa({ ...common, direction: "in", replayWindow: 0 }),
    };
  });
  const inner = ipv4UdpPacket(size);
  const b = dp.batch;
  // The decap ring: one batch worth of packets made by this dataplane, replayed (replay window 0).
  b.reset();
  for (let i = 0; i < BATCH; i++) b.add(inner, pairs[i % sas]!.out);
  dp.runEncapsulate(b);
  const ring = Array.from({ length: BATCH }, (_, i) => b.output(i).slice());
  const encap: Step = () => {
    b.reset();
    for (let i = 0; i < BATCH; i++) b.add(inner, pairs[i % sas]!.out);
    dp.runEncapsulate(b);
    if (b.status(BATCH - 1) !== "ok") throw new Error(`encap: ${b.status(BATCH - 1)}`);
    return BATCH;
  };
  const decap: Step = () => {
    b.reset();
    for (let i = 0; i < BATCH; i++) b.add(ring[i]!, -1);
    dp.runDecapsulate(b);
    if (b.status(BATCH - 1) !== "ok") throw new Error(`decap: ${b.status(BATCH - 1)}`);
    return BATCH;
  };
  return { encap, decap };
}

console.log(
  `Batch ${BATCH}, CPU clock, median of ${reps} × ${sliceMs} ms; kpps with 1 SA | with ${SAS} SAs round-robin (cost per packet vs 1 SA)`,
);
for (const nativeAes of [false, true]) {
  for (const suite of Object.keys(SUITES) as Suite[]) {
    for (const size of [64, 1400]) {
      for (const dir of ["encap", "decap"] as const) {
        const rows: { name: string; step: Step; samples: number[] }[] = [];
        for (const [name, module] of builds) {
          for (const sas of [1, SAS]) {
            const s = await steps(module, suite, size, sas, nativeAes);
            rows.push({ name: `${name}/${sas}`, step: s[dir], samples: [] });
          }
        }
        for (const r of rows) packetsPerSecond(r.step, sliceMs / 4);
        for (let rep = 0; rep < reps; rep++) for (const r of rows) r.samples.push(packetsPerSecond(r.step, sliceMs));
        const m = rows.map((r) => median(r.samples));
        const cells = builds.map(([name], j) => {
          const one = m[2 * j]!,
            many = m[2 * j + 1]!;
          return `${name}: ${(one / 1e3).toFixed(0)} | ${(many / 1e3).toFixed(0)} (${((one / many - 1) * 100).toFixed(1)}%)`;
        });
        console.log(
          `${nativeAes ? "assist on " : "wasm AES  "} ${suite.padEnd(14)} ${String(size).padStart(4)} B ${dir}  ${cells.join("   ")}`,
        );
      }
    }
  }
}
