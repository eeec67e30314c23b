// Random but well-formed IKEv2 payloads (RFC 7296 §3), for the codec fuzzer: encoded with the
// project's encoder, they reach every payload decoder; mutated, they probe its bounds checks.
import type { Payload, Proposal, TrafficSelector } from "../../sdk/ike/message.ts";
import type { Prng } from "./prng.ts";

const KNOWN = [
  "SA",
  "KE",
  "IDi",
  "IDr",
  "CERT",
  "CERTREQ",
  "AUTH",
  "NONCE",
  "N",
  "D",
  "V",
  "TSi",
  "TSr",
  "CP",
  "EAP",
  "UNKNOWN",
] as const;

function proposal(rng: Prng, num: number): Proposal {
  const protocolId = rng.pick([1, 2, 3]);
  const spi = protocolId === 1 ? (rng.chance(0.5) ? new Uint8Array(0) : rng.bytes(8)) : rng.bytes(4);
  const transforms = Array.from({ length: rng.range(1, 6) }, () => {
    const t = { type: rng.range(1, 5), id: rng.pick([12, 20, 28, 2, 5, 12, 14, 31, rng.int(65536)]) };
    return rng.chance(0.4) ? { ...t, keyLength: rng.pick([128, 192, 256]) } : t;
  });
  return { num, protocolId, spi, transforms };
}

function selector(rng: Prng): TrafficSelector {
  const v6 = rng.chance(0.3);
  const n = v6 ? 16 : 4;
  return {
    tsType: v6 ? 8 : 7,
    ipProtocol: rng.pick([0, 6, 17, 1]),
    startPort: rng.int(65536),
    endPort: rng.int(65536),
    start: rng.bytes(n),
    end: rng.bytes(n),
  };
}

/** One random payload of a known (or an unknown) type. */
export function randomPayload(rng: Prng): Payload {
  const data = (max = 64): Uint8Array => rng.bytes(rng.int(max));
  const critical = rng.chance(0.1);
  switch (rng.pick(KNOWN)) {
    case "SA":
      return {
        type: "SA",
        critical,
        proposals: Array.from({ length: rng.range(1, 3) }, (_, i) => proposal(rng, i + 1)),
      };
    case "KE":
      return { type: "KE", critical, group: rng.pick([14, 19, 31, 32, rng.int(65536)]), data: data(300) };
    case "IDi":
      return { type: "IDi", critical, idType: rng.pick([1, 2, 3, 5, 9, 11]), data: data() };
    case "IDr":
      return { type: "IDr", critical, idType: rng.pick([1, 2, 3, 5, 9, 11]), data: data() };
    case "CERT":
      return { type: "CERT", critical, encoding: 4, data: data(200) };
    case "CERTREQ":
      return { type: "CERTREQ", critical, encoding: 4, data: data(60) };
    case "AUTH":
      return { type: "AUTH", critical, method: rng.pick([1, 2, 9, 14]), data: data() };
    case "NONCE":
      return { type: "NONCE", critical, data: rng.bytes(rng.range(16, 256)) };
    case "N": {
      const spi = rng.pick([0, 4, 8]);
      return {
        type: "N",
        critical,
        protocolId: spi === 0 ? 0 : spi === 4 ? 3 : 1,
        spi: rng.bytes(spi),
        notifyType: rng.pick([14, 16388, 16389, 16390, 16393, 16430, 24, rng.int(65536)]),
        data: data(40),
      };
    }
    case "D": {
      const spiSize = rng.pick([0, 4]);
      return {
        type: "D",
        critical,
        protocolId: spiSize ? 3 : 1,
        spiSize,
        spis: spiSize ? Array.from({ length: rng.range(1, 5) }, () => rng.bytes(4)) : [],
      };
    }
    case "V":
      return { type: "V", critical, data: data() };
    case "TSi":
      return { type: "TSi", critical, selectors: Array.from({ length: rng.range(1, 3) }, () => selector(rng)) };
    case "TSr":
      return { type: "TSr", critical, selectors: Array.from({ length: rng.range(1, 3) }, () => selector(rng)) };
    case "CP":
      return {
        type: "CP",
        critical,
        cfgType: rng.range(1, 4),
        attributes: Array.from({ length: rng.int(4) }, () => ({ type: rng.pick([1, 3, 8, 10]), value: data(16) })),
      };
    case "EAP": {
      // RFC 3748 §4: code, identifier, then a length that covers the whole EAP message.
      const rest = data();
      const eap = new Uint8Array(4 + rest.length);
      eap.set([rng.range(1, 4), rng.int(256), eap.length >> 8, eap.length & 255]);
      eap.set(rest, 4);
      return { type: "EAP", critical, data: eap };
    }
    default:
      return { type: "UNKNOWN", critical: false, payloadType: rng.pick([1, 2, 49, 50, 128, 200, 255]), data: data() };
  }
}

/** A random chain of 1..6 payloads (no SK: that one is the encrypted envelope). */
export function randomPayloads(rng: Prng): Payload[] {
  return Array.from({ length: rng.range(1, 6) }, () => randomPayload(rng));
}
