/**
 * Everything `Dataplane.addSa` decides about an SaConfig before the wasm sees it: the suite, key
 * and ICV lengths, SPI, direction, mode, window, sequence number, lifetime, TFC and, for a
 * tunnel-mode AH SA, its outer addresses, and the wasm's flags. Each refusal is a DataplaneError
 * whose message says what to change; nothing here touches a dataplane.
 * @module
 */
import { DataplaneError } from "./errors.ts";
import { parseSuite, parseAhSuite, SuiteKind, type Suite } from "./suites.ts";
import { checkLifetime, checkVerifyOnly, encKeyLayout, tunnelAddresses, type Limits } from "./sa-checks.ts";
import { innerMtuFor } from "./overhead.ts";
import { F_AH, F_ESN, F_INBOUND, F_TRANSPORT, F_VERIFY_ONLY } from "./abi.generated.ts";
import type { SaConfig } from "./types.ts";

/** An SaConfig checked and resolved for sa_add. */
export interface CheckedSa {
  suite: Suite;
  spi: number;
  verifyOnly: boolean;
  encKey: Uint8Array;
  integKey: Uint8Array;
  icv: number;
  window: number;
  seq: bigint;
  limits: Limits;
  /** TFC target in bytes, 0 for none. */
  tfc: number;
  /** Outer addresses of a tunnel-mode outbound AH SA. */
  outer: { src: Uint8Array; dst: Uint8Array } | undefined;
  flags: number;
}

/** Checks `cfg` for a dataplane whose packet slots hold `maxPacket` bytes; throws DataplaneError. */
export function checkSaConfig(cfg: SaConfig, maxPacket: number): CheckedSa {
  if (cfg.protocol !== undefined && cfg.protocol !== "esp" && cfg.protocol !== "ah") {
    throw new DataplaneError("BAD_ARGUMENT", `protocol must be "esp" or "ah", got ${String(cfg.protocol)}`);
  }
  const ah = cfg.protocol === "ah";
  const suite = ah ? parseAhSuite(cfg.esp) : parseSuite(cfg.esp);
  const spi = cfg.spi;
  if (!Number.isInteger(spi) || spi < 256 || spi > 0xffffffff) {
    throw new DataplaneError(
      "BAD_SPI",
      `SPI ${spi} is not allowed: use 256..0xffffffff (0..255 are reserved, RFC 4303 §2.1)`,
    );
  }
  if (cfg.direction !== "in" && cfg.direction !== "out") {
    throw new DataplaneError("BAD_ARGUMENT", `direction must be "in" or "out", got ${String(cfg.direction)}`);
  }
  if (cfg.mode !== "tunnel" && cfg.mode !== "transport") {
    throw new DataplaneError("BAD_ARGUMENT", `mode must be "tunnel" or "transport", got ${String(cfg.mode)}`);
  }
  const verifyOnly = cfg.verifyOnly === true;
  if (verifyOnly) checkVerifyOnly(cfg, suite);
  const encKey = cfg.encKey ?? new Uint8Array(0);
  // A verify-only HMAC SA holds no encryption key (GMAC's key is its integrity key).
  const wantEnc = verifyOnly && suite.kind !== SuiteKind.Gmac ? 0 : suite.encKeyBytes;
  if (encKey.length !== wantEnc) {
    throw new DataplaneError(
      "BAD_KEY_LENGTH",
      `${suite.name}: encKey is ${encKey.length} bytes; it must be ${wantEnc} (${encKeyLayout(suite, verifyOnly)})`,
    );
  }
  const integKey = cfg.integKey ?? new Uint8Array(0);
  if (integKey.length !== suite.integKeyBytes) {
    throw new DataplaneError(
      "BAD_KEY_LENGTH",
      suite.integKeyBytes === 0
        ? `${suite.name}: this suite has no separate integrity key (its ICV is keyed by encKey), but integKey has ${integKey.length} bytes`
        : `${suite.name}: integKey is ${integKey.length} bytes; it must be ${suite.integKeyBytes} (RFC 2404/4868: the hash output length)`,
    );
  }
  const icv = cfg.icvLength ?? suite.icvBytes;
  if (!suite.allowedIcv.includes(icv)) {
    throw new DataplaneError(
      "BAD_ICV_LENGTH",
      `${suite.name}: ICV length ${icv} bytes is not allowed; allowed: ${suite.allowedIcv.join(", ")} bytes`,
    );
  }
  const esn = cfg.esn ?? suite.esn;
  const window = cfg.direction === "in" ? (cfg.replayWindow ?? 64) : 0;
  if (!Number.isInteger(window) || (window !== 0 && (window < 32 || window > 4096))) {
    throw new DataplaneError(
      "BAD_WINDOW",
      `replay window ${window} is not allowed: use 32..4096 packets, or 0 to turn replay protection off`,
    );
  }
  const seq = cfg.seq ?? 0n;
  const seqMax = esn ? 0xffffffffffffffffn : 0xffffffffn;
  if (typeof seq !== "bigint" || seq < 0n || seq > seqMax) {
    throw new DataplaneError(
      "BAD_SEQ",
      `seq must be a bigint 0..${seqMax} ${esn ? "(64-bit, ESN)" : "(32-bit without ESN)"}`,
    );
  }
  const limits = checkLifetime(cfg);
  if (ah && cfg.tfc !== undefined)
    throw new DataplaneError("BAD_ARGUMENT", "tfc is ESP's (RFC 4303 §2.7); AH carries no padding");
  const tfc = resolveTfc(cfg, suite, icv, maxPacket);
  const outer = ah && cfg.direction === "out" && cfg.mode === "tunnel" ? tunnelAddresses(cfg) : undefined;
  const flags =
    (cfg.direction === "in" ? F_INBOUND : 0) |
    (cfg.mode === "transport" ? F_TRANSPORT : 0) |
    (esn ? F_ESN : 0) |
    (verifyOnly ? F_VERIFY_ONLY : 0) |
    (ah ? F_AH : 0);
  return { suite, spi, verifyOnly, encKey, integKey, icv, window, seq, limits, tfc, outer, flags };
}

/** TFC target in bytes for an SA being added (0 = none); throws for a setting that cannot work. */
function resolveTfc(cfg: SaConfig, suite: Suite, icv: number, maxPacket: number): number {
  if (cfg.tfc === undefined || cfg.tfc === 0) return 0;
  if (cfg.direction !== "out" || cfg.mode !== "tunnel") {
    throw new DataplaneError(
      "BAD_ARGUMENT",
      `tfc pads inner packets of tunnel-mode outbound SAs only (RFC 4303 §2.7: the receiver finds the end by the inner IP length); this SA is ${cfg.mode} ${cfg.direction}`,
    );
  }
  let target: number;
  if (cfg.tfc === "mtu") {
    const mtu = cfg.pathMtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)
      throw new DataplaneError("BAD_ARGUMENT", `pathMtu must be an integer 68..65535, got ${mtu}`);
    target = innerMtuFor(suite, icv, "tunnel", mtu, cfg.outer ?? {}, maxPacket);
    if (target < 20)
      throw new DataplaneError("BAD_ARGUMENT", `pathMtu ${mtu} leaves no room for an inner packet with ${suite.name}`);
  } else {
    target = cfg.tfc;
  }
  if (!Number.isInteger(target) || target < 1 || target > maxPacket) {
    throw new DataplaneError(
      "BAD_ARGUMENT",
      `tfc must be "mtu" or an integer 1..${maxPacket} (the largest packet a slot holds), got ${String(cfg.tfc)}`,
    );
  }
  return target;
}
