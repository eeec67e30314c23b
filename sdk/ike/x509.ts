/**
 * X.509 certificates for IKEv2 (RFC 5280 profile as RFC 7296 §3.6 and RFC 4945 use it): parsing,
 * name matching against IKE identities, signature checks with WebCrypto, and chain validation
 * (issuer/subject linkage, signatures, validity, basicConstraints, keyUsage, pathLen).
 * Revocation (CRL/OCSP), name constraints and policy processing are not implemented; a critical
 * extension we do not process makes the chain fail, as RFC 5280 §4.2 requires.
 * @module
 */
import {
  Tag,
  contextTag,
  decodeBitString,
  decodeBoolean,
  decodeOid,
  decodeSmallInt,
  decodeTime,
  decodeUnsigned,
  readChildren,
  readOne,
} from "./asn1.ts";
import type { DerResult, Tlv } from "./asn1.ts";
import { dnEquals, formatDn, identityMatches } from "./identity.ts";
import type { IkeIdentity } from "./identity.ts";
import { IdType } from "./message.ts";
import { byteAt } from "../packet/bytes.ts";

/** A certificate that cannot be parsed, with one sentence saying why. */
export class CertError extends Error {
  override readonly name = "CertError";
  /** Byte offset in the DER where the problem was found, when known. */
  readonly offset?: number;
  constructor(message: string, offset?: number) {
    super(message);
    this.offset = offset;
  }
}

/** EC curves WebCrypto can verify with. */
export type Curve = "P-256" | "P-384" | "P-521";

/** A parsed certificate. Byte fields are views into `der`. */
export interface Certificate {
  /** The whole certificate, DER. */
  der: Uint8Array;
  /** tbsCertificate, the signed bytes. */
  tbs: Uint8Array;
  subjectDer: Uint8Array;
  /** Subject DN as charon prints it ("C=CH, O=strongSwan, CN=moon"). */
  subject: string;
  issuerDer: Uint8Array;
  issuer: string;
  /** Serial number magnitude, big-endian, without DER's sign octet. */
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo, DER (what WebCrypto imports as "spki"). */
  spki: Uint8Array;
  publicKeyAlg: "rsa" | "ec" | "ed25519";
  curve?: Curve;
  /** RSA modulus size in bits. */
  rsaBits?: number;
  /** signatureAlgorithm's OID, dotted. */
  sigAlgOid: string;
  /** signatureAlgorithm, whole AlgorithmIdentifier DER (RSASSA-PSS parameters live here). */
  sigAlgDer: Uint8Array;
  /** tbsCertificate.signature; RFC 5280 §4.1.1.2 requires it equal to sigAlgDer. */
  tbsSigAlgDer: Uint8Array;
  /** signatureValue bits. */
  signature: Uint8Array;
  /** subjectAltName entries IKE can use as identities (DNS names, rfc822 names, 4- or 16-byte IPs). */
  san: { dns: string[]; email: string[]; ip: Uint8Array[] };
  /** basicConstraints cA. */
  isCa: boolean;
  /** basicConstraints pathLenConstraint. */
  pathLen?: number;
  /** keyUsage bits by RFC 5280 name ("digitalSignature", "keyCertSign", ...); undefined when absent. */
  keyUsage?: string[];
  subjectKeyId?: Uint8Array;
  authorityKeyId?: Uint8Array;
  /** OIDs of critical extensions this code does not process (chains through such a certificate fail). */
  unhandledCritical: string[];
}

/** Signature algorithm OIDs (RFC 3279, RFC 4055, RFC 5758, RFC 8410). */
export const SigOid = {
  SHA1_RSA: "1.2.840.113549.1.1.5",
  SHA256_RSA: "1.2.840.113549.1.1.11",
  SHA384_RSA: "1.2.840.113549.1.1.12",
  SHA512_RSA: "1.2.840.113549.1.1.13",
  RSASSA_PSS: "1.2.840.113549.1.1.10",
  MGF1: "1.2.840.113549.1.1.8",
  ECDSA_SHA1: "1.2.840.10045.4.1",
  ECDSA_SHA256: "1.2.840.10045.4.3.2",
  ECDSA_SHA384: "1.2.840.10045.4.3.3",
  ECDSA_SHA512: "1.2.840.10045.4.3.4",
  ED25519: "1.3.101.112",
} as const;

/** WebCrypto hash names. */
export type Hash = "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";

/** Hash algorithm OIDs (RFC 3279, RFC 5754). */
export const HASH_OID: Record<string, Hash> = {
  "1.3.14.3.2.26": "SHA-1",
  "2.16.840.1.101.3.4.2.1": "SHA-256",
  "2.16.840.1.101.3.4.2.2": "SHA-384",
  "2.16.840.1.101.3.4.2.3": "SHA-512",
};

const CURVE_OID: Record<string, Curve> = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
  "1.3.132.0.35": "P-521",
};

const KEY_USAGE = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
];

const EXT = {
  SAN: "2.5.29.17",
  BASIC_CONSTRAINTS: "2.5.29.19",
  KEY_USAGE: "2.5.29.15",
  SKI: "2.5.29.14",
  AKI: "2.5.29.35",
  EKU: "2.5.29.37",
  POLICIES: "2.5.29.32",
} as const;
// Critical extensions we accept without acting on them: EKU is not enforced for IKE (strongSwan
// does not either by default); policies are accepted as anyPolicy.
const HANDLED = new Set<string>(Object.values(EXT));

// ---- DER helpers that turn typed errors into CertError ----

function need<T>(r: DerResult<T>, what: string): T {
  if (!r.ok) throw new CertError(`${what}: ${r.error.message}`, r.error.offset);
  return r.value;
}

function children(t: Tlv, what: string, tag: number = Tag.SEQUENCE): Tlv[] {
  if (t.tag !== tag)
    throw new CertError(
      `${what} at offset ${t.offset} has tag 0x${t.tag.toString(16)}, expected 0x${tag.toString(16)}`,
      t.offset,
    );
  return need(readChildren(t), what);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---- PEM ----

/** The DER payloads of every "-----BEGIN <label>-----" block in `text` whose label matches. */
export function pemBlocks(text: string, label?: string): { label: string; der: Uint8Array }[] {
  const out: { label: string; der: Uint8Array }[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (label !== undefined && m[1] !== label) continue;
    const [, blockLabel = "", body = ""] = m; // neither group is optional: a match has both
    const b64 = body.replace(/\s+/g, "");
    // Headers such as "Proc-Type:" mark encrypted legacy PEM, which we cannot read.
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0)
      throw new CertError(`PEM block "${blockLabel}" is not plain base64 (encrypted or damaged)`);
    const bin = atob(b64);
    out.push({ label: blockLabel, der: Uint8Array.from(bin, (c) => c.charCodeAt(0)) });
  }
  return out;
}

// ---- parsing ----

function parseSpki(t: Tlv): Pick<Certificate, "spki" | "publicKeyAlg" | "curve" | "rsaBits"> {
  const [alg, key] = children(t, "subjectPublicKeyInfo");
  if (!alg || !key) throw new CertError(`subjectPublicKeyInfo at offset ${t.offset} is incomplete`, t.offset);
  const [oidT, params] = children(alg, "subjectPublicKeyInfo.algorithm");
  if (!oidT) throw new CertError(`subjectPublicKeyInfo.algorithm at offset ${alg.offset} is empty`, alg.offset);
  const oid = need(decodeOid(oidT), "public key algorithm");
  const bits = need(decodeBitString(key), "subjectPublicKey");
  if (oid === "1.2.840.113549.1.1.1") {
    const rsa = children(
      need(readOne(bits.bytes, Tag.SEQUENCE, key.offset + key.headerLength + 1), "RSAPublicKey"),
      "RSAPublicKey",
    );
    const [modulus] = rsa;
    if (rsa.length !== 2 || !modulus) throw new CertError("RSAPublicKey must hold a modulus and an exponent");
    const n = need(decodeUnsigned(modulus), "RSA modulus");
    const rsaBits = n.length * 8 - Math.clz32(byteAt(n, 0)) + 24;
    return { spki: t.raw, publicKeyAlg: "rsa", rsaBits };
  }
  if (oid === "1.2.840.10045.2.1") {
    const curveOid = params ? need(decodeOid(params), "EC curve") : "(none)";
    const curve = CURVE_OID[curveOid];
    if (!curve)
      throw new CertError(
        `EC public key on curve ${curveOid} is not supported (P-256, P-384 and P-521 are)`,
        alg.offset,
      );
    return { spki: t.raw, publicKeyAlg: "ec", curve };
  }
  if (oid === SigOid.ED25519) return { spki: t.raw, publicKeyAlg: "ed25519" };
  throw new CertError(`public key algorithm ${oid} is not supported (RSA, ECDSA and Ed25519 are)`, alg.offset);
}

interface Extensions {
  san: Certificate["san"];
  isCa: boolean;
  pathLen?: number;
  keyUsage?: string[];
  subjectKeyId?: Uint8Array;
  authorityKeyId?: Uint8Array;
  unhandledCritical: string[];
}

function parseExtensions(t: Tlv | undefined): Extensions {
  const ext: Extensions = { san: { dns: [], email: [], ip: [] }, isCa: false, unhandledCritical: [] };
  if (!t) return ext;
  const [list] = children(t, "extensions", contextTag(3, true));
  if (!list) throw new CertError(`extensions at offset ${t.offset} are empty`, t.offset);
  const seen = new Set<string>();
  for (const e of children(list, "extensions")) {
    const parts = children(e, "extension");
    const oid = need(decodeOid(parts[0] ?? e), "extension id");
    if (seen.has(oid)) throw new CertError(`extension ${oid} appears twice (RFC 5280 §4.2)`, e.offset);
    seen.add(oid);
    let critical = false;
    let valueT = parts[1];
    if (valueT && valueT.tag === Tag.BOOLEAN) {
      critical = need(decodeBoolean(valueT), "extension critical flag");
      valueT = parts[2];
    }
    if (!valueT || valueT.tag !== Tag.OCTET_STRING)
      throw new CertError(`extension ${oid} has no OCTET STRING value`, e.offset);
    const base = valueT.offset + valueT.headerLength;
    const inner = (tag?: number): Tlv => need(readOne(valueT.value, tag, base), `extension ${oid}`);
    if (!HANDLED.has(oid) && critical) ext.unhandledCritical.push(oid);
    switch (oid) {
      case EXT.SAN:
        for (const gn of children(inner(Tag.SEQUENCE), "subjectAltName")) {
          if (gn.tag === contextTag(1, false)) ext.san.email.push(latin1(gn.value));
          else if (gn.tag === contextTag(2, false)) ext.san.dns.push(latin1(gn.value));
          else if (gn.tag === contextTag(7, false)) ext.san.ip.push(gn.value);
        }
        break;
      case EXT.BASIC_CONSTRAINTS: {
        for (const f of children(inner(Tag.SEQUENCE), "basicConstraints")) {
          if (f.tag === Tag.BOOLEAN) ext.isCa = need(decodeBoolean(f), "basicConstraints cA");
          else if (f.tag === Tag.INTEGER) ext.pathLen = need(decodeSmallInt(f), "basicConstraints pathLenConstraint");
        }
        break;
      }
      case EXT.KEY_USAGE: {
        const bits = need(decodeBitString(inner(Tag.BIT_STRING)), "keyUsage");
        ext.keyUsage = KEY_USAGE.filter((_, i) => ((bits.bytes[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0);
        break;
      }
      case EXT.SKI:
        ext.subjectKeyId = inner(Tag.OCTET_STRING).value;
        break;
      case EXT.AKI:
        for (const f of children(inner(Tag.SEQUENCE), "authorityKeyIdentifier")) {
          if (f.tag === contextTag(0, false)) ext.authorityKeyId = f.value;
        }
        break;
    }
  }
  return ext;
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/**
 * Parse a certificate from DER bytes or PEM text (the first CERTIFICATE block). Throws
 * {@link CertError} with a sentence on anything malformed or unsupported; never anything else.
 */
export function parseCertificate(derOrPem: Uint8Array | string): Certificate {
  try {
    return parseUnchecked(derOrPem);
  } catch (e) {
    if (e instanceof CertError) throw e;
    // Defensive: the DER reader is total, so reaching this means a bug here, still reported typed.
    throw new CertError(`certificate could not be parsed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function parseUnchecked(derOrPem: Uint8Array | string): Certificate {
  let der: Uint8Array;
  if (typeof derOrPem === "string" || (derOrPem.length > 10 && latin1(derOrPem.subarray(0, 10)) === "-----BEGIN")) {
    const text = typeof derOrPem === "string" ? derOrPem : new TextDecoder().decode(derOrPem);
    const block = pemBlocks(text, "CERTIFICATE")[0];
    if (!block) throw new CertError("no -----BEGIN CERTIFICATE----- block in the PEM text");
    der = block.der;
  } else {
    der = derOrPem;
  }
  const cert = need(readOne(der, Tag.SEQUENCE), "certificate");
  const [tbsT, sigAlgT, sigT, ...extra] = children(cert, "certificate");
  if (!tbsT || !sigAlgT || !sigT || extra.length)
    throw new CertError("a certificate is a SEQUENCE of tbsCertificate, signatureAlgorithm and signatureValue");
  const tbs = children(tbsT, "tbsCertificate");
  let i = 0;
  let version = 1;
  if (tbs[0]?.tag === contextTag(0, true)) {
    const [v] = children(tbs[0], "version", contextTag(0, true));
    if (!v) throw new CertError("version field is empty", tbs[0].offset);
    version = need(decodeSmallInt(v), "version") + 1;
    i = 1;
  }
  if (version > 3) throw new CertError(`certificate version ${version} is unknown`);
  const [serialT, tbsSigAlgT, issuerT, validityT, subjectT, spkiT, ...rest] = tbs.slice(i);
  if (!serialT || !tbsSigAlgT || !issuerT || !validityT || !subjectT || !spkiT)
    throw new CertError("tbsCertificate is missing fields", tbsT.offset);
  const serial = need(decodeUnsigned(serialT), "serialNumber");
  children(issuerT, "issuer");
  children(subjectT, "subject");
  const [nb, na] = children(validityT, "validity");
  if (!nb || !na) throw new CertError("validity needs notBefore and notAfter", validityT.offset);
  const extT = rest.find((t) => t.tag === contextTag(3, true));
  if (extT && version !== 3) throw new CertError("only version 3 certificates may carry extensions", extT.offset);
  const sigAlgOid = need(decodeOid(children(sigAlgT, "signatureAlgorithm")[0] ?? sigAlgT), "signatureAlgorithm");
  const sig = need(decodeBitString(sigT), "signatureValue");
  if (sig.unusedBits !== 0) throw new CertError("signatureValue has unused bits", sigT.offset);
  return {
    der,
    tbs: tbsT.raw,
    subjectDer: subjectT.raw,
    subject: formatDn(subjectT.raw),
    issuerDer: issuerT.raw,
    issuer: formatDn(issuerT.raw),
    serial,
    notBefore: need(decodeTime(nb), "notBefore"),
    notAfter: need(decodeTime(na), "notAfter"),
    ...parseSpki(spkiT),
    sigAlgOid,
    sigAlgDer: sigAlgT.raw,
    tbsSigAlgDer: tbsSigAlgT.raw,
    signature: sig.bytes,
    ...parseExtensions(extT),
  };
}

// ---- identities ----

/**
 * Whether the certificate names `id`, as strongSwan's x509 has_subject: the subject DN matches a
 * DN identity (wildcards in `id` allowed), or a subjectAltName matches: dNSName for FQDN,
 * rfc822Name for RFC822_ADDR, iPAddress for IPV4/IPV6 (also subnet/range patterns); a KEY_ID
 * matches the subjectKeyIdentifier.
 */
export function certMatchesIdentity(cert: Certificate, id: IkeIdentity | "any"): boolean {
  if (id === "any") return true;
  const enc = new TextEncoder();
  const names: IkeIdentity[] = [
    { idType: IdType.DER_ASN1_DN, data: cert.subjectDer },
    ...cert.san.dns.map((d) => ({ idType: IdType.FQDN, data: enc.encode(d) })),
    ...cert.san.email.map((d) => ({ idType: IdType.RFC822_ADDR, data: enc.encode(d) })),
    ...cert.san.ip.map((d) => ({ idType: d.length === 4 ? IdType.IPV4_ADDR : IdType.IPV6_ADDR, data: d })),
  ];
  if (id.idType === IdType.KEY_ID) return cert.subjectKeyId !== undefined && bytesEqual(cert.subjectKeyId, id.data);
  return names.some((n) => identityMatches(id, n));
}

// ---- signature schemes ----

/** A signature algorithm as WebCrypto needs it. */
export interface SignatureScheme {
  /** Name for messages: "sha256WithRSAEncryption", "RSASSA-PSS with SHA-256", "ecdsa-with-SHA384", "Ed25519". */
  name: string;
  key: "rsa" | "ec" | "ed25519";
  /** Absent for Ed25519 (it hashes internally). */
  hash?: Hash;
  /** RSASSA-PSS salt length; absent for PKCS#1 v1.5. */
  pssSaltLength?: number;
}

const SIMPLE_SCHEMES: Record<string, SignatureScheme> = {
  [SigOid.SHA1_RSA]: { name: "sha1WithRSAEncryption", key: "rsa", hash: "SHA-1" },
  [SigOid.SHA256_RSA]: { name: "sha256WithRSAEncryption", key: "rsa", hash: "SHA-256" },
  [SigOid.SHA384_RSA]: { name: "sha384WithRSAEncryption", key: "rsa", hash: "SHA-384" },
  [SigOid.SHA512_RSA]: { name: "sha512WithRSAEncryption", key: "rsa", hash: "SHA-512" },
  [SigOid.ECDSA_SHA1]: { name: "ecdsa-with-SHA1", key: "ec", hash: "SHA-1" },
  [SigOid.ECDSA_SHA256]: { name: "ecdsa-with-SHA256", key: "ec", hash: "SHA-256" },
  [SigOid.ECDSA_SHA384]: { name: "ecdsa-with-SHA384", key: "ec", hash: "SHA-384" },
  [SigOid.ECDSA_SHA512]: { name: "ecdsa-with-SHA512", key: "ec", hash: "SHA-512" },
  [SigOid.ED25519]: { name: "Ed25519", key: "ed25519" },
};

function hashAlgorithm(t: Tlv, what: string): { hash: Hash } | string {
  const parts = need(readChildren(t), what);
  const oid = parts[0] ? need(decodeOid(parts[0]), what) : "";
  if (parts.length > 2 || (parts[1] && parts[1].tag !== Tag.NULL)) return `${what} has unexpected parameters`;
  const hash = HASH_OID[oid];
  return hash ? { hash } : `${what} ${oid} is not supported`;
}

/** RSASSA-PSS-params (RFC 4055 §3.1; defaults SHA-1, MGF1-SHA-1, salt 20, trailer 1). */
function pssScheme(params: Tlv | undefined): SignatureScheme | string {
  let hash: Hash = "SHA-1";
  let mgfHash: Hash = "SHA-1";
  let salt = 20;
  if (params) {
    for (const f of children(params, "RSASSA-PSS-params")) {
      const [inner, extra] = need(readChildren(f), "RSASSA-PSS-params field");
      if (!inner || extra) return "RSASSA-PSS-params field is malformed";
      if (f.tag === contextTag(0, true)) {
        const h = hashAlgorithm(inner, "RSASSA-PSS hashAlgorithm");
        if (typeof h === "string") return h;
        hash = h.hash;
      } else if (f.tag === contextTag(1, true)) {
        const [oidT, hashT] = children(inner, "maskGenAlgorithm");
        if (!oidT || need(decodeOid(oidT), "maskGenAlgorithm") !== SigOid.MGF1 || !hashT)
          return "RSASSA-PSS maskGenAlgorithm is not MGF1";
        const h = hashAlgorithm(hashT, "MGF1 hash");
        if (typeof h === "string") return h;
        mgfHash = h.hash;
      } else if (f.tag === contextTag(2, true)) {
        salt = need(decodeSmallInt(inner), "RSASSA-PSS saltLength");
      } else if (f.tag === contextTag(3, true)) {
        if (need(decodeSmallInt(inner), "RSASSA-PSS trailerField") !== 1) return "RSASSA-PSS trailerField must be 1";
      } else {
        return "RSASSA-PSS-params has an unknown field";
      }
    }
  }
  // WebCrypto's RSA-PSS always uses MGF1 with the message hash.
  if (mgfHash !== hash)
    return `RSASSA-PSS with ${hash} and MGF1-${mgfHash} is not supported (MGF1 must use the same hash)`;
  return { name: `RSASSA-PSS with ${hash}`, key: "rsa", hash, pssSaltLength: salt };
}

/**
 * The signature scheme an AlgorithmIdentifier (DER) names, or a sentence saying why it is not
 * usable. Accepts NULL or absent parameters where RFCs differ on it, and RSASSA-PSS parameters
 * with or without the default trailerField (RFC 7427 Appendix A.4 writes it, RFC 4055 DER omits it).
 */
export function parseSignatureAlgorithm(algId: Uint8Array): SignatureScheme | string {
  const r = readOne(algId, Tag.SEQUENCE);
  if (!r.ok) return `AlgorithmIdentifier is malformed: ${r.error.message}`;
  const parts = readChildren(r.value);
  if (!parts.ok) return `AlgorithmIdentifier is malformed: ${parts.error.message}`;
  const [oidT, params, extra] = parts.value;
  if (!oidT || extra) return "AlgorithmIdentifier must be an OID and optional parameters";
  const oid = decodeOid(oidT);
  if (!oid.ok) return `AlgorithmIdentifier is malformed: ${oid.error.message}`;
  try {
    if (oid.value === SigOid.RSASSA_PSS) return pssScheme(params);
  } catch (e) {
    return e instanceof CertError
      ? `RSASSA-PSS parameters are malformed: ${e.message}`
      : "RSASSA-PSS parameters are malformed";
  }
  const s = SIMPLE_SCHEMES[oid.value];
  if (!s) return `signature algorithm ${oid.value} is not supported`;
  if (params && !(params.tag === Tag.NULL && params.value.length === 0)) return `${s.name} must not carry parameters`;
  return s;
}

const EC_SIZE: Record<Curve, number> = { "P-256": 32, "P-384": 48, "P-521": 66 };

/** DER Ecdsa-Sig-Value (RFC 3279 §2.2.3) to the r||s form WebCrypto uses; undefined if malformed. */
export function ecdsaDerToRaw(der: Uint8Array, curve: Curve): Uint8Array | undefined {
  const n = EC_SIZE[curve];
  const seq = readOne(der, Tag.SEQUENCE);
  if (!seq.ok) return undefined;
  const parts = readChildren(seq.value);
  if (!parts.ok || parts.value.length !== 2) return undefined;
  const out = new Uint8Array(2 * n);
  for (const [k, part] of parts.value.entries()) {
    const v = decodeUnsigned(part);
    if (!v.ok || v.value.length > n) return undefined;
    out.set(v.value, k * n + n - v.value.length);
  }
  return out;
}

/** r||s to DER Ecdsa-Sig-Value. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  const n = raw.length / 2;
  const int = (b: Uint8Array): number[] => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const m = Array.from(b.subarray(i));
    return (m[0] ?? 0) & 0x80 ? [0x02, m.length + 1, 0, ...m] : [0x02, m.length, ...m];
  };
  const body = [...int(raw.subarray(0, n)), ...int(raw.subarray(n))];
  return Uint8Array.from(body.length < 0x80 ? [0x30, body.length, ...body] : [0x30, 0x81, body.length, ...body]);
}

const keyCache = new WeakMap<Certificate, Map<string, Promise<CryptoKey>>>();

function publicKey(cert: Certificate, scheme: SignatureScheme): Promise<CryptoKey> {
  let perCert = keyCache.get(cert);
  if (!perCert) keyCache.set(cert, (perCert = new Map()));
  const id = `${scheme.key}/${scheme.pssSaltLength === undefined ? "pkcs1" : "pss"}/${scheme.hash}`;
  let p = perCert.get(id);
  if (!p) {
    const alg =
      cert.publicKeyAlg === "ec"
        ? { name: "ECDSA", namedCurve: cert.curve! }
        : cert.publicKeyAlg === "ed25519"
          ? { name: "Ed25519" }
          : { name: scheme.pssSaltLength === undefined ? "RSASSA-PKCS1-v1_5" : "RSA-PSS", hash: scheme.hash };
    p = globalThis.crypto.subtle.importKey("spki", cert.spki.slice(), alg, false, ["verify"]);
    perCert.set(id, p);
  }
  return p;
}

/**
 * Verify `signature` over `data` with the certificate's public key under `scheme`. ECDSA
 * signatures are DER (X.509, RFC 7427) unless `ecdsaRaw` says r||s (RFC 4754 classic methods).
 * Resolves to true, or to a sentence saying why not (key type mismatch, bad encoding, bad signature).
 */
export async function verifyWithCertificate(
  cert: Certificate,
  scheme: SignatureScheme,
  data: Uint8Array,
  signature: Uint8Array,
  ecdsaRaw = false,
): Promise<true | string> {
  if (scheme.key !== cert.publicKeyAlg) {
    const what =
      cert.publicKeyAlg === "ec"
        ? `${cert.curve} ECDSA`
        : cert.publicKeyAlg === "rsa"
          ? `RSA-${cert.rsaBits}`
          : "Ed25519";
    return `signature scheme ${scheme.name} does not match the certificate's ${what} key`;
  }
  let sig = signature;
  let params: AlgorithmIdentifier | RsaPssParams | EcdsaParams;
  if (scheme.key === "ec") {
    const raw = ecdsaRaw
      ? signature.length === 2 * EC_SIZE[cert.curve!]
        ? signature
        : undefined
      : ecdsaDerToRaw(signature, cert.curve!);
    if (!raw) return `ECDSA signature is not a valid ${ecdsaRaw ? "r||s" : "DER"} encoding for ${cert.curve}`;
    sig = raw;
    params = { name: "ECDSA", hash: scheme.hash! };
  } else if (scheme.key === "ed25519") {
    params = { name: "Ed25519" };
  } else {
    params =
      scheme.pssSaltLength === undefined
        ? { name: "RSASSA-PKCS1-v1_5" }
        : { name: "RSA-PSS", saltLength: scheme.pssSaltLength };
  }
  try {
    const key = await publicKey(cert, scheme);
    // .slice(): WebCrypto wants ArrayBuffer-backed views, ours may be views into shared input.
    if (await globalThis.crypto.subtle.verify(params, key, sig.slice(), data.slice())) return true;
  } catch (e) {
    return `the certificate's key could not be used for ${scheme.name}: ${e instanceof Error ? e.message : String(e)}`;
  }
  const kind = scheme.key === "ec" ? "ECDSA" : scheme.key === "rsa" ? "RSA" : "Ed25519";
  return `${kind} signature (${scheme.name}) does not verify with the certificate of '${cert.subject}'`;
}

/** Whether `issuer`'s key signed `cert` (signatureAlgorithm must equal tbsCertificate.signature). */
export async function verifyCertSignature(cert: Certificate, issuer: Certificate): Promise<boolean> {
  return (await certSignatureProblem(cert, issuer)) === undefined;
}

async function certSignatureProblem(cert: Certificate, issuer: Certificate): Promise<string | undefined> {
  if (!bytesEqual(cert.sigAlgDer, cert.tbsSigAlgDer))
    return `signatureAlgorithm of '${cert.subject}' differs from its tbsCertificate.signature`;
  const scheme = parseSignatureAlgorithm(cert.sigAlgDer);
  if (typeof scheme === "string") return `signature of '${cert.subject}': ${scheme}`;
  const r = await verifyWithCertificate(issuer, scheme, cert.tbs, cert.signature);
  return r === true
    ? undefined
    : `signature of '${cert.subject}' does not verify with the key of '${issuer.subject}' (${scheme.name})`;
}

// ---- chains ----

const MAX_DEPTH = 8;

function validityProblem(c: Certificate, now: Date): string | undefined {
  if (now < c.notBefore) return `certificate '${c.subject}' is not valid before ${c.notBefore.toISOString()}`;
  if (now > c.notAfter) return `certificate '${c.subject}' expired on ${c.notAfter.toISOString()}`;
  if (c.unhandledCritical.length)
    return `certificate '${c.subject}' has critical extension ${c.unhandledCritical.join(", ")} that is not supported`;
  return undefined;
}

function issuerProblem(issuer: Certificate, caBelow: number): string | undefined {
  if (!issuer.isCa) return `issuer '${issuer.subject}' is not a CA (basicConstraints cA is not set)`;
  if (issuer.keyUsage && !issuer.keyUsage.includes("keyCertSign"))
    return `issuer '${issuer.subject}' may not sign certificates (keyUsage lacks keyCertSign)`;
  if (issuer.pathLen !== undefined && caBelow > issuer.pathLen) {
    return `issuer '${issuer.subject}' allows ${issuer.pathLen} CA certificates below it (pathLenConstraint), the chain has ${caBelow}`;
  }
  return undefined;
}

/**
 * Validate `leaf` up to one of `trusted` through `intermediates` at time `now`: each link's
 * issuer DN equals the issuer's subject DN, the issuer is a CA (basicConstraints, keyUsage,
 * pathLen), its key verifies the signature, every certificate is within its validity and has no
 * unsupported critical extension. Tries every candidate issuer with a matching name, so a CA
 * that shares a name with another is told apart by its signature. A leaf that is itself one of
 * `trusted` (by DER) is accepted after its validity check.
 */
export async function verifyChain(
  leaf: Certificate,
  intermediates: Certificate[],
  trusted: Certificate[],
  now: Date,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const isTrusted = (c: Certificate): boolean => trusted.some((t) => bytesEqual(t.der, c.der));
  const reasons: string[] = [];
  const walk = async (cert: Certificate, caBelow: number, used: Certificate[]): Promise<boolean> => {
    const v = validityProblem(cert, now);
    if (v) return (reasons.push(v), false);
    if (isTrusted(cert)) return true;
    if (used.length >= MAX_DEPTH)
      return (reasons.push(`chain of '${leaf.subject}' is longer than ${MAX_DEPTH} certificates`), false);
    const candidates = [...trusted, ...intermediates].filter(
      (c) => !used.includes(c) && dnEquals(c.subjectDer, cert.issuerDer),
    );
    if (candidates.length === 0) {
      reasons.push(`no trusted or intermediate certificate named '${cert.issuer}' (issuer of '${cert.subject}')`);
      return false;
    }
    for (const issuer of candidates) {
      const p = issuerProblem(issuer, caBelow) ?? (await certSignatureProblem(cert, issuer));
      if (p) {
        reasons.push(p);
        continue;
      }
      // The issuer is an intermediate for the CAs above it; a self-issued one does not count
      // toward their pathLenConstraint (RFC 5280 §4.2.1.9).
      const selfIssued = dnEquals(issuer.subjectDer, issuer.issuerDer);
      if (await walk(issuer, selfIssued ? caBelow : caBelow + 1, [...used, issuer])) return true;
    }
    return false;
  };
  if (await walk(leaf, 0, [leaf])) return { ok: true };
  return { ok: false, reason: reasons[0] ?? `no path from '${leaf.subject}' to a trusted certificate` };
}
