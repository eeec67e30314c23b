// TUN offloads (sdk/io/tun-offload.ts): the split of TSO/USO super-packets read from a
// virtio_net_hdr TUN and the coalescing (GRO) of decrypted segments into one TUN write, against
// packets built here and checksums computed by a plain byte-by-byte RFC 1071 reference: every
// segment's IP/TCP/UDP fields and checksums, split -> coalesce giving back the original stream,
// IPv6, TCP options, PSH/FIN, partial checksums, and what must not be merged (out of order,
// interleaved flows kept apart, TTL/TOS/ACK/option differences, bad checksums, fragments, IPv4
// options, SYN/FIN, longer UDP datagrams, the 64 KiB limit).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Coalescer,
  finishChecksum,
  fold,
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP_L4,
  gsoSegment,
  gsoSegments,
  sum16,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_LEN,
  VnetHdr,
} from "../../sdk/io/tun-offload.ts";

// ---- reference -----------------------------------------------------------------------------

/** RFC 1071, byte by byte, no shortcuts. */
function refSum(b: Uint8Array, start = 0, end = b.length): number {
  let s = 0;
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) + (i + 1 < end ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}
const v4 = (p: Uint8Array): boolean => p[0]! >> 4 === 4;
const ihlOf = (p: Uint8Array): number => (v4(p) ? (p[0]! & 15) * 4 : 40);
const protoOf = (p: Uint8Array): number => (v4(p) ? p[9]! : p[6]!);
function refPseudo(p: Uint8Array): number {
  const l4 = p.length - ihlOf(p);
  const addrs = v4(p) ? p.subarray(12, 20) : p.subarray(8, 40);
  const ph = new Uint8Array(addrs.length + 4);
  ph.set(addrs);
  ph[addrs.length + 1] = protoOf(p);
  ph[addrs.length + 2] = l4 >> 8;
  ph[addrs.length + 3] = l4 & 255;
  return refSum(ph);
}
/** Whether the transport checksum of p verifies (the reference's way). */
function l4Ok(p: Uint8Array): boolean {
  const ph = refPseudo(p);
  let s = ph + refSum(p, ihlOf(p));
  while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  return s === 0xffff;
}
const ipHdrOk = (p: Uint8Array): boolean => !v4(p) || refSum(p, 0, ihlOf(p)) === 0xffff;
const u16 = (p: Uint8Array, o: number): number => (p[o]! << 8) | p[o + 1]!;
const u32 = (p: Uint8Array, o: number): number =>
  ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0;

function rand(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

interface PktOpts {
  v6?: boolean;
  udp?: boolean;
  seq?: number;
  ack?: number;
  flags?: number;
  ttl?: number;
  tos?: number;
  id?: number;
  /** TCP options (a multiple of 4 bytes). */
  opts?: Uint8Array;
  src?: number;
  sport?: number;
  /** Leave the transport checksum as a partial (pseudo-header) sum, as a CHECKSUM_PARTIAL read. */
  partial?: boolean;
  /** Corrupt the checksum. */
  badSum?: boolean;
  ipOptions?: boolean;
  mf?: boolean;
}

/** An IPv4/IPv6 TCP or UDP packet carrying `payload`, checksums by the reference. */
function build(payload: Uint8Array, o: PktOpts = {}): Uint8Array {
  const ihl = o.v6 ? 40 : o.ipOptions ? 24 : 20;
  const thl = o.udp ? 8 : 20 + (o.opts?.length ?? 0);
  const p = new Uint8Array(ihl + thl + payload.length);
  if (o.v6) {
    p[0] = 0x60 | ((o.tos ?? 0) >> 4);
    p[1] = ((o.tos ?? 0) & 15) << 4;
    p[4] = (p.length - 40) >> 8;
    p[5] = (p.length - 40) & 255;
    p[6] = o.udp ? 17 : 6;
    p[7] = o.ttl ?? 64;
    p.set([0xfd, 0, 0, 0x92, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, o.src ?? 1], 8);
    p.set([0xfd, 0, 0, 0x92, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 24);
  } else {
    p[0] = 0x40 | (ihl / 4);
    p[1] = o.tos ?? 0;
    p[2] = p.length >> 8;
    p[3] = p.length & 255;
    p[4] = ((o.id ?? 0x1234) >> 8) & 255;
    p[5] = (o.id ?? 0x1234) & 255;
    p[6] = o.mf ? 0x20 : 0x40;
    p[8] = o.ttl ?? 64;
    p[9] = o.udp ? 17 : 6;
    p.set([10, 92, 0, o.src ?? 1, 10, 92, 0, 2], 12);
    if (o.ipOptions) p.set([1, 1, 1, 0], 20);
    const c = ~refSum(p, 0, ihl) & 0xffff;
    p[10] = c >> 8;
    p[11] = c & 255;
  }
  const t = ihl;
  const sport = o.sport ?? 40000;
  p[t] = sport >> 8;
  p[t + 1] = sport & 255;
  p[t + 2] = 5201 >> 8;
  p[t + 3] = 5201 & 255;
  let csumAt: number;
  if (o.udp) {
    p[t + 4] = (p.length - ihl) >> 8;
    p[t + 5] = (p.length - ihl) & 255;
    csumAt = t + 6;
  } else {
    const seq = o.seq ?? 1000,
      ack = o.ack ?? 777;
    p.set([seq >>> 24, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255], t + 4);
    p.set([ack >>> 24, (ack >>> 16) & 255, (ack >>> 8) & 255, ack & 255], t + 8);
    p[t + 12] = (thl / 4) << 4;
    p[t + 13] = o.flags ?? 0x10;
    p[t + 14] = 0xff;
    p[t + 15] = 0xff;
    if (o.opts) p.set(o.opts, t + 20);
    csumAt = t + 16;
  }
  p.set(payload, ihl + thl);
  let c = o.partial ? refPseudo(p) : ~fold(refPseudo(p) + refSum(p, ihl)) & 0xffff;
  if (!o.partial && o.udp && c === 0) c = 0xffff;
  if (o.badSum) c ^= 0x5555;
  p[csumAt] = c >> 8;
  p[csumAt + 1] = c & 255;
  return p;
}

const TS_OPTS = Uint8Array.of(1, 1, 8, 10, 0, 0, 0, 42, 0, 0, 0, 7);

/** A super-packet as the kernel hands it over: header + one big packet with a partial checksum. */
function superPacket(
  payload: Uint8Array,
  gsoSize: number,
  o: PktOpts = {},
): { h: VnetHdr; pkt: Uint8Array; orig: Uint8Array } {
  const pkt = build(payload, { ...o, partial: true });
  const orig = build(payload, o);
  const h = new VnetHdr();
  const ihl = o.v6 ? 40 : 20;
  h.flags = VNET_F_NEEDS_CSUM;
  h.gsoType = o.udp ? GSO_UDP_L4 : o.v6 ? GSO_TCPV6 : GSO_TCPV4;
  h.hdrLen = 0; // a hint only: recomputed
  h.gsoSize = gsoSize;
  h.csumStart = ihl;
  h.csumOffset = o.udp ? 6 : 16;
  return { h, pkt, orig };
}

function split(s: { h: VnetHdr; pkt: Uint8Array }): Uint8Array[] {
  const n = gsoSegments(s.pkt, s.pkt.length, s.h);
  const out: Uint8Array[] = [];
  const buf = new Uint8Array(2048 + 3);
  for (let k = 0; k < n; k++) {
    // an odd offset: nothing may assume alignment
    const len = gsoSegment(s.pkt, s.pkt.length, s.h, k, buf, 3);
    out.push(buf.slice(3, 3 + len));
  }
  return out;
}

/** Runs the coalescer over packets; returns each write as { hdr, pkt }. */
function coalesce(pkts: Uint8Array[], udp = false): { hdr: VnetHdr; pkt: Uint8Array }[] {
  const c = new Coalescer(64, udp);
  for (const p of pkts) assert.ok(c.push(p));
  const out: { hdr: VnetHdr; pkt: Uint8Array }[] = [];
  const buf = new Uint8Array(VNET_HDR_LEN + 65535);
  c.flush(buf, (len) => out.push({ hdr: new VnetHdr().decode(buf, 0), pkt: buf.slice(VNET_HDR_LEN, len) }));
  assert.equal(c.length, 0);
  return out;
}

/** What the kernel does with a NEEDS_CSUM GSO write: checks the checksum field holds the pseudo-header sum. */
function partialOk(w: { hdr: VnetHdr; pkt: Uint8Array }): boolean {
  const at = w.hdr.csumStart + w.hdr.csumOffset;
  return u16(w.pkt, at) === refPseudo(w.pkt);
}

// ---- tests ---------------------------------------------------------------------------------

test("sum16 equals the byte-by-byte RFC 1071 sum at every alignment and length", () => {
  const big = rand(5000, 7);
  for (const off of [0, 1, 2, 3, 4, 5, 6, 7])
    for (const len of [0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 1399, 1400, 1448, 4000]) {
      const v = big.subarray(off, off + len);
      assert.equal(fold(sum16(v, 0, len)), refSum(v), `offset ${off} length ${len}`);
      assert.equal(fold(sum16(big, off, off + len, 0x1234)), fold(refSum(v) + 0x1234));
    }
  const ones = new Uint8Array(65535).fill(0xff);
  assert.equal(fold(sum16(ones, 0, ones.length)), refSum(ones));
});

for (const v6 of [false, true])
  test(`TSO split (${v6 ? "IPv6" : "IPv4"}, TCP timestamps): every segment's lengths, ID, seq, flags and checksums; the payload comes back whole`, () => {
    const payload = rand(10_000, 3);
    const s = superPacket(payload, 1388, { v6, opts: TS_OPTS, flags: 0x19 /* ACK|PSH|FIN */, seq: 0xfffff000 });
    const segs = split(s);
    assert.equal(segs.length, Math.ceil(10_000 / 1388));
    const ihl = v6 ? 40 : 20,
      hl = ihl + 32;
    assert.equal(s.h.hdrLen, hl);
    const got: number[] = [];
    segs.forEach((p, k) => {
      const last = k === segs.length - 1;
      const dataLen = last ? 10_000 - 1388 * k : 1388;
      assert.equal(p.length, hl + dataLen);
      if (v6) assert.equal(u16(p, 4), p.length - 40);
      else {
        assert.equal(u16(p, 2), p.length);
        assert.equal(u16(p, 4), (0x1234 + k) & 0xffff, "IP ID counts up");
      }
      assert.ok(ipHdrOk(p), `IP header checksum of segment ${k}`);
      assert.ok(l4Ok(p), `TCP checksum of segment ${k}`);
      assert.equal(u32(p, ihl + 4), (0xfffff000 + 1388 * k) >>> 0, "seq (wrapping)");
      assert.equal(p[ihl + 13], last ? 0x19 : 0x10, "PSH and FIN only on the last");
      assert.deepEqual(p.subarray(ihl + 20, hl), TS_OPTS);
      got.push(...p.subarray(hl));
    });
    assert.deepEqual(Uint8Array.from(got), payload);
  });

for (const v6 of [false, true])
  test(`USO split (${v6 ? "IPv6" : "IPv4"} UDP): datagrams of gso_size with their own UDP length and checksum`, () => {
    const payload = rand(64 * 20 + 17, 9);
    const s = superPacket(payload, 64, { v6, udp: true });
    const segs = split(s);
    assert.equal(segs.length, 21);
    const ihl = v6 ? 40 : 20;
    segs.forEach((p, k) => {
      assert.equal(u16(p, ihl + 4), p.length - ihl, "UDP length");
      assert.ok(l4Ok(p) && ipHdrOk(p), `checksums of datagram ${k}`);
      assert.deepEqual(p.subarray(ihl + 8), payload.subarray(64 * k, 64 * (k + 1)));
    });
    assert.equal(segs.at(-1)!.length, ihl + 8 + 17);
  });

test("super-packets that cannot be split are refused (0 segments)", () => {
  const s = superPacket(rand(3000, 1), 1000);
  const bad = (f: (h: VnetHdr) => void, pkt = s.pkt): number => {
    const h = new VnetHdr();
    Object.assign(h, s.h);
    f(h);
    return gsoSegments(pkt, pkt.length, h);
  };
  assert.equal(
    bad(() => undefined),
    3,
  );
  assert.equal(
    bad((h) => (h.gsoSize = 0)),
    0,
  );
  assert.equal(
    bad((h) => (h.flags = 0)),
    0,
  );
  assert.equal(
    bad((h) => (h.gsoType = GSO_TCPV6)),
    0,
    "TCPV6 on an IPv4 packet",
  );
  assert.equal(
    bad((h) => (h.gsoType = 2 /* UFO */)),
    0,
  );
  assert.equal(
    bad((h) => (h.csumStart = 10)),
    0,
  );
  assert.equal(
    bad((h) => (h.csumOffset = 6)),
    0,
  );
  assert.equal(
    bad(() => undefined, s.pkt.subarray(0, 40)),
    0,
    "headers only",
  );
});

test("a partial checksum (GSO_NONE with NEEDS_CSUM) is completed in place", () => {
  for (const o of [{}, { v6: true }, { udp: true }, { v6: true, udp: true }] as PktOpts[]) {
    const p = build(rand(333, 5), { ...o, partial: true });
    assert.ok(!l4Ok(p));
    assert.ok(finishChecksum(p, p.length, o.v6 ? 40 : 20, o.udp ? 6 : 16));
    assert.ok(l4Ok(p), JSON.stringify(o));
    assert.deepEqual(p, build(rand(333, 5), o));
  }
  const p = build(rand(10, 5), { partial: true });
  assert.equal(finishChecksum(p, p.length, 20, 100), false, "offsets past the end");
});

for (const v6 of [false, true])
  test(`split -> coalesce (${v6 ? "IPv6" : "IPv4"}): one GRO write equal to the original packet, NEEDS_CSUM with the pseudo-header sum`, () => {
    const payload = rand(20_000, 11);
    const s = superPacket(payload, 1388, { v6, opts: TS_OPTS, flags: 0x18 /* ACK|PSH */ });
    const segs = split(s);
    const w = coalesce(segs);
    assert.equal(w.length, 1);
    const [{ hdr, pkt }] = w as [{ hdr: VnetHdr; pkt: Uint8Array }];
    const ihl = v6 ? 40 : 20;
    assert.equal(hdr.flags, VNET_F_NEEDS_CSUM);
    assert.equal(hdr.gsoType, v6 ? GSO_TCPV6 : GSO_TCPV4);
    assert.equal(hdr.gsoSize, 1388);
    assert.equal(hdr.hdrLen, ihl + 32);
    assert.equal(hdr.csumStart, ihl);
    assert.equal(hdr.csumOffset, 16);
    assert.ok(partialOk(w[0]!));
    assert.ok(ipHdrOk(pkt));
    // the original, but for the checksum field (partial there)
    const orig = s.orig.slice();
    orig[ihl + 16] = pkt[ihl + 16]!;
    orig[ihl + 17] = pkt[ihl + 17]!;
    assert.deepEqual(pkt, orig);
  });

test("USO split -> coalesce: one GSO_UDP_L4 write with the same datagrams; without USO each alone", () => {
  const payload = rand(64 * 30, 4);
  const s = superPacket(payload, 64, { udp: true });
  const segs = split(s);
  const w = coalesce(segs, true);
  assert.equal(w.length, 1);
  assert.equal(w[0]!.hdr.gsoType, GSO_UDP_L4);
  assert.equal(w[0]!.hdr.gsoSize, 64);
  assert.equal(w[0]!.hdr.csumOffset, 6);
  assert.ok(partialOk(w[0]!));
  assert.equal(u16(w[0]!.pkt, 24), 8 + 64 * 30, "UDP length of the super-packet");
  assert.deepEqual(w[0]!.pkt.subarray(28), payload);
  const alone = coalesce(segs, false);
  assert.equal(alone.length, 30);
  for (const [i, x] of alone.entries()) {
    assert.equal(x.hdr.gsoType, GSO_NONE);
    assert.equal(x.hdr.flags, 0);
    assert.deepEqual(x.pkt, segs[i]);
  }
});

test("UDP: a shorter datagram ends a unit, a longer one starts a new one; other ports are another flow", () => {
  const a = (n: number, sport = 40000): Uint8Array => build(rand(n, n), { udp: true, sport });
  const w = coalesce([a(100), a(100), a(60), a(100), a(200), a(100, 40001), a(100, 40001)], true);
  assert.deepEqual(
    w.map((x) => [x.hdr.gsoType, x.pkt.length]),
    [
      [GSO_UDP_L4, 28 + 100 + 100 + 60],
      [GSO_NONE, 128],
      [GSO_NONE, 228],
      [GSO_UDP_L4, 28 + 200],
    ],
  );
});

/** Consecutive TCP segments of `size` bytes from seq 1000 (flow options overridable per segment). */
function segments(n: number, size: number, per: (k: number) => PktOpts = () => ({})): Uint8Array[] {
  return Array.from({ length: n }, (_, k) => build(rand(size, k + 1), { seq: 1000 + k * size, ...per(k) }));
}

test("TCP: out-of-order segments are not merged and keep their order", () => {
  const [s0, s1, s2, s3] = segments(4, 500) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  const w = coalesce([s0, s2, s1, s3]);
  assert.deepEqual(
    w.map((x) => x.pkt),
    [s0, s2, s1, s3],
  );
  // s0 s1 then a gap: s0+s1 merged, s3 alone
  const w2 = coalesce([s0, s1, s3]);
  assert.deepEqual(
    w2.map((x) => [x.hdr.gsoType, x.pkt.length]),
    [
      [GSO_TCPV4, 40 + 1000],
      [GSO_NONE, 540],
    ],
  );
});

test("TCP: interleaved flows are merged each on its own, written in the order of their first packet", () => {
  const a = segments(3, 400);
  const b = segments(3, 400, () => ({ sport: 40001 }));
  const c = segments(2, 400, () => ({ src: 9 }));
  const w = coalesce([a[0]!, b[0]!, c[0]!, a[1]!, b[1]!, c[1]!, a[2]!, b[2]!]);
  assert.deepEqual(
    w.map((x) => [u16(x.pkt, 20), x.pkt[15], x.pkt.length]),
    [
      [40000, 1, 40 + 1200],
      [40001, 1, 40 + 1200],
      [40000, 9, 40 + 800],
    ],
  );
  for (const x of w) assert.ok(partialOk(x) && ipHdrOk(x.pkt));
});

test("TCP: TTL, TOS, ACK number or option differences, PSH, SYN/FIN, bad checksums, fragments and IPv4 options stop merging", () => {
  const kinds = (pkts: Uint8Array[]): number[] =>
    coalesce(pkts).map((x) => (x.hdr.gsoType === GSO_NONE ? 1 : (x.pkt.length - 40) / 100));
  const diff = (o: PktOpts): number[] => kinds(segments(3, 100, (k) => (k === 1 ? o : {})));
  assert.deepEqual(diff({}), [3], "three alike: one unit");
  assert.deepEqual(diff({ ttl: 63 }), [1, 1, 1]);
  assert.deepEqual(diff({ tos: 4 }), [1, 1, 1]);
  assert.deepEqual(diff({ ack: 778 }), [1, 1, 1]);
  assert.deepEqual(diff({ opts: TS_OPTS }), [1, 1, 1]);
  assert.deepEqual(diff({ flags: 0x18 }), [2, 1], "PSH ends a unit (it is its last segment)");
  assert.deepEqual(diff({ flags: 0x11 }), [1, 1, 1], "FIN");
  assert.deepEqual(diff({ flags: 0x12 }), [1, 1, 1], "SYN|ACK");
  assert.deepEqual(diff({ badSum: true }), [1, 1, 1], "a bad checksum is written alone, as it came");
  assert.deepEqual(diff({ mf: true }), [1, 1, 1]);
  assert.deepEqual(diff({ ipOptions: true }), [1, 1, 1]);
  // a bad checksum on the first: nothing merges into it, the next two merge
  assert.deepEqual(kinds(segments(3, 100, (k) => (k === 0 ? { badSum: true } : {}))), [1, 2]);
  // a shorter segment is the last of its unit
  const short = [...segments(2, 100), build(rand(50, 3), { seq: 1200 }), build(rand(100, 4), { seq: 1250 })];
  assert.deepEqual(kinds(short), [2.5, 1]);
  // IPv6 TTL (hop limit) too
  assert.equal(coalesce(segments(2, 100, (k) => ({ v6: true, ttl: 60 + k }))).length, 2);
  assert.equal(coalesce(segments(2, 100, () => ({ v6: true }))).length, 1);
});

test("TCP: a unit stops below 64 KiB; the coalescer takes at most its size per flush", () => {
  const segs = segments(60, 1400);
  const w = coalesce(segs);
  assert.deepEqual(
    w.map((x) => x.pkt.length),
    [40 + 46 * 1400, 40 + 14 * 1400],
  );
  const c = new Coalescer(2);
  assert.ok(c.push(segs[0]!) && c.push(segs[1]!));
  assert.equal(c.push(segs[2]!), false);
});
