// AH (RFC 4302) test pieces shared by test/unit/dataplane-ah.test.ts and
// test/interop/ah-scapy.test.ts: an outbound and an inbound SA with one key on one dataplane.
import { Dataplane, type SaConfig } from "../../sdk/index.ts";

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
export const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 41 + seed) & 255);

/** HMAC key length per AH suite keyword. */
export const KEYS: Record<string, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

export interface Setup {
  dp: Dataplane;
  out: number;
  inn: number;
  key: Uint8Array;
}

/** An outbound and an inbound AH SA (SPI 0xa4a4, same key) on a fresh dataplane. Tunnel outer headers: 198.18.0.1 -> 198.18.0.2 or 2001:db8::a -> 2001:db8::b. */
export async function ahPair(
  alg: string,
  mode: "tunnel" | "transport",
  outerV: 4 | 6,
  extra: Partial<SaConfig> = {},
): Promise<Setup> {
  const dp = await Dataplane.create({ maxSas: 4, batchSize: 16 });
  const key = bytes(KEYS[alg.replace(/-esn$/, "")]!, 7);
  const base: SaConfig = {
    protocol: "ah",
    spi: 0xa4a4,
    mode,
    esp: alg,
    encKey: new Uint8Array(0),
    integKey: key,
    direction: "out",
    ...extra,
  };
  const tunnel = outerV === 4 ? { src: "198.18.0.1", dst: "198.18.0.2" } : { src: "2001:db8::a", dst: "2001:db8::b" };
  const out = dp.addSa({ ...base, tunnel: mode === "tunnel" ? tunnel : undefined });
  const inn = dp.addSa({ ...base, direction: "in" });
  return { dp, out, inn, key };
}
