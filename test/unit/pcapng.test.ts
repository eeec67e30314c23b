// pcapng reading (sdk/pcap/pcapng.ts). References: files written by Wireshark's editcap and
// mergecap (test/fixtures/pcap/make-pcapng.sh), compared with the classic files they came from;
// and blocks built here byte by byte from the pcapng draft for what those tools do not write
// (big-endian sections, several sections, binary if_tsresol, if_tsoffset, SPB, the obsolete PB,
// unknown blocks, torn and corrupt files). `pcap decrypt` on a pcapng gives the same verdicts and
// the same output bytes as on the classic file.
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
  type PcapRecord,
} from "../../sdk/pcap/pcap.ts";
import { isPcapng, readCapture, readPcapng } from "../../sdk/pcap/pcapng.ts";
import { decryptCapture, loadSas, verdictsJsonl } from "../../sdk/pcap/decrypt.ts";
import { main } from "../../sdk/cli/main.ts";
import type { CliIo } from "../../sdk/cli/command.ts";

const fixtures = fileURLToPath(new URL("../fixtures/pcap/", import.meta.url));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const rows = (rs: PcapRecord[]): string[] => rs.map((r) => `${r.tsSec}.${r.tsFrac} ${r.origLength} ${hex(r.data)}`);

// ---- a minimal pcapng writer (draft-ietf-opsawg-pcapng section 3-4), either byte order ----
interface Opt {
  code: number;
  value: Uint8Array;
}
function block(type: number, body: Uint8Array, le: boolean): Buffer {
  const pad = (4 - (body.length % 4)) % 4;
  const total = 12 + body.length + pad;
  const b = Buffer.alloc(total);
  const w = (v: number, at: number): void => {
    if (le) b.writeUInt32LE(v >>> 0, at);
    else b.writeUInt32BE(v >>> 0, at);
  };
  w(type, 0);
  w(total, 4);
  Buffer.from(body).copy(b, 8);
  w(total, total - 4);
  return b;
}
function opts(list: Opt[], le: boolean): Buffer {
  const parts = list.map((o) => {
    const pad = (4 - (o.value.length % 4)) % 4;
    const h = Buffer.alloc(4);
    if (le) {
      h.writeUInt16LE(o.code, 0);
      h.writeUInt16LE(o.value.length, 2);
    } else {
      h.writeUInt16BE(o.code, 0);
      h.writeUInt16BE(o.value.length, 2);
    }
    return Buffer.concat([h, o.value, Buffer.alloc(pad)]);
  });
  return list.length ? Buffer.concat([...parts, Buffer.alloc(4)]) : Buffer.alloc(0);
}
const u16 = (v: number, le: boolean): Buffer => {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
};
const u32 = (v: number, le: boolean): Buffer => {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
};
const shb = (le: boolean, options: Opt[] = []): Buffer =>
  block(
    0x0a0d0d0a,
    Buffer.concat([u32(0x1a2b3c4d, le), u16(1, le), u16(0, le), Buffer.alloc(8, 0xff), opts(options, le)]),
    le,
  );
const idb = (le: boolean, linkType: number, snap: number, options: Opt[] = []): Buffer =>
  block(1, Buffer.concat([u16(linkType, le), u16(0, le), u32(snap, le), opts(options, le)]), le);
function epb(
  le: boolean,
  iface: number,
  units: bigint,
  data: Uint8Array,
  origLength = data.length,
  options: Opt[] = [],
): Buffer {
  return block(
    6,
    Buffer.concat([
      u32(iface, le),
      u32(Number(units >> 32n), le),
      u32(Number(units & 0xffffffffn), le),
      u32(data.length, le),
      u32(origLength, le),
      Buffer.from(data),
      Buffer.alloc((4 - (data.length % 4)) % 4),
      opts(options, le),
    ]),
    le,
  );
}
const spb = (le: boolean, data: Uint8Array, origLength = data.length): Buffer =>
  block(3, Buffer.concat([u32(origLength, le), Buffer.from(data)]), le);
function pb(le: boolean, iface: number, units: bigint, data: Uint8Array): Buffer {
  return block(
    2,
    Buffer.concat([
      u16(iface, le),
      u16(0, le),
      u32(Number(units >> 32n), le),
      u32(Number(units & 0xffffffffn), le),
      u32(data.length, le),
      u32(data.length, le),
      Buffer.from(data),
    ]),
    le,
  );
}
const tsresol = (v: number): Opt => ({ code: 9, value: Uint8Array.of(v) });
const tsoffset = (s: bigint, le: boolean): Opt => {
  const b = Buffer.alloc(8);
  if (le) b.writeBigInt64LE(s);
  else b.writeBigInt64BE(s);
  return { code: 14, value: b };
};
const ifName = (s: string): Opt => ({ code: 2, value: Buffer.from(s) });
const comment = (s: string): Opt => ({ code: 1, value: Buffer.from(s) });

const pkt = (n: number, len = 5 + n): Uint8Array => Uint8Array.from({ length: len }, (_, i) => (n * 31 + i) & 0xff);

test("editcap's pcapng of esp-mixed.pcap reads as the classic file: same records, link type, microseconds", () => {
  const classic = readPcap(readFileSync(join(fixtures, "esp-mixed.pcap")));
  const bytes = readFileSync(join(fixtures, "esp-mixed.pcapng"));
  assert.ok(isPcapng(bytes));
  const ng = readCapture(bytes);
  assert.equal(ng.format, "pcapng");
  assert.equal(ng.linkType, LINKTYPE_ETHERNET);
  assert.equal(ng.nanosecond, false);
  assert.equal(ng.interfaces?.length, 1);
  assert.deepEqual(rows(ng.records), rows(classic.records));
  assert.ok(ng.records.every((r) => r.linkType === LINKTYPE_ETHERNET && r.interfaceId === 0));
  // readCapture of a classic file is readPcap's result, marked.
  const c = readCapture(readFileSync(join(fixtures, "esp-mixed.pcap")));
  assert.equal(c.format, "pcap");
  assert.deepEqual(rows(c.records), rows(classic.records));
});

test("mergecap's two-interface pcapng: Ethernet/us and Linux cooked/ns records, each with its link type and time", () => {
  const eth = readPcap(readFileSync(join(fixtures, "esp-mixed.pcap")));
  const m = readPcapng(readFileSync(join(fixtures, "esp-merged.pcapng")));
  assert.deepEqual(
    m.interfaces?.map((i) => [i.linkType, i.unitsPerSecond]),
    [
      [LINKTYPE_ETHERNET, 1_000_000n],
      [LINKTYPE_LINUX_SLL, 1_000_000_000n],
    ],
  );
  assert.equal(m.nanosecond, true, "one interface records nanoseconds: the whole file is read in nanoseconds");
  assert.equal(m.records.length, 2 * eth.records.length);
  const first = m.records.filter((r) => r.interfaceId === 0);
  const second = m.records.filter((r) => r.interfaceId === 1);
  assert.deepEqual(
    first.map((r) => [r.tsSec, r.tsFrac, hex(r.data)]),
    eth.records.map((r) => [r.tsSec, r.tsFrac * 1000, hex(r.data)]),
  );
  assert.ok(
    first.every((r) => r.linkType === LINKTYPE_ETHERNET) && second.every((r) => r.linkType === LINKTYPE_LINUX_SLL),
  );
  second.forEach((r, i) => {
    const e = eth.records[i];
    const ns = BigInt(e!.tsSec) * 1_000_000_000n + BigInt(e!.tsFrac) * 1000n + 500_000_123n;
    assert.equal(BigInt(r.tsSec) * 1_000_000_000n + BigInt(r.tsFrac), ns, `frame ${i} time`);
    const ip = e!.data.subarray(((e!.data[12]! << 8) | e!.data[13]!) === 0x8100 ? 18 : 14);
    assert.equal(hex(r.data.subarray(16)), hex(ip));
  });
});

test("hand-built: both byte orders, two sections, binary and decimal if_tsresol, if_tsoffset, SPB, PB, unknown blocks skipped", () => {
  for (const le of [true, false]) {
    const bytes = Buffer.concat([
      shb(le, [comment("section 1"), { code: 4, value: Buffer.from("test") }]),
      idb(le, LINKTYPE_RAW, 0, [ifName("raw0"), tsresol(9)]),
      idb(le, LINKTYPE_ETHERNET, 96, [tsresol(0x80 | 20), tsoffset(1_600_000_000n, le)]),
      block(4, Buffer.alloc(8), le), // Name Resolution Block
      epb(le, 0, 1_700_000_000_123_456_789n, pkt(1), 1500, [
        comment("a packet comment"),
        { code: 2, value: u32(1, le) },
      ]),
      block(0x00000bad, Buffer.from("custom block"), le), // custom, copiable
      epb(le, 1, (3n << 20n) + (1n << 19n), pkt(2)), // 3.5 s in 2^-20 units, plus the offset
      block(5, Buffer.alloc(20), le), // Interface Statistics Block
      block(0x0a, Buffer.alloc(12), le), // Decryption Secrets Block
      block(0x12345678, Buffer.alloc(7), le), // unknown type
      // A second section: interface numbers start again; its only interface is Linux cooked, default us.
      shb(!le),
      idb(!le, LINKTYPE_LINUX_SLL, 8),
      spb(!le, pkt(3, 20), 40), // captured = min(original 40, snap 8)
      pb(!le, 0, 2_000_000n, pkt(4)),
    ]);
    const f = readPcapng(bytes);
    const what = le ? "little-endian first" : "big-endian first";
    assert.equal(f.bigEndian, !le, what);
    assert.deepEqual(
      f.interfaces?.map((i) => [i.linkType, i.snapLength, i.name, i.unitsPerSecond, i.offsetSeconds]),
      [
        [LINKTYPE_RAW, 0, "raw0", 1_000_000_000n, 0n],
        [LINKTYPE_ETHERNET, 96, undefined, 1n << 20n, 1_600_000_000n],
        [LINKTYPE_LINUX_SLL, 8, undefined, 1_000_000n, 0n],
      ],
      what,
    );
    assert.equal(f.nanosecond, true);
    assert.deepEqual(
      f.records.map((r) => [r.interfaceId, r.linkType, r.tsSec, r.tsFrac, r.origLength, hex(r.data)]),
      [
        [0, LINKTYPE_RAW, 1_700_000_000, 123_456_789, 1500, hex(pkt(1))],
        [1, LINKTYPE_ETHERNET, 1_600_000_003, 500_000_000, pkt(2).length, hex(pkt(2))],
        [2, LINKTYPE_LINUX_SLL, 0, 0, 40, hex(pkt(3, 8))],
        [2, LINKTYPE_LINUX_SLL, 2, 0, pkt(4).length, hex(pkt(4))],
      ],
      what,
    );
  }
});

test("microsecond-only files keep microsecond fractions; a torn last packet is kept and flagged", () => {
  const whole = Buffer.concat([
    shb(true),
    idb(true, LINKTYPE_RAW, 0),
    epb(true, 0, 1_000_000n * 7n + 42n, pkt(5, 40)),
    epb(true, 0, 8_000_000n, pkt(6, 40)),
  ]);
  const f = readPcapng(whole);
  assert.equal(f.nanosecond, false);
  assert.deepEqual(
    f.records.map((r) => [r.tsSec, r.tsFrac, r.fileTruncated]),
    [
      [7, 42, undefined],
      [8, 0, undefined],
    ],
  );
  const torn = readPcapng(whole.subarray(0, whole.length - 30));
  assert.equal(torn.records.length, 2);
  assert.equal(torn.records[1]!.fileTruncated, true);
  assert.equal(torn.records[1]!.tsSec, 8);
  assert.ok(torn.records[1]!.data.length < 40);
  const stub = readPcapng(whole.subarray(0, whole.length - 60 + 6));
  assert.equal(stub.records.at(-1)?.fileTruncated, true);
});

test("corrupt files are refused with the offset and the reason", () => {
  const good = Buffer.concat([shb(true), idb(true, LINKTYPE_RAW, 0), epb(true, 0, 1n, pkt(1))]);
  const badLength = Buffer.from(good);
  badLength.writeUInt32LE(13, 28 + 4); // the IDB's length: not a multiple of 4
  assert.throws(
    () => readPcapng(badLength),
    (e) => e instanceof PcapError && /offset 28.*bad block length 13/.test(e.message),
  );
  const badTrailer = Buffer.from(good);
  badTrailer.writeUInt32LE(99, good.length - 4);
  assert.throws(() => readPcapng(badTrailer), /trailing length does not match/);
  assert.throws(() => readPcapng(Buffer.concat([shb(true), epb(true, 0, 1n, pkt(1))])), /interface 0 is not described/);
  const badMagic = Buffer.from(good);
  badMagic.writeUInt32LE(0x11223344, 8);
  assert.throws(() => readPcapng(badMagic), /bad byte-order magic 0x11223344/);
  assert.throws(() => readPcapng(Buffer.from("not a capture")), /not a pcapng file/);
  assert.throws(
    () => readCapture(Buffer.from(JSON.stringify({ sas: [], note: "a JSON file given as the capture" }))),
    /not a pcap file/,
  );
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "",
    err = "";
  const io: CliIo = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  };
  return { code: await main(argv, io), out, err };
}

test("pcap decrypt: the pcapng gives the classic file's verdicts and output bytes; the merged one decrypts both interfaces", async () => {
  const sas = loadSas([
    { format: "json", name: "sas", text: readFileSync(join(fixtures, "esp-mixed.sas.json"), "utf8") },
  ]);
  const classic = await decryptCapture(readPcap(readFileSync(join(fixtures, "esp-mixed.pcap"))), sas);
  const ng = await decryptCapture(readCapture(readFileSync(join(fixtures, "esp-mixed.pcapng"))), sas);
  assert.equal(verdictsJsonl(ng.verdicts), verdictsJsonl(classic.verdicts));
  assert.equal(hex(ng.output), hex(classic.output));
  assert.equal(ng.summary, classic.summary);

  // Merged: every frame twice, the copy on the cooked interface half a second later. The copies of
  // frames whose ICV verified (ok, dummy) are replays; everything else gets the same verdict twice.
  const merged = await decryptCapture(readCapture(readFileSync(join(fixtures, "esp-merged.pcapng"))), sas);
  const pairs = classic.verdicts.map((v, i) => [
    v.verdict,
    merged.verdicts[2 * i]!.verdict,
    merged.verdicts[2 * i + 1]!.verdict,
  ]);
  for (const [orig, first, copy] of pairs) {
    assert.equal(first, orig);
    assert.equal(copy, ["ok", "dummy", "replay"].includes(orig!) ? "replay" : orig);
  }
  const out = readPcap(merged.output);
  assert.equal(out.nanosecond, true);
  assert.equal(out.records.length, classic.counts.ok);

  const r = await cli(
    "pcap",
    "decrypt",
    "--sa",
    join(fixtures, "esp-mixed.sas.json"),
    join(fixtures, "esp-mixed.pcapng"),
    "--verdicts",
    "-",
    "-q",
  );
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, verdictsJsonl(classic.verdicts));
});
