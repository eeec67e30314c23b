// The packet worker's engine (sdk/io/tunnel-engine.ts) without root, koffi or a TUN: a fake libc
// hands it "TUN reads" and records its TUN writes, a fake sink records what it would send. Packets
// are checked against node:crypto (test/helpers/esp-ref.ts): outbound ESP decrypts with OpenSSL to
// the packet read from the TUN; ESP made by OpenSSL comes out of the TUN; selectors pick the SA and
// police what comes in; RFC 3948 demux; ICMP too-big; the ICV-truncation diagnostic and lifetime
// events carry the main thread's SA handles; a removed SA routes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import { TunnelEngine, innerDestination, type EngineOffload, type UdpSink } from "../../sdk/io/tunnel-engine.ts";
import {
  GSO_NONE,
  GSO_TCPV4,
  gsoSegment,
  gsoSegments,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_LEN,
  VnetHdr,
} from "../../sdk/io/tun-offload.ts";
import type { Libc } from "../../sdk/io/libc.ts";
import { fakeTunLibc } from "../helpers/fake-tun-libc.ts";
import type { FromWorker } from "../../sdk/io/messages.ts";
import { wireTs } from "../../sdk/io/selectors.ts";
import { parseTs } from "../../sdk/ike/ts.ts";
import type { TrafficSelector } from "../../sdk/ike/message.ts";
import { refDecap, refEncap, type RefSa } from "../helpers/esp-ref.ts";
import { buildPacket } from "../helpers/interop.ts";

const ts = (text: string): TrafficSelector[] => parseTs(text).filter((t): t is TrafficSelector => t !== "dynamic");
const key = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

/** A libc whose TUN reads come from `tunIn` and whose writes land in `tunOut`. */
function fakeLibc(): { libc: Libc; tunIn: Uint8Array[]; tunOut: Uint8Array[] } {
  const tunIn: Uint8Array[] = [],
    tunOut: Uint8Array[] = [];
  const libc = fakeTunLibc({
    read(dst) {
      const p = tunIn.shift();
      if (!p) return -1;
      const n = Math.min(dst.length, p.length);
      dst.set(p.subarray(0, n));
      return n;
    },
    write: (packet) => tunOut.push(packet.slice()),
  });
  return { libc, tunIn, tunOut };
}

function fakeSink(): UdpSink & { sent: { bytes: Uint8Array; to: string }[] } {
  const queued: { bytes: Uint8Array; to: string }[] = [];
  const sent: { bytes: Uint8Array; to: string }[] = [];
  return {
    sent,
    dest: (address, port) => `${address}:${port}`,
    queue: (out, dest) => {
      queued.push({ bytes: out.slice(), to: dest as string });
    },
    flush: () => {
      const n = queued.length;
      sent.push(...queued.splice(0));
      return [n, 0, n ? 1 : 0];
    },
    sendOne: (prefix, bytes, address, port) => {
      sent.push({ bytes: Uint8Array.from([...(prefix ?? []), ...bytes]), to: `${address}:${port}` });
      return true;
    },
  };
}

const GCM_OUT = key(20, 1),
  GCM_IN = key(20, 2);
const refOut: RefSa = {
  spi: 0xc0000001,
  suite: "gcm",
  key: GCM_OUT.subarray(0, 16),
  salt: GCM_OUT.subarray(16),
  icv: 16,
};
const refIn: RefSa = { spi: 0xc0000002, suite: "gcm", key: GCM_IN.subarray(0, 16), salt: GCM_IN.subarray(16), icv: 16 };

async function rig(offload?: EngineOffload) {
  const dp = await Dataplane.create({ maxSas: 16, batchSize: 8 });
  const { libc, tunIn, tunOut } = fakeLibc();
  const sink = fakeSink();
  const posted: FromWorker[] = [];
  const engine = new TunnelEngine(libc, dp, 7, 8, sink, (m) => posted.push(m), false, offload);
  // Main-thread handles 100 (out) and 101 (in), as the mirror would send them.
  engine.control({
    t: "add",
    h: 100,
    cfg: {
      spi: refOut.spi,
      direction: "out",
      mode: "tunnel",
      esp: "aes128gcm16",
      encKey: GCM_OUT.slice(),
      lifetime: { soft: { packets: 3 } },
    },
  });
  engine.control({
    t: "add",
    h: 101,
    cfg: {
      spi: refIn.spi,
      direction: "in",
      mode: "tunnel",
      esp: "aes128gcm16",
      encKey: GCM_IN.slice(),
      replayWindow: 64,
    },
  });
  const local = wireTs(ts("10.0.0.1/32")),
    remoteTs = wireTs(ts("10.0.9.0/24"));
  engine.control({
    t: "routes",
    out: [{ h: 100, remote: { address: "198.18.0.2", port: 4500 }, local, remoteTs, mtu: 1000 }],
    in: [{ h: 101, local, remoteTs }],
  });
  return { dp, engine, tunIn, tunOut, sink, posted };
}

const pkt = (src: string, dst: string, size = 40): Uint8Array =>
  buildPacket({ v6: false, src, dst, l4: "udp", id: 7000, seq: 0, payload: new Uint8Array(size).fill(0x61), dport: 9 });

test("TUN -> UDP: the matching SA encrypts (OpenSSL decrypts it back), other destinations and sources are not sent, a large DF packet gets ICMP", async () => {
  const { engine, tunIn, tunOut, sink, posted } = await rig();
  const good = pkt("10.0.0.1", "10.0.9.9"),
    otherDst = pkt("10.0.0.1", "198.51.100.77"),
    otherSrc = pkt("10.5.5.5", "10.0.9.9"),
    big = pkt("10.0.0.1", "10.0.9.9", 1200);
  tunIn.push(good, otherDst, otherSrc, big);
  assert.equal(engine.fromTun(), 4);
  assert.equal(sink.sent.length, 1);
  assert.equal(sink.sent[0]!.to, "198.18.0.2:4500");
  const back = refDecap(refOut, sink.sent[0]!.bytes);
  assert.deepEqual(new Uint8Array(back.payload), good);
  assert.equal(back.nextHeader, 4);
  assert.equal(engine.io.noRoute, 2);
  assert.equal(engine.io.tooBig, 1);
  assert.equal(tunOut.length, 1, "the ICMP error went back into the TUN");
  assert.deepEqual([tunOut[0]![20], tunOut[0]![21], (tunOut[0]![26]! << 8) | tunOut[0]![27]!], [3, 4, 1000]);
  // Soft lifetime of 3 packets: the event carries the main thread's handle.
  tunIn.push(good, good);
  engine.fromTun();
  const life = posted.find((m) => m.t === "lifetime");
  assert.ok(
    life && life.t === "lifetime" && life.event.sa === 100 && life.event.kind === "soft",
    JSON.stringify(posted),
  );
  // After `remove` nothing routes to the SA any more.
  engine.control({ t: "remove", h: 100 });
  tunIn.push(good);
  engine.fromTun();
  assert.equal(sink.sent.length, 3);
  assert.equal(engine.io.noRoute, 3);
});

test("no outbound SA: the worker reports the destination (rate limited) so a trap on the main thread can acquire", async () => {
  const { engine, tunIn, sink, posted } = await rig();
  engine.control({ t: "remove", h: 100 });
  tunIn.push(pkt("10.0.0.1", "10.0.9.9"), pkt("10.0.0.1", "10.0.9.10"));
  engine.fromTun();
  assert.equal(sink.sent.length, 0);
  assert.equal(engine.io.noRoute, 2);
  assert.deepEqual(
    posted.filter((m) => m.t === "noroute"),
    [
      { t: "noroute", dst: "10.0.9.9" },
      { t: "noroute", dst: "10.0.9.10" },
    ],
  );
  for (let i = 0; i < 100; i++) tunIn.push(pkt("10.0.0.1", "10.0.9.9"));
  for (let i = 0; i < 20; i++) engine.fromTun();
  assert.ok(posted.filter((m) => m.t === "noroute").length <= 21, "at most 20 reports a second");
  const v6 = buildPacket({
    v6: true,
    src: "fd00::1",
    dst: "fd00:9::9",
    l4: "udp",
    id: 1,
    seq: 0,
    payload: new Uint8Array(8),
    dport: 9,
  });
  assert.equal(innerDestination(v6, v6.length), "fd00:9::9");
  assert.equal(innerDestination(v6, 20), undefined);
});

test("UDP -> TUN: OpenSSL's ESP comes out of the TUN, the inbound policy drops other addresses, IKE goes up, keepalives are counted", async () => {
  const { engine, tunOut, posted } = await rig();
  const inner = pkt("10.0.9.9", "10.0.0.1"),
    spoofed = pkt("10.7.7.7", "10.0.0.1");
  engine.beginReceive();
  engine.ingest(new Uint8Array(refEncap(refIn, 1n, inner, 4)), () => ({ address: "x", port: 0 }));
  engine.ingest(new Uint8Array(refEncap(refIn, 2n, spoofed, 4)), () => ({ address: "x", port: 0 }));
  engine.ingest(Uint8Array.of(0, 0, 0, 0, 0xaa, 0xbb), () => ({ address: "198.18.0.2", port: 4500 }));
  engine.ingest(Uint8Array.of(0xff), () => ({ address: "x", port: 0 }));
  engine.ingest(new Uint8Array(refEncap(refIn, 1n, inner, 4)), () => ({ address: "x", port: 0 }));
  engine.finishReceive();
  assert.deepEqual(tunOut, [inner]);
  assert.equal(engine.io.policyDrops, 1);
  assert.equal(engine.io.keepalives, 1);
  assert.equal(engine.io.espDrops.replay, 1);
  const ike = posted.find((m) => m.t === "ike");
  assert.ok(ike && ike.t === "ike");
  assert.deepEqual([...ike.bytes], [0xaa, 0xbb]);
  assert.equal(ike.address, "198.18.0.2");
  const snap = engine.snapshot();
  // The dataplane counts what authenticated (2); the policy drop is the worker's (policyDrops), as the
  // kernel counts XfrmInPolBlock apart from the SA's own counters.
  assert.equal(snap.sas.find((s) => s.h === 101)?.stats.packets, 2n);
  assert.equal(snap.sas.find((s) => s.h === 101)?.replay?.top, 2n);
});

test("the ICV-truncation detector runs in the worker: a peer's 96-bit HMAC ICVs raise the diagnostic on the main thread's handle", async () => {
  const { engine, posted } = await rig();
  const ik = key(32, 9),
    ak = key(16, 4);
  engine.control({
    t: "add",
    h: 102,
    cfg: {
      spi: 0xc0000003,
      direction: "in",
      mode: "tunnel",
      esp: "aes128-sha256",
      encKey: ak.slice(),
      integKey: ik.slice(),
    },
  });
  const peer: RefSa = { spi: 0xc0000003, suite: "cbc", key: ak, integKey: ik, hash: "sha256", icv: 12 };
  engine.beginReceive();
  for (let i = 1; i <= 5; i++)
    engine.ingest(new Uint8Array(refEncap(peer, BigInt(i), pkt("10.0.9.9", "10.0.0.1"), 4)), () => ({
      address: "x",
      port: 0,
    }));
  engine.finishReceive();
  const d = engine.snapshot().diagnostics;
  assert.equal(d.length, 1, JSON.stringify(d));
  assert.equal(d[0]!.kind, "icv-truncation");
  assert.equal(d[0]!.sa, 102);
  assert.ok(
    posted.some((m) => m.t === "diag" && /96-bit ICV/.test(m.line)),
    "the line is posted as it is raised",
  );
});

/** A TCP super-packet src -> dst (payload `n` bytes from seq 5000) behind its virtio_net_hdr, and its segments. */
function tso(src: string, dst: string, n: number, gsoSize: number): { read: Uint8Array; segments: Uint8Array[] } {
  const payload = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 255);
  const big = buildPacket({ v6: false, src, dst, l4: "tcp", id: 1, seq: 5000, payload });
  const h = new VnetHdr();
  h.flags = VNET_F_NEEDS_CSUM;
  h.gsoType = GSO_TCPV4;
  h.gsoSize = gsoSize;
  h.csumStart = 20;
  h.csumOffset = 16;
  const read = new Uint8Array(VNET_HDR_LEN + big.length);
  h.encode(read, 0);
  read.set(big, VNET_HDR_LEN);
  const segments: Uint8Array[] = [];
  const k = gsoSegments(big, big.length, h);
  for (let i = 0; i < k; i++) {
    const out = new Uint8Array(2048);
    segments.push(out.slice(0, gsoSegment(big, big.length, h, i, out, 0)));
  }
  return { read, segments };
}

test("offloads: a TSO super-packet read from the TUN goes out as MSS-sized ESP packets over two batches; a plain read behind its header too", async () => {
  const { engine, tunIn, sink } = await rig({ vnetHdr: true, uso: false });
  const { read, segments } = tso("10.0.0.1", "10.0.9.9", 5000, 480);
  assert.equal(segments.length, 11);
  const plain = pkt("10.0.0.1", "10.0.9.9");
  const plainRead = new Uint8Array(VNET_HDR_LEN + plain.length);
  plainRead.set(plain, VNET_HDR_LEN);
  tunIn.push(read, plainRead);
  // reading stops once a batch's worth (8) was read: the plain packet comes with the next call
  assert.equal(engine.fromTun(), 11);
  assert.equal(engine.fromTun(), 1);
  assert.equal(sink.sent.length, 12);
  sink.sent.forEach((d, i) => {
    const back = refDecap(refOut, d.bytes);
    assert.deepEqual(new Uint8Array(back.payload), i < 11 ? segments[i] : plain);
  });
  assert.equal(engine.io.tunGsoRead, 1);
  assert.equal(engine.io.tunRead, 12);
  assert.equal(engine.io.encapBatches, 3);
});

test("offloads: decrypted TCP segments of one flow are written as one GRO super-packet, anything else alone behind a zero header", async () => {
  const { engine, tunOut } = await rig({ vnetHdr: true, uso: false });
  const { segments } = tso("10.0.9.9", "10.0.0.1", 3000, 600);
  const udp = pkt("10.0.9.9", "10.0.0.1");
  engine.beginReceive();
  [...segments, udp].forEach((p, i) =>
    engine.ingest(new Uint8Array(refEncap(refIn, BigInt(i + 1), p, 4)), () => ({ address: "x", port: 0 })),
  );
  engine.finishReceive();
  assert.equal(tunOut.length, 2);
  const h = new VnetHdr().decode(tunOut[0]!, 0);
  assert.equal(h.gsoType, GSO_TCPV4);
  assert.equal(h.gsoSize, 600);
  const whole = tunOut[0]!.subarray(VNET_HDR_LEN);
  assert.equal(whole.length, 40 + 3000);
  assert.deepEqual(
    whole.subarray(40),
    Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 255),
  );
  assert.equal(new VnetHdr().decode(tunOut[1]!, 0).gsoType, GSO_NONE);
  assert.deepEqual(tunOut[1]!.subarray(0, VNET_HDR_LEN), new Uint8Array(VNET_HDR_LEN));
  assert.deepEqual(tunOut[1]!.subarray(VNET_HDR_LEN), udp);
  assert.equal(engine.io.tunWritten, 6);
  assert.equal(engine.io.tunGroWritten, 1);
  assert.equal(engine.io.tunGroPackets, 5);
});

test("offloads: reads without an outbound SA (plain and TSO) are reported for traps as well", async () => {
  const { engine, tunIn, sink, posted } = await rig({ vnetHdr: true, uso: false });
  engine.control({ t: "remove", h: 100 });
  const plain = pkt("10.0.0.1", "10.0.9.7");
  const plainRead = new Uint8Array(VNET_HDR_LEN + plain.length);
  plainRead.set(plain, VNET_HDR_LEN);
  const { read } = tso("10.0.0.1", "10.0.9.8", 3000, 480);
  tunIn.push(plainRead, read);
  engine.fromTun();
  assert.equal(sink.sent.length, 0);
  assert.deepEqual(
    posted.filter((m) => m.t === "noroute"),
    [
      { t: "noroute", dst: "10.0.9.7" },
      { t: "noroute", dst: "10.0.9.8" },
    ],
  );
  const segs = gsoSegments(read.subarray(VNET_HDR_LEN), read.length - VNET_HDR_LEN, new VnetHdr().decode(read, 0));
  assert.equal(engine.io.noRoute, 1 + segs);
});
