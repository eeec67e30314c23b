// The capture tap (sdk/node/capture.ts) with node alone: the same four situations that
// test/interop/capture-tshark.test.ts has tshark 4.0 read, checked here with our pcap reader
// (itself checked against scapy-written files in pcap.test.ts) and IPv4/IPv6/UDP header parsing
// and RFC 1071 checksums written in this file: good IP and UDP checksums, the real addresses and
// ports, payloads, microsecond timestamps; IKE behind the non-ESP marker on NAT-T ports and bare
// on 500; sends passed on unchanged; the dataplane view records decap input as copies and the inner
// packets both ways, while every other dataplane member still works through it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CaptureTap, PcapWriter, tapDataplane, tapTransport, udpPacket } from "../../sdk/node/capture.ts";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import { encodeMessage } from "../../sdk/ike/codec.ts";
import { icmpEcho } from "../../sdk/packet/icmp.ts";
import { LINKTYPE_RAW, readPcap, type PcapRecord } from "../../sdk/pcap/pcap.ts";
import type { IkeTransport } from "../../sdk/ike/daemon.ts";
import type { Endpoint } from "../../sdk/ike/ike-sa.ts";
import { hex, tempDir } from "../helpers/interop.ts";

/** RFC 1071 one's-complement sum of `parts` (folded, not inverted). */
function onesSum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) sum += (p[i]! << 8) | (i + 1 < p.length ? p[i + 1]! : 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

const be16 = (n: number): Uint8Array => Uint8Array.of(n >>> 8, n & 255);
const ipText = (b: Uint8Array): string =>
  b.length === 4
    ? [...b].join(".")
    : new URL(
        `http://[${Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(":")}]`,
      ).hostname.slice(1, -1);

interface Udp {
  v: 4 | 6;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  udpLength: number;
  payload: Uint8Array;
}

/** One raw-IP record as IPv4 or IPv6 + UDP; asserts the IPv4 header checksum and the UDP checksum (pseudo-header included). */
function parseUdp(r: PcapRecord): Udp {
  const p = r.data;
  const v = p[0]! >> 4;
  let hl: number, src: Uint8Array, dst: Uint8Array;
  if (v === 4) {
    hl = (p[0]! & 15) * 4;
    assert.equal(p[9], 17, "IPv4 protocol UDP");
    assert.equal((p[2]! << 8) | p[3]!, p.length, "IPv4 total length");
    assert.equal(onesSum(p.subarray(0, hl)), 0xffff, "IPv4 header checksum");
    src = p.subarray(12, 16);
    dst = p.subarray(16, 20);
  } else {
    assert.equal(v, 6);
    hl = 40;
    assert.equal(p[6], 17, "IPv6 next header UDP");
    assert.equal((p[4]! << 8) | p[5]!, p.length - 40, "IPv6 payload length");
    src = p.subarray(8, 24);
    dst = p.subarray(24, 40);
  }
  const u = p.subarray(hl);
  const udpLength = (u[4]! << 8) | u[5]!;
  assert.equal(udpLength, u.length, "UDP length");
  const pseudo =
    v === 4
      ? [src, dst, Uint8Array.of(0, 17), be16(u.length)]
      : [src, dst, Uint8Array.of(0, 0, u.length >>> 8, u.length & 255, 0, 0, 0, 17)];
  assert.notEqual((u[6]! << 8) | u[7]!, 0, "UDP checksum present");
  assert.equal(onesSum(...pseudo, u), 0xffff, "UDP checksum");
  return {
    v: v,
    src: ipText(src),
    dst: ipText(dst),
    sport: (u[0]! << 8) | u[1]!,
    dport: (u[2]! << 8) | u[3]!,
    udpLength,
    payload: u.subarray(8),
  };
}

function records(path: string): PcapRecord[] {
  const f = readPcap(readFileSync(path));
  assert.equal(f.linkType, LINKTYPE_RAW);
  assert.equal(f.nanosecond, false);
  return f.records;
}

const ikeInit = (spiI: number): Uint8Array =>
  encodeMessage({
    header: {
      spiI: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, spiI),
      spiR: new Uint8Array(8),
      nextPayload: 0,
      majorVersion: 2,
      minorVersion: 0,
      exchange: 34,
      flags: 0x08,
      messageId: 0,
      length: 0,
    },
    payloads: [{ type: "N", protocolId: 0, spi: new Uint8Array(0), notifyType: 16390, data: new Uint8Array(0) }],
  });

test("udpPacket + PcapWriter: IPv4 and IPv6 UDP with good checksums, our ports, payload and microsecond times", () => {
  const tmp = tempDir("cap-udp");
  try {
    const path = join(tmp.dir, "u.pcap");
    const w = PcapWriter.open(path);
    const payload = Uint8Array.from({ length: 33 }, (_, i) => i * 7);
    w.write(
      udpPacket({ address: "198.18.0.1", port: 4500 }, { address: "198.18.0.2", port: 41234 }, payload),
      1_700_000_000_123.456,
    );
    w.write(
      udpPacket({ address: "2001:db8::1", port: 500 }, { address: "2001:db8::2", port: 500 }, payload.subarray(0, 8)),
      1_700_000_001_000,
    );
    w.close();
    w.write(payload); // after close: ignored
    assert.equal(w.packets, 2);
    const recs = records(path);
    assert.equal(recs.length, 2);
    const [a, b] = recs.map(parseUdp);
    assert.deepEqual(
      [a!.v, a!.src, a!.dst, a!.sport, a!.dport, a!.udpLength, hex(a!.payload)],
      [4, "198.18.0.1", "198.18.0.2", 4500, 41234, 41, hex(payload)],
    );
    assert.deepEqual([recs[0]!.tsSec, recs[0]!.tsFrac], [1_700_000_000, 123_456]);
    assert.deepEqual(
      [b!.v, b!.src, b!.dst, b!.sport, b!.dport, b!.udpLength, hex(b!.payload)],
      [6, "2001:db8::1", "2001:db8::2", 500, 500, 16, hex(payload.subarray(0, 8))],
    );
    assert.deepEqual([recs[1]!.tsSec, recs[1]!.tsFrac], [1_700_000_001, 0]);
    assert.throws(
      () => udpPacket({ address: "198.18.0.1", port: 1 }, { address: "2001:db8::2", port: 2 }, payload),
      RangeError,
    );
  } finally {
    tmp.remove();
  }
});

test("CaptureTap.ike: non-ESP marker on a NAT-T socket, none on port 500", () => {
  const tmp = tempDir("cap-ike");
  try {
    const cipher = join(tmp.dir, "c.pcap");
    const tap = new CaptureTap({ cipher });
    const a = { address: "198.18.0.1", port: 4500 },
      b = { address: "198.18.0.2", port: 4500 };
    tap.ike(ikeInit(1), a, b, 4500);
    tap.ike(ikeInit(2), { address: "198.18.0.1", port: 500 }, { address: "198.18.0.2", port: 500 }, 500);
    tap.inner(new Uint8Array(20)); // no plaintext file: ignored
    tap.close();
    assert.equal(tap.cipherPackets, 2);
    assert.equal(tap.plainPackets, 0);
    const [nat, plain] = records(cipher).map(parseUdp);
    assert.deepEqual([nat!.sport, nat!.dport, hex(nat!.payload)], [4500, 4500, `00000000${hex(ikeInit(1))}`]);
    assert.deepEqual([plain!.sport, plain!.dport, hex(plain!.payload)], [500, 500, hex(ikeInit(2))]);
  } finally {
    tmp.remove();
  }
});

/** A transport that only records what it was asked to send. */
function recorder(): IkeTransport & { sent: string[] } {
  const sent: string[] = [];
  const ep = (e: Endpoint): string => `${e.address}:${e.port}`;
  return {
    sent,
    natPort: 4500,
    sendIke: (bytes, l, r) => {
      sent.push(`ike ${ep(l)}>${ep(r)} ${bytes.length}`);
    },
    sendEsp: (ps, l, r) => {
      sent.push(`esp ${ep(l)}>${ep(r)} ${ps.length}`);
    },
    sendKeepalive: (r) => {
      sent.push(`ka ${ep(r)}`);
    },
  };
}

test("tapTransport: every send is passed on unchanged and captured with our real address (wildcard replaced) and the NAT-T port for ESP", () => {
  const tmp = tempDir("cap-tr");
  try {
    const cipher = join(tmp.dir, "c.pcap");
    const tap = new CaptureTap({ cipher });
    const inner = recorder();
    const t = tapTransport(inner, tap, "198.18.0.1");
    const peer = { address: "198.18.0.2", port: 4500 };
    const esp = [Uint8Array.of(0xc0, 0, 0, 1, 0, 0, 0, 1, 9, 9), Uint8Array.of(0xc0, 0, 0, 1, 0, 0, 0, 2, 9, 9)];
    t.sendIke(ikeInit(3), { address: "0.0.0.0", port: 500 }, { address: "198.18.0.2", port: 500 });
    t.sendEsp(esp, { address: "198.18.0.1", port: 500 }, peer);
    t.sendKeepalive!(peer);
    tap.close();
    assert.equal(t.natPort, 4500);
    assert.deepEqual(inner.sent, [
      "ike 0.0.0.0:500>198.18.0.2:500 " + ikeInit(3).length,
      "esp 198.18.0.1:500>198.18.0.2:4500 2",
      "ka 198.18.0.2:4500",
    ]);
    const rows = records(cipher)
      .map(parseUdp)
      .map((u) => [u.src, u.dst, u.sport, u.dport, hex(u.payload)]);
    assert.deepEqual(rows, [
      ["198.18.0.1", "198.18.0.2", 500, 500, hex(ikeInit(3))],
      ["198.18.0.1", "198.18.0.2", 4500, 4500, hex(esp[0]!)],
      ["198.18.0.1", "198.18.0.2", 4500, 4500, hex(esp[1]!)],
      ["198.18.0.1", "198.18.0.2", 4500, 4500, "ff"], // NAT keepalive: one 0xff byte
    ]);
  } finally {
    tmp.remove();
  }
});

test("tapDataplane: decap input recorded as copies, inner packets both ways to the plaintext pcap, other members unchanged", async () => {
  const tmp = tempDir("cap-dp");
  try {
    const plain = join(tmp.dir, "p.pcap");
    const tap = new CaptureTap({ plain });
    const dp = await Dataplane.create({ maxSas: 8 });
    const { dataplane, arrived } = tapDataplane(dp, tap);
    const key = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
    const out = dataplane.addSa({ spi: 0x1234, direction: "out", mode: "tunnel", esp: "aes128gcm16", encKey: key });
    const inn = dataplane.addSa({ spi: 0x1234, direction: "in", mode: "tunnel", esp: "aes128gcm16", encKey: key });
    assert.equal(dp.lookup(0x1234), inn, "the SA went into the real dataplane");
    const ping = icmpEcho("198.51.100.1", "203.0.113.2", 77, 1);
    const [enc] = dataplane.encapsulateBatch(out, [ping]);
    assert.equal(enc!.status, "ok");
    const wire = enc!.packet!.slice();
    const [dec] = dataplane.decapsulateBatch([wire, Uint8Array.of(0, 0, 0x99, 0x99, 0, 0, 0, 1)]);
    assert.equal(dec!.status, "ok");
    const got = arrived();
    assert.equal(got.length, 2);
    assert.equal(hex(got[0]!), hex(enc!.packet!));
    assert.notEqual(got[0]!.buffer, wire.buffer, "a copy, not the socket's buffer");
    assert.deepEqual(arrived(), [], "taken once");
    assert.equal(dataplane.stats(inn).packets, 1n);
    tap.close();
    // the echo request as it went in and as it came out of the tunnel
    assert.deepEqual(
      records(plain).map((r) => hex(r.data)),
      [hex(ping), hex(ping)],
    );
  } finally {
    tmp.remove();
  }
});
