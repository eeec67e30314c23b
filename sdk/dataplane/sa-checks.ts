/**
 * Checks of an SaConfig that need no wasm: the key layout a suite expects (for error messages),
 * verify-only SAs, lifetimes, the outer addresses of a tunnel-mode AH SA. Each failure is a
 * DataplaneError whose message says what to change.
 * @module
 */
import { DataplaneError } from "./errors.ts";
import { lookupSuite, SuiteKind, type Suite } from "./suites.ts";
import { FAMILIES } from "./suite-registry.ts";
import { parseIp } from "../net/ip.ts";
import type { LifetimeLimits, SaConfig } from "./types.ts";

/** "No limit" in the wasm's u64 lifetime fields. */
export const NO_LIMIT = 0xffffffffffffffffn;

/** Words for the error message: what encKey must hold for this suite (from its registry row). */
export function encKeyLayout(suite: Suite, verifyOnly: boolean): string {
  if (verifyOnly && suite.kind !== SuiteKind.Gmac) return "none: a verify-only SA holds only the integrity key";
  const cipher = lookupSuite(suite.name)?.cipher;
  if (!cipher || cipher.keyBytes === 0) return "no key (NULL encryption)";
  const key = `${cipher.keyBytes}-byte ${cipher.family === "chacha20-poly1305" ? "ChaCha20" : "AES"} key`;
  if (cipher.saltBytes === 0) return key;
  const { rfc, saltWord } = FAMILIES[cipher.family];
  // GCM, the suite everyone starts with, keeps its short form
  return `${key} followed by the ${cipher.saltBytes}-byte ${saltWord}${cipher.family === "aes-gcm" ? "" : `, ${rfc}`}`;
}

/** Verify-only SAs: inbound, and a suite whose ICV key is not the encryption key. */
export function checkVerifyOnly(cfg: SaConfig, suite: Suite): void {
  if (cfg.direction !== "in") {
    throw new DataplaneError(
      "BAD_ARGUMENT",
      `verifyOnly is for inbound SAs (an integrity gateway checks packets it receives); this SA is outbound`,
    );
  }
  if (suite.aead) {
    throw new DataplaneError(
      "BAD_PROPOSAL",
      `${suite.name} cannot be verified without decrypting: an AEAD's ICV is keyed by the encryption key, so a verify-only ` +
        `gateway would need the full key. Use an HMAC suite (e.g. aes128ctr-sha256, aes128-sha256) or AES-GMAC for integrity gateways`,
    );
  }
  if (cfg.tfc !== undefined)
    throw new DataplaneError(
      "BAD_ARGUMENT",
      "tfc applies to outbound SAs; a verify-only SA forwards packets unchanged",
    );
}

export interface Limits {
  packetsOrBytes: boolean;
  seconds: boolean;
  softPackets: bigint;
  softBytes: bigint;
  hardPackets: bigint;
  hardBytes: bigint;
  softSeconds?: number;
  hardSeconds?: number;
}

/** Validates SaConfig.lifetime: positive integers, soft not above hard. */
export function checkLifetime(cfg: SaConfig): Limits {
  const count = (v: number | bigint | undefined, what: string): bigint => {
    if (v === undefined) return NO_LIMIT;
    const ok = typeof v === "bigint" ? v >= 1n && v < NO_LIMIT : Number.isSafeInteger(v) && v >= 1;
    if (!ok) throw new DataplaneError("BAD_ARGUMENT", `lifetime ${what} must be a positive integer, got ${String(v)}`);
    return BigInt(v);
  };
  const secs = (v: number | undefined, what: string): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
      throw new DataplaneError(
        "BAD_ARGUMENT",
        `lifetime ${what} must be a positive number of seconds, got ${String(v)}`,
      );
    return v;
  };
  const soft: LifetimeLimits = cfg.lifetime?.soft ?? {};
  const hard: LifetimeLimits = cfg.lifetime?.hard ?? {};
  const l: Limits = {
    softPackets: count(soft.packets, "soft.packets"),
    softBytes: count(soft.bytes, "soft.bytes"),
    hardPackets: count(hard.packets, "hard.packets"),
    hardBytes: count(hard.bytes, "hard.bytes"),
    softSeconds: secs(soft.seconds, "soft.seconds"),
    hardSeconds: secs(hard.seconds, "hard.seconds"),
    packetsOrBytes: false,
    seconds: false,
  };
  for (const [what, a, b] of [
    ["packets", l.softPackets, l.hardPackets],
    ["bytes", l.softBytes, l.hardBytes],
  ] as const) {
    if (a !== NO_LIMIT && b !== NO_LIMIT && a > b)
      throw new DataplaneError(
        "BAD_ARGUMENT",
        `lifetime soft.${what} (${a}) is above hard.${what} (${b}): the soft limit warns before the hard one`,
      );
  }
  if (l.softSeconds !== undefined && l.hardSeconds !== undefined && l.softSeconds > l.hardSeconds) {
    throw new DataplaneError(
      "BAD_ARGUMENT",
      `lifetime soft.seconds (${l.softSeconds}) is above hard.seconds (${l.hardSeconds}): the soft limit warns before the hard one`,
    );
  }
  l.packetsOrBytes = [l.softPackets, l.softBytes, l.hardPackets, l.hardBytes].some((v) => v !== NO_LIMIT);
  l.seconds = l.softSeconds !== undefined || l.hardSeconds !== undefined;
  return l;
}

/** The outer addresses of an outbound tunnel-mode AH SA. */
export function tunnelAddresses(cfg: SaConfig): { src: Uint8Array; dst: Uint8Array } {
  const src = cfg.tunnel ? parseIp(cfg.tunnel.src) : undefined;
  const dst = cfg.tunnel ? parseIp(cfg.tunnel.dst) : undefined;
  if (!src || !dst || src.length !== dst.length) {
    throw new DataplaneError(
      "BAD_ARGUMENT",
      `an outbound tunnel-mode AH SA needs tunnel: { src, dst }, two IPv4 or two IPv6 addresses (the AH ICV covers the outer header); got ${JSON.stringify(cfg.tunnel)}`,
    );
  }
  return { src, dst };
}
