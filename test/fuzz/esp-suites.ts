// Every ESP suite the dataplane accepts (the keyword families of sdk/dataplane/suites.ts), each
// checked through parseSuite, and the SA configurations the ESP fuzzer installs for them.
import { parseSuite, type Suite } from "../../sdk/dataplane/suites.ts";
import type { EspMode, IcvLength, SaConfig } from "../../sdk/index.ts";
import type { Prng } from "./prng.ts";

const AES = [128, 192, 256];
const INTEG = ["sha1", "sha256", "sha256_96", "sha384", "sha512"];

/** Every ESP keyword family in KNOWN_SUITES, expanded (48 suites). */
export function allEspSuites(): string[] {
  const out: string[] = [];
  for (const b of AES) for (const icv of [8, 12, 16]) out.push(`aes${b}gcm${icv}`);
  for (const b of AES) out.push(`aes${b}gmac`);
  out.push("chacha20poly1305");
  for (const b of AES) for (const h of INTEG) out.push(`aes${b}-${h}`);
  for (const b of AES) for (const h of INTEG) out.push(`aes${b}ctr-${h}`);
  for (const h of INTEG) out.push(`null-${h}`);
  return out;
}

/** One inbound/outbound SA pair the fuzzer drives. */
export interface SaSpec {
  esp: string;
  suite: Suite;
  mode: EspMode;
  /** Replay window of the inbound SA (0 = replay checks off). */
  window: number;
  esn: boolean;
  /** Sequence number both SAs start from (the last one sent / received). */
  start: number;
  /** Explicit ICV length for HMAC-SHA-256 suites that allow several. */
  icvLength?: IcvLength;
}

const WINDOWS = [0, 32, 64, 128, 1024, 4096];

/**
 * Specs for every suite in both modes: windows, ESN (starting a few hundred numbers below 2^32,
 * so the high half changes during the run) and ICV lengths drawn from the PRNG.
 */
export function saSpecs(rng: Prng, suites: readonly string[] = allEspSuites()): SaSpec[] {
  const specs: SaSpec[] = [];
  for (const esp of suites) {
    const suite = parseSuite(esp);
    for (const mode of ["tunnel", "transport"] as const) {
      const esn = rng.chance(0.4);
      const icvLength =
        suite.allowedIcv.length > 1 && rng.chance(0.5) ? (rng.pick(suite.allowedIcv) as IcvLength) : undefined;
      specs.push({
        esp,
        suite,
        mode,
        window: rng.pick(WINDOWS),
        esn,
        start: esn ? 2 ** 32 - rng.range(50, 3000) : rng.int(1000),
        icvLength,
      });
    }
  }
  return specs;
}

/** Keys of the right lengths for a spec (the same keys for both directions). */
export function saKeys(rng: Prng, s: SaSpec): { encKey: Uint8Array; integKey?: Uint8Array } {
  return {
    encKey: rng.bytes(s.suite.encKeyBytes),
    integKey: s.suite.integKeyBytes ? rng.bytes(s.suite.integKeyBytes) : undefined,
  };
}

/** The SaConfig of one direction. */
export function saConfig(
  s: SaSpec,
  spi: number,
  direction: "in" | "out",
  keys: { encKey: Uint8Array; integKey?: Uint8Array },
  seq: number,
): SaConfig {
  return {
    spi,
    direction,
    mode: s.mode,
    esp: s.esp,
    ...keys,
    esn: s.esn,
    icvLength: s.icvLength,
    replayWindow: direction === "in" ? s.window : undefined,
    seq: BigInt(seq),
  };
}

/** ICV bytes on the wire for a spec. */
export const icvBytes = (s: SaSpec): number => s.icvLength ?? s.suite.icvBytes;
