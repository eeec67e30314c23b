/**
 * IKEv2 Diffie-Hellman groups (RFC 7296 §2.10, §3.4): key shares in the exact byte layout of the
 * KE payload and the shared secret g^ir as IKE feeds it into SKEYSEED.
 *
 * Groups: 31 Curve25519 and 32 Curve448 (RFC 8031), 19/20/21 NIST P-256/384/521 (RFC 5903),
 * 28/29/30 Brainpool P256r1/P384r1/P512r1 (RFC 6954, curves from RFC 5639), 14/15/16 MODP
 * 2048/3072/4096 (RFC 3526). Peer values are validated as RFC 6989 asks before they are used.
 *
 * Two implementations of every group, picked per group on first use:
 * - native (./dh-native.ts): the runtime's OpenSSL through node:crypto where the runtime has it
 *   (Node, Deno, Bun), found at run time with `process.getBuiltinModule` (this module imports no
 *   node-prefixed module, so it still loads in workerd and browsers). A group is used natively only after
 *   a known-answer self-test against the pure-JS code passes; setNativeDh(false) turns it off.
 * - pure JS, below: @noble/curves and BigInt MODP, the fallback everywhere else.
 *
 * Timing. Native: OpenSSL's X25519/X448 ladders and its P-256 (nistz256) and P-384/P-521/Brainpool
 * scalar multiplication are constant time, and its DH uses BN_mod_exp_mont_consttime for the private
 * exponent. Pure JS: X25519/X448 use a Montgomery ladder with conditional swaps, and Weierstrass
 * scalar multiplication uses a fixed window sequence with data-oblivious table scans and a blinded
 * scalar. That is algorithmic constant time; the JIT and BigInt arithmetic underneath give no hard
 * guarantee. The pure-JS MODP groups are plain BigInt: the exponentiation below does the same
 * squarings and multiplications for every exponent, but V8's BigInt multiply and remainder take
 * time that depends on the operands and the window table is indexed by secret digits, so pure-JS
 * MODP is NOT constant time. It is here for interoperability with peers that offer nothing else;
 * x25519 is the default group.
 *
 * Private keys are kept in Uint8Arrays that wipe() zeroes. Natively, the bytes are handed to
 * OpenSSL once and zeroed in JS right away; OpenSSL then holds the key outside the JS heap and
 * clears it when the KeyObject / ECDH / DiffieHellman object is garbage collected (X25519/X448
 * import goes through a base64url JWK string, which cannot be wiped, as the pure-JS code's
 * intermediate BigInts cannot). wipe() drops the native object.
 * @module
 */

import { x25519 } from "@noble/curves/ed25519.js";
import { x448 } from "@noble/curves/ed448.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { weierstrass } from "@noble/curves/abstract/weierstrass.js";
import type { WeierstrassPoint, WeierstrassPointCons } from "@noble/curves/abstract/weierstrass.js";
import { nativeBackend } from "./dh-native.ts";
import { DhError, type Backend, type JsBackend, type ShareState } from "./dh-types.ts";

export { DhError, type DhErrorCode } from "./dh-types.ts";

/** One IKEv2 key exchange method (IANA "Transform Type 4" registry). */
export interface DhGroup {
  /** Transform ID on the wire. */
  readonly id: number;
  /** strongSwan proposal keyword, e.g. `x25519`, `ecp256bp`, `modp2048`. */
  readonly keyword: string;
  /** strongSwan-style constant name, e.g. `CURVE_25519`, `ECP_256_BP`, `MODP_2048`. */
  readonly name: string;
  /** Length of the KE payload's key exchange data (and of the peer value we accept). */
  readonly publicBytes: number;
}

/** Every group this module implements; x25519, the default, comes first. */
export const DH_GROUPS: readonly DhGroup[] = Object.freeze(
  [
    { id: 31, keyword: "x25519", name: "CURVE_25519", publicBytes: 32 },
    { id: 32, keyword: "x448", name: "CURVE_448", publicBytes: 56 },
    { id: 19, keyword: "ecp256", name: "ECP_256", publicBytes: 64 },
    { id: 20, keyword: "ecp384", name: "ECP_384", publicBytes: 96 },
    { id: 21, keyword: "ecp521", name: "ECP_521", publicBytes: 132 },
    { id: 28, keyword: "ecp256bp", name: "ECP_256_BP", publicBytes: 64 },
    { id: 29, keyword: "ecp384bp", name: "ECP_384_BP", publicBytes: 96 },
    { id: 30, keyword: "ecp512bp", name: "ECP_512_BP", publicBytes: 128 },
    { id: 14, keyword: "modp2048", name: "MODP_2048", publicBytes: 256 },
    { id: 15, keyword: "modp3072", name: "MODP_3072", publicBytes: 384 },
    { id: 16, keyword: "modp4096", name: "MODP_4096", publicBytes: 512 },
  ].map((g) => Object.freeze(g)),
);

/** strongSwan accepts both spellings for the Montgomery curves. */
const KEYWORD_ALIASES: Readonly<Record<string, string>> = { curve25519: "x25519", curve448: "x448" };

/** Look a group up by its transform ID. */
export function dhGroupById(id: number): DhGroup | undefined {
  return DH_GROUPS.find((g) => g.id === id);
}

/** Look a group up by strongSwan keyword (case-insensitive; `curve25519`/`curve448` also work). */
export function dhGroupByKeyword(k: string): DhGroup | undefined {
  const lower = k.toLowerCase();
  const keyword = KEYWORD_ALIASES[lower] ?? lower;
  return DH_GROUPS.find((g) => g.keyword === keyword);
}

/** Our half of one Diffie-Hellman exchange. */
export interface KeyShare {
  /** Transform ID of the group. */
  readonly group: number;
  /** KE payload key exchange data, exactly `publicBytes` long. */
  readonly publicValue: Uint8Array;
  /**
   * g^ir from the peer's KE data. Throws DhError for a malformed or invalid peer value, and a plain
   * Error once the share has been wiped.
   */
  computeSecret(peerPublic: Uint8Array): Uint8Array;
  /** Zero the private key; the share is unusable afterwards. */
  wipe(): void;
}

/**
 * Start an exchange in `group`. `randomBytes(n)` must return n fresh random bytes (default:
 * globalThis.crypto); how they become the private key is per family: X25519/X448 take them as the
 * RFC 7748 scalar, ECP groups read them big-endian and redraw until 1 <= d < n (after masking to
 * the bit length of n), MODP reads them big-endian as the exponent and redraws until 2 <= x <= p-2.
 * Throws DhError UNSUPPORTED_GROUP for any other transform ID.
 */
export function generateKeyShare(group: number, randomBytes: (n: number) => Uint8Array = systemRandom): KeyShare {
  const backend = backendFor(group);
  const info = dhGroupById(group);
  if (backend === undefined || info === undefined) {
    throw new DhError("UNSUPPORTED_GROUP", `DH group ${group} is not supported`);
  }
  let state: ShareState | undefined = backend.newShare(exactRandom(randomBytes));
  return {
    group,
    publicValue: state.publicValue,
    computeSecret(peerPublic: Uint8Array): Uint8Array {
      if (state === undefined) throw new Error("key share was wiped");
      if (peerPublic.length !== info.publicBytes) {
        throw new DhError(
          "BAD_PUBLIC_LENGTH",
          `${info.keyword}: peer value is ${peerPublic.length} bytes, expected ${info.publicBytes}`,
        );
      }
      return state.secretOf(peerPublic);
    },
    wipe(): void {
      state?.wipe();
      state = undefined;
    },
  };
}

/**
 * Turns the runtime's native DH (node:crypto) on or off for shares made from now on (default on
 * where the runtime has it). Returns whether native DH is available at all. Benchmarks and tests
 * use it to compare both implementations in one process.
 */
export function setNativeDh(enabled: boolean): boolean {
  nativeEnabled = enabled;
  backends.clear();
  return nativeBackend(31, jsBackend(31)!) !== undefined;
}

/** Which implementation `generateKeyShare(group)` uses now: "native", "js", or undefined for an unknown group. */
export function dhImplementation(group: number): "native" | "js" | undefined {
  return backendFor(group)?.impl;
}

function systemRandom(n: number): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** A short read from a custom RNG would silently shrink the key; refuse it instead. */
function exactRandom(randomBytes: (n: number) => Uint8Array): (n: number) => Uint8Array {
  return (n) => {
    const out = randomBytes(n);
    if (out.length !== n) throw new Error(`randomBytes(${n}) returned ${out.length} bytes`);
    return Uint8Array.from(out);
  };
}

// ---------------------------------------------------------------------------------------------
// Group construction, on first use (building the Brainpool curves is not free).

const backends = new Map<number, Backend>();
const jsBackends = new Map<number, JsBackend>();
let nativeEnabled = true;

function backendFor(group: number): Backend | undefined {
  let b = backends.get(group);
  if (b === undefined) {
    if (BACKEND_FACTORIES[group] === undefined) return undefined;
    const js = jsBackend(group)!;
    b = (nativeEnabled ? nativeBackend(group, js) : undefined) ?? fromJs(js);
    backends.set(group, b);
  }
  return b;
}

function jsBackend(group: number): JsBackend | undefined {
  let b = jsBackends.get(group);
  if (b === undefined) {
    const make = BACKEND_FACTORIES[group];
    if (make === undefined) return undefined;
    b = make();
    jsBackends.set(group, b);
  }
  return b;
}

/** A share of the pure-JS code: the private key stays in a Uint8Array that wipe() zeroes. */
function fromJs(js: JsBackend): Backend {
  return {
    impl: "js",
    newShare(randomBytes): ShareState {
      const priv = js.newPrivate(randomBytes);
      return {
        publicValue: js.publicOf(priv),
        secretOf: (peer) => js.secretOf(priv, peer),
        wipe: () => priv.fill(0),
      };
    },
  };
}

const BACKEND_FACTORIES: Readonly<Record<number, () => JsBackend>> = {
  31: () => montgomeryBackend(x25519, 32),
  32: () => montgomeryBackend(x448, 56),
  19: () => weierstrassBackend(p256.Point),
  20: () => weierstrassBackend(p384.Point),
  21: () => weierstrassBackend(p521.Point),
  28: () => weierstrassBackend(weierstrass(BRAINPOOL_P256R1)),
  29: () => weierstrassBackend(weierstrass(BRAINPOOL_P384R1)),
  30: () => weierstrassBackend(weierstrass(BRAINPOOL_P512R1)),
  14: () => modpBackend(MODP_2048),
  15: () => modpBackend(MODP_3072),
  16: () => modpBackend(MODP_4096),
};

// ---------------------------------------------------------------------------------------------
// X25519 / X448 (RFC 8031 §2): the public value is the RFC 7748 u-coordinate, 32 or 56 bytes,
// little-endian, and so is the shared secret. RFC 8031 §2 says the receiver MUST reject an all-zero
// shared secret (RFC 7748 §6). Non-canonical u values are accepted and reduced, as RFC 7748 §5 says.

interface Montgomery {
  getPublicKey(secretKey: Uint8Array): Uint8Array;
  getSharedSecret(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
}

function montgomeryBackend(curve: Montgomery, size: number): JsBackend {
  return {
    newPrivate: (randomBytes) => randomBytes(size),
    publicOf: (priv) => curve.getPublicKey(priv),
    secretOf(priv, peer) {
      let shared: Uint8Array;
      try {
        shared = curve.getSharedSecret(priv, peer);
      } catch {
        // noble refuses the low-order u values before running the ladder; those are exactly the
        // inputs whose result would be all zeros, so report them the way RFC 8031 words it.
        throw new DhError("ZERO_SHARED_SECRET", "peer value is a low-order point (all-zero shared secret)");
      }
      if (shared.every((b) => b === 0)) throw new DhError("ZERO_SHARED_SECRET", "all-zero shared secret");
      return shared;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ECP groups. Wire format (RFC 5903 §7, RFC 6954 §4 for Brainpool): public value = x || y, each
// coordinate big-endian and padded to the field size, no 0x04 prefix; the shared secret is only the
// x coordinate of d * Q, padded the same way. RFC 6989 §2.3: the peer point must be on the curve and
// not the point at infinity. All six curves have cofactor 1, so that is also the subgroup check.

function weierstrassBackend(Point: WeierstrassPointCons<bigint>): JsBackend {
  const n = Point.Fn.ORDER;
  const scalarBytes = Point.Fn.BYTES;
  const fieldBytes = Point.Fp.BYTES;
  const topMask = 0xff >> (scalarBytes * 8 - Point.Fn.BITS);
  const scalarOf = (priv: Uint8Array): bigint => bytesToBig(priv);
  return {
    newPrivate(randomBytes) {
      // Rejection sampling (FIPS 186-5 A.4.2) keeps d uniform and lets a known d be fed in as is.
      for (let attempt = 0; attempt < 64; attempt++) {
        const candidate = randomBytes(scalarBytes);
        candidate[0] = candidate[0]! & topMask;
        const d = bytesToBig(candidate);
        if (d >= 1n && d < n) return candidate;
        candidate.fill(0);
      }
      throw new Error("randomBytes never produced a scalar in [1, n-1]");
    },
    publicOf(priv) {
      // toBytes(false) is SEC1 uncompressed: 0x04 || x || y.
      return Point.BASE.multiply(scalarOf(priv)).toBytes(false).slice(1);
    },
    secretOf(priv, peer) {
      let Q: WeierstrassPoint<bigint>;
      try {
        // fromBytes rejects coordinates >= p and points off the curve; 0x04 never decodes to infinity.
        Q = Point.fromBytes(concat(Uint8Array.of(0x04), peer));
        Q.assertValidity();
      } catch (e) {
        throw new DhError("INVALID_PUBLIC_VALUE", `peer point rejected: ${(e as Error).message}`);
      }
      if (Q.is0()) throw new DhError("INVALID_PUBLIC_VALUE", "peer point is the point at infinity");
      const S = Q.multiply(scalarOf(priv));
      if (S.is0()) throw new DhError("INVALID_PUBLIC_VALUE", "shared point is the point at infinity");
      return bigToBytes(S.toAffine().x, fieldBytes);
    },
  };
}

// RFC 5639 §3.4, §3.6, §3.7 (the "r1" random curves; cofactor h = 1).
const BRAINPOOL_P256R1 = {
  p: 0xa9fb57dba1eea9bc3e660a909d838d726e3bf623d52620282013481d1f6e5377n,
  a: 0x7d5a0975fc2c3057eef67530417affe7fb8055c126dc5c6ce94a4b44f330b5d9n,
  b: 0x26dc5c6ce94a4b44f330b5d9bbd77cbf958416295cf7e1ce6bccdc18ff8c07b6n,
  Gx: 0x8bd2aeb9cb7e57cb2c4b482ffc81b7afb9de27e1e3bd23c23a4453bd9ace3262n,
  Gy: 0x547ef835c3dac4fd97f8461a14611dc9c27745132ded8e545c1d54c72f046997n,
  n: 0xa9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7n,
  h: 1n,
};

const BRAINPOOL_P384R1 = {
  p: 0x8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b412b1da197fb71123acd3a729901d1a71874700133107ec53n,
  a: 0x7bc382c63d8c150c3c72080ace05afa0c2bea28e4fb22787139165efba91f90f8aa5814a503ad4eb04a8c7dd22ce2826n,
  b: 0x04a8c7dd22ce28268b39b55416f0447c2fb77de107dcd2a62e880ea53eeb62d57cb4390295dbc9943ab78696fa504c11n,
  Gx: 0x1d1c64f068cf45ffa2a63a81b7c13f6b8847a3e77ef14fe3db7fcafe0cbd10e8e826e03436d646aaef87b2e247d4af1en,
  Gy: 0x8abe1d7520f9c2a45cb1eb8e95cfd55262b70b29feec5864e19c054ff99129280e4646217791811142820341263c5315n,
  n: 0x8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b31f166e6cac0425a7cf3ab6af6b7fc3103b883202e9046565n,
  h: 1n,
};

const BRAINPOOL_P512R1 = {
  p: 0xaadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca703308717d4d9b009bc66842aecda12ae6a380e62881ff2f2d82c68528aa6056583a48f3n,
  a: 0x7830a3318b603b89e2327145ac234cc594cbdd8d3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94can,
  b: 0x3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94cadc083e67984050b75ebae5dd2809bd638016f723n,
  Gx: 0x81aee4bdd82ed9645a21322e9c4c6a9385ed9f70b5d916c1b43b62eef4d0098eff3b1f78e2d0d48d50d1687b93b97d5f7c6d5047406a5e688b352209bcb9f822n,
  Gy: 0x7dde385d566332ecc0eabfa9cf7822fdf209f70024a57b1aa000c55b881f8111b2dcde494a5f485e5bca4bd88a2763aed1ca2b2fa8f0540678cd1e0f3ad80892n,
  n: 0xaadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069n,
  h: 1n,
};

// ---------------------------------------------------------------------------------------------
// MODP groups (RFC 3526, generator 2). RFC 7296 §3.4: the public value is padded with leading
// zeros to the length of the prime; §2.14: so is g^ir. RFC 6989 §2.1: reject y <= 1 and y >= p-1
// (for these safe primes that leaves only elements of order q or 2q). We also refuse g^ir = 1
// (NIST SP 800-56A rev3 §5.7.1.1), which a valid y can only reach through a degenerate exponent.
//
// The exponent is full size (uniform in [2, p-2]): RFC 3526 §8 and RFC 7296 allow about twice the
// security strength, but a full exponent removes any question about short-exponent attacks and
// costs only tens of milliseconds for an exchange that happens once per IKE SA.

interface ModpParams {
  readonly p: bigint;
  readonly bytes: number;
}

function modpBackend({ p, bytes }: ModpParams): JsBackend {
  const bits = p.toString(2).length;
  return {
    newPrivate(randomBytes) {
      for (let attempt = 0; attempt < 64; attempt++) {
        const candidate = randomBytes(bytes);
        const x = bytesToBig(candidate);
        if (x >= 2n && x <= p - 2n) return candidate;
        candidate.fill(0);
      }
      throw new Error("randomBytes never produced an exponent in [2, p-2]");
    },
    publicOf: (priv) => bigToBytes(modPow(2n, bytesToBig(priv), p, bits), bytes),
    secretOf(priv, peer) {
      const y = bytesToBig(peer);
      if (y <= 1n || y >= p - 1n) throw new DhError("INVALID_PUBLIC_VALUE", "MODP peer value outside (1, p-1)");
      const z = modPow(y, bytesToBig(priv), p, bits);
      if (z === 1n) throw new DhError("INVALID_PUBLIC_VALUE", "MODP shared secret is 1");
      return bigToBytes(z, bytes);
    },
  };
}

/**
 * Left-to-right fixed 4-bit windows over all `bits` of the exponent, multiplying by table[0] = 1
 * for zero digits, so the sequence of BigInt operations does not depend on the exponent's value.
 */
function modPow(base: bigint, exponent: bigint, m: bigint, bits: number): bigint {
  const W = 4;
  const digitMask = (1n << BigInt(W)) - 1n;
  const table: bigint[] = [1n, base % m];
  for (let i = 2; i < 1 << W; i++) table.push((table[i - 1]! * table[1]!) % m);
  const windows = Math.ceil(bits / W);
  let r = 1n;
  for (let w = windows - 1; w >= 0; w--) {
    for (let k = 0; k < W; k++) r = (r * r) % m;
    const digit = Number((exponent >> BigInt(w * W)) & digitMask);
    r = (r * table[digit]!) % m;
  }
  return r;
}

function modp(hex: string): ModpParams {
  return { p: BigInt("0x" + hex), bytes: hex.length / 2 };
}

// RFC 3526 §3 (group 14), §4 (group 15), §5 (group 16).
const MODP_2048 = modp(
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
);

const MODP_3072 = modp(
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33" +
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864" +
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2" +
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

const MODP_4096 = modp(
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33" +
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864" +
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2" +
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7" +
    "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8" +
    "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2" +
    "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9" +
    "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF",
);

// ---------------------------------------------------------------------------------------------
// Byte helpers (big-endian, as every IKE DH format except X25519/X448 is).

function bytesToBig(bytes: Uint8Array): bigint {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex.length === 0 ? 0n : BigInt("0x" + hex);
}

function bigToBytes(value: bigint, length: number): Uint8Array {
  const hex = value.toString(16).padStart(length * 2, "0");
  if (hex.length > length * 2) throw new Error(`value does not fit in ${length} bytes`);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
