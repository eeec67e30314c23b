/**
 * TUN offloads (`IFF_VNET_HDR` + `TUNSETOFFLOAD`), as the kernel's virtio-net contract has them:
 * every read and write of the TUN starts with a 10-byte `struct virtio_net_hdr`.
 *
 * - Read side (TUN → ESP): the kernel may hand over one TCP (TSO) or UDP (USO) "super-packet" of
 *   up to 64 KiB with `gso_type`/`gso_size`, and packets whose transport checksum is left partial
 *   (`NEEDS_CSUM`: the field holds the pseudo-header sum, `csum_start`/`csum_offset` say where).
 *   {@link gsoSegment} cuts segment k out of a super-packet straight into a caller's buffer (IP total
 *   length, ID and header checksum; TCP sequence number and flags, UDP length; a full transport
 *   checksum), {@link finishChecksum} completes a partial one.
 * - Write side (ESP → TUN): {@link Coalescer} gathers consecutive decrypted TCP segments of one
 *   flow (and UDP datagrams of one flow when the TUN takes USO) into one super-packet with a
 *   `virtio_net_hdr` (GSO_TCPV4/TCPV6/UDP_L4, `gso_size`, NEEDS_CSUM), so the kernel's receive
 *   path runs once for many packets; anything else is written alone behind a zero header.
 *
 * Written after the kernel's `virtio_net_hdr_to_skb` and wireguard-go's `tun/offload_linux.go`.
 * Nothing here allocates per packet.
 * @module
 */

/** sizeof(struct virtio_net_hdr). */
export const VNET_HDR_LEN = 10;
/** virtio_net_hdr.flags / gso_type values (include/uapi/linux/virtio_net.h). */
export const VNET_F_NEEDS_CSUM = 1,
  GSO_NONE = 0,
  GSO_TCPV4 = 1,
  GSO_TCPV6 = 4,
  GSO_UDP_L4 = 5;
/** Largest IP packet (and so super-packet) the kernel builds or takes. */
export const MAX_SUPER = 65535;

const PROTO_TCP = 6,
  PROTO_UDP = 17;
const TCP_FIN = 0x01,
  TCP_PSH = 0x08,
  TCP_ACK = 0x10;

/** A decoded `struct virtio_net_hdr` (little-endian fields), reused from packet to packet. */
export class VnetHdr {
  flags = 0;
  gsoType = 0;
  hdrLen = 0;
  gsoSize = 0;
  csumStart = 0;
  csumOffset = 0;

  decode(b: Uint8Array, off: number): this {
    this.flags = b[off]!;
    this.gsoType = b[off + 1]!;
    this.hdrLen = b[off + 2]! | (b[off + 3]! << 8);
    this.gsoSize = b[off + 4]! | (b[off + 5]! << 8);
    this.csumStart = b[off + 6]! | (b[off + 7]! << 8);
    this.csumOffset = b[off + 8]! | (b[off + 9]! << 8);
    return this;
  }

  encode(b: Uint8Array, off: number): void {
    b[off] = this.flags;
    b[off + 1] = this.gsoType;
    b[off + 2] = this.hdrLen & 255;
    b[off + 3] = this.hdrLen >>> 8;
    b[off + 4] = this.gsoSize & 255;
    b[off + 5] = this.gsoSize >>> 8;
    b[off + 6] = this.csumStart & 255;
    b[off + 7] = this.csumStart >>> 8;
    b[off + 8] = this.csumOffset & 255;
    b[off + 9] = this.csumOffset >>> 8;
  }
}

/** The host stores a Uint32 little-endian (x86-64, aarch64): sums may read 4 bytes at a time. */
const LITTLE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Uint32 views of the last two buffers summed over (the wasm memory, a native block): not one per packet. */
let buf0: ArrayBufferLike | undefined,
  buf1: ArrayBufferLike | undefined,
  u32a: Uint32Array<ArrayBufferLike> = new Uint32Array(0),
  u32b: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
function words(buf: ArrayBufferLike): Uint32Array {
  if (buf === buf0) return u32a;
  if (buf === buf1) return u32b;
  buf1 = buf0;
  u32b = u32a;
  buf0 = buf;
  u32a = new Uint32Array(buf, 0, buf.byteLength >>> 2);
  return u32a;
}

/**
 * One's-complement sum (unfolded) of b[start, end) as big-endian 16-bit words, plus `init`. Long
 * even-aligned runs are summed as little-endian 32-bit words and byte-swapped once at the end (the
 * sum does not depend on byte order, RFC 1071 §2(B)).
 */
export function sum16(b: Uint8Array, start: number, end: number, init = 0): number {
  let s = init,
    i = start;
  if (LITTLE && end - start >= 32 && ((b.byteOffset + i) & 1) === 0) {
    if ((b.byteOffset + i) & 2) {
      s += (b[i]! << 8) | b[i + 1]!;
      i += 2;
    }
    const u = words(b.buffer);
    const w0 = (b.byteOffset + i) >>> 2,
      n = (end - i) >>> 2;
    let le = 0,
      k = w0;
    const stop = w0 + n;
    for (; k + 4 <= stop; k += 4) le += u[k]! + u[k + 1]! + u[k + 2]! + u[k + 3]!;
    for (; k < stop; k++) le += u[k]!;
    i += n * 4;
    le = fold(le);
    s += ((le & 255) << 8) | (le >>> 8);
  }
  const even = end - ((end - i) & 1);
  for (; i + 8 <= even; i += 8)
    s +=
      ((b[i]! << 8) | b[i + 1]!) +
      ((b[i + 2]! << 8) | b[i + 3]!) +
      ((b[i + 4]! << 8) | b[i + 5]!) +
      ((b[i + 6]! << 8) | b[i + 7]!);
  for (; i < even; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i < end) s += b[i]! << 8;
  return s;
}

/** Folds a sum of {@link sum16} to 16 bits (not inverted). */
export function fold(s: number): number {
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

/** The unfolded pseudo-header sum of an IPv4/IPv6 packet `p` for `proto` and transport length `l4Len`. */
export function pseudoSum(p: Uint8Array, proto: number, l4Len: number, at = 0): number {
  return p[at]! >> 4 === 4 ? sum16(p, at + 12, at + 20, proto + l4Len) : sum16(p, at + 8, at + 40, proto + l4Len);
}

const put16 = (b: Uint8Array, off: number, v: number): void => {
  b[off] = (v >>> 8) & 255;
  b[off + 1] = v & 255;
};
const get16 = (b: Uint8Array, off: number): number => (b[off]! << 8) | b[off + 1]!;
const get32 = (b: Uint8Array, off: number): number =>
  ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;

/** Writes the IPv4 header checksum of the packet at `p[at..]` (header length from IHL). */
function ipv4HeaderChecksum(p: Uint8Array, at = 0): void {
  const ihl = (p[at]! & 15) * 4;
  p[at + 10] = 0;
  p[at + 11] = 0;
  put16(p, at + 10, ~fold(sum16(p, at, at + ihl)) & 0xffff);
}

/**
 * Completes a partial transport checksum in place (GSO_NONE with NEEDS_CSUM): the field at
 * `start + offset` holds the pseudo-header sum; the sum over `p[start..]` (that field included) is
 * the checksum. Returns false when the offsets do not fit the packet.
 */
export function finishChecksum(p: Uint8Array, len: number, start: number, offset: number): boolean {
  const at = start + offset;
  if (at + 2 > len || start >= len) return false;
  let c = ~fold(sum16(p, start, len)) & 0xffff;
  // UDP sends a computed 0 as 0xffff (0 means "no checksum"); TCP accepts either.
  if (c === 0 && p[0]! >> 4 === 4 && p[9] === PROTO_UDP) c = 0xffff;
  put16(p, at, c);
  return true;
}

/**
 * Checks a super-packet `p[0, len)` (the bytes after the vnet header) against its header `h`;
 * sets `h.hdrLen` to the real IP + transport header length (the kernel's is only a hint) and
 * returns how many segments it splits into, or 0 when it cannot be split (then drop it).
 */
export function gsoSegments(p: Uint8Array, len: number, h: VnetHdr): number {
  const v = len > 0 ? p[0]! >> 4 : 0;
  const t = h.gsoType;
  if (h.gsoSize === 0 || !(h.flags & VNET_F_NEEDS_CSUM)) return 0;
  if (v === 4 ? t !== GSO_TCPV4 && t !== GSO_UDP_L4 : v === 6 ? t !== GSO_TCPV6 && t !== GSO_UDP_L4 : true) return 0;
  const cs = h.csumStart;
  if (cs < (v === 4 ? 20 : 40)) return 0;
  if (t === GSO_UDP_L4) {
    if (h.csumOffset !== 6) return 0;
    h.hdrLen = cs + 8;
  } else {
    if (h.csumOffset !== 16 || len <= cs + 12) return 0;
    const thl = (p[cs + 12]! >> 4) * 4;
    if (thl < 20) return 0;
    h.hdrLen = cs + thl;
  }
  if (h.hdrLen >= len) return 0;
  return Math.ceil((len - h.hdrLen) / h.gsoSize);
}

/**
 * Writes segment `k` of the super-packet `p[0, len)` (checked by {@link gsoSegments}) to `out` at
 * `at`: headers copied and fixed, `gsoSize` bytes (the last one less) of payload, full checksums.
 * Returns the segment's length.
 */
export function gsoSegment(p: Uint8Array, len: number, h: VnetHdr, k: number, out: Uint8Array, at: number): number {
  const hl = h.hdrLen,
    cs = at + h.csumStart;
  const from = hl + k * h.gsoSize;
  const dataLen = Math.min(h.gsoSize, len - from);
  const total = hl + dataLen;
  out.set(p.subarray(0, hl), at);
  out.set(p.subarray(from, from + dataLen), at + hl);
  if (p[0]! >> 4 === 4) {
    put16(out, at + 2, total);
    put16(out, at + 4, (get16(p, 4) + k) & 0xffff);
    ipv4HeaderChecksum(out, at);
  } else {
    put16(out, at + 4, total - 40);
  }
  let proto: number;
  if (h.gsoType === GSO_UDP_L4) {
    proto = PROTO_UDP;
    put16(out, cs + 4, total - h.csumStart);
  } else {
    proto = PROTO_TCP;
    const seq = (get32(p, h.csumStart + 4) + k * h.gsoSize) >>> 0;
    out[cs + 4] = seq >>> 24;
    out[cs + 5] = (seq >>> 16) & 255;
    out[cs + 6] = (seq >>> 8) & 255;
    out[cs + 7] = seq & 255;
    if (from + dataLen < len) out[cs + 13] = out[cs + 13]! & ~(TCP_FIN | TCP_PSH);
  }
  const csumAt = cs + h.csumOffset;
  out[csumAt] = 0;
  out[csumAt + 1] = 0;
  let c = ~fold(sum16(out, cs, at + total, pseudoSum(out, proto, total - h.csumStart, at))) & 0xffff;
  if (c === 0 && proto === PROTO_UDP) c = 0xffff;
  put16(out, csumAt, c);
  return total;
}

/** Whether the transport checksum of `p` (IP header `ihl` bytes, protocol `proto`) verifies. */
export function transportChecksumOk(p: Uint8Array, ihl: number, proto: number): boolean {
  const len = p.length;
  return fold(sum16(p, ihl, len, pseudoSum(p, proto, len - ihl))) === 0xffff;
}

/** Kinds of packets the {@link Coalescer} may merge. */
const SOLO = 0,
  TCP4 = 1,
  TCP6 = 2,
  UDP4 = 3,
  UDP6 = 4;

/**
 * GRO for TUN writes: {@link push} the decrypted packets of a batch in order (views that stay valid
 * until {@link flush}), then {@link flush} writes every unit in the order of its first packet: a
 * super-packet of several segments of one flow (contiguous in sequence, equal IP headers but for
 * length/ID/checksum, equal TCP options, only ACK or ACK|PSH, the last may be shorter and may
 * carry PSH), or a packet alone behind a zero header. Checksums of merged segments are verified
 * first (the kernel will not look at them again: NEEDS_CSUM makes the skb CHECKSUM_PARTIAL).
 */
export class Coalescer {
  /** Whether UDP datagrams are merged (the TUN took TUN_F_USO4|6, so the kernel knows GSO_UDP_L4). */
  udp: boolean;
  readonly #max: number;
  readonly #pkts: Uint8Array[];
  /** Per packet: next packet of its unit (-1 ends it). */
  readonly #next: Int32Array;
  /** Per unit (indexed by unit number, in order of first packet): first and last packet, kind, header lengths, merged count, gso size, next seq, bytes, flags. */
  readonly #head: Int32Array;
  readonly #tail: Int32Array;
  readonly #kind: Uint8Array;
  readonly #ihl: Uint8Array;
  readonly #thl: Uint8Array;
  readonly #count: Int32Array;
  readonly #gso: Int32Array;
  readonly #nextSeq: Float64Array;
  readonly #bytes: Int32Array;
  /** 1: closed (PSH seen, a short segment, or a bad checksum: nothing more is appended). */
  readonly #closed: Uint8Array;
  #n = 0;
  #units = 0;
  readonly #hdr = new VnetHdr();
  /** Units written and packets in them (counters for the caller). */
  superPackets = 0;
  merged = 0;

  constructor(max: number, udp = false) {
    this.#max = max;
    this.udp = udp;
    this.#pkts = new Array<Uint8Array>(max).fill(new Uint8Array(0));
    this.#next = new Int32Array(max);
    this.#head = new Int32Array(max);
    this.#tail = new Int32Array(max);
    this.#kind = new Uint8Array(max);
    this.#ihl = new Uint8Array(max);
    this.#thl = new Uint8Array(max);
    this.#count = new Int32Array(max);
    this.#gso = new Int32Array(max);
    this.#nextSeq = new Float64Array(max);
    this.#bytes = new Int32Array(max);
    this.#closed = new Uint8Array(max);
  }

  /** Packets pushed since the last flush. */
  get length(): number {
    return this.#n;
  }

  /** Adds a packet (a view valid until {@link flush}). Returns false when full (flush first). */
  push(p: Uint8Array): boolean {
    if (this.#n >= this.#max) return false;
    const i = this.#n++;
    this.#pkts[i] = p;
    this.#next[i] = -1;
    const kind = this.#classify(p);
    if (kind !== SOLO) {
      // The newest unit of the same flow and kind, if any; only it may grow (keeps the order).
      for (let u = this.#units - 1; u >= 0; u--) {
        if (this.#kind[u] !== kind || !this.#sameFlow(u, p)) continue;
        if (this.#append(u, i, p)) return true;
        break;
      }
    }
    this.#open(i, p, kind);
    return true;
  }

  /** Packet kind (and header lengths in #ihl/#thl scratch at index units) or SOLO. */
  #classify(p: Uint8Array): number {
    const len = p.length,
      u = this.#units;
    if (len < 28) return SOLO;
    const v = p[0]! >> 4;
    let proto: number, ihl: number;
    if (v === 4) {
      if ((p[0]! & 15) !== 5 || get16(p, 2) !== len) return SOLO;
      // fragments (MF or an offset) are never merged
      if ((p[6]! & 0x3f) !== 0 || p[7] !== 0) return SOLO;
      proto = p[9]!;
      ihl = 20;
    } else if (v === 6) {
      if (len < 48 || get16(p, 4) !== len - 40) return SOLO;
      proto = p[6]!;
      ihl = 40;
    } else return SOLO;
    if (proto === PROTO_TCP) {
      if (len < ihl + 20) return SOLO;
      const thl = (p[ihl + 12]! >> 4) * 4;
      if (thl < 20 || len <= ihl + thl) return SOLO;
      const flags = p[ihl + 13]!;
      if (flags !== TCP_ACK && flags !== (TCP_ACK | TCP_PSH)) return SOLO;
      this.#ihl[u] = ihl;
      this.#thl[u] = thl;
      return v === 4 ? TCP4 : TCP6;
    }
    if (proto === PROTO_UDP && this.udp) {
      if (len <= ihl + 8) return SOLO;
      this.#ihl[u] = ihl;
      this.#thl[u] = 8;
      return v === 4 ? UDP4 : UDP6;
    }
    return SOLO;
  }

  #sameFlow(u: number, p: Uint8Array): boolean {
    const q = this.#pkts[this.#head[u]!]!;
    const ihl = this.#ihl[u]!;
    if (ihl === 20) {
      // addresses; TOS, DF and TTL must be equal too
      for (let k = 12; k < 20; k++) if (p[k] !== q[k]) return false;
      if (p[1] !== q[1] || p[6] !== q[6] || p[8] !== q[8]) return false;
    } else {
      for (let k = 8; k < 40; k++) if (p[k] !== q[k]) return false;
      // version, traffic class, flow label; hop limit
      if (p[0] !== q[0] || p[1] !== q[1] || p[2] !== q[2] || p[3] !== q[3] || p[7] !== q[7]) return false;
    }
    // ports; for TCP the ACK number too (a different ACK is a different unit, as the kernel's GRO)
    const end = this.#kind[u] === TCP4 || this.#kind[u] === TCP6 ? ihl + 12 : ihl + 4;
    for (let k = ihl; k < end; k++) if (k < ihl + 4 || k >= ihl + 8) if (p[k] !== q[k]) return false;
    return true;
  }

  #open(i: number, p: Uint8Array, kind: number): void {
    const u = this.#units++;
    this.#head[u] = i;
    this.#tail[u] = i;
    this.#kind[u] = kind;
    this.#count[u] = 1;
    this.#bytes[u] = p.length;
    this.#closed[u] = 0;
    if (kind === SOLO) return;
    const hl = this.#ihl[u]! + this.#thl[u]!;
    this.#gso[u] = p.length - hl;
    if (kind === TCP4 || kind === TCP6) {
      this.#nextSeq[u] = (get32(p, this.#ihl[u]! + 4) + p.length - hl) >>> 0;
      if (p[this.#ihl[u]! + 13]! & TCP_PSH) this.#closed[u] = 1;
    }
  }

  #append(u: number, i: number, p: Uint8Array): boolean {
    if (this.#closed[u]) return false;
    const ihl = this.#ihl[u]!,
      kind = this.#kind[u]!,
      tcp = kind === TCP4 || kind === TCP6;
    const thl = tcp ? (p[ihl + 12]! >> 4) * 4 : 8;
    if (thl !== this.#thl[u]) return false;
    const hl = ihl + thl;
    const data = p.length - hl,
      gso = this.#gso[u]!;
    if (data > gso || this.#bytes[u]! + data > MAX_SUPER) return false;
    const q = this.#pkts[this.#head[u]!]!;
    if (tcp) {
      if (get32(p, ihl + 4) !== this.#nextSeq[u]) return false;
      // TCP options (timestamps) must be equal
      for (let k = ihl + 20; k < hl; k++) if (p[k] !== q[k]) return false;
    }
    const proto = tcp ? PROTO_TCP : PROTO_UDP;
    if (this.#count[u] === 1 && !transportChecksumOk(q, ihl, proto)) {
      this.#closed[u] = 1;
      return false;
    }
    if (!transportChecksumOk(p, ihl, proto)) return false;
    this.#next[this.#tail[u]!] = i;
    this.#tail[u] = i;
    this.#count[u]!++;
    this.#bytes[u]! += data;
    if (tcp) {
      this.#nextSeq[u] = (this.#nextSeq[u]! + data) >>> 0;
      if (p[ihl + 13]! & TCP_PSH) this.#closed[u] = 1;
    }
    if (data < gso) this.#closed[u] = 1;
    return true;
  }

  /**
   * Builds each unit in `buf` (a vnet header, then the packet: at least VNET_HDR_LEN + 65535 bytes)
   * and hands it to `write(length, packets in it, gso type)`; empties the coalescer. Returns the number of units.
   */
  flush(buf: Uint8Array, write: (len: number, packets: number, gsoType: number) => void): number {
    const h = this.#hdr;
    const units = this.#units;
    for (let u = 0; u < units; u++) {
      const first = this.#pkts[this.#head[u]!]!;
      buf.set(first, VNET_HDR_LEN);
      let len = VNET_HDR_LEN + first.length;
      if (this.#count[u] === 1) {
        h.flags = h.gsoType = h.hdrLen = h.gsoSize = h.csumStart = h.csumOffset = 0;
        h.encode(buf, 0);
        write(len, 1, GSO_NONE);
        continue;
      }
      const ihl = this.#ihl[u]!,
        hl = ihl + this.#thl[u]!,
        kind = this.#kind[u]!;
      for (let i = this.#next[this.#head[u]!]!; i >= 0; i = this.#next[i]!) {
        const p = this.#pkts[i]!;
        buf.set(p.subarray(hl), len);
        len += p.length - hl;
        // the unit's last segment decides PSH
        if (this.#next[i]! < 0 && (kind === TCP4 || kind === TCP6))
          buf[VNET_HDR_LEN + ihl + 13] = buf[VNET_HDR_LEN + ihl + 13]! | (p[ihl + 13]! & TCP_PSH);
      }
      const pkt = buf.subarray(VNET_HDR_LEN, len);
      const total = len - VNET_HDR_LEN;
      if (ihl === 20) {
        put16(pkt, 2, total);
        ipv4HeaderChecksum(pkt);
      } else put16(pkt, 4, total - 40);
      const tcp = kind === TCP4 || kind === TCP6;
      if (!tcp) put16(pkt, ihl + 4, total - ihl);
      h.flags = VNET_F_NEEDS_CSUM;
      h.gsoType = tcp ? (ihl === 20 ? GSO_TCPV4 : GSO_TCPV6) : GSO_UDP_L4;
      h.hdrLen = hl;
      h.gsoSize = this.#gso[u]!;
      h.csumStart = ihl;
      h.csumOffset = tcp ? 16 : 6;
      h.encode(buf, 0);
      // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum (not inverted)
      put16(pkt, ihl + h.csumOffset, fold(pseudoSum(pkt, tcp ? PROTO_TCP : PROTO_UDP, total - ihl)));
      this.superPackets++;
      this.merged += this.#count[u]!;
      write(len, this.#count[u]!, h.gsoType);
    }
    this.#n = 0;
    this.#units = 0;
    return units;
  }
}
