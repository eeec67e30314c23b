// The consumer program: the same plain-JavaScript ESM in every runtime (Node, Deno, Bun, and
// any bundle), importing nothing but "ipsec-wasm". It makes a Dataplane with no options, so the
// packaged wasm must be found with no flags, and for one suite per family checks bytes against
// an outside reference:
//   - aes128gcm16 and chacha20poly1305 use IV = sequence number, so the first outbound packet of a
//     fixed key/SPI/inner packet is deterministic: its ESP bytes must equal the hex below;
//   - aes128-sha256 (CBC + HMAC) has a random IV: a packet made by node:crypto with a fixed IV
//     must decapsulate to the inner bytes, and one packet must round-trip;
//   - a tampered GCM packet must be dropped as "integrity-failed" without moving the window.
// The hex was made once with node:crypto (OpenSSL), never with ipsec-wasm:
//   node --import tsx test/consumers/program/vectors.ts
// (test/helpers/esp-ref.ts for GCM and CBC, RFC 7634 framing on node:crypto for ChaCha20); the
// Node consumer test checks these constants still equal that script's output.
// `roundtrip()` returns the results; run.mjs prints them as one JSON line.
import { Dataplane } from "ipsec-wasm";

/** IPv4/UDP 198.51.100.1 → 203.0.113.2, 24 bytes of 0x42 (valid header checksum). */
const INNER =
  "45000034123400004011024ec6336401cb0071029c40000900200000424242424242424242424242424242424242424242424242";

/** aes128gcm16, SPI 0x0000c0a1, key 00..0f ‖ salt cafebabe, seq 1. */
const GCM_KEY = "000102030405060708090a0b0c0d0e0fcafebabe";
const GCM_ESP =
  "0000c0a1000000010000000000000001f70519ad584b51f4db0ac353804ccd361868f04225b7488cfe951ff435af6b79c6c5f5be0db878250bed21523c8adba15940d6339f843b1a7a01cca5880a2e53f54c1e835e0445c9";

/** aes128-sha256 (128-bit ICV), SPI 0x0000c0b2, AES key 10..1f, HMAC key 40..5f, seq 2, IV a0..af. */
const CBC_KEY = "101112131415161718191a1b1c1d1e1f";
const CBC_INTEG = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
const CBC_ESP =
  "0000c0b200000002a0a1a2a3a4a5a6a7a8a9aaabacadaeaf36369242690c932cb86284bb2a1b81e11c21f5a51559770e0f4ab1f6b5321c87800b08076e56a9dbf59a60668a964cdef6d07312e005ae684c539ad00c62b2e5ea3960de40b091c194f6f2308ce6377f";

/** chacha20poly1305, SPI 0x0000c0c3, key 20..3f ‖ salt 0badf00d, seq 1. */
const CHACHA_KEY = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f0badf00d";
const CHACHA_ESP =
  "0000c0c300000001000000000000000128f9987765fd5d52a443eeeec022db4647091c7d8de9e4fb14ccdcdc05d97ec539955b2380caff14e90998e2d17721d582e46bc9eda6b19b008a3c3175ac76935afbfaeeb14bf2be";

const fromHex = (h) => Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));
const toHex = (u) => (u ? Array.from(u, (b) => b.toString(16).padStart(2, "0")).join("") : null);

/** Which runtime runs this (Deno and Bun also define process.versions.node, so they come first). */
export function runtime() {
  const g = globalThis;
  if (g.Deno?.version?.deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun?.version) return `bun ${g.Bun.version}`;
  if (g.navigator?.userAgent === "Cloudflare-Workers") return "workerd";
  if (g.process?.versions?.node) return `node ${g.process.versions.node}`;
  return g.navigator?.userAgent ?? "unknown";
}

/** Runs every check; never throws for a mismatch (the result says what differed). */
export async function roundtrip() {
  const dp = await Dataplane.create();
  const inner = fromHex(INNER);
  const result = { runtime: runtime(), suites: {}, tamper: {}, ok: false };
  const failures = [];
  const expect = (what, got, want) => {
    if (got !== want) failures.push(`${what}: got ${got}, want ${want}`);
  };
  const sa = (spi, direction, esp, encKey, integKey) =>
    dp.addSa({ spi, direction, mode: "tunnel", esp, encKey: fromHex(encKey), integKey: integKey && fromHex(integKey) });

  // AEAD suites: our first packet must be the reference's bytes, and decapsulate to the inner packet.
  for (const [name, spi, key, want] of [
    ["aes128gcm16", 0xc0a1, GCM_KEY, GCM_ESP],
    ["chacha20poly1305", 0xc0c3, CHACHA_KEY, CHACHA_ESP],
  ]) {
    const out = sa(spi, "out", name, key);
    const inn = sa(spi, "in", name, key);
    const e = dp.encapsulate(out, inner);
    const d = dp.decapsulate(fromHex(want));
    const r = {
      encap: e.status,
      espMatches: toHex(e.packet) === want,
      decap: d.status,
      innerMatches: toHex(d.payload) === INNER,
      sa: d.sa === inn,
    };
    result.suites[name] = r;
    expect(`${name} encapsulate`, e.status, "ok");
    if (!r.espMatches) failures.push(`${name} ESP bytes: got ${toHex(e.packet)}, want ${want}`);
    expect(`${name} decapsulate`, d.status, "ok");
    expect(`${name} inner bytes`, toHex(d.payload), INNER);
    expect(`${name} matched SA`, d.sa, inn);
  }

  // CBC + HMAC: the reference packet (fixed IV, seq 2) decapsulates; then one packet round-trips.
  {
    const name = "aes128-sha256";
    const out = sa(0xc0b2, "out", name, CBC_KEY, CBC_INTEG);
    sa(0xc0b2, "in", name, CBC_KEY, CBC_INTEG);
    const ref = dp.decapsulate(fromHex(CBC_ESP));
    const e = dp.encapsulate(out, inner);
    const back = e.packet ? dp.decapsulate(e.packet) : { status: "no-packet" };
    result.suites[name] = {
      refDecap: ref.status,
      refInnerMatches: toHex(ref.payload) === INNER,
      encap: e.status,
      espLength: e.packet?.length ?? 0,
      roundtrip: back.status,
      roundtripInnerMatches: toHex(back.payload) === INNER,
    };
    expect(`${name} reference decapsulate`, ref.status, "ok");
    expect(`${name} reference inner bytes`, toHex(ref.payload), INNER);
    expect(`${name} encapsulate`, e.status, "ok");
    expect(`${name} ESP length (8 header + 16 IV + 64 padded + 16 ICV)`, e.packet?.length, CBC_ESP.length / 2);
    expect(`${name} round trip`, back.status, "ok");
    expect(`${name} round-trip inner bytes`, toHex(back.payload), INNER);
  }

  // Tamper: a fresh GCM packet (seq 2) with one ciphertext bit flipped is dropped before the
  // window moves, so the untouched packet is still accepted afterwards.
  {
    const out = sa(0xc0d4, "out", "aes128gcm16", GCM_KEY);
    const inn = sa(0xc0d4, "in", "aes128gcm16", GCM_KEY);
    const good = dp.encapsulate(out, inner).packet;
    const bad = good.slice();
    bad[20] ^= 0x01;
    const t = dp.decapsulate(bad);
    const after = dp.decapsulate(good);
    result.tamper = {
      status: t.status,
      payload: t.payload === undefined ? "none" : "present",
      counted: Number(dp.stats(inn).drops["integrity-failed"]),
      untouchedAfter: after.status,
    };
    expect("tampered packet", t.status, "integrity-failed");
    expect("tampered packet payload", t.payload, undefined);
    expect("integrity-failed counter", result.tamper.counted, 1);
    expect("untouched packet after the tampered one", after.status, "ok");
  }

  result.ok = failures.length === 0;
  if (failures.length > 0) result.failures = failures;
  return result;
}
