// Inner packets for the benchmark: well-formed IPv4/UDP datagrams of an exact total size, so a
// dataplane that checks the inner header (tunnel mode) accepts them.

/** The RFC 1071 Internet checksum of a header. */
function ipChecksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += (h[i]! << 8) | h[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * An IPv4/UDP packet of `size` bytes (≥ 28) from 10.1.0.1 to 10.2.0.x with random payload.
 * Addresses are private test ranges; the packet never leaves the process.
 */
export function ipv4UdpPacket(size: number, host = 1): Uint8Array {
  if (size < 28 || size > 65535) throw new RangeError(`inner size ${size} out of 28..65535`);
  const p = new Uint8Array(size);
  crypto.getRandomValues(p.subarray(28));
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, size);
  p[8] = 64; // TTL
  p[9] = 17; // UDP
  p.set([10, 1, 0, 1], 12);
  p.set([10, 2, 0, host & 0xff], 16);
  v.setUint16(10, ipChecksum(p.subarray(0, 20)));
  v.setUint16(20, 40000);
  v.setUint16(22, 9);
  v.setUint16(24, size - 20);
  return p;
}

/** `count` distinct inner packets of one size, cycled through by the benchmark loops. */
export function packetRing(size: number, count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => ipv4UdpPacket(size, i));
}
