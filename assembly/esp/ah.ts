// Authentication Header (RFC 4302) with the HMAC suites, transport and tunnel mode, IPv4 and IPv6.
// The ICV covers the whole IP packet: header fields that routers change on the way (RFC 4302
// §3.3.3.1: IPv4 TOS, flags and fragment offset, TTL, checksum, mutable options; IPv6 traffic
// class, flow label, hop limit, options marked "may change") count as zero, and so does the ICV
// field itself. To MAC the packet in one piece, those bytes are zeroed in place, the HMAC runs
// over the contiguous packet (‖ seq-hi with ESN, §3.3.3.2), and the saved bytes are put back.
//
// Not supported (refused as malformed-inner): IPv6 routing headers in front of AH (the ICV would
// need the addresses in their final order) and IPv4 fragments (AH protects whole datagrams).
//
// Constant time: the MAC is hmac.ts (branch- and table-free) and the ICV is compared with ctEqual
// over its whole length; every branch here depends on header bytes, lengths and flags, which are
// on the wire in the clear anyway.
import {
  D_IN_OFF, D_IN_LEN, D_OUT_OFF, D_OUT_LEN, D_SEQ, D_NEXT_HDR, D_L3_LEN, D_SA, D_SPI, HEADROOM, TAILROOM,
  M_FLAGS, M_SPI, M_ICV, M_HASH, M_KEY_PTR, M_HMAC_OFF, M_SEQ, M_AH_OUTER, F_TRANSPORT, F_ESN, F_EXPIRED,
  F_VERIFY_ONLY, F_AH, ST_OK, ST_NO_SA, ST_REPLAY, ST_INTEGRITY_FAILED, ST_TRUNCATED, ST_SEQ_OVERFLOW,
  ST_MALFORMED_INNER, ST_BAD_NEXT_HEADER, ST_TOO_BIG, ST_LIFETIME_EXPIRED, ST_INVALID_SA, NEXT_HEADER_DUMMY,
  F_INBOUND, KEY_STAGE_BYTES, ERR_NO_MEMORY, ERR_KIND, ERR_BAD_SLOT,
} from "../abi";
import { scratch, slotBytes, metaOf, countDrop, keyStage, AH_OUTER_BYTES } from "../sad/layout";
import { liveMeta } from "../sad/sa";
import { blockAlloc } from "../sad/blocks";
import { transportHeader, rewriteHeader, loadBe16, loadBe32, storeBe16, storeBe32 } from "./ip";
import { spiLookup } from "../sad/spi-table";
import { inferSeq, replayCheck, replayAccept } from "../sad/replay";
import { countOutbound, lifetimeSeqExhausted } from "../sad/lifetime";
import { hmacMac } from "../crypto/hmac";
import { ctEqual } from "../crypto/ct";
import { deliver } from "./deliver";

/** Longest IP header part (with IPv6 extension headers) in front of AH that we handle. */
const MAX_HEADER: i32 = 256;
/** Original bytes of the header while its mutable fields are zeroed for the MAC. */
const saved: usize = memory.data(MAX_HEADER, 16);
/** The received ICV while its field is zeroed. */
const receivedIcv: usize = memory.data(64, 16);

/** AH bytes for an ICV of `icv` bytes: 12 + ICV, padded to 4 bytes (IPv4) or 8 (IPv6), RFC 4302 §2.2. */
// @ts-ignore: decorator
@inline export function ahLength(icv: i32, v6: bool): i32 {
  const n = 12 + icv;
  return v6 ? (n + 7) & ~7 : (n + 3) & ~3;
}

/** IPv4 options whose value does not change in transit (RFC 4302 appendix A.1); the rest are zeroed. */
function immutableV4Option(t: u32): bool {
  return t == 0 || t == 1 || t == 130 || t == 133 || t == 134 || t == 148 || t == 149;
}

/** Zeroes the mutable fields of the IP header at p (hdrLen bytes, as transportHeader found it). Returns false when malformed. */
function zeroMutable(p: usize, hdrLen: i32): bool {
  if ((load<u8>(p) >>> 4) == 4) {
    store<u8>(p + 1, 0);            // TOS (DSCP/ECN)
    store<u16>(p + 6, 0);           // flags, fragment offset
    store<u8>(p + 8, 0);            // TTL
    store<u16>(p + 10, 0);          // header checksum
    let i = 20;
    while (i < hdrLen) {
      const t = <u32>load<u8>(p + i);
      if (t == 0) break;            // end of options: the rest is padding (zero)
      if (t == 1) { i++; continue; }
      if (i + 1 >= hdrLen) return false;
      const n = <i32>load<u8>(p + i + 1);
      if (n < 2 || i + n > hdrLen) return false;
      if (!immutableV4Option(t)) memory.fill(p + i, 0, <usize>n);
      i += n;
    }
    return true;
  }
  store<u8>(p, load<u8>(p) & 0xf0); // traffic class (high nibble)
  store<u8>(p + 1, 0);              // traffic class (low nibble), flow label
  store<u16>(p + 2, 0);             // flow label
  store<u8>(p + 7, 0);              // hop limit
  let off = 40;
  let nh = <u32>load<u8>(p + 6);
  while (off < hdrLen) {
    if (nh != 0 && nh != 60) return false; // only hop-by-hop and destination options may come before AH here
    const end = off + ((<i32>load<u8>(p + off + 1) + 1) << 3);
    if (end > hdrLen) return false;
    let i = off + 2;
    while (i < end) {
      const t = <u32>load<u8>(p + i);
      if (t == 0) { i++; continue; } // Pad1
      if (i + 1 >= end) return false;
      const n = <i32>load<u8>(p + i + 1);
      if (i + 2 + n > end) return false;
      if ((t & 0x20) != 0) memory.fill(p + i + 2, 0, <usize>n); // option data may change en route
      i += 2 + n;
    }
    nh = <u32>load<u8>(p + off);
    off = end;
  }
  return true;
}

/** HMAC of the packet [p, p+len) with the header's mutable fields and the ICV field counted as zero; `icvAt` must already be zero. */
function macPacket(meta: usize, p: usize, hdrLen: i32, len: i32, seq: u64, out: usize): bool {
  memory.copy(saved, p, <usize>hdrLen);
  const ok = zeroMutable(p, hdrLen);
  if (ok) {
    const seqHi = scratch + 32;
    storeBe32(seqHi, <u32>(seq >>> 32));
    const esn = (load<u32>(meta, M_FLAGS) & F_ESN) != 0;
    hmacMac(<i32>load<u8>(meta, M_HASH), <usize>load<u32>(meta, M_KEY_PTR) + <usize>load<u16>(meta, M_HMAC_OFF),
      p, len, seqHi, esn ? 4 : 0, out);
  }
  memory.copy(p, saved, <usize>hdrLen);
  return ok;
}

// ---- outbound ------------------------------------------------------------------------------------

/**
 * Stores the tunnel-mode outer header for an outbound AH SA: IPv4 (src and dst 4 bytes each) or
 * IPv6 (16 each) from `addrs` (src then dst). TTL / hop limit 64, DF clear.
 */
export function ahOuterInit(block: usize, v6: bool, addrs: usize): void {
  memory.fill(block, 0, <usize>AH_OUTER_BYTES);
  const h = block + 8;
  if (!v6) {
    store<u32>(block, 4);
    store<u8>(h, 0x45);
    store<u8>(h + 8, 64);
    store<u8>(h + 9, 51);
    memory.copy(h + 12, addrs, 4);
    memory.copy(h + 16, addrs + 4, 4);
  } else {
    store<u32>(block, 6);
    store<u8>(h, 0x60);
    store<u8>(h + 6, 51);
    store<u8>(h + 7, 64);
    memory.copy(h + 8, addrs, 16);
    memory.copy(h + 24, addrs + 16, 16);
  }
}

/**
 * Outer header of an outbound tunnel-mode AH SA: addresses staged at keyStage (src then dst,
 * 4 bytes each for version 4, 16 for version 6). Returns 0 or a negative ERR_*.
 */
export function ahSetOuter(slot: i32, version: i32): i32 {
  const meta = liveMeta(slot);
  if (meta == 0) return ERR_BAD_SLOT;
  const flags = load<u32>(meta, M_FLAGS);
  if ((flags & (F_AH | F_INBOUND | F_TRANSPORT)) != F_AH || (version != 4 && version != 6)) return ERR_KIND;
  let block = <usize>load<u32>(meta, M_AH_OUTER);
  if (block == 0) {
    block = blockAlloc(AH_OUTER_BYTES);
    if (block == 0) return ERR_NO_MEMORY;
    store<u32>(meta, <u32>block, M_AH_OUTER);
  }
  ahOuterInit(block, version == 6, keyStage);
  memory.fill(keyStage, 0, KEY_STAGE_BYTES);
  return 0;
}

/** AH-protects descriptor d on an outbound AH SA. Returns the status (counters are the caller's for drops). */
export function ahEncapOne(d: usize, meta: usize, flags: u32): u32 {
  let p = <usize>load<u32>(d, D_IN_OFF);
  const len = <i32>load<u32>(d, D_IN_LEN);
  if (len > slotBytes - HEADROOM - TAILROOM) return ST_TOO_BIG;
  if (load<u32>(d, D_NEXT_HDR) == NEXT_HEADER_DUMMY) return ST_INVALID_SA; // AH has no dummy packets
  const seqNow = load<u64>(meta, M_SEQ);
  if ((flags & F_ESN) != 0 ? seqNow == 0xffffffffffffffff : seqNow >= 0xffffffff) {
    lifetimeSeqExhausted(meta);
    return ST_SEQ_OVERFLOW;
  }
  const icv = <i32>load<u8>(meta, M_ICV);
  let out: usize;
  let hdrLen: i32;
  let protoAt: i32;
  let nextHeader: u32;
  let ah: i32;
  if ((flags & F_TRANSPORT) != 0) {
    hdrLen = transportHeader(p, len, scratch + 252);
    if (hdrLen < 0 || hdrLen > MAX_HEADER) return ST_MALFORMED_INNER;
    protoAt = <i32>load<u32>(scratch + 252);
    nextHeader = <u32>load<u8>(p + protoAt);
    const v6 = (load<u8>(p) >>> 4) == 6;
    if (!v6 && (loadBe16(p + 6) & 0x3fff) != 0) return ST_MALFORMED_INNER; // a fragment
    ah = ahLength(icv, v6);
    out = p - <usize>ah;
    memory.copy(out, p, <usize>hdrLen); // the header moves in front of AH
  } else {
    const v = len > 0 ? load<u8>(p) >>> 4 : 0;
    if (v == 4 && len >= 20) nextHeader = 4;
    else if (v == 6 && len >= 40) nextHeader = 41;
    else return ST_MALFORMED_INNER;
    const tmpl = <usize>load<u32>(meta, M_AH_OUTER);
    if (tmpl == 0) return ST_INVALID_SA;
    const v6 = load<u32>(tmpl) == 6;
    hdrLen = v6 ? 40 : 20;
    protoAt = v6 ? 6 : 9;
    ah = ahLength(icv, v6);
    // Outer header + AH may need more than the headroom: slide the inner packet into the tailroom.
    const need = hdrLen + ah;
    if (need > HEADROOM) {
      const shift = <usize>((need - HEADROOM + 15) & ~15);
      memory.copy(p + shift, p, <usize>len);
      p += shift;
    }
    out = p - <usize>need;
    memory.copy(out, tmpl + 8, <usize>hdrLen);
  }
  const seq = seqNow + 1;
  store<u64>(meta, seq, M_SEQ);
  // Transport: the header was part of the input; tunnel: the outer header is new.
  const outLen = len + ah + ((flags & F_TRANSPORT) != 0 ? 0 : hdrLen);
  const a = out + <usize>hdrLen;
  store<u8>(a, <u8>nextHeader);
  store<u8>(a + 1, <u8>((ah >> 2) - 2));
  store<u16>(a + 2, 0);
  store<u32>(a + 4, bswap<u32>(load<u32>(meta, M_SPI)));
  storeBe32(a + 8, <u32>seq);
  memory.fill(a + 12, 0, <usize>(ah - 12)); // ICV (zero while MACing) and padding
  if ((flags & F_TRANSPORT) == 0 && (load<u8>(out) >>> 4) == 4) storeBe16(out + 4, <u32>seq & 0xffff); // outer IPv4 ID
  rewriteHeader(out, hdrLen, protoAt, 51, outLen);
  const mac = scratch + 64;
  if (!macPacket(meta, out, hdrLen, outLen, seq, mac)) {
    store<u64>(meta, seqNow, M_SEQ); // nothing went out: the number is not spent
    return ST_MALFORMED_INNER;
  }
  memory.copy(a + 12, mac, <usize>icv);
  memory.fill(mac, 0, 64);

  store<u32>(d, <u32>out, D_OUT_OFF);
  store<u32>(d, <u32>outLen, D_OUT_LEN);
  store<u64>(d, seq, D_SEQ);
  store<u32>(d, nextHeader, D_NEXT_HDR);
  store<u32>(d, <u32>hdrLen, D_L3_LEN);
  countOutbound(meta, len, seq);
  return ST_OK;
}

// ---- inbound -------------------------------------------------------------------------------------

/**
 * When the `l3` header bytes at p are an IP header whose (last) next header is AH (51), returns the
 * offset of that protocol byte; else -1. Decap calls this before treating the bytes as ESP.
 */
export function ahProtoAt(p: usize, l3: i32, len: i32): i32 {
  if (l3 < 20 || l3 > len || l3 > MAX_HEADER) return -1;
  const v = load<u8>(p) >>> 4;
  if (v == 4) return <i32>(load<u8>(p) & 15) << 2 == l3 && load<u8>(p + 9) == 51 ? 9 : -1;
  if (v != 6 || l3 < 40) return -1;
  let off = 40;
  let nhAt = 6;
  while (off < l3) {
    const nh = <u32>load<u8>(p + nhAt);
    if (nh != 0 && nh != 60) return -1;
    if (off + 8 > l3) return -1;
    nhAt = off;
    off += (<i32>load<u8>(p + off + 1) + 1) << 3;
  }
  return off == l3 && load<u8>(p + nhAt) == 51 ? nhAt : -1;
}

/** Verifies and removes AH from descriptor d (IP header of l3 bytes, its protocol byte at protoAt). */
export function ahDecapOne(d: usize, protoAt: i32): u32 {
  const p = <usize>load<u32>(d, D_IN_OFF);
  const len = <i32>load<u32>(d, D_IN_LEN);
  const l3 = <i32>load<u32>(d, D_L3_LEN);
  if (len - l3 < 12) return ST_TRUNCATED;
  const a = p + <usize>l3;
  const spi = loadBe32(a + 4);
  store<u32>(d, spi, D_SPI);
  const wireSeq = loadBe32(a + 8);
  store<u64>(d, <u64>wireSeq, D_SEQ);
  const slot = spiLookup(spi);
  if (slot < 0) return ST_NO_SA;
  const meta = metaOf(slot);
  const flags = load<u32>(meta, M_FLAGS);
  if ((flags & F_AH) == 0) return ST_NO_SA; // an ESP SA: no AH SA has this SPI
  store<i32>(d, slot, D_SA);
  const status = ahVerify(d, meta, flags, p, len, l3, protoAt, a, wireSeq);
  if (status != ST_OK) countDrop(meta, status);
  return status;
}

function ahVerify(d: usize, meta: usize, flags: u32, p: usize, len: i32, l3: i32, protoAt: i32, a: usize, wireSeq: u32): u32 {
  if ((flags & F_EXPIRED) != 0) return ST_LIFETIME_EXPIRED;
  const v6 = (load<u8>(p) >>> 4) == 6;
  const icv = <i32>load<u8>(meta, M_ICV);
  const ah = (<i32>load<u8>(a + 1) + 2) << 2;
  if (ah != ahLength(icv, v6) || l3 + ah > len) return ST_TRUNCATED;
  if (!v6 && (loadBe16(p + 6) & 0x3fff) != 0) return ST_MALFORMED_INNER; // fragments are reassembled first
  const seq = inferSeq(meta, wireSeq);
  store<u64>(d, seq != 0 ? seq : <u64>wireSeq, D_SEQ);
  if (!replayCheck(meta, seq)) return ST_REPLAY;

  memory.copy(receivedIcv, a + 12, <usize>icv);
  memory.fill(a + 12, 0, <usize>icv);
  const mac = scratch + 64;
  const shaped = macPacket(meta, p, l3, len, seq, mac);
  memory.copy(a + 12, receivedIcv, <usize>icv);
  if (!shaped) return ST_MALFORMED_INNER;
  const ok = ctEqual(mac, receivedIcv, icv);
  memory.fill(mac, 0, 64);
  if (ok == 0) return ST_INTEGRITY_FAILED;

  const nextHeader = <u32>load<u8>(a);
  store<u32>(d, nextHeader, D_NEXT_HDR);
  if ((flags & F_VERIFY_ONLY) != 0) {
    replayAccept(meta, seq);
    return deliver(d, meta, p, len);
  }
  if ((flags & F_TRANSPORT) != 0) {
    const out = p + <usize>ah;
    memory.copy(out, p, <usize>l3);
    rewriteHeader(out, l3, protoAt, nextHeader, len - ah);
    replayAccept(meta, seq);
    return deliver(d, meta, out, len - ah);
  }
  const inner = a + <usize>ah;
  const innerLen = len - l3 - ah;
  if (nextHeader != 4 && nextHeader != 41) return ST_BAD_NEXT_HEADER;
  const v = innerLen > 0 ? load<u8>(inner) >>> 4 : 0;
  let ipLen = -1;
  if (nextHeader == 4 && v == 4 && innerLen >= 20) ipLen = <i32>loadBe16(inner + 2);
  else if (nextHeader == 41 && v == 6 && innerLen >= 40) ipLen = <i32>loadBe16(inner + 4) + 40;
  if (ipLen != innerLen) return ST_MALFORMED_INNER; // AH has no padding: the inner packet is all there is
  replayAccept(meta, seq);
  return deliver(d, meta, inner, innerLen);
}
