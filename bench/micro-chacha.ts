// Micro benchmark of the wasm ChaCha20, Poly1305 and ChaCha20-Poly1305 primitives (build/primitives.wasm,
// or the path given as the first argument) next to node:crypto's chacha20-poly1305 with one
// createCipheriv/createDecipheriv per packet, as a per-packet JS ESP implementation would call it.
// Fastest of 10 runs, CPU time (the machine is shared: other load only ever adds time).
// Usage: node --import tsx bench/micro-chacha.ts [primitives.wasm]
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

type Exports = Record<string, (...args: number[]) => number> & { memory: WebAssembly.Memory };

const path = process.argv[2] ?? fileURLToPath(new URL("../build/primitives.wasm", import.meta.url));
const inst = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(path)), {
  env: {
    abort: () => {
      throw new Error("wasm abort");
    },
  },
});
const x = inst.exports as unknown as Exports;
const put = (b: Uint8Array): number => {
  const p = x.alloc!(Math.max(b.length, 16));
  new Uint8Array(x.memory.buffer, p, b.length).set(b);
  return p;
};

/** Fastest CPU ns per call of fn over 10 timed runs after a warm-up run. */
function nsPerCall(fn: () => void, iters: number): number {
  const runs: number[] = [];
  for (let r = 0; r < 11; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < iters; i++) fn();
    const t = process.cpuUsage(t0);
    if (r > 0) runs.push(((t.user + t.system) * 1000) / iters);
  }
  return Math.min(...runs);
}

const mbps = (len: number, ns: number): string => `${((len / ns) * 1000).toFixed(0).padStart(5)} MB/s`;
const iterations = (len: number): number => Math.ceil(4e6 / (len + 64));

const key = randomBytes(32),
  nonce = randomBytes(12),
  aad = randomBytes(8);
const kp = put(key),
  np = put(nonce),
  ap = put(aad),
  tag = x.alloc!(16);
const src = put(randomBytes(16384)),
  dst = x.alloc!(16384);
const ctx = x.alloc!(x.chachaPolyContextBytes!());
x.chachaPolyInit!(kp, ctx);

for (const len of [64, 256, 1400, 16384]) {
  const chacha = nsPerCall(() => x.chacha20Xor!(kp, np, 1, src, dst, len), iterations(len));
  const poly = nsPerCall(() => x.poly1305Mac!(kp, src, len, tag), iterations(len));
  console.log(
    `${String(len).padStart(5)} B  chacha20 ${chacha.toFixed(0).padStart(6)} ns ${mbps(len, chacha)}` +
      `  | poly1305 ${poly.toFixed(0).padStart(6)} ns ${mbps(len, poly)}`,
  );
}

for (const len of [64, 1400]) {
  const iters = iterations(len);
  const seal = nsPerCall(() => x.chachaPolySeal!(ctx, np, ap, 8, src, dst, len, tag), iters);
  const open = nsPerCall(() => x.chachaPolyOpen!(ctx, np, ap, 8, dst, src, len, tag), iters);
  if (x.chachaPolyOpen!(ctx, np, ap, 8, dst, src, len, tag) !== 1) throw new Error("open rejected its own seal");
  const pt = randomBytes(len);
  const nodeSeal = nsPerCall(
    () => {
      const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
      c.setAAD(aad, { plaintextLength: len });
      c.update(pt);
      c.final();
      c.getAuthTag();
    },
    Math.ceil(iters / 4),
  );
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: len });
  const ct = Buffer.concat([c.update(pt), c.final()]),
    t = c.getAuthTag();
  const nodeOpen = nsPerCall(
    () => {
      const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
      d.setAAD(aad, { plaintextLength: len });
      d.setAuthTag(t);
      d.update(ct);
      d.final();
    },
    Math.ceil(iters / 4),
  );
  console.log(
    `${String(len).padStart(5)} B  seal ${seal.toFixed(0).padStart(5)} ns ${mbps(len, seal)}` +
      `, open ${open.toFixed(0).padStart(5)} ns ${mbps(len, open)}` +
      `  | node:crypto seal ${nodeSeal.toFixed(0)} ns ${mbps(len, nodeSeal)}, open ${nodeOpen.toFixed(0)} ns ${mbps(len, nodeOpen)}` +
      `  | open ${(nodeOpen / open).toFixed(2)}x node`,
  );
}
