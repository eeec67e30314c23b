/**
 * Native Diffie-Hellman for sdk/ike/dh.ts: the runtime's node:crypto (OpenSSL in Node, Deno's and
 * Bun's own bindings), reached with `globalThis.process.getBuiltinModule("crypto")` (the bare id: the
 * workerd consumer test refuses any quoted node-prefixed specifier in a worker bundle) at run
 * time, so that this module imports no node-prefixed module and loads in workerd and browsers, where
 * nativeBackend() returns undefined and dh.ts uses its pure-JS code.
 *
 * Timing: OpenSSL's X25519/X448 (Montgomery ladder), its EC scalar multiplication (P-256 nistz256,
 * the generic ladder for the other curves) and DH (BN_mod_exp_mont_consttime on the private
 * exponent) are constant time. The checks here compare public values only.
 *
 * Private keys: drawn by dh.ts's own rules (so a caller's RNG is honoured), handed to the native
 * object once, and the JS bytes zeroed at once. The native object (KeyObject, ECDH, DiffieHellman)
 * keeps the key outside the JS heap; OpenSSL clears it when the object is freed after wipe() drops
 * it and the garbage collector runs. X25519/X448 keys go in as a JWK (OpenSSL's PKCS#8 decoder costs
 * 0.5 ms per key), so their base64url text is on the JS heap until collected, like the BigInts of
 * the pure-JS code.
 *
 * Each group is used only after a known-answer test against the pure-JS code passes in this
 * runtime (a runtime whose node:crypto lacks a curve, or gets it wrong, falls back to JS).
 * @module
 */
import { DhError, type Backend, type JsBackend, type ShareState } from "./dh-types.ts";

/** The part of a node:crypto KeyObject used here. */
interface KeyObjectLike {
  export(o: { format: "jwk" }): { x?: string };
}
/** The part of node:crypto's ECDH used here. */
interface EcdhLike {
  setPrivateKey(k: Uint8Array): void;
  getPublicKey(): Uint8Array;
  computeSecret(peer: Uint8Array): Uint8Array;
}
/** The part of node:crypto's DiffieHellman used here. */
interface ModpLike {
  setPrivateKey(k: Uint8Array): void;
  generateKeys(): Uint8Array;
  getPublicKey(): Uint8Array;
  getPrime(): Uint8Array;
  computeSecret(peer: Uint8Array): Uint8Array;
}
/** The part of node:crypto used here. */
interface NodeCryptoLike {
  createPrivateKey(o: { key: object; format: "jwk" }): KeyObjectLike;
  createPublicKey(o: KeyObjectLike | { key: object; format: "jwk" }): KeyObjectLike;
  diffieHellman(o: { privateKey: KeyObjectLike; publicKey: KeyObjectLike }): Uint8Array;
  createECDH(curve: string): EcdhLike;
  createDiffieHellman(prime: Uint8Array, generator: number): ModpLike;
  getDiffieHellman(name: string): ModpLike;
  getCurves(): string[];
}
/** The part of node:buffer used here (base64url). */
interface BufferLike {
  from(b: ArrayBufferLike, offset: number, length: number): { toString(enc: "base64url"): string };
  from(s: string, enc: "base64url"): Uint8Array;
}

type NativeSpec =
  | { kind: "xdh"; crv: "X25519" | "X448"; size: number }
  | { kind: "ec"; curve: string }
  | { kind: "modp"; name: string; bytes: number };

const SPECS: Readonly<Record<number, NativeSpec>> = {
  31: { kind: "xdh", crv: "X25519", size: 32 },
  32: { kind: "xdh", crv: "X448", size: 56 },
  19: { kind: "ec", curve: "prime256v1" },
  20: { kind: "ec", curve: "secp384r1" },
  21: { kind: "ec", curve: "secp521r1" },
  28: { kind: "ec", curve: "brainpoolP256r1" },
  29: { kind: "ec", curve: "brainpoolP384r1" },
  30: { kind: "ec", curve: "brainpoolP512r1" },
  14: { kind: "modp", name: "modp14", bytes: 256 },
  15: { kind: "modp", name: "modp15", bytes: 384 },
  16: { kind: "modp", name: "modp16", bytes: 512 },
};

interface Runtime {
  nc: NodeCryptoLike;
  buf: BufferLike;
}

let runtime: Runtime | null | undefined;

/** node:crypto and node:buffer of this runtime, or null (workerd, browsers, Node < 20.16). */
function getRuntime(): Runtime | null {
  if (runtime !== undefined) return runtime;
  runtime = null;
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    const nc = proc?.getBuiltinModule?.("crypto") as NodeCryptoLike | undefined;
    const buf = (proc?.getBuiltinModule?.("buffer") as { Buffer?: BufferLike } | undefined)?.Buffer;
    if (nc && buf && typeof nc.diffieHellman === "function" && typeof nc.createECDH === "function")
      runtime = { nc, buf };
  } catch {
    runtime = null;
  }
  return runtime;
}

/** Known-answer test results per group (a runtime does not change its mind). */
const verified = new Map<number, boolean>();

/**
 * A native backend for `group`, or undefined when the runtime has no node:crypto, lacks the group,
 * or fails the known-answer test. `js` supplies the private key sampling and the reference answers.
 */
export function nativeBackend(group: number, js: JsBackend): Backend | undefined {
  const spec = SPECS[group];
  const rt = getRuntime();
  if (!spec || !rt) return undefined;
  let backend: Backend;
  try {
    backend = makeBackend(rt, spec, js);
  } catch {
    verified.set(group, false);
    return undefined;
  }
  let ok = verified.get(group);
  if (ok === undefined) {
    ok = selfTest(backend, spec, js);
    verified.set(group, ok);
  }
  return ok ? backend : undefined;
}

function makeBackend(rt: Runtime, spec: NativeSpec, js: JsBackend): Backend {
  const { nc, buf } = rt;
  const b64 = (u: Uint8Array): string => buf.from(u.buffer, u.byteOffset, u.length).toString("base64url");
  if (spec.kind === "xdh") {
    const { crv } = spec;
    return {
      impl: "native",
      newShare(randomBytes): ShareState {
        const priv = js.newPrivate(randomBytes);
        let key: KeyObjectLike | undefined;
        try {
          key = nc.createPrivateKey({ key: { kty: "OKP", crv, d: b64(priv), x: "" }, format: "jwk" });
        } finally {
          priv.fill(0);
        }
        const x = nc.createPublicKey(key).export({ format: "jwk" }).x ?? "";
        return {
          publicValue: Uint8Array.from(buf.from(x, "base64url")),
          secretOf(peer) {
            if (!key) throw new Error("key share was wiped");
            const publicKey = nc.createPublicKey({ key: { kty: "OKP", crv, x: b64(peer) }, format: "jwk" });
            let z: Uint8Array;
            try {
              z = nc.diffieHellman({ privateKey: key, publicKey });
            } catch {
              // OpenSSL refuses exactly the all-zero result (RFC 7748 §6.1); RFC 8031 §2 words it so.
              throw new DhError("ZERO_SHARED_SECRET", "peer value is a low-order point (all-zero shared secret)");
            }
            return takeSecret(z, z.length, (s) => {
              if (s.every((v) => v === 0)) throw new DhError("ZERO_SHARED_SECRET", "all-zero shared secret");
            });
          },
          wipe() {
            key = undefined;
          },
        };
      },
    };
  }
  if (spec.kind === "ec") {
    const { curve } = spec;
    if (!nc.getCurves().includes(curve)) throw new Error(`${curve} not in this runtime`);
    return {
      impl: "native",
      newShare(randomBytes): ShareState {
        const priv = js.newPrivate(randomBytes);
        let ecdh: EcdhLike | undefined = nc.createECDH(curve);
        try {
          ecdh.setPrivateKey(priv);
        } finally {
          priv.fill(0);
        }
        const pub = ecdh.getPublicKey();
        return {
          publicValue: Uint8Array.from(pub.subarray(1)),
          secretOf(peer) {
            if (!ecdh) throw new Error("key share was wiped");
            // RFC 6989 §2.3: OpenSSL decodes the uncompressed point and refuses coordinates >= p and
            // points off the curve; the cofactor of all six curves is 1, so that is the subgroup check.
            const q = new Uint8Array(peer.length + 1);
            q[0] = 4;
            q.set(peer, 1);
            let z: Uint8Array;
            try {
              z = ecdh.computeSecret(q);
            } catch (e) {
              throw new DhError("INVALID_PUBLIC_VALUE", `peer point rejected: ${(e as Error).message}`);
            }
            return takeSecret(z, peer.length / 2, () => {});
          },
          wipe() {
            ecdh = undefined;
          },
        };
      },
    };
  }
  const { bytes } = spec;
  const prime = Uint8Array.from(nc.getDiffieHellman(spec.name).getPrime());
  if (prime.length !== bytes) throw new Error(`${spec.name}: unexpected prime length`);
  const pMinus1 = prime.slice();
  pMinus1[bytes - 1] = pMinus1[bytes - 1]! - 1; // p is odd
  return {
    impl: "native",
    newShare(randomBytes): ShareState {
      const priv = js.newPrivate(randomBytes);
      let dh: ModpLike | undefined = nc.createDiffieHellman(prime, 2);
      try {
        dh.setPrivateKey(priv);
      } finally {
        priv.fill(0);
      }
      dh.generateKeys(); // with a private key set, OpenSSL only computes g^x
      return {
        publicValue: fit(dh.getPublicKey(), bytes),
        secretOf(peer) {
          if (!dh) throw new Error("key share was wiped");
          // RFC 6989 §2.1: 1 < y < p-1.
          if (isAtMostOne(peer) || compareBe(peer, pMinus1) >= 0)
            throw new DhError("INVALID_PUBLIC_VALUE", "MODP peer value outside (1, p-1)");
          let z: Uint8Array;
          try {
            z = dh.computeSecret(peer);
          } catch (e) {
            throw new DhError("INVALID_PUBLIC_VALUE", `MODP peer value rejected: ${(e as Error).message}`);
          }
          return takeSecret(z, bytes, (s) => {
            if (isAtMostOne(s)) throw new DhError("INVALID_PUBLIC_VALUE", "MODP shared secret is 1");
          });
        },
        wipe() {
          dh = undefined;
        },
      };
    },
  };
}

/** Copies the native secret into a plain Uint8Array of `len` bytes (left-padded), wipes the original, then checks it. */
function takeSecret(z: Uint8Array, len: number, check: (s: Uint8Array) => void): Uint8Array {
  let out: Uint8Array;
  try {
    out = fit(z, len);
  } finally {
    z.fill(0);
  }
  try {
    check(out);
  } catch (e) {
    out.fill(0);
    throw e;
  }
  return out;
}

/** Big-endian value left-padded (leading zero bytes stripped) to exactly n bytes, as a new array. */
function fit(b: Uint8Array, n: number): Uint8Array {
  let start = 0;
  while (b.length - start > n && b[start] === 0) start++;
  if (b.length - start > n) throw new Error(`value of ${b.length} bytes does not fit in ${n}`);
  const out = new Uint8Array(n);
  out.set(b.subarray(start), n - (b.length - start));
  return out;
}

function isAtMostOne(b: Uint8Array): boolean {
  for (let i = 0; i < b.length - 1; i++) if (b[i] !== 0) return false;
  return (b[b.length - 1] ?? 0) <= 1;
}

/** Compares two big-endian numbers of the same length. */
function compareBe(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

/** Deterministic bytes for the self-test (the keys are public). */
function patternRandom(seed: number): (n: number) => Uint8Array {
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (seed * 31 + i * 17 + 5) & 0xff;
    out[0] = out[0]! & 0x7f;
    return out;
  };
}

/** Native and pure JS agree on g^a and on g^ab (MODP: 2^2 = 4 and 3^2 = 9, which needs no BigInt). */
function selfTest(native: Backend, spec: NativeSpec, js: JsBackend): boolean {
  try {
    if (spec.kind === "modp") {
      const two = (v: number) => () => {
        const b = new Uint8Array(spec.bytes);
        b[spec.bytes - 1] = v;
        return b;
      };
      const s = native.newShare(two(2));
      const ok = s.publicValue[spec.bytes - 1] === 4 && isAtMostOne(s.publicValue.subarray(0, spec.bytes - 1));
      const peer = new Uint8Array(spec.bytes);
      peer[spec.bytes - 1] = 3;
      const z = s.secretOf(peer);
      s.wipe();
      return ok && z[spec.bytes - 1] === 9 && isAtMostOne(z.subarray(0, spec.bytes - 1));
    }
    const a = native.newShare(patternRandom(1));
    const b = native.newShare(patternRandom(2));
    const privA = js.newPrivate(patternRandom(1));
    const ok =
      equal(a.publicValue, js.publicOf(privA)) && equal(a.secretOf(b.publicValue), js.secretOf(privA, b.publicValue));
    privA.fill(0);
    a.wipe();
    b.wipe();
    return ok;
  } catch {
    return false;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
