// Bitsliced AES (assembly/crypto/aes.ts) against outside references: FIPS-197 Appendix C,
// RFC 3602, Wycheproof aes_cbc_pkcs5 (valid cases), and node:crypto as an independent
// implementation for ECB/CBC/CTR over 1..40 blocks, every key size, in place and not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadPrimitives, hex, unhex, type Primitives } from "../helpers/primitives.ts";

const P: Primitives = loadPrimitives();
const { x } = P;
const KEY_SIZES = [16, 24, 32] as const;

/** Deterministic pseudo-random bytes (SHA-256 in counter mode over a label), so failures reproduce. */
function bytes(label: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0, c = 0; i < n; c++) {
    const h = createHash("sha256").update(`${label}/${c}`).digest();
    out.set(h.subarray(0, Math.min(32, n - i)), i);
    i += 32;
  }
  return out;
}

/** Expands a key into fresh wasm memory; returns [ks, rounds]. */
function expand(key: Uint8Array): [number, number] {
  const ks = P.alloc(x.aesKeyBytes!(key.length, 1));
  const rounds = x.aesExpandKey!(P.put(key), key.length, ks, 1);
  assert.equal(rounds, key.length / 4 + 6);
  return [ks, rounds];
}

/** node:crypto reference, no padding. */
function nodeCipher(
  mode: "ecb" | "cbc" | "ctr",
  dir: "enc" | "dec",
  key: Uint8Array,
  iv: Uint8Array | null,
  data: Uint8Array,
): Uint8Array {
  const name = `aes-${key.length * 8}-${mode}`;
  const c = dir === "enc" ? createCipheriv(name, key, iv) : createDecipheriv(name, key, iv);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

/** Lays out `data` in wasm memory followed by guard bytes; returns [ptr, check-guard]. */
function withGuard(data: Uint8Array, room = data.length): [number, () => void] {
  const p = P.alloc(room + 32);
  const guard = bytes(`guard${p}`, 32);
  new Uint8Array(x.memory.buffer).set(data, p);
  new Uint8Array(x.memory.buffer).set(guard, p + room);
  return [p, () => assert.equal(hex(P.get(p + room, 32)), hex(guard), "bytes past the end were written")];
}

/** Runs fn with input either out of place (fresh dst) or in place; returns the output bytes. */
function run(input: Uint8Array, inPlace: boolean, fn: (src: number, dst: number) => void): Uint8Array {
  const [src, checkSrc] = withGuard(input);
  const [dst, checkDst] = inPlace ? [src, checkSrc] : withGuard(new Uint8Array(input.length));
  fn(src, dst);
  checkDst();
  if (!inPlace) {
    checkSrc();
    assert.equal(hex(P.get(src, input.length)), hex(input), "source was modified");
  }
  return P.get(dst, input.length);
}

// FIPS-197 Appendix C.1 (AES-128), C.2 (AES-192), C.3 (AES-256): key 00 01 02 ..., plaintext 00112233...ff.
const FIPS197 = [
  { key: "000102030405060708090a0b0c0d0e0f", ct: "69c4e0d86a7b0430d8cdb78070b4c55a" },
  { key: "000102030405060708090a0b0c0d0e0f1011121314151617", ct: "dda97ca4864cdfe06eaf70a0ec0d7191" },
  { key: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", ct: "8ea2b7ca516745bfeafc49904b496089" },
];
const FIPS197_PT = "00112233445566778899aabbccddeeff";

test("FIPS-197 Appendix C.1-C.3: AES-128/192/256 encrypt and decrypt one block", () => {
  for (const v of FIPS197) {
    const [ks, rounds] = expand(unhex(v.key));
    const ct = run(unhex(FIPS197_PT), false, (s, d) => x.aesEncryptBlocks!(ks, rounds, s, d, 1));
    assert.equal(hex(ct), v.ct);
    const pt = run(unhex(v.ct), true, (s, d) => x.aesDecryptBlocks!(ks, rounds, s, d, 1));
    assert.equal(hex(pt), FIPS197_PT);
  }
});

test("FIPS-197 Appendix C: the known block gives the same result in every one of the 8 lanes", () => {
  for (const v of FIPS197) {
    const [ks, rounds] = expand(unhex(v.key));
    for (let lane = 0; lane < 8; lane++) {
      const blocks = bytes(`lanes${lane}`, 128);
      blocks.set(unhex(FIPS197_PT), lane * 16);
      const out = run(blocks, false, (s, d) => x.aesEncrypt8!(ks, rounds, s, d));
      assert.equal(hex(out.subarray(lane * 16, lane * 16 + 16)), v.ct, `lane ${lane}`);
    }
  }
});

test("aesKeyBytes/aesExpandKey reject bad key lengths and write nothing", () => {
  for (const bad of [0, 8, 15, 17, 20, 31, 33, 64]) {
    assert.equal(x.aesKeyBytes!(bad, 0), 0);
    const ks = P.alloc(2048);
    const before = bytes("ks", 2048);
    new Uint8Array(x.memory.buffer).set(before, ks);
    assert.equal(x.aesExpandKey!(P.put(new Uint8Array(32)), bad, ks, 1), 0);
    assert.equal(hex(P.get(ks, 2048)), hex(before));
  }
  for (const k of KEY_SIZES) {
    assert.ok(x.aesKeyBytes!(k, 0) > 0 && x.aesKeyBytes!(k, 1) >= x.aesKeyBytes!(k, 0));
  }
});

interface Rfc3602Case {
  id: string;
  kind: string;
  key_hex: string;
  iv_hex: string;
  plaintext_hex: string;
  ciphertext_hex: string;
}
const rfc3602 = (
  JSON.parse(readFileSync(new URL("../vectors/rfc/rfc3602_aes_cbc.json", import.meta.url), "utf8")) as Rfc3602Case[]
).filter((c) => c.kind === "aes-cbc-raw");

test("RFC 3602 section 4 cases 1-4: raw AES-128-CBC encrypt and decrypt, in place and not", () => {
  assert.equal(rfc3602.length, 4);
  for (const c of rfc3602) {
    const [ks, rounds] = expand(unhex(c.key_hex));
    const iv = P.put(unhex(c.iv_hex));
    const pt = unhex(c.plaintext_hex);
    for (const inPlace of [false, true]) {
      const ct = run(pt, inPlace, (s, d) => x.aesCbcEncrypt!(ks, rounds, iv, s, d, pt.length));
      assert.equal(hex(ct), c.ciphertext_hex, `${c.id} encrypt`);
      const back = run(ct, inPlace, (s, d) => x.aesCbcDecrypt!(ks, rounds, iv, s, d, ct.length));
      assert.equal(hex(back), c.plaintext_hex, `${c.id} decrypt`);
    }
    assert.equal(hex(P.get(iv, 16)), c.iv_hex, "iv modified");
  }
});

interface WycheproofCbc {
  tcId: number;
  key: string;
  iv: string;
  msg: string;
  ct: string;
  result: string;
}
const wycheproof = (
  JSON.parse(readFileSync(new URL("../vectors/wycheproof/aes_cbc_pkcs5_test.json", import.meta.url), "utf8")) as {
    testGroups: { tests: WycheproofCbc[] }[];
  }
).testGroups.flatMap((g) => g.tests);

test("Wycheproof aes_cbc_pkcs5 valid cases through the raw CBC core (padding done here)", () => {
  const valid = wycheproof.filter((t) => t.result === "valid");
  assert.equal(valid.length, 72);
  for (const t of valid) {
    const [ks, rounds] = expand(unhex(t.key));
    const iv = P.put(unhex(t.iv));
    const msg = unhex(t.msg);
    const padLen = 16 - (msg.length % 16);
    const padded = new Uint8Array(msg.length + padLen).fill(padLen);
    padded.set(msg);
    const ct = run(padded, false, (s, d) => x.aesCbcEncrypt!(ks, rounds, iv, s, d, padded.length));
    assert.equal(hex(ct), t.ct, `tcId ${t.tcId} encrypt`);
    const dec = run(unhex(t.ct), true, (s, d) => x.aesCbcDecrypt!(ks, rounds, iv, s, d, ct.length));
    const pad = dec[dec.length - 1];
    assert.ok(
      pad! >= 1 && pad! <= 16 && dec.subarray(dec.length - pad!).every((b) => b === pad),
      `tcId ${t.tcId} padding`,
    );
    assert.equal(hex(dec.subarray(0, dec.length - pad!)), t.msg, `tcId ${t.tcId} decrypt`);
  }
});

test("ECB and CBC against node:crypto: 1..40 blocks, AES-128/192/256, in place and not", () => {
  for (const k of KEY_SIZES) {
    const key = bytes(`key${k}`, k);
    const [ks, rounds] = expand(key);
    for (let n = 1; n <= 40; n++) {
      const data = bytes(`data${k}/${n}`, n * 16);
      const ivBytes = bytes(`iv${k}/${n}`, 16);
      const iv = P.put(ivBytes);
      for (const inPlace of [false, true]) {
        const what = `aes-${k * 8} n=${n} inPlace=${inPlace}`;
        assert.equal(
          hex(run(data, inPlace, (s, d) => x.aesEncryptBlocks!(ks, rounds, s, d, n))),
          hex(nodeCipher("ecb", "enc", key, null, data)),
          `ecb enc ${what}`,
        );
        assert.equal(
          hex(run(data, inPlace, (s, d) => x.aesDecryptBlocks!(ks, rounds, s, d, n))),
          hex(nodeCipher("ecb", "dec", key, null, data)),
          `ecb dec ${what}`,
        );
        assert.equal(
          hex(run(data, inPlace, (s, d) => x.aesCbcEncrypt!(ks, rounds, iv, s, d, n * 16))),
          hex(nodeCipher("cbc", "enc", key, ivBytes, data)),
          `cbc enc ${what}`,
        );
        assert.equal(
          hex(run(data, inPlace, (s, d) => x.aesCbcDecrypt!(ks, rounds, iv, s, d, n * 16))),
          hex(nodeCipher("cbc", "dec", key, ivBytes, data)),
          `cbc dec ${what}`,
        );
        assert.equal(hex(P.get(iv, 16)), hex(ivBytes), "iv modified");
      }
    }
  }
});

/** CTR reference with GCM/RFC 3686 inc32 (only the last 32 bits count, wrapping): node ECB on explicit counter blocks. */
function ctrInc32(key: Uint8Array, ctr: Uint8Array, data: Uint8Array): Uint8Array {
  const nBlocks = Math.ceil(data.length / 16);
  const counters = new Uint8Array(nBlocks * 16);
  const low = new DataView(ctr.buffer, ctr.byteOffset).getUint32(12);
  for (let i = 0; i < nBlocks; i++) {
    counters.set(ctr.subarray(0, 12), i * 16);
    new DataView(counters.buffer).setUint32(i * 16 + 12, (low + i) >>> 0);
  }
  const stream = nodeCipher("ecb", "enc", key, null, counters);
  return data.map((b, i) => b ^ stream[i]!);
}

test("CTR against node:crypto aes-*-ctr: 1..40 blocks and partial tails, in place and not", () => {
  for (const k of KEY_SIZES) {
    const key = bytes(`ctrkey${k}`, k);
    const [ks, rounds] = expand(key);
    const lengths = [
      ...Array.from({ length: 40 }, (_, i) => (i + 1) * 16),
      1,
      5,
      15,
      17,
      31,
      33,
      100,
      127,
      129,
      255,
      257,
      639,
    ];
    for (const len of lengths) {
      const data = bytes(`ctrdata${k}/${len}`, len);
      const ctrBytes = bytes(`ctr${k}/${len}`, 16);
      ctrBytes[12] = 0x00; // keep the 32-bit counter far from wrapping, where node's 128-bit counter agrees with inc32
      const ctr = P.put(ctrBytes);
      for (const inPlace of [false, true]) {
        const got = run(data, inPlace, (s, d) => x.aesCtrXor!(ks, rounds, ctr, s, d, len));
        assert.equal(
          hex(got),
          hex(nodeCipher("ctr", "enc", key, ctrBytes, data)),
          `aes-${k * 8} len=${len} inPlace=${inPlace}`,
        );
        assert.equal(hex(P.get(ctr, 16)), hex(ctrBytes), "counter block modified");
      }
    }
  }
});

test("CTR counter wraps mod 2^32 across 0xffffffff (inc32), leaving the other 96 bits alone", () => {
  for (const k of KEY_SIZES) {
    const key = bytes(`wrapkey${k}`, k);
    const [ks, rounds] = expand(key);
    for (const start of [0xffffffff, 0xfffffffe, 0xfffffff9, 0xfffffff0]) {
      const ctrBytes = bytes(`wrapctr${k}`, 16);
      ctrBytes.fill(0xff, 8, 12); // a carry out of the 32-bit counter would show up here
      new DataView(ctrBytes.buffer).setUint32(12, start);
      const ctr = P.put(ctrBytes);
      for (const len of [16 * 20, 16 * 20 + 7]) {
        const data = bytes(`wrapdata${k}/${start}/${len}`, len);
        for (const inPlace of [false, true]) {
          const got = run(data, inPlace, (s, d) => x.aesCtrXor!(ks, rounds, ctr, s, d, len));
          assert.equal(
            hex(got),
            hex(ctrInc32(key, ctrBytes, data)),
            `aes-${k * 8} start=${start.toString(16)} len=${len}`,
          );
        }
      }
    }
  }
});

test("aesEncrypt8 encrypts 8 independent blocks like node:crypto ECB, in place and not", () => {
  for (const k of KEY_SIZES) {
    for (let trial = 0; trial < 8; trial++) {
      const key = bytes(`e8key${k}/${trial}`, k);
      const [ks, rounds] = expand(key);
      const data = bytes(`e8data${k}/${trial}`, 128);
      for (const inPlace of [false, true]) {
        assert.equal(
          hex(run(data, inPlace, (s, d) => x.aesEncrypt8!(ks, rounds, s, d))),
          hex(nodeCipher("ecb", "enc", key, null, data)),
        );
      }
    }
  }
});

test("tails never read past the input: data placed against the end of wasm memory", () => {
  const key = bytes("edgekey", 16);
  const [ks, rounds] = expand(key);
  const iv = P.put(bytes("edgeiv", 16));
  for (const len of [16, 48, 112, 144, 5, 37, 123]) {
    const data = bytes(`edge${len}`, len);
    const ctr = P.put(bytes("edgectr", 16));
    const dst = P.alloc(len);
    const end = x.memory.buffer.byteLength;
    const src = end - len; // any read past len would trap
    const place = (): void => new Uint8Array(x.memory.buffer).set(data, src);
    place();
    x.aesCtrXor!(ks, rounds, ctr, src, dst, len);
    assert.equal(hex(P.get(dst, len)), hex(nodeCipher("ctr", "enc", key, P.get(ctr, 16), data)));
    if (len % 16 === 0) {
      x.aesEncryptBlocks!(ks, rounds, src, src, len / 16);
      assert.equal(hex(P.get(src, len)), hex(nodeCipher("ecb", "enc", key, null, data)));
      place();
      x.aesDecryptBlocks!(ks, rounds, src, src, len / 16);
      assert.equal(hex(P.get(src, len)), hex(nodeCipher("ecb", "dec", key, null, data)));
      place();
      x.aesCbcDecrypt!(ks, rounds, iv, src, src, len);
      assert.equal(hex(P.get(src, len)), hex(nodeCipher("cbc", "dec", key, P.get(iv, 16), data)));
      place();
      x.aesCbcEncrypt!(ks, rounds, iv, src, src, len);
      assert.equal(hex(P.get(src, len)), hex(nodeCipher("cbc", "enc", key, P.get(iv, 16), data)));
    }
    assert.equal(x.memory.buffer.byteLength, end, "memory grew during the check");
  }
});

// Each key keeps only its 16-byte round keys; their bitsliced form lives in one cache keyed by the
// key's pointer (aes.ts). These tests make every call miss it, and check what forgetting leaves.

test("calls that alternate between keys of every size match node:crypto (each call re-bitslices)", () => {
  const keys = KEY_SIZES.flatMap((k) => [bytes(`alt${k}a`, k), bytes(`alt${k}b`, k)]);
  const expanded = keys.map(expand);
  const iv = bytes("altiv", 16);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const [ks, rounds] = expanded[i]!;
      const data = bytes(`altdata${round}/${i}`, 16 * (1 + ((i + round) % 11)));
      const ivp = P.put(iv);
      assert.equal(
        hex(run(data, false, (s, d) => x.aesCbcDecrypt!(ks, rounds, ivp, s, d, data.length))),
        hex(nodeCipher("cbc", "dec", key, iv, data)),
        `CBC decrypt, key ${i}, round ${round}`,
      );
      // The next call is on another key, so ECB re-bitslices too.
      const other = (i + 1) % keys.length;
      const [oks, orounds] = expanded[other]!;
      assert.equal(
        hex(run(data, true, (s, d) => x.aesEncryptBlocks!(oks, orounds, s, d, data.length / 16))),
        hex(nodeCipher("ecb", "enc", keys[other]!, null, data)),
        `ECB encrypt, key ${other}, round ${round}`,
      );
    }
  }
});

test("a new key expanded at a cached key's address replaces it; the old key still works elsewhere", () => {
  const a = bytes("readdr-a", 16);
  const b = bytes("readdr-b", 32);
  const data = bytes("readdr-data", 64);
  const ksA = P.alloc(x.aesKeyBytes!(32, 1)); // room for either key
  x.aesExpandKey!(P.put(a), 16, ksA, 1);
  run(data, false, (s, d) => x.aesEncryptBlocks!(ksA, 10, s, d, 4)); // a's planes are cached now
  const ksOther = P.alloc(x.aesKeyBytes!(16, 1));
  x.aesExpandKey!(P.put(a), 16, ksOther, 1);
  run(data, false, (s, d) => x.aesEncryptBlocks!(ksA, 10, s, d, 4)); // and again, keyed by ksA
  // Same address, new key (and a longer one): its planes must replace the cached ones of `a`.
  const roundsB = x.aesExpandKey!(P.put(b), 32, ksA, 1);
  assert.equal(roundsB, 14);
  assert.equal(
    hex(run(data, false, (s, d) => x.aesEncryptBlocks!(ksA, roundsB, s, d, 4))),
    hex(nodeCipher("ecb", "enc", b, null, data)),
  );
  assert.equal(
    hex(run(data, false, (s, d) => x.aesEncryptBlocks!(ksOther, 10, s, d, 4))),
    hex(nodeCipher("ecb", "enc", a, null, data)),
  );
});

/** Round key 0 of an AES-128 key (the key itself) in the bitsliced form the core reads (aes.ts). */
function planesOfKey(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(128);
  for (let j = 0; j < 8; j++) for (let i = 0; i < 16; i++) out[j * 16 + i] = (key[i]! >> j) & 1 ? 0xff : 0;
  return out;
}

test("aesForget wipes the cached bitsliced key: no copy of its planes is left in wasm memory", () => {
  const key = bytes("forget", 16);
  const needle = Buffer.from(planesOfKey(key));
  const [ks, rounds] = expand(key);
  const data = bytes("forget-data", 32);
  const mem = () => Buffer.from(x.memory.buffer);
  run(data, false, (s, d) => x.aesEncryptBlocks!(ks, rounds, s, d, 2));
  assert.notEqual(mem().indexOf(needle), -1, "the cache holds the key's planes while it is in use");
  x.aesForget!(ks - 16); // another pointer: the cache is not this one's, nothing happens
  assert.notEqual(mem().indexOf(needle), -1);
  x.aesForget!(ks);
  assert.equal(mem().indexOf(needle), -1, "planes left after aesForget");
  // The round keys themselves are still at ks: the next call bitslices them again.
  assert.equal(
    hex(run(data, false, (s, d) => x.aesEncryptBlocks!(ks, rounds, s, d, 2))),
    hex(nodeCipher("ecb", "enc", key, null, data)),
  );
  x.aesForget!(ks);
});
