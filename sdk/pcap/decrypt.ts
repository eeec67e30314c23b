/**
 * The runtime-neutral core of `ipsec-wasm pcap decrypt` (and of the web page in web/): runs every
 * frame of a capture (classic pcap or pcapng) through the real dataplane, in file order (so replay
 * windows apply), and returns one verdict per frame, the inner packets of the `ok` frames as a
 * pcap, per-SA counters like `ip -s xfrm state`, and the ICV-truncation detector's diagnostics.
 * No `node:` import: it runs in browsers and web workers as it does in Node.
 * @module
 */
import { Dataplane, DataplaneError } from "../dataplane/dataplane.ts";
import type { DecapResult, EspMode, SaConfig, SaHandle, Status } from "../dataplane/types.ts";
import type { WasmSource } from "../dataplane/wasm.ts";
import { IcvTruncationDetector, type Diagnostic, type ProbeResult } from "../diag/icv-truncation.ts";
import { parseCharonLog } from "../sa/charon.ts";
import { parseSaJson, parseWiresharkEspSa, parseXfrmState, SaFileError } from "../sa/files.ts";
import { classifyFrame, SUPPORTED_LINKTYPES, type EspFrame } from "./frames.ts";
import { LINKTYPE_RAW, PcapError, writePcap, type PcapFile, type PcapRecord } from "./pcap.ts";
import { readCapture } from "./pcapng.ts";

/** Outcome of one frame in the verdicts file. */
export type Verdict = "ok" | "no-sa" | "replay" | "integrity-failed" | "malformed" | "dummy" | "nat-keepalive" | "not-esp";

/** Every verdict, in the order the summary prints them. */
export const VERDICTS: readonly Verdict[] = ["ok", "no-sa", "replay", "integrity-failed", "malformed", "dummy", "nat-keepalive", "not-esp"];

/** One line of the verdicts file. */
export interface FrameVerdict {
  /** 1-based frame number in the input capture. */
  frame: number;
  /** SPI, when the frame carried at least 4 bytes of ESP. */
  spi?: number;
  /** Sequence number (64-bit with ESN), when the frame carried an ESP header. */
  seq?: bigint;
  verdict: Verdict;
  /** A short sentence saying why. */
  reason: string;
}

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

/** One SA's counters after the run, like a block of `ip -s xfrm state`. */
export interface SaCounters {
  spi: number;
  /** Where the SA came from, e.g. `sas.json: SA 1 (spi 0x0e582872)`. */
  origin: string;
  esp: string;
  mode: EspMode;
  icvLength: number;
  replayWindow: number;
  packets: bigint;
  bytes: bigint;
  /** Highest sequence number accepted. */
  seq: bigint;
  /** Non-zero drop counters by reason. */
  drops: Record<string, bigint>;
}

/** Result of {@link decryptCapture}. */
export interface DecryptResult {
  verdicts: FrameVerdict[];
  /** Inner packets of the `ok` frames as a LINKTYPE_RAW pcap with the frames' timestamps. */
  output: Uint8Array;
  /** Human-readable counters, like `ip -s xfrm state`. */
  summary: string;
  counts: Record<Verdict, number>;
  /** What the ICV-truncation detector concluded per SA (every failed HMAC frame is probed offline). */
  diagnostics: Diagnostic[];
  /** Each loaded SA's counters, in load order. */
  sas: SaCounters[];
}

/** Options of {@link decryptCapture}. */
export interface DecryptOptions {
  /** The compiled dataplane (or its bytes); default: the packaged `dataplane.wasm` for this runtime. */
  wasm?: WasmSource;
}

/** Bad input the user can fix: reported on one line, exit code 2. */
export class InputError extends Error {
  override name = "InputError";
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
export function loadSas(sources: SaSource[], wiresharkMode: EspMode = "tunnel"): { config: SaConfig; origin: string }[] {
  const out: { config: SaConfig; origin: string }[] = [];
  for (const src of sources) {
    let sas: SaConfig[];
    try {
      sas = src.format === "json" ? parseSaJson(src.text)
        : src.format === "xfrm" ? parseXfrmState(src.text)
        : src.format === "charon" ? parseCharonLog(src.text)
        : parseWiresharkEspSa(src.text, wiresharkMode);
    } catch (e) {
      if (e instanceof SaFileError) throw new InputError(`${src.name}: ${e.message}`);
      throw e;
    }
    sas.forEach((config, i) => out.push({ config, origin: `${src.name}: SA ${i + 1} (spi ${hex32(config.spi)})` }));
  }
  return out;
}

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;

const STATUS_SENTENCES: Record<Exclude<Status, "ok">, string> = {
  "no-sa": "No SA with this SPI was loaded.",
  "replay": "The sequence number was already received or is older than the replay window.",
  "integrity-failed": "The ICV did not verify: wrong key, wrong ICV length, or the packet was modified.",
  "bad-padding": "The decrypted padding is not 1, 2, 3, ... as RFC 4303 section 2.4 requires.",
  "truncated": "The ESP packet is too short for its IV, trailer and ICV.",
  "seq-overflow": "The sequence number cannot advance any further on this SA.",
  "lifetime-expired": "The SA's lifetime has expired.",
  "dummy": "Dummy packet (next header 59), discarded as RFC 4303 section 2.6 says.",
  "bad-next-header": "The ESP trailer's next header does not fit the SA's mode.",
  "too-big": "The packet is larger than the dataplane's packet slot.",
  "invalid-sa": "The SA is not usable for inbound traffic.",
  "malformed-inner": "The decrypted inner packet is not a well-formed IP packet.",
};

function verdictOf(r: DecapResult, probe?: ProbeResult): { verdict: Verdict; reason: string } {
  switch (r.status) {
    case "ok": return { verdict: "ok", reason: `Decrypted and verified; next header ${r.nextHeader}.` };
    case "no-sa": return { verdict: "no-sa", reason: `No SA with SPI ${hex32(r.spi)} was loaded.` };
    case "replay":
    case "dummy":
      return { verdict: r.status, reason: STATUS_SENTENCES[r.status] };
    case "integrity-failed":
      return { verdict: r.status, reason: probeSentence(probe) ?? STATUS_SENTENCES[r.status] };
    default: {
      const why = r.status === "truncated" ? probeSentence(probe) : undefined;
      return { verdict: "malformed", reason: `${r.status}: ${why ?? STATUS_SENTENCES[r.status]}` };
    }
  }
}

/** The frame's own evidence: it verifies with this SA's key at another ICV length. */
function probeSentence(p?: ProbeResult): string | undefined {
  if (!p || p.verifiesAtBits.length === 0) return undefined;
  const bits = p.verifiesAtBits[0];
  return `The packet does not verify with this SA's ${p.configuredIcvBits}-bit ICV but does with ${bits} bits: ` +
    `the peer appears to use ${bits}-bit ICVs (see the diagnostic in the summary).`;
}

/** Reads a classic pcap or pcapng capture; a bad file is an {@link InputError} naming it. */
export function readCaptureFile(bytes: Uint8Array, name: string): PcapFile {
  try {
    return readCapture(bytes);
  } catch (e) {
    if (e instanceof PcapError) throw new InputError(`${name}: ${e.message}`);
    throw e;
  }
}

/** The verdicts file: one {@link verdictLine} per frame, each ending in a newline. */
export function verdictsJsonl(verdicts: readonly FrameVerdict[]): string {
  return verdicts.map((v) => verdictLine(v) + "\n").join("");
}

/** Serialises one verdict line; `seq` is written as an exact integer even above 2^53. */
export function verdictLine(v: FrameVerdict): string {
  let s = `{"frame": ${v.frame}`;
  if (v.spi !== undefined) s += `, "spi": "${hex32(v.spi)}"`;
  if (v.seq !== undefined) s += `, "seq": ${v.seq.toString()}`;
  return `${s}, "verdict": "${v.verdict}", "reason": ${JSON.stringify(v.reason)}}`;
}

const BATCH = 64;
const SLOT_OVERHEAD = 128; // head and tail room the dataplane keeps around each packet

/** Decrypts a parsed capture with the given SAs. Throws {@link InputError} when an SA is refused. */
export async function decryptCapture(capture: PcapFile, sas: { config: SaConfig; origin: string }[], options: DecryptOptions = {}): Promise<DecryptResult> {
  // pcapng: each interface has its own link type; frames of unsupported ones get a verdict each.
  const linkTypes = capture.interfaces ? [...new Set(capture.interfaces.map((i) => i.linkType))] : [capture.linkType];
  if (!linkTypes.some((t) => SUPPORTED_LINKTYPES.has(t))) {
    const known = [...SUPPORTED_LINKTYPES].map(([n, name]) => `${n} (${name})`).join(", ");
    throw new InputError(`link type ${linkTypes.join(", ") || "(no interface)"} is not supported (supported: ${known})`);
  }
  const verdicts: FrameVerdict[] = [];
  const espFrames: { index: number; frame: EspFrame }[] = [];
  capture.records.forEach((rec, i) => {
    const frame = i + 1;
    const c = classifyFrame(rec.data, rec.linkType ?? capture.linkType);
    const spi = c.spi;
    const seq = c.seq === undefined ? undefined : BigInt(c.seq);
    if (rec.fileTruncated) {
      verdicts.push({ frame, spi, seq, verdict: "malformed", reason: "The capture file ends in the middle of this frame." });
    } else if (c.kind === "esp" && rec.origLength > rec.data.length) {
      verdicts.push({ frame, spi, seq, verdict: "malformed",
        reason: `Only ${rec.data.length} of ${rec.origLength} bytes were captured (snap length), so the ICV cannot be checked.` });
    } else if (c.kind === "esp") {
      verdicts.push({ frame, spi, seq, verdict: "malformed", reason: "" });
      espFrames.push({ index: i, frame: c });
    } else {
      verdicts.push({ frame, spi, seq, verdict: c.kind, reason: c.reason });
    }
  });

  const largest = espFrames.reduce((m, f) => Math.max(m, f.frame.packet.length), 0);
  const slotBytes = Math.min(1 << 20, Math.max(2176, Math.ceil((largest + SLOT_OVERHEAD) / 16) * 16));
  const dp = await Dataplane.create({ ...options.wasm, maxSas: Math.max(16, sas.length), batchSize: BATCH, slotBytes });
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
    now: () => 0, log: null, maxProbesPerSecond: Infinity, maxTotalProbesPerSecond: Infinity,
    onProbe: (p) => probes.set(p.index, p),
  });
  const inner: (Uint8Array | undefined)[] = new Array(capture.records.length);
  for (let start = 0; start < espFrames.length; start += BATCH) {
    const chunk = espFrames.slice(start, start + BATCH);
    probes.clear();
    const results = dp.decapsulateBatch(chunk.map((f) => f.frame.packet), chunk.map((f) => f.frame.l3HeaderLength));
    results.forEach((r, k) => {
      // decapsulateBatch returns one result per packet of the chunk, and chunk holds indexes into verdicts
      const { index } = chunk[k]!;
      const { verdict, reason } = verdictOf(r, probes.get(k));
      const v = verdicts[index]!;
      v.verdict = verdict;
      v.reason = reason;
      v.spi = r.spi;
      // With ESN the dataplane infers the full 64-bit number, but only once the ICV verified.
      if (r.status === "ok" || r.status === "replay" || r.status === "dummy") v.seq = r.seq;
      if (r.status === "ok") inner[index] = r.payload;
    });
  }
  detector.detach();
  const diagnostics = detector.diagnostics();

  const records: Pick<PcapRecord, "tsSec" | "tsFrac" | "data">[] = [];
  capture.records.forEach((rec, i) => {
    const data = inner[i];
    if (data) records.push({ tsSec: rec.tsSec, tsFrac: rec.tsFrac, data });
  });
  const output = writePcap({ linkType: LINKTYPE_RAW, nanosecond: capture.nanosecond, records });

  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const v of verdicts) counts[v.verdict]++;
  const saCounters: SaCounters[] = handles.map(({ handle, config, origin }) => {
    const st = dp.stats(handle);
    return {
      spi: st.spi, origin, esp: st.esp, mode: config.mode, icvLength: st.icvLength, replayWindow: st.replayWindow,
      packets: st.packets, bytes: st.bytes, seq: st.seq,
      drops: Object.fromEntries(Object.entries(st.drops).filter(([, n]) => n > 0n)),
    };
  });
  return { verdicts, output, summary: summarise(dp, handles, counts, verdicts.length, diagnostics), counts, diagnostics, sas: saCounters };
}

function summarise(dp: Dataplane, handles: { handle: SaHandle; config: SaConfig }[], counts: Record<Verdict, number>, frames: number,
  diagnostics: Diagnostic[]): string {
  const lines: string[] = [];
  for (const { handle, config } of handles) {
    const s = dp.stats(handle);
    lines.push(`spi ${hex32(s.spi)} esp ${s.esp} mode ${config.mode} icv ${s.icvLength} replay-window ${s.replayWindow}`);
    lines.push(`\tpackets ${s.packets} bytes ${s.bytes} seq ${s.seq}`);
    const drops = Object.entries(s.drops).filter(([, n]) => n > 0n).map(([k, n]) => `${k} ${n}`);
    if (drops.length) lines.push(`\tdrops: ${drops.join(" ")}`);
    for (const d of diagnostics) if (d.sa === handle) lines.push(`\tdiagnostic ${d.kind}: ${d.message}`);
  }
  lines.push(`frames ${frames}: ${VERDICTS.map((v) => `${v} ${counts[v]}`).join(", ")}`);
  return lines.join("\n") + "\n";
}

