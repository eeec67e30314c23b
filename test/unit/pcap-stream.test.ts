// Streaming capture reading and decryption (sdk/pcap/capture-stream.ts, decrypt-stream.ts).
// Reference: the whole-file readers (readCapture) and the whole-capture decryption
// (decryptCapture), themselves checked against node:crypto ESP, editcap/mergecap and tshark in
// pcap.test.ts, pcapng.test.ts and cli-pcap-decrypt.test.ts. Whatever the chunk sizes, the
// stream must give the same records, the same verdicts and the same output bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CaptureStreamReader } from "../../sdk/pcap/capture-stream.ts";
import {
  decryptCapture,
  decryptCaptureStream,
  InputError,
  loadSas,
  verdictsJsonl,
  type FrameVerdict,
} from "../../sdk/pcap/decrypt.ts";
import { PcapError, type PcapRecord } from "../../sdk/pcap/pcap.ts";
import { readCapture } from "../../sdk/pcap/pcapng.ts";

const fixtures = fileURLToPath(new URL("../fixtures/pcap/", import.meta.url));
const FILES = [
  "esp-mixed.pcap",
  "esp-mixed.pcapng",
  "esp-merged.pcapng",
  "frames-ethernet.pcap",
  "frames-sll.pcap",
  "frames-raw.pcap",
];
/** Plain Uint8Arrays: the records of a Buffer would be Buffers, those of the stream's chunks not. */
const read = (f: string): Uint8Array => new Uint8Array(readFileSync(join(fixtures, f)));
const sas = loadSas([
  { format: "json", name: "sas", text: readFileSync(join(fixtures, "esp-mixed.sas.json"), "utf8") },
]);

function* chunked(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

function readChunked(bytes: Uint8Array, size: number): PcapRecord[] {
  const r = new CaptureStreamReader();
  const out: PcapRecord[] = [];
  for (const c of chunked(bytes, size)) out.push(...r.push(c));
  out.push(...r.end());
  return out;
}

test("the stream reader gives readCapture's records for every fixture, at chunk sizes 1, 7, 64, 4096 and whole", () => {
  for (const f of FILES) {
    const bytes = read(f);
    const want = readCapture(bytes).records;
    for (const size of [1, 7, 64, 4096, bytes.length]) {
      assert.deepEqual(readChunked(bytes, size), want, `${f} in chunks of ${size}`);
    }
  }
});

test("torn files: the stream keeps the torn last record flagged, like readCapture, wherever the file ends", () => {
  for (const f of ["esp-mixed.pcap", "esp-mixed.pcapng"]) {
    const bytes = read(f);
    for (const cut of [1, 3, 7, 12, 17, 40, 101]) {
      const torn = bytes.subarray(0, bytes.length - cut);
      assert.deepEqual(readChunked(torn, 5), readCapture(torn).records, `${f} minus ${cut} bytes`);
    }
  }
});

test("bad files fail in the stream with readCapture's message", () => {
  const pcap = read("esp-mixed.pcap");
  const ng = Buffer.from(read("esp-mixed.pcapng"));
  const badTrailer = Buffer.from(ng);
  badTrailer.writeUInt32LE(0xdeadbeef, ng.readUInt32LE(4) - 4); // the section header's trailing length
  const cases = [
    new Uint8Array(0),
    pcap.subarray(0, 10),
    new TextEncoder().encode("not a capture at all, no magic here"),
    new Uint8Array(badTrailer),
  ];
  for (const bytes of cases) {
    let want = "";
    try {
      readCapture(bytes);
    } catch (e) {
      want = (e as Error).message;
    }
    assert.ok(want, "readCapture refuses it");
    assert.throws(
      () => readChunked(bytes, 3),
      (e: Error) => e instanceof PcapError && e.message === want,
    );
  }
});

async function streamed(
  bytes: Uint8Array,
  size: number,
): Promise<{ verdicts: FrameVerdict[]; output: Buffer; summary: string }> {
  const verdicts: FrameVerdict[] = [];
  const output: Uint8Array[] = [];
  const r = await decryptCaptureStream(chunked(bytes, size), sas, {
    verdicts: (b) => {
      verdicts.push(...b);
    },
    output: async (b) => {
      output.push(b);
      await Promise.resolve();
    },
  });
  assert.equal(r.frames, verdicts.length);
  return { verdicts, output: Buffer.concat(output), summary: r.summary };
}

test("decryptCaptureStream: decryptCapture's verdicts, output bytes and summary, in chunks of any size", async () => {
  for (const f of ["esp-mixed.pcap", "esp-mixed.pcapng", "esp-merged.pcapng"]) {
    const bytes = read(f);
    const whole = await decryptCapture(readCapture(bytes), sas);
    assert.ok(
      whole.counts.ok > 0 && whole.counts["integrity-failed"] + whole.counts.replay > 0,
      `${f} has ok and dropped frames`,
    );
    for (const size of [1, 100, bytes.length]) {
      const s = await streamed(bytes, size);
      assert.equal(verdictsJsonl(s.verdicts), verdictsJsonl(whole.verdicts), `${f} / ${size}: verdicts`);
      assert.ok(s.output.equals(whole.output), `${f} / ${size}: output pcap`);
      assert.equal(s.summary, whole.summary, `${f} / ${size}: summary`);
    }
  }
});

test("decryptCaptureStream: a bad capture is an InputError naming it; the sink sees nothing before the header is read", async () => {
  let calls = 0;
  await assert.rejects(
    decryptCaptureStream(
      [Buffer.from("garbage garbage garbage garbage")],
      sas,
      {
        verdicts: () => {
          calls++;
        },
        output: () => {
          calls++;
        },
      },
      {},
      "x.pcap",
    ),
    (e: Error) => e instanceof InputError && e.message.startsWith("x.pcap: not a pcap file"),
  );
  assert.equal(calls, 0);
});

test("the progress line: nothing in the first second, then at most every 250 ms, erased at the end", async () => {
  const { ProgressLine } = await import("../../sdk/cli/progress.ts");
  let now = 0;
  const seen = { text: "" };
  const text = (): string => seen.text; // a call, so assertions do not narrow it
  const p = new ProgressLine(
    (t) => {
      seen.text += t;
    },
    200e6,
    () => now,
  );
  p.bytes(1e6);
  p.frames(1000);
  now = 999;
  p.frames(1);
  assert.equal(text(), "", "a short job shows nothing");
  now = 1000;
  p.bytes(99e6);
  p.frames(10);
  assert.equal(text(), "\rpcap decrypt: 50% of 200 MB, 1,011 frames, 1.0 s\x1b[K");
  now = 1200;
  p.frames(1);
  assert.equal(text().split("\r").length, 2, "not redrawn within 250 ms");
  now = 1250;
  p.frames(1);
  // eslint-disable-next-line no-control-regex -- the line ends with the terminal's erase-to-end escape
  assert.match(text(), /\rpcap decrypt: 50% of 200 MB, 1,013 frames, 1\.3 s\x1b\[K$/);
  p.done();
  assert.ok(text().endsWith("\r\x1b[K"));
  const quiet = new ProgressLine(
    (t) => {
      seen.text += `!${t}`;
    },
    0,
    () => now,
  );
  quiet.done();
  assert.ok(!text().includes("!"), "a line never shown is not erased");
});
