// The ESP suites beyond GCM/CBC against outside references: ChaCha20-Poly1305 (RFC 7634 appendix A
// and node:crypto's chacha20-poly1305), AES-CTR (RFC 3686 test vectors and
// node:crypto's aes-*-ctr), AES-GMAC (RFC 4543 has no vectors: node:crypto's aes-*-gcm over an empty
// plaintext computes the ICV independently), HMAC-SHA-384-192 and HMAC-SHA-512-256 (RFC 4868
// authenticator cases and node:crypto), AES-192 wherever a suite allows it. Both directions,
// tunnel and transport, ESN; then bad input for every new kind: never ok, never a byte of payload,
// never a moved window.
import { test } from "../helpers/aes-both-ways.ts";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createCipheriv, createDecipheriv, createHmac } from "node:crypto";
import { Dataplane, DataplaneError, parseSuite, type SaConfig } from "../../sdk/index.ts";
import { ipv4Udp, ipv6Udp } from "../helpers/esp-ref.ts";

const hex = (s: string): Buffer => Buffer.from(s, "hex");
const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 29 + seed * 13 + 5) & 255);
const be32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
const be64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
};

// ---- an independent ESP encoder/decoder on node:crypto (OpenSSL) for the new suites ---------------

type Kind = "ctr" | "gmac" | "cbc" | "null" | "gcm" | "chacha";
interface Ref {
  kind: Kind;
  spi: number;
  key: Buffer;
  salt: Buffer;
  integKey?: Buffer;
  hash?: string;
  icv: number;
  esn: boolean;
}

const align = (k: Kind): number => (k === "cbc" ? 16 : 4);
const ivLen = (k: Kind): number => (k === "cbc" ? 16 : k === "null" ? 0 : 8);

function trailer(payload: Uint8Array, a: number, nh: number): Buffer {
  const padLen = (a - ((payload.length + 2) % a)) % a;
  return Buffer.concat([
    payload,
    Buffer.from(Array.from({ length: padLen }, (_, i) => i + 1)),
    Buffer.from([padLen, nh]),
  ]);
}

/** AAD of the AEAD-style suites: SPI ‖ seq, with ESN SPI ‖ seq-hi ‖ seq-lo (RFC 4106 §5, RFC 4543 §3.3). */
const aadHeader = (r: Ref, hdr: Buffer, seq: bigint): Buffer =>
  r.esn ? Buffer.concat([hdr.subarray(0, 4), be32(Number(seq >> 32n)), hdr.subarray(4, 8)]) : hdr;

function refEncap(
  r: Ref,
  seq: bigint,
  payload: Uint8Array,
  nh: number,
  iv: Buffer = be64(seq ^ 0x5a5a5a5a00000000n),
): Buffer {
  const hdr = Buffer.concat([be32(r.spi), be32(Number(seq & 0xffffffffn))]);
  const body = trailer(payload, align(r.kind), nh);
  const bits = r.key.length * 8;
  if (r.kind === "gmac") {
    const g = createCipheriv(`aes-${bits}-gcm` as "aes-128-gcm", r.key, Buffer.concat([r.salt, iv]));
    g.setAAD(Buffer.concat([aadHeader(r, hdr, seq), iv, body]));
    g.final();
    return Buffer.concat([hdr, iv, body, g.getAuthTag()]);
  }
  if (r.kind === "gcm" || r.kind === "chacha") {
    const alg = r.kind === "chacha" ? "chacha20-poly1305" : `aes-${bits}-gcm`;
    const g = createCipheriv(alg as "aes-128-gcm", r.key, Buffer.concat([r.salt, iv]), { authTagLength: 16 });
    g.setAAD(aadHeader(r, hdr, seq));
    const ct = Buffer.concat([g.update(body), g.final()]);
    return Buffer.concat([hdr, iv, ct, g.getAuthTag().subarray(0, r.icv)]);
  }
  let ct: Buffer;
  if (r.kind === "ctr")
    ct = createCipheriv(`aes-${bits}-ctr`, r.key, Buffer.concat([r.salt, iv, be32(1)])).update(body);
  else if (r.kind === "cbc")
    ct = createCipheriv(`aes-${bits}-cbc`, r.key, (iv = Buffer.alloc(16, 0xc3)))
      .setAutoPadding(false)
      .update(body);
  else {
    ct = body;
    iv = Buffer.alloc(0);
  }
  const signed = Buffer.concat([hdr, iv, ct]);
  const mac = createHmac(r.hash!, r.integKey!)
    .update(signed)
    .update(r.esn ? be32(Number(seq >> 32n)) : Buffer.alloc(0))
    .digest();
  return Buffer.concat([signed, mac.subarray(0, r.icv)]);
}

function refDecap(r: Ref, pkt: Uint8Array, seqHi = 0): { payload: Buffer; nh: number } {
  const b = Buffer.from(pkt);
  const iv = b.subarray(8, 8 + ivLen(r.kind));
  const body = b.subarray(8 + iv.length, b.length - r.icv);
  const icv = b.subarray(b.length - r.icv);
  const hdr = b.subarray(0, 8);
  const hi = be32(seqHi);
  const aadHdr = r.esn ? Buffer.concat([hdr.subarray(0, 4), hi, hdr.subarray(4)]) : hdr;
  const bits = r.key.length * 8;
  let pt: Buffer;
  if (r.kind === "gmac" || r.kind === "gcm" || r.kind === "chacha") {
    const alg = r.kind === "chacha" ? "chacha20-poly1305" : `aes-${bits}-gcm`;
    const g = createDecipheriv(alg as "aes-128-gcm", r.key, Buffer.concat([r.salt, iv]), { authTagLength: r.icv });
    g.setAuthTag(icv);
    if (r.kind === "gmac") {
      g.setAAD(Buffer.concat([aadHdr, iv, body]));
      g.final();
      pt = Buffer.from(body);
    } else {
      g.setAAD(aadHdr);
      pt = Buffer.concat([g.update(body), g.final()]);
    }
  } else {
    const mac = createHmac(r.hash!, r.integKey!)
      .update(b.subarray(0, b.length - r.icv))
      .update(r.esn ? hi : Buffer.alloc(0))
      .digest();
    if (!mac.subarray(0, r.icv).equals(icv)) throw new Error("reference: ICV mismatch");
    if (r.kind === "ctr")
      pt = createDecipheriv(`aes-${bits}-ctr`, r.key, Buffer.concat([r.salt, iv, be32(1)])).update(body);
    else if (r.kind === "cbc") pt = createDecipheriv(`aes-${bits}-cbc`, r.key, iv).setAutoPadding(false).update(body);
    else pt = Buffer.from(body);
  }
  const padLen = pt[pt.length - 2];
  for (let i = 0; i < padLen!; i++) assert.equal(pt[pt.length - 2 - padLen! + i], i + 1, "reference: RFC 4303 padding");
  return { payload: pt.subarray(0, pt.length - 2 - padLen!), nh: pt[pt.length - 1]! };
}

// ---- SA pairs for a keyword --------------------------------------------------------------------

interface Pair {
  dp: Dataplane;
  out: number;
  inn: number;
  ref: Ref;
  cfg: Omit<SaConfig, "spi" | "direction">;
}

function keysFor(esp: string): { encKey: Uint8Array; integKey?: Uint8Array; ref: Omit<Ref, "spi" | "esn"> } {
  const s = parseSuite(esp);
  const hashName = ["", "sha1", "sha256", "sha384", "sha512"][s.hash];
  const enc = bytes(s.encKeyBytes, s.encKeyBytes + 1);
  const integKey = s.integKeyBytes ? bytes(s.integKeyBytes, 7) : undefined;
  const kind: Kind = esp.startsWith("chacha")
    ? "chacha"
    : esp.includes("gmac")
      ? "gmac"
      : esp.includes("gcm")
        ? "gcm"
        : esp.includes("ctr-")
          ? "ctr"
          : esp.startsWith("null")
            ? "null"
            : "cbc";
  const cipherKey = kind === "chacha" ? 32 : s.aesKeyBytes;
  const aes = Buffer.from(enc.subarray(0, cipherKey));
  const salt = Buffer.from(enc.subarray(cipherKey));
  return {
    encKey: enc,
    integKey,
    ref: {
      kind,
      key: aes,
      salt,
      integKey: integKey && Buffer.from(integKey),
      hash: hashName || undefined,
      icv: s.icvBytes,
    },
  };
}

async function pair(esp: string, extra: Partial<SaConfig> = {}): Promise<Pair> {
  const dp = await Dataplane.create({ maxSas: 8, batchSize: 32 });
  const k = keysFor(esp.replace(/-esn$/, ""));
  const cfg = { mode: "tunnel" as const, esp, encKey: k.encKey, integKey: k.integKey, ...extra };
  const out = dp.addSa({ ...cfg, spi: 0x4242, direction: "out" });
  const inn = dp.addSa({ ...cfg, spi: 0x4242, direction: "in" });
  return { dp, out, inn, cfg, ref: { ...k.ref, spi: 0x4242, esn: extra.esn ?? esp.endsWith("-esn") } };
}

const HASHES = ["sha1", "sha256", "sha256_96", "sha384", "sha512"];
const NEW_SUITES = [
  "chacha20poly1305",
  ...["128", "192", "256"].flatMap((b) => HASHES.map((h) => `aes${b}ctr-${h}`)),
  "aes128gmac",
  "aes192gmac",
  "aes256gmac",
  "aes192-sha256",
  "aes192-sha384",
  "aes192-sha512",
  "aes256-sha384",
  "aes128-sha512",
  "aes192gcm16",
  "aes192gcm8",
  "null-sha384",
  "null-sha512",
];

for (const esp of NEW_SUITES) {
  test(`${esp}: OpenSSL decapsulates ours and we decapsulate OpenSSL's, tunnel IPv4/IPv6`, async () => {
    const { dp, out, inn, ref } = await pair(esp);
    const inners = [ipv4Udp(0), ipv4Udp(3), ipv4Udp(61), ipv6Udp(17), ipv4Udp(1372)];
    for (const [i, inner] of inners.entries()) {
      const e = dp.encapsulate(out, inner);
      assert.equal(e.status, "ok");
      assert.equal(e.seq, BigInt(i + 1));
      const r = refDecap(ref, e.packet!);
      assert.deepEqual(new Uint8Array(r.payload), inner);
      assert.equal(r.nh, inner[0]! >> 4 === 4 ? 4 : 41);
      if (ref.kind === "gmac") {
        // Integrity only: the inner packet is on the wire in the clear, right after SPI, seq and IV.
        assert.deepEqual(e.packet!.subarray(16, 16 + inner.length), inner);
      } else if (ref.kind !== "null") {
        assert.notDeepEqual(e.packet!.subarray(8 + ivLen(ref.kind), 8 + ivLen(ref.kind) + 20), inner.subarray(0, 20));
      }
      const d = dp.decapsulate(refEncap(ref, BigInt(i + 1), inner, r.nh));
      assert.equal(d.status, "ok", `reference packet ${i}`);
      assert.deepEqual(d.payload, inner);
    }
    assert.equal(dp.stats(inn).packets, 5n);
    assert.equal(dp.stats(out).esp, parseSuite(esp).name);
  });
}

test("new suites in transport mode and with ESN across 2^32: both directions against OpenSSL", async () => {
  for (const esp of [
    "chacha20poly1305",
    "aes128ctr-sha256",
    "aes256ctr-sha512",
    "aes128gmac",
    "aes256gmac",
    "aes192-sha384",
  ]) {
    const t = await pair(esp, { mode: "transport" });
    for (const [i, orig] of [ipv4Udp(33), ipv6Udp(9)].entries()) {
      const hl = orig[0]! >> 4 === 4 ? 20 : 40;
      const e = t.dp.encapsulate(t.out, orig);
      const r = refDecap(t.ref, e.packet!.subarray(hl));
      assert.equal(r.nh, 17);
      assert.deepEqual(new Uint8Array(r.payload), orig.subarray(hl));
      assert.deepEqual(t.dp.decapsulate(e.packet!, hl).payload, orig, `${esp} transport round trip with the IP header`);
      const wire = Buffer.concat([orig.subarray(0, hl), refEncap(t.ref, 10n + BigInt(i), orig.subarray(hl), 17)]);
      wire[orig[0]! >> 4 === 4 ? 9 : 6] = 50;
      if (hl === 20) {
        wire.writeUInt16BE(wire.length, 2);
        wire.writeUInt16BE(0, 10);
      } else wire.writeUInt16BE(wire.length - 40, 4);
      const d = t.dp.decapsulate(wire, hl);
      assert.equal(d.status, "ok", `${esp} OpenSSL transport packet`);
      assert.deepEqual(d.payload!.subarray(hl), orig.subarray(hl));
    }
    const start = 0xfffffff8n;
    const x = await pair(`${esp}-esn`, { seq: start });
    for (let i = 1n; i <= 16n; i++) {
      const e = x.dp.encapsulate(x.out, ipv4Udp(12));
      assert.equal(e.seq, start + i);
      const r = refDecap(x.ref, e.packet!, Number((start + i) >> 32n));
      assert.deepEqual(new Uint8Array(r.payload), ipv4Udp(12));
    }
    // OpenSSL's packets move the inbound SA across 2^32: seq-hi is inferred from the window (RFC 4303 A.2).
    for (const s of [start + 1n, start + 9n, start + 12n]) {
      const d = x.dp.decapsulate(refEncap(x.ref, s, ipv4Udp(5), 4));
      assert.equal(d.status, "ok", `${esp}-esn seq ${s}`);
      assert.equal(d.seq, s);
    }
    // A wrong seq-hi is not guessed into validity: low bits of a fresh number, signed with seq-hi 2.
    assert.equal(
      x.dp.decapsulate(refEncap(x.ref, start + 13n + (1n << 32n), ipv4Udp(5), 4)).status,
      "integrity-failed",
    );
    // An SA installed mid-way (seq given) continues from there.
    const inn = x.dp.addSa({ ...x.cfg, esp: `${esp}-esn`, spi: 0x5151, direction: "in", seq: start + 4n });
    const r2: Ref = { ...x.ref, spi: 0x5151 };
    for (const s of [start + 5n, start + 11n, start + 15n]) {
      const d = x.dp.decapsulate(refEncap(r2, s, ipv4Udp(5), 4));
      assert.equal(d.status, "ok", `${esp}-esn seq ${s}`);
      assert.equal(d.seq, s);
    }
    assert.equal(x.dp.stats(inn).seq, start + 15n);
  }
});

// ---- RFC 3686: the counter block and keystream, both directions ---------------------------------

interface CtrVector {
  id: string;
  key_hex: string;
  nonce_hex: string;
  iv_hex: string;
  key_with_nonce_hex: string;
  counter_block_1_hex: string;
  plaintext_hex: string;
  ciphertext_hex: string;
}
const CTR_VECTORS = JSON.parse(
  readFileSync(new URL("../vectors/rfc/rfc3686_aes_ctr.json", import.meta.url), "utf8"),
) as CtrVector[];

test("RFC 3686 §6 test vectors #1-#9: transcription equals node:crypto AES-CTR", () => {
  assert.equal(CTR_VECTORS.length, 9);
  for (const v of CTR_VECTORS) {
    const key = hex(v.key_hex);
    const c = createCipheriv(`aes-${key.length * 8}-ctr`, key, hex(v.counter_block_1_hex));
    assert.equal(c.update(hex(v.plaintext_hex)).toString("hex"), v.ciphertext_hex, v.id);
    assert.equal(v.counter_block_1_hex, v.nonce_hex + v.iv_hex + "00000001");
  }
});

test("RFC 3686 vectors through ESP: decap uses nonce ‖ IV ‖ 1 from the packet; encap's IV is the (ESN) sequence number", async () => {
  for (const v of CTR_VECTORS) {
    const key = hex(v.key_hex);
    const esp = `aes${key.length * 8}ctr-sha256`;
    const keystream = Buffer.from(hex(v.plaintext_hex).map((p, i) => p ^ hex(v.ciphertext_hex)[i]!));
    const n = keystream.length; // 16, 32 or 36: a multiple of 4, so the trailer needs no padding
    const dp = await Dataplane.create({ maxSas: 4, batchSize: 4 });
    const integKey = bytes(32, 9);
    dp.addSa({ spi: 0x3686, direction: "in", mode: "transport", esp, encKey: hex(v.key_with_nonce_hex), integKey });
    // Plaintext of our choosing (payload ‖ Pad Length 0 ‖ Next Header 17), encrypted with the RFC's keystream.
    const payload = bytes(n - 2, n);
    const pt = Buffer.concat([payload, Buffer.from([0, 17])]);
    const ct = Buffer.from(pt.map((p, i) => p ^ keystream[i]!));
    const signed = Buffer.concat([be32(0x3686), be32(1), hex(v.iv_hex), ct]);
    const pkt = Buffer.concat([signed, createHmac("sha256", integKey).update(signed).digest().subarray(0, 16)]);
    const d = dp.decapsulate(pkt);
    assert.equal(d.status, "ok", v.id);
    assert.deepEqual(d.payload, payload, v.id);
    assert.equal(d.nextHeader, 17);

    // Encap: an ESN SA whose next sequence number is the vector's IV produces the RFC keystream.
    const ivNum = hex(v.iv_hex).readBigUInt64BE();
    if (ivNum === 0n) continue; // #1: sequence number 0 is never sent (RFC 4303 §3.3.3)
    const out = dp.addSa({
      spi: 0x3687,
      direction: "out",
      mode: "tunnel",
      esp: `${esp}-esn`,
      encKey: hex(v.key_with_nonce_hex),
      integKey,
      seq: ivNum - 1n,
    });
    const inner = ipv4Udp(40);
    const e = dp.encapsulate(out, inner);
    assert.equal(e.status, "ok");
    assert.deepEqual(
      Buffer.from(e.packet!.subarray(8, 16)),
      hex(v.iv_hex),
      "IV on the wire = the 64-bit sequence number",
    );
    const got = Buffer.from(e.packet!.subarray(16, 16 + n)).map((c, i) => c ^ inner[i]!);
    assert.deepEqual(Buffer.from(got), keystream, `${v.id}: keystream`);
  }
});

// ---- RFC 7634 appendix A: the ChaCha20-Poly1305 ESP example ------------------------------------

interface ChaChaVector {
  keymat_hex: string;
  spi_hex: string;
  seq: number;
  iv_hex: string;
  plaintext_hex: string;
  pad_length: number;
  next_header: number;
  ciphertext_hex: string;
  esp_packet_hex: string;
}
const [CHACHA_ESP] = JSON.parse(
  readFileSync(new URL("../vectors/rfc/rfc7634_chacha20_poly1305_esp.json", import.meta.url), "utf8"),
) as ChaChaVector[];

test("RFC 7634 appendix A: the example packet decapsulates to its ICMP packet; our encap of it gives the RFC ciphertext", async () => {
  const v = CHACHA_ESP;
  const dp = await Dataplane.create({ maxSas: 4, batchSize: 4 });
  const spi = parseInt(v!.spi_hex, 16);
  const inn = dp.addSa({ spi, direction: "in", mode: "tunnel", esp: "chacha20poly1305", encKey: hex(v!.keymat_hex) });
  const pt = hex(v!.plaintext_hex);
  const inner = pt.subarray(0, pt.length - 2 - v!.pad_length);
  const d = dp.decapsulate(hex(v!.esp_packet_hex));
  assert.equal(d.status, "ok");
  assert.equal(d.seq, BigInt(v!.seq));
  assert.equal(d.nextHeader, v!.next_header);
  assert.deepEqual(Buffer.from(d.payload!), inner, "the inner IPv4 packet of the example");
  assert.equal(dp.decapsulate(hex(v!.esp_packet_hex)).status, "replay");
  const forged = hex(v!.esp_packet_hex);
  forged[forged.length - 1]! ^= 0x80;
  forged.writeUInt32BE(6, 4);
  assert.equal(dp.decapsulate(forged).status, "integrity-failed");
  assert.equal(dp.replayState(inn).top, BigInt(v!.seq));
  // Encap: with ESN and next sequence number = the example's IV, the nonce is the example's, so
  // the ciphertext (same inner packet, same RFC 4303 padding) is byte for byte the RFC's.
  const out = dp.addSa({
    spi,
    direction: "out",
    mode: "tunnel",
    esp: "chacha20poly1305-esn",
    encKey: hex(v!.keymat_hex),
    seq: hex(v!.iv_hex).readBigUInt64BE() - 1n,
  });
  const e = dp.encapsulate(out, inner);
  assert.equal(e.status, "ok");
  assert.equal(Buffer.from(e.packet!.subarray(8, 16)).toString("hex"), v!.iv_hex);
  assert.equal(Buffer.from(e.packet!.subarray(16, e.packet!.length - 16)).toString("hex"), v!.ciphertext_hex);
});

// ---- RFC 4868 authenticators: HMAC-SHA-384-192 and HMAC-SHA-512-256 ------------------------------

interface AuthVector {
  id: string;
  hash: string;
  key_hex: string;
  data_hex: string;
  prf_hex: string;
  icv_hex: string;
  icv_len_bytes: number;
}
const AUTH_VECTORS = JSON.parse(
  readFileSync(new URL("../vectors/rfc/rfc4868_hmac_sha384_512.json", import.meta.url), "utf8"),
) as AuthVector[];

test("RFC 4868 AUTH384/AUTH512 cases: transcription equals node:crypto, and an ESP packet made of the case's data verifies", async () => {
  for (const v of AUTH_VECTORS) {
    const alg = v.hash === "SHA-384" ? "sha384" : "sha512";
    assert.equal(createHmac(alg, hex(v.key_hex)).update(hex(v.data_hex)).digest("hex"), v.prf_hex, v.id);
    assert.equal(v.icv_hex, v.prf_hex.slice(0, v.icv_len_bytes * 2));
    assert.equal(v.icv_len_bytes, parseSuite(`null-${alg}`).icvBytes, "RFC 4868 truncation is the suite default");
    const data = hex(v.data_hex);
    if (data.length < 10) continue; // AUTH-1's "Hi There" is shorter than SPI + seq + trailer
    // NULL encryption signs SPI ‖ seq ‖ payload ‖ trailer: lay the case's data out as exactly that.
    const dp = await Dataplane.create({ maxSas: 2, batchSize: 2 });
    const h = dp.addSa({
      spi: data.readUInt32BE(0),
      direction: "in",
      mode: "tunnel",
      esp: `null-${alg}`,
      encKey: new Uint8Array(0),
      integKey: hex(v.key_hex),
    });
    const good = dp.decapsulate(Buffer.concat([data, hex(v.icv_hex)]));
    // The ICV verified; the data's last bytes are no RFC 4303 trailer, so it stops at the padding check.
    assert.equal(good.status, "bad-padding", v.id);
    const bad = Buffer.concat([data, hex(v.icv_hex)]);
    bad[bad.length - 1]! ^= 1;
    assert.equal(dp.decapsulate(bad).status, "integrity-failed", v.id);
    const s = dp.stats(h);
    assert.equal(s.drops["bad-padding"], 1n);
    assert.equal(s.drops["integrity-failed"], 1n);
    assert.equal(s.icvLength, v.icv_len_bytes);
  }
});

// ---- bad input for every new kind ---------------------------------------------------------------

test("new kinds: every bit flip, every truncation and a wrong SPI are dropped without output or a window move", async () => {
  for (const esp of [
    "chacha20poly1305",
    "chacha20poly1305-esn",
    "aes128ctr-sha256",
    "aes256ctr-sha384",
    "aes128gmac",
    "aes256gmac-esn",
    "aes192-sha512",
    "null-sha512",
  ]) {
    const { dp, out, inn } = await pair(esp);
    const good = dp.encapsulate(out, ipv4Udp(21)).packet!;
    for (let bit = 0; bit < good.length * 8; bit++) {
      const bad = good.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const d = dp.decapsulate(bad);
      assert.ok(["integrity-failed", "no-sa", "replay"].includes(d.status), `${esp} bit ${bit}: ${d.status}`);
      assert.equal(d.payload, undefined);
    }
    for (let n = 0; n < good.length; n++) {
      const d = dp.decapsulate(good.subarray(0, n));
      assert.ok(["truncated", "integrity-failed", "no-sa"].includes(d.status), `${esp} len ${n}: ${d.status}`);
      assert.equal(d.payload, undefined);
    }
    const wrongSpi = good.slice();
    wrongSpi.set([0, 0, 0x99, 0x99]);
    assert.equal(dp.decapsulate(wrongSpi).status, "no-sa");
    const rs = dp.replayState(inn);
    assert.equal(rs.top, 0n, `${esp}: window untouched`);
    assert.ok(rs.bitmap.every((b) => b === 0));
    assert.equal(dp.stats(inn).packets, 0n);
    // Garbage of every length up to 300 bytes under the right SPI: never ok, never traps.
    for (let n = 8; n < 300; n += 7) {
      const junk = Buffer.from(bytes(n, n));
      junk.writeUInt32BE(0x4242, 0);
      assert.notEqual(dp.decapsulate(junk).status, "ok");
    }
    assert.equal(dp.decapsulate(good).status, "ok", `${esp}: the genuine packet still passes`);
  }
});

test("keyword parsing: strongSwan spellings, key layouts and clear errors for the new suites", async () => {
  assert.deepEqual([parseSuite("aes128ctr-sha256").encKeyBytes, parseSuite("aes256ctr-sha512").icvBytes], [20, 32]);
  assert.equal(parseSuite("aes192ctr-sha2_384").name, "aes192ctr-sha384");
  assert.equal(parseSuite("aesctr-sha1").name, "aes128ctr-sha1");
  assert.deepEqual(
    [parseSuite("aes256gmac").encKeyBytes, parseSuite("aes256gmac").integKeyBytes, parseSuite("aes256gmac").aead],
    [36, 0, false],
  );
  assert.equal(parseSuite("chacha20poly1305-esn").esn, true);
  const dp = await Dataplane.create({ maxSas: 2 });
  const base: SaConfig = {
    spi: 0x600,
    direction: "in",
    mode: "tunnel",
    esp: "aes128ctr-sha256",
    encKey: new Uint8Array(16),
    integKey: new Uint8Array(32),
  };
  assert.throws(
    () => dp.addSa(base),
    (e: unknown) =>
      e instanceof DataplaneError && e.code === "BAD_KEY_LENGTH" && /4-byte nonce, RFC 3686/.test(e.message),
  );
  assert.throws(
    () => dp.addSa({ ...base, esp: "aes128gmac", encKey: new Uint8Array(20) }),
    /no separate integrity key/,
  );
  assert.throws(
    () => dp.addSa({ ...base, esp: "aes128gmac", encKey: new Uint8Array(16), integKey: undefined }),
    /4-byte salt, RFC 4543/,
  );
  assert.throws(() => dp.addSa({ ...base, esp: "aes128ctr-md5" }), /known: .*aes\{128,192,256\}ctr/);
  assert.equal(dp.saCount, 0);
});
