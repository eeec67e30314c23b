// The capture tap (sdk/node/capture.ts) read back by tshark 4.0 (Wireshark's own dissectors and
// checksum verification): synthetic IPv4 and IPv6 UDP headers with good IP and UDP checksums,
// the real addresses/ports and microsecond timestamps; IKE framed with the non-ESP marker on
// NAT-T ports and bare on 500; the dataplane view records the datagrams it is handed (as copies)
// and the inner packets both ways, while every other dataplane member still works through it.
// Moved from test/unit/cli-obs-capture.test.ts because every test reads its pcap with Debian's tshark.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { CaptureTap, PcapWriter, tapDataplane, tapTransport, udpPacket } from "../../sdk/node/capture.ts";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import { encodeMessage } from "../../sdk/ike/codec.ts";
import { icmpEcho } from "../../sdk/packet/icmp.ts";
import type { IkeTransport } from "../../sdk/ike/daemon.ts";
import type { Endpoint } from "../../sdk/ike/ike-sa.ts";
import { hex, requireTshark, tempDir } from "../helpers/interop.ts";

/** tshark fields of every frame of a pcap, with IP/UDP checksum verification on. */
function fields(pcap: string, names: string[], extra: string[] = []): string[][] {
  const r = spawnSync(
    requireTshark(),
    [
      "-r",
      pcap,
      "-n",
      "-o",
      "ip.check_checksum:TRUE",
      "-o",
      "udp.check_checksum:TRUE",
      ...extra,
      "-T",
      "fields",
      ...names.flatMap((f) => ["-e", f]),
    ],
    { encoding: "utf8", env: { ...process.env, HOME: "/nonexistent" }, timeout: 30_000, killSignal: "SIGKILL" },
  );
  assert.equal(r.status, 0, `${r.error ? `${r.error.message}\n` : ""}${r.stderr ?? ""}`);
  return r.stdout
    .trimEnd()
    .split("\n")
    .map((l) => l.split("\t"));
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

test(
  "udpPacket + PcapWriter: tshark reads IPv4 and IPv6 UDP with good checksums, our ports, payload and microsecond times",
  { timeout: 60_000 },
  () => {
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
      const rows = fields(
        path,
        [
          "frame.time_epoch",
          "ip.src",
          "ipv6.src",
          "ip.checksum.status",
          "udp.srcport",
          "udp.dstport",
          "udp.length",
          "udp.checksum.status",
          "udp.payload",
        ],
        ["-d", "udp.port==41234,data", "-d", "udp.port==500,data"],
      );
      assert.equal(rows.length, 2);
      assert.deepEqual(rows[0]!.slice(1), ["198.18.0.1", "", "1", "4500", "41234", "41", "1", hex(payload)]);
      assert.equal(rows[0]![0], "1700000000.123456000");
      assert.deepEqual(rows[1]!.slice(1), [
        "",
        "2001:db8::1",
        "",
        "500",
        "500",
        "16",
        "1",
        hex(payload.subarray(0, 8)),
      ]);
      assert.throws(
        () => udpPacket({ address: "198.18.0.1", port: 1 }, { address: "2001:db8::2", port: 2 }, payload),
        RangeError,
      );
    } finally {
      tmp.remove();
    }
  },
);

test(
  "CaptureTap.ike: non-ESP marker on a NAT-T socket, none on port 500; tshark dissects both as IKEv2",
  { timeout: 60_000 },
  () => {
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
      const rows = fields(cipher, ["udp.length", "isakmp.ispi", "isakmp.exchangetype"]);
      const len = ikeInit(1).length;
      assert.deepEqual(rows, [
        [String(8 + 4 + len), "0000000000000001", "34"],
        [String(8 + len), "0000000000000002", "34"],
      ]);
    } finally {
      tmp.remove();
    }
  },
);

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

test(
  "tapTransport: every send is passed on unchanged and captured with our real address (wildcard replaced) and the NAT-T port for ESP",
  { timeout: 60_000 },
  () => {
    const tmp = tempDir("cap-tr");
    try {
      const cipher = join(tmp.dir, "c.pcap");
      const tap = new CaptureTap({ cipher });
      const inner = recorder();
      const t = tapTransport(inner, tap, "198.18.0.1");
      const peer = { address: "198.18.0.2", port: 4500 };
      t.sendIke(ikeInit(3), { address: "0.0.0.0", port: 500 }, { address: "198.18.0.2", port: 500 });
      t.sendEsp(
        [Uint8Array.of(0xc0, 0, 0, 1, 0, 0, 0, 1, 9, 9), Uint8Array.of(0xc0, 0, 0, 1, 0, 0, 0, 2, 9, 9)],
        { address: "198.18.0.1", port: 500 },
        peer,
      );
      t.sendKeepalive!(peer);
      tap.close();
      assert.equal(t.natPort, 4500);
      assert.deepEqual(inner.sent, [
        "ike 0.0.0.0:500>198.18.0.2:500 " + ikeInit(3).length,
        "esp 198.18.0.1:500>198.18.0.2:4500 2",
        "ka 198.18.0.2:4500",
      ]);
      const rows = fields(cipher, ["ip.src", "udp.srcport", "udp.dstport", "esp.spi", "esp.sequence", "udp.length"]);
      assert.deepEqual(
        rows.map((r) => r.slice(0, 5)),
        [
          ["198.18.0.1", "500", "500", "", ""],
          ["198.18.0.1", "4500", "4500", "0xc0000001", "1"],
          ["198.18.0.1", "4500", "4500", "0xc0000001", "2"],
          ["198.18.0.1", "4500", "4500", "", ""],
        ],
      );
      assert.equal(rows[3]![5], "9", "NAT keepalive: one 0xff byte");
    } finally {
      tmp.remove();
    }
  },
);

test(
  "tapDataplane: decap input recorded as copies, inner packets both ways to the plaintext pcap (tshark: the ICMP echoes), other members unchanged",
  { timeout: 60_000 },
  async () => {
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
      const rows = fields(plain, ["ip.src", "icmp.type", "icmp.ident", "icmp.seq"]);
      assert.deepEqual(rows, [
        ["198.51.100.1", "8", "77", "1"],
        ["198.51.100.1", "8", "77", "1"],
      ]);
    } finally {
      tmp.remove();
    }
  },
);
