// AES-CCM (assembly/crypto/ccm.ts) against outside references: the worked examples of NIST
// SP 800-38C appendix C (7-, 8- and 12-byte nonces), RFC 3610 packet vector #1 (13-byte nonce),
// and node:crypto's aes-*-ccm (OpenSSL) with RFC 4309's 11-byte nonce for every key size, ICV
// length and a spread of AAD and message lengths. Then what a failed tag must leave behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { loadPrimitives, hex, unhex } from "../helpers/primitives.ts";

const p = loadPrimitives();
const MAX = 2048;
const ctx = p.alloc(p.x.ccmContextBytes!(32));
const nonceP = p.alloc(16),
  aadP = p.alloc(MAX),
  src = p.alloc(MAX),
  dst = p.alloc(MAX),
  tagP = p.alloc(16),
  keyP = p.alloc(32);
const set = (ptr: number, b: Uint8Array): void => new Uint8Array(p.x.memory.buffer, ptr, b.length).set(b);

/** ciphertext ‖ tag from the wasm, or undefined when ccmSeal refused the arguments. */
function seal(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  msg: Uint8Array,
  tagLen: number,
): string | undefined {
  set(keyP, key);
  assert.ok(p.x.ccmInit!(keyP, key.length, ctx) > 0);
  set(nonceP, nonce);
  set(aadP, aad);
  set(src, msg);
  if (p.x.ccmSeal!(ctx, nonceP, nonce.length, aadP, aad.length, src, dst, msg.length, tagP, tagLen) !== 1)
    return undefined;
  return hex(p.get(dst, msg.length)) + hex(p.get(tagP, tagLen));
}

function open(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  ct: Uint8Array,
  tag: Uint8Array,
  out: number,
): number {
  set(keyP, key);
  p.x.ccmInit!(keyP, key.length, ctx);
  set(nonceP, nonce);
  set(aadP, aad);
  set(src, ct);
  set(tagP, tag);
  return p.x.ccmOpen!(ctx, nonceP, nonce.length, aadP, aad.length, src, out, ct.length, tagP, tag.length);
}

function nodeCcm(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, msg: Uint8Array, tagLen: number): string {
  const c = createCipheriv(`aes-${key.length * 8}-ccm` as "aes-128-ccm", key, nonce, { authTagLength: tagLen });
  c.setAAD(aad, { plaintextLength: msg.length });
  return Buffer.concat([c.update(msg), c.final(), c.getAuthTag()]).toString("hex");
}

const K = unhex("404142434445464748494a4b4c4d4e4f");
const published = [
  {
    src: "SP 800-38C C.1",
    key: K,
    nonce: "10111213141516",
    aad: "0001020304050607",
    msg: "20212223",
    tag: 4,
    out: "7162015b4dac255d",
  },
  {
    src: "SP 800-38C C.2",
    key: K,
    nonce: "1011121314151617",
    aad: "000102030405060708090a0b0c0d0e0f",
    msg: "202122232425262728292a2b2c2d2e2f",
    tag: 6,
    out: "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd",
  },
  {
    src: "SP 800-38C C.3",
    key: K,
    nonce: "101112131415161718191a1b",
    aad: "000102030405060708090a0b0c0d0e0f10111213",
    msg: "202122232425262728292a2b2c2d2e2f3031323334353637",
    tag: 8,
    out: "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951",
  },
  {
    src: "RFC 3610 packet vector #1",
    key: unhex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"),
    nonce: "00000003020100a0a1a2a3a4a5",
    aad: "0001020304050607",
    msg: "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
    tag: 8,
    out: "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0",
  },
];

for (const v of published) {
  test(`ccm: ${v.src}`, () => {
    assert.equal(seal(v.key, unhex(v.nonce), unhex(v.aad), unhex(v.msg), v.tag), v.out);
    const ct = unhex(v.out.slice(0, v.msg.length)),
      tag = unhex(v.out.slice(v.msg.length));
    assert.equal(open(v.key, unhex(v.nonce), unhex(v.aad), ct, tag, dst), 1);
    assert.equal(hex(p.get(dst, ct.length)), v.msg);
  });
}

test("ccm: RFC 4309 nonces (11 bytes) agree with node:crypto for every key size, ICV and many lengths", () => {
  let n = 0;
  for (const keyLen of [16, 24, 32]) {
    for (const tagLen of [8, 12, 16]) {
      for (const aadLen of [0, 8, 12, 14, 15, 32, 40]) {
        // no empty message: ESP never has one, and OpenSSL refuses to make one
        for (const len of [1, 15, 16, 17, 100, 127, 128, 129, 1500]) {
          const key = randomBytes(keyLen),
            nonce = randomBytes(11),
            aad = randomBytes(aadLen),
            msg = randomBytes(len);
          const want = nodeCcm(key, nonce, aad, msg, tagLen);
          assert.equal(
            seal(key, nonce, aad, msg, tagLen),
            want,
            `key ${keyLen} tag ${tagLen} aad ${aadLen} len ${len}`,
          );
          const ct = unhex(want.slice(0, 2 * len)),
            tag = unhex(want.slice(2 * len));
          assert.equal(open(key, nonce, aad, ct, tag, dst), 1);
          assert.equal(hex(p.get(dst, len)), hex(msg));
          n++;
        }
      }
    }
  }
  assert.equal(n, 567);
});

test("ccm: a wrong tag, AAD or ciphertext is refused and leaves no plaintext (in place: the ciphertext comes back)", () => {
  const key = randomBytes(16),
    nonce = randomBytes(11),
    aad = randomBytes(12),
    msg = randomBytes(64);
  const good = unhex(nodeCcm(key, nonce, aad, msg, 16));
  const ct = good.slice(0, 64),
    tag = good.slice(64);
  const flip = (b: Uint8Array, i: number): Uint8Array => {
    const c = b.slice();
    c[i]! ^= 1;
    return c;
  };
  for (const [c, t, a] of [
    [flip(ct, 10), tag, aad],
    [ct, flip(tag, 15), aad],
    [ct, tag, flip(aad, 0)],
  ] as const) {
    new Uint8Array(p.x.memory.buffer, dst, 64).fill(0xa5);
    assert.equal(open(key, nonce, a, c, t, dst), 0);
    assert.deepEqual(p.get(dst, 64), new Uint8Array(64), "separate dst is zeroed");
    assert.equal(open(key, nonce, a, c, t, src), 0);
    assert.equal(hex(p.get(src, 64)), hex(c), "in place: ciphertext restored");
  }
  // invalid lengths: odd or out-of-range tags, nonce sizes outside 7..13, a message too long for L = 2
  for (const [nonceLen, tagLen, len] of [
    [11, 7, 16],
    [11, 18, 16],
    [11, 2, 16],
    [6, 16, 16],
    [14, 16, 16],
    [13, 16, 65536],
  ]) {
    assert.equal(p.x.ccmSeal!(ctx, nonceP, nonceLen!, aadP, 0, src, dst, len!, tagP, tagLen!), 0); // refused before touching memory
  }
});
