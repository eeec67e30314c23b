// Micro benchmark of the bitsliced AES (build/primitives.wasm, or the path given as the first
// argument): one 8-block pass, CTR and CBC over 16 KiB, the key schedule, and node:crypto's
// aes-*-ctr on the same sizes. Best of 30 short runs, CPU time (the machine is shared: descheduling
// only ever adds time). Cycles are CPU ns times the clock read from /proc/cpuinfo (nominal).
// Usage: node --import tsx bench/micro-aes.ts [primitives.wasm]
import { createCipheriv } from "node:crypto";
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

const mhzLine = readFileSync("/proc/cpuinfo", "utf8").match(/cpu MHz\s*:\s*([\d.]+)/);
const ghz = mhzLine ? Number(mhzLine[1]) / 1000 : NaN;

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

function report(name: string, ns: number, bytes: number): void {
  const cycles = ns * ghz;
  console.log(
    `${name.padEnd(30)} ${ns.toFixed(1).padStart(9)} ns  ${cycles.toFixed(0).padStart(7)} cycles  ` +
      `${(cycles / bytes).toFixed(2).padStart(6)} c/B  ${((bytes * 8) / ns).toFixed(2).padStart(6)} Gbit/s`,
  );
}

const LEN = 16384;
const key = x.alloc!(32);
const ks = x.alloc!(2048);
const buf = x.alloc!(LEN);
const iv = x.alloc!(16);
console.log(`clock ${ghz.toFixed(3)} GHz (nominal, from /proc/cpuinfo)`);
for (const keyLen of [16, 24, 32]) {
  const rounds = x.aesExpandKey!(key, keyLen, ks, 1);
  const bits = keyLen * 8;
  report(
    `aes${bits} encrypt 8-block pass`,
    nsPerCall(() => x.aesEncrypt8!(ks, rounds, buf, buf), 10000),
    128,
  );
  report(
    `aes${bits} decrypt 8-block pass`,
    nsPerCall(() => x.aesDecryptBlocks!(ks, rounds, buf, buf, 8), 10000),
    128,
  );
  report(
    `aes${bits} ctr 16 KiB`,
    nsPerCall(() => x.aesCtrXor!(ks, rounds, iv, buf, buf, LEN), 200),
    LEN,
  );
  report(
    `aes${bits} cbc-decrypt 16 KiB`,
    nsPerCall(() => x.aesCbcDecrypt!(ks, rounds, iv, buf, buf, LEN), 200),
    LEN,
  );
  report(
    `aes${bits} cbc-encrypt 1 KiB`,
    nsPerCall(() => x.aesCbcEncrypt!(ks, rounds, iv, buf, buf, 1024), 200),
    1024,
  );
  report(
    `aes${bits} key schedule`,
    nsPerCall(() => x.aesExpandKey!(key, keyLen, ks, 1), 2000),
    keyLen,
  );
  const nodeKey = new Uint8Array(keyLen);
  const data = new Uint8Array(LEN);
  const nodeIv = new Uint8Array(16);
  report(
    `node aes${bits}-ctr 16 KiB`,
    nsPerCall(() => createCipheriv(`aes-${bits}-ctr`, nodeKey, nodeIv).update(data), 200),
    LEN,
  );
}
