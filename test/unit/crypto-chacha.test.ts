// ChaCha20, Poly1305 and the ChaCha20-Poly1305 AEAD (assembly/crypto/chacha20.ts, poly1305.ts,
// chacha20poly1305.ts) against outside references: the RFC 8439 test vectors (sections 2.3.2, 2.4.2,
// 2.5.2, 2.6.2, 2.8.2 and appendix A.1 to A.5, written out below from the RFC text), Wycheproof
// chacha20_poly1305_test.json, the RFC 7634 appendix A ESP packet, node:crypto (OpenSSL) for the
// AEAD and the raw cipher, and a BigInt transcription of the RFC 8439 Poly1305 pseudocode.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadPrimitives, hex, unhex } from "../helpers/primitives.ts";

interface WycheproofAeadTest {
  tcId: number;
  comment: string;
  flags: string[];
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: "valid" | "invalid" | "acceptable";
}
interface WycheproofAeadFile {
  numberOfTests: number;
  testGroups: { ivSize: number; keySize: number; tagSize: number; tests: WycheproofAeadTest[] }[];
}
interface Rfc7634Case {
  id: string;
  keymat_hex: string;
  key_hex: string;
  salt_hex: string;
  spi_hex: string;
  seq: number;
  esn: boolean;
  iv_hex: string;
  nonce_hex: string;
  aad_hex: string;
  plaintext_hex: string;
  pad_length: number;
  next_header: number;
  ciphertext_hex: string;
  icv_hex: string;
  esp_packet_hex: string;
}

const vectorsDir = new URL("../vectors/", import.meta.url);
const wycheproof = JSON.parse(
  readFileSync(new URL("wycheproof/chacha20_poly1305_test.json", vectorsDir), "utf8"),
) as WycheproofAeadFile;
const rfc7634 = JSON.parse(
  readFileSync(new URL("rfc/rfc7634_chacha20_poly1305_esp.json", vectorsDir), "utf8"),
) as Rfc7634Case[];

const p = loadPrimitives();
const { x } = p;
const MAX = 4096;
const SENTINEL = 0xa5;

/** Fixed wasm buffers reused by every call (the primitives heap is a bump allocator). */
const buf = {
  ctx: p.alloc(x.chachaPolyContextBytes!()),
  key: p.alloc(32),
  nonce: p.alloc(16),
  aad: p.alloc(MAX),
  src: p.alloc(MAX + 32),
  dst: p.alloc(MAX + 32),
  tag: p.alloc(16),
  poly: p.alloc(Number((x.POLY1305_STATE_BYTES as unknown as WebAssembly.Global).value)),
};
const mem = (): Uint8Array => new Uint8Array(x.memory.buffer);
const set = (ptr: number, b: Uint8Array): void => mem().set(b, ptr);
const fill = (ptr: number, n: number, v: number): void => {
  mem().fill(v, ptr, ptr + n);
};
/** Random bytes as a plain Uint8Array (Buffer#slice would alias instead of copying). */
const rand = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Hex written in lines as the RFC prints it: whitespace is ignored. */
const h = (s: string): string => s.replace(/\s+/g, "");

function block(key: Uint8Array, nonce: Uint8Array, counter: number): string {
  set(buf.key, key);
  set(buf.nonce, nonce);
  x.chacha20Block!(buf.key, buf.nonce, counter, buf.dst);
  return hex(p.get(buf.dst, 64));
}

function chachaXor(key: Uint8Array, nonce: Uint8Array, counter: number, data: Uint8Array, inPlace = false): string {
  set(buf.key, key);
  set(buf.nonce, nonce);
  set(buf.src, data);
  const out = inPlace ? buf.src : buf.dst;
  if (!inPlace) fill(buf.dst, data.length + 32, SENTINEL);
  x.chacha20Xor!(buf.key, buf.nonce, counter, buf.src, out, data.length);
  if (!inPlace) assert.equal(hex(p.get(buf.dst + data.length, 32)), "a5".repeat(32), "chacha20Xor wrote past len");
  return hex(p.get(out, data.length));
}

function polyMac(key: Uint8Array, msg: Uint8Array): string {
  set(buf.key, key);
  set(buf.src, msg);
  x.poly1305Mac!(buf.key, buf.src, msg.length, buf.tag);
  return hex(p.get(buf.tag, 16));
}

/** AEAD seal through the wasm API; returns ct || tag. */
function seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array, inPlace = false): string {
  set(buf.key, key);
  x.chachaPolyInit!(buf.key, buf.ctx);
  set(buf.nonce, nonce);
  set(buf.aad, aad);
  set(buf.src, pt);
  const out = inPlace ? buf.src : buf.dst;
  if (!inPlace) fill(buf.dst, pt.length + 32, SENTINEL);
  x.chachaPolySeal!(buf.ctx, buf.nonce, buf.aad, aad.length, buf.src, out, pt.length, buf.tag);
  if (!inPlace) assert.equal(hex(p.get(buf.dst + pt.length, 32)), "a5".repeat(32), "seal wrote past len");
  return hex(p.get(out, pt.length)) + hex(p.get(buf.tag, 16));
}

/** AEAD open; returns the plaintext hex, or null when rejected (then checks dst is untouched). */
function open(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  ct: Uint8Array,
  tag: Uint8Array,
  inPlace = false,
): string | null {
  set(buf.key, key);
  x.chachaPolyInit!(buf.key, buf.ctx);
  set(buf.nonce, nonce);
  set(buf.aad, aad);
  set(buf.src, ct);
  set(buf.tag, tag);
  const out = inPlace ? buf.src : buf.dst;
  if (!inPlace) fill(buf.dst, ct.length + 32, SENTINEL);
  const ok = x.chachaPolyOpen!(buf.ctx, buf.nonce, buf.aad, aad.length, buf.src, out, ct.length, buf.tag);
  assert.ok(ok === 0 || ok === 1, `open returned ${ok}`);
  if (!inPlace) assert.equal(hex(p.get(buf.dst + ct.length, 32)), "a5".repeat(32), "open wrote past len");
  if (ok === 1) return hex(p.get(out, ct.length));
  const expected = inPlace ? hex(ct) : "a5".repeat(ct.length);
  assert.equal(hex(p.get(out, ct.length)), expected, "rejected open wrote into dst");
  return null;
}

function nodeSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array): Uint8Array {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: pt.length });
  return new Uint8Array(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]));
}

/** OpenSSL's raw "chacha20" takes a 16-byte IV: the 32-bit block counter (little-endian), then the nonce. */
function nodeChacha(key: Uint8Array, nonce: Uint8Array, counter: number, data: Uint8Array): Uint8Array {
  const iv = new Uint8Array(16);
  new DataView(iv.buffer).setUint32(0, counter, true);
  iv.set(nonce, 4);
  const c = createCipheriv("chacha20", key, iv);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

/** RFC 8439 section 2.5.1 pseudocode, transcribed with BigInt: an independent Poly1305. */
function bigPoly1305(key: Uint8Array, msg: Uint8Array): string {
  const le = (b: Uint8Array): bigint => b.reduceRight((acc, v) => (acc << 8n) | BigInt(v), 0n);
  const r = le(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = le(key.subarray(16, 32));
  const P = (1n << 130n) - 5n;
  let a = 0n;
  for (let i = 0; i < msg.length; i += 16) {
    const chunk = msg.subarray(i, i + 16);
    a = ((a + le(chunk) + (1n << BigInt(8 * chunk.length))) * r) % P;
  }
  a = (a + s) & ((1n << 128n) - 1n);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number((a >> BigInt(8 * i)) & 0xffn);
  return hex(out);
}

// RFC 8439 inputs used by several sections.
const KEY_SEQ = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const KEY_80 = unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
const KEY_1C = unhex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
const KEY_LAST1 = unhex("00".repeat(31) + "01");
const ZERO32 = new Uint8Array(32);
const NONCE_0 = new Uint8Array(12);
const NONCE_2 = unhex("000000000000000000000002");
const SUNSCREEN = ascii(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const IETF = ascii(
  "Any submission to the IETF intended by the Contributor for publication as all or part of an IETF " +
    "Internet-Draft or RFC and any statement made within the context of an IETF activity is considered " +
    'an "IETF Contribution". Such statements include oral statements in IETF sessions, as well as ' +
    "written and electronic communications made at any time or place, which are addressed to",
);
const JABBERWOCKY = ascii(
  "'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\nAll mimsy were the borogoves,\nAnd the mome raths outgrabe.",
);

test("RFC 8439 texts have the lengths the RFC prints", () => {
  assert.equal(SUNSCREEN.length, 114);
  assert.equal(IETF.length, 375);
  assert.equal(JABBERWOCKY.length, 127);
});

test("ChaCha20 block function: RFC 8439 section 2.3.2 and appendix A.1 test vectors 1-5", () => {
  assert.equal(
    block(KEY_SEQ, unhex("000000090000004a00000000"), 1),
    h(`
    10f1e7e4d13b5915500fdd1fa32071c4 c7d1f4c733c068030422aa9ac3d46c4e
    d2826446079faa0914c2d705d98b02a2 b5129cd1de164eb9cbd083e8a2503c4e`),
    "2.3.2",
  );
  const a1: [Uint8Array, Uint8Array, number, string][] = [
    [
      ZERO32,
      NONCE_0,
      0,
      `76b8e0ada0f13d90405d6ae55386bd28 bdd219b8a08ded1aa836efcc8b770dc7
      da41597c5157488d7724e03fb8d84a37 6a43b8f41518a11cc387b669b2ee6586`,
    ],
    [
      ZERO32,
      NONCE_0,
      1,
      `9f07e7be5551387a98ba977c732d080d cb0f29a048e3656912c6533e32ee7aed
      29b721769ce64e43d57133b074d839d5 31ed1f28510afb45ace10a1f4b794d6f`,
    ],
    [
      KEY_LAST1,
      NONCE_0,
      1,
      `3aeb5224ecf849929b9d828db1ced4dd 832025e8018b8160b82284f3c949aa5a
      8eca00bbb4a73bdad192b5c42f73f2fd 4e273644c8b36125a64addeb006c13a0`,
    ],
    [
      unhex("00ff" + "00".repeat(30)),
      NONCE_0,
      2,
      `72d54dfbf12ec44b362692df94137f32 8fea8da73990265ec1bbbea1ae9af0ca
      13b25aa26cb4a648cb9b9d1be65b2c09 24a66c54d545ec1b7374f4872e99f096`,
    ],
    [
      ZERO32,
      NONCE_2,
      0,
      `c2c64d378cd536374ae204b9ef933fcd 1a8b2288b3dfa49672ab765b54ee27c7
      8a970e0e955c14f3a88e741b97c286f7 5f8fc299e8148362fa198a39531bed6d`,
    ],
  ];
  a1.forEach(([key, nonce, counter, out], i) => assert.equal(block(key, nonce, counter), h(out), `A.1 #${i + 1}`));
});

test("ChaCha20 encryption: RFC 8439 section 2.4.2 and appendix A.2 test vectors 1-3, in place and out of place", () => {
  const cases: [string, Uint8Array, Uint8Array, number, Uint8Array, string][] = [
    [
      "2.4.2",
      KEY_SEQ,
      unhex("000000000000004a00000000"),
      1,
      SUNSCREEN,
      `
      6e2e359a2568f98041ba0728dd0d6981 e97e7aec1d4360c20a27afccfd9fae0b f91b65c5524733ab8f593dabcd62b357
      1639d624e65152ab8f530c359f0861d8 07ca0dbf500d6a6156a38e088a22b65e 52bc514d16ccf806818ce91ab7793736
      5af90bbf74a35be6b40b8eedf2785e42 874d`,
    ],
    [
      "A.2 #1",
      ZERO32,
      NONCE_0,
      0,
      new Uint8Array(64),
      `
      76b8e0ada0f13d90405d6ae55386bd28 bdd219b8a08ded1aa836efcc8b770dc7 da41597c5157488d7724e03fb8d84a37
      6a43b8f41518a11cc387b669b2ee6586`,
    ],
    [
      "A.2 #2",
      KEY_LAST1,
      NONCE_2,
      1,
      IETF,
      `
      a3fbf07df3fa2fde4f376ca23e827370 41605d9f4f4f57bd8cff2c1d4b7955ec 2a97948bd3722915c8f3d337f7d37005
      0e9e96d647b7c39f56e031ca5eb6250d 4042e02785ececfa4b4bb5e8ead0440e 20b6e8db09d881a7c6132f420e527950
      42bdfa7773d8a9051447b3291ce1411c 680465552aa6c405b7764d5e87bea85a d00f8449ed8f72d0d662ab052691ca66
      424bc86d2df80ea41f43abf937d3259d c4b2d0dfb48a6c9139ddd7f76966e928 e635553ba76c5c879d7b35d49eb2e62b
      0871cdac638939e25e8a1e0ef9d5280f a8ca328b351c3c765989cbcf3daa8b6c cc3aaf9f3979c92b3720fc88dc95ed84
      a1be059c6499b9fda236e7e818b04b0b c39c1e876b193bfe5569753f88128cc0 8aaa9b63d1a16f80ef2554d7189c411f
      5869ca52c5b83fa36ff216b9c1d30062 bebcfd2dc5bce0911934fda79a86f6e6 98ced759c3ff9b6477338f3da4f9cd85
      14ea9982ccafb341b2384dd902f3d1ab 7ac61dd29c6f21ba5b862f3730e37cfd c4fd806c22f221`,
    ],
    [
      "A.2 #3",
      KEY_1C,
      NONCE_2,
      42,
      JABBERWOCKY,
      `
      62e6347f95ed87a45ffae7426f27a1df 5fb69110044c0d73118effa95b01e5cf 166d3df2d721caf9b21e5fb14c616871
      fd84c54f9d65b283196c7fe4f60553eb f39c6402c42234e32a356b3e764312a6 1a5532055716ead6962568f87d3f3f77
      04c6a8d1bcd1bf4d50d6154b6da731b1 87b58dfd728afa36757a797ac188d1`,
    ],
  ];
  for (const [name, key, nonce, counter, pt, ct] of cases) {
    assert.equal(chachaXor(key, nonce, counter, pt), h(ct), name);
    assert.equal(chachaXor(key, nonce, counter, pt, true), h(ct), `${name} in place`);
    assert.equal(chachaXor(key, nonce, counter, unhex(h(ct))), hex(pt), `${name} decrypt`);
  }
});

test("ChaCha20 matches node:crypto's chacha20 for lengths 0..600 and 1400..1500 at random counters", () => {
  const lengths = [
    ...Array.from({ length: 601 }, (_, i) => i),
    ...Array.from({ length: 101 }, (_, i) => 1400 + i),
    4000,
  ];
  for (const len of lengths) {
    const key = rand(32),
      nonce = rand(12),
      data = rand(len);
    const counter = randomBytes(2).readUInt16LE(0); // far from 2^32: OpenSSL carries into the nonce there, RFC 8439 does not
    const ref = hex(nodeChacha(key, nonce, counter, data));
    assert.equal(chachaXor(key, nonce, counter, data, (len & 1) === 1), ref, `len ${len} counter ${counter}`);
  }
});

test("Poly1305: RFC 8439 section 2.5.2 and appendix A.3 test vectors 1-11 (including the reduction edge cases)", () => {
  const rs = (r: string, s: string): Uint8Array => unhex(h(r) + h(s));
  const z16 = "00".repeat(16);
  const cases: [string, Uint8Array, Uint8Array, string][] = [
    [
      "2.5.2",
      unhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"),
      ascii("Cryptographic Forum Research Group"),
      "a8061dc1305136c6c22b8baf0c0127a9",
    ],
    ["A.3 #1", ZERO32, new Uint8Array(64), z16],
    ["A.3 #2", rs(z16, "36e5f6b5c5e06070f0efca96227a863e"), IETF, "36e5f6b5c5e06070f0efca96227a863e"],
    ["A.3 #3", rs("36e5f6b5c5e06070f0efca96227a863e", z16), IETF, "f3477e7cd95417af89a6b8794c310cf0"],
    ["A.3 #4", KEY_1C, JABBERWOCKY, "4541669a7eaaee61e708dc7cbcc5eb62"],
    ["A.3 #5", rs("02" + "00".repeat(15), z16), unhex("ff".repeat(16)), "03" + "00".repeat(15)],
    ["A.3 #6", rs("02" + "00".repeat(15), "ff".repeat(16)), unhex("02" + "00".repeat(15)), "03" + "00".repeat(15)],
    [
      "A.3 #7",
      rs("01" + "00".repeat(15), z16),
      unhex("ff".repeat(16) + "f0" + "ff".repeat(15) + "11" + "00".repeat(15)),
      "05" + "00".repeat(15),
    ],
    ["A.3 #8", rs("01" + "00".repeat(15), z16), unhex("ff".repeat(16) + "fb" + "fe".repeat(15) + "01".repeat(16)), z16],
    ["A.3 #9", rs("02" + "00".repeat(15), z16), unhex("fd" + "ff".repeat(15)), "fa" + "ff".repeat(15)],
    [
      "A.3 #10",
      rs("0100000000000000 0400000000000000", z16),
      unhex(
        h(`
      e33594d7505e43b9 0000000000000000 3394d7505e4379cd 0100000000000000
      0000000000000000 0000000000000000 0100000000000000 0000000000000000`),
      ),
      "1400000000000000 5500000000000000",
    ],
    [
      "A.3 #11",
      rs("0100000000000000 0400000000000000", z16),
      unhex(
        h(`
      e33594d7505e43b9 0000000000000000 3394d7505e4379cd 0100000000000000
      0000000000000000 0000000000000000`),
      ),
      "13" + "00".repeat(15),
    ],
  ];
  for (const [name, key, msg, tag] of cases) {
    assert.equal(polyMac(key, msg), h(tag), name);
    assert.equal(bigPoly1305(key, msg), h(tag), `${name} (BigInt reference)`);
  }
});

test("Poly1305 equals the BigInt transcription of RFC 8439 for random keys and every length 0..300", () => {
  for (let len = 0; len <= 300; len++) {
    const key = rand(32),
      msg = rand(len);
    assert.equal(polyMac(key, msg), bigPoly1305(key, msg), `len ${len}`);
  }
  // Extreme limbs: all-ones data and keys whose clamped r is as large as clamping allows.
  for (let len = 0; len <= 80; len++) {
    const key = unhex("ff".repeat(32)),
      msg = unhex("ff".repeat(len));
    assert.equal(polyMac(key, msg), bigPoly1305(key, msg), `all-ones len ${len}`);
  }
});

test("Poly1305 incremental API (init, padded updates, finish) gives node:crypto's AEAD tag", () => {
  for (const [aadLen, len] of [
    [0, 0],
    [8, 0],
    [12, 1],
    [8, 15],
    [12, 16],
    [20, 17],
    [8, 1400],
    [12, 2049],
  ]) {
    const key = rand(32),
      nonce = rand(12),
      aad = rand(aadLen!),
      pt = rand(len!);
    const ref = nodeSeal(key, nonce, aad, pt);
    const otk = nodeChacha(key, nonce, 0, new Uint8Array(32));
    set(buf.key, otk);
    set(buf.aad, aad);
    set(buf.src, ref.subarray(0, len));
    x.poly1305Init!(buf.poly, buf.key);
    x.poly1305UpdatePadded!(buf.poly, buf.aad, aadLen!);
    x.poly1305UpdatePadded!(buf.poly, buf.src, len!);
    const lengths = new Uint8Array(16);
    new DataView(lengths.buffer).setBigUint64(0, BigInt(aadLen!), true);
    new DataView(lengths.buffer).setBigUint64(8, BigInt(len!), true);
    set(buf.dst, lengths);
    x.poly1305Blocks!(buf.poly, buf.dst, 1, 1);
    x.poly1305Finish!(buf.poly, buf.tag);
    assert.equal(hex(p.get(buf.tag, 16)), hex(ref.subarray(len)), `aad ${aadLen} len ${len}`);
  }
});

test("Poly1305 key generation: RFC 8439 section 2.6.2 and appendix A.4 test vectors 1-3", () => {
  const cases: [string, Uint8Array, Uint8Array, string][] = [
    [
      "2.6.2",
      KEY_80,
      unhex("000000000001020304050607"),
      "8ad5a08b905f81cc815040274ab29471 a833b637e3fd0da508dbb8e2fdd1a646",
    ],
    ["A.4 #1", ZERO32, NONCE_0, "76b8e0ada0f13d90405d6ae55386bd28 bdd219b8a08ded1aa836efcc8b770dc7"],
    ["A.4 #2", KEY_LAST1, NONCE_2, "ecfa254f845f647473d3cb140da9e876 06cb33066c447b87bc2666dde3fbb739"],
    ["A.4 #3", KEY_1C, NONCE_2, "965e3bc6f9ec7ed9560808f4d229f94b 137ff275ca9b3fcbdd59deaad23310ae"],
  ];
  for (const [name, key, nonce, otk] of cases) assert.equal(block(key, nonce, 0).slice(0, 64), h(otk), name);
});

test("AEAD: RFC 8439 section 2.8.2 seals, appendix A.5 opens; both reject a modified tag", () => {
  const nonce282 = unhex("07000000" + "4041424344454647");
  const aad282 = unhex("50515253c0c1c2c3c4c5c6c7");
  const ct282 = h(`
    d31a8d34648e60db7b86afbc53ef7ec2 a4aded51296e08fea9e2b5a736ee62d6 3dbea45e8ca9671282fafb69da92728b
    1a71de0a9e060b2905d6a5b67ecd3b36 92ddbd7f2d778b8c9803aee328091b58 fab324e4fad675945585808b4831d7bc
    3ff4def08e4b7a9de576d26586cec64b 6116`);
  const tag282 = "1ae10b594f09e26a7e902ecbd0600691";
  assert.equal(
    block(KEY_80, nonce282, 0).slice(0, 64),
    h("7bac2b252db447af09b67a55a4e955840ae1d6731075d9eb2a9375783ed553ff"),
    "2.8.2 one-time key",
  );
  assert.equal(seal(KEY_80, nonce282, aad282, SUNSCREEN), ct282 + tag282, "2.8.2 seal");
  assert.equal(seal(KEY_80, nonce282, aad282, SUNSCREEN, true), ct282 + tag282, "2.8.2 seal in place");
  assert.equal(open(KEY_80, nonce282, aad282, unhex(ct282), unhex(tag282)), hex(SUNSCREEN), "2.8.2 open");

  const nonceA5 = unhex("000000000102030405060708");
  const aadA5 = unhex("f33388860000000000004e91");
  const ctA5 = unhex(
    h(`
    64a0861575861af460f062c79be643bd 5e805cfd345cf389f108670ac76c8cb2 4c6cfc18755d43eea09ee94e382d26b0
    bdb7b73c321b0100d4f03b7f355894cf 332f830e710b97ce98c8a84abd0b9481 14ad176e008d33bd60f982b1ff37c855
    9797a06ef4f0ef61c186324e2b350638 3606907b6a7c02b0f9f6157b53c867e4 b9166c767b804d46a59b5216cde7a4e9
    9040c5a40433225ee282a1b0a06c523e af4534d7f83fa1155b0047718cbc546a 0d072b04b3564eea1b422273f548271a
    0bb2316053fa76991955ebd63159434e cebb4e466dae5a1073a6727627097a10 49e617d91d361094fa68f0ff77987130
    305beaba2eda04df997b714d6c6f2c29 a6ad5cb4022b02709b`),
  );
  const tagA5 = unhex("eead9d67890cbb22392336fea1851f38");
  const ptA5 = ascii(
    "Internet-Drafts are draft documents valid for a maximum of six months and may be updated, replaced, " +
      "or obsoleted by other documents at any time. It is inappropriate to use Internet-Drafts as reference " +
      "material or to cite them other than as /\u201cwork in progress./\u201d",
  );
  assert.equal(ctA5.length, 265);
  assert.equal(ptA5.length, 265);
  assert.equal(
    block(KEY_1C, nonceA5, 0).slice(0, 64),
    h("bdf04aa95ce4de8995b14bb6a18fecaf26478f50c054f563dbc0a21e261572aa"),
    "A.5 one-time key",
  );
  assert.equal(open(KEY_1C, nonceA5, aadA5, ctA5, tagA5), hex(ptA5), "A.5 open");
  assert.equal(open(KEY_1C, nonceA5, aadA5, ctA5, tagA5, true), hex(ptA5), "A.5 open in place");
  assert.equal(seal(KEY_1C, nonceA5, aadA5, ptA5), hex(ctA5) + hex(tagA5), "A.5 seal");
  const badTag = tagA5.slice();
  badTag[15]! ^= 0x80;
  assert.equal(open(KEY_1C, nonceA5, aadA5, ctA5, badTag), null, "A.5 modified tag");
  assert.equal(open(KEY_1C, nonceA5, aadA5, ctA5, badTag, true), null, "A.5 modified tag in place");
});

test("Wycheproof ChaCha20-Poly1305: every 96-bit-nonce case (valid seal and open, invalid rejected without output)", () => {
  let valid = 0,
    invalid = 0,
    otherNonce = 0;
  for (const g of wycheproof.testGroups) {
    for (const t of g.tests) {
      const name = `tcId ${t.tcId} (${t.comment})`;
      assert.notEqual(t.result, "acceptable", `${name}: no acceptable cases expected`);
      if (g.ivSize !== 96) {
        // The API takes exactly 12 nonce bytes (ESP always builds salt || IV), so these cannot be passed.
        assert.equal(t.result, "invalid", name);
        assert.deepEqual(t.flags, ["InvalidNonceSize"], name);
        otherNonce++;
        continue;
      }
      const key = unhex(t.key),
        iv = unhex(t.iv),
        aad = unhex(t.aad),
        msg = unhex(t.msg),
        ct = unhex(t.ct),
        tag = unhex(t.tag);
      if (t.result === "valid") {
        valid++;
        assert.equal(seal(key, iv, aad, msg), t.ct + t.tag, name);
        assert.equal(open(key, iv, aad, ct, tag), t.msg, name);
        assert.equal(open(key, iv, aad, ct, tag, true), t.msg, `${name} in place`);
      } else {
        invalid++;
        assert.equal(open(key, iv, aad, ct, tag), null, name);
        assert.equal(open(key, iv, aad, ct, tag, true), null, `${name} in place`);
        assert.notEqual(seal(key, iv, aad, msg), t.ct + t.tag, name);
      }
    }
  }
  assert.equal(wycheproof.numberOfTests, 325);
  assert.deepEqual({ valid, invalid, otherNonce }, { valid: 256, invalid: 60, otherNonce: 9 });
});

test("RFC 7634 appendix A: the ESP packet, nonce = salt || IV and AAD = SPI || sequence built as ESP does", () => {
  assert.equal(rfc7634.length, 1);
  for (const c of rfc7634) {
    const keymat = unhex(c.keymat_hex);
    assert.equal(keymat.length, 36, c.id);
    // RFC 7634 section 4: the last 4 bytes of the 36-byte keying material are the salt.
    const key = keymat.subarray(0, 32),
      salt = keymat.subarray(32);
    const nonce = new Uint8Array([...salt, ...unhex(c.iv_hex)]);
    const aad = new Uint8Array(8);
    aad.set(unhex(c.spi_hex), 0);
    new DataView(aad.buffer).setUint32(4, c.seq, false);
    assert.equal(c.esn, false, c.id);
    assert.equal(hex(nonce), c.nonce_hex, c.id);
    assert.equal(hex(aad), c.aad_hex, c.id);
    const pt = unhex(c.plaintext_hex);
    assert.equal(seal(key, nonce, aad, pt), c.ciphertext_hex + c.icv_hex, c.id);
    assert.equal(seal(key, nonce, aad, pt, true), c.ciphertext_hex + c.icv_hex, `${c.id} in place`);
    // Open straight from the wire bytes: SPI | seq | IV | ciphertext | ICV.
    const wire = unhex(c.esp_packet_hex);
    const ct = wire.subarray(16, wire.length - 16),
      icv = wire.subarray(wire.length - 16);
    assert.equal(hex(wire.subarray(0, 8)), hex(aad), c.id);
    assert.equal(hex(wire.subarray(8, 16)), c.iv_hex, c.id);
    const opened = open(key, nonce, aad, ct, icv);
    assert.equal(opened, c.plaintext_hex, c.id);
    // Trailer as RFC 4303 lays it out: padding 1, 2, ..., pad length, next header.
    assert.equal(pt[pt.length - 1], c.next_header, c.id);
    assert.equal(pt[pt.length - 2], c.pad_length, c.id);
    // With ESN the AAD grows to SPI || seq-hi || seq-lo and the tag changes: the packet must not verify.
    const esnAad = new Uint8Array([...aad.subarray(0, 4), 0, 0, 0, 0, ...aad.subarray(4)]);
    assert.equal(open(key, nonce, esnAad, ct, icv), null, `${c.id} 12-byte AAD`);
  }
});

test("AEAD matches node:crypto chacha20-poly1305 for random lengths 0..2100 with 8- and 12-byte AAD", () => {
  const lengths = [
    ...Array.from({ length: 300 }, (_, i) => i),
    ...Array.from({ length: 300 }, () => randomBytes(2).readUInt16LE(0) % 2101),
    2100,
  ];
  lengths.forEach((len, i) => {
    const key = rand(32),
      nonce = rand(12),
      aad = rand(i % 2 === 0 ? 8 : 12),
      pt = rand(len);
    const ref = hex(nodeSeal(key, nonce, aad, pt));
    const name = `len ${len} aad ${aad.length}`;
    const inPlace = i % 3 === 0;
    assert.equal(seal(key, nonce, aad, pt, inPlace), ref, name);
    const refBytes = unhex(ref);
    assert.equal(open(key, nonce, aad, refBytes.subarray(0, len), refBytes.subarray(len), inPlace), hex(pt), name);
  });
  // Other AAD lengths (not ESP's, but the primitive takes any): every length 0..40.
  for (let aadLen = 0; aadLen <= 40; aadLen++) {
    const key = rand(32),
      nonce = rand(12),
      aad = rand(aadLen),
      pt = rand(aadLen * 7);
    assert.equal(seal(key, nonce, aad, pt), hex(nodeSeal(key, nonce, aad, pt)), `aad ${aadLen}`);
  }
});

test("a one-bit change in any tag byte, the ciphertext, the AAD or the nonce is rejected without output", () => {
  const key = rand(32);
  for (const len of [0, 1, 15, 16, 63, 64, 191, 192, 193, 255, 256, 257, 1400]) {
    const nonce = rand(12),
      aad = rand(len % 2 === 0 ? 8 : 12),
      pt = rand(len);
    const ref = nodeSeal(key, nonce, aad, pt);
    const ct = ref.subarray(0, len),
      tag = ref.subarray(len);
    for (let i = 0; i < 16; i++) {
      for (const inPlace of [false, true]) {
        const bad = tag.slice();
        bad[i]! ^= 1 << ((i * 3) % 8);
        assert.equal(open(key, nonce, aad, ct, bad, inPlace), null, `len ${len} tag byte ${i}`);
      }
    }
    for (const at of len > 0 ? [0, len >> 1, len - 1] : []) {
      const badCt = ct.slice();
      badCt[at]! ^= 0x01;
      assert.equal(open(key, nonce, aad, badCt, tag), null, `len ${len} ciphertext byte ${at}`);
    }
    const badAad = aad.slice();
    badAad[aad.length - 1]! ^= 0x80;
    assert.equal(open(key, nonce, badAad, ct, tag), null, `len ${len} aad`);
    const badNonce = nonce.slice();
    badNonce[0]! ^= 1;
    assert.equal(open(key, badNonce, aad, ct, tag, true), null, `len ${len} nonce`);
    assert.equal(open(key, nonce, aad.subarray(0, 7), ct, tag), null, `len ${len} shorter aad`);
    if (len > 0) assert.equal(open(key, nonce, aad, ct.subarray(0, len - 1), tag), null, `len ${len} truncated`);
    assert.equal(open(key, nonce, aad, ct, tag), hex(pt), `len ${len} control`);
  }
});

test("unaligned nonce, AAD, data and tag pointers (ESP ciphertext sits at odd offsets after outer headers)", () => {
  const key = rand(32),
    nonce = rand(12),
    aad = rand(12);
  set(buf.key, key);
  x.chachaPolyInit!(buf.key, buf.ctx);
  const base = p.alloc(4 * MAX);
  const at = (off: number, b: Uint8Array): number => {
    set(base + off, b);
    return base + off;
  };
  for (const len of [1, 37, 64, 200, 1401, 2100]) {
    const pt = rand(len);
    const ref = hex(nodeSeal(key, nonce, aad, pt));
    const np = at(3, nonce),
      ap = at(21, aad),
      sp = at(45, pt),
      tp = at(61 + len, new Uint8Array(16));
    x.chachaPolySeal!(buf.ctx, np, ap, aad.length, sp, sp, len, tp);
    assert.equal(hex(p.get(sp, len)) + hex(p.get(tp, 16)), ref, `seal len ${len}`);
    const dp = base + 2 * MAX + 7;
    assert.equal(x.chachaPolyOpen!(buf.ctx, np, ap, aad.length, sp, dp, len, tp), 1, `open len ${len}`);
    assert.equal(hex(p.get(dp, len)), hex(pt), `open len ${len}`);
  }
});

test("long packets: open's keystream scratch boundary (16 KiB after the first 192 bytes) and the second-pass path beyond it", () => {
  const size = 40000;
  const src = p.alloc(size + 32),
    dst = p.alloc(size + 32);
  const key = rand(32);
  set(buf.key, key);
  x.chachaPolyInit!(buf.key, buf.ctx);
  for (const len of [16383, 16384 + 192 - 1, 16384 + 192, 16384 + 192 + 1, 16384 + 192 + 256, 20000, size]) {
    const nonce = rand(12),
      aad = rand(12),
      pt = rand(len);
    const ref = nodeSeal(key, nonce, aad, pt);
    set(buf.nonce, nonce);
    set(buf.aad, aad);
    set(src, pt);
    x.chachaPolySeal!(buf.ctx, buf.nonce, buf.aad, 12, src, dst, len, buf.tag);
    assert.equal(hex(p.get(dst, len)) + hex(p.get(buf.tag, 16)), hex(ref), `seal len ${len}`);
    set(buf.tag, ref.subarray(len));
    fill(src, len, SENTINEL);
    assert.equal(x.chachaPolyOpen!(buf.ctx, buf.nonce, buf.aad, 12, dst, src, len, buf.tag), 1, `open len ${len}`);
    assert.equal(hex(p.get(src, len)), hex(pt), `open len ${len}`);
    const bad = ref.slice(len);
    bad[3]! ^= 4;
    set(buf.tag, bad);
    fill(src, len, SENTINEL);
    assert.equal(x.chachaPolyOpen!(buf.ctx, buf.nonce, buf.aad, 12, dst, src, len, buf.tag), 0, `bad tag len ${len}`);
    assert.ok(
      p.get(src, len).every((v) => v === SENTINEL),
      `rejected open wrote into dst, len ${len}`,
    );
  }
});

test("negative lengths neither trap nor write: open returns 0, seal leaves dst and tag alone", () => {
  set(buf.key, rand(32));
  x.chachaPolyInit!(buf.key, buf.ctx);
  fill(buf.dst, 64, SENTINEL);
  fill(buf.tag, 16, SENTINEL);
  for (const [aadLen, len] of [
    [-1, 16],
    [8, -1],
    [8, -16],
    [-2147483648, 0],
    [0, -2147483648],
  ]) {
    assert.equal(
      x.chachaPolyOpen!(buf.ctx, buf.nonce, buf.aad, aadLen!, buf.src, buf.dst, len!, buf.tag),
      0,
      `open ${aadLen}/${len}`,
    );
    x.chachaPolySeal!(buf.ctx, buf.nonce, buf.aad, aadLen!, buf.src, buf.dst, len!, buf.tag);
    assert.equal(hex(p.get(buf.dst, 64)), "a5".repeat(64), `seal ${aadLen}/${len}`);
    assert.equal(hex(p.get(buf.tag, 16)), "a5".repeat(16), `seal ${aadLen}/${len}`);
  }
  x.chacha20Xor!(buf.key, buf.nonce, 0, buf.src, buf.dst, -5);
  assert.equal(hex(p.get(buf.dst, 64)), "a5".repeat(64), "chacha20Xor negative len");
  x.poly1305Mac!(buf.key, buf.src, -3, buf.tag);
  assert.equal(
    hex(p.get(buf.tag, 16)),
    bigPoly1305(p.get(buf.key, 32), new Uint8Array()),
    "poly1305Mac negative len = empty message",
  );
});
