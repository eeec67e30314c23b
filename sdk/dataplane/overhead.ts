/**
 * ESP and AH size arithmetic (RFC 4303 §2, RFC 4302 §2.2): the bytes an SA adds to a packet and
 * the largest inner packet that fits an outer MTU. Pure functions of the suite and the headers.
 * @module
 */
import type { Suite } from "./suites.ts";
import type { OuterHeaders, SaConfig } from "./types.ts";

/** Bytes of the outer IP header a tunnel adds, or of the packet's own header in transport mode. */
const ipHeaderBytes = (outer: OuterHeaders): number => (outer.ipVersion === 6 ? 40 : 20);

/** AH header bytes for this ICV: 12 + ICV padded to 4 (IPv4) or 8 (IPv6) bytes, RFC 4302 §2.2. */
const ahBytes = (icv: number, ipVersion: 4 | 6 | undefined): number =>
  ipVersion === 6 ? Math.ceil((12 + icv) / 8) * 8 : Math.ceil((12 + icv) / 4) * 4;

/** See Dataplane.overhead; `withOuterIp` counts the tunnel's outer IP header. */
export function overheadFor(
  suite: Suite,
  icv: number,
  mode: SaConfig["mode"],
  innerLength: number,
  outer: OuterHeaders,
  tfc: number,
  withOuterIp: boolean,
): number {
  if (suite.protocol === "ah") {
    // AH's output is the whole IP packet: in tunnel mode the outer header is always part of it.
    return ahBytes(icv, outer.ipVersion) + (mode === "tunnel" ? ipHeaderBytes(outer) : 0);
  }
  const kept = mode === "transport" ? Math.min(innerLength, ipHeaderBytes(outer)) : 0;
  const plen = Math.max(innerLength - kept, mode === "tunnel" ? tfc : 0);
  const padded = Math.ceil((plen + 2) / suite.align) * suite.align;
  const esp = 8 + suite.ivBytes + padded + icv;
  const outerIp = mode === "tunnel" && withOuterIp ? ipHeaderBytes(outer) : 0;
  return esp + kept - innerLength + outerIp + (outer.udpEncap ? 8 : 0);
}

/** See Dataplane.innerMtu (without the TFC check); at most `maxPacket`, never negative. */
export function innerMtuFor(
  suite: Suite,
  icv: number,
  mode: SaConfig["mode"],
  outerMtu: number,
  outer: OuterHeaders,
  maxPacket: number,
): number {
  const ip = ipHeaderBytes(outer);
  if (suite.protocol === "ah") {
    const inner = outerMtu - ahBytes(icv, outer.ipVersion) - (mode === "tunnel" ? ip : 0);
    return Math.max(0, Math.min(inner, maxPacket));
  }
  const room = outerMtu - ip - (outer.udpEncap ? 8 : 0) - 8 - suite.ivBytes - icv;
  const padded = Math.floor(room / suite.align) * suite.align;
  const inner = padded - 2 + (mode === "transport" ? ip : 0);
  return Math.max(0, Math.min(inner, maxPacket));
}
