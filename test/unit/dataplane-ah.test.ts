// Authentication Header (RFC 4302) in the dataplane: fields routers change (TTL, TOS, DF, hop
// limit, flow label) do not break the ICV; anything else does, and never moves the window; the
// integrity gateway, configuration refusals, MTU arithmetic, and a fuzz. Interop against scapy's
// AH (both directions, every mode, family and HMAC, ESN, IPv4 options) is
// test/interop/ah-scapy.test.ts (Debian python3-scapy).
import { test } from "../helpers/aes-both-ways.ts";
import assert from "node:assert/strict";
import { Dataplane, DataplaneError, type SaConfig } from "../../sdk/index.ts";
import { ipv4Udp, ipv6Udp } from "../helpers/esp-ref.ts";
import { ahPair, bytes } from "../helpers/ah.ts";

test("AH: what routers change does not matter, anything else fails; failures never move the window", async () => {
  for (const v of [4, 6] as const) {
    const s = await ahPair("sha256", "transport", v);
    const inner = v === 4 ? ipv4Udp(40) : ipv6Udp(40);
    const hl = v === 4 ? 20 : 40;
    const mutable = v === 4 ? [1, 6, 8, 10, 11] : [0, 1, 2, 3, 7]; // TOS, flags, TTL, checksum / traffic class, flow label, hop limit
    for (const at of mutable) {
      const pkt = s.dp.encapsulate(s.out, inner).packet!.slice();
      pkt[at]! ^= at === 0 ? 0x0f : 0x40; // (IPv6 byte 0: only the traffic-class nibble)
      assert.equal(s.dp.decapsulate(pkt, hl).status, "ok", `IPv${v}: byte ${at} is mutable`);
    }
    const top = s.dp.replayState(s.inn).top;
    const good = s.dp.encapsulate(s.out, inner).packet!;
    let failed = 0;
    for (let at = 0; at < good.length; at++) {
      if (mutable.includes(at)) continue;
      const bad = good.slice();
      bad[at]! ^= at === 0 ? 0x01 : 0x80;
      const d = s.dp.decapsulate(bad, hl);
      assert.notEqual(d.status, "ok", `IPv${v} byte ${at}`);
      assert.equal(d.payload, undefined);
      failed++;
    }
    assert.ok(failed > 80);
    assert.equal(s.dp.replayState(s.inn).top, top, "no failed packet moved the window");
    for (let n = 0; n < good.length; n++)
      assert.notEqual(s.dp.decapsulate(good.subarray(0, n), Math.min(hl, n)).status, "ok");
    assert.equal(s.dp.decapsulate(good, hl).status, "ok");
    assert.equal(s.dp.decapsulate(good, hl).status, "replay");
    const st = s.dp.stats(s.inn);
    assert.equal(st.protocol, "ah");
    assert.ok(st.drops["integrity-failed"] > 0n);
  }
});

test("AH integrity gateway: verify-only forwards the packet unchanged; AH and ESP SPIs share one table", async () => {
  const s = await ahPair("sha256", "tunnel", 4);
  const gw = await Dataplane.create({ maxSas: 2 });
  const g = gw.addSa({
    protocol: "ah",
    spi: 0xa4a4,
    direction: "in",
    mode: "tunnel",
    esp: "sha256",
    encKey: new Uint8Array(0),
    integKey: s.key,
    verifyOnly: true,
  });
  const pkt = s.dp.encapsulate(s.out, ipv4Udp(10)).packet!;
  const r = gw.decapsulate(pkt, 20);
  assert.equal(r.status, "ok");
  assert.deepEqual(r.payload, pkt);
  assert.equal(gw.stats(g).packets, 1n);
  assert.throws(
    () => gw.addSa({ spi: 0xa4a4, direction: "in", mode: "tunnel", esp: "aes128gcm16", encKey: new Uint8Array(20) }),
    /already exists/,
  );
  // An ESP SA's SPI in an AH header is no AH SA.
  const esp = await Dataplane.create({ maxSas: 2 });
  esp.addSa({
    spi: 0xa4a4,
    direction: "in",
    mode: "tunnel",
    esp: "null-sha256",
    encKey: new Uint8Array(0),
    integKey: s.key,
  });
  assert.equal(esp.decapsulate(pkt, 20).status, "no-sa");
});

test("AH configuration: keywords, the outer addresses tunnel mode needs, what AH does not do; MTU arithmetic", async () => {
  const dp = await Dataplane.create({ maxSas: 4 });
  const base: SaConfig = {
    protocol: "ah",
    spi: 0x5000,
    direction: "out",
    mode: "tunnel",
    esp: "sha256",
    encKey: new Uint8Array(0),
    integKey: new Uint8Array(32),
  };
  const refuse: [Partial<SaConfig>, string, RegExp][] = [
    [{}, "BAD_ARGUMENT", /needs tunnel: \{ src, dst \}/],
    [{ tunnel: { src: "198.18.0.1", dst: "2001:db8::1" } }, "BAD_ARGUMENT", /two IPv4 or two IPv6/],
    [{ esp: "aes128gcm16" }, "BAD_PROPOSAL", /unknown AH proposal.*sha256_96/],
    [{ mode: "transport", tfc: 500 }, "BAD_ARGUMENT", /AH carries no padding/],
    [{ mode: "transport", encKey: new Uint8Array(16) }, "BAD_KEY_LENGTH", /must be 0/],
  ];
  for (const [patch, code, msg] of refuse) {
    assert.throws(
      () => dp.addSa({ ...base, ...patch }),
      (e: unknown) => e instanceof DataplaneError && e.code === code && msg.test(e.message),
      JSON.stringify(patch),
    );
  }
  const t6 = dp.addSa({
    ...base,
    esp: "sha512",
    integKey: new Uint8Array(64),
    tunnel: { src: "2001:db8::a", dst: "2001:db8::b" },
  });
  assert.throws(() => dp.encapsulateDummy(t6, 10), /outbound ESP SA/);
  // AH-SHA-512-256 over IPv6: 12 + 32 = 44, padded to 48; plus the outer IPv6 header.
  assert.equal(dp.overhead(t6, 100, { ipVersion: 6 }), 88);
  const l = dp.innerMtu(t6, 1280, { ipVersion: 6 });
  assert.equal(l, 1280 - 88);
  assert.equal(dp.encapsulate(t6, ipv6Udp(l - 48)).packet!.length, 1280);
  assert.equal(dp.stats(t6).protocol, "ah");
});

test("fuzz: random IP headers claiming AH or ESP, random lengths and SPIs of every SA kind: never ok, never a trap", async () => {
  const dp = await Dataplane.create({ maxSas: 16, batchSize: 64 });
  const spis = [0x1001, 0x1002, 0x1003, 0x1004, 0x1005, 0x1006];
  dp.addSa({
    protocol: "ah",
    spi: spis[0]!,
    direction: "in",
    mode: "transport",
    esp: "sha256",
    encKey: new Uint8Array(0),
    integKey: bytes(32, 1),
  });
  dp.addSa({
    protocol: "ah",
    spi: spis[1]!,
    direction: "in",
    mode: "tunnel",
    esp: "sha512-esn",
    encKey: new Uint8Array(0),
    integKey: bytes(64, 2),
    verifyOnly: true,
  });
  dp.addSa({ spi: spis[2]!, direction: "in", mode: "transport", esp: "chacha20poly1305", encKey: bytes(36, 3) });
  dp.addSa({ spi: spis[3]!, direction: "in", mode: "tunnel", esp: "aes128gmac-esn", encKey: bytes(20, 4) });
  dp.addSa({
    spi: spis[4]!,
    direction: "in",
    mode: "transport",
    esp: "aes256ctr-sha384",
    encKey: bytes(36, 5),
    integKey: bytes(48, 6),
  });
  dp.addSa({
    spi: spis[5]!,
    direction: "in",
    mode: "tunnel",
    esp: "aes128-sha1",
    encKey: new Uint8Array(0),
    integKey: bytes(20, 7),
    verifyOnly: true,
  });
  let rnd = 2024;
  const next = (n: number): number => {
    rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
    return (rnd >>> 8) % n;
  };
  let runs = 0;
  for (let round = 0; round < 60; round++) {
    const pkts: Uint8Array[] = [];
    const l3s: number[] = [];
    for (let k = 0; k < 50; k++) {
      const len = next(400);
      const p = Uint8Array.from({ length: len }, () => next(256));
      let l3 = 0;
      if (len >= 40 && next(3) > 0) {
        const v6 = next(2) === 1;
        l3 = v6 ? 40 + 8 * next(3) : 20 + 4 * next(3);
        if (l3 > len) l3 = 0;
        else if (v6) {
          p[0] = 0x60;
          p[6] = (l3 > 40 ? [0, 60][next(2)] : 51)!;
          if (l3 > 40) {
            p[40] = 51;
            p[41] = (l3 - 48) / 8;
          }
        } else {
          p[0] = 0x40 | (l3 / 4);
          p[9] = [51, 50, 17][next(3)]!;
          p[6] = (next(2) ? 0 : p[6])!;
        }
      }
      if (len >= l3 + 12) {
        const spi = spis[next(spis.length)];
        const at = l3 + (l3 && (p[9] === 51 || p[0]! >> 4 === 6) ? 4 : 0);
        if (at + 4 <= len) p.set([spi! >>> 24, (spi! >>> 16) & 255, (spi! >>> 8) & 255, spi! & 255], at);
      }
      pkts.push(p);
      l3s.push(l3);
    }
    for (const r of dp.decapsulateBatch(pkts, l3s)) {
      assert.notEqual(r.status, "ok");
      assert.equal(r.payload, undefined);
      runs++;
    }
  }
  assert.equal(runs, 3000);
  for (const h of dp.handles()) assert.equal(dp.replayState(h).top, 0n);
});
