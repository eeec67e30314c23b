// IPv4/IPv6 header helpers for transport mode: where the upper-layer payload starts, and how
// to rewrite the header around ESP (protocol / next header, lengths, IPv4 checksum).
// Headers are public data: ordinary branches are fine here.

/** RFC 1071 checksum of an IPv4 header of `len` bytes (the checksum field must be zero). */
export function ipv4Checksum(p: usize, len: i32): u16 {
  let sum: u32 = 0;
  for (let i = 0; i + 1 < len; i += 2) sum += (<u32>load<u8>(p + i) << 8) | load<u8>(p + i + 1);
  while (sum >>> 16) sum = (sum & 0xffff) + (sum >>> 16);
  return <u16>(~sum & 0xffff);
}

// @ts-ignore: decorator
@inline export function storeBe16(p: usize, v: u32): void {
  store<u8>(p, <u8>(v >>> 8)); store<u8>(p + 1, <u8>v);
}
// @ts-ignore: decorator
@inline export function loadBe16(p: usize): u32 {
  return (<u32>load<u8>(p) << 8) | load<u8>(p + 1);
}
// @ts-ignore: decorator
@inline export function loadBe32(p: usize): u32 { return bswap<u32>(load<u32>(p)); }
// @ts-ignore: decorator
@inline export function storeBe32(p: usize, v: u32): void { store<u32>(p, bswap<u32>(v)); }

/**
 * Transport mode: length of the IP header part that stays in front of ESP, and the offset of
 * the byte holding the protocol / next-header value that ESP replaces. Returns the header
 * length, or -1 when the packet is not a well-formed IPv4/IPv6 packet of exactly `len` bytes.
 * IPv6: hop-by-hop, routing and destination options headers stay in front (RFC 4303 §3.1.1).
 * The offset of the protocol byte is written to `protoAt` (a 4-byte out cell).
 */
export function transportHeader(p: usize, len: i32, protoAt: usize): i32 {
  if (len < 1) return -1;
  const v = load<u8>(p) >>> 4;
  if (v == 4) {
    if (len < 20) return -1;
    const ihl = <i32>(load<u8>(p) & 15) << 2;
    if (ihl < 20 || ihl > len || <i32>loadBe16(p + 2) != len) return -1;
    store<u32>(protoAt, 9);
    return ihl;
  }
  if (v == 6) {
    if (len < 40 || <i32>loadBe16(p + 4) + 40 != len) return -1;
    let off = 40;
    let nhAt = 6;
    let nh = <u32>load<u8>(p + 6);
    while (nh == 0 || nh == 43 || nh == 60) {
      if (off + 8 > len) return -1;
      const extLen = (<i32>load<u8>(p + off + 1) + 1) << 3;
      if (off + extLen > len) return -1;
      nhAt = off;
      nh = <u32>load<u8>(p + off);
      off += extLen;
    }
    store<u32>(protoAt, <u32>nhAt);
    return off;
  }
  return -1;
}

/** After ESP was inserted or removed: set the protocol byte and fix lengths (and the IPv4 checksum). */
export function rewriteHeader(p: usize, hdrLen: i32, protoAt: i32, proto: u32, totalLen: i32): void {
  store<u8>(p + protoAt, <u8>proto);
  if ((load<u8>(p) >>> 4) == 4) {
    storeBe16(p + 2, <u32>totalLen);
    store<u16>(p + 10, 0);
    storeBe16(p + 10, ipv4Checksum(p, hdrLen));
  } else {
    storeBe16(p + 4, <u32>(totalLen - 40));
  }
}

/**
 * Decap side: the received header in front of the SPI is an IP header, optionally followed by
 * the 8-byte UDP header of ESP-in-UDP (RFC 3948). Returns how many bytes of IP header to keep
 * (the UDP header is dropped) and writes the offset of the protocol byte to `protoAt`;
 * -1 when the bytes are not such a header.
 */
export function receivedHeader(p: usize, hdrLen: i32, protoAt: usize): i32 {
  if (hdrLen < 20) return -1;
  const v = load<u8>(p) >>> 4;
  let off: i32;
  let nhAt: i32;
  if (v == 4) {
    off = <i32>(load<u8>(p) & 15) << 2;
    nhAt = 9;
    if (off < 20 || off > hdrLen) return -1;
  } else if (v == 6) {
    if (hdrLen < 40) return -1;
    off = 40;
    nhAt = 6;
    while (off < hdrLen) {
      const nh = <u32>load<u8>(p + nhAt);
      if (nh == 17 && off + 8 == hdrLen) break;
      if (nh != 0 && nh != 43 && nh != 60) return -1;
      if (off + 8 > hdrLen) return -1;
      nhAt = off;
      off += (<i32>load<u8>(p + off + 1) + 1) << 3;
    }
    if (off > hdrLen) return -1;
  } else {
    return -1;
  }
  if (off + 8 == hdrLen && load<u8>(p + nhAt) == 17) {
    store<u32>(protoAt, <u32>nhAt);
    return off;
  }
  if (off != hdrLen) return -1;
  store<u32>(protoAt, <u32>nhAt);
  return off;
}
