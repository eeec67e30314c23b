// Batches that interleave SAs are processed grouped by SA (assembly/esp/batch-order.ts), keeping
// arrival order within each SA. The outcome must be exactly that of a sequential run: here every
// interleaved batch is checked against the same packets sent one packet per batch, for statuses,
// sequence numbers, payloads, replay windows and counters, with the wasm AES and with the native
// assist, for a few SAs (grouped) and more SAs than the grouping takes (arrival order).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane, type SaConfig } from "../../sdk/index.ts";
import { ipv4Udp } from "../helpers/esp-ref.ts";

const key = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 17) & 255);

const SUITES: Omit<SaConfig, "direction" | "spi">[] = [
  { mode: "tunnel", esp: "aes128gcm16", encKey: key(20, 1) },
  { mode: "tunnel", esp: "aes256-sha256", encKey: key(32, 2), integKey: key(32, 3) },
  { mode: "tunnel", esp: "null-sha256", encKey: new Uint8Array(0), integKey: key(32, 4) },
  { mode: "tunnel", esp: "aes128ctr-sha256", encKey: key(20, 5), integKey: key(32, 6), replayWindow: 32 },
  { mode: "tunnel", esp: "aes128ccm16", encKey: key(19, 7), esn: true, seq: 0xfffffffen },
];

/** `count` SAs cycling through SUITES, each with its own SPI and keys. */
function sas(count: number): Omit<SaConfig, "direction">[] {
  return Array.from({ length: count }, (_, i) => {
    const s = SUITES[i % SUITES.length]!;
    return { ...s, spi: 0x2000 + i, encKey: s.encKey.map((b) => b ^ i) };
  });
}

type NativeOpt = false | { minBytes: number };

async function endpoint(list: Omit<SaConfig, "direction">[], nativeAes: NativeOpt) {
  const dp = await Dataplane.create({ maxSas: 64, batchSize: 64, nativeAes });
  return {
    dp,
    out: list.map((c) => dp.addSa({ ...c, direction: "out" })),
    inn: list.map((c) => dp.addSa({ ...c, direction: "in" })),
  };
}
type Endpoint = Awaited<ReturnType<typeof endpoint>>;

/** Runs `items` through one batch, or (sequential) one batch per packet; returns per-packet results. */
function run(ep: Endpoint, dir: "encap" | "decap", items: [number, Uint8Array][], sequential: boolean) {
  const b = ep.dp.batch;
  const results: { status: string; seq: bigint; out: Uint8Array }[] = [];
  const chunks = sequential ? items.map((it) => [it]) : [items];
  for (const chunk of chunks) {
    b.reset();
    for (const [sa, p] of chunk) b.add(p, dir === "encap" ? ep.out[sa]! : -1);
    if (dir === "encap") ep.dp.runEncapsulate(b);
    else ep.dp.runDecapsulate(b);
    for (let i = 0; i < chunk.length; i++)
      results.push({ status: b.status(i), seq: BigInt(b.seq(i)), out: b.output(i).slice() });
  }
  b.reset();
  return results;
}

const state = (ep: Endpoint) =>
  ep.inn.map((h) => {
    const s = ep.dp.stats(h);
    return { stats: { ...s, lifetime: { ...s.lifetime, addedAt: 0 } }, replay: ep.dp.replayState(h) };
  });

/** Packets for SAs in the order k -> pick(k): interleaved, with runs and with one SA much busier. */
function traffic(nSas: number, n: number): [number, Uint8Array][] {
  return Array.from({ length: n }, (_, k) => {
    const sa = k % 4 === 3 ? 0 : (k * 7 + (k >> 3)) % nSas;
    return [sa, ipv4Udp(20 + ((k * 37) % 300), k)];
  });
}

for (const nativeAes of [false, { minBytes: 0 }] as NativeOpt[]) {
  const how = nativeAes ? "native AES" : "wasm AES";
  for (const nSas of [3, 5, 12]) {
    test(`${how}, ${nSas} SAs interleaved: encap gives each SA its sequence numbers in arrival order`, async () => {
      const list = sas(nSas);
      const batched = await endpoint(list, nativeAes);
      const single = await endpoint(list, nativeAes);
      const items = traffic(nSas, 48);
      const a = run(batched, "encap", items, false);
      const s = run(single, "encap", items, true);
      const next = list.map((c) => (c.seq ?? 0n) + 1n);
      for (let i = 0; i < items.length; i++) {
        const sa = items[i]![0];
        assert.equal(a[i]!.status, "ok", `packet ${i}`);
        assert.equal(a[i]!.seq, next[sa], `packet ${i}, SA ${sa}`);
        assert.equal(s[i]!.seq, next[sa]);
        next[sa]! += 1n;
        // Counter-mode suites have no random IV: the same sequence number gives the same bytes.
        if (list[sa]!.esp !== "aes256-sha256") assert.deepEqual(a[i]!.out, s[i]!.out, `packet ${i} bytes`);
      }
      // Both decapsulate on a third endpoint to the original payloads.
      const rx = await endpoint(list, nativeAes);
      const back = run(
        rx,
        "decap",
        a.map((r) => [0, r.out]),
        false,
      );
      for (let i = 0; i < items.length; i++) {
        assert.equal(back[i]!.status, "ok", `decap ${i}`);
        assert.deepEqual(back[i]!.out, items[i]![1]);
      }
    });

    test(`${how}, ${nSas} SAs interleaved: decap verdicts, windows and counters equal a sequential run`, async () => {
      const list = sas(nSas);
      const sender = await endpoint(list, false);
      const items = traffic(nSas, 40);
      const pkts = run(sender, "encap", items, false).map((r) => r.out);
      // Inside the batch: repeats of earlier packets (replays), a forgery, a packet far ahead of
      // its SA's window followed by older ones of that SA (now outside it), an unknown SPI.
      const forged = pkts[6]!.slice();
      forged[forged.length - 1]! ^= 1;
      const unknown = pkts[7]!.slice();
      unknown[0]! ^= 0x80;
      const ahead = run(
        sender,
        "encap",
        Array.from({ length: 40 }, () => [3 % nSas, ipv4Udp(30)]),
        true,
      ).at(-1)!.out;
      const batch = [
        pkts[0]!,
        pkts[1]!,
        pkts[0]!,
        forged,
        pkts[6]!,
        ahead,
        pkts[2]!,
        unknown,
        pkts[3]!,
        ...pkts.slice(8, 30),
        pkts[5]!,
        pkts[9]!,
        pkts[4]!,
        pkts[6]!,
      ];
      const grouped = await endpoint(list, nativeAes);
      const single = await endpoint(list, nativeAes);
      const a = run(
        grouped,
        "decap",
        batch.map((p) => [0, p]),
        false,
      );
      const s = run(
        single,
        "decap",
        batch.map((p) => [0, p]),
        true,
      );
      assert.deepEqual(a, s);
      assert.deepEqual(state(grouped), state(single));
      assert.deepEqual(grouped.dp.globalStats(), single.dp.globalStats());
      const statuses = new Set(a.map((r) => r.status));
      for (const expected of ["ok", "replay", "integrity-failed", "no-sa"]) assert.ok(statuses.has(expected), expected);
    });
  }
}
