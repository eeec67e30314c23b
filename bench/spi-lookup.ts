// SPI lookup at scale: decapsulation cost with 1 inbound SA versus 1,000,000 inbound SAs in the
// table, packets hitting random SAs among them. null-sha256 (ICV 16) keeps the crypto cheap so the
// lookup and the cache misses on SA state show. Replay protection off (replayWindow 0) on every SA,
// so rings of packets can be replayed; both tables live in dataplanes created with the same maxSas.
// Dataplanes are created with the default hugePages (transparent huge pages where Node, Linux and
// koffi allow); when that took effect, the 1-SA and spread rows are measured again, interleaved, on
// a second pair created with `hugePages: false` (4 KiB pages), so one run shows both.
import { createHmac } from "node:crypto";
import { Dataplane } from "../sdk/dataplane/dataplane.ts";
import { ipv4UdpPacket } from "./packets.ts";
import { type Step, median, packetsPerSecond } from "./measure.ts";
import { dataplaneOptions, ourDecapStep } from "./ours.ts";
import type { SpiLookupResult } from "./results.ts";

const SUITE = "null-sha256";
const SIZE = 64;
const ICV = 16;
const BATCH = 256;

/** ESP with NULL encryption (RFC 2410) and HMAC-SHA-256-128, written independently of our encoder. */
function nullSha256Esp(spi: number, seq: number, inner: Uint8Array, integKey: Uint8Array): Uint8Array {
  const pad = (4 - ((inner.length + 2) % 4)) % 4;
  const out = Buffer.alloc(8 + inner.length + pad + 2 + ICV);
  out.writeUInt32BE(spi >>> 0, 0);
  out.writeUInt32BE(seq >>> 0, 4);
  out.set(inner, 8);
  for (let i = 0; i < pad; i++) out[8 + inner.length + i] = i + 1;
  out[8 + inner.length + pad] = pad;
  out[8 + inner.length + pad + 1] = 4;
  const icvAt = out.length - ICV;
  out.set(createHmac("sha256", integKey).update(out.subarray(0, icvAt)).digest().subarray(0, ICV), icvAt);
  return out;
}

/** `n` distinct random SPIs outside the reserved 0..255. */
function randomSpis(n: number): Uint32Array {
  const spis = new Uint32Array(n);
  const seen = new Set<number>();
  const rnd = new Uint32Array(1);
  for (let i = 0; i < n;) {
    crypto.getRandomValues(rnd);
    if (rnd[0]! < 256 || seen.has(rnd[0]!)) continue;
    seen.add(rnd[0]!);
    spis[i++] = rnd[0]!;
  }
  return spis;
}

export interface SpiLookupOptions {
  sas: number;
  sliceMs: number;
  reps: number;
  /** Distinct SAs the random ring touches (default 65,536: far more SA state than fits in cache). */
  ringSas?: number;
  onProgress?: (text: string) => void;
}

/** Decap pps with 1 SA versus `opts.sas` SAs in the table (see the file comment). */
export async function measureSpiLookup(opts: SpiLookupOptions): Promise<SpiLookupResult> {
  const say = opts.onProgress ?? (() => {});
  const integKey = crypto.getRandomValues(new Uint8Array(32));
  const sa = (spi: number) =>
    ({
      spi,
      direction: "in",
      mode: "tunnel",
      esp: SUITE,
      encKey: new Uint8Array(0),
      integKey,
      icvLength: ICV,
      replayWindow: 0,
    }) as const;
  const spis = randomSpis(opts.sas);
  const inner = ipv4UdpPacket(SIZE);

  /** A dataplane holding the first `n` SAs of `spis`. */
  const table = async (n: number, hugePages: boolean, what: string) => {
    const dp = await Dataplane.create({ ...dataplaneOptions(opts.sas, BATCH), hugePages });
    for (let i = 0; i < n; i++) {
      dp.addSa(sa(spis[i]!));
      if ((i & 0xffff) === 0)
        say(`SPI lookup: adding SAs${what} ${i.toLocaleString("en-US")}/${n.toLocaleString("en-US")}`);
    }
    return dp;
  };
  const one = await table(1, true, "");
  const t0 = process.hrtime.bigint();
  const many = await table(spis.length, true, "");
  const addSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const huge = many.hugePages;
  // The same tables on 4 KiB pages, only when the ones above are on huge pages.
  const small = huge.active
    ? { one: await table(1, false, " (4 KiB pages)"), many: await table(spis.length, false, " (4 KiB pages)") }
    : undefined;
  // Memory per SA: the full table against a dataplane made for one SA (slots are reserved at create).
  const base = await Dataplane.create(dataplaneOptions(1, BATCH));
  base.addSa(sa(spis[0]!));
  const bytesPerSa = (many.memoryBytes - base.memoryBytes) / Math.max(1, spis.length - 1);

  // Every ring has the same number of packets, so packet bytes miss the cache equally in all cases
  // and only the SA side differs: one SA, a few random SAs (state fits in cache), many random SAs.
  const ringSas = Math.min(opts.ringSas ?? 65536, spis.length);
  const fewSas = Math.min(1024, spis.length);
  const ring = (pick: () => number) =>
    Array.from({ length: ringSas }, (_, i) => nullSha256Esp(pick(), i + 1, inner, integKey));
  const randomAmong = (n: number) => {
    const chosen = Array.from({ length: n }, () => spis[Math.floor(Math.random() * spis.length)]!);
    let k = 0;
    return () => chosen[k++ % n]!;
  };
  const hotRing = ring(() => spis[0]!);
  const fewRing = ring(randomAmong(fewSas));
  const randomRing = ring(randomAmong(ringSas));

  const steps: [string, Step][] = [
    ["1 SA", ourDecapStep({ dp: one }, hotRing, BATCH)],
    ["many SAs, random", ourDecapStep({ dp: many }, randomRing, BATCH)],
    ["many SAs, one SA", ourDecapStep({ dp: many }, hotRing, BATCH)],
    ["many SAs, few random", ourDecapStep({ dp: many }, fewRing, BATCH)],
  ];
  if (small) {
    steps.push(
      ["1 SA, 4 KiB pages", ourDecapStep({ dp: small.one }, hotRing, BATCH)],
      ["many SAs, random, 4 KiB pages", ourDecapStep({ dp: small.many }, randomRing, BATCH)],
      ["many SAs, few random, 4 KiB pages", ourDecapStep({ dp: small.many }, fewRing, BATCH)],
    );
  }
  for (const [, step] of steps) packetsPerSecond(step, opts.sliceMs / 2);
  const samples = steps.map(() => [] as number[]);
  for (let rep = 0; rep < opts.reps; rep++) {
    for (let k = 0; k < steps.length; k++) {
      const i = (k + rep) % steps.length;
      say(`SPI lookup: ${steps[i]![0]} rep ${rep + 1}/${opts.reps}`);
      samples[i]!.push(packetsPerSecond(steps[i]![1], opts.sliceMs));
    }
  }
  const [oneSaPps, manySaPps, manySaOneHotPps, manySaFewPps, smallOne, smallMany, smallFew] = samples.map(median);
  return {
    suite: SUITE,
    size: SIZE,
    sas: opts.sas,
    addSeconds,
    oneSaPps: oneSaPps!,
    manySaPps: manySaPps!,
    manySaOneHotPps: manySaOneHotPps!,
    manySaFewPps: manySaFewPps!,
    fewSas,
    ringSas,
    extraCost: oneSaPps! / manySaPps! - 1,
    bytesPerSa,
    hugePages: huge.active ? { active: true } : { active: false, reason: huge.reason },
    ...(small
      ? {
          smallPages: {
            oneSaPps: smallOne!,
            manySaPps: smallMany!,
            manySaFewPps: smallFew!,
            extraCost: smallOne! / smallMany! - 1,
          },
        }
      : {}),
  };
}
