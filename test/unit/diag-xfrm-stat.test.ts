// xfrm_stat and `ip -s xfrm state` from our dataplane, against the real thing: the same packets
// (same keys, SPIs, sequence numbers, lengths) that went through Debian's 6.1 kernel in
// test/fixtures/diag/kernel-6.1-*.txt go through our dataplane here, and the rendered text must
// equal the kernel's line for line (keys and wall-clock dates aside), counters included.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import type { SaConfig, SaHandle } from "../../sdk/dataplane/types.ts";
import {
  XFRM_STAT_NAMES,
  XfrmStatCollector,
  formatXfrmStat,
  formatXfrmState,
  formatXfrmStates,
  kernelReplayBitmap,
  xfrmStateEntries,
  xfrmStateEntry,
  xfrmStatFrom,
  zeroDrops,
  type XfrmStat,
  type XfrmStateContext,
} from "../../sdk/diag/xfrm-stat.ts";
import { ipv4Udp } from "../helpers/esp-ref.ts";

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/diag/${name}`, import.meta.url), "utf8");
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const section = (text: string, title: string): string => {
  const start = text.indexOf(`=== ${title}\n`);
  assert.ok(start >= 0, `fixture has no section ${title}`);
  const body = text.slice(start + title.length + 5);
  return body.slice(0, body.indexOf("\n===") + 1);
};
/** ip-xfrm blocks by SPI, keys and dates replaced by what we print instead, our drop lines removed. */
function blocks(text: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const b of text.split(/^(?=src )/m).filter((x) => x.startsWith("src "))) {
    const lines = b.replace(/\n$/, "").split("\n");
    const spi = Number(/spi (0x[0-9a-f]{8})/.exec(b)?.[1]);
    const norm = lines
      .map((l) =>
        l.replace(/ 0x[0-9a-f]+ \((\d+) bits\)/, (_m, bits: string) =>
          bits === "0" ? " 0x (0 bits)" : ` [key in wasm] (${bits} bits)`,
        ),
      )
      .map((l) =>
        l.replace(
          /add (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|-) use (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|-)/,
          (_m, a: string, u: string) => `add ${a === "-" ? "-" : "DATE"} use ${u === "-" ? "-" : "DATE"}`,
        ),
      );
    const d = norm.indexOf("\tdrops:");
    out.set(spi, d >= 0 ? norm.slice(0, d) : norm);
  }
  return out;
}

const KE = hex("000102030405060708090a0b0c0d0e0f");
const KA = hex("404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f");
const KBAD = hex("414142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f");
const KG = hex("000102030405060708090a0b0c0d0e0f10111213");

/** A sender (its own dataplane) and a receiver, like netns a and b of the capture. */
async function link() {
  const tx = await Dataplane.create({ maxSas: 16, batchSize: 16 });
  const rx = await Dataplane.create({ maxSas: 16, batchSize: 16 });
  /** Sends `count` inner packets of `payload` bytes from an outbound SA whose last sent number is `seq` (ip's replay-oseq). */
  const send = (sa: Omit<SaConfig, "direction">, seq: bigint, count: number, payload: number, dst = 2): void => {
    const h = tx.addSa({ ...sa, direction: "out", seq });
    const pkts = tx.encapsulateBatch(
      h,
      Array.from({ length: count }, () => ipv4Udp(payload, 0x61, [198, 51, 100, 1], [203, 0, 113, dst])),
    );
    tx.removeSa(h);
    assert.ok(pkts.every((p) => p.status === "ok"));
    rx.decapsulateBatch(pkts.map((p) => p.packet!));
  };
  return { tx, rx, send };
}

const ctx = (reqid: number, over: XfrmStateContext = {}): XfrmStateContext => ({
  src: "198.18.0.1",
  dst: "198.18.0.2",
  reqid,
  ...over,
});
/** Context per SA: add and last-use times come from the caller (the dataplane keeps no last-use time). */
const describe =
  (dp: Dataplane, ctxs: Map<SaHandle, XfrmStateContext>) =>
  (h: SaHandle): XfrmStateContext => {
    const c = ctxs.get(h) ?? {};
    const used = dp.stats(h).packets > 0n ? { useTime: Date.now() } : {};
    return { ...c, limits: { ...c.limits, addTime: Date.now(), ...used } };
  };

test("xfrm_stat: every name of Linux 6.18 in its order, and the exact /proc/net/xfrm_stat format", () => {
  const kernel = fixture("xfrm_stat-6.18.txt");
  assert.deepEqual(
    kernel
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/)[0]),
    [...XFRM_STAT_NAMES],
  );
  const zero = Object.fromEntries(XFRM_STAT_NAMES.map((n) => [n, 0n])) as XfrmStat;
  assert.equal(formatXfrmStat(zero), kernel);
});

test("the kernel capture replayed through our dataplane: same xfrm_stat and same `ip -s xfrm state`", async () => {
  const { rx, send } = await link();
  const cbc = { mode: "tunnel" as const, esp: "aes128-sha256-esn", encKey: KE, integKey: KA };
  const gcm = { mode: "tunnel" as const, esp: "aes128gcm16", encKey: KG };
  const limits = {
    softBytes: 1000000n,
    hardBytes: 2000000n,
    softPackets: 900n,
    hardPackets: 1000n,
    softAddSeconds: 3000,
    hardAddSeconds: 3600,
  };
  const ctxs = new Map<SaHandle, XfrmStateContext>();
  ctxs.set(rx.addSa({ ...cbc, spi: 0x1001, direction: "in", replayWindow: 128 }), ctx(1));
  ctxs.set(rx.addSa({ ...gcm, spi: 0x1002, direction: "in", replayWindow: 32 }), ctx(2));
  ctxs.set(rx.addSa({ ...gcm, spi: 0x1003, direction: "in", replayWindow: 64 }), ctx(3));
  const sha96 = { mode: "tunnel" as const, esp: "aes128-sha256_96", encKey: KE, integKey: KA };
  ctxs.set(rx.addSa({ ...sha96, spi: 0x1004, direction: "in", replayWindow: 32 }), ctx(4, { limits }));
  // The guest script's sequence (capture-xfrm.sh), packet for packet.
  send({ ...cbc, spi: 0x1001 }, 0n, 3, 10);
  send({ ...cbc, spi: 0x1001 }, 9n, 2, 10);
  send({ ...cbc, spi: 0x1001 }, 4n, 1, 10);
  send({ ...cbc, spi: 0x1001 }, 1n, 1, 10); // 2 again: replay
  send({ ...cbc, spi: 0x1001, integKey: KBAD }, 20n, 1, 10); // wrong key: failed
  send({ ...cbc, spi: 0x1001 }, 199n, 1, 10);
  send({ ...cbc, spi: 0x1001 }, 10n, 1, 10); // behind the window: ESN takes it for 2^32+11, ICV fails
  send({ ...gcm, spi: 0x1002 }, 0n, 2, 3, 3);
  send({ ...gcm, spi: 0x1002 }, 5n, 1, 3, 3);
  send({ ...gcm, spi: 0x1002 }, 0n, 1, 3, 3); // 1 again: replay
  send({ ...gcm, spi: 0x1003 }, 0n, 2, 3, 4);
  send({ ...gcm, spi: 0x1003 }, 39n, 1, 3, 4);
  send({ ...sha96, spi: 0x1004 }, 0n, 2, 1, 5);
  send({ ...gcm, spi: 0x1099 }, 0n, 1, 4, 4); // no such SA

  const text = fixture("kernel-6.1-ip-xfrm-state.txt");
  // /proc/net/xfrm_stat: the 28 counters Linux 6.1 has, byte for byte.
  const ours = new XfrmStatCollector(rx).sample();
  const kernelStat = section(text, "xfrm_stat (b)");
  assert.equal(formatXfrmStat(ours).split("\n").slice(0, 28).join("\n") + "\n", kernelStat);
  assert.equal(ours.XfrmInNoStates, 1n);
  assert.equal(ours.XfrmInStateProtoError, 2n);
  assert.equal(ours.XfrmInStateSeqError, 2n);

  // ip -s xfrm state: same SAs in the same order, every line equal but keys and dates.
  const entries = xfrmStateEntries(rx, describe(rx, ctxs));
  assert.deepEqual(
    entries.map((e) => e.spi),
    [0x1004, 0x1003, 0x1002, 0x1001],
  );
  const kernel = blocks(section(text, "ip -s xfrm state (b)"));
  const mine = blocks(formatXfrmStates(entries));
  assert.deepEqual([...mine.keys()], [...kernel.keys()]);
  for (const [spi, lines] of kernel) assert.deepEqual(mine.get(spi), lines, `SA 0x${spi.toString(16)}`);
  // The counts the story needs, spelled out.
  const e1 = entries.find((e) => e.spi === 0x1001)!;
  assert.deepEqual([e1.stats.replay, e1.stats.failed, e1.lifetime.packets, e1.lifetime.bytes], [1n, 2n, 7n, 266n]);
  assert.deepEqual(e1.replay.bitmap, [0, 0, 0x80, 0]);
});

test("ESN across 2^32, window 0 and ESP-in-UDP SAs render like the kernel's", async () => {
  const { rx, send } = await link();
  const gcm = { mode: "tunnel" as const, esp: "aes128gcm16", encKey: KG };
  const ctxs = new Map<SaHandle, XfrmStateContext>();
  ctxs.set(
    rx.addSa({
      ...gcm,
      esp: "aes128gcm16-esn",
      spi: 0x2001,
      direction: "in",
      replayWindow: 64,
      seq: (1n << 32n) + 0xfffffff0n,
    }),
    ctx(1),
  );
  const w0 = rx.addSa({ ...gcm, spi: 0x2002, direction: "in", replayWindow: 0 });
  ctxs.set(w0, ctx(2));
  ctxs.set(
    rx.addSa({ ...gcm, spi: 0x2003, direction: "in", replayWindow: 32 }),
    ctx(3, { src: "198.18.0.9", encap: { sport: 4500, dport: 4500 } }),
  );
  ctxs.set(
    rx.addSa({
      mode: "transport",
      esp: "aes128gcm12-esn",
      encKey: KG,
      spi: 0x2004,
      direction: "in",
      replayWindow: 128,
    }),
    ctx(4, { src: "198.18.0.2", dst: "198.18.0.9", encap: { sport: 4500, dport: 4501 } }),
  );
  send({ ...gcm, esp: "aes128gcm16-esn", spi: 0x2001 }, (1n << 32n) + 0xfffffffdn, 5, 3);
  send({ ...gcm, spi: 0x2002 }, 0n, 3, 2, 3);

  const kernel = blocks(section(fixture("kernel-6.1-ip-xfrm-state-esn-encap.txt"), "ip -s xfrm state (b)"));
  const mine = blocks(formatXfrmStates(xfrmStateEntries(rx, describe(rx, ctxs))));
  for (const spi of [0x2001, 0x2003, 0x2004])
    assert.deepEqual(mine.get(spi), kernel.get(spi), `SA 0x${spi.toString(16)}`);
  // Window 0: the kernel stops tracking the top (seq 0x0); we keep it for ESN inference. Counters agree.
  const k2 = kernel.get(0x2002)!,
    m2 = mine.get(0x2002)!;
  assert.equal(
    m2.find((l) => l.includes("(packets)") && !l.includes("limit")),
    k2.find((l) => l.includes("(packets)") && !l.includes("limit")),
  );
  assert.match(m2.join("\n"), /anti-replay context: seq 0x3, oseq 0x0, bitmap 0x00000000/);
  // The sender's side: oseq-hi/oseq after the boundary, as the kernel's sender shows it.
  const tx = await Dataplane.create({ maxSas: 4 });
  const out = tx.addSa({
    ...gcm,
    esp: "aes128gcm16-esn",
    spi: 0x2001,
    direction: "out",
    seq: (1n << 32n) + 0xfffffffdn,
  });
  tx.encapsulateBatch(
    out,
    Array.from({ length: 5 }, () => ipv4Udp(3)),
  );
  const a = section(fixture("kernel-6.1-ip-xfrm-state-esn-encap.txt"), "ip -s xfrm state (a)");
  const oseqLine = blocks(a)
    .get(0x2001)!
    .find((l) => l.includes("oseq-hi"));
  assert.ok(formatXfrmState(xfrmStateEntry(tx, out)).includes(`${oseqLine}\n`), String(oseqLine));
});

/** The kernel's bitmap replay (xfrm_replay_check_esn/advance_esn, net/xfrm/xfrm_replay.c) transcribed, for random traffic. */
function kernelEsnModel(window: number) {
  const bmp = new Uint32Array(Math.ceil(window / 32));
  let top = 0n;
  const get = (i: number): boolean => ((bmp[i >> 5]! >>> (i & 31)) & 1) === 1;
  const set = (i: number, v: boolean): void => {
    bmp[i >> 5] = v ? bmp[i >> 5]! | (1 << (i & 31)) : bmp[i >> 5]! & ~(1 << (i & 31));
  };
  return {
    bmp,
    get top() {
      return top;
    },
    /** Accepts seq (already inferred, > 0) if new; returns whether it was. */
    accept(seq: bigint): boolean {
      const lo = (v: bigint): number => Number(v & 0xffffffffn);
      const pos = ((lo(top) - 1) >>> 0) % window;
      if (seq > top) {
        const diff = seq - top;
        if (diff < BigInt(window)) for (let i = 1; i < Number(diff); i++) set((pos + i) % window, false);
        else bmp.fill(0);
        set(Number((BigInt(pos) + diff) % BigInt(window)), true);
        top = seq;
        return true;
      }
      const diff = Number(top - seq);
      if (diff >= window) return false;
      const bit = diff <= pos ? pos - diff : window - (diff - pos);
      if (get(bit)) return false;
      set(bit, true);
      return true;
    },
  };
}

test("replay bitmap conversion equals the kernel's ESN ring for random traffic (windows 32..256 across 2^32, 96)", async () => {
  let rnd = 0x9e3779b9;
  const next = (n: number): number => {
    rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
    return rnd % n;
  };
  const dp = await Dataplane.create({ maxSas: 8, batchSize: 64 });
  // Windows that divide 2^32 cross the boundary; the kernel's ring positions for other sizes are
  // relative (pos + diff), so 96 is checked away from it.
  for (const [window, start] of [
    [32, (1n << 32n) - 150n],
    [64, (1n << 32n) - 150n],
    [128, (1n << 32n) - 150n],
    [256, (1n << 32n) - 150n],
    [96, 1000n],
  ] as const) {
    const tx = await Dataplane.create({ maxSas: 4, batchSize: 64 });
    const gcm = { mode: "tunnel" as const, esp: "aes128gcm16-esn", encKey: KG, spi: 0x3000 + window };
    const inn = dp.addSa({ ...gcm, direction: "in", replayWindow: window, seq: start });
    const model = kernelEsnModel(window);
    // The model starts with nothing received at `start`, like the SA.
    (model as { accept(s: bigint): boolean }).accept(start);
    model.bmp.fill(0);
    let hi = start;
    for (let k = 0; k < 300; k++) {
      const seq = next(4) === 0 ? hi - BigInt(next(window + 20)) : hi + BigInt(1 + next(window / 2));
      if (seq <= 0n) continue;
      const out = tx.addSa({ ...gcm, direction: "out", seq: seq - 1n });
      const [p] = tx.encapsulateBatch(out, [ipv4Udp(4)]);
      tx.removeSa(out);
      const [r] = dp.decapsulateBatch([p!.packet!]);
      const accepted = model.accept(seq);
      assert.equal(r!.status === "ok", accepted, `window ${window}, seq ${seq}: ours ${r!.status}`);
      if (seq > hi) hi = seq;
    }
    const rs = dp.replayState(inn);
    assert.equal(rs.top, model.top);
    assert.deepEqual(kernelReplayBitmap(rs, true), [...model.bmp], `window ${window}`);
  }
});

test("xfrm_stat mapping for the other drop reasons, and counters that survive SA removal", async () => {
  const dp = await Dataplane.create({ maxSas: 8, batchSize: 8 });
  const gcm = { mode: "tunnel" as const, esp: "aes128gcm16", encKey: KG };
  const inn = dp.addSa({ ...gcm, spi: 0x4001, direction: "in" });
  const out = dp.addSa({ ...gcm, spi: 0x4001, direction: "out" });
  const col = new XfrmStatCollector(dp);
  // 4 bytes: not even an ESP header (XfrmInHdrError); a header of a known SA with a body too
  // short for GCM's IV and ICV (esp_input's -EINVAL: XfrmInStateProtoError).
  dp.decapsulateBatch([Uint8Array.of(0, 0, 0x40, 1), Uint8Array.of(0, 0, 0x40, 1, 0, 0, 0, 1, 9, 9, 9)]);
  const extra = { XfrmOutNoStates: 7n };
  let x = col.sample(extra);
  assert.equal(x.XfrmInHdrError, 1n);
  assert.equal(x.XfrmInStateProtoError, 1n);
  assert.equal(x.XfrmOutNoStates, 7n, "extra counters are added as given");
  // Larger than a packet slot, before any SA lookup.
  dp.decapsulateBatch([new Uint8Array(dp.maxPacketBytes + 1)]);
  // Sequence number space exhausted on the outbound SA.
  const full = dp.addSa({ ...gcm, spi: 0x4002, direction: "out", seq: 0xffffffffn });
  assert.equal(dp.encapsulate(full, ipv4Udp(4)).status, "seq-overflow");
  // A handle that names no outbound SA any more.
  dp.removeSa(full);
  dp.batch.reset();
  dp.batch.add(ipv4Udp(4), full);
  dp.runEncapsulate(dp.batch);
  assert.equal(dp.batch.status(0), "invalid-sa");
  x = col.sample(extra);
  assert.equal(x.XfrmInBufferError, 1n);
  assert.equal(x.XfrmOutStateSeqError, 1n);
  assert.equal(x.XfrmOutStateInvalid, 1n);
  const nonZero = XFRM_STAT_NAMES.filter((n) => x[n] !== 0n);
  assert.deepEqual(nonZero.sort(), [
    "XfrmInBufferError",
    "XfrmInHdrError",
    "XfrmInStateProtoError",
    "XfrmOutNoStates",
    "XfrmOutStateInvalid",
    "XfrmOutStateSeqError",
  ]);
  // Removing the SA that counted the short packet moves nothing between counters.
  dp.removeSa(inn);
  dp.removeSa(out);
  const after = col.sample(extra);
  assert.deepEqual(after, x);
});

test("xfrmStatFrom: SA-less remainders never go negative; direction decides the ambiguous reasons", () => {
  const byStatus = { ok: 0n, ...zeroDrops() };
  const inbound = zeroDrops(),
    outbound = zeroDrops();
  byStatus["malformed-inner"] = 3n;
  inbound["malformed-inner"] = 1n;
  outbound["malformed-inner"] = 2n;
  byStatus["lifetime-expired"] = 5n;
  inbound["lifetime-expired"] = 4n;
  outbound["lifetime-expired"] = 1n;
  byStatus["too-big"] = 2n;
  outbound["too-big"] = 2n;
  byStatus.truncated = 1n;
  inbound.truncated = 2n; // SA counts ahead of a stale global read
  const x = xfrmStatFrom({ byStatus, inbound, outbound });
  assert.equal(x.XfrmInStateModeError, 1n);
  assert.equal(x.XfrmOutStateModeError, 2n);
  assert.equal(x.XfrmInStateExpired, 4n);
  assert.equal(x.XfrmOutStateExpired, 1n);
  assert.equal(x.XfrmOutError, 2n);
  assert.equal(x.XfrmInBufferError, 0n);
  assert.equal(x.XfrmInHdrError, 0n);
});

test("a 128-bit-ICV packet at an `auth hmac(sha256)` (96-bit) SA: `failed 1` and XfrmInStateProtoError 1, as the kernel showed", async () => {
  // ../shared/kernel-vm/README.md, interop proof: "a packet with a 16-byte ICV sent to the
  // `auth hmac(sha256)` SA (which expects 12) ... shows as `stats: ... failed 1` on its SA, and
  // /proc/net/xfrm_stat has XfrmInStateProtoError" (the kernel checks the MAC before the length).
  const { rx, send } = await link();
  const h = rx.addSa({
    mode: "tunnel",
    esp: "aes128-sha256_96",
    encKey: KE,
    integKey: KA,
    spi: 0x5001,
    direction: "in",
  });
  send({ mode: "tunnel", esp: "aes128-sha256", encKey: KE, integKey: KA, spi: 0x5001 }, 0n, 1, 10);
  const e = xfrmStateEntry(rx, h);
  assert.equal(e.stats.failed, 1n);
  assert.match(formatXfrmState(e), /\n\t {2}replay-window 0 replay 0 failed 1\n/);
  const x = new XfrmStatCollector(rx).sample();
  assert.deepEqual(
    XFRM_STAT_NAMES.filter((n) => x[n] !== 0n),
    ["XfrmInStateProtoError"],
  );
});
