// Classic pcap reader/writer and frame classification. References: files written by scapy
// (test/fixtures/pcap/make-frames.py), independent of our code. tshark reading what writePcap
// writes is test/interop/pcap-tshark.test.ts (Debian tshark).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_RAW,
  PcapError,
  readPcap,
  writePcap,
} from "../../sdk/pcap/pcap.ts";
import { classifyFrame } from "../../sdk/pcap/frames.ts";
import { sampleRecords, variants } from "../helpers/pcap-samples.ts";

const fixtures = fileURLToPath(new URL("../fixtures/pcap/", import.meta.url));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

interface Expectation {
  kind: string;
  packet?: string;
  l3HeaderLength?: number;
  spi?: number;
  seq?: number;
  note: string;
}
const expected = JSON.parse(readFileSync(join(fixtures, "frames.expected.json"), "utf8")) as Record<
  string,
  Expectation[]
>;

test("pcap round trip: 3 link types x both byte orders x us/ns", () => {
  for (const v of variants) {
    const records = sampleRecords(v.linkType, v.nanosecond);
    const bytes = writePcap({ ...v, records });
    const magic = hex(bytes.subarray(0, 4));
    const want = v.nanosecond ? "a1b23c4d" : "a1b2c3d4";
    assert.equal(magic, v.bigEndian ? want : want.match(/../g)!.reverse().join(""));
    const back = readPcap(bytes);
    assert.deepEqual(back, { ...v, snapLength: 262144, records });
  }
});

test("reader: torn last record is kept and flagged; bad magic and pcapng are refused", () => {
  const records = sampleRecords(LINKTYPE_RAW, false);
  const bytes = writePcap({ linkType: LINKTYPE_RAW, records });
  const torn = readPcap(bytes.subarray(0, bytes.length - 3));
  assert.equal(torn.records.length, 3);
  assert.equal(torn.records[2]!.fileTruncated, true);
  assert.equal(hex(torn.records[2]!.data), hex(records[2]!.data.subarray(0, records[2]!.data.length - 3)));
  const tornHeader = readPcap(bytes.subarray(0, 24 + 16 + records[0]!.data.length + 5));
  assert.equal(tornHeader.records.length, 2);
  assert.equal(tornHeader.records[1]!.fileTruncated, true);
  assert.throws(() => readPcap(new Uint8Array(10)), PcapError);
  assert.throws(() => readPcap(new Uint8Array(24)), /not a pcap file/);
  assert.throws(() => readPcap(Uint8Array.from([0x0a, 0x0d, 0x0d, 0x0a, ...new Uint8Array(40)])), /pcapng/);
});

for (const link of ["ethernet", "sll", "raw"] as const) {
  test(`scapy-written ${link} frames classify as expected`, () => {
    const file = readPcap(readFileSync(join(fixtures, `frames-${link}.pcap`)));
    assert.equal(file.linkType, { ethernet: LINKTYPE_ETHERNET, sll: LINKTYPE_LINUX_SLL, raw: LINKTYPE_RAW }[link]);
    assert.equal(file.nanosecond, link === "raw");
    const want = expected[link];
    assert.equal(file.records.length, want!.length);
    file.records.forEach((r, i) => {
      const c = classifyFrame(r.data, file.linkType);
      const e = want![i];
      assert.equal(c.kind, e!.kind, `frame ${i + 1} (${e!.note}): ${"reason" in c ? c.reason : ""}`);
      if (c.kind === "esp") {
        assert.equal(hex(c.packet), e!.packet, e!.note);
        assert.equal(c.l3HeaderLength, e!.l3HeaderLength, e!.note);
        assert.equal(c.seq, e!.seq, e!.note);
      } else {
        assert.match(c.reason, /^[A-Z].*\.$/, `${e!.note}: reason is a sentence`);
      }
      if (e!.spi !== undefined) assert.equal(c.spi, e!.spi, e!.note);
    });
  });
}

test("classification never throws on random garbage", () => {
  let state = 0x12345678;
  const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24;
  const base = readPcap(readFileSync(join(fixtures, "frames-ethernet.pcap"))).records;
  for (let i = 0; i < 3000; i++) {
    const src = base[i % base.length]!.data;
    const b = src.slice(0, next() % (src.length + 1));
    for (let k = 0; k < 3; k++) if (b.length) b[next() % b.length] = next();
    for (const lt of [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, 228, 229, 999]) {
      const c = classifyFrame(b, lt);
      assert.ok(["esp", "nat-keepalive", "not-esp", "malformed"].includes(c.kind));
    }
  }
});
