// `--profile`: where the time goes on our path (always on the CPU clock). Two views:
//  1. the batch path split by difference of medians: copy-in only; copy-in + wasm run; + copy-out;
//  2. the raw primitives from build/primitives.wasm (GHASH-only, HMAC-SHA-256-only, whole AES-GCM
//     seal, AES-only when exported), per packet of the benchmark's sizes.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { BaselineSa, BenchSuite } from "./baselines/esp-layout.ts";
import { getClock, median, packetsPerSecond, setClock, type Step } from "./measure.ts";
import { packetRing } from "./packets.ts";
import type { ProfileEntry } from "./results.ts";
import { HASH_SHA256 } from "../sdk/dataplane/abi.generated.ts";

export interface ProfileOptions {
  sliceMs: number;
  reps: number;
  sizes?: number[];
  onProgress?: (text: string) => void;
}

const BATCH = 256;

/**
 * ns per packet of each step, measured interleaved (every repetition runs all steps) on the CPU
 * clock, so parts computed as differences are not swamped by other processes on the machine.
 */
function nsPerPacket(steps: Step[], opts: ProfileOptions): number[] {
  const before = getClock();
  setClock("cpu");
  for (const step of steps) packetsPerSecond(step, opts.sliceMs / 4);
  const samples = steps.map(() => [] as number[]);
  for (let rep = 0; rep < Math.max(opts.reps, 3); rep++) {
    steps.forEach((step, i) => samples[i]!.push(1e9 / packetsPerSecond(step, opts.sliceMs / 2)));
  }
  setClock(before);
  return samples.map(median);
}

async function batchPathSplit(opts: ProfileOptions, out: ProfileEntry[]): Promise<void> {
  const ours = await import("./ours.ts");
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  for (const suite of ["aes128gcm16", "aes128-sha256"] as BenchSuite[]) {
    const sa: BaselineSa =
      suite === "aes128gcm16"
        ? { spi: 0x4242, encKey: random(20) }
        : { spi: 0x4242, encKey: random(16), integKey: random(32) };
    for (const size of opts.sizes ?? [64, 1400]) {
      const ep = await ours.createOurEndpoint(suite, sa);
      const inners = packetRing(size, 1024);
      const espRing = ours.encapsulateRing(ep, inners);
      for (const direction of ["encap", "decap"] as const) {
        opts.onProgress?.(`profile: ${suite} ${size} B ${direction}`);
        const ring = direction === "encap" ? inners : espRing;
        const b = ep.dp.batch;
        const sa = direction === "encap" ? ep.out : -1;
        let next = 0;
        const copyIn = () => {
          b.reset();
          for (let i = 0; i < BATCH; i++) {
            b.add(ring[next]!, sa);
            next = (next + 1) & 1023;
          }
        };
        const run = () => (direction === "encap" ? ep.dp.runEncapsulate(b) : ep.dp.runDecapsulate(b));
        const fullStep =
          direction === "encap" ? ours.ourEncapStep(ep, ring, BATCH) : ours.ourDecapStep(ep, ring, BATCH);
        const [inOnly, inRun, full] = nsPerPacket(
          [
            () => {
              copyIn();
              return BATCH;
            },
            () => {
              copyIn();
              run();
              return BATCH;
            },
            fullStep,
          ],
          opts,
        );
        const what = `ours ${suite} ${direction} b=${BATCH}`;
        out.push({
          what: `${what}: copy into arena`,
          size,
          nsPerPacket: inOnly!,
          note: `${pct(inOnly!, full!)} of ${full!.toFixed(0)} ns`,
        });
        out.push({
          what: `${what}: wasm run`,
          size,
          nsPerPacket: inRun! - inOnly!,
          note: `${pct(inRun! - inOnly!, full!)}`,
        });
        out.push({
          what: `${what}: status + copy out`,
          size,
          nsPerPacket: full! - inRun!,
          note: `${pct(full! - inRun!, full!)}`,
        });
      }
      ep.dp.removeSa(ep.out);
      ep.dp.removeSa(ep.in);
    }
  }
}

const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)}%`;

type Fn = (...args: number[]) => number;

/** Raw primitives: what one packet's worth of each costs, without ESP framing or JS. */
function primitives(opts: ProfileOptions, out: ProfileEntry[]): void {
  const file = fileURLToPath(new URL("../build/primitives.wasm", import.meta.url));
  if (!existsSync(file)) {
    out.push({
      what: "primitives",
      size: 0,
      nsPerPacket: NaN,
      note: "build/primitives.wasm missing (npm run build:wasm)",
    });
    return;
  }
  const inst = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(file)), {
    env: {
      abort: () => {
        throw new Error("wasm abort");
      },
    },
  });
  const x = inst.exports as Record<string, Fn> & { memory: WebAssembly.Memory };
  const alloc = (n: number) => (x.alloc!(n + 16) + 15) & ~15; // 16-aligned, the contexts need it
  const fill = (p: number, n: number) => crypto.getRandomValues(new Uint8Array(x.memory.buffer, p, n));
  const missing = (names: string[]) => names.filter((n) => typeof x[n] !== "function");
  const sizes = opts.sizes ?? [64, 1400];
  const maxLen = Math.max(...sizes) + 64;
  const data = alloc(maxLen);
  const dst = alloc(maxLen);
  fill(data, maxLen);
  const measure = (what: string, needs: string[], setup: () => (len: number) => void, note: string) => {
    const gone = missing(needs);
    if (gone.length) {
      out.push({ what, size: 0, nsPerPacket: NaN, note: `not exported: ${gone.join(", ")}` });
      return;
    }
    const call = setup();
    for (const size of sizes) {
      opts.onProgress?.(`profile: ${what} ${size} B`);
      out.push({
        what,
        size,
        nsPerPacket: nsPerPacket(
          [
            () => {
              call(size);
              return 1;
            },
          ],
          opts,
        )[0]!,
        note,
      });
    }
  };
  measure(
    "primitive: AES-128-GCM seal (whole)",
    ["alloc", "gcmContextBytes", "gcmInit", "gcmSeal"],
    () => {
      const ctx = alloc(x.gcmContextBytes!(16));
      const key = alloc(16);
      fill(key, 16);
      x.gcmInit!(key, 16, ctx);
      const nonce = alloc(12);
      const aad = alloc(8);
      const tag = alloc(16);
      return (len) => x.gcmSeal!(ctx, nonce, aad, 8, data, dst, len, tag, 16);
    },
    "AES-CTR + GHASH + tag",
  );
  measure(
    "primitive: GHASH only",
    ["alloc", "ghashInit", "ghashUpdate"],
    () => {
      const key = alloc(4096);
      const h = alloc(16);
      fill(h, 16);
      const y = alloc(16);
      x.ghashInit!(h, key);
      return (len) => x.ghashUpdate!(key, y, data, len + 8);
    },
    "AAD-free GHASH over the ciphertext",
  );
  measure(
    "primitive: HMAC-SHA-256 only",
    ["alloc", "hmacContextBytes", "hmacInit", "hmacMac"],
    () => {
      const ctx = alloc(x.hmacContextBytes!(HASH_SHA256));
      const key = alloc(32);
      fill(key, 32);
      const mac = alloc(32);
      x.hmacInit!(HASH_SHA256, key, 32, ctx);
      return (len) => x.hmacMac!(HASH_SHA256, ctx, data, len + 24, 0, 0, mac);
    },
    "SPI..ciphertext of a CBC packet, pad states precomputed",
  );
  const aesKey = (withDecrypt: number) => {
    const sched = alloc(x.aesKeyBytes!(16, withDecrypt));
    const key = alloc(16);
    fill(key, 16);
    return { sched, rounds: x.aesExpandKey!(key, 16, sched, withDecrypt) };
  };
  const iv = alloc(16);
  measure(
    "primitive: AES-128 blocks only",
    ["alloc", "aesKeyBytes", "aesExpandKey", "aesEncryptBlocks"],
    () => {
      const { sched, rounds } = aesKey(0);
      return (len) => x.aesEncryptBlocks!(sched, rounds, data, dst, (len + 15) >> 4);
    },
    "independent blocks (8 per bitsliced pass), the AES share of GCM's CTR",
  );
  measure(
    "primitive: AES-128-CBC encrypt",
    ["alloc", "aesKeyBytes", "aesExpandKey", "aesCbcEncrypt"],
    () => {
      const { sched, rounds } = aesKey(0);
      return (len) => x.aesCbcEncrypt!(sched, rounds, iv, data, dst, (len + 15) & ~15);
    },
    "chained: one block per bitsliced pass",
  );
  measure(
    "primitive: AES-128-CBC decrypt",
    ["alloc", "aesKeyBytes", "aesExpandKey", "aesCbcDecrypt"],
    () => {
      const { sched, rounds } = aesKey(1);
      return (len) => x.aesCbcDecrypt!(sched, rounds, iv, data, dst, (len + 15) & ~15);
    },
    "parallel: 8 blocks per pass",
  );
}

/** Everything `--profile` measures, in print order. */
export async function profileOurPath(opts: ProfileOptions): Promise<ProfileEntry[]> {
  const out: ProfileEntry[] = [];
  await batchPathSplit(opts, out);
  primitives(opts, out);
  return out;
}
