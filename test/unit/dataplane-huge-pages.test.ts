// Transparent huge pages for the dataplane's wasm memory (sdk/dataplane/huge-pages.ts): with the
// default `hugePages`, under Node on Linux with koffi and THP not `never`, the memory's mapping
// carries the kernel's huge-page advice (VmFlags `hg` in /proc/self/smaps) and decap still matches
// the node:crypto reference; with `hugePages: false` the mapping carries no advice. The mapping is
// found independently of the SDK: the address koffi passes for the memory's ArrayBuffer (checked by
// reading a marker back through koffi), looked up in /proc/self/smaps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Dataplane, DataplaneError, HUGE_PAGES_MIN_SAS } from "../../sdk/index.ts";
import { ipv4Udp, refEncap, type RefSa } from "../helpers/esp-ref.ts";

interface Koffi {
  load(path: string): { func(decl: string): (...args: unknown[]) => unknown };
  view(ptr: unknown, len: number): ArrayBuffer;
}
const koffi = ((): Koffi | undefined => {
  try {
    return createRequire(import.meta.url)("koffi") as Koffi;
  } catch {
    return undefined;
  }
})();
const thpMode = ((): string | undefined => {
  try {
    return /\[(\w+)\]/.exec(readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8"))?.[1];
  } catch {
    return undefined;
  }
})();
const canAdvise = process.platform === "linux" && koffi !== undefined && thpMode !== undefined && thpMode !== "never";
const skip = canAdvise ? false : "needs Linux, koffi and transparent huge pages not `never`";

/** The wasm memory's address as koffi passes its ArrayBuffer, checked by reading a marker back. */
function addressOf(buf: ArrayBuffer, at: number): bigint {
  const memcpy = koffi!.load("libc.so.6").func("uintptr_t memcpy(void *dst, const void *src, size_t n)");
  const addr = BigInt(memcpy(buf, buf, 0) as bigint | number);
  const marker = crypto.getRandomValues(new Uint8Array(16));
  new Uint8Array(buf).set(marker, at);
  assert.deepEqual(new Uint8Array(koffi!.view(addr + BigInt(at), 16)), marker, "koffi's address is the memory's");
  return addr;
}

/** The smaps fields of the mapping that starts at `addr`. */
function smapsOf(addr: bigint): { vmFlags: string[]; thpEligible: string | undefined } {
  const head = `${addr.toString(16)}-`;
  const block = readFileSync("/proc/self/smaps", "utf8")
    .split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)
    .find((b) => b.startsWith(head));
  assert.ok(block, `no mapping starts at 0x${addr.toString(16)}`);
  return {
    vmFlags: /^VmFlags:(.*)$/m.exec(block)![1]!.trim().split(/\s+/),
    thpEligible: /^THPeligible:\s+(\d)/m.exec(block)?.[1],
  };
}

const gcmSa = (spi: number): RefSa => ({
  spi,
  suite: "gcm",
  key: Uint8Array.from({ length: 16 }, (_, i) => (i * 7 + spi) & 255),
  salt: Uint8Array.of(1, 2, 3, 4),
  icv: 16,
});

/** A dataplane big enough for whole 2 MiB pages of SA slots, its SAs, and the memory's address. */
async function withSas(hugePages?: boolean) {
  const dp = await Dataplane.create({
    maxSas: 20_000,
    batchSize: 16,
    ...(hugePages === undefined ? {} : { hugePages }),
  });
  const sas = [0x5001, 0x5002, 0x5003].map(gcmSa);
  for (const s of sas) {
    dp.addSa({
      spi: s.spi,
      direction: "in",
      mode: "tunnel",
      esp: "aes128gcm16",
      encKey: new Uint8Array([...s.key, ...s.salt!]),
    });
  }
  const inners = sas.map((_, i) => ipv4Udp(40 + i, 0x30 + i));
  const res = dp.decapsulateBatch(sas.map((s, i) => refEncap(s, 1n, inners[i]!, 4)));
  assert.deepEqual(
    res.map((r) => r.status),
    ["ok", "ok", "ok"],
  );
  res.forEach((r, i) => assert.deepEqual(r.payload, inners[i]));
  // An output view of the batch API is a view on the wasm memory: its buffer is the memory's.
  const b = dp.batch;
  b.reset();
  b.add(refEncap(sas[0]!, 2n, inners[0]!, 4), -1);
  dp.runDecapsulate(b);
  const buf = b.output(0).buffer as ArrayBuffer;
  b.reset();
  return { dp, addr: addressOf(buf, buf.byteLength - 64) };
}

test("default hugePages: the memory is advised for huge pages and decap matches the reference", { skip }, async () => {
  const { dp, addr } = await withSas();
  const st = dp.hugePages;
  assert.ok(st.active, `not active: ${st.active ? "" : st.reason}`);
  assert.ok(st.bytes >= dp.memoryBytes && st.bytes <= 2 ** 32, `advised ${st.bytes} bytes`);
  const s = smapsOf(addr);
  assert.ok(s.vmFlags.includes("hg"), `VmFlags ${s.vmFlags.join(" ")} lack hg (MADV_HUGEPAGE)`);
  if (s.thpEligible !== undefined) assert.equal(s.thpEligible, "1");
});

test("hugePages false: nothing is advised, decap matches the reference", { skip }, async () => {
  const { dp, addr } = await withSas(false);
  const st = dp.hugePages;
  assert.equal(st.active, false);
  assert.match(st.active ? "" : st.reason, /hugePages: false/);
  const s = smapsOf(addr);
  assert.ok(!s.vmFlags.includes("hg"), `VmFlags ${s.vmFlags.join(" ")} carry hg`);
  if (thpMode === "madvise" && s.thpEligible !== undefined) assert.equal(s.thpEligible, "0");
});

test("hugePages: the status always says whether it took effect or why not", async () => {
  const dp = await Dataplane.create({ maxSas: 16, hugePages: true });
  const st = dp.hugePages;
  if (st.active) assert.ok(st.bytes > 0);
  else assert.ok(st.reason.length > 0);
  assert.equal(st.active, canAdvise, `expected ${canAdvise}: ${st.active ? "active" : st.reason}`);
});

test("hugePages by default: off below HUGE_PAGES_MIN_SAS SAs, saying why; asked for at that size", async () => {
  const small = await Dataplane.create({ maxSas: HUGE_PAGES_MIN_SAS - 1 });
  assert.equal(small.hugePages.active, false);
  assert.match(small.hugePages.active ? "" : small.hugePages.reason, /not needed for maxSas/);
  const large = await Dataplane.create({ maxSas: HUGE_PAGES_MIN_SAS });
  assert.equal(large.hugePages.active, canAdvise, large.hugePages.active ? "active" : large.hugePages.reason);
});

test("hugePages: a non-boolean is refused", async () => {
  await assert.rejects(
    Dataplane.create({ maxSas: 16, hugePages: "yes" as unknown as boolean }),
    (e: unknown) => e instanceof DataplaneError && e.code === "BAD_ARGUMENT",
  );
});
