// AES-GCM and GHASH (assembly/crypto/gcm.ts, ghash.ts) against outside references:
// Wycheproof aes_gcm_test.json, draft-mcgrew-gcm-test-01 ESP packets, and node:crypto as an
// independent implementation (GHASH is recovered from node's tags as tag ^ E_K(J0)).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, randomBytes, type CipherGCMTypes } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadPrimitives, hex, unhex, type Primitives } from "../helpers/primitives.ts";

interface WycheproofGcmTest {
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
interface WycheproofGcmFile {
  testGroups: { ivSize: number; keySize: number; tagSize: number; tests: WycheproofGcmTest[] }[];
}
interface McgrewEspCase {
  id: string;
  key_hex: string;
  nonce_hex: string;
  aad_hex: string;
  plaintext_hex: string;
  ciphertext_hex: string;
  icv_hex: string;
}

const vectorsDir = new URL("../vectors/", import.meta.url);
const wycheproof = JSON.parse(
  readFileSync(new URL("wycheproof/aes_gcm_test.json", vectorsDir), "utf8"),
) as WycheproofGcmFile;
const mcgrew = JSON.parse(
  readFileSync(new URL("rfc/draft_mcgrew_gcm_test_01_esp.json", vectorsDir), "utf8"),
) as McgrewEspCase[];

const MAX = 4096;
const SENTINEL = 0xa5;

/** Fixed wasm buffers reused by every call (the primitives heap is a bump allocator). */
class Gcm {
  readonly p: Primitives;
  readonly ctx: number;
  readonly nonce: number;
  readonly aad: number;
  readonly src: number;
  readonly dst: number;
  readonly tag: number;
  constructor(p: Primitives) {
    this.p = p;
    this.ctx = p.alloc(p.x.gcmContextBytes!(32));
    this.nonce = p.alloc(16);
    this.aad = p.alloc(MAX);
    this.src = p.alloc(MAX);
    this.dst = p.alloc(MAX);
    this.tag = p.alloc(16);
    assert.equal(this.ctx % 16, 0);
  }
  private set(ptr: number, b: Uint8Array): void {
    new Uint8Array(this.p.x.memory.buffer, ptr, b.length).set(b);
  }
  private fill(ptr: number, n: number, v: number): void {
    new Uint8Array(this.p.x.memory.buffer, ptr, n).fill(v);
  }
  init(key: Uint8Array): number {
    this.set(this.aad, key);
    return this.p.x.gcmInit!(this.aad, key.length, this.ctx);
  }
  private inputs(nonce: Uint8Array, aad: Uint8Array, data: Uint8Array): void {
    this.set(this.nonce, nonce);
    this.set(this.aad, aad);
    this.set(this.src, data);
  }
  /** Returns ct || tag; inPlace encrypts the src buffer itself. */
  seal(nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array, tagLen: number, inPlace = false): Uint8Array {
    this.inputs(nonce, aad, pt);
    const out = inPlace ? this.src : this.dst;
    if (!inPlace) this.fill(this.dst, pt.length + 16, SENTINEL);
    this.p.x.gcmSeal!(this.ctx, this.nonce, this.aad, aad.length, this.src, out, pt.length, this.tag, tagLen);
    if (!inPlace) assert.equal(hex(this.p.get(this.dst + pt.length, 16)), "a5".repeat(16), "seal wrote past len");
    return new Uint8Array([...this.p.get(out, pt.length), ...this.p.get(this.tag, tagLen)]);
  }
  /** Returns the plaintext, or null when rejected (then checks that the output buffer is untouched). */
  open(nonce: Uint8Array, aad: Uint8Array, ct: Uint8Array, tag: Uint8Array, inPlace = false): Uint8Array | null {
    this.inputs(nonce, aad, ct);
    this.set(this.tag, tag);
    const out = inPlace ? this.src : this.dst;
    if (!inPlace) this.fill(this.dst, ct.length + 16, SENTINEL);
    const ok = this.p.x.gcmOpen!(
      this.ctx,
      this.nonce,
      this.aad,
      aad.length,
      this.src,
      out,
      ct.length,
      this.tag,
      tag.length,
    );
    assert.ok(ok === 0 || ok === 1);
    if (ok === 1) return this.p.get(out, ct.length);
    const after = this.p.get(out, ct.length + (inPlace ? 0 : 16));
    const before = inPlace ? ct : new Uint8Array(ct.length + 16).fill(SENTINEL);
    assert.equal(hex(after), hex(before), "rejected open wrote into dst");
    return null;
  }
}

const gcm = new Gcm(loadPrimitives());

/** Random bytes as a plain Uint8Array (Buffer#slice would alias instead of copying). */
const rand = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

function nodeSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-gcm` as CipherGCMTypes, key, nonce);
  c.setAAD(aad);
  return new Uint8Array(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]));
}

function aesEcb(key: Uint8Array, block: Uint8Array): Uint8Array {
  const e = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  e.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([e.update(block), e.final()]));
}

test("Wycheproof AES-GCM, every 96-bit-IV case: valid ones seal and open, invalid ones are rejected", () => {
  let valid = 0,
    invalid = 0;
  for (const g of wycheproof.testGroups) {
    if (g.ivSize !== 96) continue;
    for (const t of g.tests) {
      const name = `tcId ${t.tcId} (${t.comment})`;
      const key = unhex(t.key),
        iv = unhex(t.iv),
        aad = unhex(t.aad),
        msg = unhex(t.msg),
        ct = unhex(t.ct),
        tag = unhex(t.tag);
      assert.equal(gcm.init(key), key.length / 4 + 6, name);
      assert.equal(t.result === "acceptable", false, `${name}: no acceptable cases expected`);
      if (t.result === "valid") {
        valid++;
        assert.equal(hex(gcm.seal(iv, aad, msg, 16)), t.ct + t.tag, name);
        assert.equal(hex(gcm.open(iv, aad, ct, tag) ?? new Uint8Array()), t.msg, name);
        // ESP truncated ICVs (RFC 4106: 8 and 12 bytes) are the leading bytes of the full tag.
        for (const n of [8, 12]) {
          assert.equal(hex(gcm.seal(iv, aad, msg, n)), t.ct + t.tag.slice(0, 2 * n), `${name} tag ${n}`);
          assert.equal(hex(gcm.open(iv, aad, ct, tag.subarray(0, n)) ?? new Uint8Array()), t.msg, `${name} tag ${n}`);
        }
      } else {
        invalid++;
        assert.equal(gcm.open(iv, aad, ct, tag), null, name);
        assert.equal(gcm.open(iv, aad, ct, tag, true), null, `${name} in place`);
        assert.notEqual(hex(gcm.seal(iv, aad, msg, 16)), t.ct + t.tag, name);
      }
    }
  }
  assert.equal(valid + invalid, 197);
  assert.ok(invalid > 0);
});

test("draft-mcgrew-gcm-test-01: the 14 ESP packets seal to ciphertext+ICV and open to the payload", () => {
  assert.equal(mcgrew.length, 14);
  for (const c of mcgrew) {
    const key = unhex(c.key_hex),
      nonce = unhex(c.nonce_hex),
      aad = unhex(c.aad_hex);
    assert.notEqual(gcm.init(key), 0, c.id);
    assert.equal(hex(gcm.seal(nonce, aad, unhex(c.plaintext_hex), 16)), c.ciphertext_hex + c.icv_hex, c.id);
    assert.equal(
      hex(gcm.seal(nonce, aad, unhex(c.plaintext_hex), 16, true)),
      c.ciphertext_hex + c.icv_hex,
      `${c.id} in place`,
    );
    const opened = gcm.open(nonce, aad, unhex(c.ciphertext_hex), unhex(c.icv_hex));
    assert.equal(hex(opened ?? new Uint8Array()), c.plaintext_hex, c.id);
    const openedInPlace = gcm.open(nonce, aad, unhex(c.ciphertext_hex), unhex(c.icv_hex), true);
    assert.equal(hex(openedInPlace ?? new Uint8Array()), c.plaintext_hex, `${c.id} in place`);
  }
});

test("GHASH equals node:crypto's tag ^ E_K(J0) for random keys, AAD and ciphertext lengths, across split calls", () => {
  const { x, alloc, put, get } = gcm.p;
  const keyMem = alloc(ghashKeyBytes(gcm.p));
  const y = alloc(16);
  const data = alloc(MAX);
  const absorb = (b: Uint8Array): void => {
    new Uint8Array(x.memory.buffer, data, b.length).set(b);
    x.ghashUpdate!(keyMem, y, data, b.length);
  };
  for (let i = 0; i < 400; i++) {
    const key = rand(16),
      iv = rand(12);
    const aad = rand(i % 45),
      pt = rand(i < 200 ? i : 200 + ((i * 37) % 1400));
    const sealed = nodeSeal(key, iv, aad, pt);
    const ct = sealed.subarray(0, pt.length),
      tag = sealed.subarray(pt.length);
    const ej0 = aesEcb(key, new Uint8Array([...iv, 0, 0, 0, 1]));
    const lens = Buffer.alloc(16);
    lens.writeBigUInt64BE(BigInt(aad.length * 8), 0);
    lens.writeBigUInt64BE(BigInt(ct.length * 8), 8);
    x.ghashInit!(put(aesEcb(key, new Uint8Array(16))), keyMem);
    new Uint8Array(x.memory.buffer, y, 16).fill(0);
    absorb(aad);
    // Split the ciphertext at a block boundary: GHASH state carries across calls.
    const cut = 16 * (i % (1 + (ct.length >> 4)));
    absorb(ct.subarray(0, cut));
    absorb(ct.subarray(cut));
    absorb(lens);
    assert.equal(hex(get(y, 16)), hex(tag.map((b, j) => b ^ ej0[j]!)), `aad ${aad.length} ct ${ct.length} cut ${cut}`);
  }
});

function ghashKeyBytes(p: Primitives): number {
  const g = (p.x as unknown as { GHASH_KEY_BYTES: WebAssembly.Global }).GHASH_KEY_BYTES;
  return Number(g.value);
}

test("GCM matches node:crypto for lengths 0..100, 1400, 1500, all key sizes, in place and out of place", () => {
  const lengths = [...Array.from({ length: 101 }, (_, i) => i), 111, 112, 113, 127, 128, 129, 1400, 1500, 4000];
  for (const keyLen of [16, 24, 32]) {
    const key = rand(keyLen);
    assert.equal(gcm.init(key), keyLen / 4 + 6);
    for (const len of lengths) {
      const nonce = rand(12),
        aad = rand([0, 8, 12, 20, 33][len % 5]!),
        pt = rand(len);
      const ref = nodeSeal(key, nonce, aad, pt);
      const name = `key ${keyLen} len ${len} aad ${aad.length}`;
      for (const inPlace of [false, true]) {
        const tagLen = [16, 12, 8][len % 3];
        assert.equal(hex(gcm.seal(nonce, aad, pt, tagLen!, inPlace)), hex(ref.subarray(0, len + tagLen!)), name);
        const opened = gcm.open(nonce, aad, ref.subarray(0, len), ref.subarray(len, len + tagLen!), inPlace);
        assert.equal(hex(opened ?? new Uint8Array()), hex(pt), name);
      }
    }
  }
});

test("contexts used in turn, re-keyed at the same address and forgotten all match node:crypto", () => {
  // GHASH expands one key's powers into a shared cache keyed by the context address: switching
  // contexts, re-initialising one in place (a new SA at a removed SA's address) and gcmForget
  // must never leave a stale expansion in use.
  const other = new Gcm(gcm.p);
  const keys = [rand(16), rand(32)];
  assert.equal(gcm.init(keys[0]!), 10);
  assert.equal(other.init(keys[1]!), 14);
  const forget = (g: Gcm): void => void g.p.x.gcmForget!(g.ctx);
  for (let i = 0; i < 24; i++) {
    const which = i % 3 === 2 ? 1 : 0;
    const g = which === 0 ? gcm : other;
    if (i % 7 === 6) {
      keys[which] = rand(keys[which]!.length);
      g.init(keys[which]);
    }
    if (i % 5 === 4) forget(g);
    const nonce = rand(12),
      aad = rand(8),
      pt = rand([0, 16, 64, 200, 1400][i % 5]!);
    const ref = nodeSeal(keys[which]!, nonce, aad, pt);
    assert.equal(hex(g.seal(nonce, aad, pt, 16)), hex(ref), `step ${i}`);
    const opened = g.open(nonce, aad, ref.subarray(0, pt.length), ref.subarray(pt.length));
    assert.equal(hex(opened ?? new Uint8Array()), hex(pt), `step ${i}`);
  }
});

test("a one-bit change in any tag byte, the ciphertext, the AAD or the nonce is rejected without output", () => {
  const key = rand(16);
  gcm.init(key);
  for (const len of [0, 1, 15, 16, 64, 113, 1400]) {
    const nonce = rand(12),
      aad = rand(8),
      pt = rand(len);
    const ref = nodeSeal(key, nonce, aad, pt);
    const ct = ref.subarray(0, len),
      tag = ref.subarray(len);
    for (const tagLen of [8, 12, 16]) {
      for (let i = 0; i < tagLen; i++) {
        for (const inPlace of [false, true]) {
          const bad = tag.slice(0, tagLen);
          bad[i]! ^= 1 << ((i * 3) % 8);
          assert.equal(gcm.open(nonce, aad, ct, bad, inPlace), null, `len ${len} tag ${tagLen} byte ${i}`);
        }
      }
    }
    if (len > 0) {
      const badCt = ct.slice();
      badCt[len - 1]! ^= 0x80;
      assert.equal(gcm.open(nonce, aad, badCt, tag), null, `len ${len} ciphertext`);
    }
    const badAad = aad.slice();
    badAad[0]! ^= 1;
    assert.equal(gcm.open(nonce, badAad, ct, tag), null, `len ${len} aad`);
    const badNonce = nonce.slice();
    badNonce[11]! ^= 1;
    assert.equal(gcm.open(badNonce, aad, ct, tag, true), null, `len ${len} nonce`);
    assert.equal(hex(gcm.open(nonce, aad, ct, tag) ?? new Uint8Array()), hex(pt), `len ${len} control`);
  }
});

test("bad key lengths and tag lengths outside 4..16 are refused", () => {
  const { x } = gcm.p;
  for (const bad of [0, 8, 15, 17, 31, 33]) {
    assert.equal(x.gcmContextBytes!(bad), 0, `keyLen ${bad}`);
    assert.equal(gcm.init(new Uint8Array(bad)), 0, `keyLen ${bad}`);
  }
  const key = rand(16),
    nonce = rand(12),
    pt = rand(20);
  gcm.init(key);
  const ref = nodeSeal(key, nonce, new Uint8Array(), pt);
  assert.equal(gcm.open(nonce, new Uint8Array(), ref.subarray(0, 20), ref.subarray(20, 23)), null, "3-byte tag");
  assert.equal(gcm.open(nonce, new Uint8Array(), ref.subarray(0, 20), new Uint8Array()), null, "empty tag");
  assert.equal(
    hex(gcm.open(nonce, new Uint8Array(), ref.subarray(0, 20), ref.subarray(20, 24)) ?? new Uint8Array()),
    hex(pt),
    "4-byte tag",
  );
});

test("unaligned nonce, AAD, data and tag pointers (ESP ciphertext sits at odd offsets after outer headers)", () => {
  const { x, alloc, get } = gcm.p;
  const key = rand(32),
    nonce = rand(12),
    aad = rand(12);
  gcm.init(key);
  const base = alloc(4 * MAX);
  const at = (off: number, b: Uint8Array): number => {
    new Uint8Array(x.memory.buffer, base + off, b.length).set(b);
    return base + off;
  };
  for (const len of [1, 37, 64, 200, 1401]) {
    const pt = rand(len);
    const ref = nodeSeal(key, nonce, aad, pt);
    const np = at(3, nonce),
      ap = at(21, aad),
      sp = at(45, pt),
      tp = at(61 + len, new Uint8Array(16));
    x.gcmSeal!(gcm.ctx, np, ap, aad.length, sp, sp, len, tp, 12);
    assert.equal(hex(get(sp, len)) + hex(get(tp, 12)), hex(ref.subarray(0, len + 12)), `seal len ${len}`);
    const dp = base + 2 * MAX + 7;
    assert.equal(x.gcmOpen!(gcm.ctx, np, ap, aad.length, sp, dp, len, tp, 12), 1, `open len ${len}`);
    assert.equal(hex(get(dp, len)), hex(pt), `open len ${len}`);
  }
});
