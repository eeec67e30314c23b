/**
 * The suite registry: every fact about an ESP cipher or integrity algorithm in one row, in the
 * manner of VPP's ipsec crypto/integ algorithm tables. Keyword parsing (./suites.ts), IKE
 * proposal keywords, transform names and key layouts (sdk/ike/proposals.ts, sdk/ike/names.ts),
 * and the kernel xfrm, Wireshark and charon conversions (sdk/sa, sdk/diag/wireshark.ts) are all
 * derived from these rows, and the tests loop over them. Adding a suite is one row here plus
 * its wasm code.
 *
 * Sources of the names: strongSwan's proposal keywords (proposal_keywords_static.txt) and log
 * names (crypter.c / signer.c), the IANA "IKEv2 Transform Type 1/3" registries, the Linux
 * kernel's net/xfrm/xfrm_algo.c, and Wireshark 4.0's packet-ipsec.c / packet-isakmp.c UATs.
 * This module sits in the dataplane layer and imports nothing from sdk/ike.
 * @module
 */
import {
  HASH_SHA1,
  HASH_SHA256,
  HASH_SHA384,
  HASH_SHA512,
  KIND_CBC_HMAC,
  KIND_CCM,
  KIND_CHACHA,
  KIND_CTR_HMAC,
  KIND_GCM,
  KIND_GMAC,
  KIND_NULL_HMAC,
  type HashAlgCode,
  type SuiteKindCode,
} from "./abi.generated.ts";

/** Suite family as the wasm dataplane knows it (assembly/abi.ts KIND_*). */
export const SuiteKind = {
  Gcm: KIND_GCM,
  CbcHmac: KIND_CBC_HMAC,
  NullHmac: KIND_NULL_HMAC,
  CtrHmac: KIND_CTR_HMAC,
  Gmac: KIND_GMAC,
  ChaCha20Poly1305: KIND_CHACHA,
  Ccm: KIND_CCM,
} as const;
/** One of the SuiteKind values. */
export type SuiteKind = (typeof SuiteKind)[keyof typeof SuiteKind];
/** Hash ids of the wasm (assembly/abi.ts HASH_*). */
export const HashAlg = { Sha1: HASH_SHA1, Sha256: HASH_SHA256, Sha384: HASH_SHA384, Sha512: HASH_SHA512 } as const;
/** One of the HashAlg values. */
export type HashAlg = (typeof HashAlg)[keyof typeof HashAlg];

// A kind or hash added to assembly/abi.ts needs a name above: these stop compiling until it has one.
type Named<Missing extends never> = Missing;
type _KindsNamed = Named<Exclude<SuiteKindCode, SuiteKind>>;
type _HashesNamed = Named<Exclude<HashAlgCode, HashAlg>>;

/** Cipher families, as the SA-file parsers (xfrm, Wireshark, charon logs) group them. */
export type CipherFamily = "aes-gcm" | "aes-ccm" | "aes-gmac" | "chacha20-poly1305" | "aes-cbc" | "aes-ctr" | "null";

/** How a family is described in messages, and the RFC that defines it for ESP. */
export interface FamilyInfo {
  /** "AES-GCM", "ChaCha20-Poly1305", "NULL encryption". */
  title: string;
  /** "RFC 4106". */
  rfc: string;
  /** What the bytes after the cipher key are called: "salt" or "nonce" (empty when there are none). */
  saltWord: string;
}

/** One row per family. */
export const FAMILIES: Readonly<Record<CipherFamily, FamilyInfo>> = {
  "aes-gcm": { title: "AES-GCM", rfc: "RFC 4106", saltWord: "salt" },
  "aes-ccm": { title: "AES-CCM", rfc: "RFC 4309", saltWord: "salt" },
  "aes-gmac": { title: "AES-GMAC", rfc: "RFC 4543", saltWord: "salt" },
  "chacha20-poly1305": { title: "ChaCha20-Poly1305", rfc: "RFC 7634", saltWord: "salt" },
  "aes-cbc": { title: "AES-CBC", rfc: "RFC 3602", saltWord: "" },
  "aes-ctr": { title: "AES-CTR", rfc: "RFC 3686", saltWord: "nonce" },
  null: { title: "NULL encryption", rfc: "RFC 2410", saltWord: "" },
};

/** One ESP encryption transform (a cipher at one key size and, for combined modes, one ICV length). */
export interface CipherRow {
  /** strongSwan's canonical keyword: `aes128gcm16`, `aes128` (CBC), `aes256ctr`, `aes128gmac`, `chacha20poly1305`, `null`. */
  keyword: string;
  /** Other strongSwan keywords for the same transform (`aes128gcm128`, `aes`). */
  aliases: readonly string[];
  family: CipherFamily;
  /** IANA IKEv2 Transform Type 1 id (ENCR_*). */
  iana: number;
  /** The Key Length attribute in bits (AES); absent for fixed-key ciphers. */
  keyBits?: number;
  kind: SuiteKind;
  /** Cipher key bytes (the AES key, 32 for ChaCha20, 0 for NULL). */
  keyBytes: number;
  /** KEYMAT bytes after the key: the salt (4 GCM/GMAC/ChaCha20, 3 CCM: RFC 4309 §7.1) or CTR nonce. */
  saltBytes: number;
  /** IV bytes on the wire after the sequence number. */
  ivBytes: number;
  /** Combined modes: ICV bytes; 0 when an integrity row supplies the ICV. */
  icvBytes: number;
  /** Payload + trailer are padded to a multiple of this: 16 (CBC block), else 4 (RFC 4303 §2.4). */
  align: number;
  /** Carries its own ICV, so the proposal has no integrity transform (AEAD and GMAC). */
  combined: boolean;
  /** AEAD: the ICV is keyed by the encryption key and covers encrypted data, so no verify-only SA. */
  aead: boolean;
  /** ipsec-wasm's IKE SK payload implements it (sdk/ike/sk.ts). */
  ike: boolean;
  /** strongSwan's log name (encryption_algorithm_names), printed with `_<keyBits>` appended. */
  charon: string;
  /** The kernel's algorithm (xfrm_algo.c): an `aead` name with the ICV in bits, or an `enc` name. */
  xfrm: { aead: string } | { enc: string; aliases?: readonly string[] };
  /** Wireshark 4.0's ESP `esp_sa` encryption name, or why Wireshark cannot show it. */
  wireshark: { name: string; aliases?: readonly string[]; caveat?: string } | { refused: string };
  /** Wireshark's IKEv2 decryption table name, undefined when it has none. */
  wiresharkIke?: string;
}

/** One ESP integrity (HMAC) transform at one ICV length. */
export interface IntegRow {
  /** strongSwan's keyword: `sha1`, `sha256`, `sha256_96`, `sha384`, `sha512`. */
  keyword: string;
  aliases: readonly string[];
  /** IANA IKEv2 Transform Type 3 id (AUTH_*); 1026 is strongSwan's private HMAC-SHA-256-96. */
  iana: number;
  hash: HashAlg;
  /** The HMAC's hash as the SA-file parsers name it. */
  hmac: "sha1" | "sha256" | "sha384" | "sha512";
  /** The RFC that sets its ESP truncation (RFC 2404 for SHA-1, RFC 4868 for SHA-2; the 96-bit SHA-256 has none). */
  rfc: string;
  /** Key bytes: the hash output length (RFC 2404, RFC 4868). */
  keyBytes: number;
  icvBytes: number;
  /** ICV lengths an SA with this hash may be configured with (explicit truncation). */
  allowedIcv: readonly number[];
  /** strongSwan's log name (integrity_algorithm_names). */
  charon: string;
  /** The kernel's `auth` name, and the truncation it applies to plain `auth` (not `auth-trunc`). */
  xfrm: { auth: string; defaultBits: number };
  /** Wireshark 4.0's ESP authentication name and IKEv2 integrity name. */
  wireshark: string;
  wiresharkIke: string;
}

const AES_BITS = [128, 192, 256] as const;

function gcmRows(): CipherRow[] {
  // strongSwan: aes128gcm8 = aes128gcm64, aes128gcm12 = aes128gcm96, aes128gcm16 = aes128gcm128 = aes128gcm
  const ids = { 8: 18, 12: 19, 16: 20 } as const;
  return AES_BITS.flatMap((bits) =>
    ([8, 12, 16] as const).map((icv): CipherRow => ({
      keyword: `aes${bits}gcm${icv}`,
      aliases: [`aes${bits}gcm${icv * 8}`, ...(icv === 16 ? [`aes${bits}gcm`] : [])],
      family: "aes-gcm",
      iana: ids[icv],
      keyBits: bits,
      kind: SuiteKind.Gcm,
      keyBytes: bits / 8,
      saltBytes: 4,
      ivBytes: 8,
      icvBytes: icv,
      align: 4,
      combined: true,
      aead: true,
      ike: true,
      charon: `AES_GCM_${icv}`,
      xfrm: { aead: "rfc4106(gcm(aes))" },
      wireshark: { name: `AES-GCM with ${icv} octet ICV [RFC4106]`, aliases: icv === 16 ? ["AES-GCM [RFC4106]"] : [] },
      wiresharkIke: `AES-GCM-${bits} with ${icv} octet ICV [RFC5282]`,
    })),
  );
}

function ccmRows(): CipherRow[] {
  // RFC 4309 / RFC 5282; strongSwan: aes128ccm8 = aes128ccm64, aes128ccm12 = aes128ccm96, aes128ccm16 = aes128ccm128 = aes128ccm
  const ids = { 8: 14, 12: 15, 16: 16 } as const;
  return AES_BITS.flatMap((bits) =>
    ([8, 12, 16] as const).map((icv): CipherRow => ({
      keyword: `aes${bits}ccm${icv}`,
      aliases: [`aes${bits}ccm${icv * 8}`, ...(icv === 16 ? [`aes${bits}ccm`] : [])],
      family: "aes-ccm",
      iana: ids[icv],
      keyBits: bits,
      kind: SuiteKind.Ccm,
      keyBytes: bits / 8,
      saltBytes: 3,
      ivBytes: 8,
      icvBytes: icv,
      align: 4,
      combined: true,
      aead: true,
      ike: true,
      charon: `AES_CCM_${icv}`,
      xfrm: { aead: "rfc4309(ccm(aes))" },
      wireshark: { refused: "Wireshark 4.0 has no AES-CCM (RFC 4309) for ESP" },
      wiresharkIke: `AES-CCM-${bits} with ${icv} octet ICV [RFC5282]`,
    })),
  );
}

/** The encryption rows, in the order keyword lists print them. */
export const CIPHERS: readonly CipherRow[] = [
  ...AES_BITS.map((bits): CipherRow => ({
    keyword: `aes${bits}`,
    aliases: bits === 128 ? ["aes"] : [],
    family: "aes-cbc",
    iana: 12,
    keyBits: bits,
    kind: SuiteKind.CbcHmac,
    keyBytes: bits / 8,
    saltBytes: 0,
    ivBytes: 16,
    icvBytes: 0,
    align: 16,
    combined: false,
    aead: false,
    ike: true,
    charon: "AES_CBC",
    xfrm: { enc: "cbc(aes)" },
    wireshark: { name: "AES-CBC [RFC3602]" },
    wiresharkIke: `AES-CBC-${bits} [RFC3602]`,
  })),
  ...AES_BITS.map((bits): CipherRow => ({
    keyword: `aes${bits}ctr`,
    aliases: [],
    family: "aes-ctr",
    iana: 13,
    keyBits: bits,
    kind: SuiteKind.CtrHmac,
    keyBytes: bits / 8,
    saltBytes: 4,
    ivBytes: 8,
    icvBytes: 0,
    align: 4,
    combined: false,
    aead: false,
    ike: false,
    charon: "AES_CTR",
    // Key = AES key then the 4-byte nonce, the kernel's rfc3686(ctr(aes)) layout (Wireshark's too).
    xfrm: { enc: "rfc3686(ctr(aes))" },
    wireshark: { name: "AES-CTR [RFC3686]" },
    wiresharkIke: `AES-CTR-${bits} [RFC5930]`,
  })),
  ...gcmRows(),
  ...ccmRows(),
  ...AES_BITS.map((bits): CipherRow => ({
    keyword: `aes${bits}gmac`,
    aliases: [],
    family: "aes-gmac",
    iana: 21,
    keyBits: bits,
    kind: SuiteKind.Gmac,
    keyBytes: bits / 8,
    saltBytes: 4,
    ivBytes: 8,
    icvBytes: 16,
    align: 4,
    combined: true,
    aead: false,
    ike: false,
    charon: "NULL_AES_GMAC",
    xfrm: { aead: "rfc4543(gcm(aes))" },
    // NULL encryption does not fit either: Wireshark would read GMAC's 8-byte IV as payload.
    wireshark: { refused: "Wireshark has no AES-GMAC (RFC 4543)" },
  })),
  {
    keyword: "chacha20poly1305",
    aliases: [],
    family: "chacha20-poly1305",
    iana: 28,
    kind: SuiteKind.ChaCha20Poly1305,
    keyBytes: 32,
    saltBytes: 4,
    ivBytes: 8,
    icvBytes: 16,
    align: 4,
    combined: true,
    aead: true,
    ike: true,
    charon: "CHACHA20_POLY1305",
    xfrm: { aead: "rfc7539esp(chacha20,poly1305)" },
    wireshark: {
      name: "ChaCha20 with Poly1305 [RFC7634]",
      caveat: "ChaCha20-Poly1305 needs a Wireshark with RFC 7634 ESP support; 4.0 rejects the whole esp_sa table",
    },
  },
  {
    keyword: "null",
    aliases: [],
    family: "null",
    iana: 11,
    kind: SuiteKind.NullHmac,
    keyBytes: 0,
    saltBytes: 0,
    ivBytes: 0,
    icvBytes: 0,
    align: 4,
    combined: false,
    aead: false,
    ike: false,
    charon: "NULL",
    xfrm: { enc: "ecb(cipher_null)", aliases: ["cipher_null"] },
    wireshark: { name: "NULL" },
    wiresharkIke: "NULL [RFC2410]",
  },
];

/** The integrity rows. */
export const INTEGS: readonly IntegRow[] = [
  {
    keyword: "sha1",
    aliases: ["sha"],
    iana: 2,
    hash: HashAlg.Sha1,
    hmac: "sha1",
    rfc: "RFC 2404",
    keyBytes: 20,
    icvBytes: 12,
    allowedIcv: [12],
    charon: "HMAC_SHA1_96",
    xfrm: { auth: "hmac(sha1)", defaultBits: 96 },
    wireshark: "HMAC-SHA-1-96 [RFC2404]",
    wiresharkIke: "HMAC_SHA1_96 [RFC2404]",
  },
  {
    keyword: "sha256",
    aliases: ["sha2_256"],
    iana: 12,
    hash: HashAlg.Sha256,
    hmac: "sha256",
    rfc: "RFC 4868",
    keyBytes: 32,
    icvBytes: 16,
    allowedIcv: [12, 16, 32],
    charon: "HMAC_SHA2_256_128",
    xfrm: { auth: "hmac(sha256)", defaultBits: 96 },
    wireshark: "HMAC-SHA-256-128 [RFC4868]",
    wiresharkIke: "HMAC_SHA2_256_128 [RFC4868]",
  },
  {
    // strongSwan's private id 1026: what Linux does for `auth hmac(sha256)` without auth-trunc
    keyword: "sha256_96",
    aliases: ["sha2_256_96"],
    iana: 1026,
    hash: HashAlg.Sha256,
    hmac: "sha256",
    rfc: "RFC 4868",
    keyBytes: 32,
    icvBytes: 12,
    allowedIcv: [12, 16, 32],
    charon: "HMAC_SHA2_256_96",
    xfrm: { auth: "hmac(sha256)", defaultBits: 96 },
    wireshark: "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
    wiresharkIke: "HMAC_SHA2_256_96 [draft-ietf-ipsec-ciph-sha-256-00]",
  },
  {
    keyword: "sha384",
    aliases: ["sha2_384"],
    iana: 13,
    hash: HashAlg.Sha384,
    hmac: "sha384",
    rfc: "RFC 4868",
    keyBytes: 48,
    icvBytes: 24,
    allowedIcv: [24],
    charon: "HMAC_SHA2_384_192",
    xfrm: { auth: "hmac(sha384)", defaultBits: 192 },
    wireshark: "HMAC-SHA-384-192 [RFC4868]",
    wiresharkIke: "HMAC_SHA2_384_192 [RFC4868]",
  },
  {
    keyword: "sha512",
    aliases: ["sha2_512"],
    iana: 14,
    hash: HashAlg.Sha512,
    hmac: "sha512",
    rfc: "RFC 4868",
    keyBytes: 64,
    icvBytes: 32,
    allowedIcv: [32],
    charon: "HMAC_SHA2_512_256",
    xfrm: { auth: "hmac(sha512)", defaultBits: 256 },
    wireshark: "HMAC-SHA-512-256 [RFC4868]",
    wiresharkIke: "HMAC_SHA2_512_256 [RFC4868]",
  },
];

const byKeyword = <R extends { keyword: string; aliases: readonly string[] }>(
  rows: readonly R[],
): ReadonlyMap<string, R> => new Map(rows.flatMap((r) => [r.keyword, ...r.aliases].map((k) => [k, r] as const)));
const CIPHER_BY_KEYWORD = byKeyword(CIPHERS);
const INTEG_BY_KEYWORD = byKeyword(INTEGS);

/** The cipher row for a strongSwan keyword or alias (`aes128gcm16`, `aes128gcm128`, `aes`), case-sensitive. */
export function cipherByKeyword(word: string): CipherRow | undefined {
  return CIPHER_BY_KEYWORD.get(word);
}

/** The integrity row for a strongSwan keyword or alias (`sha256`, `sha2_256`), case-sensitive. */
export function integByKeyword(word: string): IntegRow | undefined {
  return INTEG_BY_KEYWORD.get(word);
}

/** The cipher row for an IANA ENCR id and Key Length attribute (absent for fixed-key ciphers). */
export function cipherByIana(id: number, keyBits?: number): CipherRow | undefined {
  return CIPHERS.find((r) => r.iana === id && r.keyBits === keyBits);
}

/** The integrity row for an IANA INTEG id. */
export function integByIana(id: number): IntegRow | undefined {
  return INTEGS.find((r) => r.iana === id);
}

/** An ESP suite: a combined-mode cipher alone, or a cipher with an integrity algorithm. */
export interface SuiteRows {
  cipher: CipherRow;
  integ?: IntegRow;
}

/** The dataplane keyword of a suite: `aes128gcm16`, `aes128-sha256_96`, `aes256ctr-sha512`, `null-sha1`. */
export function suiteKeyword(s: SuiteRows): string {
  return s.integ ? `${s.cipher.keyword}-${s.integ.keyword}` : s.cipher.keyword;
}

/** Every ESP suite the dataplane runs: each combined cipher, and each other cipher with each HMAC. */
export function espSuites(): SuiteRows[] {
  return CIPHERS.flatMap((cipher) => (cipher.combined ? [{ cipher }] : INTEGS.map((integ) => ({ cipher, integ }))));
}
