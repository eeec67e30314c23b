/**
 * ESP proposal keywords, spelled the way strongSwan writes them, mapped to what the wasm
 * dataplane needs. ICV truncation is always explicit: `sha256` is RFC 4868's 128 bits,
 * `sha256_96` is the Linux kernel's `auth hmac(sha256)` default.
 * @module
 */
import { DataplaneError } from "./errors.ts";
import {
  CIPHERS,
  INTEGS,
  type HashAlg,
  SuiteKind,
  cipherByKeyword,
  integByKeyword,
  type CipherRow,
  type IntegRow,
  type SuiteRows,
} from "./suite-registry.ts";

export { SuiteKind, HashAlg } from "./suite-registry.ts";

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

/** Folds rows into brace patterns: aes{128,192,256}gcm{8,12,16}, chacha20poly1305. */
function keywordPatterns(rows: readonly CipherRow[]): string[] {
  const groups = new Map<string, { bits: Set<number>; icvs: Set<number> }>();
  for (const r of rows) {
    let t = r.keyBits === undefined ? r.keyword : r.keyword.replace(String(r.keyBits), "{B}");
    const icvSuffix = r.icvBytes > 0 && t.endsWith(String(r.icvBytes));
    if (icvSuffix) t = `${t.slice(0, -String(r.icvBytes).length)}{I}`;
    const g = groups.get(t) ?? { bits: new Set<number>(), icvs: new Set<number>() };
    if (r.keyBits !== undefined) g.bits.add(r.keyBits);
    if (icvSuffix) g.icvs.add(r.icvBytes);
    groups.set(t, g);
  }
  return [...groups].map(([t, g]) =>
    t.replace("{B}", `{${[...g.bits].join(",")}}`).replace("{I}", `{${[...g.icvs].join(",")}}`),
  );
}

/** Every keyword family accepted, for error messages (derived from the suite registry). */
export const KNOWN_SUITES =
  `${keywordPatterns(CIPHERS.filter((c) => c.combined)).join(", ")}, ` +
  `${keywordPatterns(CIPHERS.filter((c) => !c.combined))
    .map((c) => `${c}-{${INTEGS.map((r) => r.keyword).join(",")}}`)
    .join(", ")}, ` +
  "each optionally followed by -esn or -noesn";

/** Dataplane spellings beyond strongSwan's keywords, accepted since the first release. */
const CIPHER_ALIASES: Record<string, string> = { aesctr: "aes128ctr" };
const INTEG_ALIASES: Record<string, string> = {
  sha1_96: "sha1",
  sha256_128: "sha256",
  sha384_192: "sha384",
  sha512_256: "sha512",
};
const integOf = (word: string): IntegRow | undefined => integByKeyword(INTEG_ALIASES[word] ?? word);

/** The rows of a keyword without its ESN suffix, or why there are none. */
function suiteRows(rest: string): SuiteRows | string {
  const combined = cipherByKeyword(rest);
  if (combined?.combined) return { cipher: combined };
  const m = /^([a-z0-9]+)-([a-z0-9_]+)$/.exec(rest);
  const [, encWord = "", integWord = ""] = m ?? [];
  const cipherWord = m ? (CIPHER_ALIASES[encWord] ?? encWord) : undefined;
  const cipher = cipherWord === undefined ? undefined : cipherByKeyword(cipherWord);
  if (!m || !cipher || cipher.combined) {
    return "expected an AEAD keyword (aes128gcm16, aes128gmac, chacha20poly1305) or ENCR-INTEG (aes128-sha256, aes128ctr-sha256)";
  }
  const integ = integOf(integWord);
  if (!integ) return `integrity algorithm "${integWord}" is not one of ${INTEGS.map((r) => r.keyword).join(", ")}`;
  return { cipher, integ };
}

/** The registry rows of an ESP keyword (without `-esn`), undefined when the dataplane has no such suite. */
export function lookupSuite(keyword: string): SuiteRows | undefined {
  const rows = suiteRows(keyword.trim().toLowerCase());
  return typeof rows === "string" ? undefined : rows;
}

/** Parses a strongSwan-style ESP keyword such as `aes128gcm16-esn` or `aes256-sha256_96`. */
export function parseSuite(keyword: string): Suite {
  let rest = keyword.trim().toLowerCase();
  let esn = false;
  if (rest.endsWith("-esn")) {
    esn = true;
    rest = rest.slice(0, -4);
  } else if (rest.endsWith("-noesn")) rest = rest.slice(0, -6);
  const rows = suiteRows(rest);
  if (typeof rows === "string") {
    throw new DataplaneError("BAD_PROPOSAL", `unknown ESP proposal "${keyword}": ${rows}; known: ${KNOWN_SUITES}`);
  }
  const { cipher, integ } = rows;
  return {
    name: integ ? `${cipher.keyword}-${integ.keyword}` : cipher.keyword,
    kind: cipher.kind,
    aesKeyBytes: cipher.family === "chacha20-poly1305" ? 0 : cipher.keyBytes,
    encKeyBytes: cipher.keyBytes + cipher.saltBytes,
    hash: integ?.hash ?? 0,
    integKeyBytes: integ?.keyBytes ?? 0,
    icvBytes: integ?.icvBytes ?? cipher.icvBytes,
    allowedIcv: integ?.allowedIcv ?? [cipher.icvBytes],
    ivBytes: cipher.ivBytes,
    align: cipher.align,
    aead: cipher.aead,
    esn,
    protocol: "esp",
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
  if (rest.endsWith("-esn")) {
    esn = true;
    rest = rest.slice(0, -4);
  } else if (rest.endsWith("-noesn")) rest = rest.slice(0, -6);
  const h = integOf(rest);
  if (!h) throw new DataplaneError("BAD_PROPOSAL", `unknown AH proposal "${keyword}"; known: ${KNOWN_AH_SUITES}`);
  return {
    name: h.keyword,
    kind: SuiteKind.NullHmac,
    aesKeyBytes: 0,
    encKeyBytes: 0,
    hash: h.hash,
    integKeyBytes: h.keyBytes,
    icvBytes: h.icvBytes,
    allowedIcv: h.allowedIcv,
    ivBytes: 0,
    align: 4,
    aead: false,
    esn,
    protocol: "ah",
  };
}
