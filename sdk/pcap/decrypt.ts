/**
 * The runtime-neutral API of `ipsec-wasm pcap decrypt` (and of the web page in web/): loads SA
 * files, and runs every frame of a capture (classic pcap or pcapng) through the real dataplane, in
 * file order (so replay windows apply): {@link decryptCapture} over a capture in memory, returning
 * one verdict per frame, the inner packets of the `ok` frames as a pcap, per-SA counters like
 * `ip -s xfrm state`, and the ICV-truncation detector's diagnostics; {@link decryptCaptureStream}
 * over chunks as they are read, handing each batch's results to a sink (decrypt-stream.ts).
 * No `node:` import: it runs in browsers and web workers as it does in Node.
 * @module
 */
import type { EspMode, SaConfig } from "../dataplane/types.ts";
import { parseCharonLog } from "../sa/charon.ts";
import { parseSaJson, parseWiresharkEspSa, parseXfrmState, SaFileError } from "../sa/files.ts";
import { decryptFrames, MAX_SLOT_BYTES, type DecryptOptions, type DecryptSummary } from "./decrypt-stream.ts";
import { PcapError, type PcapFile, type PcapRecord } from "./pcap.ts";
import { readCapture } from "./pcapng.ts";
import { hex32, InputError, type FrameVerdict } from "./verdicts.ts";

export { decryptCaptureStream, decryptFrames, MAX_SLOT_BYTES } from "./decrypt-stream.ts";
export type { DecryptOptions, DecryptSink, DecryptSummary, FrameSource, StreamSummary } from "./decrypt-stream.ts";
export { readCaptureStream, CaptureStreamReader } from "./capture-stream.ts";
export type { ByteChunks, CaptureInfo } from "./capture-stream.ts";
export { InputError, VERDICTS, verdictLine, verdictsJsonl } from "./verdicts.ts";
export type { FrameVerdict, SaCounters, Verdict } from "./verdicts.ts";

/** SA file formats: our JSON, `ip xfrm state` text, Wireshark's `esp_sa`, strongSwan's charon log (chd 4). */
export type SaFormat = "json" | "xfrm" | "wireshark" | "charon";

/** Every SA format, with the name the CLI and the page show. */
export const SA_FORMATS: readonly { format: SaFormat; name: string }[] = [
  { format: "json", name: "SAS.json (ipsec-wasm)" },
  { format: "xfrm", name: "ip xfrm state" },
  { format: "wireshark", name: "Wireshark esp_sa" },
  { format: "charon", name: "strongSwan charon log (chd 4)" },
];

/** Where SAs come from. */
export interface SaSource {
  format: SaFormat;
  /** File name, used in error messages. */
  name: string;
  text: string;
}

/** Result of {@link decryptCapture}. */
export interface DecryptResult extends Omit<DecryptSummary, "frames"> {
  verdicts: FrameVerdict[];
  /** Inner packets of the `ok` frames as a LINKTYPE_RAW pcap with the frames' timestamps. */
  output: Uint8Array;
}

/**
 * Guesses an SA file's format from its text: JSON object, `src … dst …` states, quoted UAT lines,
 * or charon's `NN[CHD]` lines. Undefined when none fits.
 */
export function detectSaFormat(text: string): SaFormat | undefined {
  const t = text.replace(/^\uFEFF/, "").trimStart();
  if (t.startsWith("{")) return "json";
  if (/(?:^|\s)\d+\[(?:CHD|IKE|CFG|ENC|NET|KNL|DMN|LIB|MGR|JOB)\] /m.test(t)) return "charon";
  if (/^src \S+ dst \S+/m.test(t)) return "xfrm";
  if (/^\s*"(?:IPv4|IPv6|Any|\*)"\s*,/m.test(t)) return "wireshark";
  return undefined;
}

/** Parses every SA source into inbound SA configurations; errors name the file. */
export function loadSas(
  sources: SaSource[],
  wiresharkMode: EspMode = "tunnel",
): { config: SaConfig; origin: string }[] {
  const out: { config: SaConfig; origin: string }[] = [];
  for (const src of sources) {
    let sas: SaConfig[];
    try {
      sas =
        src.format === "json"
          ? parseSaJson(src.text)
          : src.format === "xfrm"
            ? parseXfrmState(src.text)
            : src.format === "charon"
              ? parseCharonLog(src.text)
              : parseWiresharkEspSa(src.text, wiresharkMode);
    } catch (e) {
      if (e instanceof SaFileError) throw new InputError(`${src.name}: ${e.message}`);
      throw e;
    }
    sas.forEach((config, i) => out.push({ config, origin: `${src.name}: SA ${i + 1} (spi ${hex32(config.spi)})` }));
  }
  return out;
}

export function readCaptureFile(bytes: Uint8Array, name: string): PcapFile {
  try {
    return readCapture(bytes);
  } catch (e) {
    if (e instanceof PcapError) throw new InputError(`${name}: ${e.message}`);
    throw e;
  }
}

/**
 * Decrypts a parsed capture with the given SAs, all in memory (the web page's API; the CLI streams
 * with {@link decryptCaptureStream}). Throws {@link InputError} when an SA is refused.
 */
export async function decryptCapture(
  capture: PcapFile,
  sas: { config: SaConfig; origin: string }[],
  options: DecryptOptions = {},
): Promise<DecryptResult> {
  // The whole capture is here: a slot that just fits its largest frame (an ESP packet is never longer).
  const largest = capture.records.reduce((m, r) => Math.max(m, r.data.length), 0);
  const slotBytes = Math.min(MAX_SLOT_BYTES, Math.max(2176, Math.ceil((largest + SLOT_OVERHEAD) / 16) * 16));
  const batches: PcapRecord[][] = [];
  for (let i = 0; i < capture.records.length; i += 4096) batches.push(capture.records.slice(i, i + 4096));
  const verdicts: FrameVerdict[] = [];
  const output: Uint8Array[] = [];
  const source = {
    batches,
    // pcapng: every interface of the file, so the checks and the timestamp resolution see them all.
    linkTypes: () =>
      capture.interfaces ? [...new Set(capture.interfaces.map((i) => i.linkType))] : [capture.linkType],
    nanosecond: () => capture.nanosecond,
  };
  const sink = {
    verdicts: (b: readonly FrameVerdict[]) => {
      for (const v of b) verdicts.push(v);
    },
    output: (b: Uint8Array) => {
      output.push(b);
    },
  };
  const { frames: _frames, ...summary } = await decryptFrames(source, sas, sink, {
    ...options,
    slotBytes: options.slotBytes ?? slotBytes,
  });
  return { ...summary, verdicts, output: concat(output) };
}

const SLOT_OVERHEAD = 128; // head and tail room the dataplane keeps around each packet

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
