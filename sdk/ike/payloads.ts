/**
 * Small helpers the IKE exchanges share: finding payloads and notifies, building notifies, the
 * byte forms of SPIs, hash lists and NAT_DETECTION hashes. No state.
 * @module
 */
import type { ControlCrypto } from "../dataplane/control-crypto.ts";
import { HashAlg } from "../dataplane/suites.ts";
import { dhGroupById } from "./dh.ts";
import { concatPublic } from "./keys.ts";
import { CertEncoding, type Payload, type Proposal } from "./message.ts";
import type { Chosen } from "./proposals.ts";
import { parseIp } from "../net/ip.ts";
import type { Certificate } from "./x509.ts";

/** An address and UDP port. */
export interface Endpoint {
  address: string;
  port: number;
}

/** The payload variant(s) whose type includes T (IDi/IDr and TSi/TSr share a variant). */
export type PayloadOf<T extends Payload["type"]> = Payload extends infer P
  ? P extends { type: infer U }
    ? T extends U
      ? P
      : never
    : never
  : never;

export function find<T extends Payload["type"]>(ps: Payload[], type: T): PayloadOf<T> | undefined {
  return ps.find((p) => p.type === type) as PayloadOf<T> | undefined;
}

export function notifies(ps: Payload[]): PayloadOf<"N">[] {
  return ps.filter((p): p is PayloadOf<"N"> => p.type === "N");
}

export function hasNotify(ps: Payload[], type: number): boolean {
  return ps.some((p) => p.type === "N" && p.notifyType === type);
}

export function notify(
  type: number,
  data: Uint8Array = new Uint8Array(0),
  protocolId = 0,
  spi: Uint8Array = new Uint8Array(0),
): Payload {
  return { type: "N", protocolId, spi, notifyType: type, data };
}

/** A 2-byte DH group number as INVALID_KE_PAYLOAD carries it. */
export function groupBytes(g: number): Uint8Array {
  return Uint8Array.of(g >> 8, g & 255);
}

/** Two hex digits per byte value (public values only: SPIs, cookies, hashes in logs). */
const HEX_DIGITS: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export const hex = (b: Uint8Array): string => {
  // A loop over a table instead of Array.from(...).join(""): the daemon keys its IKE SAs by this
  // text of the SPI, several times per exchange.
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX_DIGITS[b[i]!]!;
  return s;
};
export function u32(b: Uint8Array): number {
  return (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
}
export function spiBytes(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

/** Body of an ID payload after the generic header (what AUTH's prf covers, §2.15). */
export function idBody(p: { idType: number; data: Uint8Array }): Uint8Array {
  return concatPublic(Uint8Array.of(p.idType, 0, 0, 0), p.data);
}

export function ipBytes(addr: string): Uint8Array {
  return parseIp(addr) ?? new Uint8Array(0);
}

/**
 * Addresses NAT-D has hashed, as bytes: a setup hashes both ends' addresses six times, and parsing
 * the text each time showed in profiles. Only read here (copied into the hash input); at most
 * NAT_ADDR_CACHE entries, then it starts over.
 */
const natAddrs = new Map<string, Uint8Array>();
const NAT_ADDR_CACHE = 64;

/** NAT_DETECTION hash (§2.23): SHA-1(SPIi | SPIr | IP | port). */
export function natHash(cc: ControlCrypto, spiI: Uint8Array, spiR: Uint8Array, ep: Endpoint): Uint8Array {
  let addr = natAddrs.get(ep.address);
  if (!addr) {
    if (natAddrs.size >= NAT_ADDR_CACHE) natAddrs.clear();
    addr = ipBytes(ep.address);
    natAddrs.set(ep.address, addr);
  }
  const at = spiI.length + spiR.length + addr.length;
  const input = new Uint8Array(at + 2);
  input.set(spiI, 0);
  input.set(spiR, spiI.length);
  input.set(addr, spiI.length + spiR.length);
  input[at] = ep.port >> 8;
  input[at + 1] = ep.port & 255;
  return cc.hash(HashAlg.Sha1, input);
}

export function groupName(g: number): string {
  return dhGroupById(g)?.name ?? `DH_${g}`;
}

/** SIGNATURE_HASH_ALGORITHMS notify data (RFC 7427): 2 bytes per hash id. */
export function hashList(ids: number[]): Uint8Array {
  const out = new Uint8Array(ids.length * 2);
  ids.forEach((id, i) => {
    out[2 * i] = id >> 8;
    out[2 * i + 1] = id & 255;
  });
  return out;
}

export function parseHashList(d: Uint8Array | undefined): number[] {
  if (!d) return [];
  const out: number[] = [];
  for (let i = 0; i + 1 < d.length; i += 2) out.push(((d[i] ?? 0) << 8) | (d[i + 1] ?? 0));
  return out;
}

/** CERTREQ (§3.7): SHA-1 hashes of the trusted CAs' SubjectPublicKeyInfo. */
export function certReqs(cc: ControlCrypto, cas: Certificate[]): Payload[] {
  if (cas.length === 0) return [];
  return [
    {
      type: "CERTREQ",
      encoding: CertEncoding.X509_SIGNATURE,
      data: concatPublic(...cas.map((c) => cc.hash(HashAlg.Sha1, c.spki))),
    },
  ];
}

/** A one-proposal wire form of a chosen set (for formatting). */
export function chosenProposal(c: Chosen): Proposal {
  const t: { type: number; id: number; keyLength?: number }[] = [
    c.encr.keyLength === undefined
      ? { type: 1, id: c.encr.id }
      : { type: 1, id: c.encr.id, keyLength: c.encr.keyLength },
  ];
  if (c.integ !== undefined) t.push({ type: 3, id: c.integ });
  if (c.prf !== undefined) t.push({ type: 2, id: c.prf });
  if (c.dh !== undefined) t.push({ type: 4, id: c.dh });
  if (c.protocol === "ESP") t.push({ type: 5, id: c.esn ? 1 : 0 });
  return { num: c.proposalNum, protocolId: c.protocol === "IKE" ? 1 : 3, spi: c.spi, transforms: t };
}

/**
 * Orders nonces as RFC 7296 §2.8.1 compares them for collisions: byte-wise, a shorter nonce
 * that is a prefix of a longer one being the lower.
 */
export function compareNonces(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
  return a.length - b.length;
}

/** The lower of an exchange's two nonces: the exchange whose lower nonce is lowest created the redundant SA. */
export function lowerNonce(ni: Uint8Array, nr: Uint8Array): Uint8Array {
  return compareNonces(ni, nr) <= 0 ? ni : nr;
}
