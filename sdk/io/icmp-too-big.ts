/**
 * ICMP "fragmentation needed" (IPv4, RFC 792/1191) and ICMPv6 "packet too big" (RFC 4443 §3.2)
 * for an inner packet larger than what the Child SA carries: what the kernel answers for an
 * XFRM tunnel, so path MTU discovery on the host (and behind it) settles on the tunnel's MTU.
 * Pure functions of the packet: no allocation but the reply.
 * @module
 */
import { byteAt } from "../packet/bytes.ts";

/** ICMPv4 error types (never answered with another error, RFC 1122 §3.2.2). */
const ICMP4_ERRORS = new Set([3, 4, 5, 11, 12]);

function sum16(b: Uint8Array, start: number, end: number, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += (byteAt(b, i) << 8) | byteAt(b, i + 1);
  if ((end - start) & 1) acc += byteAt(b, end - 1) << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

/**
 * The ICMP error telling the sender of `pkt` (an IPv4 or IPv6 packet) that at most `mtu` bytes
 * fit, from `src` (4 or 16 bytes; the packet's destination when absent). Undefined when no error
 * may be sent: an IPv4 packet without DF (it may be fragmented instead), an ICMP error itself, a
 * multicast or unspecified source, a fragment other than the first, or a malformed packet.
 */
export function packetTooBig(pkt: Uint8Array, mtu: number, src?: Uint8Array): Uint8Array | undefined {
  if (pkt.length < 20) return undefined;
  const v = byteAt(pkt, 0) >> 4;
  if (v === 4) return frag4(pkt, mtu, src);
  if (v === 6 && pkt.length >= 40) return tooBig6(pkt, mtu, src);
  return undefined;
}

function frag4(pkt: Uint8Array, mtu: number, src?: Uint8Array): Uint8Array | undefined {
  const ihl = (byteAt(pkt, 0) & 15) * 4;
  if (ihl < 20 || pkt.length < ihl) return undefined;
  if ((byteAt(pkt, 6) & 0x40) === 0) return undefined; // no DF
  if ((((byteAt(pkt, 6) & 0x1f) << 8) | byteAt(pkt, 7)) !== 0) return undefined; // not the first fragment
  if (byteAt(pkt, 12) >= 224 || pkt[12] === 0 || pkt[12] === 127) return undefined; // multicast/zero/loopback source
  if (pkt[9] === 1 && pkt.length > ihl && ICMP4_ERRORS.has(byteAt(pkt, ihl))) return undefined;
  // RFC 1812 §4.3.2.3: as much of the original as fits in 576 bytes.
  const quote = Math.min(pkt.length, 576 - 28);
  const out = new Uint8Array(28 + quote);
  out[0] = 0x45;
  out[1] = 0xc0;
  out[2] = out.length >> 8;
  out[3] = out.length & 0xff;
  out[8] = 64;
  out[9] = 1;
  out.set(src ?? pkt.subarray(16, 20), 12);
  out.set(pkt.subarray(12, 16), 16);
  const h = fold(sum16(out, 0, 20));
  out[10] = h >> 8;
  out[11] = h & 0xff;
  out[20] = 3;
  out[21] = 4;
  out[26] = (mtu >> 8) & 0xff;
  out[27] = mtu & 0xff;
  out.set(pkt.subarray(0, quote), 28);
  const c = fold(sum16(out, 20, out.length));
  out[22] = c >> 8;
  out[23] = c & 0xff;
  return out;
}

function tooBig6(pkt: Uint8Array, mtu: number, src?: Uint8Array): Uint8Array | undefined {
  if (pkt[8] === 0xff) return undefined; // multicast source
  if (pkt.subarray(8, 24).every((b) => b === 0)) return undefined; // unspecified source
  if (pkt[6] === 58 && pkt.length > 40 && byteAt(pkt, 40) < 128) return undefined; // an ICMPv6 error
  // RFC 4443 §2.4 (c): as much as fits in the minimum IPv6 MTU.
  const quote = Math.min(pkt.length, 1280 - 48);
  const out = new Uint8Array(48 + quote);
  out[0] = 0x60;
  const plen = 8 + quote;
  out[4] = plen >> 8;
  out[5] = plen & 0xff;
  out[6] = 58;
  out[7] = 64;
  out.set(src ?? pkt.subarray(24, 40), 8);
  out.set(pkt.subarray(8, 24), 24);
  out[40] = 2;
  out[41] = 0;
  out[44] = (mtu >>> 24) & 0xff;
  out[45] = (mtu >> 16) & 0xff;
  out[46] = (mtu >> 8) & 0xff;
  out[47] = mtu & 0xff;
  out.set(pkt.subarray(0, quote), 48);
  // Pseudo-header: source, destination, upper-layer length, next header 58.
  let acc = sum16(out, 8, 40);
  acc += plen + 58;
  acc = sum16(out, 40, out.length, acc);
  const c = fold(acc);
  out[42] = c >> 8;
  out[43] = c & 0xff;
  return out;
}

/** A token bucket for ICMP errors (the kernel rate-limits them too): `perSecond` with a burst as large. */
export class RateLimit {
  readonly #rate: number;
  #tokens: number;
  #last = 0;
  constructor(perSecond: number) {
    this.#rate = perSecond;
    this.#tokens = perSecond;
  }
  /** Whether one more may go now. */
  take(nowMs: number): boolean {
    this.#tokens = Math.min(this.#rate, this.#tokens + ((nowMs - this.#last) * this.#rate) / 1000);
    this.#last = nowMs;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
