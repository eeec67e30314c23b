// Micro benchmark of the hashes and HMAC (build/primitives.wasm, or the path given as the first
// argument): ns per compression for SHA-256 (scalar and 4-lane), SHA-1, SHA-512; HMAC-SHA-256 per
// message for 64/256/1400 bytes (one at a time and four at once), and node:crypto's createHmac
// on the same sizes. Best of 30 short runs, CPU time (the machine is shared: descheduling only
// ever adds time). Usage: node --import tsx bench/micro-hmac.ts [primitives.wasm]
import { createHmac, randomBytes } from "node:crypto";
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
const SHA1 = 1,
  SHA256 = 2,
  SHA512 = 4;

function nsPerCall(fn: () => void, iters: number): number {
  const runs: number[] = [];
  for (let r = 0; r < 31; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < iters; i++) fn();
    const t = process.cpuUsage(t0);
    if (r > 0) runs.push(((t.user + t.system) * 1000) / iters);
  }
  return Math.min(...runs);
}

const report = (name: string, ns: number): void => console.log(`${name.padEnd(40)} ${ns.toFixed(1).padStart(8)} ns`);

const BUF = 8192;
const buf = x.alloc!(BUF);
new Uint8Array(x.memory.buffer, buf, BUF).set(randomBytes(BUF));
const state = x.alloc!(64);
const state4 = x.alloc!(128);
const ctx = x.alloc!(128);
const out = x.alloc!(256);
const key = x.alloc!(32);
const jobs = x.alloc!(96);

x.sha256Init!(state);
report("sha256Compress, per block (64 blocks)", nsPerCall(() => x.sha256Compress!(state, buf, 64), 300) / 64);
report(
  "sha256Compress, 1 block per call",
  nsPerCall(() => x.sha256Compress!(state, buf, 1), 20000),
);
report(
  "sha256Compress4x, per block (4 lanes)",
  nsPerCall(() => x.sha256Compress4x!(state4, buf, buf + 64, buf + 128, buf + 192), 20000) / 4,
);
x.sha1Init!(state);
report("sha1Compress, per block (64 blocks)", nsPerCall(() => x.sha1Compress!(state, buf, 64), 300) / 64);
x.sha512Init!(state);
report("sha512Compress, per 128-byte block (32)", nsPerCall(() => x.sha512Compress!(state, buf, 32), 300) / 32);

x.hmacInit!(SHA256, key, 32, ctx);
const nodeKey = randomBytes(32);
for (const len of [64, 256, 1400]) {
  report(
    `hmacMac sha256 ${len} B`,
    nsPerCall(() => x.hmacMac!(SHA256, ctx, buf, len, 0, 0, out), 5000),
  );
  const view = new DataView(x.memory.buffer, jobs, 96);
  for (let i = 0; i < 4; i++) {
    [ctx, buf + i * 1400, len, 0, 0, out + 32 * i].forEach((v, k) => view.setUint32(24 * i + 4 * k, v, true));
  }
  report(`hmacSha256Mac4x ${len} B, per message`, nsPerCall(() => x.hmacSha256Mac4x!(jobs), 2000) / 4);
  const msg = randomBytes(len);
  report(
    `node createHmac sha256 ${len} B`,
    nsPerCall(() => createHmac("sha256", nodeKey).update(msg).digest(), 2000),
  );
}
x.hmacInit!(SHA1, key, 20, ctx);
report(
  "hmacMac sha1 64 B",
  nsPerCall(() => x.hmacMac!(SHA1, ctx, buf, 64, 0, 0, out), 5000),
);
x.hmacInit!(SHA512, key, 32, ctx);
report(
  "hmacMac sha512 64 B",
  nsPerCall(() => x.hmacMac!(SHA512, ctx, buf, 64, 0, 0, out), 5000),
);
