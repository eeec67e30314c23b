// Where the native AES assist starts to pay: AES-GCM (aes128gcm16) encap and decap of batches of
// 1..64 packets of 64, 256 and 1400 B, with the assist forced on for every batch (minBytes 0) and
// off (pure-wasm AES), in alternating slices of one process, per second of process CPU time.
// Prints native/wasm per (size, batch); NATIVE_AES_MIN_BYTES in sdk/dataplane/native-aes.ts is
// set from it. `node --import tsx bench/native-aes-crossover.ts [--slice-ms 100] [--reps 5]`
import { parseArgs } from "node:util";
import { Dataplane } from "../sdk/dataplane/dataplane.ts";
import { packetRing } from "./packets.ts";
import { median, packetsPerSecond, setClock, type Step } from "./measure.ts";

const { values: flags } = parseArgs({
  options: { "slice-ms": { type: "string", default: "100" }, reps: { type: "string", default: "5" } },
});
const sliceMs = Number(flags["slice-ms"]);
const reps = Number(flags.reps);
setClock("cpu");

const key = crypto.getRandomValues(new Uint8Array(20));
async function endpoint(nativeAes: false | { minBytes: number }) {
  const dp = await Dataplane.create({ maxSas: 4, batchSize: 64, nativeAes });
  const cfg = { spi: 0x4242, mode: "tunnel", esp: "aes128gcm16", encKey: key } as const;
  const out = dp.addSa({ ...cfg, direction: "out" });
  dp.addSa({ ...cfg, direction: "in", replayWindow: 0 });
  return { dp, out };
}
const native = await endpoint({ minBytes: 0 });
const wasm = await endpoint(false);
if (!native.dp.nativeAes) throw new Error("no native AES in this runtime");

function step(ep: { dp: Dataplane; out: number }, ring: Uint8Array[], n: number, decap: boolean): Step {
  let next = 0;
  const b = ep.dp.batch;
  return () => {
    b.reset();
    for (let i = 0; i < n; i++) {
      b.add(ring[next]!, decap ? -1 : ep.out);
      next = (next + 1) % ring.length;
    }
    if (decap) ep.dp.runDecapsulate(b);
    else ep.dp.runEncapsulate(b);
    if (b.status(0) !== "ok") throw new Error(b.status(0));
    return n;
  };
}

console.log(`aes128gcm16, native/wasm packets per CPU second, medians of ${reps} alternating ${sliceMs} ms slices`);
console.log(`${"size".padStart(5)} ${"batch".padStart(5)} ${"bytes".padStart(7)}  encap   decap`);
for (const size of [64, 256, 1400]) {
  const inners = packetRing(size, 256);
  const esp = native.dp.encapsulateBatch(native.out, inners).map((r) => r.packet!);
  for (const n of [1, 2, 4, 8, 16, 64]) {
    const cells: string[] = [];
    for (const decap of [false, true]) {
      const ring = decap ? esp : inners;
      const a = step(native, ring, n, decap),
        w = step(wasm, ring, n, decap);
      packetsPerSecond(a, sliceMs / 2);
      packetsPerSecond(w, sliceMs / 2);
      const sa: number[] = [],
        sw: number[] = [];
      for (let r = 0; r < reps; r++) {
        if (r % 2) sw.push(packetsPerSecond(w, sliceMs));
        sa.push(packetsPerSecond(a, sliceMs));
        if (!(r % 2)) sw.push(packetsPerSecond(w, sliceMs));
      }
      cells.push(`${(median(sa) / median(sw)).toFixed(2)}×`.padStart(6));
    }
    console.log(
      `${String(size).padStart(5)} ${String(n).padStart(5)} ${String(size * n).padStart(7)}  ${cells.join("  ")}`,
    );
  }
}
