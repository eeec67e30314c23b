// Our dataplane against ESP packets scapy built (test/fixtures/scapy, see SOURCE.md there).
// Decapsulation must give back scapy's original packets byte for byte. GCM and NULL are
// deterministic (GCM IV = sequence number), so our encapsulation must equal scapy's bytes;
// CBC IVs are random, so our CBC output is checked with node:crypto instead.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createDecipheriv, createHmac } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { Dataplane } from "../../sdk/dataplane/dataplane.ts";
import type { IcvLength, SaConfig } from "../../sdk/dataplane/types.ts";
import { hex, repoPath, unhex } from "../helpers/interop.ts";

interface FixturePacket {
  desc: string;
  inner: string;
  wire: string;
  l3HeaderLength: number;
  seq: number;
  iv: string;
}

interface Fixture {
  suite: string;
  mode: "tunnel" | "transport";
  family: string;
  sa: {
    spi: number;
    mode: "tunnel" | "transport";
    esp: string;
    encKey: string;
    integKey?: string;
    icvLength: IcvLength;
    esn: boolean;
  };
  packets: FixturePacket[];
}

const dir = repoPath("test/fixtures/scapy");
const fixtures = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => ({ name: f.replace(/\.json$/, ""), fx: JSON.parse(readFileSync(`${dir}/${f}`, "utf8")) as Fixture }));

function saConfig(fx: Fixture, direction: "in" | "out"): SaConfig {
  return {
    spi: fx.sa.spi,
    direction,
    mode: fx.sa.mode,
    esp: fx.sa.esp,
    encKey: unhex(fx.sa.encKey),
    integKey: fx.sa.integKey === undefined ? undefined : unhex(fx.sa.integKey),
    icvLength: fx.sa.icvLength,
    esn: fx.sa.esn,
    seq: BigInt(fx.packets[0]!.seq) - 1n,
  };
}

/** undefined when equal, else where the bytes first differ (enough to start debugging). */
function byteDiff(got: Uint8Array | undefined, want: Uint8Array): string | undefined {
  if (got === undefined) return "no output";
  const n = Math.min(got.length, want.length);
  let i = 0;
  while (i < n && got[i] === want[i]) i++;
  if (i === n && got.length === want.length) return undefined;
  return `length ${got.length} vs scapy ${want.length}, first difference at byte ${i}: ours ${hex(got.subarray(i, i + 8))} scapy ${hex(want.subarray(i, i + 8))}`;
}

/** Offset of the byte holding the upper-layer protocol: IPv4 protocol, or the last IPv6 Next Header before `l3`. */
function protocolAt(packet: Uint8Array, l3: number): number {
  if (packet[0]! >> 4 === 4) return 9;
  let at = 6;
  for (let off = 40; off < l3; off += (packet[off + 1]! + 1) * 8) at = off;
  return at;
}

/** Protocol number of the original packet (transport mode Next Header). */
function upperProtocol(packet: Uint8Array, l3: number): number {
  return packet[protocolAt(packet, l3)]!;
}

const isGcm = (fx: Fixture): boolean => fx.suite.includes("gcm");
const isNull = (fx: Fixture): boolean => fx.suite.startsWith("null");

test("fixtures are present (52 files from gen.py)", () => {
  assert.equal(fixtures.length, 52);
});

for (const { name, fx } of fixtures) {
  test(`decapsulate scapy ${name}: ${fx.packets.length} packets give back the originals`, async () => {
    const dp = await Dataplane.create({ maxSas: 4 });
    const h = dp.addSa(saConfig(fx, "in"));
    const failures: string[] = [];
    for (const p of fx.packets) {
      const inner = unhex(p.inner);
      const r = dp.decapsulate(unhex(p.wire), p.l3HeaderLength);
      if (r.status !== "ok") {
        failures.push(`${p.desc} seq ${p.seq}: status ${r.status}`);
        continue;
      }
      const wantNh = fx.mode === "tunnel" ? (inner[0]! >> 4 === 4 ? 4 : 41) : upperProtocol(inner, p.l3HeaderLength);
      if (r.nextHeader !== wantNh) failures.push(`${p.desc}: next header ${r.nextHeader}, expected ${wantNh}`);
      if (r.seq !== BigInt(p.seq)) failures.push(`${p.desc}: seq ${r.seq}, expected ${p.seq}`);
      if (r.spi !== fx.sa.spi || r.sa !== h) failures.push(`${p.desc}: spi ${r.spi} sa ${r.sa}`);
      const d = byteDiff(r.payload, inner);
      if (d) failures.push(`${p.desc}: ${d}`);
    }
    assert.deepEqual(failures, []);
  });

  if (isGcm(fx) || isNull(fx)) {
    test(`encapsulate ${name}: byte for byte what scapy built`, async () => {
      const dp = await Dataplane.create({ maxSas: 4 });
      const h = dp.addSa(saConfig(fx, "out"));
      const failures: string[] = [];
      for (const p of fx.packets) {
        const wire = unhex(p.wire);
        const r = dp.encapsulate(h, unhex(p.inner));
        if (r.status !== "ok") {
          failures.push(`${p.desc} seq ${p.seq}: status ${r.status}`);
          continue;
        }
        if (r.seq !== BigInt(p.seq)) failures.push(`${p.desc}: seq ${r.seq}, expected ${p.seq}`);
        const want = fx.mode === "tunnel" ? wire.subarray(p.l3HeaderLength) : wire;
        const d = byteDiff(r.packet, want);
        if (d) failures.push(`${p.desc}: ${d}`);
      }
      assert.deepEqual(failures, []);
    });
  } else {
    test(`encapsulate ${name} (CBC, random IV): structure, padding and ICV checked with node:crypto`, async () => {
      const dp = await Dataplane.create({ maxSas: 4 });
      const h = dp.addSa(saConfig(fx, "out"));
      const keyBits = fx.sa.encKey.length * 4;
      const hash = fx.suite.endsWith("sha1") ? "sha1" : "sha256";
      const icv = fx.sa.icvLength;
      for (const p of fx.packets) {
        const inner = unhex(p.inner);
        const r = dp.encapsulate(h, inner);
        assert.equal(r.status, "ok", p.desc);
        assert.ok(r.packet);
        let esp = r.packet;
        let protected_ = inner;
        if (fx.mode === "transport") {
          // The IP header is the original one (same length), the rest is ESP.
          const l3 = p.l3HeaderLength;
          esp = r.packet.subarray(l3);
          protected_ = inner.subarray(l3);
        }
        const view = new DataView(esp.buffer, esp.byteOffset, esp.byteLength);
        assert.equal(view.getUint32(0), fx.sa.spi, `${p.desc}: SPI`);
        assert.equal(view.getUint32(4), p.seq % 2 ** 32, `${p.desc}: seq`);
        assert.equal(r.seq, BigInt(p.seq));
        const padded = Math.ceil((protected_.length + 2) / 16) * 16;
        assert.equal(esp.length, 8 + 16 + padded + icv, `${p.desc}: ESP length`);
        const seqHi = fx.sa.esn ? Uint8Array.of(0, 0, 0, Math.floor(p.seq / 2 ** 32)) : new Uint8Array(0);
        const mac = createHmac(hash, unhex(fx.sa.integKey ?? ""))
          .update(esp.subarray(0, esp.length - icv))
          .update(seqHi)
          .digest()
          .subarray(0, icv);
        assert.equal(hex(esp.subarray(esp.length - icv)), hex(mac), `${p.desc}: ICV`);
        const decipher = createDecipheriv(
          `aes-${keyBits}-cbc`,
          unhex(fx.sa.encKey),
          esp.subarray(8, 24),
        ).setAutoPadding(false);
        const plain = new Uint8Array(
          Buffer.concat([decipher.update(esp.subarray(24, esp.length - icv)), decipher.final()]),
        );
        const padLen = plain[plain.length - 2];
        assert.equal(plain.length - 2 - padLen!, protected_.length, `${p.desc}: pad length`);
        assert.deepEqual(
          [...plain.subarray(protected_.length, protected_.length + padLen!)],
          Array.from({ length: padLen! }, (_, i) => i + 1),
          `${p.desc}: padding 1,2,3,...`,
        );
        const wantNh = fx.mode === "tunnel" ? (inner[0]! >> 4 === 4 ? 4 : 41) : upperProtocol(inner, p.l3HeaderLength);
        assert.equal(plain[plain.length - 1], wantNh, `${p.desc}: next header`);
        assert.equal(hex(plain.subarray(0, protected_.length)), hex(protected_), `${p.desc}: payload`);
        if (fx.mode === "transport") {
          // Header: the original with protocol/next header 50 and the new length.
          const out = r.packet;
          const l3 = p.l3HeaderLength;
          const want = inner.slice(0, l3);
          want[protocolAt(inner, l3)] = 50;
          if (inner[0]! >> 4 === 4) {
            want.set([out.length >> 8, out.length & 0xff], 2);
            want.set(out.subarray(10, 12), 10);
            const hv = new DataView(want.buffer);
            let sum = 0;
            for (let k = 0; k < l3; k += 2) sum += hv.getUint16(k);
            while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
            assert.equal(sum, 0xffff, `${p.desc}: IPv4 header checksum`);
          } else {
            want.set([(out.length - 40) >> 8, (out.length - 40) & 0xff], 4);
          }
          assert.equal(hex(out.subarray(0, l3)), hex(want), `${p.desc}: IP header`);
        }
      }
    });
  }
}

// The zero-copy batch path, with the packets of all SAs interleaved in each batch (round robin
// over the fixture files, so each SA still sees its own packets in order).
function interleaved(): { fx: Fixture; p: FixturePacket; file: number }[] {
  const out: { fx: Fixture; p: FixturePacket; file: number }[] = [];
  const longest = Math.max(...fixtures.map(({ fx }) => fx.packets.length));
  for (let k = 0; k < longest; k++) {
    fixtures.forEach(({ fx }, file) => {
      if (k < fx.packets.length) out.push({ fx, p: fx.packets[k]!, file });
    });
  }
  return out;
}

test("batch path: every fixture packet of every SA decapsulates in interleaved batches", async () => {
  const dp = await Dataplane.create({ maxSas: 128, batchSize: 64 });
  const handles = fixtures.map(({ fx }) => dp.addSa(saConfig(fx, "in")));
  const all = interleaved();
  const failures: string[] = [];
  for (let start = 0; start < all.length; start += dp.batchSize) {
    const chunk = all.slice(start, start + dp.batchSize);
    const b = dp.batch;
    b.reset();
    for (const { p } of chunk) b.add(unhex(p.wire), -1, p.l3HeaderLength);
    dp.runDecapsulate(b);
    chunk.forEach(({ p, file }, i) => {
      const at = `${fixtures[file]!.name} ${p.desc}`;
      if (b.status(i) !== "ok") failures.push(`${at}: status ${b.status(i)}`);
      else if (b.sa(i) !== handles[file] || b.seq(i) !== BigInt(p.seq))
        failures.push(`${at}: sa ${b.sa(i)} seq ${b.seq(i)}`);
      else {
        const d = byteDiff(b.output(i), unhex(p.inner));
        if (d) failures.push(`${at}: ${d}`);
      }
    });
  }
  assert.deepEqual(failures, []);
  assert.equal(
    all.length,
    fixtures.reduce((n, { fx }) => n + fx.packets.length, 0),
  );
});

test("batch path: GCM and NULL fixture packets encapsulate in interleaved batches to scapy's bytes", async () => {
  const dp = await Dataplane.create({ maxSas: 128, batchSize: 64 });
  const handles = fixtures.map(({ fx }) => (isGcm(fx) || isNull(fx) ? dp.addSa(saConfig(fx, "out")) : -1));
  const all = interleaved().filter(({ file }) => handles[file]! >= 0);
  const failures: string[] = [];
  for (let start = 0; start < all.length; start += dp.batchSize) {
    const chunk = all.slice(start, start + dp.batchSize);
    const b = dp.batch;
    b.reset();
    for (const { p, file } of chunk) b.add(unhex(p.inner), handles[file]);
    dp.runEncapsulate(b);
    chunk.forEach(({ fx, p, file }, i) => {
      const at = `${fixtures[file]!.name} ${p.desc}`;
      const wire = unhex(p.wire);
      if (b.status(i) !== "ok") failures.push(`${at}: status ${b.status(i)}`);
      else {
        const d = byteDiff(b.output(i), fx.mode === "tunnel" ? wire.subarray(p.l3HeaderLength) : wire);
        if (d) failures.push(`${at}: ${d}`);
      }
    });
  }
  assert.deepEqual(failures, []);
  assert.ok(all.length > 200);
});
