// TFC padding (RFC 4303 §2.7, strongSwan's `tfc`), dummy packets (§2.6, Next Header 59) and the
// MTU arithmetic: overhead() and innerMtu() checked against the length of real ESP packets for
// every suite, and the padded plaintext read back with OpenSSL (test/helpers/esp-ref.ts).
import { test } from "../helpers/aes-both-ways.ts";
import assert from "node:assert/strict";
import { Dataplane, DataplaneError, parseSuite, type OuterHeaders, type SaConfig } from "../../sdk/index.ts";
import { refDecap, ipv4Udp, ipv6Udp, type RefSa } from "../helpers/esp-ref.ts";

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 53 + seed) & 255);

/** An outbound/inbound pair with keys OpenSSL's reference can use too (GCM and CBC suites). */
async function pair(esp: string, extra: Partial<SaConfig> = {}) {
  const s = parseSuite(esp);
  const encKey = bytes(s.encKeyBytes, 1);
  const integKey = s.integKeyBytes ? bytes(s.integKeyBytes, 2) : undefined;
  const dp = await Dataplane.create({ maxSas: 4, batchSize: 8 });
  const base = { spi: 0x7fc, mode: "tunnel" as const, esp, encKey, integKey };
  const out = dp.addSa({ ...base, direction: "out", ...extra });
  const inn = dp.addSa({ ...base, direction: "in" });
  const ref: RefSa = esp.includes("gcm")
    ? {
        spi: 0x7fc,
        suite: "gcm",
        key: encKey.subarray(0, s.aesKeyBytes),
        salt: encKey.subarray(s.aesKeyBytes),
        icv: s.icvBytes,
      }
    : { spi: 0x7fc, suite: "cbc", key: encKey, integKey, hash: "sha256", icv: s.icvBytes };
  return { dp, out, inn, ref };
}

test("tfc: inner packets padded with zeros to the target (no bytes of earlier packets); the receiver strips them by the IP length", async () => {
  for (const esp of ["aes128gcm16", "aes256-sha256"]) {
    const { dp, out, inn, ref } = await pair(esp, { tfc: 600 });
    // A large packet first: its bytes stay in the arena slot the small one reuses.
    const big = ipv4Udp(1000, 0xee);
    const e0 = dp.encapsulate(out, big);
    assert.deepEqual(new Uint8Array(refDecap(ref, e0.packet!).payload), big, "longer than the target: not padded");
    for (const inner of [ipv4Udp(1, 0x11), ipv6Udp(100, 0x22), ipv4Udp(572, 0x33)]) {
      const e = dp.encapsulate(out, inner);
      const r = refDecap(ref, e.packet!);
      assert.equal(r.payload.length, 600, `${esp}: ${inner.length}-byte packet padded to 600`);
      assert.deepEqual(new Uint8Array(r.payload.subarray(0, inner.length)), inner);
      assert.ok(
        r.payload.subarray(inner.length).every((b) => b === 0),
        "TFC padding is zeros",
      );
      assert.equal(e.packet!.length, dp.overhead(out, inner.length) + inner.length);
      const d = dp.decapsulate(e.packet!);
      assert.equal(d.status, "ok");
      assert.deepEqual(d.payload, inner, "the inner IP length wins over the padding");
    }
    assert.equal(
      dp.stats(out).bytes,
      BigInt(big.length + 29 + 148 + 600),
      "byte counters count the real inner packets",
    );
    assert.equal(dp.stats(inn).packets, 3n);
  }
});

test('tfc: "mtu" pads every packet to the largest size that fits the path MTU (1400 over UDP 4500 here)', async () => {
  for (const esp of ["aes128gcm16", "aes256-sha256", "aes128ctr-sha256", "chacha20poly1305", "aes128gmac"]) {
    const outer: OuterHeaders = { ipVersion: 4, udpEncap: true };
    const { dp, out } = await pair(esp, { tfc: "mtu", pathMtu: 1400, outer });
    const target = dp.innerMtu(out, 1400, outer);
    const lens = new Set<number>();
    for (const inner of [ipv4Udp(0), ipv6Udp(300), ipv4Udp(target - 28)])
      lens.add(28 + dp.encapsulate(out, inner).packet!.length);
    assert.deepEqual(
      [...lens],
      [1400 - ((1400 - 28 - 8 - parseSuite(esp).ivBytes - parseSuite(esp).icvBytes) % parseSuite(esp).align)],
      `${esp}: every packet the same size on the wire, within the MTU`,
    );
    const over = dp.encapsulate(out, ipv4Udp(target - 27));
    assert.ok(28 + over.packet!.length > 1400, "one byte more than innerMtu does not fit");
  }
});

test("tfc settings that cannot work are refused", async () => {
  const dp = await Dataplane.create({ maxSas: 4 });
  const base: SaConfig = {
    spi: 0x900,
    direction: "out",
    mode: "tunnel",
    esp: "aes128gcm16",
    encKey: new Uint8Array(20),
  };
  const bad: [Partial<SaConfig>, RegExp][] = [
    [{ mode: "transport", tfc: 500 }, /tunnel-mode outbound SAs only/],
    [{ direction: "in", tfc: 500 }, /tunnel-mode outbound SAs only/],
    [{ tfc: 5000 }, /largest packet a slot holds/],
    [{ tfc: -3 }, /integer 1\.\./],
    [{ tfc: "mtu", pathMtu: 60 }, /pathMtu must be an integer 68/],
  ];
  for (const [patch, msg] of bad) {
    assert.throws(
      () => dp.addSa({ ...base, ...patch }),
      (e: unknown) => e instanceof DataplaneError && e.code === "BAD_ARGUMENT" && msg.test(e.message),
    );
  }
  assert.equal(dp.saCount, 0);
});

test("dummy packets: Next Header 59, authenticated, move the window, dropped as dummy; TFC-padded like the rest", async () => {
  for (const esp of ["aes128gcm16", "aes128-sha256"]) {
    const { dp, out, inn, ref } = await pair(esp, { tfc: 300 });
    const e = dp.encapsulateDummy(out, 40);
    assert.equal(e.status, "ok");
    const r = refDecap(ref, e.packet!);
    assert.equal(r.nextHeader, 59);
    assert.equal(r.payload.length, 300);
    assert.ok(r.payload.every((b) => b === 0));
    const d = dp.decapsulate(e.packet!);
    assert.equal(d.status, "dummy");
    assert.equal(d.payload, undefined);
    assert.equal(dp.replayState(inn).top, 1n);
    assert.equal(dp.decapsulate(e.packet!).status, "replay");
    assert.equal(dp.decapsulate(dp.encapsulate(out, ipv4Udp(5)).packet!).status, "ok", "ordinary traffic continues");
    assert.equal(dp.stats(out).seq, 2n);
  }
  const t = await pair("aes128gcm16", { mode: "transport" });
  assert.throws(() => t.dp.encapsulateDummy(t.out, 10), /tunnel-mode outbound ESP SA/);
  const u = await pair("aes128gcm16");
  assert.throws(() => u.dp.encapsulateDummy(u.inn, 10), /tunnel-mode outbound ESP SA/);
  assert.throws(() => u.dp.encapsulateDummy(u.out, 1e6), /dummy length must be an integer/);
});

const ALL = [
  "aes128gcm16",
  "aes256gcm8",
  "aes192gcm12",
  "aes128gmac",
  "chacha20poly1305",
  "aes128-sha256",
  "aes256-sha256_96",
  "aes192-sha384",
  "aes128-sha1",
  "aes256-sha512",
  "aes128ctr-sha256",
  "aes256ctr-sha512",
  "aes192ctr-sha1",
  "null-sha256",
  "null-sha384",
];

test("overhead() equals the bytes each suite adds, for every inner length 20..300 and both modes", async () => {
  for (const esp of ALL) {
    for (const mode of ["tunnel", "transport"] as const) {
      const { dp, out } = await pair(esp, { mode });
      for (let len = 28; len <= 300; len++) {
        for (const inner of [ipv4Udp(len - 28), ...(len >= 48 ? [ipv6Udp(len - 48)] : [])]) {
          const v: 4 | 6 = inner[0]! >> 4 === 4 ? 4 : 6;
          const pkt = dp.encapsulate(out, inner).packet!;
          const oh = dp.overhead(out, inner.length, mode === "transport" ? { ipVersion: v } : {});
          assert.equal(pkt.length - inner.length, oh, `${esp} ${mode} IPv${v} ${inner.length}`);
          if (mode === "tunnel") {
            assert.equal(dp.overhead(out, inner.length, { ipVersion: 6, udpEncap: true }), oh + 48);
            assert.equal(dp.overhead(out, inner.length, { ipVersion: 4 }), oh + 20);
          } else {
            assert.equal(
              dp.overhead(out, inner.length, { ipVersion: v, udpEncap: true }),
              oh + 8,
              "transport: the IP header is the packet's own",
            );
          }
        }
      }
    }
  }
});

test("innerMtu(): the largest inner packet that fits, and one byte more does not, for every suite, outer IPv4/IPv6, with and without UDP", async () => {
  const outers: OuterHeaders[] = [
    {},
    { ipVersion: 4, udpEncap: true },
    { ipVersion: 6 },
    { ipVersion: 6, udpEncap: true },
  ];
  for (const esp of ALL) {
    const { dp, out } = await pair(esp);
    for (const mtu of [576, 1280, 1400, 1450, 1500]) {
      for (const o of outers) {
        const outerBytes = (o.ipVersion === 6 ? 40 : 20) + (o.udpEncap ? 8 : 0);
        const l = dp.innerMtu(out, mtu, o);
        const fits = dp.encapsulate(out, ipv4Udp(l - 28)).packet!;
        assert.ok(outerBytes + fits.length <= mtu, `${esp} ${mtu} ${JSON.stringify(o)}: ${l} fits`);
        assert.ok(mtu - (outerBytes + fits.length) < parseSuite(esp).align, "no whole alignment unit wasted");
        const tooBig = dp.encapsulate(out, ipv4Udp(l - 27)).packet!;
        assert.ok(outerBytes + tooBig.length > mtu, `${esp} ${mtu} ${JSON.stringify(o)}: ${l + 1} does not fit`);
      }
    }
  }
  // Transport mode: the packet keeps its own header, so innerMtu counts it.
  for (const esp of ["aes128gcm16", "aes256-sha256", "null-sha1"]) {
    const tr = await pair(esp, { mode: "transport" });
    for (const [o, make, extra] of [
      [{ ipVersion: 4 }, ipv4Udp, 28],
      [{ ipVersion: 6, udpEncap: true }, ipv6Udp, 48],
    ] as const) {
      const l = tr.dp.innerMtu(tr.out, 1400, o);
      const udp = o.udpEncap ? 8 : 0;
      assert.ok(tr.dp.encapsulate(tr.out, make(l - extra)).packet!.length + udp <= 1400, `${esp} transport ${l}`);
      assert.ok(
        tr.dp.encapsulate(tr.out, make(l - extra + 1)).packet!.length + udp > 1400,
        `${esp} transport ${l + 1}`,
      );
    }
  }
  // The numbers a network engineer would check by hand for a 1500-byte path over IPv4.
  const gcm = await pair("aes128gcm16");
  assert.equal(gcm.dp.innerMtu(gcm.out, 1500), 1446);
  assert.equal(gcm.dp.innerMtu(gcm.out, 1500, { udpEncap: true }), 1438);
  const cbc = await pair("aes256-sha256");
  assert.equal(cbc.dp.innerMtu(cbc.out, 1500), 1438);
  assert.equal(cbc.dp.innerMtu(cbc.out, 1500, { udpEncap: true }), 1422);
  // A TFC target larger than what fits: nothing does.
  const t = await pair("aes128gcm16", { tfc: 1490 });
  assert.equal(t.dp.innerMtu(t.out, 1500), 0);
  assert.equal(t.dp.innerMtu(t.out, 9000), 2048);
});
