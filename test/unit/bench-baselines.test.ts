// The benchmark baselines must be real ESP, or the comparison means nothing. Checked against
// outside references: the draft-mcgrew GCM ESP packets, the RFC 7634 appendix A ChaCha20-Poly1305
// ESP packet, the RFC 3686 AES-CTR vectors (counter block layout), each other (node:crypto vs
// @noble), and our dataplane in both directions. Against scapy's ESP implementation (python
// cryptography): test/interop/bench-baselines-scapy.test.ts (Debian python3-scapy).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createCipheriv } from "node:crypto";
import { ctr } from "@noble/ciphers/aes.js";
import { createNodeCryptoEsp } from "../../bench/baselines/node-crypto-esp.ts";
import { createNobleEsp } from "../../bench/baselines/noble-esp.ts";
import {
  BENCH_SUITES,
  type BaselineSa,
  type BenchSuite,
  EspDropError,
  ctrBlock,
  randomBaselineSa,
  readTrailer,
} from "../../bench/baselines/esp-layout.ts";
import { ipv4UdpPacket } from "../../bench/packets.ts";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import { createOurEndpoint, encapsulateRing, ourDecapStep, ourEncapStep } from "../../bench/ours.ts";

const SUITES = BENCH_SUITES;
/** Suites whose IV is the sequence number, so the same SA and seq give the same bytes everywhere. */
const DETERMINISTIC: BenchSuite[] = ["aes128gcm16", "chacha20poly1305", "aes128ctr-sha256"];
const SIZES = [28, 29, 30, 31, 64, 256, 1400];
const BASELINES = { "node:crypto": createNodeCryptoEsp, noble: createNobleEsp };
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function randomSa(suite: BenchSuite, spi = 0x0a0b0c0d): BaselineSa {
  return randomBaselineSa(suite, spi);
}

interface McgrewCase {
  id: string;
  key_with_salt_hex: string;
  key_hex: string;
  spi_hex: string;
  esn: boolean;
  seq_low32: number;
  plaintext_hex: string;
  pad_length: number;
  next_header: number;
  esp_packet_hex: string;
}

test("baselines decapsulate the draft-mcgrew AES-128-GCM ESP packets (no ESN)", () => {
  const cases = (
    JSON.parse(
      readFileSync(new URL("../vectors/rfc/draft_mcgrew_gcm_test_01_esp.json", import.meta.url), "utf8"),
    ) as McgrewCase[]
  ).filter((c) => !c.esn && c.key_hex.length === 32);
  assert.equal(cases.length, 3);
  for (const c of cases) {
    const plain = Buffer.from(c.plaintext_hex, "hex");
    const payload = plain.subarray(0, plain.length - 2 - c.pad_length);
    for (const [name, make] of Object.entries(BASELINES)) {
      const esp = make("aes128gcm16", {
        spi: parseInt(c.spi_hex, 16),
        encKey: Buffer.from(c.key_with_salt_hex, "hex"),
      });
      const out = esp.decapsulate(Buffer.from(c.esp_packet_hex, "hex"));
      assert.deepEqual(Buffer.from(out.inner), payload, `${name} ${c.id}`);
      assert.equal(out.nextHeader, c.next_header);
      assert.equal(out.seq, c.seq_low32);
    }
  }
});

interface Rfc7634Case {
  keymat_hex: string;
  spi_hex: string;
  seq: number;
  plaintext_hex: string;
  pad_length: number;
  next_header: number;
  esp_packet_hex: string;
}

test("baselines decapsulate the RFC 7634 appendix A ChaCha20-Poly1305 ESP packet, and drop it tampered", () => {
  const [c] = JSON.parse(
    readFileSync(new URL("../vectors/rfc/rfc7634_chacha20_poly1305_esp.json", import.meta.url), "utf8"),
  ) as Rfc7634Case[];
  const plain = Buffer.from(c!.plaintext_hex, "hex");
  const payload = plain.subarray(0, plain.length - 2 - c!.pad_length);
  const wire = Buffer.from(c!.esp_packet_hex, "hex");
  for (const [name, make] of Object.entries(BASELINES)) {
    const esp = make("chacha20poly1305", { spi: parseInt(c!.spi_hex, 16), encKey: Buffer.from(c!.keymat_hex, "hex") });
    const out = esp.decapsulate(wire);
    assert.deepEqual(Buffer.from(out.inner), payload, name);
    assert.equal(out.nextHeader, c!.next_header);
    assert.equal(out.seq, c!.seq);
    const bad = Buffer.from(wire);
    bad[7]! ^= 1; // the sequence number is AAD
    assert.throws(() => esp.decapsulate(bad), EspDropError, `${name}: AAD covers the sequence number`);
  }
});

// RFC 3686 section 6, test vectors #1-#3 (AES-128): key, nonce, IV, plaintext, ciphertext.
const RFC3686 = [
  {
    key: "ae6852f8121067cc4bf7a5765577f39e",
    nonce: "00000030",
    iv: "0000000000000000",
    pt: "53696e676c6520626c6f636b206d7367",
    ct: "e4095d4fb7a7b3792d6175a3261311b8",
  },
  {
    key: "7e24067817fae0d743d6ce1f32539163",
    nonce: "006cb6db",
    iv: "c0543b59da48d90b",
    pt: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    ct: "5104a106168a72d9790d41ee8edad388eb2e1efc46da57c8fce630df9141be28",
  },
  {
    key: "7691be035e5020a8ac6e618529f9a0dc",
    nonce: "00e0017b",
    iv: "27777f3f4a1786f0",
    pt: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223",
    ct: "c1cf48a89f2ffdd9cf4652e9efdb72d74540a42bde6d7836d59a5ceaaef3105325b2072f",
  },
];

test("the baselines' AES-CTR counter block (nonce ‖ IV ‖ 1) gives the RFC 3686 test vectors in node:crypto and @noble", () => {
  for (const v of RFC3686) {
    const key = Buffer.from(v.key, "hex");
    const block = ctrBlock(Buffer.from(v.nonce, "hex"), Buffer.from(v.iv, "hex"));
    const pt = Buffer.from(v.pt, "hex");
    assert.equal(createCipheriv("aes-128-ctr", key, block).update(pt).toString("hex"), v.ct, `node:crypto ${v.nonce}`);
    assert.equal(hex(ctr(key, block).encrypt(pt)), v.ct, `@noble ${v.nonce}`);
  }
});

test("node:crypto and @noble encapsulation are byte-identical where the IV is the sequence number (GCM, ChaCha20, CTR)", () => {
  for (const suite of DETERMINISTIC) {
    const sa = randomSa(suite);
    const a = createNodeCryptoEsp(suite, sa);
    const b = createNobleEsp(suite, sa);
    for (const [k, size] of SIZES.entries()) {
      const inner = ipv4UdpPacket(size);
      const wire = a.encapsulate(inner);
      assert.deepEqual(Buffer.from(b.encapsulate(inner)), Buffer.from(wire), `${suite} ${size}`);
      assert.equal(hex(wire.subarray(8, 16)), (k + 1).toString(16).padStart(16, "0"), "IV = 64-bit sequence number");
      const encrypted = wire.length - 8 - 8 - 16; // SPI, seq, IV ... ICV (16 in all three)
      assert.equal(encrypted % 4, 0, "RFC 4303: payload ‖ padding ‖ trailer ends 4-byte aligned");
      assert.ok(encrypted - size - 2 >= 0 && encrypted - size - 2 < 4, "minimal padding");
    }
  }
});

test("node:crypto and @noble decapsulate each other's packets, every suite", () => {
  for (const suite of SUITES) {
    const sa = randomSa(suite);
    const a = createNodeCryptoEsp(suite, sa);
    const b = createNobleEsp(suite, sa);
    for (const size of SIZES) {
      const inner = ipv4UdpPacket(size);
      assert.deepEqual(
        Buffer.from(b.decapsulate(a.encapsulate(inner)).inner),
        Buffer.from(inner),
        `${suite} ${size} node->noble`,
      );
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
        bad[at]! ^= 0x01;
        assert.throws(() => esp.decapsulate(bad), EspDropError, `${suite} byte ${at}`);
      }
    }
  }
  assert.throws(() => readTrailer(Uint8Array.of(9, 9, 1, 3, 2, 4)), EspDropError);
  assert.throws(() => readTrailer(Uint8Array.of(7, 4)), EspDropError);
  assert.equal(readTrailer(Uint8Array.of(9, 1, 2, 2, 4)).payloadLength, 1);
});

test("our dataplane decapsulates the baselines' packets and the baselines decapsulate ours; IV = seq suites byte-identical", async () => {
  for (const suite of SUITES) {
    for (const [name, make] of Object.entries(BASELINES)) {
      const sa = randomSa(suite);
      const esp = make(suite, sa);
      const dp = await Dataplane.create({ maxSas: 4 });
      const keys = {
        spi: sa.spi,
        mode: "tunnel",
        esp: suite,
        encKey: sa.encKey,
        integKey: sa.integKey,
        icvLength: 16,
      } as const;
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
        if (DETERMINISTIC.includes(suite) && name === "node:crypto") {
          // IV = seq is deterministic: same SA, same seq, same bytes.
          const twin = createNodeCryptoEsp(suite, sa);
          for (let s = 1n; s < ours.seq; s++) twin.encapsulate(inner);
          assert.deepEqual(
            Buffer.from(twin.encapsulate(inner)),
            Buffer.from(ours.packet!),
            `${suite} ${size}: our bytes = node:crypto's`,
          );
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
    ring.forEach((p, i) =>
      assert.deepEqual(Buffer.from(node.decapsulate(p).inner), Buffer.from(inners[i]!), `${suite} ring ${i}`),
    );
    assert.equal(ourEncapStep(ep, inners, 64)(), 64);
    assert.equal(ourDecapStep(ep, ring, 64)(), 64);
    assert.equal(ourDecapStep(ep, ring, 64)(), 64, "replay protection is off on the bench's inbound SA");
    const b = ep.dp.batch;
    for (let i = 0; i < b.length; i++) assert.deepEqual(Buffer.from(b.output(i)), Buffer.from(inners[i]!));
  }
});
