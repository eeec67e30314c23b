/**
 * IKEv2 key derivation (RFC 7296 §2.13, §2.14, §2.17, §2.18): prf, prf+, SKEYSEED, the seven
 * IKE SA keys and Child SA KEYMAT. Every PRF is HMAC run in the wasm (ControlCrypto), which wipes
 * its scratch memory after each call.
 *
 * Key hygiene: every intermediate buffer here that held secret material (SKEYSEED, each prf+ block
 * T1..Tn and the input that carries it, KEYMAT, the DH secret's concatenations) is zeroed before
 * the function returns, so only the keys handed to the caller remain; callers zero those when the
 * SA goes (IkeSa.destroy, the Child SA install).
 * @module
 */
import { secretPiece, type ControlCrypto } from "../dataplane/control-crypto.ts";
import { HashAlg } from "../dataplane/suites.ts";
import { byteAt } from "../packet/bytes.ts";

/** PRF transform ids (IANA "Transform Type 2") to the wasm hash and output length. */
export const PRF_HASH: Record<number, { alg: HashAlg; bytes: number }> = {
  2: { alg: HashAlg.Sha1, bytes: 20 },
  5: { alg: HashAlg.Sha256, bytes: 32 },
  6: { alg: HashAlg.Sha384, bytes: 48 },
  7: { alg: HashAlg.Sha512, bytes: 64 },
};

/** The negotiated PRF bound to the crypto engine. */
export interface Prf {
  readonly id: number;
  /** Output (and preferred key) length in bytes. */
  readonly bytes: number;
  mac(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** prf+ in one call (ControlCrypto.prfPlus); without it {@link prfPlus} runs `mac` per block. */
  plus?(key: Uint8Array, seed: Uint8Array, length: number): Uint8Array;
}

/** The Prf objects made so far, per engine and transform id (they hold no state, so SAs share them). */
const prfs = new WeakMap<ControlCrypto, Map<number, Prf>>();

/** A Prf for transform id `id` (throws for a PRF we do not implement; proposal selection never picks one). */
export function prfFor(cc: ControlCrypto, id: number): Prf {
  let byId = prfs.get(cc);
  if (!byId) prfs.set(cc, (byId = new Map()));
  const known = byId.get(id);
  if (known) return known;
  const h = PRF_HASH[id];
  if (!h) throw new Error(`PRF transform ${id} is not implemented`);
  const prf: Prf = Object.freeze({
    id,
    bytes: h.bytes,
    mac: (key: Uint8Array, data: Uint8Array) => cc.hmac(h.alg, key, data),
    plus: (key: Uint8Array, seed: Uint8Array, length: number) => cc.prfPlus(h.alg, key, seed, length),
  });
  byId.set(id, prf);
  return prf;
}

/** Concatenates byte strings (into memory that does not move: the parts may be secret). */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = secretPiece(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Concatenates public byte strings (headers, IVs, ciphertext, NAT-D input) into ordinary memory. */
export function concatPublic(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Compares two byte strings without an early exit (for MACs, cookies and NAT-D hashes). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= byteAt(a, i) ^ byteAt(b, i);
  return d === 0;
}

/** prf+ (§2.13): T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n); at most 255 rounds. */
export function prfPlus(prf: Prf, key: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  if (length > 255 * prf.bytes) throw new Error(`prf+ cannot produce ${length} bytes (max ${255 * prf.bytes})`);
  if (prf.plus) return prf.plus(key, seed, length);
  const out = secretPiece(length);
  let t = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    const input = concat(t, seed, Uint8Array.of(i));
    t.fill(0);
    t = prf.mac(key, input) as Uint8Array<ArrayBuffer>;
    input.fill(0);
    out.set(t.subarray(0, Math.min(t.length, length - at)), at);
    at += t.length;
  }
  t.fill(0);
  return out;
}

/** A copy of km[at, at + n) in memory that does not move (one key out of a KEYMAT). */
function cut(km: Uint8Array, at: number, n: number): Uint8Array {
  const k = secretPiece(n);
  k.set(km.subarray(at, at + n));
  return k;
}

/** Lengths (bytes) of the IKE SA keys, from the negotiated IKE proposal. */
export interface IkeKeyLengths {
  /** SK_ai/SK_ar (0 for AEAD). */
  integ: number;
  /** SK_ei/SK_er, including the 4-byte salt for AES-GCM (RFC 5282 §7). */
  encr: number;
}

/** The seven IKE SA keys (§2.14). */
export interface IkeKeys {
  skD: Uint8Array;
  skAi: Uint8Array;
  skAr: Uint8Array;
  skEi: Uint8Array;
  skEr: Uint8Array;
  skPi: Uint8Array;
  skPr: Uint8Array;
}

/**
 * SKEYSEED and the seven keys. For a new IKE SA `oldSkD` is absent: SKEYSEED = prf(Ni | Nr, g^ir).
 * For an IKE SA rekey (§2.18): SKEYSEED = prf(SK_d(old), g^ir(new) | Ni | Nr), with the old SA's PRF.
 */
export function deriveIkeKeys(
  prf: Prf,
  lengths: IkeKeyLengths,
  sharedSecret: Uint8Array,
  ni: Uint8Array,
  nr: Uint8Array,
  spiI: Uint8Array,
  spiR: Uint8Array,
  rekey?: { oldPrf: Prf; oldSkD: Uint8Array },
): IkeKeys {
  let skeyseed: Uint8Array;
  if (rekey) {
    const input = concat(sharedSecret, ni, nr);
    skeyseed = rekey.oldPrf.mac(rekey.oldSkD, input);
    input.fill(0);
  } else {
    skeyseed = prf.mac(concat(ni, nr), sharedSecret);
  }
  const p = prf.bytes;
  const total = p + 2 * lengths.integ + 2 * lengths.encr + 2 * p;
  const km = prfPlus(prf, skeyseed, concat(ni, nr, spiI, spiR), total);
  skeyseed.fill(0);
  const i = lengths.integ,
    e = lengths.encr;
  const keys = {
    skD: cut(km, 0, p),
    skAi: cut(km, p, i),
    skAr: cut(km, p + i, i),
    skEi: cut(km, p + 2 * i, e),
    skEr: cut(km, p + 2 * i + e, e),
    skPi: cut(km, p + 2 * i + 2 * e, p),
    skPr: cut(km, 2 * p + 2 * i + 2 * e, p),
  };
  km.fill(0);
  return keys;
}

/** Keys of one Child SA pair: i2r is what the exchange initiator sends with, r2i what it receives. */
export interface ChildKeys {
  encrI2r: Uint8Array;
  integI2r: Uint8Array;
  encrR2i: Uint8Array;
  integR2i: Uint8Array;
}

/**
 * Child SA KEYMAT (§2.17): prf+(SK_d, [g^ir (new) |] Ni | Nr) with the nonces of the exchange that
 * created it; initiator-to-responder keys first, encryption before integrity.
 */
export function deriveChildKeys(
  prf: Prf,
  skD: Uint8Array,
  ni: Uint8Array,
  nr: Uint8Array,
  lengths: { encr: number; integ: number },
  pfsSecret?: Uint8Array,
): ChildKeys {
  const seed = pfsSecret ? concat(pfsSecret, ni, nr) : concat(ni, nr);
  const km = prfPlus(prf, skD, seed, 2 * (lengths.encr + lengths.integ));
  seed.fill(0);
  const e = lengths.encr,
    i = lengths.integ;
  const keys = {
    encrI2r: cut(km, 0, e),
    integI2r: cut(km, e, i),
    encrR2i: cut(km, e + i, e),
    integR2i: cut(km, 2 * e + i, i),
  };
  km.fill(0);
  return keys;
}

const KEY_PAD = new TextEncoder().encode("Key Pad for IKEv2");

/** PSK AUTH (§2.15): prf(prf(secret, "Key Pad for IKEv2"), signed octets). */
export function pskAuth(prf: Prf, secret: Uint8Array, octets: Uint8Array): Uint8Array {
  const pad = prf.mac(secret, KEY_PAD);
  const auth = prf.mac(pad, octets);
  pad.fill(0);
  return auth;
}

/**
 * The octets an AUTH payload signs (§2.15): the sender's first message (IKE_SA_INIT as sent),
 * the peer's nonce, and prf(SK_p, the sender's ID payload body).
 */
export function authOctets(
  prf: Prf,
  firstMessage: Uint8Array,
  peerNonce: Uint8Array,
  skP: Uint8Array,
  idBody: Uint8Array,
): Uint8Array {
  return concat(firstMessage, peerNonce, prf.mac(skP, idBody));
}
