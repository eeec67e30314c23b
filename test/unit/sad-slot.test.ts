// SA slot reuse: small keys (NULL-HMAC contexts) and small replay bitmaps (windows up to 64) live
// inside the slot (assembly/abi.ts), so removing an SA must leave nothing of them for the next SA
// in that slot. Larger windows keep their bitmap in a block of its own; both must behave alike.
// Packets come from the node:crypto reference encoder (test/helpers/esp-ref.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane } from "../../sdk/index.ts";
import { refEncap, ipv4Udp, type RefSa } from "../helpers/esp-ref.ts";

const SPI = 0x5a17;
const inner = ipv4Udp(20);

function sa(integKey: Uint8Array, replayWindow: number) {
  return {
    spi: SPI,
    direction: "in",
    mode: "tunnel",
    esp: "null-sha256",
    encKey: new Uint8Array(0),
    integKey,
    icvLength: 16,
    replayWindow,
  } as const;
}

const ref = (integKey: Uint8Array): RefSa => ({
  spi: SPI,
  suite: "null",
  key: new Uint8Array(0),
  integKey,
  hash: "sha256",
  icv: 16,
});

for (const window of [32, 64, 128, 1024]) {
  test(`window ${window}: a removed SA's key and replay state do not reach the next SA in its slot`, async () => {
    const dp = await Dataplane.create({ maxSas: 4, batchSize: 16 });
    const k1 = new Uint8Array(32).fill(0x11);
    const k2 = new Uint8Array(32).fill(0x22);
    const h1 = dp.addSa(sa(k1, window));
    for (const seq of [1n, 2n, 5n, 40n]) assert.equal(dp.decapsulate(refEncap(ref(k1), seq, inner, 4)).status, "ok");
    assert.equal(dp.decapsulate(refEncap(ref(k1), 5n, inner, 4)).status, "replay");
    const before = dp.replayState(h1);
    assert.equal(before.top, 40n);
    assert.ok(before.bitmap.some((b) => b !== 0));

    dp.removeSa(h1);
    const h2 = dp.addSa(sa(k2, window));
    assert.equal(h2, h1, "the freed slot is reused");
    const after = dp.replayState(h2);
    assert.equal(after.top, 0n);
    assert.equal(after.window, window);
    assert.ok(
      after.bitmap.every((b) => b === 0),
      "fresh bitmap",
    );
    // The old key no longer verifies; sequence numbers the old SA saw are new to this one.
    assert.equal(dp.decapsulate(refEncap(ref(k1), 41n, inner, 4)).status, "integrity-failed");
    for (const seq of [5n, 1n, 40n]) {
      const r = dp.decapsulate(refEncap(ref(k2), seq, inner, 4));
      assert.equal(r.status, "ok");
      assert.deepEqual(r.payload, inner);
    }
    assert.equal(dp.decapsulate(refEncap(ref(k2), 5n, inner, 4)).status, "replay");
    const s = dp.stats(h2);
    assert.equal(s.packets, 3n);
    assert.equal(s.drops.replay, 1n);
    assert.equal(s.drops["integrity-failed"], 1n);
  });
}

test("a batch over many SAs of one table decapsulates each packet on its own SA", async () => {
  // decap_batch warms every packet's table entry, slot and key before processing (assembly/esp/decap.ts).
  const n = 300;
  const dp = await Dataplane.create({ maxSas: n, batchSize: 256 });
  const keys = Array.from({ length: n }, (_, i) => new Uint8Array(32).fill(i & 0xff));
  const refs = keys.map((k, i) => ({ ...ref(k), spi: 0x10000 + i * 7919 }));
  const handles = refs.map((r, i) => dp.addSa({ ...sa(keys[i]!, i % 2 ? 64 : 1024), spi: r.spi }));
  const picks = Array.from({ length: 256 }, (_, j) => (j * 131) % n);
  const res = dp.decapsulateBatch(picks.map((i, j) => refEncap(refs[i]!, BigInt(j + 1), ipv4Udp(8, j), 4)));
  res.forEach((r, j) => {
    assert.equal(r.status, "ok", `packet ${j}`);
    assert.equal(r.sa, handles[picks[j]!]);
    assert.deepEqual(r.payload, ipv4Udp(8, j));
  });
});
