/// <reference path="../wasm/web-globals.d.ts" preserve="true" />
/**
 * IKE_AUTH with signatures: RFC 7427 Digital Signature (method 14) and the classic methods
 * RSA (1, PKCS#1 v1.5 with SHA-1, RFC 7296 §3.8) and ECDSA (9/10/11, RFC 4754: r||s). Private
 * keys are WebCrypto keys imported from PEM. Scheme choice follows strongSwan's
 * pubkey_authenticator so a strongSwan 5.9 peer accepts what we send and we accept what it sends.
 * @module
 */
import {
  Tag,
  contextTag,
  decodeOid,
  decodeUnsigned,
  encodeNull,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsigned,
  readChildren,
  readOne,
} from "./asn1.ts";
import type { Tlv } from "./asn1.ts";
import { AuthMethod } from "./message.ts";
import { CertError, SigOid, ecdsaRawToDer, parseSignatureAlgorithm, pemBlocks, verifyWithCertificate } from "./x509.ts";
import type { Certificate, Curve, Hash, SignatureScheme } from "./x509.ts";
import { byteAt } from "../packet/bytes.ts";

/** Hash algorithm ids of the SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4, IANA; 5 "Identity" is RFC 8420). */
export const SignatureHash = { SHA1: 1, SHA2_256: 2, SHA2_384: 3, SHA2_512: 4, IDENTITY: 5 } as const;

/**
 * What we announce in our SIGNATURE_HASH_ALGORITHMS notify: SHA2-256/384/512, plus Identity (5)
 * because RFC 8420 §2 requires it for Ed25519, which we verify. SHA-1 is left out (RFC 8247 §3.2).
 */
export const SUPPORTED_HASHES: number[] = [2, 3, 4, 5];

/** RFC 7427 hash ids this side signs with. */
type HashId = 1 | 2 | 3 | 4;
const HASH_BY_ID: Record<HashId, Hash> = { 1: "SHA-1", 2: "SHA-256", 3: "SHA-384", 4: "SHA-512" };
const HASH_LEN: Record<Hash, number> = { "SHA-1": 20, "SHA-256": 32, "SHA-384": 48, "SHA-512": 64 };
const HASH_OID: Record<Hash, string> = {
  "SHA-1": "1.3.14.3.2.26",
  "SHA-256": "2.16.840.1.101.3.4.2.1",
  "SHA-384": "2.16.840.1.101.3.4.2.2",
  "SHA-512": "2.16.840.1.101.3.4.2.3",
};

function fromHex(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
}

/**
 * AlgorithmIdentifier encodings we put in RFC 7427 AUTH data: RFC 7427 Appendix A.1 (RSA
 * PKCS#1 v1.5, parameters NULL), Appendix A.3 (ECDSA, no parameters), RFC 8420 §2 (Ed25519).
 */
export const ALGORITHM_IDENTIFIERS: Record<string, Uint8Array> = {
  sha1WithRSAEncryption: fromHex("300d06092a864886f70d0101050500"),
  sha256WithRSAEncryption: fromHex("300d06092a864886f70d01010b0500"),
  sha384WithRSAEncryption: fromHex("300d06092a864886f70d01010c0500"),
  sha512WithRSAEncryption: fromHex("300d06092a864886f70d01010d0500"),
  "ecdsa-with-SHA1": fromHex("300906072a8648ce3d0401"),
  "ecdsa-with-SHA256": fromHex("300a06082a8648ce3d040302"),
  "ecdsa-with-SHA384": fromHex("300a06082a8648ce3d040303"),
  "ecdsa-with-SHA512": fromHex("300a06082a8648ce3d040304"),
  Ed25519: fromHex("300506032b6570"),
};

/**
 * RSASSA-PSS AlgorithmIdentifier with `hash`, MGF1 with the same hash and a salt of the hash
 * length, as strongSwan writes it (signature_params.c): DER, so the default trailerField is
 * omitted (RFC 4055 §3.1). For SHA-256 this is RFC 7427 Appendix A.4.3 minus the trailerField,
 * 67 bytes; strongSwan accepts both forms and so does {@link verifyAuth}.
 */
export function pssAlgorithmIdentifier(hash: Hash): Uint8Array {
  const hashAlg = encodeSequence(encodeOid(HASH_OID[hash]), encodeNull());
  return encodeSequence(
    encodeOid(SigOid.RSASSA_PSS),
    encodeSequence(
      encodeTlv(contextTag(0, true), hashAlg),
      encodeTlv(contextTag(1, true), encodeSequence(encodeOid(SigOid.MGF1), hashAlg)),
      encodeTlv(contextTag(2, true), encodeUnsigned(HASH_LEN[hash])),
    ),
  );
}

/** A private key that cannot be read or used, with one sentence saying why. */
export class KeyError extends Error {
  override readonly name = "KeyError";
}

/** A signing key. WebCrypto binds an RSA key to one padding and hash, so other RSA schemes re-import `pkcs8`. */
export interface PrivateKey {
  alg: "rsa" | "ec" | "ed25519";
  curve?: Curve;
  /** RSA modulus size in bits. */
  rsaBits?: number;
  /** The key as PKCS#8 DER. */
  pkcs8: Uint8Array;
  /** ECDSA or Ed25519 signing key; for RSA the RSASSA-PKCS1-v1_5/SHA-256 key. */
  key: CryptoKey;
}

const OID_RSA = "1.2.840.113549.1.1.1";
const OID_EC = "1.2.840.10045.2.1";
const CURVES: Record<string, Curve> = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
  "1.3.132.0.35": "P-521",
};

function der(r: ReturnType<typeof readOne>, what: string): Tlv {
  if (!r.ok) throw new KeyError(`${what}: ${r.error.message}`);
  return r.value;
}

function kids(t: Tlv, what: string): Tlv[] {
  const r = readChildren(t);
  if (!r.ok || t.tag !== Tag.SEQUENCE) throw new KeyError(`${what} is not a DER SEQUENCE`);
  return r.value;
}

function oidOf(t: Tlv | undefined, what: string): string {
  const r = t ? decodeOid(t) : undefined;
  if (!r?.ok) throw new KeyError(`${what} is missing or not an OID`);
  return r.value;
}

function modulusBits(rsaPrivateKey: Uint8Array): number {
  const [, n] = kids(der(readOne(rsaPrivateKey), "RSAPrivateKey"), "RSAPrivateKey");
  const m = n ? decodeUnsigned(n) : undefined;
  if (!m?.ok) throw new KeyError("RSAPrivateKey has no modulus");
  return m.value.length * 8 - Math.clz32(byteAt(m.value, 0)) + 24;
}

/** PKCS#1 RSAPrivateKey or SEC1 ECPrivateKey wrapped into a PKCS#8 PrivateKeyInfo (RFC 5208, RFC 5915 §2). */
function wrapLegacy(label: string, inner: Uint8Array): Uint8Array {
  if (label === "RSA PRIVATE KEY") {
    return encodeSequence(
      encodeUnsigned(0),
      encodeSequence(encodeOid(OID_RSA), encodeNull()),
      encodeOctetString(inner),
    );
  }
  const fields = kids(der(readOne(inner), "ECPrivateKey"), "ECPrivateKey");
  const params = fields.find((f) => f.tag === contextTag(0, true));
  const curveT = params ? readOne(params.value, Tag.OID) : undefined;
  if (!curveT?.ok) throw new KeyError("EC PRIVATE KEY does not name its curve (no [0] parameters)");
  return encodeSequence(
    encodeUnsigned(0),
    encodeSequence(encodeOid(OID_EC), curveT.value.raw),
    encodeOctetString(inner),
  );
}

/**
 * Import a private key from PEM: PKCS#8 "PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY" or SEC1 "EC
 * PRIVATE KEY" (the legacy forms are wrapped into PKCS#8 first, since that is what WebCrypto
 * reads). RSA, ECDSA on P-256/P-384/P-521 and Ed25519. Encrypted keys are refused with a KeyError.
 */
export async function importPrivateKeyPem(pem: string): Promise<PrivateKey> {
  let blocks: { label: string; der: Uint8Array }[];
  try {
    blocks = pemBlocks(pem);
  } catch (e) {
    throw new KeyError(e instanceof CertError ? `private key: ${e.message}` : "private key PEM is damaged");
  }
  if (blocks.some((b) => b.label === "ENCRYPTED PRIVATE KEY"))
    throw new KeyError("encrypted private keys are not supported; decrypt with `openssl pkey` first");
  const block = blocks.find((b) => ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"].includes(b.label));
  if (!block) throw new KeyError("no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block in the PEM text");
  const pkcs8 = block.label === "PRIVATE KEY" ? block.der : wrapLegacy(block.label, block.der);
  const [version, algT, keyT] = kids(der(readOne(pkcs8), "PrivateKeyInfo"), "PrivateKeyInfo");
  if (!version || !algT || !keyT || keyT.tag !== Tag.OCTET_STRING) throw new KeyError("PrivateKeyInfo is incomplete");
  const [oidT, paramT] = kids(algT, "privateKeyAlgorithm");
  const oid = oidOf(oidT, "privateKeyAlgorithm");
  const subtle = globalThis.crypto.subtle;
  const bytes = pkcs8.slice();
  try {
    if (oid === OID_RSA) {
      const key = await subtle.importKey("pkcs8", bytes, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, [
        "sign",
      ]);
      return { alg: "rsa", rsaBits: modulusBits(keyT.value), pkcs8: bytes, key };
    }
    if (oid === OID_EC) {
      const curve = CURVES[oidOf(paramT, "EC curve")];
      if (!curve)
        throw new KeyError(`EC curve ${oidOf(paramT, "EC curve")} is not supported (P-256, P-384 and P-521 are)`);
      const key = await subtle.importKey("pkcs8", bytes, { name: "ECDSA", namedCurve: curve }, false, ["sign"]);
      return { alg: "ec", curve, pkcs8: bytes, key };
    }
    if (oid === SigOid.ED25519) {
      const key = await subtle.importKey("pkcs8", bytes, { name: "Ed25519" }, false, ["sign"]);
      return { alg: "ed25519", pkcs8: bytes, key };
    }
  } catch (e) {
    if (e instanceof KeyError) throw e;
    throw new KeyError(`WebCrypto refused the private key: ${e instanceof Error ? e.message : String(e)}`);
  }
  throw new KeyError(`private key algorithm ${oid} is not supported (RSA, ECDSA and Ed25519 are)`);
}

const rsaKeys = new WeakMap<PrivateKey, Map<string, Promise<CryptoKey>>>();

function rsaKey(key: PrivateKey, pss: boolean, hash: Hash): Promise<CryptoKey> {
  if (!pss && hash === "SHA-256") return Promise.resolve(key.key);
  let m = rsaKeys.get(key);
  if (!m) rsaKeys.set(key, (m = new Map()));
  const id = `${pss ? "pss" : "pkcs1"}/${hash}`;
  let p = m.get(id);
  if (!p) {
    p = globalThis.crypto.subtle.importKey(
      "pkcs8",
      key.pkcs8.slice(),
      { name: pss ? "RSA-PSS" : "RSASSA-PKCS1-v1_5", hash },
      false,
      ["sign"],
    );
    m.set(id, p);
  }
  return p;
}

/** A signing plan: AUTH method, scheme, and for method 14 the AlgorithmIdentifier to send. */
interface Plan {
  method: number;
  scheme: SignatureScheme;
  algId?: Uint8Array;
}

const CLASSIC_EC: Record<number, { curve: Curve; hash: Hash }> = {
  [AuthMethod.ECDSA_256]: { curve: "P-256", hash: "SHA-256" },
  [AuthMethod.ECDSA_384]: { curve: "P-384", hash: "SHA-384" },
  [AuthMethod.ECDSA_521]: { curve: "P-521", hash: "SHA-512" },
};

function keyName(key: PrivateKey): string {
  return key.alg === "ec" ? `${key.curve} ECDSA` : key.alg === "rsa" ? `RSA-${key.rsaBits}` : "Ed25519";
}

function classicPlan(key: PrivateKey, method: number): Plan {
  if (method === AuthMethod.RSA_SIG) {
    if (key.alg !== "rsa") throw new KeyError(`auth method 1 (RSA signature) needs an RSA key, not ${keyName(key)}`);
    return { method, scheme: { name: "sha1WithRSAEncryption", key: "rsa", hash: "SHA-1" } };
  }
  const ec = CLASSIC_EC[method];
  if (!ec) throw new KeyError(`auth method ${method} is not a signature method`);
  if (key.alg !== "ec" || key.curve !== ec.curve)
    throw new KeyError(
      `auth method ${method} (ECDSA with ${ec.hash} on ${ec.curve}) needs a ${ec.curve} key, not ${keyName(key)}`,
    );
  return { method, scheme: { name: `ecdsa-with-${ec.hash.replace("-", "")}`, key: "ec", hash: ec.hash } };
}

/** Hash ids in strongSwan's order for a key (signature_schemes_for_key: strongest first that fits the key size). */
function hashOrder(key: PrivateKey): HashId[] {
  if (key.alg === "ec") return key.curve === "P-256" ? [2, 3, 4] : key.curve === "P-384" ? [3, 4] : [4];
  const bits = key.rsaBits ?? 2048;
  return bits <= 3072 ? [2, 3, 4] : bits <= 7680 ? [3, 4] : [4];
}

function digitalSignaturePlan(key: PrivateKey, peerHashes: number[] | undefined, rsaPss: boolean): Plan {
  const peerOk = (id: number): boolean => peerHashes === undefined || peerHashes.includes(id);
  const method = AuthMethod.DIGITAL_SIGNATURE;
  if (key.alg === "ed25519") {
    if (!peerOk(SignatureHash.IDENTITY))
      throw new KeyError("the peer did not announce the Identity hash (5) that Ed25519 needs (RFC 8420)");
    return { method, scheme: { name: "Ed25519", key: "ed25519" }, algId: ALGORITHM_IDENTIFIERS.Ed25519 };
  }
  const order = hashOrder(key);
  const candidates: { pss: boolean; id: HashId }[] = [];
  if (key.alg === "rsa") {
    if (rsaPss) candidates.push(...order.map((id) => ({ pss: true, id })));
    candidates.push(...order.map((id) => ({ pss: false, id })));
    // strongSwan then tries PKCS#1 down to what classic authentication would use.
    for (const id of [3, 2, 1] as const) if (!order.includes(id)) candidates.push({ pss: false, id });
  } else {
    candidates.push(...order.map((id) => ({ pss: false, id })));
  }
  const pick = candidates.find((c) => peerOk(c.id));
  if (!pick) {
    throw new KeyError(
      `the peer's SIGNATURE_HASH_ALGORITHMS [${peerHashes!.join(", ")}] has no hash we use with a ${keyName(key)} key [${candidates.map((c) => c.id).join(", ")}]`,
    );
  }
  const hash = HASH_BY_ID[pick.id];
  if (key.alg === "ec") {
    const name = `ecdsa-with-${hash.replace("-", "")}`;
    return { method, scheme: { name, key: "ec", hash }, algId: ALGORITHM_IDENTIFIERS[name] };
  }
  if (pick.pss) {
    return {
      method,
      scheme: { name: `RSASSA-PSS with ${hash}`, key: "rsa", hash, pssSaltLength: HASH_LEN[hash] },
      algId: pssAlgorithmIdentifier(hash),
    };
  }
  const name = `${hash.replace("-", "").toLowerCase()}WithRSAEncryption`;
  return { method, scheme: { name, key: "rsa", hash }, algId: ALGORITHM_IDENTIFIERS[name] };
}

/**
 * Sign the IKE AUTH octets (RFC 7296 §2.15). Without `method`: RFC 7427 Digital Signature (14)
 * when the peer sent SIGNATURE_HASH_ALGORITHMS (`peerHashes`), else the classic method for the
 * key (1 for RSA, 9/10/11 by curve), as strongSwan does. For method 14 the AUTH data is a
 * length octet, the AlgorithmIdentifier and the signature (ECDSA as DER Ecdsa-Sig-Value); the
 * hash is the first the peer supports in strongSwan's order for the key (P-256: SHA2-256,
 * then 384, 512; RSA up to 3072 bits: SHA2-256, 384, 512, then PKCS#1 SHA-384, SHA-256, SHA-1).
 * `rsaPss` prefers RSASSA-PSS (salt = hash length) for RSA keys. Throws KeyError when the key
 * cannot serve the requested method or no hash is shared.
 */
export async function signAuth(
  key: PrivateKey,
  octets: Uint8Array,
  opts: { peerHashes?: number[]; method?: 14 | 1 | 9 | 10 | 11; rsaPss?: boolean },
): Promise<{ method: number; data: Uint8Array }> {
  const method = opts.method ?? (opts.peerHashes?.length ? AuthMethod.DIGITAL_SIGNATURE : undefined);
  let plan: Plan;
  if (method === AuthMethod.DIGITAL_SIGNATURE) {
    plan = digitalSignaturePlan(key, opts.peerHashes?.length ? opts.peerHashes : undefined, opts.rsaPss ?? false);
  } else if (method !== undefined) {
    plan = classicPlan(key, method);
  } else if (key.alg === "rsa") {
    plan = classicPlan(key, AuthMethod.RSA_SIG);
  } else if (key.alg === "ec") {
    plan = classicPlan(key, { "P-256": 9, "P-384": 10, "P-521": 11 }[key.curve!]);
  } else {
    throw new KeyError(
      "Ed25519 has no classic auth method; the peer must announce SIGNATURE_HASH_ALGORITHMS with Identity (5)",
    );
  }
  const s = plan.scheme;
  const subtle = globalThis.crypto.subtle;
  const data = octets.slice();
  let sig: Uint8Array;
  if (s.key === "ec") {
    sig = new Uint8Array(await subtle.sign({ name: "ECDSA", hash: s.hash! }, key.key, data));
    if (plan.algId) sig = ecdsaRawToDer(sig);
  } else if (s.key === "ed25519") {
    sig = new Uint8Array(await subtle.sign({ name: "Ed25519" }, key.key, data));
  } else {
    const pss = s.pssSaltLength !== undefined;
    const k = await rsaKey(key, pss, s.hash!);
    sig = new Uint8Array(
      await subtle.sign(
        pss ? { name: "RSA-PSS", saltLength: s.pssSaltLength! } : { name: "RSASSA-PKCS1-v1_5" },
        k,
        data,
      ),
    );
  }
  if (!plan.algId) return { method: plan.method, data: sig };
  const out = new Uint8Array(1 + plan.algId.length + sig.length);
  out[0] = plan.algId.length;
  out.set(plan.algId, 1);
  out.set(sig, 1 + plan.algId.length);
  return { method: plan.method, data: out };
}

/**
 * Verify a peer's AUTH payload (method and data) over the AUTH octets with the public key of
 * its certificate. Method 14 (RFC 7427): any scheme {@link parseSignatureAlgorithm} knows, with
 * the key type it needs; like strongSwan, any ECDSA hash is accepted on any curve. Methods 1
 * and 9/10/11: PKCS#1 v1.5 SHA-1, and ECDSA r||s with the curve and hash the method fixes.
 */
export async function verifyAuth(
  cert: Certificate,
  method: number,
  data: Uint8Array,
  octets: Uint8Array,
): Promise<{ ok: true; scheme: string } | { ok: false; reason: string }> {
  let scheme: SignatureScheme;
  let sig: Uint8Array;
  let raw = false;
  if (method === AuthMethod.DIGITAL_SIGNATURE) {
    if (data.length < 1 || 1 + byteAt(data, 0) > data.length)
      return { ok: false, reason: "RFC 7427 AUTH data is shorter than its AlgorithmIdentifier length octet says" };
    const parsed = parseSignatureAlgorithm(data.subarray(1, 1 + byteAt(data, 0)));
    if (typeof parsed === "string") return { ok: false, reason: parsed };
    scheme = parsed;
    sig = data.subarray(1 + byteAt(data, 0));
  } else if (method === AuthMethod.RSA_SIG) {
    scheme = { name: "sha1WithRSAEncryption", key: "rsa", hash: "SHA-1" };
    sig = data;
  } else if (CLASSIC_EC[method]) {
    const ec = CLASSIC_EC[method];
    const have =
      cert.publicKeyAlg === "ec" ? cert.curve : cert.publicKeyAlg === "rsa" ? `RSA-${cert.rsaBits}` : "Ed25519";
    if (have !== ec.curve)
      return {
        ok: false,
        reason: `auth method ${method} (ECDSA with ${ec.hash} on ${ec.curve}) does not match the certificate's ${have} key`,
      };
    scheme = { name: `ecdsa-with-${ec.hash.replace("-", "")}`, key: "ec", hash: ec.hash };
    sig = data;
    raw = true;
  } else {
    return { ok: false, reason: `auth method ${method} is not a signature method (1, 9, 10, 11 and 14 are)` };
  }
  const r = await verifyWithCertificate(cert, scheme, octets, sig, raw);
  return r === true ? { ok: true, scheme: scheme.name } : { ok: false, reason: r };
}
