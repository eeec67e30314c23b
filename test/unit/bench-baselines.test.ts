// The benchmark baselines must be real ESP, or the comparison means nothing. Checked against
// outside references: the draft-mcgrew GCM ESP packets, scapy's ESP implementation (python
// cryptography), each other (node:crypto vs @noble), and our dataplane in both directions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createNodeCryptoEsp } from "../../bench/baselines/node-crypto-esp.ts";
import { createNobleEsp } from "../../bench/baselines/noble-esp.ts";
import { type BaselineSa, type BenchSuite, EspDropError, readTrailer } from "../../bench/baselines/esp-layout.ts";
import { ipv4UdpPacket } from "../../bench/packets.ts";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import { createOurEndpoint, encapsulateRing, ourDecapStep, ourEncapStep } from "../../bench/ours.ts";

const SUITES: BenchSuite[] = ["aes128gcm16", "aes128-sha256"];
const SIZES = [28, 29, 30, 31, 64, 256, 1400];
const BASELINES = { "node:crypto": createNodeCryptoEsp, noble: createNobleEsp };

function randomSa(suite: BenchSuite, spi = 0x0a0b0c0d): BaselineSa {
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  return suite === "aes128gcm16" ? { spi, encKey: random(20) } : { spi, encKey: random(16), integKey: random(32) };
}

interface McgrewCase { id: string; key_with_salt_hex: string; key_hex: string; spi_hex: string; esn: boolean;
  seq_low32: number; plaintext_hex: string; pad_length: number; next_header: number; esp_packet_hex: string }

test("baselines decapsulate the draft-mcgrew AES-128-GCM ESP packets (no ESN)", () => {
  const cases = (JSON.parse(readFileSync(new URL("../vectors/rfc/draft_mcgrew_gcm_test_01_esp.json", import.meta.url), "utf8")) as McgrewCase[])
    .filter((c) => !c.esn && c.key_hex.length === 32);
  assert.equal(cases.length, 3);
  for (const c of cases) {
    const plain = Buffer.from(c.plaintext_hex, "hex");
    const payload = plain.subarray(0, plain.length - 2 - c.pad_length);
    for (const [name, make] of Object.entries(BASELINES)) {
      const esp = make("aes128gcm16", { spi: parseInt(c.spi_hex, 16), encKey: Buffer.from(c.key_with_salt_hex, "hex") });
      const out = esp.decapsulate(Buffer.from(c.esp_packet_hex, "hex"));
      assert.deepEqual(Buffer.from(out.inner), payload, `${name} ${c.id}`);
      assert.equal(out.nextHeader, c.next_header);
      assert.equal(out.seq, c.seq_low32);
    }
  }
});

test("node:crypto and @noble GCM encapsulation are byte-identical (IV = seq is deterministic)", () => {
  const sa = randomSa("aes128gcm16");
  const a = createNodeCryptoEsp("aes128gcm16", sa);
  const b = createNobleEsp("aes128gcm16", sa);
  for (const size of SIZES) {
    const inner = ipv4UdpPacket(size);
    const wire = a.encapsulate(inner);
    assert.deepEqual(Buffer.from(b.encapsulate(inner)), Buffer.from(wire));
    const encrypted = wire.length - 8 - 8 - 16; // SPI, seq, IV ... ICV
    assert.equal(encrypted % 4, 0, "RFC 4303: payload ‖ padding ‖ trailer ends 4-byte aligned");
    assert.ok(encrypted - size - 2 >= 0 && encrypted - size - 2 < 4, "minimal padding");
  }
});

test("node:crypto and @noble decapsulate each other's packets, both suites", () => {
  for (const suite of SUITES) {
    const sa = randomSa(suite);
    const a = createNodeCryptoEsp(suite, sa);
    const b = createNobleEsp(suite, sa);
    for (const size of SIZES) {
      const inner = ipv4UdpPacket(size);
      assert.deepEqual(Buffer.from(b.decapsulate(a.encapsulate(inner)).inner), Buffer.from(inner), `${suite} ${size} node->noble`);
      const back = a.decapsulate(b.encapsulate(inner));
      assert.deepEqual(Buffer.from(back.inner), Buffer.from(inner), `${suite} ${size} noble->node`);
      assert.equal(back.nextHeader, 4);
    }
  }
});

test("baselines drop a packet with any flipped bit, and bad padding", () => {
  for (const suite of SUITES) {
    const sa = randomSa(suite);
    for (const make of Object.values(BASELINES)) {
      const esp = make(suite, sa);
      const wire = esp.encapsulate(ipv4UdpPacket(64));
      for (const at of [4, 9, 20, wire.length - 17, wire.length - 1]) {
        const bad = wire.slice();
        bad[at] ^= 0x01;
        assert.throws(() => esp.decapsulate(bad), EspDropError, `${suite} byte ${at}`);
      }
    }
  }
  assert.throws(() => readTrailer(Uint8Array.of(9, 9, 1, 3, 2, 4)), EspDropError);
  assert.throws(() => readTrailer(Uint8Array.of(7, 4)), EspDropError);
  assert.equal(readTrailer(Uint8Array.of(9, 1, 2, 2, 4)).payloadLength, 1);
});

/** Runs scapy's ESP (tunnel mode) on JSON jobs; /usr/bin/python3 is the interpreter with scapy installed. */
const SCAPY = String.raw`
import json, sys
from scapy.all import IP, Raw
from scapy.layers.ipsec import SecurityAssociation, ESP
out = []
for job in json.load(sys.stdin):
    gcm = job["suite"] == "aes128gcm16"
    sa = SecurityAssociation(ESP, spi=job["spi"],
        crypt_algo="AES-GCM" if gcm else "AES-CBC", crypt_key=bytes.fromhex(job["encKey"]),
        auth_algo="NULL" if gcm else "SHA2-256-128", auth_key=None if gcm else bytes.fromhex(job["integKey"]),
        tunnel_header=IP(src="10.9.0.1", dst="10.9.0.2"))
    if job["op"] == "decrypt":
        outer = IP(bytes(IP(src="10.9.0.1", dst="10.9.0.2", proto=50) / Raw(bytes.fromhex(job["esp"]))))
        out.append(bytes(sa.decrypt(outer)).hex())
    else:
        pkt = sa.encrypt(IP(bytes.fromhex(job["inner"])), seq_num=job["seq"])
        out.append(bytes(pkt[ESP]).hex())
print(json.dumps(out))
`;

function scapy(jobs: object[]): string[] {
  const r = spawnSync("/usr/bin/python3", ["-c", SCAPY], { input: JSON.stringify(jobs), encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

test("scapy decapsulates the baselines' packets and the baselines decapsulate scapy's", () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const jobs: object[] = [];
  const expected: { inner: Uint8Array; check: (wire: string) => void }[] = [];
  for (const suite of SUITES) {
    const sa = randomSa(suite);
    const keys = { suite, spi: sa.spi, encKey: hex(sa.encKey), integKey: sa.integKey ? hex(sa.integKey) : "" };
    for (const [name, make] of Object.entries(BASELINES)) {
      const esp = make(suite, sa);
      for (const size of [28, 64, 1400]) {
        const inner = ipv4UdpPacket(size);
        jobs.push({ ...keys, op: "decrypt", esp: hex(esp.encapsulate(inner)) });
        expected.push({ inner, check: (got) => assert.equal(got, hex(inner), `scapy decrypt of ${name} ${suite} ${size}`) });
        jobs.push({ ...keys, op: "encrypt", inner: hex(inner), seq: 7 + size });
        expected.push({ inner, check: (got) => {
          const out = esp.decapsulate(Buffer.from(got, "hex"));
          assert.deepEqual(Buffer.from(out.inner), Buffer.from(inner), `${name} decap of scapy ${suite} ${size}`);
          assert.equal(out.seq, 7 + size);
          assert.equal(out.nextHeader, 4);
        } });
      }
    }
  }
  const results = scapy(jobs);
  assert.equal(results.length, expected.length);
  results.forEach((r, i) => expected[i].check(r));
});

test("our dataplane decapsulates the baselines' packets and the baselines decapsulate ours", async () => {
  for (const suite of SUITES) {
    for (const [name, make] of Object.entries(BASELINES)) {
      const sa = randomSa(suite);
      const esp = make(suite, sa);
      const dp = await Dataplane.create({ maxSas: 4 });
      const keys = { spi: sa.spi, mode: "tunnel", esp: suite, encKey: sa.encKey, integKey: sa.integKey, icvLength: 16 } as const;
      const out = dp.addSa({ ...keys, direction: "out" });
      dp.addSa({ ...keys, direction: "in" });
      for (const size of SIZES) {
        const inner = ipv4UdpPacket(size);
        const wire = esp.encapsulate(inner);
        const got = dp.decapsulate(wire);
        assert.equal(got.status, "ok", `dataplane decap of ${name} ${suite} ${size}`);
        assert.deepEqual(Buffer.from(got.payload!), Buffer.from(inner));
        assert.equal(got.nextHeader, 4);
        assert.equal(got.seq, BigInt(new DataView(wire.buffer, wire.byteOffset).getUint32(4)));
        const ours = dp.encapsulate(out, inner);
        assert.equal(ours.status, "ok");
        const back = esp.decapsulate(ours.packet!);
        assert.deepEqual(Buffer.from(back.inner), Buffer.from(inner), `${name} decap of dataplane ${suite} ${size}`);
        assert.equal(BigInt(back.seq), ours.seq);
        assert.equal(back.nextHeader, 4);
        if (suite === "aes128gcm16" && name === "node:crypto") {
          // GCM with IV = seq is deterministic: same SA, same seq, same bytes.
          const twin = createNodeCryptoEsp(suite, sa);
          for (let s = 1n; s < ours.seq; s++) twin.encapsulate(inner);
          assert.deepEqual(Buffer.from(twin.encapsulate(inner)), Buffer.from(ours.packet!));
        }
      }
    }
  }
});

test("the benchmark's batch steps produce ESP the baselines accept, and decapsulate their ring", async () => {
  for (const suite of SUITES) {
    const sa = randomSa(suite);
    const ep = await createOurEndpoint(suite, sa);
    const inners = Array.from({ length: 64 }, (_, i) => ipv4UdpPacket(64 + i));
    const ring = encapsulateRing(ep, inners);
    const node = createNodeCryptoEsp(suite, sa);
    ring.forEach((p, i) => assert.deepEqual(Buffer.from(node.decapsulate(p).inner), Buffer.from(inners[i])));
    assert.equal(ourEncapStep(ep, inners, 64)(), 64);
    assert.equal(ourDecapStep(ep, ring, 64)(), 64);
    assert.equal(ourDecapStep(ep, ring, 64)(), 64, "replay protection is off on the bench's inbound SA");
    const b = ep.dp.batch;
    for (let i = 0; i < b.length; i++) assert.deepEqual(Buffer.from(b.output(i)), Buffer.from(inners[i]));
  }
});
