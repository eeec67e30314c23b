/**
 * The streaming core of `ipsec-wasm pcap decrypt`: frames go through the real dataplane in file
 * order as they are read, and each batch's verdicts and decrypted packets go to a sink right away,
 * so memory stays constant in the number of frames (the capture is never held whole). The
 * whole-capture API in decrypt.ts runs this same code over an array.
 * No `node:` import: it runs in browsers, web workers, Deno, Bun and workerd as in Node.
 * @module
 */
import { Dataplane, DataplaneError } from "../dataplane/dataplane.ts";
import type { SaConfig, SaHandle } from "../dataplane/types.ts";
import type { WasmSource } from "../dataplane/wasm.ts";
import { IcvTruncationDetector, type Diagnostic, type ProbeResult } from "../diag/icv-truncation.ts";
import { readCaptureStream, CaptureStreamReader, type ByteChunks, type CaptureInfo } from "./capture-stream.ts";
import { classifyFrame, SUPPORTED_LINKTYPES, type EspFrame } from "./frames.ts";
import { LINKTYPE_RAW, PcapError, pcapFileHeader, pcapRecordBytes, type PcapRecord } from "./pcap.ts";
import {
  InputError,
  summarise,
  verdictOf,
  VERDICTS,
  type FrameVerdict,
  type SaCounters,
  type Verdict,
} from "./verdicts.ts";

/** Where the results go as they are made. Returning a promise holds the reading until it settles (back-pressure). */
export interface DecryptSink {
  /** The verdicts of the next frames, in frame order (every frame gets exactly one). */
  verdicts?(batch: readonly FrameVerdict[]): void | Promise<void>;
  /** The next bytes of the output pcap (LINKTYPE_RAW, inner packets of the `ok` frames): its header first. */
  output?(bytes: Uint8Array): void | Promise<void>;
}

/** The frames to decrypt and what the core must know about their file. */
export interface FrameSource {
  /** Records in file order, in arrays of any size. */
  batches: AsyncIterable<readonly PcapRecord[]> | Iterable<readonly PcapRecord[]>;
  /** Link types of the file so far, the file's (or first interface's) first; read after the first array (or the end) arrived. */
  linkTypes(): number[];
  /** Whether timestamps are in nanoseconds; read when the output's header is written. */
  nanosecond(): boolean;
}

/** Options of the decryption. */
export interface DecryptOptions {
  /** The compiled dataplane (or its bytes); default: the packaged `dataplane.wasm` for this runtime. */
  wasm?: WasmSource;
  /**
   * Dataplane packet slot in bytes (multiple of 16, 256..1048576). Default 1048576, the largest:
   * a streamed capture's largest packet is not known in advance, and only the pages a packet
   * touches are ever resident.
   */
  slotBytes?: number;
}

/** What a run ends with, besides the verdicts and the output already given to the sink. */
export interface DecryptSummary {
  /** Frames read. */
  frames: number;
  /** Human-readable counters, like `ip -s xfrm state`. */
  summary: string;
  counts: Record<Verdict, number>;
  /** What the ICV-truncation detector concluded per SA (every failed HMAC frame is probed offline). */
  diagnostics: Diagnostic[];
  /** Each loaded SA's counters, in load order. */
  sas: SaCounters[];
}

/** What {@link decryptCaptureStream} ends with: the summary and what the capture turned out to be. */
export interface StreamSummary extends DecryptSummary {
  capture: CaptureInfo;
}

/** Dataplane batch: the probe indices of the ICV detector are indices in one batch. */
const BATCH = 64;
/** The largest slot the dataplane accepts; a packet that does not fit is `malformed` (too-big), as before. */
export const MAX_SLOT_BYTES = 1 << 20;

/**
 * Decrypts the capture whose bytes arrive as `chunks` (classic pcap or pcapng), giving verdicts
 * and output to `sink` as it goes. Throws {@link InputError} for a bad capture, an unsupported
 * link type or a refused SA (the sink may have had some frames by then when the capture goes
 * bad later on).
 */
export async function decryptCaptureStream(
  chunks: ByteChunks,
  sas: { config: SaConfig; origin: string }[],
  sink: DecryptSink,
  options: DecryptOptions = {},
  name = "capture",
): Promise<StreamSummary> {
  const reader = new CaptureStreamReader();
  const source: FrameSource = {
    batches: readCaptureStream(chunks, reader),
    linkTypes: () => reader.info?.linkTypes ?? [],
    nanosecond: () => reader.info?.nanosecond ?? false,
  };
  try {
    const summary = await decryptFrames(source, sas, sink, options);
    return { ...summary, capture: reader.info! };
  } catch (e) {
    if (e instanceof PcapError) throw new InputError(`${name}: ${e.message}`);
    throw e;
  }
}

/** Decrypts the records of `source` with the given SAs; see {@link decryptCaptureStream}. */
export async function decryptFrames(
  source: FrameSource,
  sas: { config: SaConfig; origin: string }[],
  sink: DecryptSink,
  options: DecryptOptions = {},
): Promise<DecryptSummary> {
  const iterator =
    Symbol.asyncIterator in source.batches ? source.batches[Symbol.asyncIterator]() : source.batches[Symbol.iterator]();
  let next = await iterator.next();
  checkLinkTypes(source.linkTypes());
  // Records of a classic pcap carry no link type; pcapng ones do, except a cut one (the first interface's then).
  const fileLinkType = source.linkTypes()[0] ?? 0;
  const dp = await Dataplane.create({
    ...options.wasm,
    maxSas: Math.max(16, sas.length),
    batchSize: BATCH,
    slotBytes: options.slotBytes ?? MAX_SLOT_BYTES,
  });
  const handles: { handle: SaHandle; config: SaConfig; origin: string }[] = [];
  for (const { config, origin } of sas) {
    try {
      handles.push({ handle: dp.addSa(config), config, origin });
    } catch (e) {
      if (e instanceof DataplaneError) throw new InputError(`${origin}: ${e.message}`);
      throw e;
    }
  }
  // Offline there is no live traffic to protect: probe every failed HMAC frame, so each one's
  // verdict line can say whether it verifies at another ICV length.
  const probes = new Map<number, ProbeResult>();
  const detector = new IcvTruncationDetector(dp, {
    now: () => 0,
    log: null,
    maxProbesPerSecond: Infinity,
    maxTotalProbesPerSecond: Infinity,
    onProbe: (p) => probes.set(p.index, p),
  });
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  let frames = 0;
  let headerWritten = false;
  const writeHeader = async (): Promise<void> => {
    headerWritten = true;
    await sink.output?.(pcapFileHeader({ linkType: LINKTYPE_RAW, nanosecond: source.nanosecond() }));
  };
  try {
    for (; !next.done; next = await iterator.next()) {
      const records = next.value;
      const verdicts: FrameVerdict[] = new Array(records.length);
      const inner: Pick<PcapRecord, "tsSec" | "tsFrac" | "data">[] = [];
      for (let start = 0; start < records.length; start += BATCH) {
        const chunk = records.slice(start, start + BATCH);
        const esp: { k: number; frame: EspFrame }[] = [];
        chunk.forEach((rec, k) => {
          const v = classify(rec, frames + start + k + 1, fileLinkType);
          verdicts[start + k] = v.verdict;
          if (v.esp) esp.push({ k, frame: v.esp });
        });
        probes.clear();
        const results = dp.decapsulateBatch(
          esp.map((f) => f.frame.packet),
          esp.map((f) => f.frame.l3HeaderLength),
        );
        results.forEach((r, j) => {
          // One result per packet given, in order: esp[j] and its verdict and record exist.
          const { k } = esp[j]!;
          const v = verdicts[start + k]!;
          const rec = chunk[k]!;
          Object.assign(v, verdictOf(r, probes.get(j)));
          v.spi = r.spi;
          // With ESN the dataplane infers the full 64-bit number, but only once the ICV verified.
          if (r.status === "ok" || r.status === "replay" || r.status === "dummy") v.seq = r.seq;
          if (r.status === "ok") inner.push({ tsSec: rec.tsSec, tsFrac: rec.tsFrac, data: r.payload! });
        });
      }
      frames += records.length;
      for (const v of verdicts) counts[v.verdict]++;
      await sink.verdicts?.(verdicts);
      if (inner.length) {
        if (!headerWritten) await writeHeader();
        await sink.output?.(pcapRecordBytes(inner));
      }
    }
    if (!headerWritten) await writeHeader();
  } finally {
    detector.detach();
    await iterator.return?.();
  }
  const diagnostics = detector.diagnostics();
  const saCounters: SaCounters[] = handles.map(({ handle, config, origin }) => {
    const st = dp.stats(handle);
    return {
      spi: st.spi,
      origin,
      esp: st.esp,
      mode: config.mode,
      icvLength: st.icvLength,
      replayWindow: st.replayWindow,
      packets: st.packets,
      bytes: st.bytes,
      seq: st.seq,
      drops: Object.fromEntries(Object.entries(st.drops).filter(([, n]) => n > 0n)),
    };
  });
  return { frames, summary: summarise(dp, handles, counts, frames, diagnostics), counts, diagnostics, sas: saCounters };
}

/** Refuses a capture none of whose link types we read (pcapng: each interface has its own). */
function checkLinkTypes(linkTypes: number[]): void {
  if (linkTypes.some((t) => SUPPORTED_LINKTYPES.has(t))) return;
  const known = [...SUPPORTED_LINKTYPES].map(([n, name]) => `${n} (${name})`).join(", ");
  throw new InputError(`link type ${linkTypes.join(", ") || "(no interface)"} is not supported (supported: ${known})`);
}

/** A frame's verdict before decryption; ESP frames get `malformed` with no reason until the dataplane has spoken. */
function classify(rec: PcapRecord, frame: number, fileLinkType: number): { verdict: FrameVerdict; esp?: EspFrame } {
  const c = classifyFrame(rec.data, rec.linkType ?? fileLinkType);
  const spi = c.spi;
  const seq = c.seq === undefined ? undefined : BigInt(c.seq);
  if (rec.fileTruncated)
    return {
      verdict: { frame, spi, seq, verdict: "malformed", reason: "The capture file ends in the middle of this frame." },
    };
  if (c.kind === "esp" && rec.origLength > rec.data.length) {
    return {
      verdict: {
        frame,
        spi,
        seq,
        verdict: "malformed",
        reason: `Only ${rec.data.length} of ${rec.origLength} bytes were captured (snap length), so the ICV cannot be checked.`,
      },
    };
  }
  if (c.kind === "esp") return { verdict: { frame, spi, seq, verdict: "malformed", reason: "" }, esp: c };
  return { verdict: { frame, spi, seq, verdict: c.kind, reason: c.reason } };
}
