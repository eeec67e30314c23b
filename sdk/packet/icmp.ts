/**
 * IPv4 ICMP echo packets: what `npm run demo` and later `ipsec-wasm ping` send through a Child SA.
 * @module
 */
import { byteAt } from "./bytes.ts";

/** RFC 1071 Internet checksum. */
export function inetChecksum(b: Uint8Array, start = 0, end = b.length): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (byteAt(b, i) << 8) | (i + 1 < end ? byteAt(b, i + 1) : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const parseV4 = (a: string): number[] => a.split(".").map(Number);

/** An IPv4 ICMP echo request (type 8) or reply (type 0) with `payloadBytes` of payload. */
export function icmpEcho(
  src: string,
  dst: string,
  id: number,
  seq: number,
  payloadBytes = 56,
  reply = false,
): Uint8Array {
  const total = 28 + payloadBytes;
  const p = new Uint8Array(total);
  p.set([
    0x45,
    0,
    total >> 8,
    total & 255,
    (seq >> 8) & 255,
    seq & 255,
    0x40,
    0,
    64,
    1,
    0,
    0,
    ...parseV4(src),
    ...parseV4(dst),
  ]);
  const c = inetChecksum(p, 0, 20);
  p[10] = c >> 8;
  p[11] = c & 255;
  p.set([reply ? 0 : 8, 0, 0, 0, id >> 8, id & 255, seq >> 8, seq & 255], 20);
  for (let i = 0; i < payloadBytes; i++) p[28 + i] = (i + 0x10) & 255;
  const ic = inetChecksum(p, 20, total);
  p[22] = ic >> 8;
  p[23] = ic & 255;
  return p;
}

/** Parsed echo fields, or null when the packet is not a well-formed IPv4 ICMP echo. */
export function parseIcmpEcho(
  p: Uint8Array,
): { src: string; dst: string; type: number; id: number; seq: number } | null {
  if (p.length < 28 || p[0] !== 0x45 || p[9] !== 1) return null;
  if (inetChecksum(p, 0, 20) !== 0 || inetChecksum(p, 20, p.length) !== 0) return null;
  const type = p[20];
  if (type !== 0 && type !== 8) return null;
  return {
    src: p.subarray(12, 16).join("."),
    dst: p.subarray(16, 20).join("."),
    type,
    id: (byteAt(p, 24) << 8) | byteAt(p, 25),
    seq: (byteAt(p, 26) << 8) | byteAt(p, 27),
  };
}

/** The echo reply a host would send for this request. */
export function echoReplyFor(req: Uint8Array): Uint8Array | null {
  const e = parseIcmpEcho(req);
  if (!e || e.type !== 8) return null;
  return icmpEcho(e.dst, e.src, e.id, e.seq, req.length - 28, true);
}
