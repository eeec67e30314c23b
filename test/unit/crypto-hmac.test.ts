// HMAC-SHA-1/256/384/512 and the one-shot hashes of build/primitives.wasm against outside
// references: Wycheproof, RFC 4231, RFC 2202, RFC 4868, and node:crypto (OpenSSL) as an
// independent implementation for random inputs and for a/b split points.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hex, loadPrimitives, unhex } from "../helpers/primitives.ts";

const p = loadPrimitives();
const { x } = p;

type HashName = "sha1" | "sha256" | "sha384" | "sha512";
/** Algorithm ids, read from the module's exported globals so the test follows the module. */
const globalValue = (n: string): number => (x[n] as unknown as WebAssembly.Global).value as number;
const ALG: Record<HashName, number> = {
  sha1: globalValue("HASH_SHA1"),
  sha256: globalValue("HASH_SHA256"),
  sha384: globalValue("HASH_SHA384"),
  sha512: globalValue("HASH_SHA512"),
};
const NAMES: HashName[] = ["sha1", "sha256", "sha384", "sha512"];
const DIGEST: Record<HashName, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };
const BLOCK: Record<HashName, number> = { sha1: 64, sha256: 64, sha384: 128, sha512: 128 };

const vector = (path: string): unknown =>
  JSON.parse(readFileSync(new URL(`../vectors/${path}`, import.meta.url), "utf8"));

/** Copies bytes into wasm memory at an address with the given misalignment (0..15). */
function putAt(bytes: Uint8Array, misalign = 0): number {
  const base = p.alloc(bytes.length + misalign);
  new Uint8Array(x.memory.buffer, base + misalign, bytes.length).set(bytes);
  return base + misalign;
}

function wasmHmacInit(name: HashName, key: Uint8Array): number {
  const ctx = p.alloc(x.hmacContextBytes!(ALG[name]));
  x.hmacInit!(ALG[name], putAt(key), key.length, ctx);
  return ctx;
}

/** HMAC of msg with the a/b split at `split` (default: all in a). */
function wasmHmac(name: HashName, ctx: number, msg: Uint8Array, split = msg.length, misalign = 0): Uint8Array {
  const m = putAt(msg, misalign);
  const out = p.alloc(64);
  x.hmacMac!(ALG[name], ctx, m, split, m + split, msg.length - split, out);
  return p.get(out, DIGEST[name]);
}

function wasmHash(name: HashName, msg: Uint8Array, misalign = 0): Uint8Array {
  const out = p.alloc(64);
  x.hashOneShot!(ALG[name], putAt(msg, misalign), msg.length, out);
  return p.get(out, DIGEST[name]);
}

test("sizes: digest, block and context bytes", () => {
  for (const name of NAMES) {
    assert.equal(x.hashDigestBytes!(ALG[name]), DIGEST[name], name);
    assert.equal(x.hashBlockBytes!(ALG[name]), BLOCK[name], name);
    // Two chaining states; SHA-384 keeps the full 64-byte SHA-512 state.
    const state = name === "sha1" ? 20 : name === "sha256" ? 32 : 64;
    assert.equal(x.hmacContextBytes!(ALG[name]), 2 * state, name);
  }
  assert.equal(x.hashDigestBytes!(0), 0);
  assert.equal(x.hmacContextBytes!(99), 0);
});

interface MacTest {
  tcId: number;
  key: string;
  msg: string;
  tag: string;
  result: "valid" | "invalid" | "acceptable";
}
interface MacFile {
  numberOfTests: number;
  testGroups: { tagSize: number; tests: MacTest[] }[];
}

for (const name of NAMES) {
  test(`Wycheproof hmac_${name}_test.json: every case, result honoured`, () => {
    const file = vector(`wycheproof/hmac_${name}_test.json`) as MacFile;
    let seen = 0,
      valid = 0,
      invalid = 0;
    for (const group of file.testGroups) {
      for (const t of group.tests) {
        seen++;
        const full = wasmHmac(name, wasmHmacInit(name, unhex(t.key)), unhex(t.msg));
        const tag = hex(full.subarray(0, group.tagSize / 8));
        if (t.result === "invalid") {
          assert.notEqual(tag, t.tag, `tcId ${t.tcId} must be rejected`);
          invalid++;
        } else {
          assert.equal(tag, t.tag, `tcId ${t.tcId}`);
          valid++;
        }
      }
    }
    assert.equal(seen, file.numberOfTests);
    assert.ok(valid > 0 && invalid > 0);
  });
}

interface Rfc4231 {
  id: string;
  hash: string;
  key_hex: string;
  data_hex: string;
  mac_hex: string;
  mac_len_bits: number;
  truncated: boolean;
}
test("RFC 4231 test cases 1-7 for SHA-256/384/512, incl. truncated case 5", () => {
  const cases = vector("rfc/rfc4231_hmac_sha2.json") as Rfc4231[];
  assert.equal(cases.length, 21);
  let truncated = 0;
  for (const c of cases) {
    const name = c.hash.replace("-", "").toLowerCase() as HashName;
    const mac = wasmHmac(name, wasmHmacInit(name, unhex(c.key_hex)), unhex(c.data_hex));
    assert.equal(hex(mac.subarray(0, c.mac_len_bits / 8)), c.mac_hex, c.id);
    if (c.truncated) truncated++;
  }
  assert.equal(truncated, 3);
});

interface Rfc2202 {
  id: string;
  key_hex: string;
  data_hex: string;
  mac_hex: string;
  mac96_hex?: string;
}
test("RFC 2202 HMAC-SHA-1 test cases 1-7, incl. the 96-bit value", () => {
  const cases = vector("rfc/rfc2202_hmac_sha1.json") as Rfc2202[];
  assert.equal(cases.length, 7);
  let with96 = 0;
  for (const c of cases) {
    const mac = wasmHmac("sha1", wasmHmacInit("sha1", unhex(c.key_hex)), unhex(c.data_hex));
    assert.equal(hex(mac), c.mac_hex, c.id);
    if (c.mac96_hex !== undefined) {
      assert.equal(hex(mac.subarray(0, 12)), c.mac96_hex, `${c.id} (96-bit)`);
      with96++;
    }
  }
  assert.ok(with96 >= 1);
});

interface Rfc4868 {
  id: string;
  key_hex: string;
  data_hex: string;
  prf_hmac_sha256_hex: string;
  hmac_sha256_128_hex: string;
  icv_len_bytes: number;
}
test("RFC 4868 AUTH256-1..4: full PRF value and 16-byte ICV", () => {
  const cases = vector("rfc/rfc4868_hmac_sha256_128.json") as Rfc4868[];
  assert.equal(cases.length, 4);
  for (const c of cases) {
    const mac = wasmHmac("sha256", wasmHmacInit("sha256", unhex(c.key_hex)), unhex(c.data_hex));
    assert.equal(hex(mac), c.prf_hmac_sha256_hex, c.id);
    assert.equal(hex(mac.subarray(0, c.icv_len_bytes)), c.hmac_sha256_128_hex, c.id);
  }
});

test("hmacMac(a, b) at every split point equals the one-piece MAC and node:crypto", () => {
  for (const name of NAMES) {
    // 300 bytes crosses two 128-byte blocks; 4 models ESP with ESN (seq-hi as b).
    for (const len of [0, 4, 55, 64, 119, 300]) {
      const key = randomBytes(32);
      const msg = randomBytes(len);
      const ctx = wasmHmacInit(name, key);
      const whole = hex(wasmHmac(name, ctx, msg));
      assert.equal(whole, createHmac(name, key).update(msg).digest("hex"), `${name} len ${len}`);
      for (let split = 0; split <= len; split++) {
        assert.equal(hex(wasmHmac(name, ctx, msg, split)), whole, `${name} len ${len} split ${split}`);
      }
    }
  }
});

test("HMAC against node:crypto: random keys 0..300 bytes, messages 0..300 bytes, unaligned", () => {
  for (const name of NAMES) {
    for (let len = 0; len <= 300; len++) {
      const key = randomBytes((len * 7) % 301); // includes keys longer than the block (hashed first)
      const msg = randomBytes(len);
      const ctx = wasmHmacInit(name, key);
      const want = createHmac(name, key).update(msg).digest("hex");
      assert.equal(hex(wasmHmac(name, ctx, msg, len, len % 16)), want, `${name} key ${key.length} msg ${len}`);
      // The context is reusable: a second message with the same key.
      const msg2 = randomBytes(300 - len);
      assert.equal(hex(wasmHmac(name, ctx, msg2)), createHmac(name, key).update(msg2).digest("hex"));
    }
  }
});

test("hashOneShot against node:crypto for all four hashes, lengths 0..300 and large", () => {
  for (const name of NAMES) {
    const lengths = [...Array(301).keys(), 1000, 1400, 4096, 65537];
    for (const len of lengths) {
      const msg = randomBytes(len);
      assert.equal(hex(wasmHash(name, msg, len % 8)), createHash(name).update(msg).digest("hex"), `${name} len ${len}`);
    }
  }
});

test("raw compression functions: one padded block equals the hash of the empty message", () => {
  // The empty message pads to exactly one block: 0x80 then zeros (bit length 0).
  const inits: [HashName, string, string, number][] = [
    ["sha1", "sha1Init", "sha1Compress", 20],
    ["sha256", "sha256Init", "sha256Compress", 32],
    ["sha384", "sha384Init", "sha512Compress", 48],
    ["sha512", "sha512Init", "sha512Compress", 64],
  ];
  for (const [name, init, compress, digest] of inits) {
    const block = new Uint8Array(BLOCK[name]);
    block[0] = 0x80;
    const state = p.alloc(64);
    x[init]!(state);
    x[compress]!(state, putAt(block), 1);
    // State words are host order (little-endian); the digest is big-endian words.
    const wordBytes = name === "sha1" || name === "sha256" ? 4 : 8;
    const words = p.get(state, digest);
    const out = new Uint8Array(digest);
    for (let i = 0; i < digest; i += wordBytes) out.set(words.subarray(i, i + wordBytes).reverse(), i);
    assert.equal(hex(out), createHash(name).update(new Uint8Array(0)).digest("hex"), name);
  }
});

test("sha256Compress4x: each lane equals sha256Compress on its own block", () => {
  const state4 = p.alloc(globalValue("SHA256_STATE4_BYTES"));
  const lanes = [0, 1, 2, 3].map(() => ({ state: randomBytes(32), block: randomBytes(64) }));
  for (let w = 0; w < 8; w++) {
    for (let i = 0; i < 4; i++) {
      new Uint8Array(x.memory.buffer, state4 + 16 * w + 4 * i, 4).set(lanes[i]!.state.subarray(4 * w, 4 * w + 4));
    }
  }
  x.sha256Compress4x!(state4, ...lanes.map((l) => putAt(l.block, 3)));
  for (let i = 0; i < 4; i++) {
    const one = putAt(lanes[i]!.state);
    x.sha256Compress!(one, putAt(lanes[i]!.block), 1);
    const want = p.get(one, 32);
    const got = new Uint8Array(32);
    for (let w = 0; w < 8; w++) got.set(p.get(state4 + 16 * w + 4 * i, 4), 4 * w);
    assert.equal(hex(got), hex(want), `lane ${i}`);
  }
});

test("hmacSha256Mac4x: four jobs of mixed lengths (incl. ESN-style b, long b) equal node:crypto", () => {
  const jobBytes = globalValue("HMAC4_JOB_BYTES");
  assert.equal(jobBytes, 24);
  const jobs = p.alloc(4 * jobBytes);
  for (let round = 0; round < 400; round++) {
    const want: { out: number; mac: string }[] = [];
    const fields: number[][] = [];
    for (let i = 0; i < 4; i++) {
      const key = randomBytes(round % 3 === 0 ? 100 : 32); // some keys longer than the block
      // Rounds 0..299 sweep lengths so lanes straddle block boundaries differently.
      const aLen = round < 300 ? (round + 61 * i) % 300 : (round * 37 + i * 411) % 1500;
      const bLen = round % 50 === 7 && i === 2 ? 65 : [0, 4][(round + i) % 2]; // one bLen > 64: scalar fallback
      const a = randomBytes(aLen),
        b = randomBytes(bLen!);
      const out = p.alloc(32);
      fields.push([wasmHmacInit("sha256", key), putAt(a, i), aLen, putAt(b), bLen!, out]);
      want.push({ out, mac: createHmac("sha256", key).update(a).update(b).digest("hex") });
    }
    const view = new DataView(x.memory.buffer, jobs, 4 * jobBytes);
    fields.forEach((f, i) => f.forEach((v, k) => view.setUint32(i * jobBytes + 4 * k, v, true)));
    x.hmacSha256Mac4x!(jobs);
    want.forEach((w, i) => assert.equal(hex(p.get(w.out, 32)), w.mac, `round ${round} lane ${i}`));
  }
});

test("unknown algorithm ids write nothing", () => {
  const ctx = p.alloc(128),
    out = p.alloc(64),
    msg = putAt(randomBytes(100));
  for (const alg of [0, 5, -1]) {
    x.hmacInit!(alg, msg, 32, ctx);
    x.hmacMac!(alg, ctx, msg, 100, 0, 0, out);
    x.hashOneShot!(alg, msg, 100, out);
  }
  assert.equal(hex(p.get(ctx, 128)), "00".repeat(128));
  assert.equal(hex(p.get(out, 64)), "00".repeat(64));
});
