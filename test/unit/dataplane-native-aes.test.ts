// The native AES assist (sdk/dataplane/native-aes.ts, assembly/esp/native-ks.ts) against the
// pure-wasm path: for the same SAs and the same input, a native batch must give byte for byte the
// same packets, the same verdicts, the same replay windows and the same counters, including batches
// that mix SAs and suites, repeat a packet inside the batch, cross a lifetime limit mid-batch, use
// ESN and transport mode. The other dataplane suites run every test both ways (aes-both-ways.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane, DataplaneError, type SaConfig } from "../../sdk/index.ts";
import { ipv4Udp, ipv6Udp } from "../helpers/esp-ref.ts";

const key = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 29 + seed * 13) & 255);

/** Outbound and inbound SAs of several suites; every dataplane of a test gets the same ones. */
const SAS: Omit<SaConfig, "direction">[] = [
  { spi: 0x1001, mode: "tunnel", esp: "aes128gcm16", encKey: key(20, 1) },
  { spi: 0x1002, mode: "tunnel", esp: "aes256gcm16", encKey: key(36, 2), esn: true, seq: 0xfffffffdn },
  { spi: 0x1003, mode: "transport", esp: "aes128gcm8", encKey: key(20, 3) },
  { spi: 0x1004, mode: "tunnel", esp: "chacha20poly1305", encKey: key(36, 4) },
  { spi: 0x1005, mode: "tunnel", esp: "aes192gcm12", encKey: key(28, 5) },
  { spi: 0x1006, mode: "tunnel", esp: "aes128ctr-sha256", encKey: key(20, 6), integKey: key(32, 7) },
];

async function endpoint(nativeAes: false | { minBytes: number; maxSas?: number }, extra: Partial<SaConfig> = {}) {
  const dp = await Dataplane.create({ maxSas: 32, batchSize: 64, nativeAes });
  const out = SAS.map((c) => dp.addSa({ ...c, ...extra, direction: "out" }));
  const inn = SAS.map((c) => dp.addSa({ ...c, ...extra, direction: "in" }));
  return { dp, out, inn };
}

/** A mixed list: (SA index, inner packet), SAs interleaved and in runs. */
function traffic(): [number, Uint8Array][] {
  const list: [number, Uint8Array][] = [];
  const sizes = [0, 1, 13, 36, 100, 1372, 255, 16, 17, 700];
  for (let k = 0; k < 40; k++) {
    const sa = k < 10 ? 0 : k < 14 ? 1 : (k * 7) % SAS.length;
    const n = sizes[k % sizes.length]!;
    list.push([sa, k % 5 === 4 ? ipv6Udp(n, k) : ipv4Udp(n, k)]);
  }
  return list;
}

function encapAll(ep: Awaited<ReturnType<typeof endpoint>>, list: [number, Uint8Array][]): Uint8Array[] {
  const b = ep.dp.batch;
  b.reset();
  for (const [sa, p] of list) b.add(p, ep.out[sa]);
  ep.dp.runEncapsulate(b);
  const outs = list.map((_, i) => {
    assert.equal(b.status(i), "ok", `packet ${i}`);
    return b.output(i).slice();
  });
  b.reset();
  return outs;
}

/** Transport-mode packets carry their IP header in front of ESP: its length is the l3 argument. */
const l3Of = (p: Uint8Array): number =>
  p[0]! >> 4 === 4 && p[9] === 50 ? 20 : p[0]! >> 4 === 6 && p[6] === 50 ? 40 : 0;

function decapAll(ep: Awaited<ReturnType<typeof endpoint>>, packets: Uint8Array[]) {
  const b = ep.dp.batch;
  b.reset();
  for (const p of packets) b.add(p, -1, l3Of(p));
  ep.dp.runDecapsulate(b);
  const r = packets.map((_, i) => ({ status: b.status(i), seq: b.seq(i), out: b.output(i).slice() }));
  b.reset();
  return r;
}

const state = (ep: Awaited<ReturnType<typeof endpoint>>) =>
  ep.inn.map((h) => {
    const stats = ep.dp.stats(h);
    return { stats: { ...stats, lifetime: { ...stats.lifetime, addedAt: 0 } }, replay: ep.dp.replayState(h) };
  });

test("native AES is on by default under Node, off with nativeAes: false; bad options are refused", async () => {
  assert.equal((await Dataplane.create({ maxSas: 4, batchSize: 4 })).nativeAes, true);
  assert.equal((await Dataplane.create({ maxSas: 4, batchSize: 4, nativeAes: false })).nativeAes, false);
  assert.equal((await Dataplane.create({ maxSas: 4, batchSize: 4, nativeAes: { minBytes: 0 } })).nativeAes, true);
  for (const bad of [{ minBytes: -1 }, { minBytes: 1.5 }, "yes"])
    await assert.rejects(
      Dataplane.create({ nativeAes: bad as never }),
      (e: unknown) => e instanceof DataplaneError && e.code === "BAD_ARGUMENT",
    );
});

test("a mixed batch (six SAs, four AES-GCM key sizes/ICVs, ESN across 2^32, transport) is byte-identical native and wasm, both ways", async () => {
  const native = await endpoint({ minBytes: 0 });
  const wasm = await endpoint(false);
  const list = traffic();
  for (let round = 0; round < 2; round++) {
    const a = encapAll(native, list);
    const w = encapAll(wasm, list);
    for (let i = 0; i < list.length; i++) assert.deepEqual(a[i], w[i], `round ${round} packet ${i}`);
    // Each decapsulates the other's packets, in one batch, in order.
    const da = decapAll(native, w);
    const dw = decapAll(wasm, a);
    for (let i = 0; i < list.length; i++) {
      assert.equal(da[i]!.status, "ok", `native decap ${i}`);
      assert.deepEqual(da[i], dw[i], `decap ${i}`);
      assert.deepEqual(da[i]!.out, list[i]![1], `payload ${i}`);
    }
  }
  assert.deepEqual(state(native), state(wasm));
});

test("inside one native batch: repeats are replays, forgeries fail, the window moves as a sequential run moves it", async () => {
  const native = await endpoint({ minBytes: 0 });
  const wasm = await endpoint(false);
  const sender = await endpoint(false);
  const list = traffic().slice(0, 20);
  const pkts = encapAll(sender, list);
  const forged = pkts[3]!.slice();
  forged[forged.length - 1]! ^= 1;
  const cut = pkts[5]!.subarray(0, 30);
  const batch = [
    pkts[0]!,
    pkts[1]!,
    pkts[0]!,
    forged,
    pkts[3]!,
    pkts[3]!,
    cut,
    pkts[2]!,
    pkts[12]!,
    pkts[11]!,
    pkts[12]!,
  ];
  const a = decapAll(native, batch);
  const w = decapAll(wasm, batch);
  assert.deepEqual(
    a.map((r) => r.status),
    ["ok", "ok", "replay", "integrity-failed", "ok", "replay", "truncated", "ok", "ok", "ok", "replay"],
  );
  assert.deepEqual(a, w);
  assert.deepEqual(state(native), state(wasm));
  assert.deepEqual(native.dp.globalStats(), wasm.dp.globalStats());
});

test("a hard packet limit reached in the middle of a native batch stops the rest of it, as in wasm", async () => {
  const life = { lifetime: { hard: { packets: 3 } } };
  const native = await endpoint({ minBytes: 0 }, life);
  const wasm = await endpoint(false, life);
  const sender = await endpoint(false);
  const list: [number, Uint8Array][] = Array.from({ length: 6 }, (_, i) => [0, ipv4Udp(200 + i, i)]);
  const pkts = encapAll(sender, list);
  const a = decapAll(native, pkts);
  assert.deepEqual(
    a.map((r) => r.status),
    ["ok", "ok", "ok", "lifetime-expired", "lifetime-expired", "lifetime-expired"],
  );
  assert.deepEqual(a, decapAll(wasm, pkts));
  assert.deepEqual(state(native), state(wasm));
});

test("removeSa drops the native cipher; a new SA in the same slot uses its own key", async () => {
  const native = await endpoint({ minBytes: 0 });
  const wasm = await endpoint(false);
  for (const ep of [native, wasm]) {
    ep.dp.removeSa(ep.out[0]!);
    ep.out[0] = ep.dp.addSa({ ...SAS[0]!, encKey: key(20, 99), direction: "out" });
  }
  const list: [number, Uint8Array][] = [
    [0, ipv4Udp(500)],
    [0, ipv4Udp(600)],
  ];
  assert.deepEqual(encapAll(native, list), encapAll(wasm, list));
});

test("the default threshold keeps small batches in wasm and large ones native, with the same bytes", async () => {
  const dflt = await endpoint(true as never);
  const wasm = await endpoint(false);
  for (const list of [[[0, ipv4Udp(10)]], traffic()] as [number, Uint8Array][][]) {
    assert.deepEqual(encapAll(dflt, list), encapAll(wasm, list));
  }
});

test("a batch decapsulates exactly as the same packets one by one (HMAC-SHA-256 four at a time, native GCM), ESN across 2^32", async () => {
  const suites: Omit<SaConfig, "direction" | "spi" | "mode">[] = [
    { esp: "aes128-sha256", encKey: key(16, 8), integKey: key(32, 9), esn: true, seq: 0xffffffe0n },
    { esp: "aes128ctr-sha256", encKey: key(20, 10), integKey: key(32, 11), esn: true, seq: 0xffffffe0n },
    { esp: "null-sha256", encKey: new Uint8Array(0), integKey: key(32, 12) },
    { esp: "aes128gcm16", encKey: key(20, 13), esn: true, seq: 0xffffffe0n },
  ];
  for (const cfg of suites) {
    for (const nativeAes of [false, { minBytes: 0 }] as const) {
      // The one-by-one receiver runs the pure-wasm path: sequential and without the native AES.
      const make = async (native: typeof nativeAes) => {
        const dp = await Dataplane.create({ maxSas: 4, batchSize: 64, nativeAes: native });
        const h = dp.addSa({ ...cfg, spi: 0x2000, mode: "tunnel", direction: "in" });
        return { dp, h };
      };
      const sender = await Dataplane.create({ maxSas: 4, batchSize: 64, nativeAes: false });
      const out = sender.addSa({ ...cfg, spi: 0x2000, mode: "tunnel", direction: "out" });
      const pkts = sender
        .encapsulateBatch(
          out,
          Array.from({ length: 90 }, (_, i) => ipv4Udp(i * 13, i)),
        )
        .map((r) => r.packet!);
      const forged = pkts[40]!.slice();
      forged[30]! ^= 4;
      // In order across 2^32, then late ones (one now outside the window), repeats and a forgery.
      const order = [0, 1, 2, 3, 60, 4, 5, 89, 70, 6, 6, 71, 7, 72, 30, 31, 40, 41, 85, 86, 87, 88, 89];
      const batch = [...order.map((k) => pkts[k]!), forged, pkts[8]!];
      const a = await make(nativeAes);
      const b = await make(false);
      const together = a.dp.decapsulateBatch(batch);
      const alone = batch.map((p) => b.dp.decapsulate(p));
      assert.deepEqual(together, alone, `${cfg.esp} native ${String(!!nativeAes)}`);
      assert.ok(together.filter((r) => r.status === "ok").length >= 15, `${cfg.esp}: most are delivered`);
      assert.ok(together.some((r) => r.status === "replay"));
      assert.deepEqual(a.dp.replayState(a.h), b.dp.replayState(b.h));
      assert.deepEqual(a.dp.globalStats(), b.dp.globalStats());
    }
  }
});

test("nativeAes.maxSas bounds the native objects: SAs beyond it run on the wasm AES, in the same batch, same bytes", async () => {
  const capped = await endpoint({ minBytes: 0, maxSas: 3 });
  const wasm = await endpoint(false);
  const list = traffic();
  const a = encapAll(capped, list);
  assert.deepEqual(a, encapAll(wasm, list));
  assert.deepEqual(decapAll(capped, a), decapAll(wasm, a));
  assert.deepEqual(state(capped), state(wasm));
  // Removing a native SA frees its place for the next one.
  capped.dp.removeSa(capped.out[0]!);
  wasm.dp.removeSa(wasm.out[0]!);
  capped.out[0] = capped.dp.addSa({ ...SAS[0]!, direction: "out", seq: 100n });
  wasm.out[0] = wasm.dp.addSa({ ...SAS[0]!, direction: "out", seq: 100n });
  assert.deepEqual(encapAll(capped, list), encapAll(wasm, list));
  await assert.rejects(
    Dataplane.create({ nativeAes: { maxSas: -1 } }),
    (e: unknown) => e instanceof DataplaneError && e.code === "BAD_ARGUMENT",
  );
});
