/**
 * ESP proposal keywords, spelled the way strongSwan writes them, mapped to what the wasm
 * dataplane needs. ICV truncation is always explicit: `sha256` is RFC 4868's 128 bits,
 * `sha256_96` is the Linux kernel's `auth hmac(sha256)` default.
 * @module
 */
import { DataplaneError } from "./errors.ts";

/** Suite family as the wasm dataplane knows it (values shared with assembly/sad/layout.ts KIND_*). */
export const SuiteKind = { Gcm: 1, CbcHmac: 2, NullHmac: 3, CtrHmac: 4, Gmac: 5, ChaCha20Poly1305: 6 } as const;
/** One of the SuiteKind values. */
export type SuiteKind = (typeof SuiteKind)[keyof typeof SuiteKind];
/** Hash ids shared with assembly/crypto/hmac.ts. */
export const HashAlg = { Sha1: 1, Sha256: 2, Sha384: 3, Sha512: 4 } as const;
/** One of the HashAlg values. */
export type HashAlg = (typeof HashAlg)[keyof typeof HashAlg];

/** A parsed suite keyword. */
export interface Suite {
  /** Canonical keyword, e.g. `aes128gcm16`, `aes128-sha256_96`, `aes256ctr-sha512`, `aes128gmac`. */
  name: string;
  kind: SuiteKind;
  /** AES key bytes (0 for NULL and ChaCha20-Poly1305). */
  aesKeyBytes: number;
  /**
   * Encryption key bytes as given in SaConfig.encKey: GCM and GMAC the AES key + 4-byte salt,
   * CTR the AES key + 4-byte nonce, ChaCha20-Poly1305 32 + 4 bytes of salt (the IKEv2 KEYMAT layout).
   */
  encKeyBytes: number;
  hash: HashAlg | 0;
  /** Integrity key bytes required (RFC 2404 / RFC 4868: the hash output length), 0 for GCM, GMAC and ChaCha20-Poly1305. */
  integKeyBytes: number;
  /** ICV bytes on the wire. */
  icvBytes: number;
  /** ICV lengths this suite may be configured with (explicit truncation). */
  allowedIcv: readonly number[];
  /** IV bytes on the wire after the sequence number: 16 (CBC), 8 (GCM, GMAC, CTR, ChaCha20-Poly1305), 0 (NULL). */
  ivBytes: number;
  /** Payload + trailer are padded to a multiple of this: 16 (CBC block), else 4 (RFC 4303 §2.4). */
  align: number;
  /** AEAD: the ICV is keyed by the encryption key (GCM, ChaCha20-Poly1305), so no verify-only SA. */
  aead: boolean;
  esn: boolean;
  /** ESP, or AH (RFC 4302) for keywords parsed by parseAhSuite. */
  protocol: "esp" | "ah";
}

const HASHES: Record<string, { alg: HashAlg; out: number; icv: number; icvs: number[] }> = {
  sha1: { alg: HashAlg.Sha1, out: 20, icv: 12, icvs: [12] },
  sha256: { alg: HashAlg.Sha256, out: 32, icv: 16, icvs: [12, 16, 32] },
  sha256_96: { alg: HashAlg.Sha256, out: 32, icv: 12, icvs: [12, 16, 32] },
  sha384: { alg: HashAlg.Sha384, out: 48, icv: 24, icvs: [24] },
  sha512: { alg: HashAlg.Sha512, out: 64, icv: 32, icvs: [32] },
};
const HASH_ALIASES: Record<string, string> = {
  sha: "sha1", sha1_96: "sha1", sha2_256: "sha256", sha2_256_96: "sha256_96", sha256_128: "sha256",
  sha2_384: "sha384", sha384_192: "sha384", sha2_512: "sha512", sha512_256: "sha512",
};

/** Every keyword family accepted, for error messages. */
export const KNOWN_SUITES =
  "aes{128,192,256}gcm{8,12,16}, aes{128,192,256}gmac, chacha20poly1305, " +
  "aes{128,192,256}-{sha1,sha256,sha256_96,sha384,sha512}, aes{128,192,256}ctr-{sha1,sha256,sha256_96,sha384,sha512}, " +
  "null-{sha1,sha256,sha256_96,sha384,sha512}, each optionally followed by -esn or -noesn";

/** Parses a strongSwan-style ESP keyword such as `aes128gcm16-esn` or `aes256-sha256_96`. */
export function parseSuite(keyword: string): Suite {
  const fail = (why: string): never => {
    throw new DataplaneError("BAD_PROPOSAL", `unknown ESP proposal "${keyword}": ${why}; known: ${KNOWN_SUITES}`);
  };
  let rest = keyword.trim().toLowerCase();
  let esn = false;
  if (rest.endsWith("-esn")) { esn = true; rest = rest.slice(0, -4); }
  else if (rest.endsWith("-noesn")) rest = rest.slice(0, -6);

  const gcm = /^aes(128|192|256)gcm(8|12|16|64|96|128)?$/.exec(rest);
  if (gcm) {
    const bits = Number(gcm[1]);
    const t = gcm[2] === undefined ? 16 : Number(gcm[2]);
    const icv = t >= 64 ? t / 8 : t;
    return {
      name: `aes${bits}gcm${icv}`, kind: SuiteKind.Gcm, aesKeyBytes: bits / 8, encKeyBytes: bits / 8 + 4,
      hash: 0, integKeyBytes: 0, icvBytes: icv, allowedIcv: [icv], ivBytes: 8, align: 4, aead: true, esn, protocol: "esp",
    };
  }
  const gmac = /^aes(128|192|256)gmac$/.exec(rest);
  if (gmac) {
    const bits = Number(gmac[1]);
    return {
      name: `aes${bits}gmac`, kind: SuiteKind.Gmac, aesKeyBytes: bits / 8, encKeyBytes: bits / 8 + 4,
      hash: 0, integKeyBytes: 0, icvBytes: 16, allowedIcv: [16], ivBytes: 8, align: 4, aead: false, esn, protocol: "esp",
    };
  }
  if (rest === "chacha20poly1305") {
    return {
      name: "chacha20poly1305", kind: SuiteKind.ChaCha20Poly1305, aesKeyBytes: 0, encKeyBytes: 36,
      hash: 0, integKeyBytes: 0, icvBytes: 16, allowedIcv: [16], ivBytes: 8, align: 4, aead: true, esn, protocol: "esp",
    };
  }
  const m = /^(aes(128|192|256)?(ctr)?|null)-([a-z0-9_]+)$/.exec(rest);
  if (!m) return fail("expected an AEAD keyword (aes128gcm16, aes128gmac, chacha20poly1305) or ENCR-INTEG (aes128-sha256, aes128ctr-sha256)");
  const hashName = HASH_ALIASES[m[4]!] ?? m[4]!; // group 4 is not optional
  const h = HASHES[hashName];
  if (!h) return fail(`integrity algorithm "${m[4]}" is not one of sha1, sha256, sha256_96, sha384, sha512`);
  const isNull = m[1] === "null";
  const ctr = m[3] !== undefined;
  const aes = isNull ? 0 : Number(m[2] ?? 128) / 8;
  return {
    name: `${isNull ? "null" : `aes${aes * 8}${ctr ? "ctr" : ""}`}-${hashName}`,
    kind: isNull ? SuiteKind.NullHmac : ctr ? SuiteKind.CtrHmac : SuiteKind.CbcHmac,
    aesKeyBytes: aes, encKeyBytes: ctr ? aes + 4 : aes, hash: h.alg, integKeyBytes: h.out, icvBytes: h.icv, allowedIcv: h.icvs,
    ivBytes: isNull ? 0 : ctr ? 8 : 16, align: isNull || ctr ? 4 : 16, aead: false, esn, protocol: "esp",
  };
}

/** AH keywords accepted, for error messages. */
export const KNOWN_AH_SUITES = "sha1, sha256, sha256_96, sha384, sha512, each optionally followed by -esn or -noesn";

/**
 * Parses an AH (RFC 4302) keyword as strongSwan writes `ah_proposals`: the integrity algorithm
 * alone, e.g. `sha256` (HMAC-SHA-256-128), `sha1`, `sha256_96`, `sha512-esn`.
 */
export function parseAhSuite(keyword: string): Suite {
  let rest = keyword.trim().toLowerCase();
  let esn = false;
  if (rest.endsWith("-esn")) { esn = true; rest = rest.slice(0, -4); }
  else if (rest.endsWith("-noesn")) rest = rest.slice(0, -6);
  const hashName = HASH_ALIASES[rest] ?? rest;
  const h = HASHES[hashName];
  if (!h) throw new DataplaneError("BAD_PROPOSAL", `unknown AH proposal "${keyword}"; known: ${KNOWN_AH_SUITES}`);
  return {
    name: hashName, kind: SuiteKind.NullHmac, aesKeyBytes: 0, encKeyBytes: 0, hash: h.alg, integKeyBytes: h.out,
    icvBytes: h.icv, allowedIcv: h.icvs, ivBytes: 0, align: 4, aead: false, esn, protocol: "ah",
  };
}
