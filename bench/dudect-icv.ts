// dudect-style timing check of the ICV compare (Reparaz, Balasch, Verbauwhede, "Dude, is my code
// constant time?", 2017): packets whose ICV is wrong in its first byte against packets wrong in its
// last byte, the class of each measurement drawn at random, decapsulated through the public
// Dataplane batch API; Welch's t over all measurements and over ones cropped at percentiles.
// Prints |t| per suite; asserts nothing (|t| < 4.5 is dudect's usual "no leak detected").
// Usage: node --import tsx bench/dudect-icv.ts [--n 200000] [--batch 8] [--suites aes128gcm16,aes128-sha256,chacha20poly1305] [--seed 1]
import { parseArgs } from "node:util";
import { Dataplane } from "../sdk/index.ts";
import { parseSuite } from "../sdk/dataplane/suites.ts";
import { Prng } from "../test/fuzz/prng.ts";
import { innerPacket } from "../test/fuzz/inner.ts";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "200000" },
    batch: { type: "string", default: "8" },
    suites: { type: "string", default: "aes128gcm16,aes128-sha256,chacha20poly1305" },
    seed: { type: "string", default: "1" },
  },
});
const N = Number(values.n);
const BATCH = Number(values.batch);
const rng = new Prng(Number(values.seed));

/** Running mean and variance (Welford). */
class Moments {
  n = 0;
  mean = 0;
  m2 = 0;
  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }
  get variance(): number {
    return this.n > 1 ? this.m2 / (this.n - 1) : 0;
  }
}

/** Welch's t statistic of two samples. */
function welch(a: Moments, b: Moments): number {
  const se = Math.sqrt(a.variance / a.n + b.variance / b.n);
  return se === 0 ? 0 : (a.mean - b.mean) / se;
}

async function measure(esp: string): Promise<{ t: number[]; crops: string[]; first: number; last: number }> {
  const suite = parseSuite(esp);
  const dp = await Dataplane.create({ maxSas: 4, batchSize: BATCH });
  const keys = {
    encKey: rng.bytes(suite.encKeyBytes),
    integKey: suite.integKeyBytes ? rng.bytes(suite.integKeyBytes) : undefined,
  };
  const base = { spi: 0x4242, mode: "tunnel" as const, esp, ...keys };
  const out = dp.addSa({ ...base, direction: "out" });
  dp.addSa({ ...base, direction: "in", replayWindow: 64 });
  const good = dp.encapsulate(out, innerPacket(rng, 1, false)).packet!;
  // Both classes fail the ICV (the window never moves), so the same two packets serve every run.
  const firstWrong = good.slice();
  firstWrong[good.length - suite.icvBytes]! ^= 0x01;
  const lastWrong = good.slice();
  lastWrong[good.length - 1]! ^= 0x01;
  const classes = [firstWrong, lastWrong];
  const times: number[] = new Array(N);
  const cls: number[] = new Array(N);
  const b = dp.batch;
  for (let i = 0; i < N + 5000; i++) {
    const c = rng.int(2);
    b.reset();
    for (let k = 0; k < BATCH; k++) b.add(classes[c]!, -1, 0);
    const t0 = process.hrtime.bigint();
    dp.runDecapsulate(b);
    const dt = Number(process.hrtime.bigint() - t0);
    if (b.status(0) !== "integrity-failed") throw new Error(`${esp}: expected integrity-failed, got ${b.status(0)}`);
    if (i < 5000) continue; // warm-up: JIT and caches
    times[i - 5000] = dt;
    cls[i - 5000] = c;
  }
  const sorted = times.slice().sort((x, y) => x - y);
  const cuts = [1, 0.99, 0.9, 0.75, 0.5];
  const t: number[] = [];
  const crops: string[] = [];
  for (const q of cuts) {
    const limit = sorted[Math.min(N - 1, Math.floor(q * N))];
    const m = [new Moments(), new Moments()];
    for (let i = 0; i < N; i++) if (q === 1 || times[i]! <= limit!) m[cls[i]!]!.add(times[i]!);
    t.push(welch(m[0]!, m[1]!));
    crops.push(q === 1 ? "all" : `<p${Math.round(q * 100)}`);
  }
  const med = (c: number): number => {
    const xs = times.filter((_, i) => cls[i] === c).sort((x, y) => x - y);
    return xs[xs.length >> 1] ?? NaN;
  };
  return { t, crops, first: med(0), last: med(1) };
}

console.log(
  `dudect ICV check: ${N} measurements per suite, batches of ${BATCH} identical packets, class drawn per measurement`,
);
for (const esp of values.suites.split(",")) {
  const r = await measure(esp);
  console.log(
    `${esp.padEnd(18)} median ns/batch first-byte ${r.first}, last-byte ${r.last}; |t| ${r.t.map((t, i) => `${r.crops[i]} ${Math.abs(t).toFixed(2)}`).join(", ")}`,
  );
}
