// IKEv2 Diffie-Hellman groups (sdk/ike/dh.ts) against outside references: RFC 5903 / RFC 7027 /
// RFC 7748 / RFC 8031 worked examples, Wycheproof ECDH P-256/P-384 and X25519, RFC 3526's prime
// formula, and node:crypto (OpenSSL) as an independent implementation of every group, both ways.
import { test as nodeTest } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { readFileSync } from "node:fs";
import {
  DH_GROUPS,
  DhError,
  dhGroupById,
  dhGroupByKeyword,
  dhImplementation,
  generateKeyShare,
  setNativeDh,
} from "../../sdk/ike/dh.ts";
import type { DhErrorCode } from "../../sdk/ike/dh.ts";

const vector = (path: string): unknown =>
  JSON.parse(readFileSync(new URL(`../vectors/${path}`, import.meta.url), "utf8"));
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, "hex"));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bigOf = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt("0x" + hex(b)));
const bytesOf = (v: bigint, len: number): Uint8Array => unhex(v.toString(16).padStart(len * 2, "0"));

/** Big-endian value left-padded (or stripped of leading zero bytes) to exactly n bytes. */
function fit(b: Uint8Array, n: number): Uint8Array {
  let start = 0;
  while (b.length - start > n && b[start] === 0) start++;
  if (b.length - start > n) throw new Error(`value of ${b.length} bytes does not fit in ${n}`);
  const out = new Uint8Array(n);
  out.set(b.subarray(start), n - (b.length - start));
  return out;
}

/** A randomBytes stand-in that hands out the given values in order, then refuses. */
function fixedRandom(...values: Uint8Array[]): (n: number) => Uint8Array {
  let next = 0;
  return (n) => {
    const v = values[next++];
    if (v === undefined) throw new Error("fixedRandom exhausted");
    return fit(v, n);
  };
}

function throwsDh(fn: () => unknown, code: DhErrorCode, what: string): void {
  assert.throws(fn, (e: unknown) => e instanceof DhError && e.code === code, `${what}: expected DhError ${code}`);
}

/** OpenSSL names per transform ID. */
const OPENSSL_EC: Record<number, string> = {
  19: "prime256v1",
  20: "secp384r1",
  21: "secp521r1",
  28: "brainpoolP256r1",
  29: "brainpoolP384r1",
  30: "brainpoolP512r1",
};
const OPENSSL_MODP: Record<number, string> = { 14: "modp14", 15: "modp15", 16: "modp16" };
const XDH_DER: Record<number, { pkcs8: string; spki: string }> = {
  31: { pkcs8: "302e020100300506032b656e04220420", spki: "302a300506032b656e032100" },
  32: { pkcs8: "3046020100300506032b656f043a0438", spki: "3042300506032b656f033900" },
};

const nodeXdhPrivate = (group: number, priv: Uint8Array): crypto.KeyObject =>
  crypto.createPrivateKey({ key: Buffer.concat([unhex(XDH_DER[group]!.pkcs8), priv]), format: "der", type: "pkcs8" });
const nodeXdhPublic = (group: number, pub: Uint8Array): crypto.KeyObject =>
  crypto.createPublicKey({ key: Buffer.concat([unhex(XDH_DER[group]!.spki), pub]), format: "der", type: "spki" });
const nodeXdhKeyPair = (group: number): crypto.KeyPairKeyObjectResult =>
  group === 31 ? crypto.generateKeyPairSync("x25519") : crypto.generateKeyPairSync("x448");
const nodeXdhRaw = (group: number, key: crypto.KeyObject): Uint8Array =>
  new Uint8Array(
    crypto
      .createPublicKey(key)
      .export({ format: "der", type: "spki" })
      .subarray(XDH_DER[group]!.spki.length / 2),
  );

/**
 * Every test below runs twice: with the runtime's native DH (node:crypto, OpenSSL) and with the
 * pure-JS fallback (@noble/curves, BigInt MODP) that workerd and browsers get.
 */
const IMPLS = ["native", "js"] as const;
function test(name: string, fn: () => void): void {
  for (const impl of IMPLS) {
    nodeTest(`${name} [${impl}]`, () => {
      assert.equal(setNativeDh(impl === "native"), true, "node:crypto DH is available under Node");
      try {
        for (const g of DH_GROUPS) assert.equal(dhImplementation(g.id), impl, `group ${g.id} runs ${impl}`);
        fn();
      } finally {
        setNativeDh(true);
      }
    });
  }
}

test("group registry: IANA transform IDs, strongSwan keywords, KE data lengths", () => {
  assert.deepEqual(
    DH_GROUPS.map((g) => [g.id, g.keyword, g.name, g.publicBytes]),
    [
      [31, "x25519", "CURVE_25519", 32],
      [32, "x448", "CURVE_448", 56],
      [19, "ecp256", "ECP_256", 64],
      [20, "ecp384", "ECP_384", 96],
      [21, "ecp521", "ECP_521", 132],
      [28, "ecp256bp", "ECP_256_BP", 64],
      [29, "ecp384bp", "ECP_384_BP", 96],
      [30, "ecp512bp", "ECP_512_BP", 128],
      [14, "modp2048", "MODP_2048", 256],
      [15, "modp3072", "MODP_3072", 384],
      [16, "modp4096", "MODP_4096", 512],
    ],
  );
  for (const g of DH_GROUPS) {
    assert.equal(dhGroupById(g.id), g);
    assert.equal(dhGroupByKeyword(g.keyword), g);
    assert.equal(dhGroupByKeyword(g.keyword.toUpperCase()), g);
  }
  assert.equal(dhGroupByKeyword("curve25519")?.id, 31);
  assert.equal(dhGroupByKeyword("curve448")?.id, 32);
  assert.equal(dhGroupById(2), undefined);
  assert.equal(dhGroupByKeyword("modp1024"), undefined);
  // MODP 768/1024/1536, the RFC 5114 groups, Brainpool 224 and unassigned numbers are refused.
  for (const id of [0, 1, 2, 5, 22, 23, 24, 25, 26, 27, 33, 35, 1024]) {
    throwsDh(() => generateKeyShare(id), "UNSUPPORTED_GROUP", `group ${id}`);
  }
  const err = new DhError("BAD_PUBLIC_LENGTH", "x");
  assert.ok(err instanceof Error);
  assert.equal(err.name, "DhError");
});

interface RfcVector {
  id: string;
  group: number;
  openssl_name: string;
  i_hex: string;
  gi_hex: string;
  r_hex: string;
  gr_hex: string;
  shared_hex: string;
}
const RFC_VECTORS = vector("rfc/rfc_ike_dh_groups.json") as RfcVector[];

test("RFC 5903 §8, RFC 7027 App. A, RFC 7748 §6, RFC 8031 App. A: both sides of each exchange", () => {
  assert.deepEqual(
    RFC_VECTORS.map((v) => v.group),
    [19, 20, 21, 28, 29, 30, 31, 32, 31],
  );
  for (const v of RFC_VECTORS) {
    const [i, gi, r, gr, shared] = [v.i_hex, v.gi_hex, v.r_hex, v.gr_hex, v.shared_hex].map(unhex) as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    // The transcription itself, recomputed by OpenSSL.
    if (v.group === 31 || v.group === 32) {
      assert.equal(hex(nodeXdhRaw(v.group, nodeXdhPrivate(v.group, i))), v.gi_hex, `${v.id} OpenSSL g^i`);
      const z = crypto.diffieHellman({ privateKey: nodeXdhPrivate(v.group, r), publicKey: nodeXdhPublic(v.group, gi) });
      assert.equal(z.toString("hex"), v.shared_hex, `${v.id} OpenSSL g^ir`);
    } else {
      const ecdh = crypto.createECDH(v.openssl_name);
      ecdh.setPrivateKey(Buffer.from(i));
      assert.equal(ecdh.getPublicKey("hex"), "04" + v.gi_hex, `${v.id} OpenSSL g^i`);
      assert.equal(
        ecdh.computeSecret(Buffer.concat([Buffer.of(4), gr])).toString("hex"),
        v.shared_hex,
        `${v.id} OpenSSL g^ir`,
      );
    }
    // Ours, with the vector's private values fed through randomBytes.
    const initiator = generateKeyShare(v.group, fixedRandom(i));
    const responder = generateKeyShare(v.group, fixedRandom(r));
    assert.equal(hex(initiator.publicValue), v.gi_hex, `${v.id} g^i`);
    assert.equal(hex(responder.publicValue), v.gr_hex, `${v.id} g^r`);
    assert.equal(hex(initiator.computeSecret(gr)), v.shared_hex, `${v.id} initiator g^ir`);
    assert.equal(hex(responder.computeSecret(gi)), v.shared_hex, `${v.id} responder g^ir`);
    assert.equal(shared.length, v.group === 31 || v.group === 32 ? gi.length : gi.length / 2);
  }
});

// ---------------------------------------------------------------------------------------------
// Wycheproof ECDH. Public keys there are DER SubjectPublicKeyInfo; IKE has no ASN.1, only the bare
// x || y of a named group. So a test case maps to IKE only if its SPKI is strict DER naming the
// file's curve with an uncompressed point. The rest (ASN.1 mutations, other or explicit curves,
// compressed points) test a key parser IKE does not have; they are counted, not run.

interface WycheproofFile<T> {
  numberOfTests: number;
  testGroups: { tests: T[] }[];
}
interface EcdhCase {
  tcId: number;
  flags: string[];
  public: string;
  private: string;
  shared: string;
  result: "valid" | "invalid" | "acceptable";
}

interface Tlv {
  tag: number;
  body: Uint8Array;
  next: number;
}

/** One DER TLV at `off`, definite minimal lengths only. */
function readTlv(b: Uint8Array, off: number): Tlv | undefined {
  if (off + 2 > b.length) return undefined;
  const tag = b[off]!;
  let len = b[off + 1]!;
  let p = off + 2;
  if (len === 0x80) return undefined;
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 3 || p + n > b.length || b[p] === 0) return undefined;
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + b[p + k]!;
    p += n;
    if (len < 0x80) return undefined;
  }
  if (p + len > b.length) return undefined;
  return { tag, body: b.subarray(p, p + len), next: p + len };
}

const EC_PUBLIC_KEY_OID = "2a8648ce3d0201";

/** The IKE KE data (x || y) a strict named-curve SPKI carries, or undefined if IKE cannot carry it. */
function ikePublicFromSpki(der: Uint8Array, curveOid: string): Uint8Array | undefined {
  const spki = readTlv(der, 0);
  if (spki?.tag !== 0x30 || spki.next !== der.length) return undefined;
  const alg = readTlv(spki.body, 0);
  if (alg?.tag !== 0x30) return undefined;
  const bits = readTlv(spki.body, alg.next);
  if (bits?.tag !== 0x03 || bits.next !== spki.body.length) return undefined;
  const oid = readTlv(alg.body, 0);
  if (oid?.tag !== 0x06 || hex(oid.body) !== EC_PUBLIC_KEY_OID) return undefined;
  const curve = readTlv(alg.body, oid.next);
  if (curve?.tag !== 0x06 || hex(curve.body) !== curveOid || curve.next !== alg.body.length) return undefined;
  if (bits.body[0] !== 0 || bits.body[1] !== 0x04) return undefined;
  return bits.body.subarray(2);
}

function runWycheproofEcdh(file: string, group: number, curveOid: string): Record<string, number> {
  const data = vector(`wycheproof/${file}`) as WycheproofFile<EcdhCase>;
  const cases = data.testGroups.flatMap((g) => g.tests);
  assert.equal(cases.length, data.numberOfTests);
  const scalarBytes = dhGroupById(group)!.publicBytes / 2;
  const counts: Record<string, number> = {};
  const bump = (k: string): void => void (counts[k] = (counts[k] ?? 0) + 1);
  for (const tc of cases) {
    const peer = ikePublicFromSpki(unhex(tc.public), curveOid);
    if (peer === undefined) {
      // Every valid case must be expressible, or the filter above is hiding real tests.
      assert.notEqual(tc.result, "valid", `tcId ${tc.tcId} is valid but was filtered out`);
      bump(`not-ike-${tc.result}`);
      continue;
    }
    const share = generateKeyShare(group, fixedRandom(fit(unhex(tc.private), scalarBytes)));
    let out: Uint8Array | DhError;
    try {
      out = share.computeSecret(peer);
    } catch (e) {
      assert.ok(e instanceof DhError, `tcId ${tc.tcId}: non-DhError ${String(e)}`);
      out = e;
    }
    if (tc.result === "valid") {
      assert.ok(out instanceof Uint8Array, `tcId ${tc.tcId} (${tc.flags.join(",")}): rejected a valid key`);
      assert.equal(hex(out), tc.shared, `tcId ${tc.tcId}`);
    } else if (tc.result === "invalid") {
      assert.ok(out instanceof DhError, `tcId ${tc.tcId} (${tc.flags.join(",")}): accepted an invalid key`);
    } else if (out instanceof Uint8Array) {
      assert.equal(hex(out), tc.shared, `tcId ${tc.tcId}`);
    }
    bump(`${tc.result}-${out instanceof DhError ? out.code : "ok"}`);
  }
  return counts;
}

test("Wycheproof ECDH secp256r1 (group 19)", () => {
  const counts = runWycheproofEcdh("ecdh_secp256r1_test.json", 19, "2a8648ce3d030107");
  // The acceptable ones that reach us are ASN.1 mutations that leave strict DER with a changed
  // point: a modified last byte (off the curve) or bytes appended inside the BIT STRING (wrong length).
  assert.deepEqual(counts, {
    "valid-ok": 330,
    "invalid-INVALID_PUBLIC_VALUE": 18,
    "acceptable-INVALID_PUBLIC_VALUE": 1,
    "acceptable-BAD_PUBLIC_LENGTH": 4,
    "not-ike-acceptable": 225,
    "not-ike-invalid": 34,
  });
});

test("Wycheproof ECDH secp384r1 (group 20)", () => {
  const counts = runWycheproofEcdh("ecdh_secp384r1_test.json", 20, "2b81040022");
  assert.deepEqual(counts, {
    "valid-ok": 771,
    "invalid-INVALID_PUBLIC_VALUE": 18,
    "acceptable-INVALID_PUBLIC_VALUE": 1,
    "acceptable-BAD_PUBLIC_LENGTH": 4,
    "not-ike-acceptable": 225,
    "not-ike-invalid": 28,
  });
});

interface XdhCase {
  tcId: number;
  flags: string[];
  public: string;
  private: string;
  shared: string;
  result: "valid" | "acceptable";
}

test("Wycheproof X25519 (group 31): every case, all-zero results refused per RFC 8031", () => {
  const data = vector("wycheproof/x25519_test.json") as WycheproofFile<XdhCase>;
  const cases = data.testGroups.flatMap((g) => g.tests);
  assert.equal(cases.length, data.numberOfTests);
  let agreed = 0;
  let zero = 0;
  for (const tc of cases) {
    const share = generateKeyShare(31, fixedRandom(unhex(tc.private)));
    if (tc.flags.includes("ZeroSharedSecret")) {
      assert.equal(tc.shared, "00".repeat(32));
      throwsDh(() => share.computeSecret(unhex(tc.public)), "ZERO_SHARED_SECRET", `tcId ${tc.tcId}`);
      zero++;
    } else {
      // valid, and acceptable twist / non-canonical inputs, which RFC 7748 §5 says to accept.
      assert.equal(hex(share.computeSecret(unhex(tc.public))), tc.shared, `tcId ${tc.tcId} ${tc.flags.join(",")}`);
      agreed++;
    }
  }
  assert.equal(agreed, 487);
  assert.equal(zero, 31);
});

// ---------------------------------------------------------------------------------------------
// MODP

/** floor(pi * 2^bits) by Machin's formula, with guard bits. */
function piFixed(bits: number): bigint {
  const guard = 64n;
  const one = 1n << (BigInt(bits) + guard);
  const atanInv = (x: bigint): bigint => {
    let sum = 0n;
    let term = one / x;
    for (let k = 0n; term !== 0n; k++) {
      sum += (k % 2n === 0n ? 1n : -1n) * (term / (2n * k + 1n));
      term /= x * x;
    }
    return sum;
  };
  return (16n * atanInv(5n) - 4n * atanInv(239n)) >> guard;
}

const MODP = [
  { id: 14, bits: 2048, offset: 124476n },
  { id: 15, bits: 3072, offset: 1690314n },
  { id: 16, bits: 4096, offset: 240904n },
];

test("MODP 14/15/16: OpenSSL's primes are RFC 3526's formula, and we interoperate both ways", () => {
  for (const { id, bits, offset } of MODP) {
    const node = crypto.getDiffieHellman(OPENSSL_MODP[id]!);
    // RFC 3526: p = 2^N - 2^(N-64) - 1 + 2^64 * { [2^(N-130) pi] + offset }, generator 2.
    const N = BigInt(bits);
    const p = (1n << N) - (1n << (N - 64n)) - 1n + (1n << 64n) * (piFixed(bits - 130) + offset);
    assert.equal(bigOf(node.getPrime()), p, `group ${id} prime`);
    assert.equal(node.getGenerator("hex"), "02");
    const len = bits / 8;

    node.generateKeys();
    // Our public value from OpenSSL's private exponent: same p, same g, same padding.
    const mirror = generateKeyShare(id, fixedRandom(node.getPrivateKey()));
    assert.equal(hex(mirror.publicValue), hex(fit(node.getPublicKey(), len)), `group ${id} g^x`);
    // A fresh share of ours against OpenSSL's, both directions.
    const ours = generateKeyShare(id);
    assert.equal(ours.publicValue.length, len);
    const theirs = fit(node.computeSecret(Buffer.from(ours.publicValue)), len);
    const mine = ours.computeSecret(fit(node.getPublicKey(), len));
    assert.equal(mine.length, len, "g^ir is padded to the prime length (RFC 7296 §2.14)");
    assert.equal(hex(mine), hex(theirs), `group ${id} g^ir`);
    assert.equal(hex(mirror.computeSecret(ours.publicValue)), hex(theirs));
  }
});

test("MODP: RFC 6989 §2.1 peer checks, length checks, degenerate g^ir", () => {
  for (const { id, bits } of MODP) {
    const p = bigOf(crypto.getDiffieHellman(OPENSSL_MODP[id]!).getPrime());
    const len = bits / 8;
    const share = generateKeyShare(id);
    for (const [label, y] of [
      ["0", 0n],
      ["1", 1n],
      ["p-1", p - 1n],
      ["p", p],
      ["2^N-1", (1n << BigInt(bits)) - 1n],
    ] as const) {
      throwsDh(() => share.computeSecret(bytesOf(y, len)), "INVALID_PUBLIC_VALUE", `group ${id} y=${label}`);
    }
    for (const n of [0, len - 1, len + 1]) {
      throwsDh(() => share.computeSecret(new Uint8Array(n).fill(7)), "BAD_PUBLIC_LENGTH", `group ${id} length ${n}`);
    }
    // y = 2 and y = p-2 are in range and accepted.
    assert.equal(share.computeSecret(bytesOf(2n, len)).length, len);
    assert.equal(share.computeSecret(bytesOf(p - 2n, len)).length, len);
    // 2 is a square mod these primes (p = 7 mod 8), so 2^((p-1)/2) = 1: refused.
    const q = (p - 1n) / 2n;
    throwsDh(
      () => generateKeyShare(id, fixedRandom(bytesOf(q, len))).computeSecret(bytesOf(2n, len)),
      "INVALID_PUBLIC_VALUE",
      `group ${id} z=1`,
    );
  }
});

test("MODP exponent sampling redraws 0, 1 and p-1", () => {
  const prime = crypto.getDiffieHellman("modp14").getPrime();
  const p = bigOf(prime);
  const x = 0x1234567890abcdefn << 1000n;
  const share = generateKeyShare(
    14,
    fixedRandom(bytesOf(0n, 256), bytesOf(1n, 256), bytesOf(p - 1n, 256), bytesOf(x, 256)),
  );
  const node = crypto.createDiffieHellman(prime, 2);
  node.setPrivateKey(Buffer.from(bytesOf(x, 256)));
  node.generateKeys();
  assert.equal(hex(share.publicValue), hex(fit(node.getPublicKey(), 256)));
});

// ---------------------------------------------------------------------------------------------
// ECP peer validation (RFC 6989 §2.3), each bad point also refused by OpenSSL as the reference.

test("ECP: off-curve, out-of-range and foreign-curve points are refused, as OpenSSL does", () => {
  const byGroup = new Map(RFC_VECTORS.map((v) => [v.group, unhex(v.gi_hex)]));
  for (const group of [19, 20, 21, 28, 29, 30]) {
    const good = byGroup.get(group)!;
    const L = good.length / 2;
    const share = generateKeyShare(group);
    const candidates: [string, Uint8Array][] = [];
    const flipped = good.slice();
    flipped[2 * L - 1]! ^= 1;
    candidates.push(["y with its low bit flipped", flipped]);
    candidates.push(["(0, 0)", new Uint8Array(2 * L)]);
    candidates.push(["x all ones", Uint8Array.from([...new Uint8Array(L).fill(0xff), ...good.subarray(L)])]);
    const foreign = RFC_VECTORS.find(
      (v) => v.group !== group && v.gi_hex.length === good.length * 2 && v.group !== 31 && v.group !== 32,
    );
    if (foreign !== undefined) candidates.push([`a point of group ${foreign.group}`, unhex(foreign.gi_hex)]);
    const node = crypto.createECDH(OPENSSL_EC[group]!);
    node.generateKeys();
    for (const [label, bad] of candidates) {
      assert.throws(
        () => node.computeSecret(Buffer.concat([Buffer.of(4), bad])),
        `OpenSSL accepts ${label} on group ${group}?`,
      );
      throwsDh(() => share.computeSecret(bad), "INVALID_PUBLIC_VALUE", `group ${group} ${label}`);
    }
    // x + p is the same x, non-canonically encoded; the field check must refuse it wherever it fits.
    const pPlusX = bigOf(good.subarray(0, L)) + ecFieldPrime(group);
    if (pPlusX < 1n << BigInt(8 * L)) {
      throwsDh(
        () => share.computeSecret(Uint8Array.from([...bytesOf(pPlusX, L), ...good.subarray(L)])),
        "INVALID_PUBLIC_VALUE",
        `group ${group} x+p`,
      );
    }
    // SEC1 forms and stray lengths are not IKE's format.
    const sec1 = Uint8Array.from([4, ...good]);
    throwsDh(() => share.computeSecret(sec1), "BAD_PUBLIC_LENGTH", `group ${group} 0x04 prefix`);
    throwsDh(
      () => share.computeSecret(Uint8Array.from([2 + (good[2 * L - 1]! & 1), ...good.subarray(0, L)])),
      "BAD_PUBLIC_LENGTH",
      `group ${group} compressed`,
    );
    throwsDh(() => share.computeSecret(good.subarray(1)), "BAD_PUBLIC_LENGTH", `group ${group} short`);
    throwsDh(() => share.computeSecret(new Uint8Array(0)), "BAD_PUBLIC_LENGTH", `group ${group} empty`);
  }
});

/** The field prime, read from OpenSSL's explicit-parameter encoding of the curve. */
function ecFieldPrime(group: number): bigint {
  const { publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: OPENSSL_EC[group]!, paramEncoding: "explicit" });
  const der = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  // SPKI { AlgorithmIdentifier { id-ecPublicKey, ECParameters { version, FieldID { prime-field, p } ... } } }
  const alg = readTlv(readTlv(der, 0)!.body, 0)!;
  const params = readTlv(alg.body, readTlv(alg.body, 0)!.next)!;
  const fieldId = readTlv(params.body, readTlv(params.body, 0)!.next)!;
  const prime = readTlv(fieldId.body, readTlv(fieldId.body, 0)!.next)!;
  return bigOf(prime.body);
}

test("ECP scalar sampling redraws d = 0 and d >= n, and masks bits above n's length", () => {
  const p256 = RFC_VECTORS.find((v) => v.group === 19)!;
  const n256 = bigOf(unhex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")); // FIPS 186-4 D.1.2.3
  const share = generateKeyShare(19, fixedRandom(bytesOf(n256, 32), new Uint8Array(32), unhex(p256.i_hex)));
  assert.equal(hex(share.publicValue), p256.gi_hex);
  // P-521 scalars are 66 bytes but n has 521 bits: the top 7 bits of the first byte are dropped.
  const p521 = RFC_VECTORS.find((v) => v.group === 21)!;
  const high = unhex(p521.i_hex);
  high[0] = high[0]! | 0xfe;
  assert.equal(hex(generateKeyShare(21, fixedRandom(high)).publicValue), p521.gi_hex);
});

// ---------------------------------------------------------------------------------------------
// X25519 / X448 low-order inputs: OpenSSL refuses the all-zero result too.

function littleEndian(v: bigint, len: number): Uint8Array {
  return bytesOf(v, len).reverse();
}

test("X25519/X448: low-order peer values give ZERO_SHARED_SECRET (RFC 8031 §2), as OpenSSL refuses them", () => {
  const p25519 = (1n << 255n) - 19n;
  const p448 = (1n << 448n) - (1n << 224n) - 1n;
  const lowOrder: [number, string, Uint8Array][] = [
    [31, "0", littleEndian(0n, 32)],
    [31, "1", littleEndian(1n, 32)],
    [31, "p-1", littleEndian(p25519 - 1n, 32)],
    [31, "p (non-canonical 0)", littleEndian(p25519, 32)],
    [31, "p+1 (non-canonical 1)", littleEndian(p25519 + 1n, 32)],
    // The two points of order 8 (cr.yp.to/ecdh.html#validate, also in the Wycheproof file).
    [31, "order 8 (a)", unhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")],
    [31, "order 8 (b)", unhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157")],
    [32, "0", littleEndian(0n, 56)],
    [32, "1", littleEndian(1n, 56)],
    [32, "p-1", littleEndian(p448 - 1n, 56)],
  ];
  for (const [group, label, u] of lowOrder) {
    const node = nodeXdhKeyPair(group).privateKey;
    assert.throws(
      () => crypto.diffieHellman({ privateKey: node, publicKey: nodeXdhPublic(group, u) }),
      `OpenSSL accepts ${label}?`,
    );
    throwsDh(() => generateKeyShare(group).computeSecret(u), "ZERO_SHARED_SECRET", `group ${group} u=${label}`);
  }
  throwsDh(() => generateKeyShare(31).computeSecret(new Uint8Array(33)), "BAD_PUBLIC_LENGTH", "x25519 33 bytes");
  throwsDh(() => generateKeyShare(32).computeSecret(new Uint8Array(32)), "BAD_PUBLIC_LENGTH", "x448 32 bytes");
});

// ---------------------------------------------------------------------------------------------
// Every group: two fresh shares agree, and a fresh share agrees with OpenSSL both ways.

function opensslPeer(group: number): { publicValue: Uint8Array; secret: (peer: Uint8Array) => Uint8Array } {
  if (group === 31 || group === 32) {
    const { privateKey } = nodeXdhKeyPair(group);
    return {
      publicValue: nodeXdhRaw(group, privateKey),
      secret: (peer) => new Uint8Array(crypto.diffieHellman({ privateKey, publicKey: nodeXdhPublic(group, peer) })),
    };
  }
  if (OPENSSL_MODP[group] !== undefined) {
    const len = dhGroupById(group)!.publicBytes;
    const dh = crypto.getDiffieHellman(OPENSSL_MODP[group]);
    dh.generateKeys();
    return {
      publicValue: fit(dh.getPublicKey(), len),
      secret: (peer) => fit(dh.computeSecret(Buffer.from(peer)), len),
    };
  }
  const ecdh = crypto.createECDH(OPENSSL_EC[group]!);
  ecdh.generateKeys();
  return {
    publicValue: new Uint8Array(ecdh.getPublicKey().subarray(1)),
    secret: (peer) => new Uint8Array(ecdh.computeSecret(Buffer.concat([Buffer.of(4), peer]))),
  };
}

test("every group: generated pairs agree with each other and with OpenSSL", () => {
  for (const g of DH_GROUPS) {
    const a = generateKeyShare(g.id);
    const b = generateKeyShare(g.id);
    assert.equal(a.group, g.id);
    assert.equal(a.publicValue.length, g.publicBytes, g.keyword);
    assert.notEqual(hex(a.publicValue), hex(b.publicValue));
    const ab = a.computeSecret(b.publicValue);
    assert.equal(hex(ab), hex(b.computeSecret(a.publicValue)), `${g.keyword} a/b`);
    const peer = opensslPeer(g.id);
    assert.equal(hex(a.computeSecret(peer.publicValue)), hex(peer.secret(a.publicValue)), `${g.keyword} ours/OpenSSL`);
  }
});

test("wipe() makes the share unusable; a short read from randomBytes is refused", () => {
  const share = generateKeyShare(31);
  const peer = generateKeyShare(31);
  assert.equal(share.computeSecret(peer.publicValue).length, 32);
  share.wipe();
  assert.throws(
    () => share.computeSecret(peer.publicValue),
    (e: unknown) => e instanceof Error && !(e instanceof DhError),
  );
  assert.equal(share.publicValue.length, 32);
  share.wipe();
  assert.throws(() => generateKeyShare(19, (n) => new Uint8Array(n - 1)), /returned 31 bytes/);
});
