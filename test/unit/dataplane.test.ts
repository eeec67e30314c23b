// The ESP dataplane against an independent ESP implementation (node:crypto/OpenSSL, test/helpers/esp-ref.ts):
// both directions for every suite and both modes, negative cases with their verdicts and counters, replay and
// ESN, sequence overflow, typed configuration errors, and a randomized property test.
// Runs under Node (npm test) and Deno (test/unit/deno.test.ts runs this file with `deno test`).
import { test } from "../helpers/aes-both-ways.ts";
import assert from "node:assert/strict";
import { Dataplane, DataplaneError, type SaConfig } from "../../sdk/index.ts";
import { refEncap, refDecap, ipv4Udp, ipv6Udp, type RefSa } from "../helpers/esp-ref.ts";

const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + 1) & 255);

interface Case {
  esp: string;
  ref: Omit<RefSa, "spi" | "esn">;
  encKey: Uint8Array;
  integKey?: Uint8Array;
  icvLength?: 8 | 12 | 16 | 32;
}
function suiteCase(esp: string): Case {
  const gcm = /^aes(128|256)gcm(8|12|16)$/.exec(esp);
  if (gcm) {
    const key = bytes(Number(gcm[1]) / 8, 1),
      salt = bytes(4, 2);
    return { esp, encKey: new Uint8Array([...key, ...salt]), ref: { suite: "gcm", key, salt, icv: Number(gcm[2]) } };
  }
  const m = /^(aes128|aes256|null)-(sha1|sha256|sha256_96)$/.exec(esp)!;
  const key = m[1] === "null" ? new Uint8Array(0) : bytes(m[1] === "aes128" ? 16 : 32, 3);
  const hash = m[2] === "sha1" ? "sha1" : "sha256";
  const integKey = bytes(hash === "sha1" ? 20 : 32, 4);
  const icv = m[2] === "sha256" ? 16 : 12;
  return { esp, encKey: key, integKey, ref: { suite: m[1] === "null" ? "null" : "cbc", key, integKey, hash, icv } };
}
const SUITES = [
  "aes128gcm16",
  "aes256gcm16",
  "aes128gcm8",
  "aes128gcm12",
  "aes128-sha256",
  "aes128-sha256_96",
  "aes256-sha256",
  "aes256-sha1",
  "null-sha256",
  "null-sha1",
];

async function pair(esp: string, extra: Partial<SaConfig> = {}) {
  const dp = await Dataplane.create({ maxSas: 16, batchSize: 64 });
  const c = suiteCase(esp.replace(/-esn$/, ""));
  const base = { mode: "tunnel" as const, esp, encKey: c.encKey, integKey: c.integKey, ...extra };
  const out = dp.addSa({ ...base, spi: 0x1000, direction: "out" });
  const inn = dp.addSa({ ...base, spi: 0x1000, direction: "in" });
  const ref: RefSa = { ...c.ref, spi: 0x1000, esn: extra.esn ?? esp.endsWith("-esn") };
  return { dp, out, inn, ref };
}

for (const esp of SUITES) {
  test(`${esp}: our tunnel-mode ESP decrypts with OpenSSL, OpenSSL's ESP decapsulates here`, async () => {
    const { dp, out, inn, ref } = await pair(esp);
    for (const [i, inner] of [ipv4Udp(0), ipv4Udp(1), ipv4Udp(37), ipv6Udp(100), ipv4Udp(1372)].entries()) {
      const e = dp.encapsulate(out, inner);
      assert.equal(e.status, "ok");
      assert.equal(e.seq, BigInt(i + 1));
      const r = refDecap(ref, e.packet!);
      assert.deepEqual(new Uint8Array(r.payload), inner);
      assert.equal(r.nextHeader, inner[0]! >> 4 === 4 ? 4 : 41);
      assert.equal(r.seq, i + 1);
      const wire = refEncap(ref, BigInt(i + 1), inner, r.nextHeader);
      const d = dp.decapsulate(wire);
      assert.equal(d.status, "ok", `decap of reference packet ${i}`);
      assert.deepEqual(d.payload, inner);
      assert.equal(d.sa, inn);
    }
    const s = dp.stats(inn);
    assert.equal(s.packets, 5n);
    assert.equal(dp.stats(out).packets, 5n);
  });
}

test("transport mode IPv4 and IPv6: protocol, lengths and IPv4 checksum rebuilt on both sides", async () => {
  for (const esp of ["aes128gcm16", "aes128-sha256"]) {
    const { dp, out, ref } = await pair(esp, { mode: "transport" });
    for (const orig of [ipv4Udp(50), ipv6Udp(20)]) {
      const v4 = orig[0]! >> 4 === 4;
      const hl = v4 ? 20 : 40;
      const e = dp.encapsulate(out, orig);
      assert.equal(e.status, "ok");
      const pkt = e.packet!;
      assert.equal(v4 ? pkt[9] : pkt[6], 50, "protocol becomes ESP");
      assert.equal(v4 ? (pkt[2]! << 8) | pkt[3]! : ((pkt[4]! << 8) | pkt[5]!) + 40, pkt.length);
      const r = refDecap(ref, pkt.subarray(hl));
      assert.equal(r.nextHeader, 17);
      assert.deepEqual(new Uint8Array(r.payload), orig.subarray(hl));
      // Decap with the header in front: the original packet comes back byte for byte (checksum included).
      const d = dp.decapsulate(pkt, hl);
      assert.equal(d.status, "ok");
      assert.deepEqual(d.payload, orig);
      // Without an IP header, the upper-layer payload alone.
      const e2 = dp.encapsulate(out, orig);
      const d2 = dp.decapsulate(e2.packet!.subarray(hl));
      assert.deepEqual(d2.payload, orig.subarray(hl));
    }
  }
});

test("every single-bit flip of a packet is dropped with a reason, never delivers bytes, never moves the window", async () => {
  for (const esp of ["aes128gcm16", "aes128-sha256_96", "null-sha256"]) {
    const { dp, out, inn } = await pair(esp);
    const good = dp.encapsulate(out, ipv4Udp(24)).packet!;
    let dropped = 0;
    for (let bit = 0; bit < good.length * 8; bit++) {
      const bad = good.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const d = dp.decapsulate(bad);
      assert.notEqual(d.status, "ok", `${esp} bit ${bit}`);
      assert.equal(d.payload, undefined);
      assert.ok(["integrity-failed", "no-sa", "replay"].includes(d.status), `${esp} bit ${bit}: ${d.status}`);
      dropped++;
    }
    const s = dp.stats(inn);
    assert.equal(s.seq, 0n, "window untouched");
    assert.equal(s.packets, 0n);
    const counted = s.drops["integrity-failed"] + s.drops.replay + dp.globalStats().XfrmInNoStates;
    assert.equal(counted, BigInt(dropped));
    assert.equal(dp.decapsulate(good).status, "ok", "the genuine packet still passes afterwards");
  }
});

test("truncation at every length: truncated or integrity-failed, never ok", async () => {
  for (const esp of ["aes128gcm16", "aes128-sha256"]) {
    const { dp, out, inn } = await pair(esp);
    const good = dp.encapsulate(out, ipv4Udp(40)).packet!;
    for (let n = 0; n < good.length; n++) {
      const d = dp.decapsulate(good.subarray(0, n));
      assert.ok(["truncated", "integrity-failed", "no-sa"].includes(d.status), `len ${n}: ${d.status}`);
      assert.equal(d.payload, undefined);
    }
    assert.equal(dp.stats(inn).seq, 0n);
    assert.ok(dp.globalStats().XfrmInHdrError >= 8n, "packets shorter than an ESP header are counted globally");
  }
});

test("replay: duplicates and packets left of the window are dropped and counted; reordering inside is accepted", async () => {
  const { dp, out, inn } = await pair("aes128gcm16", { replayWindow: 64 });
  const pkts = Array.from({ length: 200 }, () => dp.encapsulate(out, ipv4Udp(10)).packet!);
  assert.equal(dp.decapsulate(pkts[99]!).status, "ok");
  assert.equal(dp.decapsulate(pkts[99]!).status, "replay");
  assert.equal(dp.decapsulate(pkts[50]!).status, "ok", "seq 51 is inside the 64-packet window of top 100");
  assert.equal(dp.decapsulate(pkts[20]!).status, "replay", "seq 21 is left of the window");
  assert.equal(dp.decapsulate(pkts[199]!).status, "ok");
  assert.equal(dp.decapsulate(pkts[150]!).status, "ok");
  assert.equal(dp.decapsulate(pkts[150]!).status, "replay");
  const s = dp.stats(inn);
  assert.equal(s.drops.replay, 3n);
  assert.equal(s.packets, 4n);
  assert.equal(s.seq, 200n);
});

test("bad padding with a valid ICV is dropped as bad-padding; unknown SPI counts XfrmInNoStates; NH 59 is a dummy", async () => {
  const { dp, inn, ref } = await pair("aes128-sha256");
  const badPad = refEncap(ref, 1n, ipv4Udp(3), 4, { badPad: true });
  assert.equal(dp.decapsulate(badPad).status, "bad-padding");
  assert.equal(dp.stats(inn).seq, 0n, "a bad trailer does not move the window");
  const dummy = refEncap(ref, 2n, new Uint8Array(7), 59);
  const d = dp.decapsulate(dummy);
  assert.equal(d.status, "dummy");
  assert.equal(d.payload, undefined);
  const unknown = refEncap({ ...ref, spi: 0xdead }, 3n, ipv4Udp(3), 4);
  assert.equal(dp.decapsulate(unknown).status, "no-sa");
  const wrongNh = refEncap(ref, 4n, ipv4Udp(3), 17);
  assert.equal(dp.decapsulate(wrongNh).status, "bad-next-header", "tunnel mode carries only IPv4/IPv6");
  const s = dp.stats(inn);
  assert.equal(s.drops["bad-padding"], 1n);
  assert.equal(s.drops.dummy, 1n);
  assert.equal(s.drops["bad-next-header"], 1n);
  assert.equal(dp.globalStats().XfrmInNoStates, 1n);
});

test("ESN: sequence numbers cross 2^32, seq-hi is authenticated, high bits are inferred", async () => {
  for (const esp of ["aes128gcm16-esn", "aes128-sha256-esn"]) {
    const start = 0xfffffff0n;
    const { dp, out, inn, ref } = await pair(esp, { seq: start });
    dp.removeSa(inn);
    const in2 = dp.addSa({
      spi: 0x1000,
      direction: "in",
      mode: "tunnel",
      esp,
      encKey: suiteCase(esp.replace("-esn", "")).encKey,
      integKey: suiteCase(esp.replace("-esn", "")).integKey,
      seq: start,
    });
    for (let i = 1n; i <= 40n; i++) {
      const e = dp.encapsulate(out, ipv4Udp(8));
      assert.equal(e.seq, start + i);
      const r = refDecap(ref, e.packet!, Number((start + i) >> 32n));
      assert.equal(r.seq, Number((start + i) & 0xffffffffn));
      const d = dp.decapsulate(e.packet!);
      assert.equal(d.status, "ok");
      assert.equal(d.seq, start + i);
    }
    assert.equal(dp.stats(in2).seq, start + 40n);
    // A packet authenticated with the wrong seq-hi fails.
    const wrongHi = refEncap(ref, (1n << 32n) * 5n + 0x30n, ipv4Udp(8), 4);
    assert.equal(dp.decapsulate(wrongHi).status, "integrity-failed");
  }
});

test("outbound sequence numbers never wrap: seq-overflow at 2^32-1 (2^64-1 with ESN)", async () => {
  const a = await pair("aes128gcm16", { seq: 0xfffffffen });
  assert.equal(a.dp.encapsulate(a.out, ipv4Udp(1)).status, "ok");
  const e = a.dp.encapsulate(a.out, ipv4Udp(1));
  assert.equal(e.status, "seq-overflow");
  assert.equal(e.packet, undefined);
  assert.equal(a.dp.stats(a.out).drops["seq-overflow"], 1n);
  const b = await pair("aes128gcm16-esn", { seq: 0xfffffffffffffffen });
  assert.equal(b.dp.encapsulate(b.out, ipv4Udp(1)).status, "ok");
  assert.equal(b.dp.encapsulate(b.out, ipv4Udp(1)).status, "seq-overflow");
});

test("bad configuration throws a typed error naming what is allowed, and changes nothing", async () => {
  const dp = await Dataplane.create({ maxSas: 4 });
  const ok: SaConfig = { spi: 0x2000, direction: "in", mode: "tunnel", esp: "aes128gcm16", encKey: new Uint8Array(20) };
  dp.addSa(ok);
  const cases: [Partial<SaConfig>, string, RegExp][] = [
    [{ esp: "aes128gcm17" }, "BAD_PROPOSAL", /known: aes/],
    [{ esp: "aes128-md5" }, "BAD_PROPOSAL", /sha256_96/],
    [{ encKey: new Uint8Array(16) }, "BAD_KEY_LENGTH", /4-byte salt/],
    [
      { esp: "aes128-sha256", encKey: new Uint8Array(16), integKey: new Uint8Array(20) },
      "BAD_KEY_LENGTH",
      /must be 32/,
    ],
    [{ spi: 0x2000 }, "DUPLICATE_SPI", /already exists/],
    [{ spi: 7 }, "BAD_SPI", /reserved/],
    [{ replayWindow: 16 }, "BAD_WINDOW", /32\.\.4096/],
    [{ replayWindow: 8192 }, "BAD_WINDOW", /32\.\.4096/],
    [
      { esp: "aes128-sha256", encKey: new Uint8Array(16), integKey: new Uint8Array(32), icvLength: 8 },
      "BAD_ICV_LENGTH",
      /12, 16, 32/,
    ],
    [{ seq: 1n << 32n }, "BAD_SEQ", /32-bit/],
  ];
  for (const [patch, code, msg] of cases) {
    assert.throws(
      () => dp.addSa({ ...ok, spi: 0x3000, ...patch }),
      (e: unknown) => {
        assert.ok(e instanceof DataplaneError);
        assert.equal(e.code, code);
        assert.match(e.message, msg);
        return true;
      },
    );
  }
  assert.equal(dp.saCount, 1);
  assert.throws(() => dp.stats(99), /no SA with handle 99/);
});

test("property: random suites, sizes and reordering within the window all decapsulate to the original", async () => {
  let rnd = 12345;
  const next = (n: number): number => {
    rnd = (rnd * 1103515245 + 12345) >>> 0;
    return rnd % n;
  };
  for (let round = 0; round < 12; round++) {
    const esp = SUITES[next(SUITES.length)];
    const window = [32, 64, 128, 1024][next(4)];
    const { dp, out, inn } = await pair(esp!, { replayWindow: window });
    const inners = Array.from({ length: 60 }, (_, i) => (next(3) === 0 ? ipv6Udp(next(300)) : ipv4Udp(next(1400), i)));
    const wire = dp.encapsulateBatch(out, inners).map((r) => r.packet!);
    // Shuffle inside blocks smaller than the window: every packet stays inside it.
    const order = [...wire.keys()];
    for (let i = 0; i < order.length; i += 16) {
      const blk = order.slice(i, i + 16).sort(() => next(3) - 1);
      order.splice(i, blk.length, ...blk);
    }
    const res = dp.decapsulateBatch(order.map((k) => wire[k]!));
    res.forEach((r, j) => {
      assert.equal(r.status, "ok", `${esp} w${window} packet ${order[j]}`);
      assert.deepEqual(r.payload, inners[order[j]!]);
    });
    assert.equal(dp.stats(inn).packets, 60n);
  }
});
