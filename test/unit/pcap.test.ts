// Classic pcap reader/writer and frame classification. References: files written by scapy
// (test/fixtures/pcap/make-frames.py) and read back by tshark, both independent of our code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW, PcapError, readPcap, writePcap, type PcapRecord,
} from "../../sdk/pcap/pcap.ts";
import { classifyFrame } from "../../sdk/pcap/frames.ts";

const fixtures = fileURLToPath(new URL("../fixtures/pcap/", import.meta.url));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

interface Expectation { kind: string; packet?: string; l3HeaderLength?: number; spi?: number; seq?: number; note: string }
const expected = JSON.parse(readFileSync(join(fixtures, "frames.expected.json"), "utf8")) as Record<string, Expectation[]>;

function sampleRecords(linkType: number, nanosecond: boolean): PcapRecord[] {
  const ipv4 = Uint8Array.from(Buffer.from("4500001c000100004011f9b60a0000010a000002119411940008f6a2ff", "hex"));
  const frame = (i: number): Uint8Array => {
    if (linkType === LINKTYPE_RAW) return ipv4;
    if (linkType === LINKTYPE_ETHERNET) return Uint8Array.from([...Buffer.from("020000000002020000000001" + "0800", "hex"), ...ipv4]);
    return Uint8Array.from([0, i, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00, ...ipv4]);
  };
  return [0, 1, 2].map((i) => ({
    tsSec: 1700000000 + i,
    tsFrac: nanosecond ? 999_999_999 - i : 999_999 - i,
    origLength: frame(i).length,
    data: frame(i),
  }));
}

const variants = [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL].flatMap((linkType) =>
  [false, true].flatMap((bigEndian) => [false, true].map((nanosecond) => ({ linkType, bigEndian, nanosecond }))));

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

test("tshark reads what writePcap writes (all 12 variants)", () => {
  const dir = mkdtempSync(join(tmpdir(), "pcap-test-"));
  try {
    for (const v of variants) {
      const file = join(dir, `${v.linkType}-${v.bigEndian}-${v.nanosecond}.pcap`);
      const records = sampleRecords(v.linkType, v.nanosecond);
      writeFileSync(file, writePcap({ ...v, records }));
      const out = execFileSync("tshark", ["-r", file, "-T", "fields", "-E", "separator=,",
        "-e", "frame.time_epoch", "-e", "frame.cap_len", "-e", "ip.src", "-e", "udp.dstport"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      const lines = out.trim().split("\n");
      assert.equal(lines.length, records.length, file);
      lines.forEach((line, i) => {
        const [epoch, capLen, src, dport] = line.split(",");
        const r = records[i];
        const frac = v.nanosecond ? String(r.tsFrac).padStart(9, "0") : String(r.tsFrac).padStart(6, "0") + "000";
        assert.equal(epoch, `${r.tsSec}.${frac}`, file);
        assert.equal(Number(capLen), r.data.length);
        assert.equal(src, "10.0.0.1");
        assert.equal(dport, "4500");
      });
    }
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("reader: torn last record is kept and flagged; bad magic and pcapng are refused", () => {
  const records = sampleRecords(LINKTYPE_RAW, false);
  const bytes = writePcap({ linkType: LINKTYPE_RAW, records });
  const torn = readPcap(bytes.subarray(0, bytes.length - 3));
  assert.equal(torn.records.length, 3);
  assert.equal(torn.records[2].fileTruncated, true);
  assert.equal(hex(torn.records[2].data), hex(records[2].data.subarray(0, records[2].data.length - 3)));
  const tornHeader = readPcap(bytes.subarray(0, 24 + 16 + records[0].data.length + 5));
  assert.equal(tornHeader.records.length, 2);
  assert.equal(tornHeader.records[1].fileTruncated, true);
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
    assert.equal(file.records.length, want.length);
    file.records.forEach((r, i) => {
      const c = classifyFrame(r.data, file.linkType);
      const e = want[i];
      assert.equal(c.kind, e.kind, `frame ${i + 1} (${e.note}): ${"reason" in c ? c.reason : ""}`);
      if (c.kind === "esp") {
        assert.equal(hex(c.packet), e.packet, e.note);
        assert.equal(c.l3HeaderLength, e.l3HeaderLength, e.note);
        assert.equal(c.seq, e.seq, e.note);
      } else {
        assert.match(c.reason, /^[A-Z].*\.$/, `${e.note}: reason is a sentence`);
      }
      if (e.spi !== undefined) assert.equal(c.spi, e.spi, e.note);
    });
  });
}

test("classification never throws on random garbage", () => {
  let state = 0x12345678;
  const next = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24;
  const base = readPcap(readFileSync(join(fixtures, "frames-ethernet.pcap"))).records;
  for (let i = 0; i < 3000; i++) {
    const src = base[i % base.length].data;
    const b = src.slice(0, next() % (src.length + 1));
    for (let k = 0; k < 3; k++) if (b.length) b[next() % b.length] = next();
    for (const lt of [LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, 228, 229, 999]) {
      const c = classifyFrame(b, lt);
      assert.ok(["esp", "nat-keepalive", "not-esp", "malformed"].includes(c.kind));
    }
  }
});
