// The SPI table at scale: 1,000,000 inbound SAs fit, every one is found by its SPI, and heavy
// add/delete churn leaves lookups correct (backward-shift deletion: no tombstones to pile up).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane } from "../../sdk/index.ts";
import { refEncap, ipv4Udp } from "../helpers/esp-ref.ts";

const integKey = new Uint8Array(20).fill(7);
const cfg = (spi: number) => ({
  spi,
  direction: "in" as const,
  mode: "tunnel" as const,
  esp: "null-sha1",
  encKey: new Uint8Array(0),
  integKey,
});
const packetFor = (spi: number, seq: number) =>
  refEncap({ spi, suite: "null", key: new Uint8Array(0), integKey, hash: "sha1", icv: 12 }, BigInt(seq), ipv4Udp(4), 4);

test("1,000,000 inbound SAs: all installed, sampled SPIs decapsulate on the right SA, unknown SPIs do not", async () => {
  const N = 1_000_000;
  const dp = await Dataplane.create({ maxSas: N, batchSize: 256 });
  const handles = new Int32Array(N);
  // Sequential SPIs are the worst case for a weak hash; the table mixes them with a seeded fmix32.
  for (let i = 0; i < N; i++) handles[i] = dp.addSa(cfg(0x10000 + i));
  assert.equal(dp.saCount, N);
  assert.throws(() => dp.addSa(cfg(0x7fffffff)), /no free SA slot/);
  const sample = Array.from({ length: 2000 }, (_, k) => (k * 7919) % N);
  const res = dp.decapsulateBatch(sample.map((i) => packetFor(0x10000 + i, 1)));
  res.forEach((r, k) => {
    assert.equal(r.status, "ok");
    assert.equal(r.sa, handles[sample[k]!]);
  });
  assert.equal(dp.decapsulate(packetFor(0x10000 + N, 1)).status, "no-sa");
});

test("churn: 200,000 add/remove cycles on a 50,000-SA table keep every live SPI reachable", async () => {
  const dp = await Dataplane.create({ maxSas: 50_000, batchSize: 256 });
  const live = new Map<number, number>(); // spi -> handle
  let rnd = 99;
  const next = () => (rnd = (rnd * 1664525 + 1013904223) >>> 0);
  for (let i = 0; i < 40_000; i++) {
    const spi = 0x100 + (next() & 0x3ffffff);
    if (!live.has(spi)) live.set(spi, dp.addSa(cfg(spi)));
  }
  const keys = [...live.keys()];
  for (let c = 0; c < 200_000; c++) {
    const idx = next() % keys.length;
    const spi = keys[idx];
    dp.removeSa(live.get(spi!)!);
    live.delete(spi!);
    let fresh = 0x100 + (next() & 0x3ffffff);
    while (live.has(fresh)) fresh = 0x100 + (next() & 0x3ffffff);
    live.set(fresh, dp.addSa(cfg(fresh)));
    keys[idx] = fresh;
  }
  assert.equal(dp.saCount, live.size);
  const probe = keys.filter((_, i) => i % 20 === 0);
  const res = dp.decapsulateBatch(probe.map((spi) => packetFor(spi, 1)));
  res.forEach((r, i) => {
    assert.equal(r.status, "ok", `spi ${probe[i]!.toString(16)}`);
    assert.equal(r.sa, live.get(probe[i]!));
  });
  // A removed SPI is really gone.
  const gone = 0x4000000 + 0x100; // outside the random range
  const h = dp.addSa(cfg(gone));
  dp.removeSa(h);
  assert.equal(dp.decapsulate(packetFor(gone, 1)).status, "no-sa");
});
