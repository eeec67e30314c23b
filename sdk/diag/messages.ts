/**
 * Sentences for integrity-failure diagnostics: what the peer is doing and the configuration line
 * that fixes it, in the words the two sides are configured with (strongSwan ESP proposal keywords
 * here, `ip xfrm state` algorithm names on a Linux peer).
 * @module
 */

import { INTEGS, integByKeyword, type IntegRow } from "../dataplane/suite-registry.ts";

/** HMAC hash of an ESP integrity algorithm, named as strongSwan names it. */
export type HmacHash = "sha1" | "sha256" | "sha384" | "sha512";

/** Facts about one SA's failures, as the detector aggregated them. */
export interface IntegrityFacts {
  spi: number;
  /** Suite keyword as configured (e.g. `aes128-sha256`, `aes128-sha256-esn`). */
  suite: string;
  /** Encryption part of the keyword (`aes128`, `null`), to build the fixed keyword. */
  encryption: string;
  hash: HmacHash;
  esn: boolean;
  configuredIcvBits: number;
  /** ICV lengths (bits) this side may be configured with for this hash. */
  allowedIcvBits: readonly number[];
  /** Packets that failed: `integrity-failed` plus (CBC) `truncated` ones the probe looked at. */
  failures: number;
  /** Of `failures`, those the dataplane counted as truncated rather than integrity-failed. */
  truncated: number;
}

/** A sentence and its actionable part. */
export interface Wording {
  message: string;
  hint: string;
}

// Linux xfrm_algo.c icv_truncbits (what `auth hmac(...)` without auth-trunc uses), and the
// RFC length (RFC 2404 for SHA-1, RFC 4868 for SHA-2). They differ only for SHA-256.
// From the suite registry: the row named after the bare hash carries the RFC length.
const HASHES: readonly HmacHash[] = ["sha1", "sha256", "sha384", "sha512"];
const table = <T>(f: (h: HmacHash, row: IntegRow) => T): Record<HmacHash, T> =>
  Object.fromEntries(HASHES.map((h) => [h, f(h, integByKeyword(h)!)])) as Record<HmacHash, T>;
const LINUX_DEFAULT_BITS = table((_, r) => r.xfrm.defaultBits);
const RFC_BITS = table((_, r) => r.icvBytes * 8);
const RFC_NAME = table((_, r) => r.rfc);
/** strongSwan ESP integrity keywords by truncation; lengths without one have no keyword. */
const KEYWORDS = table((h): Partial<Record<number, string>> =>
  Object.fromEntries(INTEGS.filter((r) => r.hmac === h).map((r) => [r.icvBytes * 8, r.keyword])),
);
/** Candidate truncations the wasm probe tries (bits). */
export const PROBED_ICV_BITS = [96, 128, 192, 256] as const;
const DIGEST_BITS = table((_, r) => r.keyBytes * 8);

/** `0x0000abcd`, the way `ip xfrm state` prints SPIs. */
export const hexSpi = (spi: number): string => `0x${(spi >>> 0).toString(16).padStart(8, "0")}`;

const linuxAuth = (h: HmacHash): string => `auth hmac(${h})`;
const linuxTrunc = (h: HmacHash, bits: number): string => `auth-trunc hmac(${h}) KEY ${bits}`;

function head(f: IntegrityFacts): string {
  return `SA ${hexSpi(f.spi)} (${f.suite}, ${f.configuredIcvBits}-bit ICV)`;
}

function failuresText(f: IntegrityFacts): string {
  const n = f.failures;
  const plural = (k: number, w: string): string => `${k} ${w}${k === 1 ? "" : "s"}`;
  if (f.truncated === 0) return plural(n, "integrity failure");
  // Decap checks the ICV first, so `truncated` here means the packet was too short for our ICV length.
  const why = `read with a ${f.configuredIcvBits}-bit ICV, too short to hold the trailer`;
  if (f.truncated === n) return `${plural(n, "packet")} dropped as truncated (${why})`;
  return `${plural(n, "integrity failure")} (${f.truncated} dropped as truncated: ${why})`;
}

/** Who sends `bits`-bit ICVs with this hash, in the words of the tools that do. */
function whoSends(h: HmacHash, bits: number): string {
  const kw = KEYWORDS[h][bits];
  const linux = bits === LINUX_DEFAULT_BITS[h] ? `Linux \`${linuxAuth(h)}\`` : `Linux \`${linuxTrunc(h, bits)}\``;
  if (h === "sha256" && bits === 96) {
    return (
      `it is using the Linux default \`${linuxAuth(h)}\` (ip xfrm without auth-trunc, strongSwan through ` +
      `kernel-pfkey, or a \`sha256_96\` proposal)`
    );
  }
  if (bits === RFC_BITS[h]) return `${RFC_NAME[h]}'s length (${kw ? `strongSwan \`${kw}\`, ` : ""}${linux})`;
  return `a non-standard truncation (${linux}); ${RFC_NAME[h]} says ${RFC_BITS[h]} bits for HMAC-${h.toUpperCase()}`;
}

/** The change on this side that makes it accept the peer's `bits`, or undefined when none exists. */
function fixHere(f: IntegrityFacts, bits: number): string | undefined {
  const kw = KEYWORDS[f.hash][bits];
  if (kw) return `\`${f.encryption}-${kw}${f.esn ? "-esn" : ""}\` here`;
  if (f.allowedIcvBits.includes(bits)) return `icvLength ${bits / 8} (${bits} bits) on this SA here`;
  return undefined;
}

/** The change on the peer that makes it send what this side expects. */
function fixThere(f: IntegrityFacts): string {
  const bits = f.configuredIcvBits;
  const kw = KEYWORDS[f.hash][bits];
  const linux =
    bits === LINUX_DEFAULT_BITS[f.hash] && f.hash !== "sha256"
      ? `\`${linuxAuth(f.hash)}\` or \`${linuxTrunc(f.hash, bits)}\``
      : `\`${linuxTrunc(f.hash, bits)}\``;
  if (!kw) return `${linux} there`;
  const pfkey = f.hash === "sha256" && bits === 128 ? " with kernel-netlink, not kernel-pfkey" : "";
  return `${linux} there (strongSwan: \`${kw}\`${pfkey})`;
}

/** The peer's packets verify at `peerBits` with our key: name the truncation and both fixes. */
export function truncationWording(f: IntegrityFacts, peerBits: number): Wording {
  const here = fixHere(f, peerBits);
  const there = fixThere(f);
  const rfc = RFC_BITS[f.hash];
  let hint: string;
  if (!here) {
    hint = `this side supports only ${f.allowedIcvBits.join("/")}-bit ICVs for HMAC-${f.hash.toUpperCase()}: set ${there}`;
  } else if (peerBits === rfc && f.configuredIcvBits !== rfc) {
    // The peer is the standard one: change this side; moving the peer away from the RFC is the fallback.
    const linux = `\`${linuxTrunc(f.hash, f.configuredIcvBits)}\``;
    const kw = KEYWORDS[f.hash][f.configuredIcvBits];
    hint =
      `set ${here}: the peer follows ${RFC_NAME[f.hash]} (making it send ${f.configuredIcvBits}-bit ICVs, ` +
      `${linux}${kw ? ` or strongSwan \`${kw}\`` : ""} there, also works but is non-standard)`;
  } else {
    hint = `set ${here} or ${there}`;
  }
  const message =
    `${head(f)}: ${failuresText(f)}; the peer's packets verify with a ${peerBits}-bit ICV — ` +
    `${whoSends(f.hash, peerBits)}; ${hint}.`;
  return { message, hint };
}

/** Enough failures verified at no length: the keys (or the ESN setting) differ, or packets are damaged. */
export function keyMismatchWording(f: IntegrityFacts): Wording {
  const tried = PROBED_ICV_BITS.filter((b) => b <= DIGEST_BITS[f.hash]).join("/");
  const hint =
    `compare this SA's integrity key with the peer's (\`ip xfrm state\`, \`swanctl --list-sas\`), ` +
    `check that both sides agree on ESN (${f.esn ? "on" : "off"} here), and look for a device that modifies ESP packets in transit`;
  const message =
    `${head(f)}: key mismatch or corruption: ${failuresText(f)}, none verify at ${tried} bits ` +
    `with this SA's key; ${hint}.`;
  return { message, hint };
}
